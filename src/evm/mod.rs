//! The EVM payment method, with the `evm` feature: ERC-20 charges on any
//! EVM chain (`draft-evm-charge-00`), settled for real through the chain's
//! JSON-RPC node.
//!
//! [`EvmCharge`] offers a charge in one ERC-20 token and accepts the
//! draft's four credential types, listed in `methodDetails.credentialTypes`
//! in the configured order:
//!
//! - **`permit2`**: a Permit2 `permitWitnessTransferFrom` signature whose
//!   witness names the challenge (the batch form pays splits atomically);
//!   the server submits it and pays the gas. Needs a gas key.
//! - **`authorization`**: an EIP-3009 `transferWithAuthorization` whose
//!   nonce is the challenge hash; the server submits it and pays the gas.
//!   Offered only for a token configured with its EIP-712 domain.
//! - **`transaction`**: a signed EIP-1559 `transfer` the server broadcasts.
//! - **`hash`**: a transfer the client broadcast, found by its receipt.
//!
//! Each proof (signer and nonce, or transaction hash) is claimed in the
//! registry's store before it settles, so it pays once across instances;
//! a transfer that reverts never serves. The gas the server pays is
//! simulated first, bounded and counted against a budget (see
//! [`GasLimits`], [`SponsorBudget`]). A node that is down or slow is a
//! `503` with `Retry-After`.
//!
//! ```no_run
//! use tower_mpp::evm::EvmCharge;
//! use tower_mpp::method::Payments;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let evm = EvmCharge::builder()
//!     .recipient("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
//!     .currency("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")
//!     .rpc_url("https://mainnet.base.org")
//!     .gas_payer_key("0x...") // pays gas for permit2 and authorization
//!     .authorization_domain("USD Coin", "2")
//!     .connect() // asks the node for its chain id
//!     .await?;
//! let payments = Payments::builder()
//!     .realm("api.example.com")
//!     .secret_from_env()
//!     .method(evm)
//!     .build()?;
//! # let _ = payments; Ok(()) }
//! ```

mod authorization;
mod config;
mod config_error;
mod gas;
mod hash;
mod logs;
mod permit2;
mod request;
mod submission;
mod transaction;
mod typed;
mod verify;

#[doc(hidden)]
pub mod bench;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, U256};
use serde_json::{Map, Value};

pub use crate::chain::budget::SponsorBudget;
pub use crate::chain::did::did_pkh;
pub use config::EvmChargeBuilder;
pub use config_error::EvmConfigError;
pub use gas::GasLimits;
pub use request::{CredentialType, EvmSplit, MAX_SPLITS};
pub use typed::{
    Authorization, PERMIT2_ADDRESS, PERMIT2_WITNESS_TYPE_STRING, Permit2Transfer, TokenDomain,
    authorization_signing_hash, challenge_hash,
};

use crate::chain::rpc::{Rpc, RpcFault};
use crate::chain::{CLAIM_MARGIN, RETRY_AFTER, TX_CLAIM_TTL};
use crate::method::{
    MethodError, PaymentMethod, Price, Settlement, Verification, VerifyError, request_object,
};
use gas::GasPayer;
pub(crate) use request::EvmRequest;
use request::MethodDetails;

/// The EVM `charge` method. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EvmCharge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    recipient: Address,
    currency: Address,
    decimals: u8,
    chain_id: u64,
    permit2: Address,
    rpc: Rpc,
    receipt_timeout: Duration,
    gas_payer: Option<GasPayer>,
    token_domain: Option<TokenDomain>,
    /// EIP-712 domain separators, computed once.
    separators: typed::Separators,
    credential_types: Vec<CredentialType>,
    splits: Vec<EvmSplit>,
    unbound_on_volatile_store: bool,
}

impl EvmCharge {
    /// Starts a configuration: the recipient, the token and the RPC URL
    /// are required.
    pub fn builder() -> EvmChargeBuilder {
        EvmChargeBuilder::default()
    }

    /// The chain this method settles on.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// The token.
    pub fn currency(&self) -> Address {
        self.inner.currency
    }

    /// The default recipient.
    pub fn recipient(&self) -> Address {
        self.inner.recipient
    }

    /// The credential types offered, in the order of preference.
    pub fn credential_types(&self) -> &[CredentialType] {
        &self.inner.credential_types
    }

    /// The gas key's address (the Permit2 spender), when there is one.
    pub fn gas_payer(&self) -> Option<Address> {
        self.inner.gas_payer.as_ref().map(GasPayer::address)
    }

    fn charge_request(&self, price: &Price) -> Result<Option<EvmRequest>, MethodError> {
        let inner = &self.inner;
        let currency = match price.currency_override() {
            // Another token, or not an address ("usd"): another method's.
            Some(text) => match text.parse::<Address>() {
                Ok(address) if address == inner.currency => address,
                _ => return Ok(None),
            },
            None => inner.currency,
        };
        let recipient = match price.recipient_override() {
            Some(text) => text.parse::<Address>().map_err(|_| {
                MethodError::new(format!("the recipient {text:?} is not an address"))
            })?,
            None => inner.recipient,
        };
        let units = price
            .amount()
            .to_base_units(inner.decimals)
            .map_err(|e| MethodError::new(format!("the price {price} does not fit: {e}")))?;
        let amount = U256::from(units);
        let split_total = inner.splits.iter().map(|s| s.amount).sum::<U256>();
        if !inner.splits.is_empty() && split_total >= amount {
            return Err(MethodError::new(format!(
                "the splits ({split_total} base units) leave nothing of {amount} to the recipient"
            )));
        }
        let types = &inner.credential_types;
        Ok(Some(EvmRequest {
            amount,
            currency,
            recipient,
            description: price.description_text().map(str::to_owned),
            external_id: price.external_id_text().map(str::to_owned),
            method_details: MethodDetails {
                chain_id: inner.chain_id,
                permit2_address: inner.permit2,
                credential_types: Some(types.clone()),
                decimals: Some(inner.decimals),
                splits: inner.splits.clone(),
                spender: types
                    .contains(&CredentialType::Permit2)
                    .then(|| self.gas_payer())
                    .flatten(),
            },
        }))
    }
}

impl PaymentMethod for EvmCharge {
    fn name(&self) -> &'static str {
        "evm"
    }

    fn request(
        &self,
        intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError> {
        if intent != "charge" {
            return Ok(None);
        }
        self.charge_request(price)?
            .map(|request| request_object(&request))
            .transpose()
    }

    /// A transaction or a hash names no challenge: only a claim that
    /// survives restarts stops one transfer paying twice.
    fn needs_durable_store(&self) -> bool {
        !self.inner.unbound_on_volatile_store
            && self
                .inner
                .credential_types
                .iter()
                .any(|t| matches!(t, CredentialType::Transaction | CredentialType::Hash))
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        verify::verify(&self.inner, verification).await
    }
}

/// Seconds since the Unix epoch.
fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The node's trouble, told to the client in general terms: the fault
/// stays the error's source, for the operator.
fn unavailable(fault: RpcFault) -> VerifyError {
    VerifyError::unavailable(RETRY_AFTER, "The EVM node is unavailable.").with_source(fault)
}

/// A `0x`-prefixed decimal-free number field of a payload: a base-10
/// integer string, as the draft writes amounts, nonces and times.
fn parse_uint(field: &str, text: &str) -> Result<U256, VerifyError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'));
    canonical
        .then(|| U256::from_str_radix(text, 10).ok())
        .flatten()
        .ok_or_else(|| {
            VerifyError::malformed(format!("The payload's {field} is not a base-10 integer."))
        })
}

/// A payload address.
fn parse_address(field: &str, text: &str) -> Result<Address, VerifyError> {
    let hex = text.strip_prefix("0x").unwrap_or("");
    if hex.len() != 40 {
        return Err(VerifyError::malformed(format!(
            "The payload's {field} is not an address."
        )));
    }
    text.parse()
        .map_err(|_| VerifyError::malformed(format!("The payload's {field} is not an address.")))
}
