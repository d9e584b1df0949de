//! The servers we did not write (mppx 0.11 and pympp 0.16, started by
//! `support/peer_server.rs`) charge on a real Tempo chain (anvil with
//! `--network tempo`) and take the payments a client makes. Each test pays
//! them with hand-built credentials (`support/tempo_payer.rs`) and checks the
//! answer (200 and a `Payment-Receipt` our `Receipt::parse` accepts) and the
//! money on the chain.
//!
//! This pins the test bed: when a client test against these servers fails,
//! the client is at fault, not the servers' setup. It also pins what each
//! server refuses (a zero-amount proof on pympp, a transfer without the
//! challenge's memo, a push where only pull is offered, ...). The details are
//! in `/work/notes/peer-servers.md`.

#![cfg(feature = "tempo")]

#[path = "support/anvil.rs"]
mod anvil;
#[path = "support/listening.rs"]
mod listening;
#[path = "support/peer_server.rs"]
mod peer_server;
#[path = "support/pympp_venv.rs"]
mod pympp_venv;
#[path = "support/tempo_payer.rs"]
mod tempo_payer;

use std::num::NonZeroU64;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use tempo_alloy::primitives::AASigned;
use tower_mpp::protocol::{Challenge, Receipt};

use crate::anvil::{Anvil, CHAIN_ID, DEV_KEY_1, PATH_USD};
use crate::peer_server::{PeerConfig, PeerKind, PeerServer};
use crate::tempo_payer::{
    credential, honest, honest_calls, proof_payload, pull_payload, push_payload, raw, sign, source,
    transaction, transfer,
};

/// What `/paid`, `/sponsored` and `/split` cost: 0.01 in base units.
const PRICE: u128 = 10_000;
/// The part of `/split` that goes to the split recipient.
const SPLIT: u128 = 2_000;

/// A chain, a funded payer and a peer server with every route.
struct Bed {
    anvil: Anvil,
    server: PeerServer,
    recipient: Address,
    split_recipient: Address,
    payer: PrivateKeySigner,
}

impl Bed {
    async fn start(kind: PeerKind) -> Self {
        let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
        let recipient = PrivateKeySigner::random().address();
        let split_recipient = PrivateKeySigner::random().address();
        let config = PeerConfig::new(recipient)
            .fee_payer(DEV_KEY_1)
            .split(split_recipient);
        let server = PeerServer::start(kind, &anvil, &config);
        let payer = anvil.funded_payer(1_000_000).await;
        Self {
            anvil,
            server,
            recipient,
            split_recipient,
            payer,
        }
    }

    async fn balance(&self, owner: Address) -> U256 {
        self.anvil.balance(PATH_USD, owner).await
    }

    /// `GET path` without a credential: a 402 with one Tempo challenge.
    async fn challenge(&self, path: &str) -> Challenge {
        let reply = self.get(path, None).await;
        assert_eq!(reply.status, 402, "{reply:?}");
        assert_eq!(reply.challenges.len(), 1, "{reply:?}");
        let challenge =
            Challenge::parse(&reply.challenges[0]).unwrap_or_else(|e| panic!("{e}: {reply:?}"));
        assert_eq!(challenge.method, "tempo");
        assert_eq!(challenge.intent, "charge");
        assert_eq!(challenge.realm, "127.0.0.1");
        challenge
    }

    async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut request = reqwest::Client::new().get(self.server.url(path));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.expect("the peer server answers");
        let header = |name: &str| -> Vec<String> {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        let challenges = header("www-authenticate");
        let receipt = header("payment-receipt").pop();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        Reply {
            status,
            challenges,
            receipt,
            body,
            stderr: self.server.stderr(),
        }
    }

    /// A pull credential for `path`, signed by the payer.
    async fn pull(&self, path: &str, sponsored: bool) -> (Challenge, String) {
        let challenge = self.challenge(path).await;
        let signed = honest(&self.payer, &challenge, sponsored);
        let auth = credential(
            &challenge,
            pull_payload(&signed, self.payer.address()),
            source(CHAIN_ID, &self.payer),
        );
        (challenge, auth)
    }

    /// Broadcasts `signed` ourselves and waits until it is mined.
    async fn broadcast(&self, signed: &AASigned) -> B256 {
        let receipt: serde_json::Value = self
            .anvil
            .rpc(
                "eth_sendRawTransactionSync",
                serde_json::json!([raw(signed)]),
            )
            .await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        receipt["transactionHash"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    challenges: Vec<String>,
    receipt: Option<String>,
    body: String,
    /// The server's stderr so far, shown by failure messages (`Debug`).
    #[allow(dead_code)]
    stderr: String,
}

impl Reply {
    /// 200 with a receipt we can parse.
    fn paid(&self) -> Receipt {
        assert_eq!(self.status, 200, "{self:#?}");
        let header = self.receipt.as_deref().expect("a Payment-Receipt");
        let receipt = Receipt::parse(header).unwrap_or_else(|e| panic!("{e}: {self:#?}"));
        assert_eq!(receipt.method, "tempo");
        receipt
    }

    /// Refused with `status`, the problem detail mentioning `detail`.
    fn refused(&self, status: u16, detail: &str) {
        assert_eq!(self.status, status, "{self:#?}");
        assert!(self.receipt.is_none(), "{self:#?}");
        assert!(self.body.contains(detail), "{detail:?} not in {self:#?}");
    }
}

fn hash_of(receipt: &Receipt) -> B256 {
    receipt.reference.parse().expect("a transaction hash")
}

async fn pull_pays(kind: PeerKind) {
    let bed = Bed::start(kind).await;
    let (_, auth) = bed.pull("/paid", false).await;
    let receipt = bed.get("/paid", Some(&auth)).await.paid();
    hash_of(&receipt);
    assert_eq!(bed.balance(bed.recipient).await, U256::from(PRICE));

    // Once only: mppx answers 402 with a fresh challenge, pympp 403.
    let again = bed.get("/paid", Some(&auth)).await;
    match kind {
        PeerKind::Mppx => again.refused(402, "already been used"),
        PeerKind::Pympp => again.refused(403, "already used"),
    }

    // `source` is optional on a pull credential.
    let challenge = bed.challenge("/paid").await;
    let signed = honest(&bed.payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, bed.payer.address()), None);
    bed.get("/paid", Some(&auth)).await.paid();
    assert_eq!(bed.balance(bed.recipient).await, U256::from(2 * PRICE));
}

async fn push_pays(kind: PeerKind) {
    let bed = Bed::start(kind).await;
    for with_source in [true, false] {
        let challenge = bed.challenge("/paid").await;
        let signed = honest(&bed.payer, &challenge, false);
        let hash = bed.broadcast(&signed).await;
        let auth = credential(
            &challenge,
            push_payload(hash),
            with_source.then(|| source(CHAIN_ID, &bed.payer)).flatten(),
        );
        let receipt = bed.get("/paid", Some(&auth)).await.paid();
        assert_eq!(hash_of(&receipt), hash);
    }
    assert_eq!(bed.balance(bed.recipient).await, U256::from(2 * PRICE));
}

async fn a_sponsor_pays_the_fee(kind: PeerKind) {
    let bed = Bed::start(kind).await;
    let sponsor = DEV_KEY_1.parse::<PrivateKeySigner>().unwrap().address();
    let (payer_before, sponsor_before) = (
        bed.balance(bed.payer.address()).await,
        bed.balance(sponsor).await,
    );
    let (challenge, auth) = bed.pull("/sponsored", true).await;
    assert_eq!(
        challenge.request.object()["methodDetails"]["feePayer"],
        true
    );
    bed.get("/sponsored", Some(&auth)).await.paid();
    assert_eq!(bed.balance(bed.recipient).await, U256::from(PRICE));
    // The payer pays the price and nothing more; the sponsor the fee.
    assert_eq!(
        payer_before - bed.balance(bed.payer.address()).await,
        U256::from(PRICE)
    );
    assert!(bed.balance(sponsor).await < sponsor_before);

    // A 0x76 the payer signed for its own fees is no answer to feePayer.
    let (_, auth) = bed.pull("/sponsored", false).await;
    let reply = bed.get("/sponsored", Some(&auth)).await;
    match kind {
        PeerKind::Mppx => reply.refused(500, "internal-payment-error"),
        PeerKind::Pympp => reply.refused(500, "expected 0x78 prefix"),
    }

    // With 10 s left: mppx co-signs, pympp wants 15 s.
    let challenge = bed.challenge("/sponsored").await;
    let mut tx = transaction(CHAIN_ID, honest_calls(&challenge), PATH_USD, true);
    tx.valid_before = NonZeroU64::new(tempo_payer::now() + 10);
    let signed = sign(&bed.payer, tx);
    let auth = credential(
        &challenge,
        pull_payload(&signed, bed.payer.address()),
        source(CHAIN_ID, &bed.payer),
    );
    let reply = bed.get("/sponsored", Some(&auth)).await;
    match kind {
        PeerKind::Mppx => drop(reply.paid()),
        PeerKind::Pympp => reply.refused(402, "at least 15 seconds"),
    }
}

async fn a_split_pays_both(kind: PeerKind) {
    let bed = Bed::start(kind).await;
    let (challenge, auth) = bed.pull("/split", false).await;
    let splits = &challenge.request.object()["methodDetails"]["splits"];
    assert_eq!(splits[0]["amount"], SPLIT.to_string(), "{splits}");
    assert!(splits[0].get("memo").is_none(), "{splits}");
    bed.get("/split", Some(&auth)).await.paid();
    assert_eq!(bed.balance(bed.recipient).await, U256::from(PRICE - SPLIT));
    assert_eq!(bed.balance(bed.split_recipient).await, U256::from(SPLIT));
}

async fn the_memo_must_name_the_challenge(kind: PeerKind) {
    let bed = Bed::start(kind).await;
    // A plain `transfer`: no memo at all.
    let challenge = bed.challenge("/paid").await;
    let calls = vec![transfer(PATH_USD, bed.recipient, PRICE, None)];
    let signed = sign(&bed.payer, transaction(CHAIN_ID, calls, PATH_USD, false));
    let auth = credential(
        &challenge,
        pull_payload(&signed, bed.payer.address()),
        source(CHAIN_ID, &bed.payer),
    );
    let reply = bed.get("/paid", Some(&auth)).await;
    match kind {
        PeerKind::Mppx => reply.refused(402, "memo is not bound to this challenge"),
        PeerKind::Pympp => reply.refused(403, "memo is not bound to this challenge"),
    }
    // An anonymous attribution memo (no client id) is fine.
    let challenge = bed.challenge("/paid").await;
    let memo = tower_mpp::tempo::attribution_memo(&challenge.realm, &challenge.id, None);
    let calls = vec![transfer(PATH_USD, bed.recipient, PRICE, Some(memo))];
    let signed = sign(&bed.payer, transaction(CHAIN_ID, calls, PATH_USD, false));
    let auth = credential(
        &challenge,
        pull_payload(&signed, bed.payer.address()),
        source(CHAIN_ID, &bed.payer),
    );
    bed.get("/paid", Some(&auth)).await.paid();
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_takes_a_pull_once() {
    pull_pays(PeerKind::Mppx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_takes_a_pull_once() {
    pull_pays(PeerKind::Pympp).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_takes_a_push() {
    push_pays(PeerKind::Mppx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_takes_a_push() {
    push_pays(PeerKind::Pympp).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_sponsors_a_fee_payer_envelope() {
    a_sponsor_pays_the_fee(PeerKind::Mppx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_sponsors_a_fee_payer_envelope() {
    a_sponsor_pays_the_fee(PeerKind::Pympp).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_takes_a_split() {
    a_split_pays_both(PeerKind::Mppx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_takes_a_split() {
    a_split_pays_both(PeerKind::Pympp).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_wants_the_challenge_in_the_memo() {
    the_memo_must_name_the_challenge(PeerKind::Mppx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_wants_the_challenge_in_the_memo() {
    the_memo_must_name_the_challenge(PeerKind::Pympp).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_takes_a_proof_for_a_zero_amount_once() {
    let bed = Bed::start(PeerKind::Mppx).await;
    let challenge = bed.challenge("/free").await;
    assert_eq!(challenge.request.object()["amount"], "0");
    let proof = proof_payload(&bed.payer, CHAIN_ID, &challenge);
    let auth = credential(&challenge, proof.clone(), source(CHAIN_ID, &bed.payer));
    let receipt = bed.get("/free", Some(&auth)).await.paid();
    assert_eq!(receipt.reference, challenge.id, "a proof's reference");
    bed.get("/free", Some(&auth))
        .await
        .refused(402, "already been used");

    // `source` is required on a proof; a transaction is no proof.
    let challenge = bed.challenge("/free").await;
    let proof = proof_payload(&bed.payer, CHAIN_ID, &challenge);
    bed.get("/free", Some(&credential(&challenge, proof, None)))
        .await
        .refused(402, "must include a source");
    let (_, auth) = bed.pull("/free", false).await;
    bed.get("/free", Some(&auth))
        .await
        .refused(402, "require a proof credential");
}

#[tokio::test(flavor = "multi_thread")]
async fn pympp_refuses_proofs_but_takes_a_zero_amount_transfer() {
    let bed = Bed::start(PeerKind::Pympp).await;
    let challenge = bed.challenge("/free").await;
    let proof = proof_payload(&bed.payer, CHAIN_ID, &challenge);
    bed.get(
        "/free",
        Some(&credential(&challenge, proof, source(CHAIN_ID, &bed.payer))),
    )
    .await
    .refused(402, "invalid-payload");
    let (_, auth) = bed.pull("/free", false).await;
    hash_of(&bed.get("/free", Some(&auth)).await.paid());
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_holds_to_the_supported_modes() {
    let bed = Bed::start(PeerKind::Mppx).await;
    let challenge = bed.challenge("/pull-only").await;
    assert_eq!(
        challenge.request.object()["methodDetails"]["supportedModes"],
        serde_json::json!(["pull"])
    );
    let hash = bed.broadcast(&honest(&bed.payer, &challenge, false)).await;
    bed.get(
        "/pull-only",
        Some(&credential(&challenge, push_payload(hash), None)),
    )
    .await
    .refused(402, "Hash credentials are not supported");

    let (_, auth) = bed.pull("/push-only", false).await;
    bed.get("/push-only", Some(&auth))
        .await
        .refused(402, "Transaction credentials are not supported");
    let challenge = bed.challenge("/push-only").await;
    let hash = bed.broadcast(&honest(&bed.payer, &challenge, false)).await;
    bed.get(
        "/push-only",
        Some(&credential(&challenge, push_payload(hash), None)),
    )
    .await
    .paid();
}
