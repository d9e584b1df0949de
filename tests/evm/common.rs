//! An axum app charging 0.01 of the test stablecoin on a fresh plain
//! chain, and the payer's side of each credential type.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718 as _;
use alloy::primitives::{Address, B256, TxKind, U256};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall as _;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use serde_json::{Map, Value, json};
use tower_mpp::axum::Charge;
use tower_mpp::evm::{
    Authorization, EvmCharge, EvmChargeBuilder, Permit2Transfer, TokenDomain,
    authorization_signing_hash, challenge_hash, did_pkh,
};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Challenge, Credential, Receipt};

pub(crate) use crate::server_common::Reply;
use crate::server_common::send;
use crate::support::evm_chain::{
    EVM_CHAIN_ID, EvmChain, GAS_KEY, PERMIT2, TOKEN_NAME, TOKEN_VERSION, transferCall,
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

/// An EIP-3009 authorization of `authorization` signed by `signer`, as a
/// payload.
pub(crate) fn authorization_payload(
    signer: &PrivateKeySigner,
    token: Address,
    authorization: &Authorization,
) -> Value {
    let domain = TokenDomain {
        name: TOKEN_NAME.to_owned(),
        version: TOKEN_VERSION.to_owned(),
    };
    let digest = authorization_signing_hash(&domain, EVM_CHAIN_ID, token, authorization);
    let signature = signer.sign_hash_sync(&digest).unwrap();
    json!({
        "type": "authorization",
        "from": authorization.from,
        "to": authorization.to,
        "value": authorization.value.to_string(),
        "validAfter": authorization.valid_after.to_string(),
        "validBefore": authorization.valid_before.to_string(),
        "nonce": authorization.nonce,
        "signature": alloy::hex::encode_prefixed(signature.as_bytes()),
    })
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

/// A Permit2 payload for `transfer` with `details` (`(to, amount)` per
/// transfer), signed by `signer`.
pub(crate) fn permit2_payload(
    signer: &PrivateKeySigner,
    transfer: &Permit2Transfer,
    details: &[(Address, U256)],
) -> Value {
    let digest = transfer.signing_hash(EVM_CHAIN_ID, PERMIT2);
    let signature = signer.sign_hash_sync(&digest).unwrap();
    json!({
        "type": "permit2",
        "permit": {
            "permitted": transfer.permitted.iter().map(|(token, amount)| json!({"token": token, "amount": amount.to_string()})).collect::<Vec<_>>(),
            "nonce": transfer.nonce.to_string(),
            "deadline": transfer.deadline.to_string(),
        },
        "transferDetails": details.iter().map(|(to, amount)| json!({"to": to, "requestedAmount": amount.to_string()})).collect::<Vec<_>>(),
        "witness": {"challengeHash": transfer.challenge_hash},
        "signature": alloy::hex::encode_prefixed(signature.as_bytes()),
    })
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

/// `signer`'s signed EIP-1559 `transfer(to, amount)` of `token` with
/// `nonce`, as raw bytes.
pub(crate) fn signed_transfer(
    signer: &PrivateKeySigner,
    chain_id: u64,
    token: Address,
    to: Address,
    amount: u128,
    nonce: u64,
) -> (Vec<u8>, B256) {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(token),
        value: U256::ZERO,
        access_list: alloy::eips::eip2930::AccessList::default(),
        input: transferCall {
            to,
            value: U256::from(amount),
        }
        .abi_encode()
        .into(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    (envelope.encoded_2718(), *envelope.tx_hash())
}

/// A payload that is not an object field map: for tests of shapes.
#[allow(dead_code)]
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("an object"),
    }
}
