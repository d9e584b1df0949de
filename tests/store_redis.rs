//! The Redis store against a real `redis-server` that each test starts on
//! its own loopback port (see `support/redis_server.rs`).

#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use tower_mpp::store::{Persistence, RedisStore, SharedStore, Store, StoreErrorKind};

const HOUR: Duration = Duration::from_secs(3600);

async fn connect(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url()).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn ten_thousand_concurrent_claims_of_a_hundred_keys_have_a_hundred_winners() {
    let server = RedisServer::start();
    // Two connections, as two server instances would have.
    let stores = [
        SharedStore::new(connect(&server).await),
        SharedStore::new(connect(&server).await),
    ];
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let store = stores[i % 2].clone();
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
    let server = RedisServer::start();
    let store = connect(&server).await;
    let ttl = Duration::from_millis(100);
    assert!(store.claim("k", ttl).await.unwrap());
    assert!(!store.claim("k", ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.claim("k", ttl).await.unwrap(), "the claim expired");
}

#[tokio::test]
async fn claims_are_prefixed_keys_with_an_expiry() {
    let server = RedisServer::start();
    let shop = RedisStore::builder(server.url())
        .prefix("shop:")
        .connect()
        .await
        .unwrap();
    let other = connect(&server).await;
    assert_eq!(other.prefix(), "mpp:");

    assert!(shop.claim("k", HOUR).await.unwrap());
    assert!(other.claim("k", HOUR).await.unwrap(), "prefixes isolate");
    assert!(!shop.claim("k", HOUR).await.unwrap());

    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .unwrap();
    keys.sort();
    assert_eq!(keys, ["mpp:k", "shop:k"]);
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg("shop:k")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((3_590_000..=3_600_000).contains(&ttl_ms), "PTTL {ttl_ms}");
}

#[tokio::test]
async fn release_lets_a_key_be_claimed_again() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    assert!(store.claim("k", HOUR).await.unwrap());
    store.release("k").await.unwrap();
    assert!(store.claim("k", HOUR).await.unwrap());
    assert!(!store.claim("k", HOUR).await.unwrap());
    store.release("never-claimed").await.unwrap();
}

#[tokio::test]
async fn a_password_in_the_url_authenticates_and_never_shows() {
    let server = RedisServer::start_with(&["--requirepass", "hunter2"]);
    let port = server.port();
    for url in [
        format!("redis://:hunter2@127.0.0.1:{port}"),
        format!("redis://default:hunter2@127.0.0.1:{port}/0"),
    ] {
        let builder = RedisStore::builder(url.as_str());
        assert!(!format!("{builder:?}").contains("hunter2"));
        let store = builder.connect().await.expect("connect with the password");
        let debug = format!("{store:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains(&format!("***@127.0.0.1:{port}")), "{debug}");
        store.claim("k", HOUR).await.unwrap();
    }

    let started = Instant::now();
    let wrong = RedisStore::connect(&format!("redis://:wrong@127.0.0.1:{port}")).await;
    assert!(started.elapsed() < Duration::from_secs(1), "fails fast");
    let error = wrong.expect_err("a wrong password is refused");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert!(!format!("{error:?}").contains("wrong@"));

    // Without a password the server refuses the first command.
    let anonymous = RedisStore::connect(&server.url()).await;
    let error = anonymous.expect_err("connecting without the password fails");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_fail_while_redis_is_down_and_resume_when_it_is_back() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(500);
    let store = RedisStore::builder(server.url())
        .timeout(timeout)
        .connect()
        .await
        .unwrap();
    assert!(store.claim("before", HOUR).await.unwrap());

    server.stop();
    for i in 0..5 {
        let started = Instant::now();
        let result = store.claim(&format!("down-{i}"), HOUR).await;
        let took = started.elapsed();
        let error = result.expect_err("a claim while Redis is down is an error");
        assert!(
            matches!(
                error.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{error:?}"
        );
        eprintln!("claim {i} while down: {:?} after {took:?}", error.kind());
        assert!(took < timeout + Duration::from_millis(250), "took {took:?}");
    }
    assert!(store.release("before").await.is_err());

    server.restart();
    let restarted = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    let resumed = loop {
        match store.claim("after", HOUR).await {
            Ok(won) => break won,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("no service 10 s after Redis came back: {error:?}"),
        }
    };
    eprintln!(
        "service resumed {:?} after the restart",
        restarted.elapsed()
    );
    assert!(resumed);
    assert!(!store.claim("after", HOUR).await.unwrap());
}

#[tokio::test]
async fn connecting_to_nothing_is_an_error_within_the_connect_timeout() {
    let port = {
        let server = RedisServer::start();
        server.port()
    };
    let started = Instant::now();
    let result = RedisStore::builder(format!("redis://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await;
    let error = result.expect_err("nothing listens");
    assert!(
        matches!(
            error.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_malformed_url_or_zero_timeout_is_a_configuration_error() {
    for url in ["", "http://127.0.0.1", "redis://127.0.0.1:notaport"] {
        let error = RedisStore::connect(url).await.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::InvalidConfig, "{url}");
    }
    let error = RedisStore::builder("redis://127.0.0.1")
        .timeout(Duration::ZERO)
        .connect()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::InvalidConfig);
}

#[test]
fn traits() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + Store>() {}
    assert_traits::<RedisStore>();
}

/// Counters (failed attempts, free proofs) are shared by every instance,
/// expire from their first increment, and count concurrent increments
/// exactly.
#[tokio::test]
async fn counters_are_shared_exact_and_expire() {
    let server = RedisServer::start();
    let (a, b) = (connect(&server).await, connect(&server).await);
    assert!(a.is_durable());
    let ttl = Duration::from_millis(300);
    assert_eq!(a.increment("n", ttl).await.unwrap(), 1);
    assert_eq!(b.increment("n", ttl).await.unwrap(), 2);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store.increment("n", ttl).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (3..53).collect::<Vec<u64>>());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a.increment("n", ttl).await.unwrap(), 1);
}

/// A bounded counter: adds while within its maximum, refuses past it (and
/// adds nothing), expires with the ttl of its first addition, and counts
/// exactly under concurrent additions.
#[tokio::test]
async fn a_bounded_counter_adds_within_its_maximum_atomically() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let long = Duration::from_secs(60);
    assert_eq!(
        store.add_within("b", 60, 100, long).await.unwrap(),
        Some(60)
    );
    assert_eq!(store.add_within("b", 41, 100, long).await.unwrap(), None);
    assert_eq!(
        store.add_within("b", 40, 100, long).await.unwrap(),
        Some(100)
    );
    assert_eq!(store.add_within("b", 101, 100, long).await.unwrap(), None);
    assert_eq!(
        store
            .add_within("s", 5, 100, Duration::from_millis(50))
            .await
            .unwrap(),
        Some(5)
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        store.add_within("s", 7, 100, long).await.unwrap(),
        Some(7),
        "expired"
    );

    // 200 additions of 1 toward a maximum of 150: exactly 150 succeed.
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.add_within("c", 1, 150, long).await.unwrap() })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(added, 150);
}

/// Kept responses stay within the cache's bound: a thousand of them in a
/// cache of about 20 KB leave the newest kept, the oldest evicted, and the
/// kept bytes within the bound.
#[tokio::test]
async fn the_response_cache_stays_within_its_bound() {
    use tower_mpp::store::{Begun, CachedResponse, RedisResponseCache, ResponseCache};

    let server = RedisServer::start();
    let store = connect(&server).await;
    let bound = 20_000;
    let cache = RedisResponseCache::new(&store).max_bytes(bound);
    let response = CachedResponse::new(
        200,
        vec![("payment-receipt".into(), "r".repeat(100))],
        bytes::Bytes::from("b".repeat(100)),
    );
    for i in 0..1000 {
        let key = format!("key-{i}");
        assert_eq!(cache.begin(&key, HOUR).await.unwrap(), Begun::New);
        cache.finish(&key, &response, HOUR).await.unwrap();
    }
    assert_eq!(
        cache.begin("key-999", HOUR).await.unwrap(),
        Begun::Done(response.clone()),
        "the newest is kept"
    );
    assert_eq!(
        cache.begin("key-0", HOUR).await.unwrap(),
        Begun::New,
        "the oldest was evicted"
    );
    cache.abandon("key-0").await.unwrap();

    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("mpp:replay:*")
        .query_async(&mut raw)
        .await
        .unwrap();
    let mut kept = 0;
    for key in &keys {
        let len: usize = redis::cmd("STRLEN")
            .arg(key)
            .query_async(&mut raw)
            .await
            .unwrap();
        kept += len;
    }
    assert!(kept <= bound, "{kept} bytes kept in {} keys", keys.len());
    assert!(keys.len() > 10, "the cache is used: {} keys", keys.len());
}

#[tokio::test]
async fn a_claimed_value_moves_on_by_compare_and_set_and_lapses() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    assert_eq!(store.claim_value("k", "lease:a", HOUR).await.unwrap(), None);
    let held = store.claim_value("k", "lease:b", HOUR).await.unwrap();
    assert_eq!(held.as_deref(), Some("lease:a"));
    assert!(
        !store
            .replace("k", "lease:b", Some("x"), HOUR)
            .await
            .unwrap()
    );
    assert!(
        store
            .replace("k", "lease:a", Some("settled:r"), HOUR)
            .await
            .unwrap()
    );
    let held = store.claim_value("k", "lease:b", HOUR).await.unwrap();
    assert_eq!(held.as_deref(), Some("settled:r"));
    assert!(
        store
            .replace("k", "settled:r", Some("1"), HOUR)
            .await
            .unwrap()
    );
    assert!(!store.claim("k", HOUR).await.unwrap());
    assert!(store.replace("k", "1", None, HOUR).await.unwrap());
    assert!(!store.replace("k", "1", None, HOUR).await.unwrap());
    // A lease lapses.
    let short = Duration::from_millis(50);
    assert_eq!(
        store.claim_value("k", "lease:c", short).await.unwrap(),
        None
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.claim_value("k", "lease:d", HOUR).await.unwrap(), None);
    // A plain claim reads as the used mark.
    assert!(store.claim("p", HOUR).await.unwrap());
    let held = store.claim_value("p", "lease:e", HOUR).await.unwrap();
    assert_eq!(held.as_deref(), Some("1"));
}

#[tokio::test]
async fn the_store_tells_how_redis_persists() {
    let dir = std::env::temp_dir().join(format!("tower-mpp-aof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap();
    for (args, expected) in [
        (&[][..], Persistence::None),
        (
            &["--appendonly", "yes", "--dir", dir][..],
            Persistence::AppendOnly,
        ),
        (
            &["--save", "900 1", "--dir", dir][..],
            Persistence::Snapshots,
        ),
        // A managed Redis that hides CONFIG: unknown, not an error.
        (
            &["--rename-command", "CONFIG", "\"\""][..],
            Persistence::Unknown,
        ),
    ] {
        let server = RedisServer::start_with(args);
        let store = connect(&server).await;
        assert_eq!(store.persistence(), expected, "{args:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
