//! An axum app charging in `PathUSD` on a fresh anvil, and helpers to ask
//! for challenges and present credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use tower::ServiceExt as _;
use tower_mpp::axum::{Charge, Payment};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Challenge, Receipt};
use tower_mpp::store::{MemoryStore, Store};
use tower_mpp::tempo::{TempoCharge, TempoChargeBuilder};

pub(crate) use crate::server_common::Reply;
use crate::server_common::send;
use crate::support::anvil::{ALPHA_USD, Anvil, CHAIN_ID};

pub(crate) const REALM: &str = "api.example.com";
pub(crate) const SECRET: &str = "tempo tests: a secret of thirty-two bytes or more";
/// What `/paid` costs: 0.01 `PathUSD`.
pub(crate) const PRICE: u128 = 10_000;
/// The memo `/memo` requires.
pub(crate) const MEMO: B256 = B256::repeat_byte(0x42);

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01").unwrap().description("a paid thing")
    }
}

struct Free;
impl StaticPrice for Free {
    fn price() -> Price {
        Price::base_units(0)
    }
}

/// A chain, a recipient, and an app with these routes:
/// `/paid` (0.01 `PathUSD`), `/zero` (free: proof), `/memo` (0.01 with
/// [`MEMO`]), `/alpha` (0.01 `AlphaUSD`), `/short` (expires in 1 s),
/// `/unsponsored` (0.01, fees not sponsored even with a fee payer).
pub(crate) struct Env {
    pub(crate) anvil: Arc<Anvil>,
    rpc_url: String,
    pub(crate) app: Router,
    pub(crate) recipient: Address,
    pub(crate) handled: Arc<AtomicUsize>,
}

impl Env {
    pub(crate) async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    /// With the method configured further by `configure`.
    pub(crate) async fn start_with(
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
    ) -> Self {
        // Starting anvil blocks on its output: off the runtime's threads.
        let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
        let url = anvil.url.clone();
        Self::start_on(anvil, &url, configure)
    }

    /// With the method talking to the node at `rpc_url` (a proxy, say).
    pub(crate) fn start_on(
        anvil: Anvil,
        rpc_url: &str,
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
    ) -> Self {
        let recipient = PrivateKeySigner::random().address();
        Self::build(Arc::new(anvil), rpc_url, recipient, configure)
    }

    /// The same server restarted: same chain, recipient and secret, a
    /// fresh in-memory store (whatever it had claimed is forgotten).
    pub(crate) fn restarted(
        &self,
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
    ) -> Self {
        Self::build(self.anvil.clone(), &self.rpc_url, self.recipient, configure)
    }

    /// Another instance of this server (same chain, node URL, recipient
    /// and secret) keeping its claims in `store`; this one keeps its own.
    pub(crate) fn instance_on<S: Store>(&self, store: S) -> Self {
        Self::build_on(
            self.anvil.clone(),
            &self.rpc_url,
            self.recipient,
            |b| b,
            Some(store),
        )
    }

    fn build(
        anvil: Arc<Anvil>,
        rpc_url: &str,
        recipient: Address,
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
    ) -> Self {
        Self::build_on::<MemoryStore>(anvil, rpc_url, recipient, configure, None)
    }

    fn build_on<S: Store>(
        anvil: Arc<Anvil>,
        rpc_url: &str,
        recipient: Address,
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
        store: Option<S>,
    ) -> Self {
        let builder = TempoCharge::builder()
            .recipient(recipient.to_string())
            .rpc_url(rpc_url)
            .chain_id(CHAIN_ID)
            .rpc_timeout(Duration::from_secs(3))
            .receipt_timeout(Duration::from_secs(5))
            // `/memo` runs on the memory store; the refusal without this is
            // tested on its own.
            .memo_on_volatile_store(true);
        let method = configure(builder)
            .build()
            .expect("a valid Tempo configuration");
        let mut payments = Payments::builder();
        if let Some(store) = store {
            payments = payments.store(store);
        }
        let payments = payments
            .realm(REALM)
            .secret(SECRET)
            .method(method)
            // The refusal tests try many bad credentials on one challenge
            // before paying it; the attempt limit has its own test.
            .max_failed_attempts(100)
            .build()
            .unwrap();
        let handled = Arc::new(AtomicUsize::new(0));
        let count = |handled: &Arc<AtomicUsize>| {
            let handled = handled.clone();
            move || {
                handled.fetch_add(1, Ordering::SeqCst);
                "served"
            }
        };
        let (paid, zero, memo, alpha, short, unsponsored) = (
            count(&handled),
            count(&handled),
            count(&handled),
            count(&handled),
            count(&handled),
            count(&handled),
        );
        let app = Router::new()
            .route(
                "/paid",
                get(move |_: Charge<OneCent>| async move { paid() }),
            )
            .route("/zero", get(move |_: Charge<Free>| async move { zero() }))
            .route(
                "/memo",
                get(move |payment: Payment| async move {
                    payment
                        .charge(
                            Price::base_units(PRICE)
                                .memo(MEMO.to_string())
                                .external_id("order-7"),
                        )
                        .await?;
                    Ok::<_, tower_mpp::method::PaymentRejection>(memo())
                }),
            )
            .route(
                "/alpha",
                get(move |payment: Payment| async move {
                    payment
                        .charge(Price::base_units(PRICE).currency(ALPHA_USD.to_string()))
                        .await?;
                    Ok::<_, tower_mpp::method::PaymentRejection>(alpha())
                }),
            )
            .route(
                "/short",
                get(move |payment: Payment| async move {
                    payment
                        .charge(Price::base_units(PRICE).expires_in(Duration::from_secs(1)))
                        .await?;
                    Ok::<_, tower_mpp::method::PaymentRejection>(short())
                }),
            )
            .route(
                "/unsponsored",
                get(move |payment: Payment| async move {
                    payment
                        .charge(Price::base_units(PRICE).sponsor_fees(false))
                        .await?;
                    Ok::<_, tower_mpp::method::PaymentRejection>(unsponsored())
                }),
            )
            .layer(PaymentLayer::new(payments));
        Self {
            anvil,
            rpc_url: rpc_url.to_owned(),
            app,
            recipient,
            handled,
        }
    }

    /// The Tempo challenge of an unpaid `GET path`.
    pub(crate) async fn challenge(&self, path: &str) -> Challenge {
        let reply = self.get(path, None).await;
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

    /// `GET path`, with an `Authorization` header when given.
    pub(crate) async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        send(&self.app, request.body(Body::empty()).unwrap()).await
    }

    /// `GET path` with the same `Authorization` `n` times at once; the
    /// statuses.
    pub(crate) async fn get_concurrently(
        &self,
        path: &str,
        authorization: &str,
        n: usize,
    ) -> Vec<u16> {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let request = Request::get(path)
                .header("authorization", authorization)
                .body(Body::empty())
                .unwrap();
            tasks.spawn(self.app.clone().oneshot(request));
        }
        tasks
            .join_all()
            .await
            .into_iter()
            .map(|response| response.unwrap().status().as_u16())
            .collect()
    }

    /// How many times a handler ran.
    pub(crate) fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    /// `owner`'s `PathUSD` balance.
    pub(crate) async fn path_usd(&self, owner: Address) -> U256 {
        self.anvil
            .balance(crate::support::anvil::PATH_USD, owner)
            .await
    }
}

impl Reply {
    /// A 200 from the handler with a receipt; returns the receipt.
    pub(crate) fn assert_paid(&self) -> Receipt {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        assert_eq!(self.text(), "served");
        self.receipt()
            .unwrap_or_else(|| panic!("no receipt on a 200: {}", self.text()))
    }
}
