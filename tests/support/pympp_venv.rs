//! The Python that runs the pympp peers: the venv `scripts/test` installs
//! pympp into (`TOWER_MPP_VENV`, default `.tools/venv`). Missing, it fails
//! the test with how to install it: nothing is skipped.

use std::path::{Path, PathBuf};

/// How to get the venv.
pub(crate) const PYMPP_HINT: &str = "run `scripts/test` once (it installs \
     pympp[tempo,server,mcp,evm] 0.16 into .tools/venv), or point TOWER_MPP_VENV at a venv \
     holding it";

/// The venv's Python; `who` (the test's peer) names it in the panic.
pub(crate) fn pympp_python(who: &str) -> PathBuf {
    let venv = std::env::var_os("TOWER_MPP_VENV")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv"),
            PathBuf::from,
        );
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{who} needs a venv with pympp, but there is no Python at {}: {PYMPP_HINT}",
        python.display()
    );
    python
}
