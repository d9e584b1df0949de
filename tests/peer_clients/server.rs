//! `examples/basic.rs` as a child process: `GET /paid` at 0.01 `PathUSD` on a
//! given anvil, killed (and reaped) on drop.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::Address;

use crate::anvil::{CHAIN_ID, PATH_USD};

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
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    stderr: Arc<Mutex<String>>,
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(key) = config.fee_payer_key {
            command.env("TEMPO_FEE_PAYER_KEY", key);
        }
        let mut child = command.spawn().expect("the `basic` example starts");

        // Keep all of stderr, to show it when something fails.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        // Read stdout until `listening on http://ADDR`, then keep draining it.
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready, listening) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.trim().strip_prefix("listening on ") {
                    let _ = ready.send(url.to_owned());
                    break;
                }
            }
            for _ in lines {}
        });

        let mut server = Self {
            child,
            url: String::new(),
            stderr,
        };
        if let Ok(url) = listening.recv_timeout(READY_TIMEOUT) {
            server.url = url;
        } else {
            let exited = server.child.try_wait().ok().flatten();
            panic!(
                "`basic` did not print `listening on` within {READY_TIMEOUT:?} \
                 (exit status: {exited:?}); its stderr:\n{}",
                server.stderr()
            );
        }
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "`basic` listens on {}, not on loopback",
            server.url
        );
        server
    }

    /// What `basic` wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Basic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh 48-byte secret, hex-encoded (96 characters).
fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}
