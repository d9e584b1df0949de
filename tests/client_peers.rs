//! Our client pays servers we did not write: the mppx 0.11 server (npm)
//! and the pympp 0.16 server (from pip), each charging on its own anvil with
//! `--network tempo` (`support/peer_server.rs` starts them). Pull, push,
//! sponsored fees, splits, `supportedModes`, and a proof where the server
//! takes proofs.

#![cfg(all(feature = "client", feature = "tempo"))]

#[path = "support/anvil.rs"]
mod anvil;
#[path = "support/listening.rs"]
mod listening;
#[path = "support/peer_server.rs"]
mod peer_server;
#[path = "support/pympp_venv.rs"]
mod pympp_venv;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use tower_mpp::client::{ClientError, PaymentExt, ReceiptExt, TempoProvider};
use tower_mpp::protocol::ProblemType;
use tower_mpp::tempo::Mode;

use crate::anvil::{Anvil, DEV_KEY_1, PATH_USD};
use crate::peer_server::{PeerConfig, PeerKind, PeerServer};

/// What every priced route of the peer servers costs.
const PRICE: u128 = 10_000;
/// The part of `/split` paid to the split recipient.
const SPLIT: u128 = 2_000;
/// What each payer starts with.
const FUNDS: u128 = 1_000_000;

/// A peer server on its own chain, with `/sponsored` and `/split`.
struct Peer {
    anvil: Anvil,
    server: PeerServer,
    recipient: Address,
    partner: Address,
}

impl Peer {
    async fn start(kind: PeerKind) -> Self {
        let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
        let recipient = PrivateKeySigner::random().address();
        let partner = PrivateKeySigner::random().address();
        let config = PeerConfig::new(recipient)
            .fee_payer(DEV_KEY_1)
            .split(partner);
        let server = PeerServer::start(kind, &anvil, &config);
        Self {
            anvil,
            server,
            recipient,
            partner,
        }
    }

    async fn balance(&self, owner: Address) -> U256 {
        self.anvil.balance(PATH_USD, owner).await
    }

    /// Pays `path` as a fresh payer preferring `mode`; the payer and the
    /// receipt's reference.
    async fn pay(&self, path: &str, mode: Mode) -> (Address, String) {
        let payer = self.anvil.funded_payer(FUNDS).await;
        let address = payer.address();
        let provider = TempoProvider::new(payer, &self.anvil.url)
            .unwrap()
            .client_id("tower-mpp tests")
            .mode(mode);
        let response = reqwest::Client::new()
            .get(self.server.url(path))
            .send_with_payment(&provider)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}\nserver stderr:\n{}", self.server.stderr()));
        assert_eq!(response.status(), 200, "{path}");
        let receipt = response
            .payment_receipt()
            .expect("a Payment-Receipt")
            .expect("a receipt our parser reads");
        assert_eq!(receipt.method, "tempo");
        (address, receipt.reference)
    }
}

/// Pull and push on `/paid`: the recipient gets the price each time.
async fn pull_and_push(kind: PeerKind) {
    let peer = Peer::start(kind).await;
    let (payer, reference) = peer.pay("/paid", Mode::Pull).await;
    assert!(
        reference.starts_with("0x") && reference.len() == 66,
        "{reference}"
    );
    assert_eq!(peer.balance(peer.recipient).await, U256::from(PRICE));
    // Fees are the payer's own.
    assert!(peer.balance(payer).await < U256::from(FUNDS - PRICE));
    peer.pay("/paid", Mode::Push).await;
    assert_eq!(peer.balance(peer.recipient).await, U256::from(2 * PRICE));
}

/// `/sponsored`: the server's fee payer co-signs the `0x78` envelope; the
/// payer loses the price and nothing else. `/split`: both recipients.
async fn sponsored_and_split(kind: PeerKind) {
    let peer = Peer::start(kind).await;
    // Push is preferred but a sponsored charge is always pulled.
    let (payer, _) = peer.pay("/sponsored", Mode::Push).await;
    assert_eq!(peer.balance(payer).await, U256::from(FUNDS - PRICE));
    assert_eq!(peer.balance(peer.recipient).await, U256::from(PRICE));
    peer.pay("/split", Mode::Pull).await;
    assert_eq!(
        peer.balance(peer.recipient).await,
        U256::from(2 * PRICE - SPLIT)
    );
    assert_eq!(peer.balance(peer.partner).await, U256::from(SPLIT));
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_is_paid_by_pull_and_push() {
    pull_and_push(PeerKind::Mppx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_is_paid_with_sponsored_fees_and_splits() {
    sponsored_and_split(PeerKind::Mppx).await;
}

/// mppx restricts modes per route: the client follows `supportedModes`
/// whatever it prefers.
#[tokio::test(flavor = "multi_thread")]
async fn mppx_supported_modes_are_followed() {
    let peer = Peer::start(PeerKind::Mppx).await;
    peer.pay("/push-only", Mode::Pull).await;
    peer.pay("/pull-only", Mode::Push).await;
    assert_eq!(peer.balance(peer.recipient).await, U256::from(2 * PRICE));
}

/// mppx takes proofs for zero amounts: its receipt names the challenge.
#[tokio::test(flavor = "multi_thread")]
async fn mppx_takes_a_proof_for_a_free_route() {
    let peer = Peer::start(PeerKind::Mppx).await;
    let (_, reference) = peer.pay("/free", Mode::Pull).await;
    assert!(!reference.starts_with("0x"), "{reference}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_is_paid_by_pull_and_push() {
    pull_and_push(PeerKind::Pympp).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_is_paid_with_sponsored_fees_and_splits() {
    sponsored_and_split(PeerKind::Pympp).await;
}

/// pympp 0.16 has no proof credentials: our proof is refused with its
/// problem details, a typed error.
#[tokio::test(flavor = "multi_thread")]
async fn pympp_refuses_a_proof_with_a_problem() {
    let peer = Peer::start(PeerKind::Pympp).await;
    let provider = TempoProvider::new(PrivateKeySigner::random(), &peer.anvil.url).unwrap();
    let error = reqwest::Client::new()
        .get(peer.server.url("/free"))
        .send_with_payment(&provider)
        .await
        .unwrap_err();
    let ClientError::Rejected { status, problem } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*status, 402);
    let problem = problem.as_ref().expect("problem details");
    assert!(
        problem.problem_type.ends_with("invalid-payload")
            || problem.core_type() == Some(ProblemType::MalformedCredential),
        "{problem:?}"
    );
}
