//! `tower_mpp::prelude::*` is enough to write a paid route and to pay one.
#![cfg(all(feature = "axum", feature = "tempo", feature = "client"))]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::ServiceExt as _;
use tower_mpp::prelude::*;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(10_000)
    }
}

#[tokio::test]
async fn the_prelude_is_enough_for_a_paid_route() {
    let tempo = TempoCharge::builder()
        .recipient("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
        .build()
        .unwrap();
    let payments = Payments::builder()
        .realm("api.example.com")
        .secret("test secret: at least thirty-two bytes long")
        .method(tempo)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/paid", get(|_: Charge<OneCent>| async { "paid" }))
        .layer(PaymentLayer::new(payments));
    let request = Request::get("/paid").body(Body::empty()).unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), 402);
}

#[test]
fn the_prelude_is_enough_for_a_paying_client() {
    let signer = PrivateKeySigner::random();
    let provider = TempoProvider::new(signer, "http://127.0.0.1:9")
        .unwrap()
        .with_policy(SpendingPolicy::new());
    // `PaymentExt` is in scope: `send_with_payment` resolves.
    let request = reqwest::Client::new().get("http://127.0.0.1:9/paid");
    drop(request.send_with_payment(&provider));
}

/// The setters are bare names (`deposit`, `client_id`), as in tower-http
/// and reqwest; the former `with_*` names still build, deprecated.
#[test]
#[allow(deprecated)]
fn the_former_setter_names_still_build() {
    let signer = PrivateKeySigner::random();
    let bare = TempoProvider::new(signer.clone(), "http://127.0.0.1:9")
        .unwrap()
        .client_id("app")
        .chain_id(1337);
    let former = TempoProvider::new(signer.clone(), "http://127.0.0.1:9")
        .unwrap()
        .with_client_id("app")
        .with_chain_id(1337);
    assert_eq!(bare.address(), former.address());
    let sessions = TempoSessionProvider::new(signer)
        .deposit(1_000)
        .with_max_deposit(2_000);
    assert_eq!(sessions.address(), bare.address());
}
