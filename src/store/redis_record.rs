//! A claim holding a value in Redis: the challenge states the registry
//! keeps (lease, settled receipt, used mark), each move one atomic script.

use std::time::Duration;

use redis::Value;

use super::redis::{RedisStore, UnexpectedReply, ttl_millis};
use super::{StoreError, StoreErrorKind};

/// Sets the key unless it is live; answers its value if it is.
const CLAIM_VALUE_SCRIPT: &str = "local v = redis.call('GET', KEYS[1]) \
if v then return v end \
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
return false";

/// Compare-and-set; an empty new value deletes the key.
const REPLACE_SCRIPT: &str = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end \
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) \
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end \
return 1";

pub(super) async fn claim_value(
    store: &RedisStore,
    key: &str,
    value: &str,
    ttl: Duration,
) -> Result<Option<String>, StoreError> {
    let mut command = redis::cmd("EVAL");
    command
        .arg(CLAIM_VALUE_SCRIPT)
        .arg(1)
        .arg(store.key(key))
        .arg(value)
        .arg(ttl_millis(ttl));
    match store.run(&command).await? {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, e)),
        _ => Err(StoreError::with_source(
            StoreErrorKind::Unavailable,
            UnexpectedReply,
        )),
    }
}

pub(super) async fn replace(
    store: &RedisStore,
    key: &str,
    expected: &str,
    new: Option<&str>,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let mut command = redis::cmd("EVAL");
    command
        .arg(REPLACE_SCRIPT)
        .arg(1)
        .arg(store.key(key))
        .arg(expected)
        .arg(new.unwrap_or_default())
        .arg(ttl_millis(ttl));
    match store.run(&command).await? {
        Value::Int(done) => Ok(done == 1),
        _ => Err(StoreError::with_source(
            StoreErrorKind::Unavailable,
            UnexpectedReply,
        )),
    }
}
