//! mppx (the TypeScript SDK, from npm) checks our `basic` server as a black
//! box with `mppx validate`: discovery, the challenge, error handling. Its
//! last step pays through a testnet faucet, which needs the internet: that
//! one check is expected to fail here, and only that one.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;

use crate::anvil::Anvil;
use crate::server::{Basic, Config};

fn mppx() -> PathBuf {
    let path = std::env::var_os("TOWER_MPP_MPPX").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin/mppx"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "mppx is not installed at {}: run scripts/test (it installs mppx from npm) \
         or set TOWER_MPP_MPPX",
        path.display()
    );
    path
}

#[tokio::test]
async fn mppx_validate_passes_every_check_but_the_online_payment() {
    let mppx = mppx();
    let anvil = Anvil::start();
    let recipient = PrivateKeySigner::random().address();
    let server = Basic::start(&Config {
        rpc_url: &anvil.url,
        recipient,
        fee_payer_key: None,
    });
    let url = server.url.clone();
    let output = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::task::spawn_blocking(move || {
            Command::new(mppx)
                .args(["validate", &url, "-y"])
                .env("NO_COLOR", "1")
                .output()
                .expect("mppx runs")
        }),
    )
    .await
    .expect("mppx validate finishes within 3 minutes")
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let passed: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('✓'))
        .collect();
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('✗'))
        .collect();
    for check in [
        "Document found and parseable",
        "Valid OpenAPI structure",
        "Returns 402 without credentials",
        "Challenge parseable (tempo/charge)",
        "Realm matches server hostname",
        "Malformed credential returns 402 (not 500)",
        "Error response includes fresh challenge",
    ] {
        assert!(
            passed.iter().any(|l| l.contains(check)),
            "{check} did not pass:\n{text}"
        );
    }
    assert!(
        passed.len() >= 14,
        "only {} checks passed:\n{text}",
        passed.len()
    );
    assert_eq!(failed.len(), 1, "unexpected failures:\n{text}");
    assert!(failed[0].contains("Payment"), "unexpected failure:\n{text}");
}
