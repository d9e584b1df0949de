//! Our server on a fresh anvil, over real HTTP on loopback, recording what
//! each request carried; and a payer for it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Redirect;
use axum::routing::{get, post};
use tower_mpp::axum::{Charge, Payment};
use tower_mpp::client::{ClientError, PaymentExt as _, PaymentProvider, TempoProvider};
use tower_mpp::layer::{BodyDigestLayer, PaymentLayer};
use tower_mpp::method::{PaymentRejection, Payments, Price, StaticPrice};
use tower_mpp::tempo::{TempoCharge, TempoChargeBuilder};

use crate::support::anvil::{Anvil, CHAIN_ID, PATH_USD};

pub(crate) const REALM: &str = "127.0.0.1";
const SECRET: &str = "client tests: a secret of thirty-two bytes or more";
/// What `/paid` costs: 0.01 `PathUSD`.
pub(crate) const PRICE: u128 = 10_000;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::base_units(PRICE).description("a paid thing")
    }
}

struct Free;
impl StaticPrice for Free {
    fn price() -> Price {
        Price::base_units(0)
    }
}

/// What one request carried.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) accept_payment: Option<String>,
    pub(crate) paid: bool,
}

/// Our server on its own chain. Routes: `/paid` (0.01 `PathUSD`), `/zero`
/// (free: proof), `/unsponsored` (0.01, fees never sponsored), `POST
/// /echo` (0.01, bound to the body's digest; answers the body), `/hop`
/// (a same-origin redirect to `/paid`).
pub(crate) struct Server {
    pub(crate) anvil: Anvil,
    pub(crate) url: String,
    pub(crate) recipient: Address,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub(crate) async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    /// With the method configured further by `configure`.
    pub(crate) async fn start_with(
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
    ) -> Self {
        Self::start_in_realm(REALM, configure).await
    }

    /// With another realm than the host's, and the method configured
    /// further by `configure`.
    pub(crate) async fn start_in_realm(
        realm: &str,
        configure: impl FnOnce(TempoChargeBuilder) -> TempoChargeBuilder,
    ) -> Self {
        let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
        let recipient = PrivateKeySigner::random().address();
        let builder = TempoCharge::builder()
            .recipient(recipient.to_string())
            .rpc_url(&anvil.url)
            .chain_id(CHAIN_ID)
            .rpc_timeout(Duration::from_secs(5))
            .receipt_timeout(Duration::from_secs(10));
        let payments = Payments::builder()
            .realm(realm)
            .secret(SECRET)
            .method(
                configure(builder)
                    .build()
                    .expect("a valid Tempo configuration"),
            )
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = {
            let seen = seen.clone();
            move |request: Request, next: Next| {
                let seen = seen.clone();
                async move {
                    let headers = request.headers();
                    let accept_payment = headers
                        .get("accept-payment")
                        .map(|v| v.to_str().unwrap().to_owned());
                    let paid = headers.contains_key("authorization");
                    let path = request.uri().path().to_owned();
                    seen.lock().unwrap().push(Seen {
                        path,
                        accept_payment,
                        paid,
                    });
                    next.run(request).await
                }
            }
        };
        let app = Router::new()
            .route("/paid", get(|_: Charge<OneCent>| async { "served" }))
            .route("/zero", get(|_: Charge<Free>| async { "served free" }))
            .route(
                "/unsponsored",
                get(|payment: Payment| async move {
                    payment
                        .charge(Price::base_units(PRICE).sponsor_fees(false))
                        .await?;
                    Ok::<_, PaymentRejection>("served")
                }),
            )
            .route(
                "/echo",
                post(|_: Charge<OneCent>, body: Bytes| async { body }),
            )
            .route("/hop", get(|| async { Redirect::temporary("/paid") }))
            .layer(PaymentLayer::new(payments))
            .layer(BodyDigestLayer::new(64 * 1024))
            .layer(middleware::from_fn(record));
        let url = serve(app).await;
        Self {
            anvil,
            url,
            recipient,
            seen,
        }
    }

    /// `path` on this server.
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `GET path` through `send_with_payment(provider)`.
    pub(crate) async fn get(
        &self,
        path: &str,
        provider: &impl PaymentProvider,
    ) -> Result<reqwest::Response, ClientError> {
        http().get(self.at(path)).send_with_payment(provider).await
    }

    /// The requests seen so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// A new account holding `amount` of `PathUSD` (and of `AlphaUSD`).
    pub(crate) async fn payer(&self, amount: u128) -> PrivateKeySigner {
        self.anvil.funded_payer(amount).await
    }

    /// A provider paying as `signer` through this chain's node.
    pub(crate) fn provider(&self, signer: PrivateKeySigner) -> TempoProvider {
        TempoProvider::new(signer, &self.anvil.url).unwrap()
    }

    pub(crate) async fn balance(&self, owner: Address) -> U256 {
        self.anvil.balance(PATH_USD, owner).await
    }

    /// The memo of the `TransferWithMemo` log paying `to` in transaction
    /// `hash`.
    pub(crate) async fn memo_paid_to(&self, hash: &str, to: Address) -> B256 {
        let receipt: serde_json::Value = self
            .anvil
            .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
            .await;
        let to_topic = B256::left_padding_from(to.as_slice()).to_string();
        receipt["logs"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|log| {
                let topics = log["topics"].as_array()?;
                (topics.len() == 4 && topics[2] == to_topic.as_str())
                    .then(|| topics[3].as_str().unwrap().parse().unwrap())
            })
            .expect("a TransferWithMemo log to the recipient")
    }
}

/// Serves `app` on a free loopback port; its base URL.
pub(crate) async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A `reqwest` client for the tests.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The `Payment-Receipt` of `response`, decoded.
pub(crate) fn receipt(response: &reqwest::Response) -> tower_mpp::protocol::Receipt {
    use tower_mpp::client::ReceiptExt as _;
    response
        .payment_receipt()
        .expect("a Payment-Receipt header")
        .expect("a readable receipt")
}
