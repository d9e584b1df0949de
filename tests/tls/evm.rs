//! The EVM charge over HTTPS: the method and our `EvmProvider` both reach
//! a plain chain's node through an `https://` proxy signed by an authority
//! made at run time, trusted by configuration; without it, nothing is paid.

use std::time::Duration;

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::client::{ClientError, EvmProvider, PaymentExt as _, ReceiptExt as _};
use tower_mpp::evm::{CredentialType, EvmCharge};
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};

use crate::support::evm_chain::{EVM_CHAIN_ID, EvmChain, GAS_KEY};
use crate::support::tls::{TestCa, TlsProxy};

/// What `/paid` costs: 0.01 of the 6-decimal token.
const PRICE: u128 = 10_000;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01").unwrap()
    }
}

/// A plain chain behind an `https://` node, and an app on loopback whose
/// EVM charge settles through that node.
struct EvmHttps {
    chain: EvmChain,
    ca: TestCa,
    node: TlsProxy,
    url: String,
    recipient: alloy::primitives::Address,
}

impl EvmHttps {
    async fn start() -> Self {
        let chain = EvmChain::start().await;
        let ca = TestCa::new();
        let node = TlsProxy::start(&ca, &chain.anvil.url);
        let recipient = PrivateKeySigner::random().address();
        let method = EvmCharge::builder()
            .recipient(recipient.to_string())
            .currency(chain.token.to_string())
            .rpc_url(&node.url)
            .root_certificate(ca.authority.clone())
            .gas_payer_key(GAS_KEY)
            .credential_types([CredentialType::Hash])
            .unbound_on_volatile_store(true)
            .connect()
            .await
            .expect("the https node answers");
        let payments = Payments::builder()
            .realm("127.0.0.1")
            .secret("tls tests: a secret of thirty-two bytes or more")
            .method(method)
            .build()
            .unwrap();
        let app = Router::new()
            .route("/paid", get(|_: Charge<OneCent>| async { "served" }))
            .layer(PaymentLayer::new(payments));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/paid", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            chain,
            ca,
            node,
            url,
            recipient,
        }
    }

    fn provider(&self, payer: PrivateKeySigner) -> EvmProvider {
        EvmProvider::new(payer, &self.node.url)
            .unwrap()
            .chain_id(EVM_CHAIN_ID)
            .rpc_timeout(Duration::from_secs(5))
    }
}

/// The payer broadcasts its transfer through the `https://` node (a
/// `hash` credential: every step of the provider's is an RPC call) and
/// the method finds it through the same node.
#[tokio::test]
async fn an_evm_charge_is_paid_through_an_https_node() {
    let https = EvmHttps::start().await;
    let payer = https.chain.funded_payer(PRICE).await;
    let provider = https
        .provider(payer.clone())
        .root_certificate(https.ca.authority.clone())
        .unwrap();

    let response = reqwest::Client::new()
        .get(&https.url)
        .send_with_payment(&provider)
        .await
        .expect("paid through the https node");

    assert_eq!(response.status(), 200);
    let receipt = response.payment_receipt().expect("a receipt").unwrap();
    assert_eq!(receipt.method, "evm");
    assert_eq!(
        https.chain.balance(https.recipient).await,
        U256::from(PRICE)
    );
    assert_eq!(https.chain.balance(payer.address()).await, U256::ZERO);
    assert!(https.node.handshakes() > 1);
}

/// Without the authority, the provider cannot reach the node: the payment
/// fails before anything is signed or sent, and says why.
#[tokio::test]
async fn an_untrusted_https_node_pays_nothing() {
    let https = EvmHttps::start().await;
    let payer = https.chain.funded_payer(PRICE).await;
    let provider = https.provider(payer.clone());

    let error = reqwest::Client::new()
        .get(&https.url)
        .send_with_payment(&provider)
        .await
        .expect_err("the node's certificate is not trusted");

    let ClientError::PaymentFailed(failure) = &error else {
        panic!("a payment failure, not {error:?}");
    };
    assert!(
        failure.to_string().to_lowercase().contains("certificate"),
        "{failure}"
    );
    assert_eq!(
        https.chain.balance(payer.address()).await,
        U256::from(PRICE)
    );
    assert_eq!(https.chain.balance(https.recipient).await, U256::ZERO);
}

/// A root certificate that is not PEM is refused when configured.
#[test]
fn a_root_certificate_that_is_not_pem_is_refused() {
    let provider = EvmProvider::new(PrivateKeySigner::random(), "https://127.0.0.1:9").unwrap();
    let error = provider.root_certificate("not a certificate").unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");
}
