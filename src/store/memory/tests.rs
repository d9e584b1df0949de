use std::time::Duration;

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use super::{
    Entries, Fingerprint, MIN_SHARD_CAPACITY, MIN_SWEEP, MemoryStore, Slot, prev_power_of_two,
};
use crate::store::{Store, StoreErrorKind};

const HOUR: Duration = Duration::from_secs(3600);

/// A deterministic fingerprint, for the shard-level tests.
fn fp(key: &str) -> Fingerprint {
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    Fingerprint {
        hash,
        check: hash.rotate_left(32),
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    // The memory store's futures are ready at once.
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("a memory store future was pending"),
    }
}

fn claim(store: &MemoryStore, key: &str, ttl: Duration) -> bool {
    block_on(store.claim(key, ttl)).expect("claim")
}

#[test]
fn a_key_is_won_once_until_it_expires() {
    let mut entries = Entries::new(10);
    assert!(entries.claim(fp("a"), 0, 100).unwrap());
    assert!(!entries.claim(fp("a"), 50, 150).unwrap());
    assert!(!entries.claim(fp("a"), 99, 199).unwrap());
    assert!(
        entries.claim(fp("a"), 100, 200).unwrap(),
        "expired at its expiry"
    );
    assert!(!entries.claim(fp("a"), 150, 250).unwrap());
}

#[test]
fn a_full_shard_reclaims_expired_keys_before_refusing() {
    let mut entries = Entries::new(3);
    assert!(entries.claim(fp("a"), 0, 10).unwrap());
    assert!(entries.claim(fp("b"), 0, 20).unwrap());
    assert!(entries.claim(fp("c"), 0, 30).unwrap());
    let full = entries.claim(fp("d"), 5, 100).unwrap_err();
    assert_eq!(full.kind(), StoreErrorKind::CapacityExceeded);
    // The live keys were not forgotten.
    for key in ["a", "b", "c"] {
        assert!(
            !entries.claim(fp(key), 5, 100).unwrap(),
            "{key} was forgotten"
        );
    }
    // At 10, "a" has expired: its room goes to "d".
    assert!(entries.claim(fp("d"), 10, 100).unwrap());
    assert_eq!(entries.map.len(), 3);
    assert!(!entries.map.contains_key(&fp("a")));
    assert_eq!(
        entries.claim(fp("e"), 10, 100).unwrap_err().kind(),
        StoreErrorKind::CapacityExceeded
    );
    assert_eq!(
        entries.earliest, 20,
        "the sweep recomputed the earliest expiry"
    );
}

#[test]
fn sweeps_keep_memory_near_the_live_keys() {
    // A steady stream of fresh keys, each live for 100 ticks: about 100
    // live keys at any time.
    let mut entries = Entries::new(usize::MAX);
    let mut largest = 0;
    for now in 0..100_000_u64 {
        assert!(entries.claim(fp(&now.to_string()), now, now + 100).unwrap());
        largest = largest.max(entries.map.len());
    }
    assert!(largest <= MIN_SWEEP.max(2 * 100) + 1, "grew to {largest}");
}

#[test]
fn tombstones_do_not_double_the_table() {
    // About 1000 live keys, held up to 2000 between sweeps: std's table
    // (hashbrown) of 4096 buckets, with room for 3584 keys, suffices if its
    // rehashes stay in place.
    let mut entries = Entries::new(usize::MAX);
    let mut largest = 0;
    for now in 0..300_000_u64 {
        entries
            .claim(fp(&now.to_string()), now, now + 1000)
            .unwrap();
        largest = largest.max(entries.map.capacity());
    }
    assert!(largest <= 3584, "the table grew to room for {largest}");
}

#[test]
fn a_shard_full_of_live_keys_does_not_rescan_them() {
    let mut entries = Entries::new(2);
    entries.claim(fp("a"), 0, 100).unwrap();
    entries.claim(fp("b"), 0, 200).unwrap();
    assert!(entries.claim(fp("c"), 1, 300).is_err());
    assert_eq!(entries.earliest, 100);
    // Nothing can have expired before 100, so the sweep is skipped: the
    // sentinel below would be reclaimed by a scan.
    entries.map.insert(
        fp("stale"),
        Slot {
            expiry: 0,
            count: 1,
        },
    );
    assert!(entries.claim(fp("c"), 2, 300).is_err());
    assert!(entries.map.contains_key(&fp("stale")));
}

#[test]
fn the_capacity_is_split_exactly_among_the_shards() {
    for capacity in [0, 1, 100, 1023, 1024, 5000, 65_537, 1_000_000] {
        let store = MemoryStore::with_capacity(capacity);
        let shards = &store.inner.shards;
        assert!(shards.len().is_power_of_two());
        assert!(shards.len() == 1 || capacity / shards.len() >= MIN_SHARD_CAPACITY);
        let total: usize = shards.iter().map(|s| s.lock().capacity).sum();
        assert_eq!(total, capacity);
        assert_eq!(store.capacity(), capacity);
    }
}

#[test]
fn claims_through_the_store() {
    let store = MemoryStore::with_capacity(100);
    assert!(store.is_empty());
    assert!(claim(&store, "k", HOUR));
    assert!(!claim(&store, "k", HOUR));
    assert!(
        !claim(&store.clone(), "k", HOUR),
        "clones share their claims"
    );
    assert_eq!(store.len(), 1);

    block_on(store.release("k")).unwrap();
    block_on(store.release("never claimed")).unwrap();
    assert!(claim(&store, "k", HOUR), "a released key is claimed again");
}

#[test]
fn a_zero_capacity_refuses_every_claim() {
    let store = MemoryStore::with_capacity(0);
    let error = block_on(store.claim("k", HOUR)).unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::CapacityExceeded);
}

#[test]
fn extreme_ttls() {
    let store = MemoryStore::with_capacity(10);
    assert!(claim(&store, "zero", Duration::ZERO));
    assert!(
        claim(&store, "zero", Duration::ZERO),
        "a zero TTL holds nothing"
    );
    assert!(claim(&store, "forever", Duration::MAX));
    assert!(!claim(&store, "forever", Duration::MAX));
}

#[test]
fn keys_of_any_length_are_told_apart() {
    let store = MemoryStore::with_capacity(100_000);
    let long = "x".repeat(100_000);
    let keys = ["", "a", "b", "ab", "ba", &long, &long[1..]];
    for key in keys {
        assert!(claim(&store, key, HOUR), "{key:.8}");
    }
    for key in keys {
        assert!(!claim(&store, key, HOUR), "{key:.8}");
    }
    for n in 0..50_000_u32 {
        assert!(claim(&store, &n.to_string(), HOUR), "{n}");
    }
}

#[test]
fn prev_power_of_two_rounds_down() {
    assert_eq!(prev_power_of_two(0), 1);
    assert_eq!(prev_power_of_two(1), 1);
    assert_eq!(prev_power_of_two(3), 2);
    assert_eq!(prev_power_of_two(64), 64);
    assert_eq!(prev_power_of_two(1000), 512);
}

#[test]
fn debug_shows_the_bound() {
    let debug = format!("{:?}", MemoryStore::with_capacity(5));
    assert_eq!(debug, "MemoryStore { capacity: 5, shards: 1, .. }");
}

#[test]
fn traits() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug + Default>() {}
    assert_send_sync::<MemoryStore>();
}

#[tokio::test]
async fn counters_count_until_they_expire() {
    let store = MemoryStore::with_capacity(1_024);
    let ttl = Duration::from_millis(50);
    assert_eq!(store.increment("n", ttl).await.unwrap(), 1);
    assert_eq!(store.increment("n", ttl).await.unwrap(), 2);
    assert_eq!(store.increment("m", ttl).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(store.increment("n", ttl).await.unwrap(), 1);
    assert!(!Store::is_durable(&store));
}

/// A bounded counter adds while the sum stays within its maximum, refuses
/// (adding nothing) past it, and starts again at 0 once expired.
#[test]
fn a_bounded_counter_adds_within_its_maximum_until_it_expires() {
    let store = MemoryStore::new();
    let add = |amount, ttl| block_on(store.add_within("budget", amount, 100, ttl)).unwrap();
    let long = Duration::from_secs(60);
    assert_eq!(add(60, long), Some(60));
    assert_eq!(add(41, long), None, "61 + 41 > 100: nothing added");
    assert_eq!(add(40, long), Some(100));
    assert_eq!(add(1, long), None);
    assert_eq!(add(101, long), None);
    let fresh = |amount, ttl| block_on(store.add_within("short", amount, 100, ttl)).unwrap();
    assert_eq!(fresh(100, Duration::from_millis(20)), Some(100));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(fresh(30, long), Some(30), "expired: from 0 again");
    assert_eq!(
        block_on(store.increment("budget", long)).unwrap(),
        101,
        "the same counter as increment"
    );
}

#[test]
fn a_claimed_value_moves_on_by_compare_and_set_and_lapses() {
    let store = MemoryStore::with_capacity(MIN_SHARD_CAPACITY);
    let value = |key, value, ttl| block_on(store.claim_value(key, value, ttl)).unwrap();
    let replace =
        |key, expected, new, ttl| block_on(store.replace(key, expected, new, ttl)).unwrap();
    assert_eq!(value("k", "lease:a", HOUR), None);
    assert_eq!(value("k", "lease:b", HOUR).as_deref(), Some("lease:a"));
    assert!(!replace("k", "lease:b", Some("x"), HOUR));
    assert!(replace("k", "lease:a", Some("settled:r"), HOUR));
    assert_eq!(value("k", "lease:b", HOUR).as_deref(), Some("settled:r"));
    assert!(replace("k", "settled:r", Some("1"), HOUR));
    assert!(!claim(&store, "k", HOUR));
    assert_eq!(value("k", "lease:b", HOUR).as_deref(), Some("1"));
    assert!(replace("k", "1", None, HOUR));
    assert!(!replace("k", "1", None, HOUR));
    // A lease lapses.
    assert_eq!(value("k", "lease:c", Duration::from_millis(20)), None);
    std::thread::sleep(Duration::from_millis(40));
    assert!(!replace("k", "lease:c", Some("1"), HOUR));
    assert_eq!(value("k", "lease:d", HOUR), None);
    // A plain claim reads as the used mark.
    assert!(claim(&store, "p", HOUR));
    assert_eq!(value("p", "lease:e", HOUR).as_deref(), Some("1"));
    // Expired values are swept with their keys.
    assert!(block_on(store.release("k")).is_ok());
    assert_eq!(value("k", "lease:f", HOUR), None);
}
