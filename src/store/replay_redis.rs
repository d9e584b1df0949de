//! [`RedisResponseCache`]: the responses kept for retries, in the Redis a
//! [`RedisStore`] uses, so a retry reaching another instance is answered
//! with the response the first one sent.

use std::time::Duration;

use redis::Value;

use super::redis::{RedisStore, UnexpectedReply, ttl_millis};
use super::replay::{Begun, CacheFuture, CachedResponse, ResponseCache};
use super::{StoreError, StoreErrorKind};

/// A [`ResponseCache`] in Redis: one key per request (under the store's
/// prefix, then `replay:`), an empty value while in flight, then the
/// response as JSON until it expires.
#[derive(Debug, Clone)]
pub struct RedisResponseCache {
    store: RedisStore,
}

impl RedisResponseCache {
    /// The cache in `store`'s Redis, sharing its connection and prefix.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
        }
    }

    fn key(&self, key: &str) -> String {
        self.store.key(&format!("replay:{key}"))
    }
}

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
            let mut command = redis::cmd("SET");
            command
                .arg(self.key(key))
                .arg(json)
                .arg("PX")
                .arg(ttl_millis(ttl));
            self.store.run(&command).await.map(drop)
        })
    }

    fn abandon<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()> {
        let mut command = redis::cmd("EVAL");
        command.arg(ABANDON_SCRIPT).arg(1).arg(self.key(key));
        Box::pin(async move { self.store.run(&command).await.map(drop) })
    }
}
