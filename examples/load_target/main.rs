//! A server for load tests: the same handler bare and behind payments.
//!
//! - `GET /bare`: the handler alone;
//! - `GET /paid`: the handler behind `PaymentLayer` with a `Charge`
//!   extractor; without a credential it answers 402;
//! - `GET /same-size`: a bare handler answering a 402 captured once at
//!   start-up from the layer (same status, headers and body, byte for byte
//!   the same length): what the 402's bytes cost on the wire, without the
//!   work of issuing a challenge;
//! - `GET /floor`: that 402 as a template filled in with a fresh nonce,
//!   `opaque` and challenge id per request (`floor.rs`): the least work a
//!   fresh 402 takes, whatever the server.
//!
//! The payment method settles nothing (it has no chain): this server only
//! measures the cost of the layer. `ADDR` sets the address (default
//! `127.0.0.1:3100`).
//!
//! ```text
//! cargo run --release --example load_target
//! ```

mod floor;
// The served settings the tests and examples have (a bench, not a copyable example).
#[path = "../../tests/support/serve.rs"]
mod serve;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{
    ChargeContext, MethodError, PaymentMethod, Payments, Price, Settlement, StaticPrice,
    Verification, VerifyError,
};

/// A method that builds Tempo-shaped requests and refuses every credential.
struct Offline;

impl PaymentMethod for Offline {
    fn name(&self) -> &'static str {
        "tempo"
    }

    fn request(&self, _: &str, price: &Price) -> Result<Option<Map<String, Value>>, MethodError> {
        let units = price
            .amount()
            .to_base_units(6)
            .map_err(|e| MethodError::new("price").with_source(e))?;
        Ok(json!({
            "amount": units.to_string(),
            "currency": "0x20c0000000000000000000000000000000000000",
            "recipient": "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00",
            "methodDetails": {"chainId": 1337},
        })
        .as_object()
        .cloned())
    }

    async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> {
        Err(VerifyError::failed("this load target settles nothing"))
    }
}

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(10_000).description("load test")
    }
}

async fn handler() -> &'static str {
    "hello"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    const SECRET: &str = "a load-test secret of at least 32 bytes";
    let payments = Payments::builder()
        .realm("load.example.com")
        .secret(SECRET)
        .expiry(Duration::from_secs(300))
        .method(Offline)
        .build()?;
    // One 402 of the layer, replayed as is by a bare handler.
    let ctx = ChargeContext {
        scope: "GET /paid",
        ..ChargeContext::default()
    };
    let (parts, body) = payments
        .payment_required(&OneCent::price(), &ctx)
        .to_response()
        .into_parts();
    let (status, headers) = (parts.status, parts.headers);
    let floor = floor::Floor::new(SECRET.as_bytes(), ctx.scope, headers.clone(), &body);
    let same_size = move || {
        let mut response = Response::new(Body::from(body.clone()));
        *response.status_mut() = status;
        *response.headers_mut() = headers.clone();
        async move { response }
    };
    let app = Router::new()
        .route("/bare", get(handler))
        .route("/same-size", get(same_size))
        .route("/floor", get(async move || floor.respond()))
        .merge(
            Router::new()
                .route("/paid", get(|_: Charge<OneCent>| handler()))
                .layer(PaymentLayer::new(payments)),
        );
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3100".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}");
    let timeouts = serve::Timeouts {
        header: Duration::from_secs(10),
        request: Duration::from_secs(60),
    };
    serve::serve_with(listener, app, timeouts).await?;
    Ok(())
}
