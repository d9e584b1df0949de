//! Servers that lie to the client: what they claim never makes it sign
//! more than it vouched, nor more than its policy allowed.

use axum::extract::Request;
use axum::middleware::Next;
use serde_json::json;
use tower_mpp::client::{PaymentExt, SpendingPolicy, TempoSessionProvider, WithPolicy};
use tower_mpp::protocol::Receipt;

use crate::common::{App, Chain, PRICE, REALM};
use crate::limits::paid_by_escrow;

/// Serves `app` behind a layer that rewrites each `Payment-Receipt` to
/// claim `spent`; its base URL.
async fn serve_claiming(app: &App, spent: u128) -> String {
    let router = app.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            let mut response = next.run(request).await;
            let claimed = response
                .headers()
                .get("payment-receipt")
                .and_then(|v| Receipt::parse(v.to_str().ok()?).ok())
                .and_then(|mut receipt| {
                    receipt
                        .extra
                        .insert("spent".into(), json!(spent.to_string()));
                    receipt.to_header_value().ok()
                });
            if let Some(claimed) = claimed {
                response.headers_mut().insert("payment-receipt", claimed);
            }
            response
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// Receipts claiming the whole deposit was spent, after three requests
/// vouched three prices: the close is signed for three prices, and the
/// escrow pays the payee exactly that.
#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_claiming_the_deposit_does_not_raise_the_close() {
    let chain = Chain::start().await;
    let app = chain.app();
    let deposit = 50 * PRICE;
    let base = serve_claiming(&app, deposit).await;
    let provider = TempoSessionProvider::new(chain.anvil.funded_payer(100_000_000).await)
        .with_deposit(deposit);
    let paying = provider
        .clone()
        .with_policy(SpendingPolicy::new().allow_realm(REALM));
    let url = format!("{base}/paid");
    for _ in 0..3 {
        let response = reqwest::Client::new()
            .get(&url)
            .send_with_payment(&paying)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let from: String = chain.anvil.rpc("eth_blockNumber", json!([])).await;
    provider.close(&url).await.unwrap();
    assert_eq!(
        paid_by_escrow(&chain, chain.payee.address(), &from).await,
        3 * PRICE,
        "the close pays what the client vouched, not what the server claimed"
    );
}
