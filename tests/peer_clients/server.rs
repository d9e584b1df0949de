//! `examples/basic.rs` as a child process: `GET /paid` at 0.01 `PathUSD` on a
//! given anvil, killed (and reaped) on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::primitives::Address;

use crate::anvil::{CHAIN_ID, PATH_USD};
use crate::listening::{Listening, random_secret};

/// How long `basic` may take to print `listening on`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The realm the server runs under. The `mpp` crate's client compares the
/// realm with the request's host (it refuses proofs for another realm), so
/// the realm is the host the clients connect to.
pub(crate) const REALM: &str = "127.0.0.1";

/// `debug/examples/basic` in the target directory (`CARGO_TARGET_DIR` or
/// `target`), built by `cargo build --examples --all-features` in
/// `scripts/test` (cargo gives tests no path to examples).
fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let path = target.join("debug/examples/basic");
    assert!(
        path.exists(),
        "the `basic` example is not built at {}: run `cargo build --examples --all-features` \
         (scripts/test does) before this test",
        path.display()
    );
    path
}

/// How to start `basic`.
pub(crate) struct Config<'a> {
    pub(crate) rpc_url: &'a str,
    pub(crate) recipient: Address,
    /// `TEMPO_FEE_PAYER_KEY`: sponsor the payers' fees with this key.
    pub(crate) fee_payer_key: Option<&'a str>,
}

/// A running `basic`; killed on drop.
pub(crate) struct Basic {
    process: Listening,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl Basic {
    /// Starts `basic` on a free loopback port and waits until it listens.
    pub(crate) fn start(config: &Config<'_>) -> Self {
        let mut command = Command::new(binary());
        command
            // Port 0: the OS picks a free port, which `basic` prints.
            .env("ADDR", "127.0.0.1:0")
            .env("TEMPO_RPC_URL", config.rpc_url)
            .env("TEMPO_CHAIN_ID", CHAIN_ID.to_string())
            .env("TEMPO_CURRENCY", PATH_USD.to_string())
            .env("TEMPO_RECIPIENT", config.recipient.to_string())
            .env("MPP_SECRET_KEY", random_secret())
            .env("MPP_REALM", REALM)
            // Nothing from the caller's environment changes the setup.
            .env_remove("MPP_SECRET_KEY_PREVIOUS")
            .env_remove("REDIS_URL")
            .env_remove("TEMPO_FEE_PAYER_KEY")
            .stdin(Stdio::null());
        if let Some(key) = config.fee_payer_key {
            command.env("TEMPO_FEE_PAYER_KEY", key);
        }
        let process = Listening::start(
            &mut command,
            "`basic`",
            "listening on ",
            READY_TIMEOUT,
            "build it with `cargo build --examples --all-features`",
        );
        Self {
            url: process.url.clone(),
            process,
        }
    }

    /// What `basic` wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.process.stderr()
    }
}
