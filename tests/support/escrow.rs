//! The v1 escrow, `TempoStreamChannel`, deployed on a test chain from the
//! real bytecode the `mpp` crate 0.18.2 ships (`tests/fixtures/
//! TempoStreamChannel.hex` in its package: `scripts/test` builds
//! `tests/peers/mpp-client`, which puts that package in cargo's registry).
//! `TOWER_MPP_ESCROW_HEX` names another copy of the file.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::Address;

use crate::support::anvil::Anvil;

/// Dev account 0, which deploys.
const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// Where the bytecode is: `TOWER_MPP_ESCROW_HEX`, else the `mpp` 0.18.2
/// package in cargo's registry.
fn bytecode_path() -> PathBuf {
    if let Ok(path) = std::env::var("TOWER_MPP_ESCROW_HEX") {
        return PathBuf::from(path);
    }
    let home = std::env::var("CARGO_HOME").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cargo"),
        PathBuf::from,
    );
    let registry = home.join("registry").join("src");
    let found = std::fs::read_dir(&registry).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| {
                e.path()
                    .join("mpp-0.18.2/tests/fixtures/TempoStreamChannel.hex")
            })
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the TempoStreamChannel bytecode is missing: build tests/peers/mpp-client \
             (scripts/test does) so that mpp-0.18.2 is in {}, or set TOWER_MPP_ESCROW_HEX",
            registry.display()
        )
    })
}

/// Deploys the escrow from dev account 0 and returns its address.
pub(crate) async fn deploy(anvil: &Anvil) -> Address {
    let path = bytecode_path();
    let code = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let hash: String = anvil
        .rpc(
            "eth_sendTransaction",
            serde_json::json!([{"from": DEPLOYER, "data": code.trim(), "gas": "0x1312d00"}]),
        )
        .await;
    for _ in 0..40 {
        let receipt: Option<serde_json::Value> = anvil
            .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
            .await;
        if let Some(receipt) = receipt {
            assert_eq!(receipt["status"], "0x1", "the escrow's deployment reverted");
            return receipt["contractAddress"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the escrow's deployment was not mined in 10 s");
}
