//! Claims shared by several server instances through Redis.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, RedisError, TlsCertificates, Value,
};

use super::redis_persistence::Persistence;
use super::{Store, StoreError, StoreErrorKind};

/// Redis refuses expiries past the year 292 million; a century is forever.
const MAX_TTL_MS: u64 = 100 * 366 * 24 * 3600 * 1000;

/// Single-use claims in Redis, for several instances behind a load balancer.
///
/// A claim is `SET <prefix><key> 1 NX PX <ttl in ms>`: Redis answers `OK` to
/// exactly one of any number of concurrent claims of a key, whichever
/// instance sends them. A release is `DEL <prefix><key>`. Every instance of
/// a service must use the same Redis, the same key prefix and the same
/// secret ring.
///
/// The connection is a [`ConnectionManager`] (connect from within a Tokio
/// runtime): one multiplexed connection, cheap to clone, that reconnects in
/// the background after a failure, retrying at least every second. Every
/// call has a timeout. Errors are [`StoreError`]s with the Redis error as
/// their source: [`StoreErrorKind::Timeout`] when Redis did not answer in
/// time, [`StoreErrorKind::Unavailable`] otherwise. A claim that timed out
/// may still have been recorded; the request fails closed, and the key then
/// stays claimed until its time to live ends (the safe direction: a proof is
/// never settled twice).
///
/// TLS and authentication come from the URL: `rediss://` for TLS (verified
/// against the system's root certificates, or the authority given to
/// [`RedisStoreBuilder::root_certificate`]), `redis://user:password@host`
/// or `redis://:password@host` for a password, `/2` for database 2.
/// `Debug` never shows the credentials. For TLS, the redis crate's rustls
/// takes the process-wide crypto provider, which this library never
/// installs: the application installs the one it wants before a
/// `rediss://` store connects (`rustls::crypto::aws_lc_rs::default_provider()
/// .install_default()`, or `ring`'s), else [`connect`](RedisStoreBuilder::connect)
/// fails with [`StoreErrorKind::InvalidConfig`].
///
/// Times to live are rounded up to whole milliseconds (at least one) and
/// capped at a century.
///
/// # Configuring Redis
///
/// A claim that Redis forgets lets its proof settle again, so:
///
/// - `maxmemory-policy noeviction` (the default): every other policy may
///   evict live claims, which all carry an expiry. A full Redis then refuses
///   claims, and requests fail closed.
/// - Persistence (`appendonly yes`) if claims must survive a restart of
///   Redis; a restarted Redis without it has forgotten every claim.
/// - For a replicated Redis, point the URL at the primary: a failover can
///   lose the last claims written before it.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_mpp::store::{RedisStore, Store};
///
/// # async fn example() -> Result<(), tower_mpp::store::StoreError> {
/// let store = RedisStore::builder("rediss://:secret@redis.internal:6380/0")
///     .prefix("shop-api:mpp:")
///     .timeout(Duration::from_millis(500))
///     .connect()
///     .await?;
/// assert!(store.claim("proof-1", Duration::from_secs(600)).await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    client: Client,
    prefix: Arc<str>,
    timeout: Duration,
    server: Arc<str>,
    persistence: Persistence,
}

/// Configures and connects a [`RedisStore`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    root_certificate: Option<Vec<u8>>,
}

impl RedisStore {
    /// The key prefix of [`RedisStore::connect`].
    pub const DEFAULT_PREFIX: &'static str = "mpp:";
    /// The time each call may take, by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    /// The time connecting may take, by default.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Connects to the Redis at `url` with the default prefix and timeouts.
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::InvalidConfig`] for a malformed URL,
    /// [`StoreErrorKind::Timeout`] or [`StoreErrorKind::Unavailable`] when
    /// Redis cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for a store at `url`.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: Self::DEFAULT_PREFIX.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            root_certificate: None,
        }
    }

    /// The prefix of every key this store writes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The time each call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(super) async fn run(&self, command: &Cmd) -> Result<Value, StoreError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(redis_error(error)),
            Err(elapsed) => Err(StoreError::with_source(StoreErrorKind::Timeout, elapsed)),
        }
    }

    /// How the server keeps its data, as it said at connect time (a
    /// warning is logged, feature `tracing`, unless it writes an
    /// append-only file): claims a server forgets let payments already
    /// served be served again.
    pub fn persistence(&self) -> Persistence {
        self.persistence
    }

    #[cfg_attr(not(feature = "tempo"), allow(dead_code))]
    pub(super) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The client, for connections of their own (pub/sub).
    #[cfg_attr(not(feature = "tempo"), allow(dead_code))]
    pub(super) fn client(&self) -> Client {
        self.client.clone()
    }

    pub(super) fn key(&self, key: &str) -> String {
        let mut prefixed = String::with_capacity(self.prefix.len() + key.len());
        prefixed.push_str(&self.prefix);
        prefixed.push_str(key);
        prefixed
    }
}

impl Store for RedisStore {
    fn claim(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl));
        async move {
            match self.run(&command).await? {
                Value::Okay => Ok(true),
                Value::SimpleString(status) if status == "OK" => Ok(true),
                Value::Nil => Ok(false),
                _ => Err(StoreError::with_source(
                    StoreErrorKind::Unavailable,
                    UnexpectedReply,
                )),
            }
        }
    }

    fn release(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        async move { self.run(&command).await.map(drop) }
    }

    /// `INCR`, and the expiry set by the increment that created the key,
    /// in one script (atomic: a counter never lives without an expiry).
    fn increment(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let mut command = redis::cmd("EVAL");
        command
            .arg(INCREMENT_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(ttl_millis(ttl));
        async move {
            match self.run(&command).await? {
                Value::Int(count) => u64::try_from(count).map_err(|_| {
                    StoreError::with_source(StoreErrorKind::Unavailable, UnexpectedReply)
                }),
                _ => Err(StoreError::with_source(
                    StoreErrorKind::Unavailable,
                    UnexpectedReply,
                )),
            }
        }
    }

    /// One script: the sum checked against `max`, then `INCRBY`, and the
    /// expiry set by the addition that created the key.
    fn add_within(
        &self,
        key: &str,
        amount: u64,
        max: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        let mut command = redis::cmd("EVAL");
        command
            .arg(ADD_WITHIN_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(amount)
            .arg(max.min(MAX_EXACT))
            .arg(ttl_millis(ttl));
        async move {
            // Beyond what the script compares exactly: refused, never
            // counted short.
            if amount > MAX_EXACT {
                return Ok(None);
            }
            match self.run(&command).await? {
                Value::Int(-1) => Ok(None),
                Value::Int(total) => u64::try_from(total).map(Some).map_err(|_| {
                    StoreError::with_source(StoreErrorKind::Unavailable, UnexpectedReply)
                }),
                _ => Err(StoreError::with_source(
                    StoreErrorKind::Unavailable,
                    UnexpectedReply,
                )),
            }
        }
    }

    /// Redis keeps the claims of every instance across their restarts (and
    /// its own, with persistence: see "Configuring Redis").
    fn claim_value(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send {
        super::redis_record::claim_value(self, key, value, ttl)
    }

    fn replace(
        &self,
        key: &str,
        expected: &str,
        new: Option<&str>,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        super::redis_record::replace(self, key, expected, new, ttl)
    }

    fn is_durable(&self) -> bool {
        true
    }
}

/// The largest amount Lua's numbers (doubles) compare exactly: 2^53.
const MAX_EXACT: u64 = 1 << 53;

/// Adds `ARGV[1]` to `KEYS[1]` unless the sum would exceed `ARGV[2]`
/// (then -1), giving a new key the expiry `ARGV[3]` (ms); the new total.
const ADD_WITHIN_SCRIPT: &str = "local current = tonumber(redis.call('GET', KEYS[1]) or '0') \
if current + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end \
local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
if current == 0 and redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end \
return n";

/// Increments `KEYS[1]`, giving it the expiry `ARGV[1]` (ms) when new.
const INCREMENT_SCRIPT: &str = "local n = redis.call('INCR', KEYS[1]) \
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
return n";

impl RedisStoreBuilder {
    /// The prefix of every key the store writes (default `mpp:`), to share a
    /// Redis with other data or other services.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time each claim or release may take (default 1 s). A call that
    /// takes longer fails with [`StoreErrorKind::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time [`connect`](Self::connect) may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the certificate authority in `pem` (PEM) for `rediss://`
    /// URLs instead of the system's roots: for a Redis whose certificate a
    /// private authority signed.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Connects to Redis.
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::InvalidConfig`] for a malformed URL or root
    /// certificate, a zero timeout, or a `rediss://` URL while no rustls
    /// crypto provider is installed, [`StoreErrorKind::Timeout`] or
    /// [`StoreErrorKind::Unavailable`] when Redis cannot be reached or
    /// refuses the credentials (the store checks them with a `PING`).
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(StoreError::new(StoreErrorKind::InvalidConfig));
        }
        let client = match self.root_certificate {
            None => Client::open(self.url.as_str()),
            Some(root_cert) => Client::build_with_tls(
                self.url.as_str(),
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            ),
        }
        .map_err(|e| StoreError::with_source(StoreErrorKind::InvalidConfig, e))?;
        // The redis crate's rustls takes the process-wide provider, and
        // would install one itself: a choice for the application, which
        // may want another (installing a second one fails).
        if matches!(
            client.get_connection_info().addr(),
            ConnectionAddr::TcpTls { .. }
        ) && rustls::crypto::CryptoProvider::get_default().is_none()
        {
            return Err(StoreError::with_source(
                StoreErrorKind::InvalidConfig,
                NoCryptoProvider,
            ));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            // Retry soon enough that service resumes within about a second
            // of Redis coming back.
            .set_max_delay(Duration::from_secs(1));
        let probe_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connecting = async {
            // The manager retries any failure, a wrong password too: one
            // attempt first fails fast, with the server's own error.
            let mut probe = client
                .get_multiplexed_async_connection_with_config(&probe_config)
                .await?;
            redis::cmd("PING").query_async::<()>(&mut probe).await?;
            ConnectionManager::new_with_config(client.clone(), config).await
        };
        let connection = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(redis_error(error)),
            Err(elapsed) => return Err(StoreError::with_source(StoreErrorKind::Timeout, elapsed)),
        };
        let server = redact(&self.url);
        let persistence = Persistence::of(&mut connection.clone()).await;
        persistence.warn(&server);
        Ok(RedisStore {
            connection,
            client,
            prefix: self.prefix.into(),
            timeout: self.timeout,
            server: server.into(),
            persistence,
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("server", &redact(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("root_certificate", &self.root_certificate.is_some())
            .finish()
    }
}

/// A `rediss://` store was connected before the application installed a
/// process-wide rustls crypto provider.
#[derive(Debug)]
pub(super) struct NoCryptoProvider;

impl fmt::Display for NoCryptoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "rediss:// needs a process-wide rustls crypto provider, which this library \
             does not install: call `rustls::crypto::aws_lc_rs::default_provider()\
             .install_default()` (or ring's) at the start of main",
        )
    }
}

impl std::error::Error for NoCryptoProvider {}

/// Redis answered with a reply of an unexpected type.
#[derive(Debug)]
pub(super) struct UnexpectedReply;

impl fmt::Display for UnexpectedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redis answered with a reply of an unexpected type")
    }
}

impl std::error::Error for UnexpectedReply {}

pub(super) fn redis_error(error: RedisError) -> StoreError {
    let kind = if error.is_timeout() {
        StoreErrorKind::Timeout
    } else {
        StoreErrorKind::Unavailable
    };
    StoreError::with_source(kind, error)
}

/// `ttl` in whole milliseconds, rounded up, between 1 ms and a century.
pub(super) fn ttl_millis(ttl: Duration) -> u64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).map_or(MAX_TTL_MS, |ms| ms.clamp(1, MAX_TTL_MS))
}

/// The URL without credentials, query or fragment, for `Debug`. Everything
/// up to the last `@` goes, so a password with an unescaped `@`, `/` or `?`
/// cannot leak either.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((_, host)) => ("***@", host),
        None => ("", rest),
    };
    let host = host.split(['?', '#']).next().unwrap_or_default();
    format!("{scheme}://{userinfo}{host}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{MAX_TTL_MS, redact, ttl_millis};

    #[test]
    fn redact_drops_credentials_query_and_fragment() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://u:hunter2@h:1/2", "redis://***@h:1/2"),
            ("rediss://:hunter2@h", "rediss://***@h"),
            ("redis://u:hun@ter/?2@h#x", "redis://***@h"),
            ("redis://u:hunter?2@h", "redis://***@h"),
            (
                "redis+unix:///tmp/r.sock?pass=hunter2",
                "redis+unix:///tmp/r.sock",
            ),
            ("rediss://h/#insecure", "rediss://h/"),
            ("hunter2@h", "://***@h"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn ttls_round_up_to_milliseconds_within_bounds() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_secs(600)), 600_000);
        assert_eq!(ttl_millis(Duration::MAX), MAX_TTL_MS);
    }
}
