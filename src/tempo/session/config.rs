//! Configuring a [`TempoSession`]: a builder checked once at start-up.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;

use super::config_error::SessionConfigError;
use super::escrow::{MAINNET_ESCROW, TESTNET_ESCROW};
use super::lookups::NotFound;
use super::method::{Inner, TempoSession};
use super::voucher::VoucherHasher;
use crate::store::{ChannelStore, MemoryChannelStore, SharedChannelStore, SharedStore, Store};
use crate::tempo::config::{env, env_chain_id, parse_address, parse_url};
use crate::tempo::rpc::Rpc;
use crate::tempo::sponsor::{BudgetTracker, FeePayer};
use crate::tempo::{FeeLimits, MAINNET_CHAIN_ID, PATH_USD, SponsorBudget, TempoConfigError};
use crate::tls::ExtraRoots;

/// Tempo's testnet (Moderato) chain id.
pub const TESTNET_CHAIN_ID: u64 = 42431;

/// Builds a [`TempoSession`]; see [`TempoSession::builder`].
#[must_use]
pub struct TempoSessionBuilder {
    payee_key: Option<String>,
    recipient: Option<String>,
    currency: Option<String>,
    decimals: u8,
    rpc_url: Option<String>,
    chain_id: Option<u64>,
    escrow: Option<String>,
    suggested_deposit: Option<u128>,
    min_voucher_delta: u128,
    min_deposit: Option<u128>,
    min_top_up: Option<u128>,
    unit_type: Option<String>,
    store: Option<SharedChannelStore>,
    volatile_store: bool,
    fee_token: Option<String>,
    max_fee_per_gas: u128,
    rpc_timeout: Duration,
    receipt_timeout: Duration,
    fee_payer_key: Option<String>,
    fee_limits: FeeLimits,
    sponsor_budget: SponsorBudget,
    sponsor_budget_store: Option<SharedStore>,
    root_certificates: ExtraRoots,
    /// The first setting read from the environment that could not be
    /// used; `build` reports it.
    deferred: Option<SessionConfigError>,
}

impl Default for TempoSessionBuilder {
    fn default() -> Self {
        Self {
            payee_key: None,
            recipient: None,
            currency: None,
            decimals: 6,
            rpc_url: None,
            chain_id: None,
            escrow: None,
            suggested_deposit: None,
            min_voucher_delta: 0,
            min_deposit: None,
            min_top_up: None,
            unit_type: None,
            store: None,
            volatile_store: false,
            fee_token: None,
            max_fee_per_gas: 41_000_000_000,
            rpc_timeout: Duration::from_secs(10),
            receipt_timeout: Duration::from_secs(30),
            fee_payer_key: None,
            fee_limits: FeeLimits {
                max_gas: DEFAULT_SPONSORED_GAS,
                ..FeeLimits::default()
            },
            sponsor_budget: SponsorBudget::default(),
            sponsor_budget_store: None,
            root_certificates: ExtraRoots::default(),
            deferred: None,
        }
    }
}

/// The most gas a sponsored open or top-up may use by default: an approve
/// (about 530k gas for a new allowance) and an escrow `open` (about 1.32M),
/// with room for a Tempo transaction's overhead.
pub const DEFAULT_SPONSORED_GAS: u64 = 2_500_000;

impl fmt::Debug for TempoSessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempoSessionBuilder")
            .field("payee_key", &self.payee_key.as_ref().map(|_| ".."))
            .field("recipient", &self.recipient)
            .field("currency", &self.currency)
            .field("chain_id", &self.chain_id)
            .field("escrow", &self.escrow)
            .field("fee_payer_key", &self.fee_payer_key.as_ref().map(|_| ".."))
            .finish_non_exhaustive()
    }
}

impl TempoSessionBuilder {
    /// Reads the settings the environment has: `TEMPO_PAYEE_KEY`,
    /// `TEMPO_ESCROW`, `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`, `TEMPO_CURRENCY`
    /// and `TEMPO_FEE_PAYER_KEY`, the names
    /// [`TempoChargeBuilder::from_env`](crate::tempo::TempoChargeBuilder::from_env)
    /// reads (see
    /// [the table](crate::tempo#configuration-from-the-environment)).
    /// Unset or blank variables leave the setting as it was; a chain id
    /// that is not a number is reported by [`build`](Self::build).
    pub fn from_env(mut self) -> Self {
        if let Some(key) = env("TEMPO_PAYEE_KEY") {
            self = self.payee_key(key);
        }
        if let Some(escrow) = env("TEMPO_ESCROW") {
            self = self.escrow(escrow);
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
            Some(Err(e)) => {
                self.deferred.get_or_insert(e.into());
                self
            }
            None => self,
        }
    }

    /// The payee's secp256k1 key (hex; required): its address is the
    /// channels' payee, and it signs `settle` and `close`, paying their
    /// fees in the [fee token](Self::fee_token).
    pub fn payee_key(mut self, key: impl Into<String>) -> Self {
        self.payee_key = Some(key.into());
        self
    }

    /// The payee's address, checked against the key (optional).
    pub fn recipient(mut self, address: impl Into<String>) -> Self {
        self.recipient = Some(address.into());
        self
    }

    /// The TIP-20 token of the channels (default `PathUSD`).
    pub fn currency(mut self, address: impl Into<String>) -> Self {
        self.currency = Some(address.into());
        self
    }

    /// The currency's decimals, to scale decimal prices (default 6).
    pub fn decimals(mut self, decimals: u8) -> Self {
        self.decimals = decimals;
        self
    }

    /// The node's JSON-RPC URL (default Tempo mainnet's).
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(url.into());
        self
    }

    /// The chain id (required with a custom RPC URL).
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// The escrow contract (default: the known deployment on mainnet or
    /// testnet).
    pub fn escrow(mut self, address: impl Into<String>) -> Self {
        self.escrow = Some(address.into());
        self
    }

    /// The deposit suggested to clients opening a channel, in base units.
    pub fn suggested_deposit(mut self, base_units: u128) -> Self {
        self.suggested_deposit = Some(base_units);
        self
    }

    /// The least rise between two vouchers, in base units (default: any
    /// rise).
    pub fn min_voucher_delta(mut self, base_units: u128) -> Self {
        self.min_voucher_delta = base_units;
        self
    }

    /// The least deposit an `open` may make, in base units (default: a
    /// thousandth of a token, 1,000 base units at 6 decimals). A smaller
    /// open is refused before anything is signed or broadcast: each open
    /// costs a fee (the sponsor's, when fees are sponsored) and a channel
    /// the payee settles and closes at its own cost.
    pub fn min_deposit(mut self, base_units: u128) -> Self {
        self.min_deposit = Some(base_units);
        self
    }

    /// The least a `topUp` may add, in base units (default as for
    /// [`min_deposit`](Self::min_deposit)); a smaller one is refused before
    /// anything is signed or broadcast. With a fee payer, consider minimums
    /// above the fee each sponsored transaction costs.
    pub fn min_top_up(mut self, base_units: u128) -> Self {
        self.min_top_up = Some(base_units);
        self
    }

    /// What a unit is (`"request"`, `"llm_token"`), told to clients.
    pub fn unit_type(mut self, unit_type: impl Into<String>) -> Self {
        self.unit_type = Some(unit_type.into());
        self
    }

    /// Where channels are kept: one store per payee, shared by every
    /// instance that serves it (a `RedisChannelStore` with persistence).
    /// Two stores for one payee each count the same vouchers. Default: a
    /// [`MemoryChannelStore`], which needs
    /// [`volatile_channel_store`](Self::volatile_channel_store).
    pub fn channel_store<S: ChannelStore>(mut self, store: S) -> Self {
        self.store = Some(SharedChannelStore::new(store));
        self
    }

    /// Accepts a channel store that forgets on restart and serves one
    /// instance only (a [`MemoryChannelStore`], the default). What the
    /// payee loses with it: the vouchers accepted since the last
    /// settlement, at each restart (bounded by the settlement interval
    /// and threshold of the [`settler`](super::TempoSession::settler)).
    /// After a restart a channel is recovered from the escrow with the
    /// first voucher presented counted as spent. Vouchers carry no time, so
    /// a payer that presents an old, lower voucher first and its highest
    /// old one next is served again for the difference: what it had
    /// vouched and not yet been settled, the same bound. Off by default:
    /// [`build`](Self::build) refuses such a store.
    pub fn volatile_channel_store(mut self, accept: bool) -> Self {
        self.volatile_store = accept;
        self
    }

    /// The TIP-20 token the payee pays its `settle` and `close` fees in
    /// (default: the currency).
    pub fn fee_token(mut self, address: impl Into<String>) -> Self {
        self.fee_token = Some(address.into());
        self
    }

    /// The `max_fee_per_gas` of the payee's transactions.
    pub fn max_fee_per_gas(mut self, fee: u128) -> Self {
        self.max_fee_per_gas = fee;
        self
    }

    /// Trusts the certificate authority in `pem` (PEM) for an https RPC
    /// URL, besides the platform's roots: for a node whose certificate a
    /// private authority signed. May be called more than once.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Like [`build`](Self::build), then asks the node for its chain id
    /// (once): it must answer, over TLS for an https URL, with the chain id
    /// configured. Use it at start-up: a node that cannot work is then an
    /// error naming its host and why, not a `503` on every credential.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and [`TempoConfigError::ChainIdUnavailable`]
    /// or [`TempoConfigError::ChainIdMismatch`] (in
    /// [`SessionConfigError::Tempo`]).
    pub async fn connect(self) -> Result<TempoSession, SessionConfigError> {
        let session = self.build()?;
        let chain_id = session.inner.chain_id;
        session.inner.rpc.check_chain_id(Some(chain_id)).await?;
        Ok(session)
    }

    /// The time limit of one RPC call (default 10 s).
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// How long to wait for a transaction's receipt (default 30 s).
    pub fn receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// Checks the configuration and builds the method.
    ///
    /// Sponsors the fees of clients' `open` and `topUp` transactions with
    /// this key (hex): the challenges say `feePayer: true` and the key
    /// co-signs a client's transaction after checking it (expiring nonce,
    /// valid only until the challenge expires, the exact calls, gas within
    /// [`fee_limits`](Self::fee_limits), the payer's funds for the deposit)
    /// and counting its worst fee against the
    /// [`sponsor_budget`](Self::sponsor_budget). Fees are paid in the
    /// [fee token](Self::fee_token). Off by default.
    pub fn fee_payer_key(mut self, key: impl Into<String>) -> Self {
        self.fee_payer_key = Some(key.into());
        self
    }

    /// Limits on one sponsored transaction (default: at most
    /// [`DEFAULT_SPONSORED_GAS`] gas, and `FeeLimits`' fee cap).
    pub fn fee_limits(mut self, limits: FeeLimits) -> Self {
        self.fee_limits = limits;
        self
    }

    /// The most sponsored fees per window, counted at each transaction's
    /// worst case, per instance or in a shared
    /// [`sponsor_budget_store`](Self::sponsor_budget_store) (default as for
    /// charges): past it a
    /// sponsored open answers `503` with `Retry-After`.
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

    /// # Errors
    ///
    /// [`SessionConfigError`] for a missing or bad payee key, a recipient
    /// that is not the key's, an unknown chain or escrow, a bad address,
    /// URL or decimals, or a channel store that forgets on restart without
    /// [`volatile_channel_store`](Self::volatile_channel_store).
    pub fn build(self) -> Result<TempoSession, SessionConfigError> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let payee: PrivateKeySigner = self
            .payee_key
            .as_deref()
            .ok_or(SessionConfigError::MissingPayeeKey)?
            .trim()
            .parse()
            .map_err(|_| SessionConfigError::InvalidPayeeKey)?;
        if let Some(text) = &self.recipient {
            let recipient = parse_address("recipient", text)?;
            if recipient != payee.address() {
                return Err(SessionConfigError::RecipientIsNotPayee {
                    recipient,
                    payee: payee.address(),
                });
            }
        }
        let chain_id = match (self.chain_id, &self.rpc_url) {
            (Some(id), _) => id,
            (None, None) => MAINNET_CHAIN_ID,
            (None, Some(_)) => return Err(SessionConfigError::ChainIdUnknown),
        };
        let escrow = match (&self.escrow, chain_id) {
            (Some(text), _) => parse_address("escrow", text)?,
            (None, MAINNET_CHAIN_ID) => MAINNET_ESCROW,
            (None, TESTNET_CHAIN_ID) => TESTNET_ESCROW,
            (None, other) => return Err(SessionConfigError::EscrowUnknown(other)),
        };
        let currency = match &self.currency {
            Some(text) => parse_address("currency", text)?,
            None => PATH_USD,
        };
        let fee_token = match &self.fee_token {
            Some(text) => parse_address("fee token", text)?,
            None => currency,
        };
        if !(1..=38).contains(&self.decimals) {
            return Err(TempoConfigError::InvalidDecimals(self.decimals).into());
        }
        let url = parse_url(self.rpc_url.as_deref())?;
        let store = self
            .store
            .unwrap_or_else(|| SharedChannelStore::new(MemoryChannelStore::new()));
        if !store.is_durable() && !self.volatile_store {
            return Err(SessionConfigError::VolatileChannelStore);
        }
        // A thousandth of a token.
        let least = 10u128.pow(u32::from(self.decimals.saturating_sub(3)));
        let fee_payer = match &self.fee_payer_key {
            None => None,
            Some(key) => Some(FeePayer {
                signer: key
                    .trim()
                    .parse()
                    .map_err(|_| TempoConfigError::InvalidFeePayerKey)?,
                fee_token: Some(fee_token),
                limits: self.fee_limits,
                budget: Arc::new(BudgetTracker::new(
                    self.sponsor_budget,
                    self.sponsor_budget_store.clone(),
                )),
            }),
        };
        Ok(TempoSession {
            inner: Arc::new(Inner {
                recipient: payee.address(),
                payee,
                currency,
                decimals: self.decimals,
                chain_id,
                escrow,
                vouchers: VoucherHasher::new(chain_id, escrow),
                suggested_deposit: self.suggested_deposit,
                min_voucher_delta: self.min_voucher_delta,
                min_deposit: self.min_deposit.unwrap_or(least).max(1),
                min_top_up: self.min_top_up.unwrap_or(least).max(1),
                unit_type: self.unit_type,
                store,
                fee_token,
                max_fee_per_gas: self.max_fee_per_gas,
                rpc: Rpc::new(url, self.rpc_timeout, &self.root_certificates)?,
                receipt_timeout: self.receipt_timeout,
                fee_payer,
                not_found: NotFound::default(),
            }),
        })
    }
}

/// The payee key never shows in `Debug`.
pub(super) struct PayeeDebug<'a>(pub(super) &'a PrivateKeySigner);

impl fmt::Debug for PayeeDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayeeKey({}, ..)", self.0.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    fn builder() -> TempoSessionBuilder {
        TempoSession::builder()
            .payee_key(KEY)
            .rpc_url("http://127.0.0.1:9")
            .chain_id(TESTNET_CHAIN_ID)
    }

    /// A store that forgets on restart is refused unless accepted by name.
    #[test]
    fn a_volatile_channel_store_needs_an_explicit_opt_in() {
        assert_eq!(
            builder().build().unwrap_err(),
            SessionConfigError::VolatileChannelStore
        );
        assert_eq!(
            builder()
                .channel_store(MemoryChannelStore::new())
                .build()
                .unwrap_err(),
            SessionConfigError::VolatileChannelStore
        );
        assert!(
            builder()
                .volatile_channel_store(true)
                .build()
                .unwrap()
                .channel_store()
                .is_durable()
                .eq(&false)
        );
    }
}
