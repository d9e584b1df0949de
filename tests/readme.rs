//! The README's programs are the `examples/readme_*.rs` files, byte for
//! byte, and they work: the server charges on a real Tempo chain (anvil)
//! and the client pays it, both configured only from the environment
//! variables the README names.
#![cfg(all(feature = "tempo", feature = "axum", feature = "client"))]

#[path = "support/anvil.rs"]
mod anvil;
#[path = "support/escrow.rs"]
mod escrow;

mod support {
    pub(crate) use super::anvil;
}

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, hex};

use anvil::{Anvil, PATH_USD};

/// Each `<!-- examples/NAME.rs -->` marker in the README and the Rust code
/// block right after it.
fn readme_programs() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut programs = Vec::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("<!-- examples/") {
        let after = &rest[start + "<!-- ".len()..];
        let path = after[..after.find(" -->").unwrap()].to_owned();
        let fence = after.find("```rust").unwrap();
        let body = &after[fence..];
        let body = &body[body.find('\n').unwrap() + 1..];
        let end = body.find("\n```").unwrap();
        programs.push((path, body[..=end].to_owned()));
        rest = &body[end..];
    }
    programs
}

#[test]
fn the_readme_programs_are_the_examples_unchanged() {
    let programs = readme_programs();
    let paths: Vec<&str> = programs.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        paths.contains(&"examples/readme_server.rs")
            && paths.contains(&"examples/readme_stream.rs")
            && paths.contains(&"examples/readme_client.rs"),
        "{paths:?}"
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (path, code) in &programs {
        let file = std::fs::read_to_string(root.join(path)).unwrap();
        assert_eq!(
            &file, code,
            "README's block for {path} differs from the file"
        );
        assert!(
            !code.lines().any(|line| line.starts_with("# ")),
            "{path}: no hidden lines"
        );
    }
}

/// `debug/examples/NAME` in the target directory, built by `cargo build
/// --examples --all-features` (scripts/test does, before the tests).
fn example(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let path = target.join("debug/examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --examples --all-features` first (scripts/test does)",
        path.display()
    );
    path
}

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example `name` on a free loopback port with `env` (and a
/// realm and secret); the process and its address.
async fn start(name: &str, env: &[(&str, String)]) -> (Running, String) {
    let mut command = Command::new(example(name));
    command
        .env("ADDR", "127.0.0.1:0")
        .env("MPP_REALM", "127.0.0.1")
        .env(
            "MPP_SECRET_KEY",
            "a README test secret of at least 32 bytes",
        )
        .stdout(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut server = Running(command.spawn().unwrap());
    let stdout = server.0.stdout.take().unwrap();
    let address = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(address) = line.strip_prefix("listening on ") {
                return address.to_owned();
            }
            assert!(Instant::now() < deadline, "the server did not listen");
        }
        panic!("the server exited before it listened");
    })
    .await
    .unwrap();
    (server, address)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_server_charges_and_the_readme_client_pays_on_tempo() {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let recipient = Address::random();
    let payer = anvil.funded_payer(10_000_000).await;

    let (_server, address) = start(
        "readme_server",
        &[
            ("TEMPO_RECIPIENT", recipient.to_string()),
            ("TEMPO_RPC_URL", anvil.url.clone()),
        ],
    )
    .await;

    let client = tokio::task::spawn_blocking({
        let url = anvil.url.clone();
        let key = hex::encode_prefixed(payer.to_bytes());
        move || {
            Command::new(example("readme_client"))
                .arg(format!("http://{address}/joke"))
                .env("PAYER_KEY", key)
                .env("TEMPO_RPC_URL", url)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(stdout.contains("paid tempo with 0x"), "{stdout}");
    assert!(stdout.contains("It had no account."), "{stdout}");
    // One cent of PathUSD (6 decimals) reached the recipient.
    assert_eq!(anvil.balance(PATH_USD, recipient).await, U256::from(10_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_stream_is_paid_word_by_word_from_a_channel() {
    use futures_util::StreamExt as _;
    use tower_mpp::client::{PaymentExt, SessionEvent, TempoSessionProvider};

    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let escrow = escrow::deploy(&anvil).await;
    let recipient = alloy::signers::local::PrivateKeySigner::random();
    anvil.fund(recipient.address(), PATH_USD, 10_000_000).await;
    let payer = anvil.funded_payer(10_000_000).await;
    let (_server, address) = start(
        "readme_stream",
        &[
            (
                "TEMPO_PAYEE_KEY",
                hex::encode_prefixed(recipient.to_bytes()),
            ),
            ("TEMPO_RPC_URL", anvil.url.clone()),
            ("TEMPO_CHAIN_ID", anvil::CHAIN_ID.to_string()),
            ("TEMPO_ESCROW", escrow.to_string()),
        ],
    )
    .await;

    let provider = TempoSessionProvider::new(payer).deposit(1_000_000);
    let url = format!("http://{address}/answer");
    let response = reqwest::Client::new()
        .get(&url)
        .send_with_payment(&provider)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = provider.events(response);
    let mut words = Vec::new();
    while let Some(event) = events.next().await {
        if let SessionEvent::Message(word) = event.unwrap() {
            words.push(word);
        }
    }
    assert_eq!(words.join(" "), "Pay as you go, one word at a time.");
    let receipt = events.receipt().expect("the final receipt");
    // Nine words at 0.0001 (100 base units) each.
    assert_eq!(receipt.extra["spent"], "900");
    provider.close(&url).await.unwrap();
}
