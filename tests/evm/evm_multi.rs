//! A real multi-method 402: one route offering a Tempo charge (on anvil
//! `--network tempo`), an EVM charge (on a plain anvil) and a Tempo
//! session, paid by clients configured for one method or both, over HTTP.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use tower_mpp::axum::Charge;
use tower_mpp::client::{
    EvmProvider, MultiProvider, PaymentExt as _, PaymentProvider, ReceiptExt as _, TempoProvider,
};
use tower_mpp::evm::EvmCharge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::protocol::{Challenge, parse_challenges};
use tower_mpp::store::MemoryChannelStore;
use tower_mpp::tempo::TempoCharge;
use tower_mpp::tempo::session::TempoSession;

use crate::support::anvil::{Anvil, CHAIN_ID, PATH_USD};
use crate::support::escrow;
use crate::support::evm_chain::{EvmChain, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};

/// What `/paid` costs: 0.01 of a 6-decimal token, on either chain.
const PRICE: u128 = 10_000;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01").unwrap()
    }
}

/// Both chains and the server offering the three ways to pay `/paid`.
struct Both {
    tempo: Anvil,
    evm: EvmChain,
    /// The Tempo charge's recipient.
    tempo_recipient: Address,
    /// The EVM charge's recipient.
    evm_recipient: Address,
    url: String,
}

impl Both {
    async fn start() -> Self {
        let tempo = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
        let evm = EvmChain::start().await;
        let escrow = escrow::deploy(&tempo).await;
        let tempo_recipient = PrivateKeySigner::random().address();
        let evm_recipient = PrivateKeySigner::random().address();
        let tempo_charge = TempoCharge::builder()
            .recipient(tempo_recipient.to_string())
            .rpc_url(&tempo.url)
            .chain_id(CHAIN_ID)
            .rpc_timeout(Duration::from_secs(5))
            .receipt_timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let evm_charge = EvmCharge::builder()
            .recipient(evm_recipient.to_string())
            .currency(evm.token.to_string())
            .rpc_url(&evm.anvil.url)
            .gas_payer_key(GAS_KEY)
            .authorization_domain(TOKEN_NAME, TOKEN_VERSION)
            .unbound_on_volatile_store(true)
            .connect()
            .await
            .unwrap();
        let payee = PrivateKeySigner::random();
        let session = TempoSession::builder()
            .payee_key(alloy::primitives::hex::encode_prefixed(payee.to_bytes()))
            .rpc_url(&tempo.url)
            .chain_id(CHAIN_ID)
            .escrow(escrow.to_string())
            .unit_type("request")
            .channel_store(MemoryChannelStore::new())
            .volatile_channel_store(true)
            .build()
            .unwrap();
        let payments = Payments::builder()
            .realm("127.0.0.1")
            .secret("evm multi tests: a secret of thirty-two bytes or more")
            .method(tempo_charge)
            .method(evm_charge)
            .method(session)
            .build()
            .unwrap();
        let app = Router::new()
            .route("/paid", get(|_: Charge<OneCent>| async { "served" }))
            .layer(PaymentLayer::new(payments));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/paid", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            tempo,
            evm,
            tempo_recipient,
            evm_recipient,
            url,
        }
    }

    /// The challenges of an unpaid `GET /paid`, sent with `accept`.
    async fn offers(&self, accept: Option<&str>) -> Vec<(String, String)> {
        let mut request = reqwest::Client::new().get(&self.url);
        if let Some(accept) = accept {
            request = request.header("accept-payment", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 402);
        let values: Vec<&str> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let challenges: Vec<Challenge> = parse_challenges(values).unwrap();
        challenges
            .into_iter()
            .map(|c| (c.method, c.intent))
            .collect()
    }

    /// `GET /paid` paid by `provider`: the receipt's method.
    async fn pay(&self, provider: &impl PaymentProvider) -> String {
        let response = reqwest::Client::new()
            .get(&self.url)
            .send_with_payment(provider)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let method = response.payment_receipt().unwrap().unwrap().method;
        assert_eq!(response.text().await.unwrap(), "served");
        method
    }

    async fn evm_provider(&self) -> EvmProvider {
        let payer = self.evm.funded_payer(10 * PRICE).await;
        EvmProvider::new(payer, &self.evm.anvil.url)
            .unwrap()
            .authorization_domain(self.evm.token, TOKEN_NAME, TOKEN_VERSION)
    }

    async fn tempo_provider(&self) -> TempoProvider {
        let payer = self.tempo.funded_payer(1_000_000).await;
        TempoProvider::new(payer, &self.tempo.url).unwrap()
    }

    /// What each recipient has received: `(tempo, evm)`.
    async fn received(&self) -> (U256, U256) {
        (
            self.tempo.balance(PATH_USD, self.tempo_recipient).await,
            self.evm.balance(self.evm_recipient).await,
        )
    }
}

fn pair(method: &str, intent: &str) -> (String, String) {
    (method.to_owned(), intent.to_owned())
}

#[tokio::test]
async fn evm_multi_402_offers_three_ways_ordered_by_accept_payment() {
    let both = Both::start().await;
    let server_order = [
        pair("tempo", "charge"),
        pair("evm", "charge"),
        pair("tempo", "session"),
    ];
    assert_eq!(both.offers(None).await, server_order);
    // Equal weights keep the server's order; lower ones come later.
    assert_eq!(both.offers(Some("evm/*, tempo/*")).await, server_order);
    assert_eq!(
        both.offers(Some("tempo/*;q=0.5, evm/charge")).await,
        [
            pair("evm", "charge"),
            pair("tempo", "charge"),
            pair("tempo", "session"),
        ]
    );
    assert_eq!(
        both.offers(Some("evm/charge")).await,
        [pair("evm", "charge")]
    );

    // A client for one method pays with it, whatever comes first.
    let evm_only = both.evm_provider().await;
    assert_eq!(both.pay(&evm_only).await, "evm");
    assert_eq!(both.received().await, (U256::ZERO, U256::from(PRICE)));
    let tempo_only = both.tempo_provider().await;
    assert_eq!(both.pay(&tempo_only).await, "tempo");
    assert_eq!(
        both.received().await,
        (U256::from(PRICE), U256::from(PRICE))
    );

    // Both, at equal weight: the server's order (Tempo first).
    let both_equal = MultiProvider::new()
        .with(both.evm_provider().await)
        .with(both.tempo_provider().await);
    assert_eq!(both.pay(&both_equal).await, "tempo");
    // Both, preferring their order: the client's Accept-Payment decides.
    let evm_first = MultiProvider::new()
        .with(both.evm_provider().await)
        .with(both.tempo_provider().await)
        .preferring_order();
    assert_eq!(both.pay(&evm_first).await, "evm");
    let tempo_first = MultiProvider::new()
        .with(both.tempo_provider().await)
        .with(both.evm_provider().await)
        .preferring_order();
    assert_eq!(both.pay(&tempo_first).await, "tempo");
    assert_eq!(
        both.received().await,
        (U256::from(3 * PRICE), U256::from(2 * PRICE))
    );
}
