//! Configuring a [`TempoCharge`]: a builder that checks everything at
//! start-up, so nothing is a surprise at request time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256, address};
use alloy_signer_local::PrivateKeySigner;
use url::Url;

use super::config_error::TempoConfigError;
use super::request::{Mode, Split};
use super::rpc::Rpc;
use super::sponsor::{BudgetTracker, FeeLimits, FeePayer, SponsorBudget};
use super::{Inner, TempoCharge};
use crate::store::{SharedStore, Store};
use crate::tls::ExtraRoots;

/// `PathUSD`, the default currency.
pub const PATH_USD: Address = address!("20c0000000000000000000000000000000000000");
/// The public Tempo mainnet RPC, the default endpoint.
pub const MAINNET_RPC_URL: &str = "https://rpc.tempo.xyz";
/// Tempo mainnet's chain id, assumed with the default endpoint.
pub const MAINNET_CHAIN_ID: u64 = 4217;
/// The most splits a charge may have (each costs about 29,000 gas).
pub const MAX_SPLITS: usize = 10;

/// Builds a [`TempoCharge`]; see [`TempoCharge::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TempoChargeBuilder {
    recipient: Option<String>,
    currency: Option<String>,
    decimals: u8,
    rpc_url: Option<RedactedUrl>,
    chain_id: Option<u64>,
    fee_payer_key: Option<RedactedKey>,
    /// The first setting read from the environment that could not be
    /// used; `build` reports it.
    deferred: Option<TempoConfigError>,
    fee_token: Option<String>,
    fee_limits: FeeLimits,
    sponsor_budget: SponsorBudget,
    sponsor_budget_store: Option<SharedStore>,
    memo: Option<String>,
    memo_on_volatile_store: bool,
    splits: Vec<(String, u128, Option<String>)>,
    supported_modes: Option<Vec<Mode>>,
    external_id: Option<String>,
    description: Option<String>,
    rpc_timeout: Duration,
    receipt_timeout: Duration,
    root_certificates: ExtraRoots,
}

impl Default for TempoChargeBuilder {
    fn default() -> Self {
        Self {
            recipient: None,
            currency: None,
            decimals: 6,
            rpc_url: None,
            chain_id: None,
            fee_payer_key: None,
            deferred: None,
            fee_token: None,
            fee_limits: FeeLimits::default(),
            sponsor_budget: SponsorBudget::default(),
            sponsor_budget_store: None,
            memo: None,
            memo_on_volatile_store: false,
            splits: Vec::new(),
            supported_modes: None,
            external_id: None,
            description: None,
            rpc_timeout: Duration::from_secs(10),
            receipt_timeout: Duration::from_secs(30),
            root_certificates: ExtraRoots::default(),
        }
    }
}

impl TempoChargeBuilder {
    /// The address paid (required).
    pub fn recipient(mut self, address: impl Into<String>) -> Self {
        self.recipient = Some(address.into());
        self
    }

    /// The TIP-20 token charged (default [`PATH_USD`]).
    pub fn currency(mut self, address: impl Into<String>) -> Self {
        self.currency = Some(address.into());
        self
    }

    /// The currency's decimals, to scale decimal prices (default 6).
    pub fn decimals(mut self, decimals: u8) -> Self {
        self.decimals = decimals;
        self
    }

    /// The node's JSON-RPC URL (default [`MAINNET_RPC_URL`]).
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(RedactedUrl(url.into()));
        self
    }

    /// Trusts the certificate authority in `pem` (PEM) for an https RPC
    /// URL, besides the platform's roots: for a node whose certificate a
    /// private authority signed. May be called more than once.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The chain id; without it, [`MAINNET_CHAIN_ID`] with the default RPC
    /// URL, or the node's answer with [`connect`](Self::connect).
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// Sponsors clients' fees with this secp256k1 key (hex, with or
    /// without `0x`): challenges say `feePayer: true` and the server
    /// co-signs and pays for the transactions it broadcasts.
    pub fn fee_payer_key(mut self, key: impl Into<String>) -> Self {
        self.fee_payer_key = Some(RedactedKey(key.into()));
        self
    }

    /// Like [`fee_payer_key`](Self::fee_payer_key), from an environment
    /// variable, which must be set.
    pub fn fee_payer_from_env(self, variable: &str) -> Self {
        match env(variable) {
            Some(key) => self.fee_payer_key(key),
            None => self.defer(TempoConfigError::FeePayerKeyUnset {
                variable: variable.to_owned(),
            }),
        }
    }

    /// Reads the settings the environment has: `TEMPO_RECIPIENT`,
    /// `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`, `TEMPO_CURRENCY` and
    /// `TEMPO_FEE_PAYER_KEY` (fees are sponsored when it is set); see
    /// [the table of variables](crate::tempo#configuration-from-the-environment). Unset
    /// or blank variables leave the setting as it was; a chain id that is
    /// not a number is reported by [`build`](Self::build).
    pub fn from_env(mut self) -> Self {
        if let Some(recipient) = env("TEMPO_RECIPIENT") {
            self = self.recipient(recipient);
        }
        if let Some(url) = env("TEMPO_RPC_URL") {
            self = self.rpc_url(url);
        }
        if let Some(currency) = env("TEMPO_CURRENCY") {
            self = self.currency(currency);
        }
        if let Some(key) = env("TEMPO_FEE_PAYER_KEY") {
            self = self.fee_payer_key(key);
        }
        match env_chain_id() {
            Some(Ok(id)) => self.chain_id(id),
            Some(Err(e)) => self.defer(e),
            None => self,
        }
    }

    fn defer(mut self, error: TempoConfigError) -> Self {
        self.deferred.get_or_insert(error);
        self
    }

    /// The token the fee payer pays fees in (default: the charge's
    /// currency).
    pub fn fee_token(mut self, address: impl Into<String>) -> Self {
        self.fee_token = Some(address.into());
        self
    }

    /// Limits on what the fee payer co-signs.
    pub fn fee_limits(mut self, limits: FeeLimits) -> Self {
        self.fee_limits = limits;
        self
    }

    /// How much fee sponsorship this instance grants per window (default
    /// [`SponsorBudget::default`]), or all instances sharing a
    /// [`sponsor_budget_store`](Self::sponsor_budget_store); past it,
    /// sponsored payments wait with a `503`. Only with a fee payer.
    pub fn sponsor_budget(mut self, budget: SponsorBudget) -> Self {
        self.sponsor_budget = budget;
        self
    }

    /// Counts the [`sponsor_budget`](Self::sponsor_budget) in `store`
    /// (a `RedisStore` the instances share) instead of in this instance:
    /// one budget for every instance sponsoring with the same fee payer
    /// key, which also survives their restarts. Windows are aligned on the
    /// Unix epoch. A store that cannot count (`add_within` unsupported) or
    /// does not answer makes sponsored payments wait (`503`).
    pub fn sponsor_budget_store(mut self, store: impl Store) -> Self {
        self.sponsor_budget_store = Some(SharedStore::new(store));
        self
    }

    /// A `bytes32` memo (hex) every payment must carry. Without one, the
    /// payment must carry the challenge's attribution memo.
    ///
    /// A transfer with a fixed memo names no challenge, so only the
    /// store's claim of its transaction stops it paying twice: such a
    /// charge is paid in pull mode only (anyone could present someone
    /// else's mined transaction hash), and the registry refuses to build
    /// on a store whose claims a restart forgets (see
    /// [`memo_on_volatile_store`](Self::memo_on_volatile_store)).
    pub fn memo(mut self, memo: impl Into<String>) -> Self {
        self.memo = Some(memo.into());
        self
    }

    /// Accepts fixed-memo charges (the builder's [`memo`](Self::memo) or a
    /// price's) with a store that does not survive a restart, such as the
    /// default `MemoryStore`. The risk taken: after a restart, a
    /// transaction mined for an earlier challenge, but after the
    /// presented challenge was issued, can be presented again.
    pub fn memo_on_volatile_store(mut self, accept: bool) -> Self {
        self.memo_on_volatile_store = accept;
        self
    }

    /// Pays `amount` base units of every charge to `recipient`; the main
    /// recipient receives the rest.
    pub fn split(mut self, recipient: impl Into<String>, amount: u128) -> Self {
        self.splits.push((recipient.into(), amount, None));
        self
    }

    /// Like [`split`](Self::split), with a memo that transfer must carry.
    pub fn split_with_memo(
        mut self,
        recipient: impl Into<String>,
        amount: u128,
        memo: impl Into<String>,
    ) -> Self {
        self.splits
            .push((recipient.into(), amount, Some(memo.into())));
        self
    }

    /// The modes clients may pay in (default both; pull only when fees are
    /// sponsored).
    pub fn supported_modes(mut self, modes: impl IntoIterator<Item = Mode>) -> Self {
        self.supported_modes = Some(modes.into_iter().collect());
        self
    }

    /// A merchant reference for every charge (a price's own wins).
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// A description for every charge (a price's own wins).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The time limit of one RPC call (default 10 s).
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// How long to wait for a broadcast transaction's receipt when the
    /// node lacks `eth_sendRawTransactionSync` (default 30 s).
    pub fn receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// Checks the configuration and builds the method.
    ///
    /// # Errors
    ///
    /// [`TempoConfigError`] for a missing recipient, a bad address, memo,
    /// decimals, RPC URL, fee payer key, split or mode list, or an unknown
    /// chain id.
    pub fn build(self) -> Result<TempoCharge, TempoConfigError> {
        if let Some(error) = self.deferred {
            return Err(error);
        }
        let chain_id = match (self.chain_id, &self.rpc_url) {
            (Some(id), _) => id,
            (None, None) => MAINNET_CHAIN_ID,
            (None, Some(_)) => return Err(TempoConfigError::ChainIdUnknown),
        };
        self.finish(chain_id)
    }

    /// Like [`build`](Self::build), then asks the node for its chain id
    /// (once): the node must answer, over TLS for an https URL, and with
    /// the chain id set (or [`MAINNET_CHAIN_ID`] for the default URL), or
    /// any chain id when a URL was set without one. Use it at start-up: a
    /// node that cannot work is then an error naming its host and why,
    /// not a `503` on every credential later.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and
    /// [`TempoConfigError::ChainIdUnavailable`] (the host and the cause:
    /// unreachable, a TLS failure, a bad answer) when the node does not
    /// answer, [`TempoConfigError::ChainIdMismatch`] when it answers
    /// another chain id.
    pub async fn connect(self) -> Result<TempoCharge, TempoConfigError> {
        if self.deferred.is_some() {
            return self.build();
        }
        let expected = match (self.chain_id, &self.rpc_url) {
            (Some(id), _) => Some(id),
            (None, None) => Some(MAINNET_CHAIN_ID),
            (None, Some(_)) => None,
        };
        // Every other setting is checked before the node is asked.
        let mut method = self.finish(expected.unwrap_or(0))?;
        let id = method.inner.rpc.check_chain_id(expected).await?;
        Arc::get_mut(&mut method.inner)
            .expect("a method just built is not shared")
            .chain_id = id;
        Ok(method)
    }

    fn finish(self, chain_id: u64) -> Result<TempoCharge, TempoConfigError> {
        let recipient = parse_address(
            "recipient",
            self.recipient
                .as_deref()
                .ok_or(TempoConfigError::MissingRecipient)?,
        )?;
        let currency = match &self.currency {
            Some(text) => parse_address("currency", text)?,
            None => PATH_USD,
        };
        if !(1..=38).contains(&self.decimals) {
            return Err(TempoConfigError::InvalidDecimals(self.decimals));
        }
        let url = parse_url(self.rpc_url.as_ref().map(|u| u.0.as_str()))?;
        let fee_payer = self.fee_payer()?;
        let memo = self.memo.as_deref().map(parse_memo).transpose()?;
        let splits = self.parsed_splits()?;
        let supported_modes = match self.supported_modes {
            Some(modes) if modes.is_empty() => {
                return Err(TempoConfigError::InvalidModes(
                    "supported_modes needs at least one mode".to_owned(),
                ));
            }
            Some(modes) if fee_payer.is_some() && !modes.contains(&Mode::Pull) => {
                return Err(TempoConfigError::InvalidModes(
                    "sponsored charges are paid in pull mode: keep Mode::Pull".to_owned(),
                ));
            }
            Some(mut modes) => {
                modes.sort_by_key(|m| m.as_str());
                modes.dedup();
                Some(modes)
            }
            None => None,
        };
        Ok(TempoCharge {
            inner: Arc::new(Inner {
                recipient,
                currency,
                decimals: self.decimals,
                chain_id,
                rpc: Rpc::new(url, self.rpc_timeout, &self.root_certificates)?,
                receipt_timeout: self.receipt_timeout,
                fee_payer,
                memo,
                memo_on_volatile_store: self.memo_on_volatile_store,
                splits,
                supported_modes,
                external_id: self.external_id,
                description: self.description,
            }),
        })
    }

    fn fee_payer(&self) -> Result<Option<FeePayer>, TempoConfigError> {
        let Some(key) = &self.fee_payer_key else {
            return Ok(None);
        };
        let signer: PrivateKeySigner = key
            .0
            .trim()
            .parse()
            .map_err(|_| TempoConfigError::InvalidFeePayerKey)?;
        let fee_token = self
            .fee_token
            .as_deref()
            .map(|t| parse_address("fee token", t))
            .transpose()?;
        Ok(Some(FeePayer {
            signer,
            fee_token,
            limits: self.fee_limits,
            budget: std::sync::Arc::new(BudgetTracker::new(
                self.sponsor_budget,
                self.sponsor_budget_store.clone(),
            )),
        }))
    }

    fn parsed_splits(&self) -> Result<Vec<Split>, TempoConfigError> {
        if self.splits.len() > MAX_SPLITS {
            return Err(TempoConfigError::InvalidSplits(format!(
                "{} splits: at most {MAX_SPLITS}",
                self.splits.len()
            )));
        }
        self.splits
            .iter()
            .map(|(recipient, amount, memo)| {
                if *amount == 0 {
                    return Err(TempoConfigError::InvalidSplits(
                        "a split must be more than zero".to_owned(),
                    ));
                }
                Ok(Split {
                    amount: U256::from(*amount),
                    recipient: parse_address("split recipient", recipient)?,
                    memo: memo.as_deref().map(parse_memo).transpose()?,
                })
            })
            .collect()
    }
}

/// An RPC URL as configured: it may carry an API key (in its user info,
/// path or query), so `Debug` shows its scheme and host only.
#[derive(Clone)]
struct RedactedUrl(String);

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(url) => write!(
                f,
                "RedactedUrl({}://{}/..)",
                url.scheme(),
                url.host_str().unwrap_or_default()
            ),
            Err(_) => f.write_str("RedactedUrl(..)"),
        }
    }
}

/// A private key as configured; `Debug` never shows it.
#[derive(Clone)]
struct RedactedKey(String);

impl fmt::Debug for RedactedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedactedKey(..)")
    }
}

/// A variable's value, if set and not blank.
pub(crate) fn env(variable: &str) -> Option<String> {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `TEMPO_CHAIN_ID`, if set: a number, or the text that is not one.
pub(crate) fn env_chain_id() -> Option<Result<u64, TempoConfigError>> {
    env("TEMPO_CHAIN_ID").map(|text| {
        text.trim()
            .parse()
            .map_err(|_| TempoConfigError::InvalidChainId(text))
    })
}

/// Parses a `0x`-prefixed 20-byte hex address, in any case.
pub(crate) fn parse_address(field: &'static str, text: &str) -> Result<Address, TempoConfigError> {
    let invalid = || TempoConfigError::InvalidAddress {
        field,
        value: text.to_owned(),
    };
    let hex = text.strip_prefix("0x").ok_or_else(invalid)?;
    if hex.len() != 40 {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// Parses a `0x`-prefixed 32-byte hex memo.
pub(crate) fn parse_memo(text: &str) -> Result<B256, TempoConfigError> {
    let invalid = || TempoConfigError::InvalidMemo(text.to_owned());
    let hex = text.strip_prefix("0x").ok_or_else(invalid)?;
    if hex.len() != 64 {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

pub(crate) fn parse_url(url: Option<&str>) -> Result<Url, TempoConfigError> {
    let text = url.unwrap_or(MAINNET_RPC_URL);
    let invalid = || TempoConfigError::InvalidRpcUrl(text.to_owned());
    let url = Url::parse(text).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid());
    }
    Ok(url)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
