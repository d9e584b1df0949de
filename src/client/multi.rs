//! [`MultiProvider`]: several [`PaymentProvider`]s as one, each challenge
//! paid by the first that supports it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;
use reqwest::Url;

use super::error::PayError;
use super::policy::SpendingPolicy;
use super::provider::PaymentProvider;
use crate::protocol::{Challenge, Credential, ProblemDetails, Receipt};

type PayFuture<'a> = Pin<Box<dyn Future<Output = Result<Credential, PayError>> + Send + 'a>>;

/// [`PaymentProvider`] with its future boxed, so providers of different
/// types fit in one list.
trait DynProvider: Send + Sync {
    fn supports(&self, method: &str, intent: &str) -> bool;
    fn pay<'a>(&'a self, challenge: &'a Challenge) -> PayFuture<'a>;
    fn pay_for<'a>(&'a self, challenge: &'a Challenge, url: &'a Url) -> PayFuture<'a>;
    fn pay_within<'a>(
        &'a self,
        challenge: &'a Challenge,
        url: Option<&'a Url>,
        policy: &'a SpendingPolicy,
    ) -> PayFuture<'a>;
    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>);
    fn refused(
        &self,
        credential: &Credential,
        status: StatusCode,
        problem: Option<&ProblemDetails>,
    );
    fn accepts(&self) -> Vec<(String, String)>;
    fn accepts_realm(&self, realm: &str, host: &str) -> bool;
}

impl<P: PaymentProvider> DynProvider for P {
    fn supports(&self, method: &str, intent: &str) -> bool {
        PaymentProvider::supports(self, method, intent)
    }

    fn pay<'a>(&'a self, challenge: &'a Challenge) -> PayFuture<'a> {
        Box::pin(PaymentProvider::pay(self, challenge))
    }

    fn pay_for<'a>(&'a self, challenge: &'a Challenge, url: &'a Url) -> PayFuture<'a> {
        Box::pin(PaymentProvider::pay_for(self, challenge, url))
    }

    fn pay_within<'a>(
        &'a self,
        challenge: &'a Challenge,
        url: Option<&'a Url>,
        policy: &'a SpendingPolicy,
    ) -> PayFuture<'a> {
        Box::pin(PaymentProvider::pay_within(self, challenge, url, policy))
    }

    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>) {
        PaymentProvider::accepted(self, credential, receipt);
    }

    fn refused(
        &self,
        credential: &Credential,
        status: StatusCode,
        problem: Option<&ProblemDetails>,
    ) {
        PaymentProvider::refused(self, credential, status, problem);
    }

    fn accepts(&self) -> Vec<(String, String)> {
        PaymentProvider::accepts(self)
    }

    fn accepts_realm(&self, realm: &str, host: &str) -> bool {
        PaymentProvider::accepts_realm(self, realm, host)
    }
}

/// Several providers as one: each challenge goes to the first provider
/// (in the order added) that supports its method and intent.
///
/// Which challenge is paid: the first the server's `402` lists that a
/// provider supports. The server orders its offers, and reorders them by
/// the client's `Accept-Payment`, which lists every provider's
/// [`accepts`](PaymentProvider::accepts) at equal weight (the server's
/// order decides) or, after [`preferring_order`](Self::preferring_order),
/// at falling weights in the order the providers were added (the client's
/// order decides).
///
/// ```
/// # use tower_mpp::client::{PayError, PaymentProvider};
/// # use tower_mpp::protocol::{Challenge, Credential};
/// # struct Cards;
/// # impl PaymentProvider for Cards {
/// #     fn supports(&self, method: &str, _: &str) -> bool { method == "card" }
/// #     async fn pay(&self, _: &Challenge) -> Result<Credential, PayError> {
/// #         Err(PayError::invalid("declined"))
/// #     }
/// #     fn accepts(&self) -> Vec<(String, String)> { vec![("card".into(), "charge".into())] }
/// # }
/// use tower_mpp::client::MultiProvider;
///
/// let provider = MultiProvider::new().with(Cards);
/// assert!(provider.supports("card", "charge"));
/// assert!(!provider.supports("tempo", "charge"));
/// assert_eq!(provider.accepts(), [("card".to_owned(), "charge".to_owned())]);
/// ```
///
/// [`preferring_order`](Self::preferring_order) weights the second
/// provider's ranges below the first's:
///
/// ```
/// # use tower_mpp::client::{MultiProvider, PayError, PaymentProvider};
/// # use tower_mpp::protocol::{Challenge, Credential};
/// # struct Method(&'static str);
/// # impl PaymentProvider for Method {
/// #     fn supports(&self, method: &str, _: &str) -> bool { method == self.0 }
/// #     async fn pay(&self, _: &Challenge) -> Result<Credential, PayError> {
/// #         Err(PayError::invalid("declined"))
/// #     }
/// #     fn accepts(&self) -> Vec<(String, String)> { vec![(self.0.into(), "charge".into())] }
/// # }
/// let provider = MultiProvider::new()
///     .with(Method("evm"))
///     .with(Method("tempo"))
///     .preferring_order();
/// let pairs = provider.accepts();
/// assert_eq!(pairs[0], ("evm".to_owned(), "charge".to_owned()));
/// assert_eq!(pairs[1], ("tempo".to_owned(), "charge;q=0.9".to_owned()));
/// ```
#[derive(Clone, Default)]
pub struct MultiProvider {
    providers: Vec<Arc<dyn DynProvider>>,
    ranked: bool,
}

impl MultiProvider {
    /// No providers: supports nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `provider` after the ones already added.
    #[must_use]
    pub fn with<P: PaymentProvider + 'static>(mut self, provider: P) -> Self {
        self.providers.push(Arc::new(provider));
        self
    }

    /// Asks servers to prefer the providers' methods in the order added:
    /// `Accept-Payment` gives the first provider's ranges `q=1` and each
    /// next provider's 0.1 less (down to 0.1), so a server offering
    /// several of them lists the preferred first.
    #[must_use]
    pub fn preferring_order(mut self) -> Self {
        self.ranked = true;
        self
    }

    /// How many providers there are.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The first provider supporting `challenge`'s method and intent.
    fn provider_for(&self, challenge: &Challenge) -> Option<&Arc<dyn DynProvider>> {
        self.providers
            .iter()
            .find(|p| p.supports(&challenge.method, &challenge.intent))
    }
}

impl fmt::Debug for MultiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiProvider")
            .field("accepts", &PaymentProvider::accepts(self))
            .field("ranked", &self.ranked)
            .field("providers", &self.providers.len())
            .finish()
    }
}

impl PaymentProvider for MultiProvider {
    fn supports(&self, method: &str, intent: &str) -> bool {
        self.providers.iter().any(|p| p.supports(method, intent))
    }

    fn pay(
        &self,
        challenge: &Challenge,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        let provider = self.provider_for(challenge);
        async move {
            match provider {
                Some(provider) => provider.pay(challenge).await,
                None => Err(PayError::unsupported(challenge)),
            }
        }
    }

    fn pay_for(
        &self,
        challenge: &Challenge,
        url: &Url,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        let provider = self.provider_for(challenge);
        async move {
            match provider {
                Some(provider) => provider.pay_for(challenge, url).await,
                None => Err(PayError::unsupported(challenge)),
            }
        }
    }

    /// The policy goes to the provider that pays: a session's deposits
    /// count against it there.
    fn pay_within(
        &self,
        challenge: &Challenge,
        url: Option<&Url>,
        policy: &SpendingPolicy,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        let provider = self.provider_for(challenge);
        async move {
            match provider {
                Some(provider) => provider.pay_within(challenge, url, policy).await,
                None => Err(PayError::unsupported(challenge)),
            }
        }
    }

    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>) {
        if let Some(provider) = self.provider_for(&credential.challenge) {
            provider.accepted(credential, receipt);
        }
    }

    fn refused(
        &self,
        credential: &Credential,
        status: StatusCode,
        problem: Option<&ProblemDetails>,
    ) {
        if let Some(provider) = self.provider_for(&credential.challenge) {
            provider.refused(credential, status, problem);
        }
    }

    /// Every provider must accept the realm: the strictest rule wins.
    fn accepts_realm(&self, realm: &str, host: &str) -> bool {
        self.providers.iter().all(|p| p.accepts_realm(realm, host))
    }

    /// Each provider's pairs once; after
    /// [`preferring_order`](MultiProvider::preferring_order), with the
    /// weight (`;q=`) after the intent where it is below 1.
    fn accepts(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = Vec::new();
        for (rank, provider) in self.providers.iter().enumerate() {
            for (method, intent) in provider.accepts() {
                if all
                    .iter()
                    .any(|(m, i)| *m == method && i.split(';').next() == Some(intent.as_str()))
                {
                    continue;
                }
                // Thousandths: 1000, 900, ... 100.
                let q = 1000usize.saturating_sub(rank * 100).max(100);
                let intent = if self.ranked && q < 1000 {
                    format!("{intent};q=0.{}", q / 100)
                } else {
                    intent
                };
                all.push((method, intent));
            }
        }
        all
    }
}
