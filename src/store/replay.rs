//! Paid responses kept for retries that carry an `Idempotency-Key` (see
//! [`IdempotencyLayer`](crate::layer::IdempotencyLayer)): a
//! [`ResponseCache`] marks a request in flight, then keeps its response for
//! a time, so a retry is answered with it instead of being paid again.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StoreError;

/// A boxed future of a [`ResponseCache`].
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A response as a [`ResponseCache`] keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CachedResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order (names in lower case).
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub body: Bytes,
}

impl CachedResponse {
    /// A response of `status`, `headers` and `body`.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// About how many bytes it takes.
    pub fn size(&self) -> usize {
        self.headers
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum::<usize>()
            + self.body.len()
    }
}

impl fmt::Debug for CachedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedResponse")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("body", &self.body.len())
            .finish()
    }
}

fn to_base64<S: Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(body))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
    let text = String::deserialize(deserializer)?;
    STANDARD
        .decode(text)
        .map(Bytes::from)
        .map_err(serde::de::Error::custom)
}

/// What [`ResponseCache::begin`] found under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Nothing: the key is now marked in flight, for the caller to serve.
    New,
    /// Another request with this key is being served.
    InFlight,
    /// The response kept for the key.
    Done(CachedResponse),
}

/// Keeps paid responses by key for retries.
///
/// Implementations must be linearizable per key: of concurrent
/// [`begin`](Self::begin)s of one unknown key, exactly one returns
/// [`Begun::New`].
pub trait ResponseCache: Send + Sync + 'static {
    /// The response kept under `key`, or whether it is in flight; when
    /// neither, marks it in flight for `pending` and returns
    /// [`Begun::New`].
    fn begin<'a>(&'a self, key: &'a str, pending: Duration) -> CacheFuture<'a, Begun>;

    /// Keeps `response` under `key` for `ttl`.
    fn finish<'a>(
        &'a self,
        key: &'a str,
        response: &'a CachedResponse,
        ttl: Duration,
    ) -> CacheFuture<'a, ()>;

    /// Forgets `key` if it is still in flight (its request ended without a
    /// response to keep).
    fn abandon<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()>;
}

/// A [`ResponseCache`] in this process's memory, bounded in bytes: when
/// full, a new response is not kept (its retry is served, and paid, again).
#[derive(Debug)]
pub struct MemoryResponseCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, (Instant, Option<CachedResponse>)>,
    bytes: usize,
    /// When a full cache may look for expired entries again: at most once
    /// a second, so a cache full of live entries costs no scan per request.
    next_sweep: Option<Instant>,
}

/// The default bound of a [`MemoryResponseCache`]: 64 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

impl MemoryResponseCache {
    /// A cache of at most [`DEFAULT_CACHE_BYTES`].
    pub fn new() -> Self {
        Self::with_max_bytes(DEFAULT_CACHE_BYTES)
    }

    /// A cache of at most `max_bytes` of responses.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every change below is complete before it can panic.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryResponseCache {
    fn default() -> Self {
        Self::new()
    }
}

impl Entries {
    fn remove(&mut self, key: &str) {
        if let Some((_, Some(response))) = self.map.remove(key) {
            self.bytes -= response.size();
        }
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .map
            .iter()
            .filter(|(_, (until, _))| *until <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
    }
}

impl ResponseCache for MemoryResponseCache {
    fn begin<'a>(&'a self, key: &'a str, pending: Duration) -> CacheFuture<'a, Begun> {
        let now = Instant::now();
        let mut entries = self.lock();
        let found = match entries.map.get(key) {
            Some((until, _)) if *until <= now => None,
            Some((_, None)) => Some(Begun::InFlight),
            Some((_, Some(response))) => Some(Begun::Done(response.clone())),
            None => None,
        };
        let begun = found.unwrap_or_else(|| {
            entries.remove(key);
            entries.map.insert(key.to_owned(), (now + pending, None));
            Begun::New
        });
        Box::pin(std::future::ready(Ok(begun)))
    }

    fn finish<'a>(
        &'a self,
        key: &'a str,
        response: &'a CachedResponse,
        ttl: Duration,
    ) -> CacheFuture<'a, ()> {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.remove(key);
        if entries.bytes + response.size() > self.max_bytes
            && entries.next_sweep.is_none_or(|at| at <= now)
        {
            entries.sweep(now);
            entries.next_sweep = Some(now + Duration::from_secs(1));
        }
        if entries.bytes + response.size() <= self.max_bytes {
            entries.bytes += response.size();
            entries
                .map
                .insert(key.to_owned(), (now + ttl, Some(response.clone())));
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn abandon<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()> {
        let mut entries = self.lock();
        if matches!(entries.map.get(key), Some((_, None))) {
            entries.map.remove(key);
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static str) -> CachedResponse {
        CachedResponse::new(200, vec![("x".into(), "y".into())], Bytes::from(body))
    }

    fn begin(cache: &MemoryResponseCache, key: &str) -> Begun {
        let future = cache.begin(key, Duration::from_secs(60));
        futures_util::FutureExt::now_or_never(future)
            .unwrap()
            .unwrap()
    }

    fn run<T>(future: CacheFuture<'_, T>) -> T {
        futures_util::FutureExt::now_or_never(future)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_key_is_new_then_in_flight_then_done_and_abandoning_frees_it() {
        let cache = MemoryResponseCache::new();
        assert_eq!(begin(&cache, "a"), Begun::New);
        assert_eq!(begin(&cache, "a"), Begun::InFlight);
        run(cache.finish("a", &response("body"), Duration::from_secs(60)));
        assert_eq!(begin(&cache, "a"), Begun::Done(response("body")));
        run(cache.abandon("a"));
        assert_eq!(begin(&cache, "a"), Begun::Done(response("body")), "kept");
        assert_eq!(begin(&cache, "b"), Begun::New);
        run(cache.abandon("b"));
        assert_eq!(begin(&cache, "b"), Begun::New);
    }

    #[test]
    fn expired_entries_are_new_again_and_a_full_cache_keeps_nothing_more() {
        let cache = MemoryResponseCache::with_max_bytes(10);
        assert_eq!(begin(&cache, "a"), Begun::New);
        run(cache.finish("a", &response("12345678"), Duration::ZERO));
        assert_eq!(begin(&cache, "a"), Begun::New, "expired");
        run(cache.finish("a", &response("12345678"), Duration::from_secs(60)));
        assert_eq!(begin(&cache, "b"), Begun::New);
        run(cache.finish("b", &response("12345678"), Duration::from_secs(60)));
        assert_eq!(begin(&cache, "b"), Begun::New, "full: not kept");
        assert_eq!(begin(&cache, "a"), Begun::Done(response("12345678")));
    }

    #[test]
    fn a_response_round_trips_through_json() {
        let kept = CachedResponse::new(
            201,
            vec![("payment-receipt".into(), "abc".into())],
            Bytes::from_static(b"\x00\xffbinary"),
        );
        let text = serde_json::to_string(&kept).unwrap();
        assert_eq!(serde_json::from_str::<CachedResponse>(&text).unwrap(), kept);
    }
}
