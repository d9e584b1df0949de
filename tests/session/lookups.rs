//! Credentials naming channels the server does not know cost a bounded
//! number of node calls: "not found" is remembered briefly, and a
//! challenge's failed attempts are counted as charges' are.

use alloy::signers::local::PrivateKeySigner;
use tower_mpp::method::DEFAULT_MAX_FAILED_ATTEMPTS;
use tower_mpp::store::MemoryChannelStore;

use crate::common::{App, Chain, PRICE};
use crate::support::anvil::{CHAIN_ID, PATH_USD};
use crate::support::rpc_proxy::RpcProxy;
use crate::support::session_payer::Channel;

/// A channel of a random payer that the escrow does not have.
fn unknown(chain: &Chain) -> Channel {
    Channel::new(
        PrivateKeySigner::random(),
        CHAIN_ID,
        chain.escrow,
        chain.payee.address(),
        PATH_USD,
    )
}

#[tokio::test]
async fn vouchers_naming_unknown_channels_cost_a_bounded_number_of_node_calls() {
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let max = DEFAULT_MAX_FAILED_ATTEMPTS as usize;

    // Twenty random channels on one challenge: its failed attempts end
    // the lookups.
    let challenge = app.challenge("/paid").await;
    for i in 0..20 {
        let reply = app
            .pay("/paid", &challenge, unknown(&chain).voucher_payload(PRICE))
            .await;
        assert!(reply.status.is_client_error(), "{i}: {}", reply.text());
    }
    let calls = proxy.take_calls();
    assert!(calls.len() <= max, "{} node calls: {calls:?}", calls.len());

    // The same as management requests (closes): as bounded.
    let challenge = app.challenge("/paid").await;
    for i in 0..20 {
        let reply = app
            .manage("/paid", &challenge, unknown(&chain).close_payload(PRICE))
            .await;
        assert!(reply.status.is_client_error(), "{i}: {}", reply.text());
    }
    let calls = proxy.take_calls();
    assert!(calls.len() <= max, "{} node calls: {calls:?}", calls.len());

    // One unknown channel named twenty times, each on a fresh challenge:
    // looked up once.
    let channel = unknown(&chain);
    for i in 0..20 {
        let challenge = app.challenge("/paid").await;
        let reply = app
            .pay("/paid", &challenge, channel.voucher_payload(PRICE))
            .await;
        assert!(reply.status.is_client_error(), "{i}: {}", reply.text());
    }
    assert_eq!(proxy.take_calls().len(), 1);
    assert_eq!(app.handled(), 0);
}
