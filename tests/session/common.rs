//! A chain with the escrow, a payee, and an axum app offering `charge` and
//! `session` on the same routes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256, hex};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use futures_util::StreamExt as _;
use http::{Method, Request, StatusCode};
use tower_mpp::axum::{Charge, Payment};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{PaymentRejection, Payments, Price, StaticPrice};
use tower_mpp::protocol::Challenge;
use tower_mpp::store::{ChannelStore, MemoryChannelStore};
use tower_mpp::tempo::TempoCharge;
use tower_mpp::tempo::session::{ITempoStreamChannel, TempoSession};

pub(crate) use crate::server_common::Reply;
use crate::server_common::send;
use crate::support::anvil::{Anvil, CHAIN_ID, PATH_USD};
use crate::support::escrow;
use crate::support::session_payer::{self, Channel};

pub(crate) const REALM: &str = "api.example.com";
pub(crate) const SECRET: &str = "session tests: a secret of thirty-two bytes or more";
/// What one unit costs, in base units.
pub(crate) const PRICE: u128 = 1_000;

pub(crate) struct OneUnit;
impl StaticPrice for OneUnit {
    fn price() -> Price {
        Price::base_units(PRICE)
    }
}

/// A chain with the escrow deployed and a funded payee.
pub(crate) struct Chain {
    pub(crate) anvil: Arc<Anvil>,
    pub(crate) escrow: Address,
    pub(crate) payee: PrivateKeySigner,
}

impl Chain {
    pub(crate) async fn start() -> Self {
        let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
        let escrow = escrow::deploy(&anvil).await;
        let payee = PrivateKeySigner::random();
        // The payee pays its settle and close fees.
        anvil.fund(payee.address(), PATH_USD, 10_000_000).await;
        Self {
            anvil: Arc::new(anvil),
            escrow,
            payee,
        }
    }

    /// A funded payer's channel to this payee in `PathUSD`.
    pub(crate) async fn channel(&self) -> Channel {
        let payer = self.anvil.funded_payer(100_000_000).await;
        Channel::new(payer, CHAIN_ID, self.escrow, self.payee.address(), PATH_USD)
    }

    /// The escrow's `getChannel`.
    pub(crate) async fn read(&self, id: B256) -> ITempoStreamChannel::getChannelReturn {
        let raw: alloy::primitives::Bytes = self
            .anvil
            .rpc(
                "eth_call",
                serde_json::json!([{"to": self.escrow, "data": alloy::primitives::Bytes::from(
                    ITempoStreamChannel::getChannelCall { channelId: id }.abi_encode()
                )}, "latest"]),
            )
            .await;
        ITempoStreamChannel::getChannelCall::abi_decode_returns(&raw).unwrap()
    }

    pub(crate) async fn balance(&self, owner: Address) -> U256 {
        self.anvil.balance(PATH_USD, owner).await
    }

    /// What the escrow transferred to `to` in `PathUSD` since block `from`
    /// (a fee the receiver paid does not blur it, as it does a balance).
    /// Used by the client and peer tests, not by `session`'s own.
    #[allow(dead_code)]
    pub(crate) async fn paid_by_escrow(&self, to: Address, from: &str) -> u128 {
        const TRANSFER: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
        let topic = |address: Address| format!("0x{:0>64}", hex::encode(address));
        let logs: Vec<serde_json::Value> = self
            .anvil
            .rpc(
                "eth_getLogs",
                serde_json::json!([{
                    "address": PATH_USD,
                    "fromBlock": from,
                    "toBlock": "latest",
                    "topics": [TRANSFER, topic(self.escrow), topic(to)],
                }]),
            )
            .await;
        logs.iter()
            .map(|log| {
                u128::from_str_radix(log["data"].as_str().unwrap().trim_start_matches("0x"), 16)
                    .unwrap()
            })
            .sum()
    }

    /// The session method on this chain through `rpc_url`, with `store`.
    pub(crate) fn session<S: ChannelStore>(&self, rpc_url: &str, store: S) -> TempoSession {
        self.session_builder(rpc_url, store)
            .build()
            .expect("a valid session configuration")
    }

    /// The configuration of [`session`](Self::session), to change.
    pub(crate) fn session_builder<S: ChannelStore>(
        &self,
        rpc_url: &str,
        store: S,
    ) -> tower_mpp::tempo::session::TempoSessionBuilder {
        TempoSession::builder()
            .payee_key(alloy::primitives::hex::encode_prefixed(
                self.payee.to_bytes(),
            ))
            .rpc_url(rpc_url)
            .chain_id(CHAIN_ID)
            .escrow(self.escrow.to_string())
            .suggested_deposit(1_000_000)
            .unit_type("request")
            .rpc_timeout(Duration::from_secs(3))
            .receipt_timeout(Duration::from_secs(10))
            .channel_store(store)
            // The tests' memory stores serve one instance, restarted only
            // where a test says so.
            .volatile_channel_store(true)
    }

    /// An app on this chain with a memory channel store.
    pub(crate) fn app(&self) -> App {
        App::new(
            self,
            self.session(&self.anvil.url, MemoryChannelStore::new()),
        )
    }
}

/// `/paid` (one unit, `Charge<OneUnit>`) and `/tokens?n=N` (N units).
pub(crate) struct App {
    pub(crate) router: Router,
    pub(crate) payments: Payments,
    pub(crate) session: TempoSession,
    pub(crate) handled: Arc<AtomicUsize>,
    /// Metered streams whose items were dropped (finished or abandoned).
    pub(crate) streams_dropped: Arc<AtomicUsize>,
    /// Words the metered streams pulled from the handler's stream.
    pub(crate) items_pulled: Arc<AtomicUsize>,
}

#[derive(serde::Deserialize)]
struct Tokens {
    n: u64,
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    /// How many words.
    n: usize,
    /// How long a paused stream waits for a voucher, in seconds.
    wait: u64,
    /// Items asked ahead in each need for a voucher (`Metered::ask_ahead`).
    ahead: Option<u64>,
    /// The low-water mark, in items (`Metered::low_water`).
    low: Option<u64>,
    /// The keep-alive interval while paused, in milliseconds.
    keep_alive_ms: Option<u64>,
    /// A pause before each word, in milliseconds (a slow producer).
    delay_ms: Option<u64>,
}

/// Counts its drop: the handler's stream of words was dropped.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `word-0`, `word-1`, ... `n` words, one unit each, debited as sent.
async fn stream_words(
    payment: Payment,
    Query(q): Query<StreamQuery>,
    dropped: Arc<AtomicUsize>,
    pulled: Arc<AtomicUsize>,
) -> Result<tower_mpp::stream::MeteredSse, PaymentRejection> {
    let metered = payment.meter(Price::base_units(PRICE)).await?;
    let guard = DropCount(dropped);
    let delay = Duration::from_millis(q.delay_ms.unwrap_or(0));
    let words = futures_util::stream::iter(0..q.n).then(move |i| {
        pulled.fetch_add(1, Ordering::SeqCst);
        let word = format!("word-{i}");
        let _keep = &guard;
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            word
        }
    });
    let mut metered = metered.wait(Duration::from_secs(q.wait));
    if let Some(items) = q.ahead {
        metered = metered
            .ask_ahead(items.into())
            .ask_ahead_time(Duration::ZERO);
    }
    if let Some(items) = q.low {
        metered = metered
            .low_water(items.into())
            .low_water_time(Duration::ZERO);
    }
    if let Some(ms) = q.keep_alive_ms {
        metered = metered.keep_alive(Duration::from_millis(ms));
    }
    Ok(metered.sse(words))
}

impl App {
    pub(crate) fn new(chain: &Chain, session: TempoSession) -> Self {
        let charge = TempoCharge::builder()
            .recipient(chain.payee.address().to_string())
            .rpc_url(&chain.anvil.url)
            .chain_id(CHAIN_ID)
            .build()
            .unwrap();
        let payments = Payments::builder()
            .realm(REALM)
            .secret(SECRET)
            .method(charge)
            .method(session.clone())
            .build()
            .unwrap();
        let registry = payments.clone();
        let handled = Arc::new(AtomicUsize::new(0));
        let (paid, tokens) = (handled.clone(), handled.clone());
        let streams_dropped = Arc::new(AtomicUsize::new(0));
        let dropped = streams_dropped.clone();
        let items_pulled = Arc::new(AtomicUsize::new(0));
        let pulled = items_pulled.clone();
        let router = Router::new()
            .route(
                "/paid",
                get(move |_: Charge<OneUnit>| async move {
                    paid.fetch_add(1, Ordering::SeqCst);
                    "served"
                }),
            )
            .route(
                "/tokens",
                get(
                    move |payment: Payment, Query(q): Query<Tokens>| async move {
                        payment
                            .charge(Price::base_units(PRICE).units(u128::from(q.n)))
                            .await?;
                        tokens.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, PaymentRejection>(format!("{} tokens", q.n))
                    },
                ),
            )
            .route(
                "/stream",
                get(move |payment: Payment, query: Query<StreamQuery>| {
                    stream_words(payment, query, dropped.clone(), pulled.clone())
                }),
            )
            .layer(PaymentLayer::new(payments));
        Self {
            router,
            payments: registry,
            session,
            handled,
            streams_dropped,
            items_pulled,
        }
    }

    /// Serves the app on a loopback port; its base URL.
    pub(crate) async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    pub(crate) fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    /// The session challenge of an unpaid `GET path` (a charge is offered
    /// beside it on one-unit routes).
    pub(crate) async fn challenge(&self, path: &str) -> Challenge {
        let reply = self.send(Method::GET, path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::PAYMENT_REQUIRED,
            "{}",
            reply.text()
        );
        session_challenge(&reply)
    }

    /// `method path` with an `Authorization` header when given, no body.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        send(&self.router, request.body(Body::empty()).unwrap()).await
    }

    /// `GET path` paid with `payload` answering `challenge`.
    pub(crate) async fn pay(
        &self,
        path: &str,
        challenge: &Challenge,
        payload: serde_json::Map<String, serde_json::Value>,
    ) -> Reply {
        let auth = session_payer::credential(challenge, payload);
        self.send(Method::GET, path, Some(&auth)).await
    }

    /// A body-less `POST path` (a management request) with `payload`.
    pub(crate) async fn manage(
        &self,
        path: &str,
        challenge: &Challenge,
        payload: serde_json::Map<String, serde_json::Value>,
    ) -> Reply {
        let auth = session_payer::credential(challenge, payload);
        self.send(Method::POST, path, Some(&auth)).await
    }
}

/// The session challenge among a 402's challenges.
pub(crate) fn session_challenge(reply: &Reply) -> Challenge {
    reply
        .challenges()
        .into_iter()
        .find(|c| c.intent == "session")
        .expect("a session challenge")
}

/// A receipt's field as text.
pub(crate) fn field(reply: &Reply, name: &str) -> String {
    let receipt = reply.receipt().expect("a receipt");
    match &receipt.extra[name] {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Broadcasts a signed transaction (hex) and waits until it is mined.
pub(crate) async fn send_raw(chain: &Chain, raw: &str) {
    let hash: B256 = chain
        .anvil
        .rpc("eth_sendRawTransaction", serde_json::json!([raw]))
        .await;
    for _ in 0..40 {
        let receipt: Option<serde_json::Value> = chain
            .anvil
            .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
            .await;
        if let Some(receipt) = receipt {
            assert_eq!(receipt["status"], "0x1", "{receipt}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{hash} was not mined in 10 s");
}
