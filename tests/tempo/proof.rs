//! Proof credentials: zero-amount charges, paid by signing the challenge.

use alloy::signers::local::PrivateKeySigner;

use crate::common::Env;
use crate::support::anvil::CHAIN_ID;
use crate::support::tempo_payer::{credential, proof_payload, source};

#[tokio::test]
async fn a_signed_proof_pays_a_free_route_once() {
    let env = Env::start().await;
    let signer = PrivateKeySigner::random();
    let challenge = env.challenge("/zero").await;
    assert_eq!(challenge.request.object()["amount"], "0");
    let auth = credential(
        &challenge,
        proof_payload(&signer, CHAIN_ID, &challenge),
        source(CHAIN_ID, &signer),
    );
    let receipt = env.get("/zero", Some(&auth)).await.assert_paid();
    assert_eq!(receipt.reference, challenge.id);
    env.get("/zero", Some(&auth))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn proofs_by_someone_else_for_another_chain_or_without_source_are_refused() {
    let env = Env::start().await;
    let signer = PrivateKeySigner::random();
    let other = PrivateKeySigner::random();
    let challenge = env.challenge("/zero").await;
    let cases = [
        // Signed by another key than the source names.
        (
            proof_payload(&other, CHAIN_ID, &challenge),
            source(CHAIN_ID, &signer),
            "verification-failed",
        ),
        // Signed for another chain.
        (
            proof_payload(&signer, 4217, &challenge),
            source(CHAIN_ID, &signer),
            "verification-failed",
        ),
        // A source on another chain.
        (
            proof_payload(&signer, 4217, &challenge),
            source(4217, &signer),
            "verification-failed",
        ),
        // No source.
        (
            proof_payload(&signer, CHAIN_ID, &challenge),
            None,
            "malformed-credential",
        ),
    ];
    for (payload, source, code) in cases {
        env.get("/zero", Some(&credential(&challenge, payload, source)))
            .await
            .assert_rejected(402, code);
    }
    // A proof for a paid route.
    let paid = env.challenge("/paid").await;
    let auth = credential(
        &paid,
        proof_payload(&signer, CHAIN_ID, &paid),
        source(CHAIN_ID, &signer),
    );
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "malformed-credential");
    assert_eq!(env.handled(), 0);
    // After all that, the honest proof still pays.
    let auth = credential(
        &challenge,
        proof_payload(&signer, CHAIN_ID, &challenge),
        source(CHAIN_ID, &signer),
    );
    env.get("/zero", Some(&auth)).await.assert_paid();
}

#[tokio::test]
async fn concurrent_submissions_of_one_proof_settle_once() {
    let env = Env::start().await;
    let signer = PrivateKeySigner::random();
    let challenge = env.challenge("/zero").await;
    let auth = credential(
        &challenge,
        proof_payload(&signer, CHAIN_ID, &challenge),
        source(CHAIN_ID, &signer),
    );
    let statuses = env.get_concurrently("/zero", &auth, 16).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    // The others: used (402), or still settling for another (503, retry).
    assert!(
        statuses.iter().all(|s| [200, 402, 503].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(env.handled(), 1);
}
