//! Charges and sessions over HTTPS end to end, and what is refused.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::client::{PaymentExt as _, TempoProvider, TempoSessionProvider};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::Payments;
use tower_mpp::store::MemoryChannelStore;
use tower_mpp::tempo::session::SessionConfigError;
use tower_mpp::tempo::{TempoCharge, TempoConfigError};

use crate::common::{Chain, OneUnit, PRICE, SECRET};
use crate::support::anvil::CHAIN_ID;
use crate::support::tls::{TestCa, TlsProxy};

/// The realm names the server's host, as the paying client checks.
const REALM: &str = "127.0.0.1";

/// A chain behind an `https://` node, and our app, offering a charge and
/// a session that both reach the node over TLS, served over `https://`.
struct Https {
    chain: Chain,
    ca: TestCa,
    node: TlsProxy,
    app: TlsProxy,
    client: reqwest::Client,
}

impl Https {
    async fn start() -> Self {
        let chain = Chain::start().await;
        let ca = TestCa::new();
        let node = TlsProxy::start(&ca, &chain.anvil.url);
        let charge = TempoCharge::builder()
            .recipient(chain.payee.address().to_string())
            .rpc_url(&node.url)
            .root_certificate(ca.authority.clone())
            .chain_id(CHAIN_ID)
            .connect()
            .await
            .expect("the https node answers");
        let session = chain
            .session_builder(&node.url, MemoryChannelStore::new())
            .root_certificate(ca.authority.clone())
            .connect()
            .await
            .expect("the https node answers");
        let payments = Payments::builder()
            .realm(REALM)
            .secret(SECRET)
            .method(charge)
            .method(session)
            .build()
            .unwrap();
        let router = Router::new()
            .route("/paid", get(|_: Charge<OneUnit>| async { "served" }))
            .layer(PaymentLayer::new(payments));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let app = TlsProxy::start(&ca, &plain);
        let client = trusting(&ca);
        Self {
            chain,
            ca,
            node,
            app,
            client,
        }
    }

    fn paid_url(&self) -> String {
        format!("{}/paid", self.app.url)
    }
}

/// A client trusting the test authority besides the platform's roots.
fn trusting(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.authority.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// Our client pays a charge to an `https://` server, whose method
/// broadcasts through an `https://` node: the payee gets exactly the
/// price. The payer's provider reaches the node over TLS too.
async fn pays_a_charge_over_https() {
    let https = Https::start().await;
    let payer = https.chain.anvil.funded_payer(1_000_000).await;
    let provider = TempoProvider::new(payer, &https.node.url)
        .unwrap()
        .root_certificate(https.ca.authority.clone())
        .unwrap();
    let before = https.chain.balance(https.chain.payee.address()).await;

    let response = https
        .client
        .get(https.paid_url())
        .send_with_payment(&provider)
        .await
        .expect("paid over https");

    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("payment-receipt"));
    assert_eq!(response.text().await.unwrap(), "served");
    let after = https.chain.balance(https.chain.payee.address()).await;
    assert_eq!(after - before, alloy::primitives::U256::from(PRICE));
    assert!(https.node.handshakes() > 0 && https.app.handshakes() > 0);
}

#[tokio::test]
async fn a_charge_settles_over_https_on_a_current_thread_runtime() {
    pays_a_charge_over_https().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_charge_settles_over_https_on_a_multi_thread_runtime() {
    pays_a_charge_over_https().await;
}

/// A session over HTTPS: the open broadcast and the close settled through
/// the `https://` node, vouchers and the close sent to the `https://`
/// server; on a current-thread runtime.
#[tokio::test]
async fn a_session_opens_and_closes_over_https() {
    let https = Https::start().await;
    let payer = https.chain.anvil.funded_payer(100_000_000).await;
    let provider = TempoSessionProvider::new(payer)
        .deposit(10 * PRICE)
        .http_client(https.client.clone());
    for _ in 0..3 {
        let response = https
            .client
            .get(https.paid_url())
            .send_with_payment(&provider)
            .await
            .expect("paid over https");
        assert_eq!(response.status(), 200);
    }
    let receipt = provider.close(https.paid_url()).await.expect("closed");
    assert!(receipt.extra["txHash"].is_string(), "{receipt:?}");
    let closed = provider.close_all().await;
    assert!(closed.is_empty(), "nothing left open");
}

/// A node whose certificate the roots do not know: `connect` says which
/// host and why, at start-up, for both methods; a node on another chain
/// is named too.
#[tokio::test]
async fn connect_names_the_node_and_the_tls_failure() {
    let chain = Chain::start().await;
    let ca = TestCa::new();
    let node = TlsProxy::start(&ca, &chain.anvil.url);
    let host = node.url.trim_start_matches("https://").to_owned();
    let charge = || {
        TempoCharge::builder()
            .recipient(chain.payee.address().to_string())
            .rpc_url(&node.url)
            .rpc_timeout(Duration::from_secs(5))
    };

    let error = charge().chain_id(CHAIN_ID).connect().await.unwrap_err();
    let TempoConfigError::ChainIdUnavailable(why) = &error else {
        panic!("{error:?}");
    };
    assert!(why.starts_with(&host), "{why}");
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    assert!(error.to_string().contains(&host), "{error}");

    let error = chain
        .session_builder(&node.url, MemoryChannelStore::new())
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SessionConfigError::Tempo(TempoConfigError::ChainIdUnavailable(why))
            if why.starts_with(&host) && why.to_lowercase().contains("certificate")),
        "{error:?}"
    );

    let error = charge()
        .root_certificate(ca.authority.clone())
        .chain_id(1)
        .connect()
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TempoConfigError::ChainIdMismatch {
            host,
            configured: 1,
            node: CHAIN_ID
        }
    );
    assert!(matches!(
        charge()
            .chain_id(CHAIN_ID)
            .root_certificate("not a certificate")
            .build(),
        Err(TempoConfigError::InvalidRootCertificate(_))
    ));
}

/// The paying client refuses a server whose certificate its roots do not
/// know: an error, and nothing is paid.
#[tokio::test]
async fn an_untrusted_server_certificate_is_refused() {
    let https = Https::start().await;
    let payer = https.chain.anvil.funded_payer(1_000_000).await;
    let provider = TempoProvider::new(payer, &https.chain.anvil.url).unwrap();
    let stranger = reqwest::Client::builder()
        .tls_backend_rustls()
        .build()
        .unwrap();

    let error = stranger
        .get(https.paid_url())
        .send_with_payment(&provider)
        .await
        .unwrap_err();

    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert_eq!(https.app.handshakes(), 0);
}
