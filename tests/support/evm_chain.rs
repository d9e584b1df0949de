//! A plain EVM chain for tests and the demo: anvil without `--network`,
//! our EIP-3009 test stablecoin (`tests/fixtures/evm/TestUsd.sol`, its
//! bytecode in `TestUsd.hex`, rebuilt by `scripts/build-evm-token`), and
//! Permit2 at its canonical address.
//!
//! Permit2 is never copied into this repository: its canonical bytecode is
//! the one anvil (the npm package `@foundry-rs/anvil`) predeploys on its
//! Tempo network, read from a Tempo anvil at test time and set on the
//! plain chain with `anvil_setCode`.

use alloy::primitives::{Address, U256, address};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, sol};
use serde_json::json;
use tokio::sync::OnceCell;

use crate::support::anvil::Anvil;

/// The plain chain's id (anvil's default).
pub(crate) const EVM_CHAIN_ID: u64 = 31337;
/// Permit2's canonical address.
pub(crate) const PERMIT2: Address = address!("000000000022D473030F116dDEE9F6B43aC78BA3");
/// Dev account 0: deploys and mints.
pub(crate) const MINTER: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// Dev account 2's key: the servers' gas key (10,000 ETH on anvil).
pub(crate) const GAS_KEY: &str =
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// The test stablecoin's EIP-712 domain.
pub(crate) const TOKEN_NAME: &str = "USD Coin";
/// The test stablecoin's EIP-712 domain version.
pub(crate) const TOKEN_VERSION: &str = "2";

sol! {
    function mint(address to, uint256 value);
    function approve(address spender, uint256 value) returns (bool);
    #[derive(Debug)]
    function transfer(address to, uint256 value) returns (bool);
    function balanceOf(address owner) returns (uint256);
}

/// Permit2's runtime code, read once per test binary.
static PERMIT2_CODE: OnceCell<String> = OnceCell::const_new();

async fn permit2_code() -> String {
    PERMIT2_CODE
        .get_or_init(|| async {
            let tempo = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
            let code: String = tempo.rpc("eth_getCode", json!([PERMIT2, "latest"])).await;
            assert!(
                code.len() > 1000,
                "anvil's Tempo network no longer predeploys Permit2 at {PERMIT2}: \
                 the plain chain cannot get its canonical bytecode"
            );
            code
        })
        .await
        .clone()
}

/// A plain chain with the token and Permit2.
pub(crate) struct EvmChain {
    pub(crate) anvil: Anvil,
    pub(crate) token: Address,
}

impl EvmChain {
    /// Starts anvil, installs Permit2 and deploys the token.
    pub(crate) async fn start() -> Self {
        let id = EVM_CHAIN_ID.to_string();
        let anvil = tokio::task::spawn_blocking(move || Anvil::start_plain(&["--chain-id", &id]))
            .await
            .unwrap();
        let code = permit2_code().await;
        let _: serde_json::Value = anvil.rpc("anvil_setCode", json!([PERMIT2, code])).await;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/evm/TestUsd.hex"
        );
        let bytecode = std::fs::read_to_string(path).expect("the token's bytecode fixture");
        let hash: String = anvil
            .rpc(
                "eth_sendTransaction",
                json!([{"from": MINTER, "data": bytecode.trim(), "gas": "0x2dc6c0"}]),
            )
            .await;
        let receipt = wait_receipt(&anvil, &hash).await;
        let token: Address = receipt["contractAddress"]
            .as_str()
            .expect("the token deployed")
            .parse()
            .unwrap();
        Self { anvil, token }
    }

    /// Sends `data` to `to` from `from` (an unlocked or impersonated
    /// account) and waits for success.
    pub(crate) async fn send_from(&self, from: Address, to: Address, data: Vec<u8>) -> String {
        let hash: String = self
            .anvil
            .rpc(
                "eth_sendTransaction",
                json!([{"from": from, "to": to, "data": alloy::hex::encode_prefixed(data)}]),
            )
            .await;
        let receipt = wait_receipt(&self.anvil, &hash).await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        hash
    }

    /// A fresh account with 1 ETH for gas and `amount` base units of the
    /// token.
    pub(crate) async fn funded_payer(&self, amount: u128) -> PrivateKeySigner {
        let payer = PrivateKeySigner::random();
        let _: serde_json::Value = self
            .anvil
            .rpc(
                "anvil_setBalance",
                json!([payer.address(), "0xde0b6b3a7640000"]),
            )
            .await;
        let data = mintCall {
            to: payer.address(),
            value: U256::from(amount),
        }
        .abi_encode();
        self.send_from(MINTER, self.token, data).await;
        payer
    }

    /// `payer` approves Permit2 for all its tokens (the one-time step).
    pub(crate) async fn approve_permit2(&self, payer: Address) {
        let _: serde_json::Value = self
            .anvil
            .rpc("anvil_impersonateAccount", json!([payer]))
            .await;
        let data = approveCall {
            spender: PERMIT2,
            value: U256::MAX,
        }
        .abi_encode();
        self.send_from(payer, self.token, data).await;
    }

    /// `owner`'s token balance.
    pub(crate) async fn balance(&self, owner: Address) -> U256 {
        let data = balanceOfCall { owner }.abi_encode();
        let out: String = self
            .anvil
            .rpc(
                "eth_call",
                json!([{"to": self.token, "data": alloy::hex::encode_prefixed(data)}, "latest"]),
            )
            .await;
        U256::from_str_radix(out.trim_start_matches("0x"), 16).unwrap()
    }

    /// The token's `Transfer`s (from, to, value) in the mined, successful
    /// transaction `hash`: what a receipt's `reference` names.
    pub(crate) async fn transfers_in(&self, hash: &str) -> Vec<(Address, Address, U256)> {
        let receipt = wait_receipt(&self.anvil, hash).await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        let topic = |log: &serde_json::Value, i: usize| -> String {
            log["topics"][i].as_str().unwrap_or_default().to_owned()
        };
        let word = |hex: &str| U256::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
        let address = |hex: &str| Address::from_word(word(hex).into());
        receipt["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|log| {
                log["address"].as_str().and_then(|a| a.parse().ok()) == Some(self.token)
                    && topic(log, 0) == TRANSFER_TOPIC
            })
            .map(|log| {
                (
                    address(&topic(log, 1)),
                    address(&topic(log, 2)),
                    word(log["data"].as_str().unwrap_or_default()),
                )
            })
            .collect()
    }
}

/// `keccak256("Transfer(address,address,uint256)")`.
const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

async fn wait_receipt(anvil: &Anvil, hash: &str) -> serde_json::Value {
    for _ in 0..100 {
        let receipt: Option<serde_json::Value> =
            anvil.rpc("eth_getTransactionReceipt", json!([hash])).await;
        if let Some(receipt) = receipt {
            return receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("transaction {hash} was not mined");
}
