//! `Payments`: the registry of payment methods and the challenge signer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::config_error::ConfigError;
use super::hooks::{NoHooks, PaymentHooks};
use super::limits::Limits;
use super::meter::Meter;
use super::offers::RequestCache;
use super::payment_method::{
    Management, MethodError, PaymentMethod, Settlement, Verification, VerifyError,
};
use super::price::Price;
use super::rejection::{ProblemResponder, RejectionResponder};
use crate::binding::{SecretError, SecretKey, SecretRing};
use crate::protocol::{Base64Json, DEFAULT_EXPIRY, Receipt, base64url, is_method_id};
use crate::store::{MemoryStore, SharedStore, Store};

/// The environment variables a realm is read from, in order. `HOSTNAME` is
/// deliberately absent: replicas would each sign a different realm.
pub const REALM_ENV_VARS: [&str; 7] = [
    "MPP_REALM",
    "FLY_APP_NAME",
    "HEROKU_APP_NAME",
    "RAILWAY_PUBLIC_DOMAIN",
    "RENDER_EXTERNAL_HOSTNAME",
    "VERCEL_URL",
    "WEBSITE_HOSTNAME",
];

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`PaymentMethod`]: one boxed future per verification.
pub(crate) trait DynMethod: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn intent(&self) -> &str;
    fn supports_intent(&self, intent: &str) -> bool;
    fn single_use_challenges(&self) -> bool;
    fn pins_request(&self, offered: &Base64Json, echoed: &Base64Json) -> bool;
    fn manage<'a>(
        &'a self,
        management: &'a Management<'a>,
    ) -> BoxFuture<'a, Result<Option<Settlement>, VerifyError>>;
    fn meter(
        &self,
        price: &Price,
        receipt: &Receipt,
    ) -> Result<Option<Arc<dyn Meter>>, MethodError>;
    fn request(
        &self,
        intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError>;
    fn verify<'a>(
        &'a self,
        verification: &'a Verification<'a>,
    ) -> BoxFuture<'a, Result<Settlement, VerifyError>>;
    fn needs_durable_store(&self) -> bool;
}

impl<M: PaymentMethod> DynMethod for M {
    fn name(&self) -> &str {
        PaymentMethod::name(self)
    }

    fn intent(&self) -> &str {
        PaymentMethod::intent(self)
    }

    fn supports_intent(&self, intent: &str) -> bool {
        PaymentMethod::supports_intent(self, intent)
    }

    fn single_use_challenges(&self) -> bool {
        PaymentMethod::single_use_challenges(self)
    }

    fn pins_request(&self, offered: &Base64Json, echoed: &Base64Json) -> bool {
        PaymentMethod::pins_request(self, offered, echoed)
    }

    fn manage<'a>(
        &'a self,
        management: &'a Management<'a>,
    ) -> BoxFuture<'a, Result<Option<Settlement>, VerifyError>> {
        Box::pin(PaymentMethod::manage(self, management))
    }

    fn meter(
        &self,
        price: &Price,
        receipt: &Receipt,
    ) -> Result<Option<Arc<dyn Meter>>, MethodError> {
        PaymentMethod::meter(self, price, receipt)
    }

    fn request(
        &self,
        intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError> {
        PaymentMethod::request(self, intent, price)
    }

    fn verify<'a>(
        &'a self,
        verification: &'a Verification<'a>,
    ) -> BoxFuture<'a, Result<Settlement, VerifyError>> {
        Box::pin(PaymentMethod::verify(self, verification))
    }

    fn needs_durable_store(&self) -> bool {
        PaymentMethod::needs_durable_store(self)
    }
}

/// The payment registry: realm, secrets, methods in preference order, the
/// claim store, hooks and the rejection responder. Cheap to clone.
///
/// Build it once at start-up with [`Payments::builder`]; hand it to a
/// [`PaymentLayer`](crate::layer::PaymentLayer).
#[derive(Clone)]
pub struct Payments {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) realm: String,
    pub(crate) secrets: SecretRing,
    pub(crate) expiry: Duration,
    pub(crate) methods: Vec<Arc<dyn DynMethod>>,
    pub(crate) store: SharedStore,
    pub(crate) hooks: Arc<dyn PaymentHooks>,
    pub(crate) responder: Arc<dyn RejectionResponder>,
    pub(crate) nonces: Nonces,
    pub(crate) requests: RequestCache,
    pub(crate) limits: Limits,
}

/// Challenge nonces: two clients asking for the same resource in the same
/// second must not receive the same challenge id, or the second to pay
/// would find it already used. A random per-process seed plus a counter is
/// unique across instances (with overwhelming probability) and costs no
/// system call per challenge.
pub(crate) struct Nonces {
    seed: [u8; 8],
    counter: AtomicU64,
}

impl Nonces {
    fn new() -> Self {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            // No OS randomness: the clock still separates processes.
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            let mixed = nanos ^ u128::from(std::process::id());
            seed.copy_from_slice(&mixed.to_le_bytes()[..8]);
        }
        Self {
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// The next nonce: 16 bytes, as 22 characters of base64url.
    pub(crate) fn next(&self) -> Nonce {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.seed);
        bytes[8..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let mut text = [0u8; 22];
        base64url::encode_to_slice(bytes, &mut text);
        Nonce(text)
    }
}

/// A challenge nonce, written without allocating.
pub(crate) struct Nonce([u8; 22]);

impl Nonce {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64url is ASCII")
    }
}

impl Payments {
    /// A builder.
    pub fn builder() -> PaymentsBuilder {
        PaymentsBuilder::default()
    }

    /// The realm challenges are issued for.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The method names, in preference order.
    pub fn method_names(&self) -> impl Iterator<Item = &str> {
        self.inner.methods.iter().map(|m| m.name())
    }

    /// The claim store.
    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// Whether `challenge` was issued by these payments: its id is the
    /// HMAC of its fields under one of the secrets, for this realm. The
    /// cheapest check of a credential, with no I/O.
    pub fn issued(&self, challenge: &crate::protocol::Challenge) -> bool {
        challenge.realm == self.inner.realm
            && self.inner.secrets.verify(
                &challenge.id,
                &crate::binding::BindingInput::from_challenge(challenge),
            )
    }
}

impl fmt::Debug for Payments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payments")
            .field("realm", &self.inner.realm)
            .field("secrets", &self.inner.secrets)
            .field("expiry", &self.inner.expiry)
            .field("methods", &self.method_names().collect::<Vec<_>>())
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// Builds [`Payments`]; every setting is checked by [`build`](Self::build).
#[must_use]
#[derive(Default)]
pub struct PaymentsBuilder {
    realm: Option<String>,
    secrets: Option<Result<SecretRing, SecretError>>,
    expiry: Option<Duration>,
    methods: Vec<Arc<dyn DynMethod>>,
    store: Option<SharedStore>,
    hooks: Option<Arc<dyn PaymentHooks>>,
    responder: Option<Arc<dyn RejectionResponder>>,
    limits: Limits,
}

impl PaymentsBuilder {
    /// The realm (protection space), e.g. `api.example.com`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The realm from the first set variable of [`REALM_ENV_VARS`], else
    /// `default`.
    pub fn realm_from_env(self, default: impl Into<String>) -> Self {
        let realm = detect_realm(|var| std::env::var(var).ok()).unwrap_or_else(|| default.into());
        self.realm(realm)
    }

    /// The challenge-binding secret (at least 32 bytes).
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets = Some(SecretKey::new(secret).map(SecretRing::new));
        self
    }

    /// A secret ring, for rotation.
    pub fn secret_ring(mut self, ring: SecretRing) -> Self {
        self.secrets = Some(Ok(ring));
        self
    }

    /// The secret from `MPP_SECRET_KEY` (and `MPP_SECRET_KEY_PREVIOUS`
    /// during a rotation).
    pub fn secret_from_env(mut self) -> Self {
        self.secrets = Some(SecretRing::from_env());
        self
    }

    /// How long challenges stay payable (default five minutes).
    pub fn expiry(mut self, expiry: Duration) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Adds a payment method; methods are offered in the order added.
    pub fn method<M: PaymentMethod>(mut self, method: M) -> Self {
        self.methods.push(Arc::new(method));
        self
    }

    /// The store for single-use claims (default: a bounded in-memory store,
    /// right for one instance; use a shared store behind a load balancer).
    pub fn store<S: Store>(mut self, store: S) -> Self {
        self.store = Some(SharedStore::new(store));
        self
    }

    /// Hooks for payment events.
    pub fn hooks<H: PaymentHooks>(mut self, hooks: H) -> Self {
        self.hooks = Some(Arc::new(hooks));
        self
    }

    /// How many failed verifications a challenge allows (default
    /// [`DEFAULT_MAX_FAILED_ATTEMPTS`]); after the last, the challenge is
    /// used up and the client must ask for a new one. Each attempt may cost
    /// the server RPC calls, and challenges are free. Counted in the store
    /// (a store without counters does not enforce it); failures that were
    /// the infrastructure's (`503`) do not count.
    ///
    /// [`DEFAULT_MAX_FAILED_ATTEMPTS`]: super::DEFAULT_MAX_FAILED_ATTEMPTS
    pub fn max_failed_attempts(mut self, attempts: u32) -> Self {
        self.limits.max_failed_attempts = attempts;
        self
    }

    /// At most `max` zero-amount (free) payments per `window`, across
    /// every instance sharing the store (default
    /// [`DEFAULT_FREE_CLAIMS`] per [`DEFAULT_FREE_WINDOW`]). Each holds a
    /// claim until its challenge expires, and costs the client only a
    /// signature: past the budget they wait (`503` with `Retry-After`), so
    /// they cannot fill the store and crowd out paid claims. With the
    /// default expiry the budget holds at most `max / window x 6 min`
    /// claims (72,000 by default, 7% of a default `MemoryStore`).
    ///
    /// [`DEFAULT_FREE_CLAIMS`]: super::DEFAULT_FREE_CLAIMS
    /// [`DEFAULT_FREE_WINDOW`]: super::DEFAULT_FREE_WINDOW
    pub fn free_claims(mut self, max: u64, window: Duration) -> Self {
        self.limits.free_claims = max;
        self.limits.free_window = window;
        self
    }

    /// Replaces the rejection responder (default: [`ProblemResponder`]).
    pub fn responder<R: RejectionResponder>(mut self, responder: R) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Checks the configuration and builds the registry.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing or empty realm or one a header cannot
    /// carry, a missing or short secret, no methods, a method name that is
    /// not lowercase letters or is registered twice, a zero expiry or
    /// limit, or a method that needs a durable store on one that is not.
    pub fn build(self) -> Result<Payments, ConfigError> {
        let realm = self.realm.ok_or(ConfigError::MissingRealm)?;
        if realm.is_empty() || !realm.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(ConfigError::InvalidRealm);
        }
        let secrets = self
            .secrets
            .ok_or(ConfigError::MissingSecret)?
            .map_err(ConfigError::Secret)?;
        let expiry = self.expiry.unwrap_or(DEFAULT_EXPIRY);
        if expiry.is_zero() {
            return Err(ConfigError::ZeroExpiry);
        }
        if self.methods.is_empty() {
            return Err(ConfigError::NoMethods);
        }
        if self.limits.max_failed_attempts == 0 || self.limits.free_window.is_zero() {
            return Err(ConfigError::ZeroLimit);
        }
        let store = self
            .store
            .unwrap_or_else(|| SharedStore::new(MemoryStore::default()));
        for (i, method) in self.methods.iter().enumerate() {
            let name = method.name();
            if method.needs_durable_store() && !store.is_durable() {
                return Err(ConfigError::VolatileStore(name.to_owned()));
            }
            if !is_method_id(name) {
                return Err(ConfigError::InvalidMethodName(name.to_owned()));
            }
            // One method per name and intent: `tempo` may be a charge and a
            // session side by side.
            if self.methods[..i]
                .iter()
                .any(|m| m.name() == name && m.intent() == method.intent())
            {
                return Err(ConfigError::DuplicateMethod(name.to_owned()));
            }
        }
        Ok(Payments {
            inner: Arc::new(Inner {
                realm,
                secrets,
                expiry,
                methods: self.methods,
                store,
                hooks: self.hooks.unwrap_or_else(|| Arc::new(NoHooks)),
                responder: self.responder.unwrap_or_else(|| Arc::new(ProblemResponder)),
                nonces: Nonces::new(),
                requests: RequestCache::default(),
                limits: self.limits,
            }),
        })
    }
}

/// The first non-blank value of [`REALM_ENV_VARS`], looked up with `lookup`.
fn detect_realm(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    REALM_ENV_VARS.iter().find_map(|var| {
        lookup(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

impl fmt::Debug for PaymentsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentsBuilder")
            .field("realm", &self.realm)
            .field(
                "methods",
                &self.methods.iter().map(|m| m.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_detection_follows_the_documented_order_and_skips_hostname() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(detect_realm(env(&[("HOSTNAME", "pod-7")])), None);
        assert_eq!(
            detect_realm(env(&[
                ("VERCEL_URL", "app.vercel.app"),
                ("FLY_APP_NAME", "fly-app")
            ]))
            .as_deref(),
            Some("fly-app")
        );
        assert_eq!(
            detect_realm(env(&[
                ("MPP_REALM", " api.example.com "),
                ("FLY_APP_NAME", "x")
            ]))
            .as_deref(),
            Some("api.example.com")
        );
        assert_eq!(
            detect_realm(env(&[
                ("MPP_REALM", "  "),
                ("WEBSITE_HOSTNAME", "site.azurewebsites.net")
            ]))
            .as_deref(),
            Some("site.azurewebsites.net")
        );
    }

    #[test]
    fn the_builder_refuses_unusable_configurations() {
        struct Named(&'static str);
        impl PaymentMethod for Named {
            fn name(&self) -> &str {
                self.0
            }
            fn request(
                &self,
                _: &str,
                _: &Price,
            ) -> Result<Option<Map<String, Value>>, MethodError> {
                Ok(None)
            }
            async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> {
                Err(VerifyError::failed("never"))
            }
        }
        let secret = "0123456789abcdef0123456789abcdef";
        let ok = || {
            Payments::builder()
                .realm("r")
                .secret(secret)
                .method(Named("tempo"))
        };
        assert!(ok().build().is_ok());
        assert!(matches!(
            Payments::builder()
                .secret(secret)
                .method(Named("a"))
                .build(),
            Err(ConfigError::MissingRealm)
        ));
        assert!(matches!(
            ok().realm("bad\nrealm").realm("caf\u{e9}").build(),
            Err(ConfigError::InvalidRealm)
        ));
        assert!(matches!(
            Payments::builder().realm("r").method(Named("a")).build(),
            Err(ConfigError::MissingSecret)
        ));
        assert!(matches!(
            ok().secret("short").build(),
            Err(ConfigError::Secret(SecretError::TooShort { len: 5 }))
        ));
        assert!(matches!(
            Payments::builder().realm("r").secret(secret).build(),
            Err(ConfigError::NoMethods)
        ));
        assert!(matches!(
            ok().method(Named("Tempo")).build(),
            Err(ConfigError::InvalidMethodName(_))
        ));
        assert!(matches!(
            ok().method(Named("tempo")).build(),
            Err(ConfigError::DuplicateMethod(_))
        ));
        assert!(matches!(
            ok().expiry(Duration::ZERO).build(),
            Err(ConfigError::ZeroExpiry)
        ));
        let debug = format!("{:?}", ok().build().unwrap());
        assert!(!debug.contains(secret), "{debug}");
    }
}
