//! The attacker's review (#13) on a real chain: draining the fee sponsor,
//! and stealing or replaying fixed-memo payments.

use std::time::Duration;

use alloy::eips::eip2930::{AccessList, AccessListItem};
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;

use crate::common::{Env, MEMO, PRICE};
use crate::push::broadcast;
use crate::support::anvil::{CHAIN_ID, DEV_KEY_1, PATH_USD};
use crate::support::tempo_payer::{
    credential, honest, honest_calls, pull_payload, push_payload, sign, transaction,
};
use tower_mpp::tempo::SponsorBudget;

fn sponsor() -> Address {
    DEV_KEY_1.parse::<PrivateKeySigner>().unwrap().address()
}

/// An account holding nothing signs the right transfer: the server
/// simulates it before co-signing, so nothing is broadcast and the sponsor
/// pays nothing, however often it is tried.
#[tokio::test]
async fn an_unfunded_payer_cannot_make_the_sponsor_pay() {
    let env = Env::start_with(|b| b.fee_payer_key(DEV_KEY_1)).await;
    let before = env.path_usd(sponsor()).await;
    let broke = PrivateKeySigner::random();
    let challenge = env.challenge("/paid").await;
    for _ in 0..3 {
        let signed = honest(&broke, &challenge, true);
        let auth = credential(&challenge, pull_payload(&signed, broke.address()), None);
        let detail = env
            .get("/paid", Some(&auth))
            .await
            .assert_rejected(402, "verification-failed");
        assert!(detail.contains("would fail"), "{detail}");
    }
    // A block or two for anything sent to be mined.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.path_usd(sponsor()).await, before, "the sponsor paid");
    assert_eq!(env.handled(), 0);
}

/// What a sponsored transaction may carry is what a transfer needs: no
/// access list (it inflates the gas the sponsor pays), an expiring nonce
/// and a validity window ending with the challenge, a gas limit sized
/// from its calls. The same challenge then takes an honest payment.
#[tokio::test]
async fn sponsored_transactions_carry_nothing_the_sponsor_pays_for_in_vain() {
    let env = Env::start_with(|b| b.fee_payer_key(DEV_KEY_1)).await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let base = || transaction(CHAIN_ID, honest_calls(&challenge), PATH_USD, true);

    let mut access_list = base();
    access_list.access_list = AccessList(
        (0..50u8)
            .map(|i| AccessListItem {
                address: Address::repeat_byte(i),
                storage_keys: vec![B256::ZERO],
            })
            .collect(),
    );
    let mut plain_nonce = base();
    plain_nonce.nonce_key = U256::ZERO;
    let mut no_window = base();
    no_window.valid_before = None;
    let mut starved = base();
    starved.gas_limit = 30_000;
    let mut bloated = base();
    bloated.gas_limit = 1_900_000;
    for (name, tx, words) in [
        ("access list", access_list, "access list"),
        ("plain nonce", plain_nonce, "expiring nonce"),
        ("no window", no_window, "valid_before"),
        ("starved", starved, "below"),
        ("bloated", bloated, "exceeds"),
    ] {
        let signed = sign(&payer, tx);
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
        let detail = env
            .get("/paid", Some(&auth))
            .await
            .assert_rejected(402, "verification-failed");
        assert!(detail.contains(words), "{name}: {detail}");
    }
    let signed = honest(&payer, &challenge, true);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    env.get("/paid", Some(&auth)).await.assert_paid();
}

/// Past the sponsor's budget for the window, sponsored payments wait (503
/// with Retry-After) and the payer's signed transaction stays usable.
#[tokio::test]
async fn the_sponsor_budget_pauses_sponsorship() {
    // One transaction at the helper's worst fee: 1,000,000 gas at 41 gwei.
    let budget = SponsorBudget {
        max_fees: 41_000,
        window: Duration::from_secs(3600),
    };
    let env = Env::start_with(|b| b.fee_payer_key(DEV_KEY_1).sponsor_budget(budget)).await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let first = env.challenge("/paid").await;
    let signed = honest(&payer, &first, true);
    let auth = credential(&first, pull_payload(&signed, payer.address()), None);
    env.get("/paid", Some(&auth)).await.assert_paid();

    let second = env.challenge("/paid").await;
    let signed = honest(&payer, &second, true);
    let auth = credential(&second, pull_payload(&signed, payer.address()), None);
    let detail = env
        .get("/paid", Some(&auth))
        .await
        .assert_rejected(503, "about:blank");
    assert!(detail.contains("budget"), "{detail}");
    assert_eq!(env.handled(), 1);
}

/// Instances sharing the sponsor's budget through Redis share one budget:
/// what the first co-signs, the second cannot co-sign again (nor a
/// restarted one: the count is in Redis). Without the store, another
/// instance grants a budget of its own.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_sponsor_budget_shared_through_redis_holds_across_instances() {
    use tower_mpp::store::RedisStore;

    let redis = tokio::task::spawn_blocking(crate::support::redis_server::RedisServer::start)
        .await
        .unwrap();
    let store = RedisStore::builder(redis.url())
        .prefix("budget:")
        .connect()
        .await
        .unwrap();
    // One transaction at the helper's worst fee; a window so long that the
    // test never crosses into the next one.
    let budget = SponsorBudget {
        max_fees: 41_000,
        window: Duration::from_secs(1_000_000_000),
    };
    let pay = async |env: &Env| {
        let payer = env.anvil.funded_payer(1_000_000).await;
        let challenge = env.challenge("/paid").await;
        let signed = honest(&payer, &challenge, true);
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
        env.get("/paid", Some(&auth)).await
    };
    let shared = |b: tower_mpp::tempo::TempoChargeBuilder| {
        b.fee_payer_key(DEV_KEY_1)
            .sponsor_budget(budget)
            .sponsor_budget_store(store.clone())
    };
    let first = Env::start_with(shared).await;
    pay(&first).await.assert_paid();
    let second = Env::start_with(shared).await;
    let detail = pay(&second).await.assert_rejected(503, "about:blank");
    assert!(detail.contains("budget"), "{detail}");
    assert_eq!(second.handled(), 0);

    let own = Env::start_with(|b| b.fee_payer_key(DEV_KEY_1).sponsor_budget(budget)).await;
    pay(&own).await.assert_paid();
}

/// With a fixed memo the transfer names no challenge: a third party could
/// present the victim's mined transaction hash with a fresh challenge of
/// its own. Such a charge is paid in pull mode only.
#[tokio::test]
async fn a_fixed_memo_payment_cannot_be_claimed_by_hash() {
    let env = Env::start().await;
    let victim = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/memo").await;
    assert_eq!(
        challenge.request.object()["methodDetails"]["supportedModes"],
        serde_json::json!(["pull"])
    );
    let signed = honest(&victim, &challenge, false);
    let hash = broadcast(&env.anvil, &signed).await;

    let thief_challenge = env.challenge("/memo").await;
    let auth = credential(&thief_challenge, push_payload(hash), None);
    let detail = env
        .get("/memo", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("pull"), "{detail}");
    assert_eq!(env.handled(), 0);
}

/// A mined fixed-memo pull transaction's bytes, presented again with a new
/// challenge after a restart emptied the claims: the node already has it,
/// and it was mined before the challenge was issued, so it pays nothing.
#[tokio::test]
async fn a_mined_pull_transaction_does_not_pay_again_after_a_restart() {
    let env = Env::start().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/memo").await;
    let signed = honest(&payer, &challenge, false);
    let payload = pull_payload(&signed, payer.address());
    let auth = credential(&challenge, payload.clone(), None);
    env.get("/memo", Some(&auth)).await.assert_paid();
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));

    // Challenge times are whole seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarted = env.restarted(|b| b.memo_on_volatile_store(true));
    let fresh = restarted.challenge("/memo").await;
    let auth = credential(&fresh, payload, None);
    let detail = restarted
        .get("/memo", Some(&auth))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert!(detail.contains("before the challenge"), "{detail}");
    assert_eq!(restarted.handled(), 0);
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
}

/// A fixed memo needs claims that survive a restart: with the memory store
/// and no explicit opt-in, the registry does not build for a method-wide
/// memo, and a price's memo is refused before anything is sent.
#[tokio::test]
async fn a_fixed_memo_needs_a_durable_store_or_an_explicit_opt_in() {
    let method = tower_mpp::tempo::TempoCharge::builder()
        .recipient(Address::repeat_byte(9).to_string())
        .rpc_url("http://127.0.0.1:9")
        .chain_id(CHAIN_ID)
        .memo(MEMO.to_string())
        .build()
        .unwrap();
    let error = tower_mpp::method::Payments::builder()
        .realm("api.example.com")
        .secret("a secret of at least thirty-two bytes..")
        .method(method)
        .build()
        .unwrap_err();
    assert!(
        matches!(error, tower_mpp::method::ConfigError::VolatileStore(_)),
        "{error}"
    );

    let env = Env::start_with(|b| b.memo_on_volatile_store(false)).await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/memo").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
    let detail = env
        .get("/memo", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("restart"), "{detail}");
    assert_eq!(env.path_usd(payer.address()).await, U256::from(1_000_000));
}
