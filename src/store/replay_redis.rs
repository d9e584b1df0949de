//! [`RedisResponseCache`]: the responses kept for retries, in the Redis a
//! [`RedisStore`] uses, so a retry reaching another instance is answered
//! with the response the first one sent.

use std::time::Duration;

use redis::Value;

use super::redis::{RedisStore, UnexpectedReply, ttl_millis};
use super::replay::{Begun, CacheFuture, CachedResponse, DEFAULT_CACHE_BYTES, ResponseCache};
use super::{StoreError, StoreErrorKind};

/// A [`ResponseCache`] in Redis: one key per request (under the store's
/// prefix, then `replay:`), an empty value while in flight, then the
/// response as JSON until it expires.
///
/// Bounded in bytes ([`max_bytes`](Self::max_bytes)), so kept responses
/// cannot fill a Redis that also holds payment claims: an index of the
/// kept responses (`replay-index`, `replay-sizes`, `replay-bytes`) is
/// updated in the same script that keeps one, and the responses closest
/// to expiry (the oldest) are evicted to make room for a new one.
#[derive(Debug, Clone)]
pub struct RedisResponseCache {
    store: RedisStore,
    max_bytes: usize,
}

impl RedisResponseCache {
    /// The cache in `store`'s Redis, sharing its connection and prefix,
    /// of at most [`DEFAULT_CACHE_BYTES`].
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
            max_bytes: DEFAULT_CACHE_BYTES,
        }
    }

    /// At most about `max_bytes` of kept responses (their JSON, and their
    /// keys in the index), shared by every instance using this Redis and
    /// prefix: past it the oldest are evicted. A response larger than the
    /// whole bound is not kept.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    fn key(&self, key: &str) -> String {
        self.store.key(&format!("replay:{key}"))
    }
}

/// Keeps `ARGV[1]` under `KEYS[1]` for `ARGV[2]` ms within `ARGV[3]` bytes
/// in all: expired entries leave the index (`KEYS[2]`, a sorted set by
/// expiry; `KEYS[3]`, their sizes; `KEYS[4]`, the total), then the oldest
/// are evicted until the new one fits. Returns 1 when kept.
const FINISH_SCRIPT: &str = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) local size = string.len(ARGV[1]) + 2 * string.len(KEYS[1]) + 96 local max = tonumber(ARGV[3]) local total = tonumber(redis.call('GET', KEYS[4]) or '0') local function drop(member)   local s = redis.call('HGET', KEYS[3], member)   if s then total = total - tonumber(s) end   redis.call('HDEL', KEYS[3], member)   redis.call('ZREM', KEYS[2], member) end for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 128)) do   drop(member) end drop(KEYS[1]) local kept = 0 if size <= max then   while total + size > max do     local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)     if #oldest == 0 then total = 0 break end     drop(oldest[1])     redis.call('DEL', oldest[1])   end   redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])   redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[1])   redis.call('HSET', KEYS[3], KEYS[1], size)   total = total + size   kept = 1 else   redis.call('DEL', KEYS[1]) end if total < 0 then total = 0 end redis.call('SET', KEYS[4], total) return kept";

/// Returns `KEYS[1]`'s value, or sets it to `""` for `ARGV[1]` ms and
/// returns nil when it has none.
const BEGIN_SCRIPT: &str = "local v = redis.call('GET', KEYS[1]) \
if v then return v end \
redis.call('SET', KEYS[1], '', 'PX', ARGV[1]) \
return false";

/// Deletes `KEYS[1]` if it is still in flight (empty).
const ABANDON_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == '' then \
redis.call('DEL', KEYS[1]) end \
return 1";

fn unexpected() -> StoreError {
    StoreError::with_source(StoreErrorKind::Unavailable, UnexpectedReply)
}

impl ResponseCache for RedisResponseCache {
    fn begin<'a>(&'a self, key: &'a str, pending: Duration) -> CacheFuture<'a, Begun> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(BEGIN_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(ttl_millis(pending));
        Box::pin(async move {
            match self.store.run(&command).await? {
                Value::Nil => Ok(Begun::New),
                Value::BulkString(value) if value.is_empty() => Ok(Begun::InFlight),
                Value::BulkString(value) => serde_json::from_slice(&value)
                    .map(Begun::Done)
                    .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, e)),
                _ => Err(unexpected()),
            }
        })
    }

    fn finish<'a>(
        &'a self,
        key: &'a str,
        response: &'a CachedResponse,
        ttl: Duration,
    ) -> CacheFuture<'a, ()> {
        Box::pin(async move {
            let json = serde_json::to_vec(response)
                .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, e))?;
            let mut command = redis::cmd("EVAL");
            command
                .arg(FINISH_SCRIPT)
                .arg(4)
                .arg(self.key(key))
                .arg(self.store.key("replay-index"))
                .arg(self.store.key("replay-sizes"))
                .arg(self.store.key("replay-bytes"))
                .arg(json)
                .arg(ttl_millis(ttl))
                .arg(self.max_bytes);
            self.store.run(&command).await.map(drop)
        })
    }

    fn abandon<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()> {
        let mut command = redis::cmd("EVAL");
        command.arg(ABANDON_SCRIPT).arg(1).arg(self.key(key));
        Box::pin(async move { self.store.run(&command).await.map(drop) })
    }
}
