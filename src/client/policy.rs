//! [`SpendingPolicy`]: limits checked before a provider signs anything.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::Url;
use serde_json::{Map, Value};

use super::error::{PayError, PolicyViolation};
use super::provider::PaymentProvider;
use crate::protocol::{Challenge, Credential, parse_base_units};

/// What a client agrees to pay: amounts per request and in total per
/// currency, and the currencies, recipients and chains it pays at all.
///
/// A policy reads the charge intent's common fields (`amount` in base
/// units, `currency`, `recipient`, and `methodDetails.chainId` when the
/// method has chains), so it works for every method's charges, and for
/// sessions, whose `amount` is the price of one unit: each voucher of a
/// request adds that much, and a metered stream read through the policy
/// (`Limited<TempoSessionProvider>::events`) counts each voucher it asks
/// for, toward the total and, with the request's price, toward the
/// per-request limit. A session's deposits (opens and top-ups) count
/// against the total too, apart from what is spent: `max_total` bounds
/// what is locked in escrows (each channel's deposit is also capped by
/// its provider, see `TempoSessionProvider::max_deposit`). It refuses other
/// intents, whose cost it cannot read. With no rules it allows every
/// charge. Each rule narrows it:
///
/// - currencies: once any is named (by [`allow_currency`](Self::allow_currency),
///   [`max_per_request`](Self::max_per_request) or [`max_total`](Self::max_total)),
///   only those;
/// - recipients and chains: once any is allowed, only those, and a request
///   that names none is refused;
/// - amounts: at most `max_per_request` each, and `max_total` in all.
///
/// Currencies and recipients compare without regard to ASCII case (EVM
/// addresses are written in mixed case). Amounts count as spent from the
/// moment the provider is asked to pay, whatever the server then answers
/// (a signed transaction can still be broadcast by whoever holds it); only
/// a provider's refusal to pay gives them back. Clones share the total
/// spent.
///
/// ```
/// use tower_mpp::client::SpendingPolicy;
///
/// const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";
/// let policy = SpendingPolicy::new()
///     .max_per_request(PATH_USD, 50_000) // 0.05 PathUSD
///     .max_total(PATH_USD, 5_000_000) // 5 PathUSD
///     .allow_chain_id(4217);
/// assert_eq!(policy.spent(PATH_USD), 0);
/// ```
#[derive(Clone, Default)]
pub struct SpendingPolicy {
    rules: Arc<Rules>,
    spent: Arc<Mutex<HashMap<String, u128>>>,
    /// Session deposits (opens and top-ups) by currency.
    deposited: Arc<Mutex<HashMap<String, u128>>>,
}

#[derive(Debug, Clone, Default)]
struct Rules {
    currencies: HashSet<String>,
    per_request: HashMap<String, u128>,
    total: HashMap<String, u128>,
    recipients: HashSet<String>,
    chain_ids: HashSet<u64>,
    realms: RealmRule,
}

impl SpendingPolicy {
    /// A policy with no rules: every charge is allowed.
    pub fn new() -> Self {
        Self::default()
    }

    fn rules(mut self) -> Rules {
        std::mem::take(Arc::make_mut(&mut self.rules))
    }

    fn with_rules(self, edit: impl FnOnce(&mut Rules)) -> Self {
        let spent = Arc::clone(&self.spent);
        let deposited = Arc::clone(&self.deposited);
        let mut rules = self.rules();
        edit(&mut rules);
        Self {
            rules: Arc::new(rules),
            spent,
            deposited,
        }
    }

    /// Allows `currency` (a token address, an ISO 4217 code...).
    #[must_use]
    pub fn allow_currency(self, currency: impl AsRef<str>) -> Self {
        let currency = key(currency.as_ref());
        self.with_rules(|r| {
            r.currencies.insert(currency);
        })
    }

    /// Allows `currency`, at most `max` base units per request.
    #[must_use]
    pub fn max_per_request(self, currency: impl AsRef<str>, max: u128) -> Self {
        let currency = key(currency.as_ref());
        self.with_rules(|r| {
            r.currencies.insert(currency.clone());
            r.per_request.insert(currency, max);
        })
    }

    /// Allows `currency`, at most `max` base units in all (across clones).
    #[must_use]
    pub fn max_total(self, currency: impl AsRef<str>, max: u128) -> Self {
        let currency = key(currency.as_ref());
        self.with_rules(|r| {
            r.currencies.insert(currency.clone());
            r.total.insert(currency, max);
        })
    }

    /// Allows paying `recipient`.
    #[must_use]
    pub fn allow_recipient(self, recipient: impl AsRef<str>) -> Self {
        let recipient = key(recipient.as_ref());
        self.with_rules(|r| {
            r.recipients.insert(recipient);
        })
    }

    /// Pays challenges whose realm is `realm`, whatever host answered
    /// (a gateway whose realm names the service behind it, say). Once any
    /// realm is allowed, only the listed ones are paid, instead of those
    /// naming the request's host.
    #[must_use]
    pub fn allow_realm(self, realm: impl AsRef<str>) -> Self {
        let realm = key(realm.as_ref());
        self.with_rules(|r| match &mut r.realms {
            RealmRule::Listed(realms) => {
                realms.insert(realm);
            }
            other => *other = RealmRule::Listed(HashSet::from([realm])),
        })
    }

    /// Pays challenges of any realm, including one that names another
    /// server than the one asked: only for a client that trusts every
    /// server it talks to, since a server could relay another's challenge
    /// and have this client pay for it.
    #[must_use]
    pub fn any_realm(self) -> Self {
        self.with_rules(|r| r.realms = RealmRule::Any)
    }

    /// Allows paying on chain `chain_id`.
    #[must_use]
    pub fn allow_chain_id(self, chain_id: u64) -> Self {
        self.with_rules(|r| {
            r.chain_ids.insert(chain_id);
        })
    }

    /// Base units of `currency` spent so far under this policy.
    pub fn spent(&self, currency: &str) -> u128 {
        self.lock().get(&key(currency)).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u128>> {
        // The map holds plain numbers: a panic elsewhere cannot leave it
        // half-written.
        self.spent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks `challenge` and, if allowed, counts its amount as spent
    /// until [`release`](Self::release)d.
    ///
    /// # Errors
    ///
    /// The first rule the challenge breaks.
    pub fn reserve(&self, challenge: &Challenge) -> Result<Reservation, PolicyViolation> {
        self.admit(challenge, None, 0)
    }

    /// Checks `amount` more base units of `challenge`'s currency for a
    /// request that has cost `in_request` so far (a metered stream's
    /// vouchers: each counts toward the total, and all of one stream's
    /// toward its request's limit), and counts them as spent.
    #[cfg(feature = "tempo")]
    pub(crate) fn reserve_more(
        &self,
        challenge: &Challenge,
        amount: u128,
        in_request: u128,
    ) -> Result<Reservation, PolicyViolation> {
        self.admit(challenge, Some(amount), in_request)
    }

    /// Counts a session deposit (an open or a top-up) of `amount` in
    /// `challenge`'s currency against the total, which bounds what is
    /// locked in escrows as well as what is spent: a server that forgets
    /// channels (`410`) cannot have the client lock up more than the total.
    #[cfg(feature = "tempo")]
    pub(crate) fn reserve_deposit(
        &self,
        challenge: &Challenge,
        amount: u128,
    ) -> Result<(), PolicyViolation> {
        let currency = Charge::read(challenge.request.object())?.currency;
        let Some(&max) = self.rules.total.get(&currency) else {
            return Ok(());
        };
        let mut deposited = self
            .deposited
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let so_far = deposited.get(&currency).copied().unwrap_or(0);
        if so_far.checked_add(amount).is_none_or(|t| t > max) {
            return Err(PolicyViolation::Deposits {
                currency,
                amount,
                deposited: so_far,
                max,
            });
        }
        deposited.insert(currency, so_far + amount);
        Ok(())
    }

    fn admit(
        &self,
        challenge: &Challenge,
        amount: Option<u128>,
        in_request: u128,
    ) -> Result<Reservation, PolicyViolation> {
        if challenge.intent != "charge" && challenge.intent != "session" {
            return Err(PolicyViolation::Intent(challenge.intent.clone()));
        }
        let mut charge = Charge::read(challenge.request.object())?;
        if let Some(amount) = amount {
            charge.amount = amount;
        }
        let rules = &self.rules;
        if !rules.currencies.is_empty() && !rules.currencies.contains(&charge.currency) {
            return Err(PolicyViolation::Currency(charge.currency));
        }
        if !rules.recipients.is_empty() {
            // Every transfer's recipient: the primary one and each split's
            // (a split can carry almost all of the amount).
            let unlisted = std::iter::once(&charge.recipient)
                .chain(&charge.split_recipients)
                .find(|r| !r.as_ref().is_some_and(|r| rules.recipients.contains(r)));
            if let Some(recipient) = unlisted {
                return Err(PolicyViolation::Recipient(recipient.clone()));
            }
        }
        if !rules.chain_ids.is_empty()
            && !charge
                .chain_id
                .is_some_and(|id| rules.chain_ids.contains(&id))
        {
            return Err(PolicyViolation::ChainId(charge.chain_id));
        }
        let request_cost = in_request.saturating_add(charge.amount);
        if let Some(&max) = rules.per_request.get(&charge.currency)
            && request_cost > max
        {
            return Err(PolicyViolation::PerRequest {
                currency: charge.currency,
                amount: request_cost,
                max,
            });
        }
        let mut spent = self.lock();
        let so_far = spent.get(&charge.currency).copied().unwrap_or(0);
        if let Some(&max) = rules.total.get(&charge.currency)
            && so_far.checked_add(charge.amount).is_none_or(|t| t > max)
        {
            return Err(PolicyViolation::Total {
                currency: charge.currency,
                amount: charge.amount,
                spent: so_far,
                max,
            });
        }
        spent.insert(
            charge.currency.clone(),
            so_far.saturating_add(charge.amount),
        );
        Ok(Reservation {
            currency: charge.currency,
            amount: charge.amount,
        })
    }

    /// Gives back a reservation whose payment was not made.
    pub fn release(&self, reservation: Reservation) {
        let Reservation { currency, amount } = reservation;
        let mut spent = self.lock();
        if let Some(total) = spent.get_mut(&currency) {
            *total = total.saturating_sub(amount);
        }
    }
}

impl fmt::Debug for SpendingPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpendingPolicy")
            .field("rules", &self.rules)
            .field("spent", &*self.lock())
            .field(
                "deposited",
                &*self
                    .deposited
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            )
            .finish()
    }
}

/// An amount counted as spent by [`SpendingPolicy::reserve`].
#[derive(Debug)]
#[must_use = "a reservation is released when its payment fails"]
pub struct Reservation {
    currency: String,
    amount: u128,
}

/// The charge intent's fields a policy reads.
struct Charge {
    amount: u128,
    currency: String,
    recipient: Option<String>,
    /// `methodDetails.splits[].recipient`, `None` where one is missing.
    split_recipients: Vec<Option<String>>,
    chain_id: Option<u64>,
}

impl Charge {
    fn read(request: &Map<String, Value>) -> Result<Self, PolicyViolation> {
        let unpriced = |why: &str| PolicyViolation::Unpriced(why.to_owned());
        let amount = request
            .get("amount")
            .and_then(Value::as_str)
            .ok_or_else(|| unpriced("no amount"))?;
        let amount = parse_base_units(amount).map_err(|e| unpriced(&e.to_string()))?;
        let currency = request
            .get("currency")
            .and_then(Value::as_str)
            .ok_or_else(|| unpriced("no currency"))?;
        let chain_id = request
            .get("methodDetails")
            .and_then(|d| d.get("chainId"))
            .and_then(|id| match id {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            });
        let split_recipients = request
            .get("methodDetails")
            .and_then(|d| d.get("splits"))
            .and_then(Value::as_array)
            .map(|splits| {
                splits
                    .iter()
                    .map(|split| split.get("recipient").and_then(Value::as_str).map(key))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            amount,
            currency: key(currency),
            recipient: request.get("recipient").and_then(Value::as_str).map(key),
            split_recipients,
            chain_id,
        })
    }
}

fn key(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// A provider whose payments a [`SpendingPolicy`] checks first; made by
/// [`WithPolicy::with_policy`].
#[derive(Debug, Clone)]
pub struct Limited<P> {
    provider: P,
    policy: SpendingPolicy,
}

impl<P> Limited<P> {
    /// The policy (to read what was spent).
    pub fn policy(&self) -> &SpendingPolicy {
        &self.policy
    }

    /// The provider within.
    pub fn get_ref(&self) -> &P {
        &self.provider
    }
}

impl<P: PaymentProvider> PaymentProvider for Limited<P> {
    fn supports(&self, method: &str, intent: &str) -> bool {
        self.provider.supports(method, intent)
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        let reservation = self.policy.reserve(challenge)?;
        let paid = self
            .provider
            .pay_within(challenge, None, &self.policy)
            .await;
        // A refusal signed nothing. After a failure the money may have
        // moved (a push transaction broadcast, then a lost receipt): it
        // stays counted, erring on the side of spending less.
        if paid.as_ref().is_err_and(PayError::is_refusal) {
            self.policy.release(reservation);
        }
        paid
    }

    async fn pay_for(&self, challenge: &Challenge, url: &Url) -> Result<Credential, PayError> {
        let reservation = self.policy.reserve(challenge)?;
        let paid = self
            .provider
            .pay_within(challenge, Some(url), &self.policy)
            .await;
        if paid.as_ref().is_err_and(PayError::is_refusal) {
            self.policy.release(reservation);
        }
        paid
    }

    fn accepted(&self, credential: &Credential, receipt: Option<&crate::protocol::Receipt>) {
        self.provider.accepted(credential, receipt);
    }

    fn refused(
        &self,
        credential: &Credential,
        status: http::StatusCode,
        problem: Option<&crate::protocol::ProblemDetails>,
    ) {
        self.provider.refused(credential, status, problem);
    }

    fn accepts(&self) -> Vec<(String, String)> {
        self.provider.accepts()
    }

    fn accepts_realm(&self, realm: &str, host: &str) -> bool {
        match &self.policy.rules.realms {
            RealmRule::Provider => self.provider.accepts_realm(realm, host),
            RealmRule::Any => true,
            RealmRule::Listed(realms) => realms.contains(&key(realm)),
        }
    }
}

/// Which realms a [`SpendingPolicy`] pays.
#[derive(Debug, Clone, Default)]
enum RealmRule {
    /// The provider's rule (by default: the realm names the host).
    #[default]
    Provider,
    /// Any realm.
    Any,
    /// These realms only, whatever the host.
    Listed(HashSet<String>),
}

/// Puts a [`SpendingPolicy`] in front of any provider.
pub trait WithPolicy: PaymentProvider + Sized {
    /// This provider, paying only what `policy` allows.
    fn with_policy(self, policy: SpendingPolicy) -> Limited<Self> {
        Limited {
            provider: self,
            policy,
        }
    }
}

impl<P: PaymentProvider> WithPolicy for P {}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
