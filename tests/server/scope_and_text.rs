//! Findings of the attacker's review (#13) in the server core: a route's
//! scope inside nested axum routers, and price text a header cannot carry.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::store::MemoryStore;

use crate::common::{OneCent, Recorder, challenge_for, get_req, pay, payments, send, send_auth};

fn registry() -> Payments {
    payments(
        &Arc::new(AtomicUsize::new(0)),
        &Arc::new(Recorder::default()),
        MemoryStore::default(),
    )
}

async fn paid(_: Charge<OneCent>) -> &'static str {
    "paid content"
}

/// Two sections with the same inner route `/x`, nested under different
/// prefixes, each with the layer inside the nested router: axum strips the
/// prefix before the inner router's layers run.
fn nested(payments: &Payments, route_layer: bool) -> Router {
    let section = || {
        let router = Router::new().route("/x", get(paid));
        if route_layer {
            router.route_layer(PaymentLayer::new(payments.clone()))
        } else {
            router.layer(PaymentLayer::new(payments.clone()))
        }
    };
    Router::new()
        .nest("/public", section())
        .nest("/premium", section())
}

/// A challenge issued for `/public/x` does not pay for `/premium/x`, with
/// the layer on the nested router or as its route layer; it still pays for
/// the route it was issued for.
#[tokio::test]
async fn nested_routers_do_not_share_a_scope() {
    for route_layer in [false, true] {
        let router = nested(&registry(), route_layer);
        let challenge = challenge_for(&router, "GET", "/public/x", "").await;
        let credential = pay(&challenge, "paid");

        let elsewhere = send_auth(&router, "/premium/x", &credential).await;
        assert_eq!(elsewhere.status, 402, "route_layer {route_layer}");
        elsewhere.assert_rejected(402, "invalid-challenge");

        let here = send_auth(&router, "/public/x", &credential).await;
        assert_eq!(
            here.status,
            200,
            "route_layer {route_layer}: {}",
            here.text()
        );
        assert!(here.receipt().is_some());
    }
}

struct Accented;
impl StaticPrice for Accented {
    fn price() -> Price {
        Price::new("0.01")
            .unwrap()
            .description("Un café, s'il vous plaît")
    }
}

async fn accented(_: Charge<Accented>) -> &'static str {
    "served"
}

/// A description a header cannot carry used to make every request a 500.
/// Now it is left out of the price: the route stays payable with challenges
/// that carry no description, and the start-up path (discovery's offers,
/// `Price::check`) refuses the price saying why.
#[tokio::test]
async fn an_unwritable_description_is_left_out_not_a_500_per_request() {
    let registry = registry();
    let error = registry.offers(&Accented::price()).unwrap_err();
    assert!(error.detail().contains("description"), "{}", error.detail());
    assert!(Accented::price().check().is_err());

    let router = Router::new()
        .route("/cafe", get(accented))
        .layer(PaymentLayer::new(registry));
    let reply = send(&router, get_req("/cafe").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, 402, "{}", reply.text());
    let challenge = reply.challenges().remove(0);
    assert_eq!(challenge.description, None);
    let paid = send_auth(&router, "/cafe", &pay(&challenge, "paid")).await;
    assert_eq!(
        (paid.status.as_u16(), paid.text().as_str()),
        (200, "served")
    );
}
