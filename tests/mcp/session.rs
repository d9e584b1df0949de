//! A Tempo session pays tool calls one voucher at a time: the open pays
//! the first call, a voucher each next one (checked against the channel
//! store, not the chain), and a voucher that adds nothing pays nothing.

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use tower_mpp::mcp::PaidServer;
use tower_mpp::mcp::wire::credential_to_json;
use tower_mpp::method::{Payments, Price};
use tower_mpp::store::MemoryChannelStore;

use crate::common::{Tools, challenges, connect, mcp_error, tool_call};
use crate::session_common::{Chain, PRICE, REALM, SECRET};

const RECEIPT: &str = "org.paymentauth/receipt";

#[tokio::test]
async fn mcp_session_vouchers_pay_tool_calls_one_by_one() {
    let chain = Chain::start().await;
    let session = chain.session(&chain.anvil.url, MemoryChannelStore::new());
    let payments = Payments::builder()
        .realm(REALM)
        .secret(SECRET)
        .method(session)
        .build()
        .unwrap();
    let tools = Tools::default();
    let server = PaidServer::new(tools.clone(), payments).tool("joke", Price::base_units(PRICE));
    let client = connect(server).await;
    let channel = chain.channel().await;
    let challenge = || async {
        let error = mcp_error(
            client
                .call_tool(CallToolRequestParams::new("joke"))
                .await
                .unwrap_err(),
        );
        let offered = challenges(&error);
        assert_eq!(offered[0]["intent"], "session", "{offered:?}");
        offered[0].clone()
    };
    let call = |raw: Value, payload| {
        let credential = credential_to_json(&raw, &payload, None);
        client.call_tool(tool_call("joke", json!({}), Some(credential)))
    };

    let opened = call(challenge().await, channel.open_payload(100_000, PRICE))
        .await
        .unwrap();
    let receipt = &opened.meta.unwrap()[RECEIPT];
    assert_eq!(receipt["reference"], channel.id.to_string(), "{receipt}");
    assert_eq!(receipt["spent"], PRICE.to_string());

    for n in 2..=3u128 {
        let paid = call(challenge().await, channel.voucher_payload(n * PRICE))
            .await
            .unwrap();
        let receipt = &paid.meta.unwrap()[RECEIPT];
        assert_eq!(receipt["acceptedCumulative"], (n * PRICE).to_string());
        assert_eq!(receipt["spent"], (n * PRICE).to_string());
    }
    // A voucher that adds nothing pays nothing.
    let stale = call(challenge().await, channel.voucher_payload(3 * PRICE)).await;
    assert!(stale.is_err(), "{stale:?}");
    assert_eq!(tools.served.load(std::sync::atomic::Ordering::SeqCst), 3);
}
