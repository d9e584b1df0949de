//! Configuring [`EvmCharge`]: in code or from the environment, validated
//! once at start-up.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;

use super::gas::{GasLimits, GasPayer};
use super::typed::Separators;
use super::{
    CredentialType, EvmCharge, EvmConfigError, EvmSplit, Inner, MAX_SPLITS, PERMIT2_ADDRESS,
    SponsorBudget, TokenDomain,
};
use crate::chain::budget::FeeBudget;
use crate::chain::rpc::Rpc;
use crate::store::{SharedStore, Store};

/// The default budget of the gas key: 0.05 of the native coin (18
/// decimals) an hour, a few hundred transfers at L2 prices.
const DEFAULT_BUDGET: SponsorBudget = SponsorBudget {
    max_fees: 50_000_000_000_000_000,
    window: Duration::from_secs(3600),
};

/// A builder of [`EvmCharge`]; see [`EvmCharge::builder`].
#[derive(Clone, Default)]
#[must_use]
pub struct EvmChargeBuilder {
    recipient: Option<String>,
    currency: Option<String>,
    decimals: Option<u8>,
    rpc_url: Option<String>,
    chain_id: Option<u64>,
    permit2: Option<String>,
    gas_payer_key: Option<String>,
    gas_limits: Option<GasLimits>,
    gas_budget: Option<SponsorBudget>,
    gas_budget_store: Option<SharedStore>,
    token_domain: Option<TokenDomain>,
    credential_types: Option<Vec<CredentialType>>,
    splits: Vec<(String, u128, Option<String>)>,
    unbound_on_volatile_store: bool,
    rpc_timeout: Option<Duration>,
    receipt_timeout: Option<Duration>,
    root_certificates: crate::tls::ExtraRoots,
    deferred: Option<EvmConfigError>,
}

impl fmt::Debug for EvmChargeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvmChargeBuilder")
            .field("recipient", &self.recipient)
            .field("currency", &self.currency)
            .field("chain_id", &self.chain_id)
            .field("rpc_url", &self.rpc_url.as_ref().map(|_| "<redacted>"))
            .field(
                "gas_payer_key",
                &self.gas_payer_key.as_ref().map(|_| "<redacted>"),
            )
            .field("credential_types", &self.credential_types)
            .finish_non_exhaustive()
    }
}

/// Sets one string setting of a builder.
type Setter = fn(EvmChargeBuilder, String) -> EvmChargeBuilder;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl EvmChargeBuilder {
    /// Who receives payments (required).
    pub fn recipient(mut self, address: impl Into<String>) -> Self {
        self.recipient = Some(address.into());
        self
    }

    /// The ERC-20 token charged in (required).
    pub fn currency(mut self, address: impl Into<String>) -> Self {
        self.currency = Some(address.into());
        self
    }

    /// The token's decimals (default 6, like USDC).
    pub fn decimals(mut self, decimals: u8) -> Self {
        self.decimals = Some(decimals);
        self
    }

    /// The node's JSON-RPC URL, `http` or `https` (required). It may carry
    /// an API key: it is never logged nor shown to clients.
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(url.into());
        self
    }

    /// Trusts the certificate authority in `pem` (PEM) for an https RPC
    /// URL, besides the platform's roots: for a node whose certificate a
    /// private authority signed. May be called more than once.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The chain id; without it, [`connect`](Self::connect) asks the node.
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// Permit2's address (default [`PERMIT2_ADDRESS`], the canonical one).
    pub fn permit2_address(mut self, address: impl Into<String>) -> Self {
        self.permit2 = Some(address.into());
        self
    }

    /// The server's gas key (hex secp256k1): it submits `permit2` and
    /// `authorization` transfers and pays their gas. Without it, only
    /// `transaction` and `hash` credentials are offered.
    pub fn gas_payer_key(mut self, key: impl Into<String>) -> Self {
        self.gas_payer_key = Some(key.into());
        self
    }

    /// Limits on the gas of one submitted transfer (default
    /// [`GasLimits::default`]).
    pub fn gas_limits(mut self, limits: GasLimits) -> Self {
        self.gas_limits = Some(limits);
        self
    }

    /// What the gas key spends per window, in wei, each transfer counted at
    /// its worst fee (default 0.05 of the native coin an hour). Past it,
    /// server-paid credentials get `503` until the window ends.
    pub fn gas_budget(mut self, budget: SponsorBudget) -> Self {
        self.gas_budget = Some(budget);
        self
    }

    /// Counts the gas budget in `store`, shared by every instance using
    /// the same gas key (a [`RedisStore`](crate::store::RedisStore), say).
    pub fn gas_budget_store(mut self, store: impl Store) -> Self {
        self.gas_budget_store = Some(SharedStore::new(store));
        self
    }

    /// Marks the token as implementing EIP-3009 with this EIP-712 domain
    /// (USDC: `"USD Coin"`, `"2"` on most chains): `authorization`
    /// credentials are then offered (with a gas key).
    pub fn authorization_domain(
        mut self,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        self.token_domain = Some(TokenDomain {
            name: name.into(),
            version: version.into(),
        });
        self
    }

    /// The credential types offered, most preferred first. By default:
    /// `permit2` and `authorization` when they can be served, then
    /// `transaction` and `hash` (only `permit2` with splits).
    pub fn credential_types(mut self, types: impl IntoIterator<Item = CredentialType>) -> Self {
        self.credential_types = Some(types.into_iter().collect());
        self
    }

    /// Pays `amount` base units of each charge to `recipient` too (Permit2
    /// batches; at most [`MAX_SPLITS`]).
    pub fn split(
        mut self,
        recipient: impl Into<String>,
        amount: u128,
        memo: Option<String>,
    ) -> Self {
        self.splits.push((recipient.into(), amount, memo));
        self
    }

    /// Accepts `transaction` and `hash` credentials with a claim store that
    /// does not survive a restart (the in-memory default). Such a transfer
    /// names no challenge: after a restart it could pay again for a
    /// challenge issued before it was mined. For tests and single-shot
    /// tools; production uses a durable store.
    pub fn unbound_on_volatile_store(mut self, accept: bool) -> Self {
        self.unbound_on_volatile_store = accept;
        self
    }

    /// The time limit of one JSON-RPC call (default 10 s).
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = Some(timeout);
        self
    }

    /// How long a broadcast transfer is waited for (default 30 s).
    pub fn receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = Some(timeout);
        self
    }

    /// Reads the settings the environment has: `EVM_RECIPIENT`,
    /// `EVM_CURRENCY`, `EVM_DECIMALS`, `EVM_RPC_URL`, `EVM_CHAIN_ID`,
    /// `EVM_PERMIT2_ADDRESS`, `EVM_GAS_PAYER_KEY`, and `EVM_TOKEN_NAME` with
    /// `EVM_TOKEN_VERSION` (the token's EIP-3009 domain). Unset or blank
    /// variables leave the setting as it was.
    pub fn from_env(mut self) -> Self {
        let strings: [(&str, Setter); 5] = [
            ("EVM_RECIPIENT", |b, v| b.recipient(v)),
            ("EVM_CURRENCY", |b, v| b.currency(v)),
            ("EVM_RPC_URL", |b, v| b.rpc_url(v)),
            ("EVM_PERMIT2_ADDRESS", |b, v| b.permit2_address(v)),
            ("EVM_GAS_PAYER_KEY", |b, v| b.gas_payer_key(v)),
        ];
        for (name, set) in strings {
            if let Some(value) = env(name) {
                self = set(self, value);
            }
        }
        if let (Some(name), Some(version)) = (env("EVM_TOKEN_NAME"), env("EVM_TOKEN_VERSION")) {
            self = self.authorization_domain(name, version);
        }
        match env("EVM_DECIMALS").map(|t| t.trim().parse::<u8>()) {
            Some(Ok(d)) => self = self.decimals(d),
            Some(Err(_)) => {
                self = self.defer(EvmConfigError::InvalidNumber {
                    variable: "EVM_DECIMALS",
                });
            }
            None => {}
        }
        match env("EVM_CHAIN_ID").map(|t| t.trim().parse::<u64>()) {
            Some(Ok(id)) => self.chain_id(id),
            Some(Err(_)) => self.defer(EvmConfigError::InvalidNumber {
                variable: "EVM_CHAIN_ID",
            }),
            None => self,
        }
    }

    fn defer(mut self, error: EvmConfigError) -> Self {
        self.deferred.get_or_insert(error);
        self
    }

    /// Builds the method.
    ///
    /// # Errors
    ///
    /// An [`EvmConfigError`] for a missing or invalid setting, or
    /// [`EvmConfigError::ChainIdUnknown`] without a chain id.
    pub fn build(self) -> Result<EvmCharge, EvmConfigError> {
        let chain_id = self.chain_id.ok_or(EvmConfigError::ChainIdUnknown);
        let chain_id = match (&self.deferred, chain_id) {
            (Some(error), _) => return Err(error.clone()),
            (None, id) => id?,
        };
        self.finish(chain_id)
    }

    /// Like [`build`](Self::build), asking the node for the chain id (once)
    /// when none was set.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and [`EvmConfigError::Node`] when the
    /// node does not answer (naming its host and why) or is on another
    /// chain than the one configured.
    pub async fn connect(self) -> Result<EvmCharge, EvmConfigError> {
        if self.deferred.is_some() {
            return self.build();
        }
        let configured = self.chain_id;
        let mut method = self.finish(configured.unwrap_or(0))?;
        let id = method.inner.rpc.check_chain_id(configured).await?;
        let inner = Arc::get_mut(&mut method.inner).expect("a method just built is not shared");
        inner.chain_id = id;
        inner.separators = Separators::new(
            id,
            inner.permit2,
            inner.currency,
            inner.token_domain.as_ref(),
        );
        Ok(method)
    }

    fn finish(self, chain_id: u64) -> Result<EvmCharge, EvmConfigError> {
        if let Some(error) = self.deferred {
            return Err(error);
        }
        let address = |field: &'static str, value: Option<&String>| {
            let value = value.ok_or(EvmConfigError::Missing(field))?;
            value
                .trim()
                .parse::<Address>()
                .map_err(|_| EvmConfigError::InvalidAddress {
                    field,
                    value: value.clone(),
                })
        };
        let recipient = address("recipient", self.recipient.as_ref())?;
        let currency = address("currency", self.currency.as_ref())?;
        let permit2 = match &self.permit2 {
            Some(text) => address("permit2 address", Some(text))?,
            None => PERMIT2_ADDRESS,
        };
        let decimals = self.decimals.unwrap_or(6);
        if decimals > 38 {
            return Err(EvmConfigError::InvalidDecimals(decimals));
        }
        let url = self
            .rpc_url
            .as_deref()
            .ok_or(EvmConfigError::Missing("rpc_url"))?;
        let url = url::Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or(EvmConfigError::InvalidRpcUrl)?;
        let gas_payer = match &self.gas_payer_key {
            None => None,
            Some(key) => Some(GasPayer {
                signer: key
                    .trim()
                    .parse::<PrivateKeySigner>()
                    .map_err(|_| EvmConfigError::InvalidGasPayerKey)?,
                limits: self.gas_limits.unwrap_or_default(),
                budget: Arc::new(FeeBudget::new(
                    self.gas_budget.unwrap_or(DEFAULT_BUDGET),
                    self.gas_budget_store.clone(),
                )),
                sending: Arc::new(tokio::sync::Mutex::new(())),
            }),
        };
        let splits = parse_splits(&self.splits)?;
        let credential_types = credential_types(
            self.credential_types,
            gas_payer.is_some(),
            self.token_domain.is_some(),
            !splits.is_empty(),
        )?;
        let separators = Separators::new(chain_id, permit2, currency, self.token_domain.as_ref());
        Ok(EvmCharge {
            inner: Arc::new(Inner {
                recipient,
                currency,
                decimals,
                chain_id,
                permit2,
                rpc: Rpc::new(
                    url,
                    self.rpc_timeout.unwrap_or(Duration::from_secs(10)),
                    &self.root_certificates,
                )?,
                receipt_timeout: self.receipt_timeout.unwrap_or(Duration::from_secs(30)),
                gas_payer,
                token_domain: self.token_domain,
                separators,
                credential_types,
                splits,
                unbound_on_volatile_store: self.unbound_on_volatile_store,
            }),
        })
    }
}

fn parse_splits(
    splits: &[(String, u128, Option<String>)],
) -> Result<Vec<EvmSplit>, EvmConfigError> {
    if splits.len() > MAX_SPLITS {
        return Err(EvmConfigError::InvalidSplits("at most ten splits"));
    }
    splits
        .iter()
        .map(|(recipient, amount, memo)| {
            if *amount == 0 {
                return Err(EvmConfigError::InvalidSplits(
                    "a split must be more than zero",
                ));
            }
            if memo.as_ref().is_some_and(|m| m.chars().count() > 256) {
                return Err(EvmConfigError::InvalidSplits(
                    "a split's memo has at most 256 characters",
                ));
            }
            Ok(EvmSplit {
                amount: U256::from(*amount),
                recipient: recipient.trim().parse().map_err(|_| {
                    EvmConfigError::InvalidAddress {
                        field: "split recipient",
                        value: recipient.clone(),
                    }
                })?,
                memo: memo.clone(),
            })
        })
        .collect()
}

/// The credential types to offer: the configured ones, checked against
/// what the server can settle, or the defaults.
fn credential_types(
    configured: Option<Vec<CredentialType>>,
    gas_payer: bool,
    eip3009: bool,
    splits: bool,
) -> Result<Vec<CredentialType>, EvmConfigError> {
    use CredentialType::{Authorization, Hash, Permit2, Transaction};
    let types = match configured {
        Some(types) => types,
        None if splits => vec![Permit2],
        None => [
            (Permit2, gas_payer),
            (Authorization, gas_payer && eip3009),
            (Transaction, true),
            (Hash, true),
        ]
        .into_iter()
        .filter_map(|(t, on)| on.then_some(t))
        .collect(),
    };
    let mut seen = Vec::with_capacity(types.len());
    for t in types {
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    if seen.is_empty() {
        return Err(EvmConfigError::InvalidCredentialTypes(
            "no credential type is offered",
        ));
    }
    if !gas_payer && seen.iter().any(|t| t.server_pays_gas()) {
        return Err(EvmConfigError::InvalidCredentialTypes(
            "permit2 and authorization credentials need a gas key",
        ));
    }
    if !eip3009 && seen.contains(&Authorization) {
        return Err(EvmConfigError::InvalidCredentialTypes(
            "authorization credentials need the token's EIP-712 domain (authorization_domain)",
        ));
    }
    if splits && seen != [Permit2] {
        return Err(EvmConfigError::InvalidCredentialTypes(
            "a charge with splits is paid with permit2 only",
        ));
    }
    Ok(seen)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
