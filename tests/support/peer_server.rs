//! Servers we did not write, charging on a given anvil, for testing our
//! client against them: mppx 0.11 (TypeScript, `tests/peers/mppx_server.mjs`
//! run by `node`) and pympp 0.16 (Python, `tests/peers/pympp_server.py` run
//! by the venv's Python). Each runs as a child process on a free loopback
//! port and is killed (and reaped) on drop.
//!
//! Routes (all `GET`, 0.01 = 10000 base units of the currency):
//! - `/paid`: 0.01 (both).
//! - `/sponsored`: 0.01 with `methodDetails.feePayer = true`, when
//!   [`PeerConfig::fee_payer_key`] is set (both).
//! - `/split`: 0.01, of which 2000 go to [`PeerConfig::split_recipient`],
//!   when set (both).
//! - `/free`: zero amount (both; only mppx accepts proofs).
//! - `/pull-only`, `/push-only`: 0.01 with `methodDetails.supportedModes`
//!   `["pull"]` / `["push"]` (mppx only).
//!
//! A missing component (node, mppx, the venv) fails the test with a message
//! naming it and how to install it: nothing is skipped.

// Each user takes what it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::primitives::Address;

use super::anvil::{Anvil, CHAIN_ID, PATH_USD};
use super::listening::{Listening, random_secret};
use super::pympp_venv::{PYMPP_HINT, pympp_python};

/// How long a server may take to print `listening`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

const MPPX_HINT: &str = "run `scripts/test` once (it installs mppx 0.11 and viem into \
     .tools/node_modules with npm), or set TOWER_MPP_NODE_MODULES to a node_modules holding them";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerKind {
    /// mppx 0.11 (`tests/peers/mppx_server.mjs`).
    Mppx,
    /// pympp 0.16 (`tests/peers/pympp_server.py`).
    Pympp,
}

/// How to set a server up.
#[derive(Debug, Clone)]
pub(crate) struct PeerConfig {
    /// Who gets paid.
    pub(crate) recipient: Address,
    /// The TIP-20 token charged (default `PathUSD`).
    pub(crate) currency: Address,
    /// The realm. Default `127.0.0.1`, the host the tests connect to (the
    /// `mpp` crate's client refuses a proof for a realm other than the host).
    pub(crate) realm: String,
    /// A funded key sponsoring fees on `/sponsored` (which exists only then).
    pub(crate) fee_payer_key: Option<String>,
    /// Who gets the 2000-unit split on `/split` (which exists only then).
    pub(crate) split_recipient: Option<Address>,
}

impl PeerConfig {
    /// `/paid` and `/free` only, paying `recipient` in `PathUSD`.
    pub(crate) fn new(recipient: Address) -> Self {
        Self {
            recipient,
            currency: PATH_USD,
            realm: "127.0.0.1".to_owned(),
            fee_payer_key: None,
            split_recipient: None,
        }
    }

    /// With `/sponsored`, whose fees `key` pays.
    pub(crate) fn fee_payer(mut self, key: &str) -> Self {
        self.fee_payer_key = Some(key.to_owned());
        self
    }

    /// With `/split`, sending 2000 of the 10000 to `recipient`.
    pub(crate) fn split(mut self, recipient: Address) -> Self {
        self.split_recipient = Some(recipient);
        self
    }
}

/// A running peer server; killed on drop.
pub(crate) struct PeerServer {
    kind: PeerKind,
    /// The process; its stdin is held open (the server exits when it
    /// closes, also if the test dies).
    process: Listening,
    /// The HMAC secret the server signs its challenge ids with.
    secret: String,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `node` binary: `TOWER_MPP_NODE`, else `node` on `PATH`.
pub(crate) fn node() -> PathBuf {
    let node = std::env::var_os("TOWER_MPP_NODE")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("node"), PathBuf::from);
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => node,
        Ok(out) => panic!(
            "the mppx peer server needs Node.js, but `{} --version` failed ({}): install \
             Node.js 20+ (scripts/test needs it for npm too) or set TOWER_MPP_NODE",
            node.display(),
            out.status
        ),
        Err(e) => panic!(
            "the mppx peer server needs Node.js, but `{}` does not run ({e}): install \
             Node.js 20+ (scripts/test needs it for npm too) or set TOWER_MPP_NODE",
            node.display()
        ),
    }
}

/// The `node_modules` holding mppx 0.11 and viem.
fn node_modules() -> PathBuf {
    let dir = std::env::var_os("TOWER_MPP_NODE_MODULES")
        .filter(|v| !v.is_empty())
        .map_or_else(|| root().join(".tools/node_modules"), PathBuf::from);
    for package in ["mppx", "viem"] {
        let manifest = dir.join(package).join("package.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
            panic!(
                "the mppx peer server needs {package}, but {} is unreadable ({e}): {MPPX_HINT}",
                manifest.display()
            )
        });
        if package == "mppx" {
            let version = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["version"].as_str().map(str::to_owned))
                .unwrap_or_default();
            assert!(
                version.starts_with("0.11."),
                "the mppx peer server is written for mppx 0.11, but {} holds mppx {version:?}: \
                 {MPPX_HINT}",
                dir.display()
            );
        }
    }
    dir
}

impl PeerServer {
    /// mppx 0.11's server, charging on `anvil`.
    pub(crate) fn mppx(anvil: &Anvil, config: &PeerConfig) -> Self {
        Self::start(PeerKind::Mppx, anvil, config)
    }

    /// pympp 0.16's server, charging on `anvil`.
    pub(crate) fn pympp(anvil: &Anvil, config: &PeerConfig) -> Self {
        Self::start(PeerKind::Pympp, anvil, config)
    }

    /// Starts `kind` on a free loopback port and waits until it listens.
    /// Blocks (up to a few seconds): from async code, call it through
    /// `tokio::task::spawn_blocking` or accept the short block.
    pub(crate) fn start(kind: PeerKind, anvil: &Anvil, config: &PeerConfig) -> Self {
        let mut command = match kind {
            PeerKind::Mppx => {
                let mut c = Command::new(node());
                c.arg(root().join("tests/peers/mppx_server.mjs"))
                    .env("MPPX_NODE_MODULES", node_modules());
                c
            }
            PeerKind::Pympp => {
                let mut c = Command::new(pympp_python("the pympp peer server"));
                c.arg(root().join("tests/peers/pympp_server.py"))
                    // Unbuffered, so the ready line and errors show at once.
                    .env("PYTHONUNBUFFERED", "1");
                c
            }
        };
        let secret = random_secret();
        command
            .env("PEER_PORT", "0")
            .env("TEMPO_RPC_URL", &anvil.url)
            .env("TEMPO_CHAIN_ID", CHAIN_ID.to_string())
            .env("TEMPO_RECIPIENT", config.recipient.to_string())
            // Lower case, as the SDKs write their default currencies.
            .env("TEMPO_CURRENCY", format!("{:#x}", config.currency))
            .env("MPP_SECRET_KEY", &secret)
            .env("MPP_REALM", &config.realm)
            // Nothing from the caller's environment changes the setup.
            .env_remove("TEMPO_FEE_PAYER_KEY")
            .env_remove("TEMPO_SPLIT_RECIPIENT")
            .stdin(Stdio::piped());
        if let Some(key) = &config.fee_payer_key {
            command.env("TEMPO_FEE_PAYER_KEY", key);
        }
        if let Some(split) = config.split_recipient {
            command.env("TEMPO_SPLIT_RECIPIENT", split.to_string());
        }
        let hint = match kind {
            PeerKind::Mppx => MPPX_HINT,
            PeerKind::Pympp => PYMPP_HINT,
        };
        let name = format!("the {kind:?} peer server");
        let process = Listening::start(&mut command, &name, "listening ", READY_TIMEOUT, hint);
        Self {
            kind,
            process,
            secret,
        }
    }

    /// Which server this is.
    pub(crate) fn kind(&self) -> PeerKind {
        self.kind
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.process.url
    }

    /// `base_url()` + `path` (`path` starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.url)
    }

    /// The HMAC secret of the server's challenge ids.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// What the server wrote to stderr so far (payment failures are logged
    /// there as `payment failed: ...`).
    pub(crate) fn stderr(&self) -> String {
        self.process.stderr()
    }
}

impl std::fmt::Debug for PeerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerServer")
            .field("kind", &self.kind)
            .field("url", &self.process.url)
            .finish_non_exhaustive()
    }
}
