//! The default store: in-process, sharded, bounded.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, ready};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Store, StoreError, StoreErrorKind};

/// At most this many shards, whatever the core count.
const MAX_SHARDS: usize = 64;
/// A shard holds at least this many keys, so small stores have few shards
/// and their bound stays exact in practice.
const MIN_SHARD_CAPACITY: usize = 1024;
/// Below this many entries a shard does not sweep for growth.
const MIN_SWEEP: usize = 64;

/// Single-use claims held in this process: the default store.
///
/// Right for one server instance. Several instances behind a load balancer
/// need a shared store (such as `RedisStore`, feature `redis`): claims held
/// here are invisible to other processes.
///
/// # Concurrency
///
/// Keys are spread by a randomly seeded hash over independent shards (a
/// power of two, up to four per core and at most 64), each a
/// `Mutex<HashMap>`: concurrent claims of different keys rarely meet, and a
/// claim holds one shard's lock for one map lookup and insertion. Claims of
/// one key are linearizable: exactly one of any concurrent claims of an
/// unexpired key wins.
///
/// # Keys are fingerprints
///
/// The store keeps a 128-bit fingerprint of each key (two SipHash-1-3
/// hashes under secret random keys), not the key itself: a claim allocates
/// nothing, and a key takes the same room whatever its length. Two distinct
/// keys share a fingerprint with a probability of 2<sup>-128</sup>, and the
/// hashes' keys are secret, so collisions cannot be provoked. A collision
/// could only refuse a claim, never let a key be claimed twice.
///
/// # Bounded memory
///
/// The store holds at most [`capacity`](MemoryStore::capacity) keys, split
/// evenly among the shards. A claim that would go past its shard's share
/// first reclaims that shard's expired keys; if none expired, it fails with
/// [`StoreErrorKind::CapacityExceeded`] (the request fails closed) rather
/// than forget a live claim, which would let a payment proof settle twice.
/// The keys are spread evenly, so refusals start only close to the total.
///
/// # Expiry
///
/// A key is claimed for its time to live, then a claim of it succeeds again.
/// Expired keys are reclaimed lazily, without a background task: a claim of
/// an expired key replaces it, and a shard sweeps out its expired keys
/// whenever it has doubled in size since its last sweep, is full, or its
/// table is about to rehash. The sweeps cost amortized constant time per
/// claim and keep memory within a small multiple of the live claims. A shard that is full of live keys skips the
/// sweep until its earliest key expires.
///
/// A key must live at least as long as the challenge it protects could
/// still be used: the registry passes the challenge's expiry plus a margin
/// as the time to live. A shorter time to live would let a proof be
/// claimed again while its challenge is still accepted.
///
/// A key takes 32 bytes (fingerprint, expiry and count) and a control byte
/// of a hash table. Between sweeps a shard holds up to twice its live keys,
/// and removed keys leave tombstones until the table rehashes, so the
/// tables settle at 2.3 to 4.6 slots per live key: 76 to 152 bytes per live
/// key, and at most about 150 bytes per key of capacity (150 MB at the
/// default capacity).
///
/// # Sizing
///
/// Each settled payment holds one key until its challenge expires (plus a
/// minute); pull and push payments one more for their transaction hash; a
/// challenge with failed attempts one counter. At the default five-minute
/// expiry, the default capacity carries about 3,000 settlements a second.
/// Free zero-amount proofs are the cheapest way to fill a store: the
/// registry caps the claims a route's free proofs may hold (see
/// `PaymentsBuilder::free_claims`), so they cannot crowd out paid ones.
///
/// Claims live in this process only: they are lost on a restart
/// ([`Store::is_durable`] is `false`). Use a shared `RedisStore` for
/// several instances, or where a restart must not reopen used proofs.
///
/// Cloning is cheap and the clones share their claims.
///
/// ```
/// use std::time::Duration;
/// use tower_mpp::store::{MemoryStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tower_mpp::store::StoreError> {
/// let store = MemoryStore::with_capacity(10_000);
/// let ttl = Duration::from_secs(600);
/// assert!(store.claim("proof-1", ttl).await?);
/// assert!(!store.claim("proof-1", ttl).await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Shard]>,
    /// `shards.len() - 1`; the shard count is a power of two.
    mask: u64,
    /// The two independent hashes of a fingerprint.
    hashers: [RandomState; 2],
    /// Expiries are nanoseconds since this instant.
    epoch: Instant,
    capacity: usize,
}

/// One lock and its keys, alone on its cache lines so that neighbouring
/// shards' locks do not contend through false sharing.
#[repr(align(128))]
struct Shard(Mutex<Entries>);

struct Entries {
    /// Each key with its expiry (a key is live while `now < expiry`) and,
    /// for a counter, its count.
    map: HashMap<Fingerprint, Slot, BuildHasherDefault<PassThrough>>,
    /// This shard's share of the store's capacity.
    capacity: usize,
    /// A lower bound of the expiries in `map`: nothing expired before it.
    earliest: u64,
    /// The size at which the next sweep for growth runs.
    sweep_at: usize,
    /// Keys inserted since the last sweep.
    inserted: usize,
    /// The values of the live keys in `map` that hold one other than a
    /// plain claim's `"1"` (a challenge's lease or settled receipt): few,
    /// and short-lived.
    values: HashMap<Fingerprint, Box<str>, BuildHasherDefault<PassThrough>>,
}

impl MemoryStore {
    /// The maximum number of keys of [`MemoryStore::new`].
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// A store of [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) keys.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store that holds at most `capacity` keys (a capacity of 0 refuses
    /// every claim).
    pub fn with_capacity(capacity: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let by_cores = cores.saturating_mul(4).min(MAX_SHARDS).next_power_of_two();
        let by_capacity = prev_power_of_two(capacity / MIN_SHARD_CAPACITY);
        let count = by_cores.min(by_capacity);
        let shards = (0..count)
            .map(|i| {
                let share = capacity / count + usize::from(i < capacity % count);
                Shard(Mutex::new(Entries::new(share)))
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                shards,
                mask: count as u64 - 1,
                hashers: [RandomState::new(), RandomState::new()],
                epoch: Instant::now(),
                capacity,
            }),
        }
    }

    /// The maximum number of keys this store holds.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// The number of keys held, counting expired keys not yet reclaimed.
    /// Locks each shard in turn: for monitoring, not for the hot path.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    /// Whether no key is held; see [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn claim_now(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.inner.now();
        let expiry = now.saturating_add(saturating_nanos(ttl));
        let (shard, key) = self.inner.locate(key);
        shard.lock().claim(key, now, expiry)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Store for MemoryStore {
    fn claim(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(self.claim_now(key, ttl))
    }

    fn release(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let (shard, key) = self.inner.locate(key);
        let mut entries = shard.lock();
        entries.map.remove(&key);
        entries.values.remove(&key);
        ready(Ok(()))
    }

    fn claim_value(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send {
        let now = self.inner.now();
        let expiry = now.saturating_add(saturating_nanos(ttl));
        let (shard, key) = self.inner.locate(key);
        ready(shard.lock().claim_value(key, value, now, expiry))
    }

    fn replace(
        &self,
        key: &str,
        expected: &str,
        new: Option<&str>,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let now = self.inner.now();
        let expiry = now.saturating_add(saturating_nanos(ttl));
        let (shard, key) = self.inner.locate(key);
        ready(Ok(shard.lock().replace(key, expected, new, now, expiry)))
    }

    fn increment(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let now = self.inner.now();
        let expiry = now.saturating_add(saturating_nanos(ttl));
        let (shard, key) = self.inner.locate(key);
        ready(shard.lock().bump(key, now, expiry))
    }

    fn add_within(
        &self,
        key: &str,
        amount: u64,
        max: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        let now = self.inner.now();
        let expiry = now.saturating_add(saturating_nanos(ttl));
        let (shard, key) = self.inner.locate(key);
        ready(shard.lock().add(key, amount, max, now, expiry))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.inner.capacity)
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn now(&self) -> u64 {
        saturating_nanos(self.epoch.elapsed())
    }

    /// The shard of `key`, and its fingerprint.
    fn locate(&self, key: &str) -> (&Shard, Fingerprint) {
        let [hash, check] = &self.hashers;
        let fingerprint = Fingerprint {
            hash: hash.hash_one(key),
            check: check.hash_one(key),
        };
        // The mask keeps the index below the shard count, which is a usize.
        #[allow(clippy::cast_possible_truncation)]
        let index = (fingerprint.check & self.mask) as usize;
        (&self.shards[index], fingerprint)
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Nothing panics while holding the lock, and a map interrupted by a
        // panic is still a valid map: a poisoned lock is safe to use.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Entries {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::default(),
            capacity,
            earliest: u64::MAX,
            sweep_at: MIN_SWEEP,
            inserted: 0,
            values: HashMap::default(),
        }
    }

    /// The value `key` holds at `now`, if it is live.
    fn value(&self, key: Fingerprint, now: u64) -> Option<&str> {
        let held = self.map.get(&key)?;
        (held.expiry > now).then(|| self.values.get(&key).map_or(CLAIMED, |v| &**v))
    }

    /// Claims `key` holding `value` until `expiry`; see `Store::claim_value`.
    fn claim_value(
        &mut self,
        key: Fingerprint,
        value: &str,
        now: u64,
        expiry: u64,
    ) -> Result<Option<String>, StoreError> {
        if let Some(current) = self.value(key, now) {
            return Ok(Some(current.to_owned()));
        }
        self.add(key, 1, u64::MAX, now, expiry)?;
        self.set_value(key, value);
        Ok(None)
    }

    /// Compare-and-set of `key`'s value; see `Store::replace`.
    fn replace(
        &mut self,
        key: Fingerprint,
        expected: &str,
        new: Option<&str>,
        now: u64,
        expiry: u64,
    ) -> bool {
        if self.value(key, now) != Some(expected) {
            return false;
        }
        match new {
            None => {
                self.map.remove(&key);
                self.values.remove(&key);
            }
            Some(new) => {
                self.map.insert(key, Slot { expiry, count: 1 });
                self.earliest = self.earliest.min(expiry);
                self.set_value(key, new);
            }
        }
        true
    }

    fn set_value(&mut self, key: Fingerprint, value: &str) {
        if value == CLAIMED {
            self.values.remove(&key);
        } else {
            self.values.insert(key, value.into());
        }
    }

    /// Claims `key` until `expiry`, at time `now`.
    fn claim(&mut self, key: Fingerprint, now: u64, expiry: u64) -> Result<bool, StoreError> {
        self.bump(key, now, expiry).map(|count| count == 1)
    }

    /// Adds one to the count of `key` (a claim is a count of 1), which
    /// starts at 1 and lives until `expiry` when the key is new or expired.
    fn bump(&mut self, key: Fingerprint, now: u64, expiry: u64) -> Result<u64, StoreError> {
        self.add(key, 1, u64::MAX, now, expiry)
            .map(|count| count.unwrap_or(u64::MAX))
    }

    /// Adds `amount` to the count of `key` unless it would exceed `max`
    /// (`None`); a new or expired key starts at 0 and lives until `expiry`.
    fn add(
        &mut self,
        key: Fingerprint,
        amount: u64,
        max: u64,
        now: u64,
        expiry: u64,
    ) -> Result<Option<u64>, StoreError> {
        if let Some(held) = self.map.get_mut(&key) {
            if held.expiry > now {
                return Ok(match held.count.checked_add(amount) {
                    Some(total) if total <= max => {
                        held.count = total;
                        Some(total)
                    }
                    _ if max == u64::MAX => {
                        held.count = u64::MAX;
                        Some(u64::MAX)
                    }
                    _ => None,
                });
            }
            if amount > max {
                return Ok(None);
            }
            self.values.remove(&key);
            *held = Slot {
                expiry,
                count: amount,
            };
        } else {
            if amount > max {
                return Ok(None);
            }
            let len = self.map.len();
            // Removed keys leave tombstones that use up the table's room;
            // when it runs out, the table rehashes, in place if at most half
            // full, else into a table twice the size. Sweeping just before
            // (unless the last sweep was recent) keeps it in place.
            let rehashing = len >= self.map.capacity() && self.inserted >= len / 4;
            if len >= self.sweep_at || len >= self.capacity || rehashing {
                self.sweep(now);
            }
            if self.map.len() >= self.capacity {
                return Err(StoreError::new(StoreErrorKind::CapacityExceeded));
            }
            self.map.insert(
                key,
                Slot {
                    expiry,
                    count: amount,
                },
            );
            self.inserted += 1;
        }
        self.earliest = self.earliest.min(expiry);
        Ok(Some(amount))
    }

    /// Drops the keys expired at `now`, unless none can have expired.
    fn sweep(&mut self, now: u64) {
        if self.earliest <= now {
            let mut earliest = u64::MAX;
            self.map.retain(|_, &mut Slot { expiry, .. }| {
                let live = expiry > now;
                if live {
                    earliest = earliest.min(expiry);
                }
                live
            });
            self.earliest = earliest;
            if !self.values.is_empty() {
                let map = &self.map;
                self.values.retain(|key, _| map.contains_key(key));
            }
        }
        self.sweep_at = self.map.len().saturating_mul(2).max(MIN_SWEEP);
        self.inserted = 0;
    }
}

/// The value of a key taken by a plain claim.
const CLAIMED: &str = "1";

/// A key's expiry and count.
#[derive(Clone, Copy)]
struct Slot {
    expiry: u64,
    count: u64,
}

/// Two independent keyed hashes of a key. `check` picks the key's shard,
/// `hash` its place in the shard's table, so neither skews the other.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    hash: u64,
    check: u64,
}

impl Hash for Fingerprint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A fingerprint is already a keyed hash: the table uses it as it is.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Fingerprints only write a u64; this is for completeness.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The largest power of two not above `n`, and 1 for 0.
fn prev_power_of_two(n: usize) -> usize {
    if n <= 1 { 1 } else { 1 << n.ilog2() }
}

#[cfg(test)]
mod tests;
