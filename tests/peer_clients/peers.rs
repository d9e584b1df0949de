//! The peer clients, each run as a child process that pays one URL and
//! prints `{"status", "body", "receipt", ...}` (or `{"error"}`) as JSON.
//!
//! A missing client fails the test with a message saying how to install it:
//! nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::anvil::CHAIN_ID;
use crate::pympp_venv::{PYMPP_HINT, pympp_python};

/// How long one payment may take, client start-up included.
const PAY_TIMEOUT: Duration = Duration::from_secs(120);

/// What a client got back for its (paid) request.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: u16,
    pub(crate) body: String,
    /// The `Payment-Receipt` header, if any.
    pub(crate) receipt: Option<String>,
    /// Everything the client printed, for failure messages.
    pub(crate) transcript: String,
}

/// A client we did not write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    /// pympp 0.16's `Mpp` with `tempo.charge(...)`, via `tests/peers/pympp_pay.py`.
    Pympp,
    /// The `mpp` crate 0.18's `TempoProvider` + `send_with_payment`, via the
    /// helper crate tests/peers/mpp-client.
    MppRs,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const MPP_CLIENT_HINT: &str = "run `scripts/test` (it builds it and sets TOWER_MPP_MPP_CLIENT), \
     or `cargo build --manifest-path tests/peers/mpp-client/Cargo.toml` and set \
     TOWER_MPP_MPP_CLIENT=tests/peers/mpp-client/target/debug/mpp-client";

/// The mpp-client helper binary: `TOWER_MPP_MPP_CLIENT`, else where
/// `cargo build --manifest-path tests/peers/mpp-client/Cargo.toml` puts it.
fn mpp_client() -> PathBuf {
    let path = std::env::var_os("TOWER_MPP_MPP_CLIENT")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || root().join("tests/peers/mpp-client/target/debug/mpp-client"),
            PathBuf::from,
        );
    let path = if path.is_relative() {
        root().join(path)
    } else {
        path
    };
    assert!(
        path.exists(),
        "the `mpp` crate peer needs the mpp-client helper, but it is not at {}: {MPP_CLIENT_HINT}",
        path.display()
    );
    path
}

impl Peer {
    /// Finds the client's program, failing the test when it is not
    /// installed. Call it before starting anything.
    pub(crate) fn locate(self) -> Client {
        match self {
            Self::Pympp => Client {
                peer: self,
                program: pympp_python("the pympp peer"),
                script: Some(root().join("tests/peers/pympp_pay.py")),
                hint: PYMPP_HINT,
            },
            Self::MppRs => Client {
                peer: self,
                program: mpp_client(),
                script: None,
                hint: MPP_CLIENT_HINT,
            },
        }
    }
}

/// A located peer client.
#[derive(Debug)]
pub(crate) struct Client {
    peer: Peer,
    program: PathBuf,
    script: Option<PathBuf>,
    hint: &'static str,
}

impl Client {
    /// Pays `url` (GET) with `key` on the chain at `rpc_url`.
    pub(crate) async fn pay(&self, url: &str, key: &str, rpc_url: &str) -> Outcome {
        let Self { peer, hint, .. } = *self;
        let chain_id = CHAIN_ID.to_string();
        let args = [
            "--url",
            url,
            "--key",
            key,
            "--rpc",
            rpc_url,
            "--chain-id",
            &chain_id,
        ];
        let mut command = Command::new(&self.program);
        command.args(&self.script);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The child dies with this future (a timeout drops it).
            .kill_on_drop(true);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {peer:?} client: {e}; {hint}"));
        let output = tokio::time::timeout(PAY_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("the {peer:?} client did not finish within {PAY_TIMEOUT:?}"))
            .expect("the client's output");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let transcript = format!(
            "exit status: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        );
        let json: Value = stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| {
                panic!(
                    "the {peer:?} client printed no JSON (is it installed? {hint})\n{transcript}"
                )
            });
        if let Some(error) = json.get("error") {
            panic!("the {peer:?} client gave up: {error}\n{transcript}");
        }
        Outcome {
            status: json["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or_else(|| panic!("no status in the {peer:?} client's JSON\n{transcript}")),
            body: json["body"].as_str().unwrap_or_default().to_owned(),
            receipt: json["receipt"].as_str().map(str::to_owned),
            transcript,
        }
    }
}
