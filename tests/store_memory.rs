//! The memory store through its public API, under real concurrency and time.

use std::collections::HashMap;
use std::time::Duration;

use tower_mpp::store::{MemoryStore, SharedStore, Store, StoreErrorKind};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn ten_thousand_concurrent_claims_of_a_hundred_keys_have_a_hundred_winners() {
    let store = SharedStore::new(MemoryStore::new());
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("proof-{}", i % 100);
                let won = store.claim(&key, HOUR).await.expect("claim");
                (key, won)
            })
        })
        .collect();
    let mut winners: HashMap<String, usize> = HashMap::new();
    for task in tasks {
        let (key, won) = task.await.expect("task");
        *winners.entry(key).or_default() += usize::from(won);
    }
    assert_eq!(winners.len(), 100);
    assert!(
        winners.values().all(|&count| count == 1),
        "each key has exactly one winner: {winners:?}"
    );
}

#[tokio::test]
async fn a_claim_succeeds_again_after_its_ttl() {
    let store = MemoryStore::new();
    let ttl = Duration::from_millis(50);
    assert!(store.claim("k", ttl).await.unwrap());
    assert!(!store.claim("k", ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(store.claim("k", ttl).await.unwrap(), "the claim expired");
    assert!(!store.claim("k", ttl).await.unwrap());
}

#[tokio::test]
async fn the_bound_is_enforced_and_live_keys_are_kept() {
    let store = MemoryStore::with_capacity(1000);
    for i in 0..1000 {
        assert!(store.claim(&format!("k{i}"), HOUR).await.unwrap());
    }
    let error = store.claim("one-too-many", HOUR).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::CapacityExceeded);
    assert_eq!(error.to_string(), "the claim store is full");
    for i in 0..1000 {
        assert!(
            !store.claim(&format!("k{i}"), HOUR).await.unwrap(),
            "live key k{i} was forgotten"
        );
    }
    assert_eq!(store.len(), 1000);

    // Releasing one key makes room for one.
    store.release("k7").await.unwrap();
    assert!(store.claim("one-too-many", HOUR).await.unwrap());
    assert!(store.claim("two-too-many", HOUR).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sharded_store_never_holds_more_than_its_capacity() {
    let capacity = 64 * 1024;
    let store = MemoryStore::with_capacity(capacity);
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let (mut won, mut refused) = (Vec::new(), 0_usize);
                for i in 0..capacity / 2 {
                    let key = format!("t{t}-{i}");
                    match store.claim(&key, HOUR).await {
                        Ok(true) => won.push(key),
                        Ok(false) => panic!("{key} was claimed twice"),
                        Err(e) => {
                            assert_eq!(e.kind(), StoreErrorKind::CapacityExceeded);
                            refused += 1;
                        }
                    }
                }
                (won, refused)
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        won.extend(task.await.unwrap().0);
    }
    assert!(won.len() <= capacity);
    // The keys spread evenly: the shards fill up close to the total.
    assert!(won.len() > capacity * 95 / 100, "only {} claims", won.len());
    for key in &won {
        assert!(
            !store.claim(key, HOUR).await.unwrap(),
            "{key} was forgotten"
        );
    }
}

#[tokio::test]
async fn a_full_store_reclaims_expired_keys() {
    let store = MemoryStore::with_capacity(100);
    for i in 0..100 {
        assert!(
            store
                .claim(&format!("short{i}"), Duration::from_millis(30))
                .await
                .unwrap()
        );
    }
    assert!(store.claim("new", HOUR).await.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..100 {
        assert!(store.claim(&format!("long{i}"), HOUR).await.unwrap());
    }
    assert_eq!(store.len(), 100);
}

#[tokio::test]
async fn release_lets_a_key_be_claimed_again() {
    let store = SharedStore::new(MemoryStore::new());
    assert!(store.claim("k", HOUR).await.unwrap());
    store.release("k").await.unwrap();
    assert!(store.claim("k", HOUR).await.unwrap());
    assert!(!store.claim("k", HOUR).await.unwrap());
    store.release("absent").await.unwrap();
}
