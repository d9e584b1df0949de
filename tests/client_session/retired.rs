//! A channel a server forgot (it answered `410`) is kept in the book,
//! listed, and closed: its deposit does not stay locked in the escrow.

use serde_json::json;
use tower_mpp::client::{PaymentExt, SpendingPolicy, TempoSessionProvider, WithPolicy};

use crate::common::{Chain, PRICE, REALM};
use crate::hostile::serve_gone;

/// The first paid request is answered `410` after the app took its open
/// (broadcast, one price spent): the client retires that channel and the
/// next request opens another. `retired_channels` lists the first;
/// `close_all` closes both through the server: both are finalized, the
/// escrow pays the payee one price per channel and the payer the rest of
/// both deposits.
#[tokio::test(flavor = "multi_thread")]
async fn close_all_closes_a_channel_the_server_forgot() {
    let chain = Chain::start().await;
    let app = chain.app();
    let url = serve_gone(&app, 1).await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let deposit = 10 * PRICE;
    let provider = TempoSessionProvider::new(payer.clone()).deposit(deposit);
    let paying = provider
        .clone()
        .with_policy(SpendingPolicy::new().allow_realm(REALM));
    let client = reqwest::Client::new();
    let gone = client.get(&url).send_with_payment(&paying).await.unwrap();
    assert_eq!(gone.status(), 410);
    let retired = provider.retired_channels().unwrap();
    assert_eq!(retired.len(), 1, "{retired:?}");
    let forgotten = retired[0].channel_id;
    let served = client.get(&url).send_with_payment(&paying).await.unwrap();
    assert_eq!(served.status(), 200);
    let open = provider
        .channel(&app.challenge("/paid").await)
        .unwrap()
        .expect("the new channel")
        .channel_id;
    assert_ne!(open, forgotten);

    let from: String = chain.anvil.rpc("eth_blockNumber", json!([])).await;
    let closed = provider.close_all().await;
    let mut ids: Vec<_> = closed
        .into_iter()
        .map(|(id, result)| {
            result.unwrap_or_else(|e| panic!("the close of {id}: {e:?}"));
            id
        })
        .collect();
    ids.sort_unstable();
    let mut expected = vec![forgotten, open];
    expected.sort_unstable();
    assert_eq!(ids, expected, "both channels were closed");
    for id in [forgotten, open] {
        let on = chain.read(id).await;
        assert!(on.finalized || on.payer.is_zero(), "{id} closed: {on:?}");
    }
    assert_eq!(
        chain.paid_by_escrow(chain.payee.address(), &from).await,
        2 * PRICE
    );
    assert_eq!(
        chain.paid_by_escrow(payer.address(), &from).await,
        2 * (deposit - PRICE)
    );
    assert!(provider.retired_channels().unwrap().is_empty());
}
