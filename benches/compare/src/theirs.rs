//! The `mpp` crate's side: `Mpp::create(tempo(..))` with our settings (and
//! its default in-memory replay store), its tower
//! `middleware::PaymentLayer::charge` and its axum `MppCharge<C>` extractor.
//!
//! `mpp` asks its node for the chain id on the first verification (then
//! caches it), so `Theirs` needs an RPC URL: [`spawn_rpc_stub`](crate::spawn_rpc_stub)
//! answers that one call. Nothing else on the proof path uses the network.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use mpp::server::axum::{ChallengeOptions, ChargeChallenger, ChargeConfig, MppCharge, WithReceipt};
use mpp::server::middleware::PaymentLayer;
use mpp::server::{Mpp, TempoChargeMethod, TempoConfig, TempoProvider, tempo};
use mpp::{PaymentCredential, PaymentPayload, format_authorization};
use serde_json::json;

use crate::{CHAIN_ID, PATH_USD, Payer, REALM, RECIPIENT, SECRET, USDC_E, hello};

/// `mpp`'s handler for Tempo charges.
pub type TempoMpp = Mpp<TempoChargeMethod<TempoProvider>>;

/// 0.01, as `mpp` prices routes (a decimal string).
struct OneCent;
impl ChargeConfig for OneCent {
    fn amount() -> &'static str {
        "0.01"
    }
}

/// A zero amount: paid with a proof credential.
struct Free;
impl ChargeConfig for Free {
    fn amount() -> &'static str {
        "0"
    }
}

/// `mpp`'s handler with one currency (`PathUSD`).
#[derive(Clone)]
pub struct Theirs {
    mpp: TempoMpp,
}

impl Theirs {
    /// A handler whose node (for the chain id only) is at `rpc_url`.
    pub fn new(rpc_url: &str) -> Self {
        Self {
            mpp: create(rpc_url, &[PATH_USD]),
        }
    }

    /// The handler.
    pub fn mpp(&self) -> &TempoMpp {
        &self.mpp
    }

    /// `/mpp/layer/*` behind `mpp`'s tower layer (RFC 9457 bodies turned
    /// on, as ours always sends them), `/mpp/axum/*` with `MppCharge<C>`;
    /// the handlers return `WithReceipt` so that paid responses carry
    /// `Payment-Receipt`, as ours do.
    pub fn routes(&self) -> Router {
        let fixed = |amount| {
            PaymentLayer::charge(&self.mpp, amount)
                .expect("a valid amount")
                .with_problem_details(|bytes: Bytes| Body::from(bytes))
        };
        let challenger: Arc<dyn ChargeChallenger> = Arc::new(self.mpp.clone());
        Router::new()
            .route("/mpp/layer/paid", get(hello).route_layer(fixed("0.01")))
            .route("/mpp/layer/proof", get(hello).route_layer(fixed("0")))
            .merge(
                Router::new()
                    .route("/mpp/axum/paid", get(paid::<OneCent>))
                    .route("/mpp/axum/proof", get(paid::<Free>))
                    .with_state(challenger),
            )
    }

    /// A proof credential for a fresh challenge of the zero price behind the
    /// tower layer (which binds no route scope).
    pub fn layer_proof_credential(&self, payer: &Payer) -> String {
        let challenge = self.mpp.charge("0").expect("a zero charge").remove(0);
        credential(payer, &challenge)
    }

    /// A proof credential for a fresh challenge of the zero price on the
    /// extractor route `path` (its challenges carry the route scope).
    pub fn axum_proof_credential(&self, payer: &Payer, path: &str) -> String {
        let options = ChallengeOptions {
            mppx_scope: Some(json!({"route": path, "resource": path})),
            ..ChallengeOptions::default()
        };
        let challenge =
            ChargeChallenger::challenge(&self.mpp, "0", options).expect("a zero charge");
        credential(payer, &challenge)
    }
}

/// A handler offering 0.01 twice, in `PathUSD` and in USDC.e (one challenge
/// per currency), and the amount to charge.
pub fn two_offers(rpc_url: &str) -> (TempoMpp, &'static str) {
    (create(rpc_url, &[PATH_USD, USDC_E]), "0.01")
}

fn create(rpc_url: &str, currencies: &[&str]) -> TempoMpp {
    Mpp::create(
        tempo(TempoConfig {
            recipient: RECIPIENT,
        })
        .rpc_url(rpc_url)
        .chain_id(CHAIN_ID)
        .currencies(currencies.iter().copied())
        .realm(REALM)
        .secret_key(SECRET),
    )
    .expect("a valid mpp configuration")
}

async fn paid<C: ChargeConfig>(charge: MppCharge<C>) -> WithReceipt<&'static str> {
    WithReceipt {
        receipt: charge.receipt,
        body: hello().await,
    }
}

fn credential(payer: &Payer, challenge: &mpp::PaymentChallenge) -> String {
    let signature = payer.sign_proof(&challenge.id, &challenge.realm);
    let credential = PaymentCredential::with_source(
        challenge.to_echo(),
        payer.source(),
        PaymentPayload::proof(signature),
    );
    format_authorization(&credential).expect("a credential is writable")
}
