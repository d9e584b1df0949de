//! [`PaymentProvider`]: what pays a challenge (several are one through
//! [`MultiProvider`](super::MultiProvider)).

use std::future::Future;
use std::sync::Arc;

use reqwest::Url;

use super::error::PayError;
use http::StatusCode;

use crate::protocol::{Challenge, Credential, ProblemDetails, Receipt};

/// Pays challenges: turns a `WWW-Authenticate: Payment` challenge into the
/// credential of an `Authorization: Payment` retry.
///
/// Implement it to add a payment method; [`TempoProvider`] pays Tempo
/// charges (features `client` and `tempo`).
///
/// ```
/// use serde_json::json;
/// use tower_mpp::client::{PayError, PaymentProvider};
/// use tower_mpp::protocol::{Challenge, Credential};
///
/// /// Pays `invoice` charges with a voucher code.
/// struct Vouchers;
///
/// impl PaymentProvider for Vouchers {
///     fn supports(&self, method: &str, intent: &str) -> bool {
///         method == "invoice" && intent == "charge"
///     }
///
///     async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
///         let payload = json!({"voucher": "FREE-LUNCH"});
///         let payload = payload.as_object().cloned().unwrap_or_default();
///         Ok(Credential::new(challenge.clone(), payload))
///     }
/// }
/// ```
///
/// [`TempoProvider`]: super::TempoProvider
pub trait PaymentProvider: Send + Sync {
    /// Whether this provider pays challenges of `method` and `intent`.
    fn supports(&self, method: &str, intent: &str) -> bool;

    /// Pays `challenge` (one this provider [supports](Self::supports)) and
    /// returns the credential that proves it. Called at most once per
    /// challenge; the credential is sent at once.
    ///
    /// # Errors
    ///
    /// [`PayError`] when nothing was paid: a challenge the provider will not
    /// pay (`Unsupported`, `InvalidChallenge`, `Policy`: the client tries the
    /// response's other challenges) or a failure (`Unavailable`, `Failed`).
    fn pay(
        &self,
        challenge: &Challenge,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send;

    /// Pays `challenge` for a request to `url`: what the client calls. By
    /// default [`pay`](Self::pay); a provider that talks to the server
    /// itself first (a session's top-up, sent to the paid URL) overrides
    /// it.
    fn pay_for(
        &self,
        challenge: &Challenge,
        url: &Url,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        let _ = url;
        self.pay(challenge)
    }

    /// Pays `challenge` (for a request to `url`, when known) under
    /// `policy`, which has admitted the challenge's amount already: what a
    /// [`Limited`](super::Limited) provider calls. By default
    /// [`pay_for`](Self::pay_for) or [`pay`](Self::pay); a provider that
    /// commits more than the amount (a session's deposit) holds that to
    /// the policy too.
    fn pay_within(
        &self,
        challenge: &Challenge,
        url: Option<&Url>,
        policy: &super::SpendingPolicy,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        let _ = policy;
        async move {
            match url {
                Some(url) => self.pay_for(challenge, url).await,
                None => self.pay(challenge).await,
            }
        }
    }

    /// The server accepted `credential` (the paid request succeeded), with
    /// this receipt if it sent one readable. Nothing by default; a provider
    /// that keeps state (a session's channel) learns from it.
    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>) {
        let _ = (credential, receipt);
    }

    /// The server refused `credential` with `status` (`402`, or `410` for
    /// a payment channel it does not know) and these problem details when
    /// it sent them. Nothing by default.
    fn refused(
        &self,
        credential: &Credential,
        status: StatusCode,
        problem: Option<&ProblemDetails>,
    ) {
        let _ = (credential, status, problem);
    }

    /// The `method/intent` pairs to advertise in `Accept-Payment`
    /// (`"*"` for any intent). Empty by default: the provider is not
    /// advertised, and the header is left out when no provider is.
    fn accepts(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether to pay a challenge of `realm` answering a request to
    /// `host` (the URL's host, without port). By default the realm must
    /// name that host (ASCII case aside, with or without the port), so a
    /// challenge relayed from another server is not paid (a confused
    /// deputy); [`SpendingPolicy::allow_realm`] and
    /// [`SpendingPolicy::any_realm`] change the rule.
    ///
    /// [`SpendingPolicy::allow_realm`]: super::SpendingPolicy::allow_realm
    /// [`SpendingPolicy::any_realm`]: super::SpendingPolicy::any_realm
    fn accepts_realm(&self, realm: &str, host: &str) -> bool {
        realm_names_host(realm, host)
    }
}

/// Whether `realm` names `host`: equal without ASCII case, or `host:port`
/// for any port (IPv6 hosts with or without their brackets).
pub(crate) fn realm_names_host(realm: &str, host: &str) -> bool {
    let bare = |text: &str| {
        text.strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map_or_else(|| text.to_owned(), str::to_owned)
    };
    let host = bare(host);
    if bare(realm).eq_ignore_ascii_case(&host) {
        return true;
    }
    // `host:port`: the port is whatever follows the last colon of a
    // bracketed or plain host.
    realm.rsplit_once(':').is_some_and(|(name, port)| {
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && bare(name).eq_ignore_ascii_case(&host)
    })
}

impl<P: PaymentProvider + ?Sized> PaymentProvider for &P {
    fn supports(&self, method: &str, intent: &str) -> bool {
        (**self).supports(method, intent)
    }

    fn pay(
        &self,
        challenge: &Challenge,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        (**self).pay(challenge)
    }

    fn pay_for(
        &self,
        challenge: &Challenge,
        url: &Url,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        (**self).pay_for(challenge, url)
    }

    fn pay_within(
        &self,
        challenge: &Challenge,
        url: Option<&Url>,
        policy: &super::SpendingPolicy,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        (**self).pay_within(challenge, url, policy)
    }

    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>) {
        (**self).accepted(credential, receipt);
    }

    fn refused(
        &self,
        credential: &Credential,
        status: StatusCode,
        problem: Option<&ProblemDetails>,
    ) {
        (**self).refused(credential, status, problem);
    }

    fn accepts(&self) -> Vec<(String, String)> {
        (**self).accepts()
    }

    fn accepts_realm(&self, realm: &str, host: &str) -> bool {
        (**self).accepts_realm(realm, host)
    }
}

impl<P: PaymentProvider + ?Sized> PaymentProvider for Arc<P> {
    fn supports(&self, method: &str, intent: &str) -> bool {
        (**self).supports(method, intent)
    }

    fn pay(
        &self,
        challenge: &Challenge,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        (**self).pay(challenge)
    }

    fn pay_for(
        &self,
        challenge: &Challenge,
        url: &Url,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        (**self).pay_for(challenge, url)
    }

    fn pay_within(
        &self,
        challenge: &Challenge,
        url: Option<&Url>,
        policy: &super::SpendingPolicy,
    ) -> impl Future<Output = Result<Credential, PayError>> + Send {
        (**self).pay_within(challenge, url, policy)
    }

    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>) {
        (**self).accepted(credential, receipt);
    }

    fn refused(
        &self,
        credential: &Credential,
        status: StatusCode,
        problem: Option<&ProblemDetails>,
    ) {
        (**self).refused(credential, status, problem);
    }

    fn accepts(&self) -> Vec<(String, String)> {
        (**self).accepts()
    }

    fn accepts_realm(&self, realm: &str, host: &str) -> bool {
        (**self).accepts_realm(realm, host)
    }
}

#[cfg(test)]
mod realm_tests {
    use super::realm_names_host;

    #[test]
    fn a_realm_names_its_host_with_or_without_port() {
        assert!(realm_names_host("api.example.com", "api.example.com"));
        assert!(realm_names_host("API.Example.com", "api.example.com"));
        assert!(realm_names_host("api.example.com:8443", "api.example.com"));
        assert!(realm_names_host("127.0.0.1", "127.0.0.1"));
        assert!(realm_names_host("::1", "[::1]"));
        assert!(realm_names_host("[::1]:80", "[::1]"));
        assert!(!realm_names_host("api.example.com", "evil.example.com"));
        assert!(!realm_names_host("example.com", "api.example.com"));
        assert!(!realm_names_host("api.example.com:", "api.example.com"));
        assert!(!realm_names_host("api.example.com:x", "api.example.com"));
        assert!(!realm_names_host("", "api.example.com"));
    }
}
