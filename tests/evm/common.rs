//! An axum app charging 0.01 of the test stablecoin on a fresh plain
//! chain, and the payer's side of each credential type.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use serde_json::{Map, Value};
use tower_mpp::axum::Charge;
use tower_mpp::evm::{
    Authorization, EvmCharge, EvmChargeBuilder, Permit2Transfer, challenge_hash, did_pkh,
};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Challenge, Credential, Receipt};

pub(crate) use crate::server_common::Reply;
use crate::server_common::send;
use crate::support::evm_chain::{EVM_CHAIN_ID, EvmChain, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};
pub(crate) use crate::support::evm_payer::{
    authorization_payload, permit2_payload, signed_transfer,
};

pub(crate) const REALM: &str = "api.example.com";
const SECRET: &str = "evm tests: a secret of thirty-two bytes or more";
/// What `/paid` costs: 0.01 of the 6-decimal token.
pub(crate) const PRICE: u128 = 10_000;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01").unwrap().description("a paid thing")
    }
}

/// A chain, a recipient and an app whose `/paid` costs [`PRICE`].
pub(crate) struct Env {
    pub(crate) chain: EvmChain,
    pub(crate) app: Router,
    pub(crate) recipient: Address,
    pub(crate) method: EvmCharge,
    handled: Arc<AtomicUsize>,
}

impl Env {
    /// Every credential type offered, the gas key paying.
    pub(crate) async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    /// With the method configured further by `configure`.
    pub(crate) async fn start_with(
        configure: impl FnOnce(EvmChargeBuilder) -> EvmChargeBuilder,
    ) -> Self {
        Self::start_on(tower_mpp::store::MemoryStore::default(), configure).await
    }

    /// With the registry's claims in `store`.
    pub(crate) async fn start_on<S: tower_mpp::store::Store>(
        store: S,
        configure: impl FnOnce(EvmChargeBuilder) -> EvmChargeBuilder,
    ) -> Self {
        let chain = EvmChain::start().await;
        let recipient = PrivateKeySigner::random().address();
        let builder = EvmCharge::builder()
            .recipient(recipient.to_string())
            .currency(chain.token.to_string())
            .rpc_url(&chain.anvil.url)
            .gas_payer_key(GAS_KEY)
            .authorization_domain(TOKEN_NAME, TOKEN_VERSION)
            .unbound_on_volatile_store(true)
            .rpc_timeout(Duration::from_secs(3))
            .receipt_timeout(Duration::from_secs(5));
        let method = configure(builder)
            .connect()
            .await
            .expect("a valid EVM configuration");
        let payments = Payments::builder()
            .realm(REALM)
            .secret(SECRET)
            .method(method.clone())
            .store(store)
            .max_failed_attempts(100)
            .build()
            .unwrap();
        let handled = Arc::new(AtomicUsize::new(0));
        let count = handled.clone();
        let app = Router::new()
            .route(
                "/paid",
                get(move |_: Charge<OneCent>| async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    "served"
                }),
            )
            .layer(PaymentLayer::new(payments));
        Self {
            chain,
            app,
            recipient,
            method,
            handled,
        }
    }

    /// The EVM challenge of an unpaid `GET /paid`.
    pub(crate) async fn challenge(&self) -> Challenge {
        let reply = self.get(None).await;
        assert_eq!(
            reply.status,
            StatusCode::PAYMENT_REQUIRED,
            "{}",
            reply.text()
        );
        let mut challenges = reply.challenges();
        assert_eq!(challenges.len(), 1);
        challenges.remove(0)
    }

    /// `GET /paid`, with an `Authorization` header when given.
    pub(crate) async fn get(&self, authorization: Option<&str>) -> Reply {
        let mut request = Request::get("/paid");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        send(&self.app, request.body(Body::empty()).unwrap()).await
    }

    /// How many times the handler ran.
    pub(crate) fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    /// The request's `methodDetails` of `challenge`.
    pub(crate) fn details(challenge: &Challenge) -> Value {
        challenge.request.object()["methodDetails"].clone()
    }
}

impl Reply {
    /// A 200 from the handler with a receipt; returns the receipt.
    pub(crate) fn assert_paid(&self) -> Receipt {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        assert_eq!(self.text(), "served");
        self.receipt().expect("a receipt on a 200")
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `Authorization` header value answering `challenge` with `payload`,
/// from `payer` when given.
pub(crate) fn credential(challenge: &Challenge, payload: Value, payer: Option<Address>) -> String {
    let Value::Object(payload) = payload else {
        panic!("a payload is an object")
    };
    let mut credential = Credential::new(challenge.clone(), payload);
    if let Some(payer) = payer {
        credential = credential.with_source(did_pkh(EVM_CHAIN_ID, payer));
    }
    credential.to_header().unwrap()
}

/// The authorization that pays `challenge` as the draft says.
pub(crate) fn good_authorization(
    signer: &PrivateKeySigner,
    env: &Env,
    challenge: &Challenge,
) -> Authorization {
    Authorization {
        from: signer.address(),
        to: env.recipient,
        value: U256::from(PRICE),
        valid_after: U256::ZERO,
        valid_before: U256::from(now() + 300),
        nonce: challenge_hash(&challenge.id, &challenge.realm),
    }
}

/// The Permit2 transfer that pays `challenge` (no splits) with `nonce`.
pub(crate) fn good_permit(env: &Env, challenge: &Challenge, nonce: u64) -> Permit2Transfer {
    Permit2Transfer {
        permitted: vec![(env.chain.token, U256::from(PRICE))],
        spender: env.method.gas_payer().unwrap(),
        nonce: U256::from(nonce),
        deadline: U256::from(now() + 300),
        challenge_hash: challenge_hash(&challenge.id, &challenge.realm),
        external_id: String::new(),
    }
}

/// A payload that is not an object field map: for tests of shapes.
#[allow(dead_code)]
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("an object"),
    }
}
