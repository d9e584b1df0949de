//! The Tempo payment method, with the `tempo` feature: TIP-20 charges
//! settled on the Tempo chain (`draft-tempo-charge-00`) and pay-as-you-go
//! sessions on payment channels ([`session`], `draft-tempo-session-00`).
//!
//! [`TempoCharge`] offers a charge in a TIP-20 token (`PathUSD` by default)
//! and accepts all three credential types:
//!
//! - **pull** (`type="transaction"`): the client signs a Tempo transaction
//!   (type `0x76`); the server checks that its calls are exactly the
//!   transfers the charge asks for, co-signs as fee payer when it sponsors
//!   fees, and broadcasts it with `eth_sendRawTransactionSync` (one round
//!   trip; `eth_sendRawTransaction` and receipt polling on nodes without
//!   it).
//! - **push** (`type="hash"`): the client broadcast the transaction; one
//!   `eth_getTransactionReceipt` shows whether its logs pay the charge.
//! - **proof** (zero amounts): an EIP-712 signature naming the challenge.
//!
//! Without a memo of its own, a charge must be paid with the challenge's
//! attribution memo (see [`attribution_memo`]), so a transfer made for
//! anything else cannot be presented. Transaction hashes are claimed in
//! the registry's store before success is reported, and a proof is covered
//! by the registry's claim of its challenge, so each settles once, across
//! threads and instances. A node that is down, slow
//! or answers garbage is a `503` with `Retry-After`, never a receipt.
//!
//! ```no_run
//! use tower_mpp::method::Payments;
//! use tower_mpp::tempo::TempoCharge;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tempo = TempoCharge::builder()
//!     .recipient("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
//!     .rpc_url("http://127.0.0.1:8545")
//!     .connect() // asks the node for its chain id
//!     .await?;
//! let payments = Payments::builder()
//!     .realm("api.example.com")
//!     .secret_from_env()
//!     .method(tempo)
//!     .build()?;
//! # let _ = payments; Ok(()) }
//! ```
//!
//! # Configuration from the environment
//!
//! The `from_env` constructors read these variables, the same names
//! everywhere; an unset or blank variable leaves the setting as it was.
//!
//! | Variable | Read by | Meaning |
//! |---|---|---|
//! | `MPP_SECRET_KEY` | [`PaymentsBuilder::secret_from_env`](crate::method::PaymentsBuilder::secret_from_env) | The challenge-binding secret, at least 32 bytes (required) |
//! | `MPP_SECRET_KEY_PREVIOUS` | the same | The previous secret, accepted during a rotation |
//! | `MPP_REALM` | [`PaymentsBuilder::realm_from_env`](crate::method::PaymentsBuilder::realm_from_env) | The realm (or another of [`REALM_ENV_VARS`](crate::method::REALM_ENV_VARS)) |
//! | `TEMPO_RECIPIENT` | [`TempoChargeBuilder::from_env`] | The address charges pay (required for a charge) |
//! | `TEMPO_PAYEE_KEY` | [`TempoSessionBuilder::from_env`](session::TempoSessionBuilder::from_env) | The payee's private key: sessions pay its address, it signs settlements (required for a session) |
//! | `TEMPO_ESCROW` | the session's | The escrow contract (default: the known one on mainnet and testnet) |
//! | `TEMPO_RPC_URL` | both | The node (default [`MAINNET_RPC_URL`]) |
//! | `TEMPO_CHAIN_ID` | both | The chain id (default: mainnet's, or the node's with `connect`) |
//! | `TEMPO_CURRENCY` | both | The TIP-20 token (default [`PATH_USD`]) |
//! | `TEMPO_FEE_PAYER_KEY` | both | A private key that sponsors the payers' fees (default: none) |
//!
//! The examples also read `ADDR` (where to listen, default
//! `127.0.0.1:3000`), `REDIS_URL` (a shared store) and, on the paying
//! side, `PAYER_KEY` (the client's key).

pub(crate) mod config;
mod config_error;
mod cosign;
mod envelope;
mod memo;
pub(crate) mod proof;
mod pull;
mod push;
pub(crate) mod request;
pub mod session;
mod sponsor;
mod transfer;

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use serde_json::{Map, Value};

pub use crate::chain::did::did_pkh;
pub(crate) use crate::chain::{did as source, rpc};
pub use config::{MAINNET_CHAIN_ID, MAINNET_RPC_URL, MAX_SPLITS, PATH_USD, TempoChargeBuilder};
pub use config_error::TempoConfigError;
pub use envelope::encode_fee_payer_envelope;
pub use memo::{attribution_memo, is_attribution_memo};
pub use proof::{PROOF_DOMAIN_NAME, PROOF_DOMAIN_VERSION, proof_signing_hash};
pub use push::check_push_receipt;
pub use request::{Mode, Split};
pub use sponsor::{FeeLimits, SponsorBudget};

use crate::method::{
    MethodError, PaymentMethod, Price, Settlement, Verification, VerifyError, request_object,
};
use config::{parse_address, parse_memo};
use request::{ChargeRequest, MethodDetails};
use rpc::Rpc;
use sponsor::FeePayer;

// A transaction hash is claimed for `TX_CLAIM_TTL` when the charge has a
// memo of its own; an attribution memo names its challenge, which cannot
// be presented once expired: its hash is claimed until then.
use crate::chain::{CLAIM_MARGIN, RETRY_AFTER, TX_CLAIM_TTL};

/// The Tempo `charge` method. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TempoCharge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    recipient: Address,
    currency: Address,
    decimals: u8,
    chain_id: u64,
    rpc: Rpc,
    receipt_timeout: Duration,
    fee_payer: Option<FeePayer>,
    memo: Option<B256>,
    memo_on_volatile_store: bool,
    splits: Vec<Split>,
    supported_modes: Option<Vec<Mode>>,
    external_id: Option<String>,
    description: Option<String>,
}

impl TempoCharge {
    /// Starts a configuration; only the recipient is required.
    pub fn builder() -> TempoChargeBuilder {
        TempoChargeBuilder::default()
    }

    /// The chain this method settles on.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// The default currency.
    pub fn currency(&self) -> Address {
        self.inner.currency
    }

    /// The default recipient.
    pub fn recipient(&self) -> Address {
        self.inner.recipient
    }

    /// The fee payer's address, when the server sponsors fees.
    pub fn fee_payer(&self) -> Option<Address> {
        self.inner
            .fee_payer
            .as_ref()
            .map(|payer| payer.signer.address())
    }

    fn charge_request(&self, price: &Price) -> Result<Option<ChargeRequest>, MethodError> {
        let inner = &self.inner;
        let currency = match price.currency_override() {
            // A currency that is not an address ("usd") is another
            // method's: this one is not offered.
            Some(text) => match parse_address("currency", text) {
                Ok(address) => address,
                Err(_) => return Ok(None),
            },
            None => inner.currency,
        };
        let recipient = price
            .recipient_override()
            .map(|text| parse_address("recipient", text))
            .transpose()
            .map_err(|e| MethodError::new(e.to_string()))?
            .unwrap_or(inner.recipient);
        let units = price
            .amount()
            .to_base_units(inner.decimals)
            .map_err(|e| MethodError::new(format!("the price {price} does not fit: {e}")))?;
        let amount = U256::from(units);
        let mut details = MethodDetails {
            chain_id: inner.chain_id,
            ..MethodDetails::default()
        };
        if !amount.is_zero() {
            details.memo = price
                .memo_override()
                .map(parse_memo)
                .transpose()
                .map_err(|e| MethodError::new(e.to_string()))?
                .or(inner.memo);
            details.fee_payer = match price.sponsor_fees_override() {
                Some(true) if inner.fee_payer.is_none() => {
                    return Err(MethodError::new(
                        "the price asks for fee sponsorship but no fee payer is configured",
                    ));
                }
                Some(sponsor) => sponsor,
                None => inner.fee_payer.is_some(),
            };
            details.splits.clone_from(&inner.splits);
            let split_total = details.splits.iter().map(|s| s.amount).sum::<U256>();
            if split_total >= amount {
                return Err(MethodError::new(format!(
                    "the splits ({split_total} base units) leave nothing of {amount} to the recipient"
                )));
            }
            details.supported_modes = match (&inner.supported_modes, details.fee_payer) {
                // Hash credentials cannot pay a sponsored charge, nor one
                // with a fixed memo (the transfer names no challenge, so a
                // mined hash could be presented by anyone).
                (_, true) => Some(vec![Mode::Pull]),
                _ if details.memo.is_some() => Some(vec![Mode::Pull]),
                (modes, false) => modes.clone(),
            };
        }
        Ok(Some(ChargeRequest {
            amount,
            currency,
            recipient,
            description: price
                .description_text()
                .map(str::to_owned)
                .or_else(|| inner.description.clone()),
            external_id: price
                .external_id_text()
                .map(str::to_owned)
                .or_else(|| inner.external_id.clone()),
            method_details: details,
        }))
    }
}

impl PaymentMethod for TempoCharge {
    fn name(&self) -> &'static str {
        "tempo"
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

    fn needs_durable_store(&self) -> bool {
        self.inner.memo.is_some() && !self.inner.memo_on_volatile_store
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        let request: ChargeRequest = verification.request.deserialize().map_err(|e| {
            VerifyError::failed("The challenge's request is not a Tempo charge.").with_source(e)
        })?;
        let credential = verification.credential;
        let payer = match credential.source.as_deref() {
            None => None,
            Some(source) => {
                let payer = source::parse_did(source).ok_or_else(|| {
                    VerifyError::malformed("The credential's source is not a did:pkh:eip155 DID.")
                })?;
                if payer.chain_id != request.method_details.chain_id {
                    return Err(VerifyError::failed(
                        "The credential's source names another chain.",
                    ));
                }
                Some(payer.address)
            }
        };
        if request.method_details.memo.is_some()
            && !verification.claims.is_durable()
            && !self.inner.memo_on_volatile_store
        {
            // A transfer with a fixed memo names no challenge: only a claim
            // that survives restarts stops it paying twice.
            return Err(VerifyError::failed(
                "This server is not set up to accept fixed-memo payments (its claim store does not survive a restart).",
            ));
        }
        let kind = credential.payload.get("type").and_then(Value::as_str);
        let zero = request.amount.is_zero();
        let ctx = Settle {
            method: &self.inner,
            verification,
            request: &request,
            payer,
        };
        match kind {
            Some("proof") if zero => proof::verify(&ctx),
            Some("proof") => Err(VerifyError::malformed(
                "Proof credentials pay zero-amount charges only.",
            )),
            Some("transaction" | "hash") if zero => Err(VerifyError::malformed(
                "A zero-amount charge is paid with a proof credential.",
            )),
            Some("transaction") if !request.allows(Mode::Pull) => Err(VerifyError::failed(
                "This charge does not accept pull mode (transaction credentials).",
            )),
            Some("transaction") => pull::verify(&ctx).await,
            Some("hash") if request.method_details.fee_payer => Err(VerifyError::failed(
                "A charge with sponsored fees cannot be paid with a transaction hash.",
            )),
            Some("hash") if request.method_details.memo.is_some() => Err(VerifyError::failed(
                "A charge with a fixed memo is paid in pull mode: a mined transfer with that memo does not name this challenge.",
            )),
            Some("hash") if !request.allows(Mode::Push) => Err(VerifyError::failed(
                "This charge does not accept push mode (hash credentials).",
            )),
            Some("hash") => push::verify(&ctx).await,
            _ => Err(VerifyError::malformed(
                "The payload type must be \"transaction\", \"hash\" or \"proof\".",
            )),
        }
    }
}

/// What the three verifiers share.
struct Settle<'a> {
    method: &'a Inner,
    verification: &'a Verification<'a>,
    request: &'a ChargeRequest,
    payer: Option<Address>,
}

impl Settle<'_> {
    fn payload_str(&self, field: &str) -> Result<&str, VerifyError> {
        self.verification
            .credential
            .payload
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                VerifyError::malformed(format!("The payload has no \"{field}\" string."))
            })
    }

    /// How long this payment's transaction hash stays claimed.
    fn claim_ttl(&self) -> Duration {
        if self.request.method_details.memo.is_some() {
            return TX_CLAIM_TTL;
        }
        self.until_expiry() + CLAIM_MARGIN
    }

    /// Time left before the challenge expires.
    fn until_expiry(&self) -> Duration {
        self.verification
            .expires
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    }

    /// Claims a transaction hash for as long as it could pay.
    async fn claim_tx(&self, hash: &B256) -> Result<(), VerifyError> {
        match self
            .verification
            .claims
            .claim(&tx_key(hash), self.claim_ttl())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::replayed(
                "This transaction has already paid for a request.",
            )),
            Err(e) => Err(VerifyError::unavailable(
                RETRY_AFTER,
                "Payments are temporarily unavailable.",
            )
            .with_source(e)),
        }
    }

    /// Gives a transaction hash back after a definite failure, so a retry
    /// can use it.
    async fn release_tx(&self, hash: &B256) {
        // Best effort: an unreleased claim only blocks a retry of a
        // transaction that did not pay.
        let _ = self.verification.claims.release(&tx_key(hash)).await;
    }

    /// The node's trouble, told to the client in general terms: the
    /// fault (its text free of the node's URL) stays the error's source,
    /// for the operator.
    /// Refuses a transaction mined before this challenge was issued: it
    /// was made for something else. (One second of slack for clocks.) The
    /// receipt's `blockTimestamp` when the node sends one, else one block
    /// lookup.
    async fn check_mined_after_issue(&self, receipt: &rpc::Receipt) -> Result<(), VerifyError> {
        let mined = match (receipt.block_timestamp, receipt.block_number) {
            (Some(timestamp), _) => timestamp.to::<u64>(),
            (None, Some(number)) => self
                .method
                .rpc
                .block_timestamp(number)
                .await
                .map_err(Self::unavailable)?,
            (None, None) => {
                return Err(Self::unavailable(rpc::RpcFault::Unavailable(
                    "a receipt without a block".to_owned(),
                )));
            }
        };
        let issued = self
            .verification
            .issued
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if mined + 1 < issued {
            return Err(VerifyError::replayed(
                "This transaction was mined before the challenge was issued.",
            ));
        }
        Ok(())
    }

    fn unavailable(fault: rpc::RpcFault) -> VerifyError {
        VerifyError::unavailable(RETRY_AFTER, "The Tempo node is unavailable.").with_source(fault)
    }
}

fn tx_key(hash: &B256) -> String {
    format!("tempo:tx:{hash}")
}
