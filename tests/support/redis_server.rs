//! A real `redis-server` on a free loopback port, stopped when dropped.
//! Shared by the Redis store's tests and benchmark.

// Each user takes what it needs.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A `redis-server` child process; killed on drop.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
    tls: bool,
}

impl RedisServer {
    /// Starts a server without persistence on a free port.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with `args` added to its command line (such as
    /// `["--requirepass", "secret"]`).
    pub(crate) fn start_with(args: &[&str]) -> Self {
        Self::start_on(args.iter().map(ToString::to_string).collect(), false)
    }

    /// Starts a server that speaks only TLS, presenting the certificate
    /// `cert` (key `key`, signed by the authority `ca`: files, such as
    /// tests/support/tls.rs makes at run time); its URL is
    /// `rediss://127.0.0.1:<port>`.
    pub(crate) fn start_tls(cert: &Path, key: &Path, ca: &Path) -> Self {
        let file = |path: &Path| path.to_str().expect("a UTF-8 path").to_owned();
        let args = [
            ("--tls-cert-file", file(cert)),
            ("--tls-key-file", file(key)),
            ("--tls-ca-cert-file", file(ca)),
            ("--tls-auth-clients", "no".into()),
        ];
        let args = args
            .into_iter()
            .flat_map(|(name, value)| [name.into(), value])
            .collect();
        Self::start_on(args, true)
    }

    fn start_on(args: Vec<String>, tls: bool) -> Self {
        // Another process may take the free port before the server binds
        // it: try a few ports.
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = spawn(port, &args, tls) {
                return Self {
                    child: Some(child),
                    port,
                    args,
                    tls,
                };
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// The server's loopback port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` for TLS.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the server (it loses every key).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (`SIGSTOP`): it accepts connections and reads
    /// nothing until [`thaw`](Self::thaw), when it runs what it was sent.
    pub(crate) fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Wakes a frozen server (`SIGCONT`).
    pub(crate) fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Starts the server again on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        // The port was ours a moment ago; wait out a brief hold-up.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.is_none() {
            self.child = spawn(self.port, &self.args, self.tls);
            if self.child.is_none() {
                sleep(Duration::from_millis(100));
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts `redis-server` on `port` and waits until it answers `PING` (or,
/// with TLS, accepts connections); `None` if it exited (the port was taken).
fn spawn(port: u16, args: &[String], tls: bool) -> Option<Child> {
    let port = port.to_string();
    let ports = if tls {
        ["--port", "0", "--tls-port", &port]
    } else {
        ["--port", &port, "--tls-port", "0"]
    };
    let port: u16 = port.parse().expect("a port");
    let mut child = match Command::new("redis-server")
        .args(ports)
        .args(["--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--daemonize", "no"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "redis-server is not on PATH: these tests need a real Redis. \
             Run scripts/test, which installs it (apt-get install redis-server)."
        ),
        Err(e) => panic!("could not start redis-server: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().expect("redis-server status").is_some() {
            return None;
        }
        let ready = if tls {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
        } else {
            answers_ping(port)
        };
        if ready {
            return Some(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-server on port {port} did not answer PING within 10 s");
        }
        sleep(Duration::from_millis(10));
    }
}

/// Whether a server answers `PING` on `port` (an error reply, such as
/// `NOAUTH`, also means it is up).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0_u8; 1];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && matches!(reply[0], b'+' | b'-')
}
