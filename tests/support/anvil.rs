//! A real Tempo chain for tests: anvil with `--network tempo` on a free
//! loopback port, stopped when dropped, and a dev account to fund payers.
//!
//! The binary comes from `TOWER_MPP_ANVIL` or `.tools/node_modules` (where
//! `scripts/test` installs it from npm). A missing binary fails the test
//! with a message saying so: nothing is skipped.

// Each user takes what it needs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::network::{EthereumWallet, ReceiptResponse as _};
use alloy::primitives::{Address, U256, address};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use tempo_alloy::TempoNetwork;
use tempo_alloy::contracts::precompiles::ITIP20;

/// The chain id the SDKs treat as a Tempo localnet.
pub(crate) const CHAIN_ID: u64 = 1337;
/// `PathUSD`, `AlphaUSD`: TIP-20 precompiles with 6 decimals.
pub(crate) const PATH_USD: Address = address!("20c0000000000000000000000000000000000000");
pub(crate) const ALPHA_USD: Address = address!("20c0000000000000000000000000000000000001");
/// Dev account 0 of the `test ... junk` mnemonic: holds plenty of each token.
pub(crate) const DEV_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Dev account 1, a second funded account.
pub(crate) const DEV_KEY_1: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// The fee manager: fee `Transfer`s go to it.
pub(crate) const FEE_MANAGER_PREFIX: [u8; 2] = [0xfe, 0xec];

/// A running anvil; killed on drop.
pub(crate) struct Anvil {
    child: Child,
    pub(crate) url: String,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TOWER_MPP_ANVIL") {
        return path.into();
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        path.exists(),
        "anvil is not installed at {}: run scripts/test (it installs anvil from npm) \
         or set TOWER_MPP_ANVIL",
        path.display()
    );
    path
}

impl Anvil {
    /// A Tempo chain whose blocks follow the wall clock.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`start`](Self::start), with more arguments.
    pub(crate) fn start_with(extra: &[&str]) -> Self {
        let chain_id = CHAIN_ID.to_string();
        let tempo = [
            "--network",
            "tempo",
            "--chain-id",
            &chain_id,
            "--hardfork",
            "t4",
            "--block-time",
            "1",
        ];
        Self::spawn(&[&tempo, extra].concat())
    }

    /// A plain EVM chain (no `--network`): Ethereum's rules, blocks mined
    /// as transactions arrive, with `args` (a `--chain-id`, say).
    pub(crate) fn start_plain(args: &[&str]) -> Self {
        Self::spawn(args)
    }

    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("anvil exited before listening");
            };
            if let Some(at) = line.strip_prefix("Listening on ") {
                break at.rsplit(':').next().expect("host:port").trim().to_owned();
            }
        };
        // Keep draining stdout so anvil never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Moves the chain's clock `seconds` ahead of the wall clock (pympp
    /// signs `valid_before = now + 60 s`, beyond what a chain at wall-clock
    /// time accepts).
    pub(crate) async fn shift_clock(&self, seconds: u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.rpc::<serde_json::Value>("anvil_setTime", serde_json::json!([now + seconds]))
            .await;
    }

    /// One JSON-RPC call, for tests that poke the chain directly.
    pub(crate) async fn rpc<T>(&self, method: &str, params: serde_json::Value) -> T
    where
        T: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        let provider = ProviderBuilder::new_with_network::<TempoNetwork>()
            .connect_http(self.url.parse().unwrap());
        provider
            .raw_request::<_, T>(method.to_owned().into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// A fresh account holding `amount` base units of `PathUSD` and `AlphaUSD`
    /// (for fees), sent from dev account 0.
    pub(crate) async fn funded_payer(&self, amount: u128) -> PrivateKeySigner {
        let payer = PrivateKeySigner::random();
        self.fund(payer.address(), PATH_USD, amount).await;
        self.fund(payer.address(), ALPHA_USD, amount).await;
        payer
    }

    /// Sends `amount` base units of `token` from dev account 0 to `to`.
    pub(crate) async fn fund(&self, to: Address, token: Address, amount: u128) {
        let dev: PrivateKeySigner = DEV_KEY.parse().unwrap();
        let provider = ProviderBuilder::new_with_network::<TempoNetwork>()
            .wallet(EthereumWallet::from(dev))
            .connect_http(self.url.parse().unwrap());
        let receipt = ITIP20::new(token, &provider)
            .transfer(to, U256::from(amount))
            .send()
            .await
            .expect("funding transfer sent")
            .get_receipt()
            .await
            .expect("funding transfer mined");
        assert!(receipt.status(), "funding transfer reverted");
    }

    /// `owner`'s balance of `token`, in base units.
    pub(crate) async fn balance(&self, token: Address, owner: Address) -> U256 {
        let provider = ProviderBuilder::new_with_network::<TempoNetwork>()
            .connect_http(self.url.parse().unwrap());
        ITIP20::new(token, &provider)
            .balanceOf(owner)
            .call()
            .await
            .expect("balanceOf")
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
