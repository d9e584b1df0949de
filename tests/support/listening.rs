//! A server run as a child process: spawned, awaited until it prints the
//! URL it listens on, its stderr kept for failure messages, killed (and
//! reaped) on drop.

// Each user takes what it needs.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running server process.
pub(crate) struct Listening {
    child: Child,
    /// Held open when piped: some servers exit when it closes (also if the
    /// test dies).
    _stdin: Option<ChildStdin>,
    /// Where it listens, as it printed it: `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    stderr: Arc<Mutex<String>>,
}

impl Listening {
    /// Spawns `command` (its stdout and stderr piped here) and waits up to
    /// `timeout` for a stdout line `<ready_prefix><url>` naming a loopback
    /// URL. `name` names the server in panics; `hint` says how to install
    /// it when it does not spawn.
    pub(crate) fn start(
        command: &mut Command,
        name: &str,
        ready_prefix: &str,
        timeout: Duration,
        hint: &str,
    ) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}; {hint}"));
        let stdin = child.stdin.take();

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

        // Read stdout until the ready line, then keep draining it.
        let stdout = child.stdout.take().expect("piped stdout");
        let prefix = ready_prefix.to_owned();
        let (ready, listening) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.trim().strip_prefix(prefix.as_str()) {
                    let _ = ready.send(url.to_owned());
                    break;
                }
            }
            for _ in lines {}
        });

        let mut server = Self {
            child,
            _stdin: stdin,
            url: String::new(),
            stderr,
        };
        if let Ok(url) = listening.recv_timeout(timeout) {
            server.url = url;
        } else {
            let exited = server.child.try_wait().ok().flatten();
            panic!(
                "{name} did not print `{ready_prefix}` within {timeout:?} \
                 (exit status: {exited:?}); its stderr:\n{}",
                server.stderr()
            );
        }
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "{name} listens on {}, not on loopback",
            server.url
        );
        server
    }

    /// What the server wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh 48-byte secret, hex-encoded (96 characters; mppx wants at least
/// 32 bytes).
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}
