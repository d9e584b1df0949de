//! Every way a Tempo payment can be wrong is refused: nothing is served,
//! nothing is settled, and the payer can still pay honestly afterwards.

use std::num::NonZeroU64;

use alloy::primitives::{B256, U256};
use alloy::signers::local::PrivateKeySigner;
use tempo_alloy::primitives::transaction::Call;
use tower_mpp::protocol::Challenge;
use tower_mpp::tempo::{Mode, attribution_memo};

use crate::common::{Env, MEMO, PRICE};
use crate::push::broadcast;
use crate::support::anvil::{ALPHA_USD, CHAIN_ID, PATH_USD};
use crate::support::tempo_payer::{
    credential, honest, honest_calls, now, pull_payload, push_payload, sign, source, transaction,
    transfer,
};

#[allow(clippy::unnecessary_wraps)]
fn memo_for(challenge: &Challenge) -> Option<B256> {
    Some(attribution_memo(&challenge.realm, &challenge.id, None))
}

#[tokio::test]
async fn wrong_transfers_are_refused_before_anything_is_broadcast() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let to = env.recipient;
    let memo = memo_for(&challenge);
    let stranger = PrivateKeySigner::random().address();
    let cases: Vec<(&str, Vec<Call>)> = vec![
        (
            "amount too low",
            vec![transfer(PATH_USD, to, PRICE - 1, memo)],
        ),
        (
            "amount too high",
            vec![transfer(PATH_USD, to, PRICE + 1, memo)],
        ),
        (
            "wrong recipient",
            vec![transfer(PATH_USD, stranger, PRICE, memo)],
        ),
        ("wrong currency", vec![transfer(ALPHA_USD, to, PRICE, memo)]),
        ("no memo", vec![transfer(PATH_USD, to, PRICE, None)]),
        (
            "another challenge's memo",
            vec![transfer(
                PATH_USD,
                to,
                PRICE,
                Some(attribution_memo("api.example.com", "other", None)),
            )],
        ),
        (
            "another realm's memo",
            vec![transfer(
                PATH_USD,
                to,
                PRICE,
                Some(attribution_memo("evil.example", &challenge.id, None)),
            )],
        ),
        (
            "extra transfer",
            vec![
                transfer(PATH_USD, to, PRICE, memo),
                transfer(PATH_USD, stranger, 1, None),
            ],
        ),
        (
            "split in two",
            vec![
                transfer(PATH_USD, to, PRICE / 2, memo),
                transfer(PATH_USD, to, PRICE / 2, memo),
            ],
        ),
    ];
    for (name, calls) in cases {
        let signed = sign(&payer, transaction(CHAIN_ID, calls, PATH_USD, false));
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
        let reply = env.get("/paid", Some(&auth)).await;
        assert_eq!(reply.status, 402, "{name}: {}", reply.text());
        reply.assert_rejected(402, "verification-failed");
    }
    assert_eq!(env.handled(), 0);
    assert_eq!(env.path_usd(to).await, U256::ZERO, "nothing was broadcast");
}

#[tokio::test]
async fn wrong_chains_senders_windows_and_encodings_are_refused() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let to = env.recipient;
    let mut wrong_chain = transaction(4217, honest_calls(&challenge), PATH_USD, false);
    wrong_chain.chain_id = 4217;
    let auth = credential(
        &challenge,
        pull_payload(&sign(&payer, wrong_chain), payer.address()),
        None,
    );
    let detail = env
        .get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("chain"), "{detail}");
    // Signed by the payer, presented as someone else's.
    let signed = honest(&payer, &challenge, false);
    let other = PrivateKeySigner::random();
    let auth = credential(
        &challenge,
        pull_payload(&signed, payer.address()),
        source(CHAIN_ID, &other),
    );
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    // Valid past the challenge's expiry.
    let mut late = transaction(CHAIN_ID, honest_calls(&challenge), PATH_USD, false);
    late.valid_before = NonZeroU64::new(now() + 3600);
    let auth = credential(
        &challenge,
        pull_payload(&sign(&payer, late), payer.address()),
        None,
    );
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    // Garbage where the transaction goes.
    for junk in ["0x", "0x76", "0x76c0", "0x1234", "not hex", "0x78c0"] {
        let payload = serde_json::json!({"type": "transaction", "signature": junk});
        let auth = credential(&challenge, payload.as_object().unwrap().clone(), None);
        env.get("/paid", Some(&auth))
            .await
            .assert_rejected(402, "malformed-credential");
    }

    assert_eq!(env.handled(), 0);
    assert_eq!(env.path_usd(to).await, U256::ZERO, "nothing was broadcast");
    // The same challenge still takes an honest payment.
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    env.get("/paid", Some(&auth)).await.assert_paid();
}

#[tokio::test]
async fn a_memo_route_refuses_the_attribution_memo_and_other_memos() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/memo").await;
    for memo in [memo_for(&challenge), Some(B256::repeat_byte(7)), None] {
        let calls = vec![transfer(PATH_USD, env.recipient, PRICE, memo)];
        let signed = sign(&payer, transaction(CHAIN_ID, calls, PATH_USD, false));
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
        env.get("/memo", Some(&auth))
            .await
            .assert_rejected(402, "verification-failed");
    }
    let calls = vec![transfer(PATH_USD, env.recipient, PRICE, Some(MEMO))];
    let signed = sign(&payer, transaction(CHAIN_ID, calls, PATH_USD, false));
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    env.get("/memo", Some(&auth)).await.assert_paid();
}

#[tokio::test]
async fn mined_transfers_that_do_not_pay_are_refused_by_hash() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let memo = memo_for(&challenge);
    let short = vec![transfer(PATH_USD, env.recipient, PRICE - 1, memo)];
    let hash = broadcast(
        &env.anvil,
        &sign(&payer, transaction(CHAIN_ID, short, PATH_USD, false)),
    )
    .await;
    env.get(
        "/paid",
        Some(&credential(&challenge, push_payload(hash), None)),
    )
    .await
    .assert_rejected(402, "verification-failed");
    // An honest transfer presented as someone else's.
    let good = honest(&payer, &challenge, false);
    let hash = broadcast(&env.anvil, &good).await;
    let other = PrivateKeySigner::random();
    env.get(
        "/paid",
        Some(&credential(
            &challenge,
            push_payload(hash),
            source(CHAIN_ID, &other),
        )),
    )
    .await
    .assert_rejected(402, "verification-failed");
    assert_eq!(env.handled(), 0);
    // The refusal released the hash: presented properly, it pays.
    env.get(
        "/paid",
        Some(&credential(
            &challenge,
            push_payload(hash),
            source(CHAIN_ID, &payer),
        )),
    )
    .await
    .assert_paid();
}

#[tokio::test]
async fn modes_the_challenge_excludes_are_refused() {
    let env = Env::start_with(|b| b.supported_modes([Mode::Push])).await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    assert_eq!(
        challenge.request.object()["methodDetails"]["supportedModes"],
        serde_json::json!(["push"])
    );
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    let detail = env
        .get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("pull"), "{detail}");

    let env = Env::start_with(|b| b.supported_modes([Mode::Pull])).await;
    let challenge = env.challenge("/paid").await;
    let auth = credential(&challenge, push_payload(B256::repeat_byte(3)), None);
    let detail = env
        .get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("push"), "{detail}");
}

#[tokio::test]
async fn an_expired_challenge_is_refused_before_the_chain_is_asked() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/short").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    env.get("/short", Some(&auth))
        .await
        .assert_rejected(402, "payment-expired");
    assert_eq!(env.path_usd(env.recipient).await, U256::ZERO);
}
