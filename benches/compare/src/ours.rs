//! Our side: `TempoCharge` built with a chain id and no `connect`, so it
//! never talks to a node (proof credentials on zero amounts are checked
//! locally: `src/tempo/proof.rs`), the registry and its routes.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{
    ChargeContext, MethodError, PaymentMethod, Payments, PaymentsBuilder, Price, Settlement,
    StaticPrice, Verification, VerifyError,
};
use tower_mpp::protocol::Credential;
use tower_mpp::tempo::TempoCharge;

use crate::{CHAIN_ID, PATH_USD, Payer, REALM, RECIPIENT, SECRET, USDC_E, hello};

/// 0.01 of a 6-decimal currency.
struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(10_000)
    }
}

/// A zero amount: paid with a proof credential.
struct Free;
impl StaticPrice for Free {
    fn price() -> Price {
        Price::base_units(0)
    }
}

/// Our registry, with one offer (`TempoCharge` in `PathUSD`) and the
/// default in-memory claim store.
#[derive(Debug, Clone)]
pub struct Ours {
    payments: Payments,
}

impl Default for Ours {
    fn default() -> Self {
        Self {
            payments: build(registry().method(tempo(PATH_USD))),
        }
    }
}

impl Ours {
    /// The registry.
    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// `/ours/layer/*` behind `PaymentLayer::charge` (a fixed price per
    /// layer), `/ours/axum/*` behind one `PaymentLayer` with a `Charge<P>`
    /// extractor per route.
    pub fn routes(&self) -> Router {
        let fixed = |price| PaymentLayer::new(self.payments.clone()).charge(price);
        Router::new()
            .route(
                "/ours/layer/paid",
                get(hello).route_layer(fixed(OneCent::price())),
            )
            .route(
                "/ours/layer/proof",
                get(hello).route_layer(fixed(Free::price())),
            )
            .merge(
                Router::new()
                    .route("/ours/axum/paid", get(|_: Charge<OneCent>| hello()))
                    .route("/ours/axum/proof", get(|_: Charge<Free>| hello()))
                    .layer(PaymentLayer::new(self.payments.clone())),
            )
    }

    /// One of our 402 responses for `/ours/axum/paid`, as parts a handler
    /// can return again and again.
    pub fn canned_402(&self) -> (StatusCode, HeaderMap, Bytes) {
        let ctx = ChargeContext {
            scope: "GET /ours/axum/paid",
            ..ChargeContext::default()
        };
        let response = self
            .payments
            .payment_required(&OneCent::price(), &ctx)
            .to_response();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body)
    }

    /// A proof credential for a fresh challenge of the zero price on `path`
    /// (a `GET`: the route scope is part of the challenge).
    pub fn proof_credential(&self, payer: &Payer, path: &str) -> String {
        let ctx = ChargeContext {
            scope: &format!("GET {path}"),
            ..ChargeContext::default()
        };
        let challenge = self
            .payments
            .challenges(&Free::price(), &ctx)
            .expect("the zero price has an offer")
            .remove(0);
        let signature = payer.sign_proof(&challenge.id, &challenge.realm);
        let Value::Object(payload) = json!({"type": "proof", "signature": signature}) else {
            unreachable!()
        };
        Credential::new(challenge, payload)
            .with_source(payer.source())
            .to_header()
            .expect("a credential of a valid challenge is writable")
    }
}

/// A registry offering 0.01 twice: in `PathUSD` and in USDC.e.
///
/// Our registry issues one challenge per method (names are unique), so the
/// second offer is `TempoCharge` configured for USDC.e under another method
/// name: both offers are built by the same code, as `mpp` builds its two
/// currencies.
pub fn two_offers() -> (Payments, Price) {
    let payments = build(
        registry()
            .method(tempo(PATH_USD))
            .method(SecondCurrency(tempo(USDC_E))),
    );
    (payments, OneCent::price())
}

/// The benchmark pays hundreds of thousands of free proofs a second from
/// one client: a budget that never runs out mid-run (a server keeps the
/// default, which answers `503` past 200 a second).
fn registry() -> PaymentsBuilder {
    Payments::builder()
        .realm(REALM)
        .secret(SECRET)
        .free_claims(u64::MAX, Duration::from_secs(1))
}

fn build(builder: PaymentsBuilder) -> Payments {
    builder.build().expect("a valid registry")
}

fn tempo(currency: &str) -> TempoCharge {
    TempoCharge::builder()
        .recipient(RECIPIENT)
        .currency(currency)
        .chain_id(CHAIN_ID)
        .build()
        .expect("a valid Tempo configuration")
}

/// `TempoCharge` under the method name `usdc`.
struct SecondCurrency(TempoCharge);

impl PaymentMethod for SecondCurrency {
    fn name(&self) -> &'static str {
        "usdc"
    }

    fn request(
        &self,
        intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError> {
        self.0.request(intent, price)
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        self.0.verify(verification).await
    }
}
