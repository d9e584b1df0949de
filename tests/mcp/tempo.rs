//! A Tempo charge paid through MCP on a real Tempo chain (anvil with
//! `--network tempo`): `McpPayer` with `TempoProvider` pays an rmcp tool
//! priced by `PaidServer`; the payment is on chain, the receipt names its
//! transaction, and a replayed credential is refused.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use tower_mpp::client::mcp::McpPayer;
use tower_mpp::client::{PaymentProvider, TempoProvider};
use tower_mpp::mcp::PaidServer;
use tower_mpp::mcp::wire::{challenge_to_json, credential_to_json};
use tower_mpp::method::{Payments, Price};
use tower_mpp::tempo::TempoCharge;

use crate::common::{Tools, challenges, connect, mcp_error, parsed, tool_call};
use crate::support::anvil::{Anvil, CHAIN_ID, PATH_USD};

const REALM: &str = "tools.example.com";
/// 0.01 `PathUSD`.
const PRICE: u128 = 10_000;

#[tokio::test]
async fn mcp_tempo_charge_paid_through_mcp_settles_on_chain_once() {
    let anvil = Arc::new(tokio::task::spawn_blocking(Anvil::start).await.unwrap());
    let recipient = PrivateKeySigner::random().address();
    let method = TempoCharge::builder()
        .recipient(recipient.to_string())
        .rpc_url(&anvil.url)
        .chain_id(CHAIN_ID)
        .receipt_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let payments = Payments::builder()
        .realm(REALM)
        .secret("mcp tempo tests: a secret of thirty-two bytes")
        .method(method)
        .build()
        .unwrap();
    let tools = Tools::default();
    let server = PaidServer::new(tools.clone(), payments)
        .tool("joke", Price::new("0.01").unwrap().description("A joke"));
    let client = connect(server).await;

    let payer = anvil.funded_payer(1_000_000).await;
    let provider = TempoProvider::new(payer, &anvil.url).unwrap();
    let paid = McpPayer::new(&provider, REALM)
        .call_tool(client.peer(), CallToolRequestParams::new("joke"))
        .await
        .unwrap();
    let receipt = paid.receipt.expect("a receipt");
    assert_eq!(receipt.method, "tempo");
    assert!(receipt.reference.starts_with("0x") && receipt.reference.len() == 66);
    assert_eq!(anvil.balance(PATH_USD, recipient).await, U256::from(PRICE));

    // The same payment presented twice: paid once, refused once.
    let error = mcp_error(
        client
            .call_tool(tool_call("joke", json!({}), None))
            .await
            .unwrap_err(),
    );
    let raw = challenges(&error)[0].clone();
    assert_eq!(challenge_to_json(&parsed(&raw)), raw);
    let credential = provider.pay(&parsed(&raw)).await.unwrap();
    let json = credential_to_json(&raw, &credential.payload, credential.source.as_deref());
    let first = client
        .call_tool(tool_call("joke", json!({}), Some(json.clone())))
        .await
        .unwrap();
    assert!(first.meta.unwrap().contains_key("org.paymentauth/receipt"));
    let replay = mcp_error(
        client
            .call_tool(tool_call("joke", json!({}), Some(json)))
            .await
            .unwrap_err(),
    );
    assert_eq!(replay.code.0, -32043);
    assert_eq!(
        anvil.balance(PATH_USD, recipient).await,
        U256::from(2 * PRICE)
    );
    assert_eq!(tools.served.load(std::sync::atomic::Ordering::SeqCst), 2);
}
