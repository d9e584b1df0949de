//! A client that hangs up while its payment settles (a node slowed by the
//! fault proxy): the settlement runs to its end, and the client's retry
//! with the same credential is served once, with the recorded receipt, on
//! this instance or another sharing the store.

use std::future::Future;
use std::time::{Duration, Instant};

use alloy::primitives::U256;

use crate::common::{Env, PRICE, Reply};
use crate::push::broadcast;
use crate::support::anvil::Anvil;
use crate::support::rpc_proxy::{Behaviour, RpcProxy};
use crate::support::tempo_payer::{credential, honest, pull_payload, push_payload};

/// The node answers this late: longer than the client waits, shorter than
/// the server's RPC timeout.
const SLOW: Duration = Duration::from_millis(1500);
/// How long the client waits before hanging up.
const PATIENCE: Duration = Duration::from_millis(400);

/// Sends a request and hangs up before its answer (the future is dropped,
/// as hyper drops it when the connection closes).
async fn hang_up(request: impl Future<Output = Reply>) {
    let answer = tokio::time::timeout(PATIENCE, request).await;
    assert!(answer.is_err(), "the client was meant to hang up first");
}

/// Retries while the answer is a 503 (the settlement still runs).
pub(crate) async fn retry<F: Future<Output = Reply>>(mut request: impl FnMut() -> F) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = request().await;
        if reply.status != 503 || Instant::now() > deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn slowed() -> (Env, RpcProxy) {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let proxy = RpcProxy::start(&anvil.url).await;
    let env = Env::start_on(anvil, &proxy.url, |b| b);
    (env, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_during_a_pull_settlement_is_served_on_retry() {
    let (env, proxy) = slowed().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);

    proxy.set(Behaviour::Slow(SLOW));
    hang_up(env.get("/paid", Some(&auth))).await;
    proxy.set(Behaviour::Forward);

    let receipt = retry(|| env.get("/paid", Some(&auth))).await.assert_paid();
    assert_eq!(receipt.reference, signed.hash().to_string());
    assert_eq!(env.handled(), 1);
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
    // Served once: the next retry finds the challenge used.
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_during_a_push_verification_is_served_on_retry() {
    let (env, proxy) = slowed().await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    let signed = honest(&payer, &challenge, false);
    let hash = broadcast(&env.anvil, &signed).await;
    let auth = credential(&challenge, push_payload(hash), None);

    proxy.set(Behaviour::Slow(SLOW));
    hang_up(env.get("/paid", Some(&auth))).await;
    proxy.set(Behaviour::Forward);

    let receipt = retry(|| env.get("/paid", Some(&auth))).await.assert_paid();
    assert_eq!(receipt.reference, hash.to_string());
    assert_eq!(env.handled(), 1);
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.handled(), 1);
}

#[cfg(feature = "redis")]
mod shared {
    use super::*;
    use crate::support::redis_server::RedisServer;
    use tower_mpp::store::RedisStore;

    async fn store(server: &RedisServer) -> RedisStore {
        RedisStore::connect(&server.url()).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_payment_whose_client_hung_up_is_served_by_the_other_instance_once() {
        let (env, proxy) = slowed().await;
        let redis = RedisServer::start();
        let (a, b) = (
            env.instance_on(store(&redis).await),
            env.instance_on(store(&redis).await),
        );
        let payer = env.anvil.funded_payer(1_000_000).await;
        let challenge = a.challenge("/paid").await;
        let signed = honest(&payer, &challenge, false);
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);

        proxy.set(Behaviour::Slow(SLOW));
        hang_up(a.get("/paid", Some(&auth))).await;
        proxy.set(Behaviour::Forward);

        let receipt = retry(|| b.get("/paid", Some(&auth))).await.assert_paid();
        assert_eq!(receipt.reference, signed.hash().to_string());
        assert_eq!(a.handled() + b.handled(), 1);
        // Both retrying at once after that: neither is served again.
        let (ra, rb) = tokio::join!(a.get("/paid", Some(&auth)), b.get("/paid", Some(&auth)));
        ra.assert_rejected(402, "invalid-challenge");
        rb.assert_rejected(402, "invalid-challenge");
        assert_eq!(a.handled() + b.handled(), 1);
        assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn retries_racing_the_original_or_each_other_are_served_once() {
        let (env, proxy) = slowed().await;
        let redis = RedisServer::start();
        let (a, b) = (
            env.instance_on(store(&redis).await),
            env.instance_on(store(&redis).await),
        );
        let payer = env.anvil.funded_payer(1_000_000).await;

        // The original still waits while retries arrive on the other
        // instance: they are told to retry (503), and the original is
        // served.
        let challenge = a.challenge("/paid").await;
        let signed = honest(&payer, &challenge, false);
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
        proxy.set(Behaviour::Slow(SLOW));
        let original = a.get("/paid", Some(&auth));
        let retries = async {
            let mut statuses = Vec::new();
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                statuses.push(b.get("/paid", Some(&auth)).await.status.as_u16());
            }
            statuses
        };
        let (original, statuses) = tokio::join!(original, retries);
        original.assert_paid();
        assert!(
            statuses.iter().all(|s| *s == 503 || *s == 402),
            "{statuses:?}"
        );
        assert_eq!(a.handled() + b.handled(), 1);

        // The original hung up; two retries race on both instances: one is
        // served.
        let challenge = a.challenge("/paid").await;
        let signed = honest(&payer, &challenge, false);
        let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);
        hang_up(a.get("/paid", Some(&auth))).await;
        proxy.set(Behaviour::Forward);
        let (ra, rb) = tokio::join!(
            retry(|| a.get("/paid", Some(&auth))),
            retry(|| b.get("/paid", Some(&auth)))
        );
        let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 402], "{} / {}", ra.text(), rb.text());
        assert_eq!(a.handled() + b.handled(), 2);
        assert_eq!(env.path_usd(env.recipient).await, U256::from(2 * PRICE));
    }
}
