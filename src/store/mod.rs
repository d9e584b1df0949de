//! The state payments share: single-use claims, payment channels and the
//! responses kept for retries. Nothing here knows a payment method: a
//! channel's accounting ([`ChannelState`], feature `tempo`) is the session
//! intent's, the same for every method that offers sessions.
//!
//! Challenges are stateless (see [`binding`](crate::binding)), so any server
//! instance can issue and check them. What must be shared is the memory of
//! which payment proofs were already used: a [`Store`] claims a key
//! atomically, once, for a time to live. The registry claims each settled
//! challenge; payment methods claim their own proofs (a transaction hash, a
//! signed proof) through the same store.
//!
//! A store failure fails the request closed: `503` with `Retry-After`, no
//! receipt, and the handler does not run.
//!
//! Two stores come with the crate:
//!
//! - [`MemoryStore`], the default: sharded and bounded, for one instance.
//! - `RedisStore` (feature `redis`): `SET key 1 NX PX ttl` on a shared Redis,
//!   for several instances behind a load balancer.
//!
//! # Several instances behind a load balancer
//!
//! No sticky sessions are needed: a challenge issued by one instance can be
//! paid at another. The instances must share
//!
//! - the secret ring (the same `MPP_SECRET_KEY`, and the same previous keys
//!   while rotating), so that each recognises the others' challenges;
//! - the realm and the payment methods' configuration, so that the echoed
//!   challenge matches what each instance expects;
//! - one `RedisStore`: the same Redis and the same key prefix, so that a
//!   credential presented to two instances at once settles once;
//! - a synchronised clock (NTP): each instance checks `expires` itself, and
//!   the claims' margin past expiry absorbs small skews.
//!
//! Any other backend implements [`Store`] and is wrapped in a
//! [`SharedStore`]. The time to live a caller passes must cover the whole
//! time the protected challenge could still be used (its expiry plus a
//! margin for clock skew): a claim that expires earlier lets its proof
//! settle again.

#[cfg(feature = "tempo")]
mod accounting;
#[cfg(feature = "tempo")]
mod channel;
#[cfg(all(feature = "tempo", feature = "redis"))]
mod channel_redis;
#[cfg(feature = "tempo")]
mod channel_watch;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_persistence;
#[cfg(feature = "redis")]
mod redis_record;
mod replay;
#[cfg(feature = "redis")]
mod replay_redis;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "redis")]
pub use self::redis_persistence::Persistence;
#[cfg(feature = "tempo")]
pub use accounting::{AccountingError, ChannelState, VoucherOutcome};
#[cfg(feature = "tempo")]
pub use channel::{
    Applied, Channel, ChannelStore, ChannelUpdate, MemoryChannelStore, SharedChannelStore,
    SignedVoucher, apply_update,
};
#[cfg(all(feature = "tempo", feature = "redis"))]
pub use channel_redis::RedisChannelStore;
#[cfg(feature = "tempo")]
pub use channel_watch::{ChannelWatch, DEFAULT_POLL_INTERVAL};
pub use memory::MemoryStore;
pub use replay::{
    Begun, CacheFuture, CachedResponse, DEFAULT_CACHE_BYTES, MemoryResponseCache, ResponseCache,
};
#[cfg(feature = "redis")]
pub use replay_redis::RedisResponseCache;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Atomic, expiring, single-use claims of string keys.
///
/// Implementations must be linearizable per key: of any number of concurrent
/// [`claim`](Store::claim)s of one unexpired key, exactly one returns
/// `Ok(true)`. A store that cannot tell whether a claim was recorded (a
/// timeout) returns an error, never `Ok(true)`: the request then fails
/// closed, and a proof is never settled twice.
///
/// # Extending the trait
///
/// Operations that later payment methods need (payment channels will need a
/// compare-and-set on a small record) will be added as provided methods
/// whose default returns [`StoreErrorKind::Unsupported`], so an
/// implementation written today stays valid; a method that needs such an
/// operation fails closed on a store that lacks it.
pub trait Store: Send + Sync + 'static {
    /// Claims `key` for `ttl`: `Ok(true)` if this caller won it, `Ok(false)`
    /// if it is already claimed and not yet expired.
    fn claim(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Releases a claim, so the key can be claimed again (for a payment that
    /// definitely did not happen). Releasing an unclaimed key is not an error.
    fn release(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds one to the counter `key` and returns its new value; a counter
    /// that did not exist (or expired) starts at 1 and lives for `ttl` from
    /// then (later increments do not extend it). The registry counts failed
    /// attempts per challenge with it.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`]; the registry
    /// then counts nothing (the limit is not enforced).
    fn increment(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = (key, ttl);
        std::future::ready(Err(StoreError::new(StoreErrorKind::Unsupported)))
    }

    /// Adds `amount` to the counter `key` unless the sum would exceed
    /// `max`: the new total, or `None` (nothing added). A counter that did
    /// not exist (or expired) starts at 0 and lives for `ttl` from its
    /// first addition. Budgets shared by instances count with it (the fee
    /// sponsor's, see `TempoChargeBuilder::sponsor_budget_store`); amounts
    /// up to 2^53 are exact in every store.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`].
    fn add_within(
        &self,
        key: &str,
        amount: u64,
        max: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        let _ = (key, amount, max, ttl);
        std::future::ready(Err(StoreError::new(StoreErrorKind::Unsupported)))
    }

    /// Claims `key` holding `value` for `ttl`: `Ok(None)` if this caller
    /// won it, else `Ok(Some(current))`, the value the key holds (`"1"`
    /// for a key taken with [`claim`](Store::claim)). `value` is never
    /// empty. The registry keeps a challenge's state in it: a short lease
    /// while its payment settles, then the settled receipt or the used
    /// mark.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`]; the registry
    /// then claims challenges with [`claim`](Store::claim) for their whole
    /// lifetime, and cannot hand a settled payment whose response was lost
    /// to the client's retry.
    fn claim_value(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send {
        let _ = (key, value, ttl);
        std::future::ready(Err(StoreError::new(StoreErrorKind::Unsupported)))
    }

    /// Replaces the value of `key` by `new`, living `ttl` from now, if it
    /// holds `expected` (and has not expired); with `new` `None`, deletes
    /// it. Whether it did: one atomic compare-and-set, so that of two
    /// instances moving a challenge on from one state only one succeeds.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`].
    fn replace(
        &self,
        key: &str,
        expected: &str,
        new: Option<&str>,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = (key, expected, new, ttl);
        std::future::ready(Err(StoreError::new(StoreErrorKind::Unsupported)))
    }

    /// Whether claims survive a restart of this server process (a shared
    /// Redis does; memory does not). Payment methods whose proofs could be
    /// presented again after a restart (a transfer with a fixed memo names
    /// no challenge) refuse to run on a store that does not, unless the
    /// deployer opts in. `false` by default.
    fn is_durable(&self) -> bool {
        false
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`Store`], for the registry's shared handle.
trait DynStore: Send + Sync + 'static {
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    fn increment<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn add_within<'a>(
        &'a self,
        key: &'a str,
        amount: u64,
        max: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;
    fn claim_value<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
    fn replace<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        new: Option<&'a str>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn is_durable(&self) -> bool;
}

impl<S: Store> DynStore for S {
    fn add_within<'a>(
        &'a self,
        key: &'a str,
        amount: u64,
        max: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(Store::add_within(self, key, amount, max, ttl))
    }

    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(Store::claim(self, key, ttl))
    }

    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(Store::release(self, key))
    }

    fn increment<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(Store::increment(self, key, ttl))
    }

    fn claim_value<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(Store::claim_value(self, key, value, ttl))
    }

    fn replace<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        new: Option<&'a str>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(Store::replace(self, key, expected, new, ttl))
    }

    fn is_durable(&self) -> bool {
        Store::is_durable(self)
    }
}

/// A cheaply cloneable handle to any [`Store`].
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<dyn DynStore>,
    name: &'static str,
}

impl SharedStore {
    /// Wraps a store.
    pub fn new<S: Store>(store: S) -> Self {
        Self {
            inner: Arc::new(store),
            name: std::any::type_name::<S>(),
        }
    }

    /// Claims `key` for `ttl`; see [`Store::claim`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.claim(key, ttl).await
    }

    /// Releases `key`; see [`Store::release`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn release(&self, key: &str) -> Result<(), StoreError> {
        self.inner.release(key).await
    }

    /// Adds one to the counter `key`; see [`Store::increment`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer, or does not count.
    pub async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        self.inner.increment(key, ttl).await
    }

    /// Adds to a bounded counter; see [`Store::add_within`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer, or does not count.
    pub async fn add_within(
        &self,
        key: &str,
        amount: u64,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError> {
        self.inner.add_within(key, amount, max, ttl).await
    }

    /// Claims `key` holding `value`; see [`Store::claim_value`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer, or keeps no values.
    pub async fn claim_value(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        self.inner.claim_value(key, value, ttl).await
    }

    /// Compare-and-set of a claimed key's value; see [`Store::replace`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer, or keeps no values.
    pub async fn replace(
        &self,
        key: &str,
        expected: &str,
        new: Option<&str>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.replace(key, expected, new, ttl).await
    }

    /// Whether claims survive a restart; see [`Store::is_durable`].
    pub fn is_durable(&self) -> bool {
        self.inner.is_durable()
    }
}

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedStore").field(&self.name).finish()
    }
}

/// Why a store could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The backend is unreachable or answered with an error.
    Unavailable,
    /// The backend did not answer in time.
    Timeout,
    /// The store is full and refuses new claims rather than forget live ones.
    CapacityExceeded,
    /// The store does not implement the operation (see [`Store`] on how the
    /// trait grows).
    Unsupported,
    /// The store's configuration is invalid, such as a malformed Redis URL.
    /// Returned when the store is built, not per request.
    InvalidConfig,
}

/// A store that could not answer. The request fails closed (`503`).
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// An error of `kind`.
    pub fn new(kind: StoreErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of `kind` caused by `source`.
    pub fn with_source(
        kind: StoreErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            StoreErrorKind::Unavailable => "the claim store is unavailable",
            StoreErrorKind::Timeout => "the claim store did not answer in time",
            StoreErrorKind::CapacityExceeded => "the claim store is full",
            StoreErrorKind::Unsupported => "the claim store does not support this operation",
            StoreErrorKind::InvalidConfig => "the claim store's configuration is invalid",
        })
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
