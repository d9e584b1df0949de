//! [`TempoSession`]: the `session` intent as a [`PaymentMethod`].
//!
//! Every credential names a channel and carries one of four actions; all of
//! them end in one atomic update of the channel store:
//!
//! - `voucher`: one signature recovery, then the store accepts the voucher
//!   (signer, monotonic, minimum delta, within the deposit) and debits the
//!   request in the same update. No chain call.
//! - `open` and `topUp`: the client's transaction is checked, broadcast
//!   once and the channel read back from the escrow (see `open.rs`).
//! - `close`: the final voucher is accepted, then the payee's `close`
//!   transaction settles it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use alloy_primitives::{Address, B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use serde::Deserialize as _;
use serde::de::IntoDeserializer as _;
use serde_json::{Map, Value};

use super::config::{PayeeDebug, TempoSessionBuilder};
use super::lookups::{NotFound, with_attempts};
use super::voucher::{VoucherHasher, recover_voucher_signer};
use super::wire::{SessionDetails, SessionPayload, SessionRequest};
use crate::method::{
    Management, Meter, MethodError, PaymentMethod, Price, Settlement, Verification, VerifyError,
    request_object,
};
use crate::protocol::{Base64Json, Credential, ProblemType, Receipt};
use crate::store::AccountingError;
use crate::store::{Applied, Channel, ChannelUpdate, SharedChannelStore, SignedVoucher};
use crate::tempo::rpc::{Rpc, RpcFault};
use crate::tempo::sponsor::FeePayer;

pub(super) use crate::chain::RETRY_AFTER;

/// The Tempo `session` method: pay-as-you-go on payment channels
/// (`sessionProtocol` v1, the `TempoStreamChannel` escrow). Cheap to clone.
#[derive(Clone)]
pub struct TempoSession {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) recipient: Address,
    pub(super) payee: PrivateKeySigner,
    pub(super) currency: Address,
    pub(super) decimals: u8,
    pub(super) chain_id: u64,
    pub(super) escrow: Address,
    /// Hashes this escrow's vouchers on this chain.
    pub(super) vouchers: VoucherHasher,
    pub(super) suggested_deposit: Option<u128>,
    pub(super) min_voucher_delta: u128,
    /// The least deposit an `open` makes, in base units.
    pub(super) min_deposit: u128,
    /// The least a `topUp` adds, in base units.
    pub(super) min_top_up: u128,
    pub(super) unit_type: Option<String>,
    pub(super) store: SharedChannelStore,
    pub(super) fee_token: Address,
    pub(super) max_fee_per_gas: u128,
    pub(super) rpc: Rpc,
    pub(super) receipt_timeout: Duration,
    /// Sponsors clients' open and top-up fees, when configured.
    pub(super) fee_payer: Option<FeePayer>,
    /// Channels the escrow did not know, lately.
    pub(super) not_found: NotFound,
}

impl fmt::Debug for TempoSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("TempoSession")
            .field("payee", &PayeeDebug(&inner.payee))
            .field("currency", &inner.currency)
            .field("chain_id", &inner.chain_id)
            .field("escrow", &inner.escrow)
            .field("store", &inner.store)
            .finish_non_exhaustive()
    }
}

/// What an action did: the channel after it, and its transaction if any.
pub(super) struct Done {
    pub(super) id: B256,
    pub(super) channel: Channel,
    pub(super) tx: Option<B256>,
}

impl TempoSession {
    /// Starts a configuration; the payee's key is required.
    pub fn builder() -> TempoSessionBuilder {
        TempoSessionBuilder::default()
    }

    /// The payee (the channels' recipient).
    pub fn recipient(&self) -> Address {
        self.inner.recipient
    }

    /// The escrow contract.
    pub fn escrow(&self) -> Address {
        self.inner.escrow
    }

    /// The chain.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// The channel store.
    pub fn channel_store(&self) -> &SharedChannelStore {
        &self.inner.store
    }

    fn session_request(&self, price: &Price) -> Result<Option<SessionRequest>, MethodError> {
        let inner = &self.inner;
        let currency = match price.currency_override() {
            None => inner.currency,
            Some(text) => match text.parse::<Address>() {
                Ok(address) if address == inner.currency => address,
                _ => return Ok(None),
            },
        };
        if let Some(text) = price.recipient_override()
            && text.parse::<Address>().ok() != Some(inner.recipient)
        {
            // Channels pay the payee only.
            return Ok(None);
        }
        Ok(Some(SessionRequest {
            amount: self.unit_price(price)?,
            unit_type: inner.unit_type.clone(),
            suggested_deposit: inner.suggested_deposit,
            currency,
            recipient: inner.recipient,
            method_details: SessionDetails {
                escrow_contract: inner.escrow,
                channel_id: None,
                min_voucher_delta: (inner.min_voucher_delta > 0).then_some(inner.min_voucher_delta),
                chain_id: Some(inner.chain_id),
                session_protocol: Some("v1".to_owned()),
                fee_payer: inner.fee_payer.is_some(),
            },
        }))
    }

    fn unit_price(&self, price: &Price) -> Result<u128, MethodError> {
        price
            .amount()
            .to_base_units(self.inner.decimals)
            .map_err(|e| MethodError::new(format!("the price {price} does not fit: {e}")))
    }

    /// Whether `request` (echoed, its binding checked) is one of this
    /// method's: same payee, currency, escrow and chain.
    fn is_ours(&self, request: &SessionRequest) -> bool {
        let inner = &self.inner;
        request.recipient == inner.recipient
            && request.currency == inner.currency
            && request.method_details.escrow_contract == inner.escrow
            && request.method_details.chain_id == Some(inner.chain_id)
    }

    /// Runs the credential's action, debiting `cost`, and describes the
    /// result as a settlement for the receipt.
    async fn run(
        &self,
        credential: &Credential,
        cost: u128,
        units: Option<u128>,
        expires: SystemTime,
    ) -> Result<Settlement, VerifyError> {
        // Read in place: no copy of the payload.
        let payload = SessionPayload::deserialize((&credential.payload).into_deserializer())
            .map_err(|e: serde_json::Error| {
                VerifyError::malformed(format!("The session payload is not valid: {e}."))
            })?;
        let done = match payload {
            SessionPayload::Open {
                kind,
                channel_id,
                transaction,
                cumulative_amount,
                signature,
                ..
            } => {
                require_transaction(&kind)?;
                let voucher = (cumulative_amount, signature);
                self.inner
                    .open(channel_id, &transaction, voucher, cost, expires)
                    .await?
            }
            SessionPayload::TopUp {
                kind,
                channel_id,
                transaction,
                additional_deposit,
            } => {
                require_transaction(&kind)?;
                self.inner
                    .top_up(channel_id, &transaction, additional_deposit, cost, expires)
                    .await?
            }
            SessionPayload::Voucher {
                channel_id,
                cumulative_amount,
                signature,
            } => {
                let voucher = self
                    .inner
                    .signed(channel_id, cumulative_amount, signature)?;
                let min_delta = self.inner.min_voucher_delta;
                let applied = self
                    .inner
                    .pay(channel_id, Some(voucher), min_delta, cost)
                    .await?;
                Done {
                    id: channel_id,
                    channel: applied.channel,
                    tx: None,
                }
            }
            SessionPayload::Close {
                channel_id,
                cumulative_amount,
                signature,
            } => {
                self.inner
                    .close(channel_id, cumulative_amount, signature, cost)
                    .await?
            }
        };
        let state = done.channel.state;
        let mut settlement = Settlement::new(done.id.to_string())
            .receipt_field("intent", "session")
            .receipt_field("challengeId", credential.challenge.id.clone())
            .receipt_field("channelId", done.id.to_string())
            .receipt_field("acceptedCumulative", state.accepted_cumulative.to_string())
            .receipt_field("spent", state.spent.to_string());
        if let Some(units) = units {
            settlement =
                settlement.receipt_field("units", u64::try_from(units).unwrap_or(u64::MAX));
        }
        if let Some(tx) = done.tx {
            settlement = settlement.receipt_field("txHash", tx.to_string());
        }
        Ok(settlement)
    }
}

fn require_transaction(kind: &str) -> Result<(), VerifyError> {
    if kind == "transaction" {
        Ok(())
    } else {
        Err(VerifyError::malformed(
            "An open or top-up payload has type \"transaction\".",
        ))
    }
}

impl Inner {
    /// A voucher whose signer was recovered (not yet compared with the
    /// channel's: the store does that within its update).
    pub(super) fn signed(
        &self,
        id: B256,
        amount: u128,
        signature: Bytes,
    ) -> Result<SignedVoucher, VerifyError> {
        let hash = self.vouchers.hash(id, amount);
        let signer = recover_voucher_signer(&signature, &hash).map_err(|e| {
            VerifyError::problem(
                ProblemType::SessionInvalidSignature,
                format!("The voucher signature was refused: {e}."),
            )
        })?;
        Ok(SignedVoucher {
            amount,
            signature,
            signer,
        })
    }

    /// Accepts `voucher` (if any) and debits `cost` on channel `id`, in one
    /// atomic store update.
    pub(super) async fn pay(
        &self,
        id: B256,
        voucher: Option<SignedVoucher>,
        min_delta: u128,
        cost: u128,
    ) -> Result<Applied, VerifyError> {
        let update = ChannelUpdate::Pay {
            voucher,
            min_delta,
            cost,
        };
        let applied = match self.store.update(id, update.clone()).await {
            Ok(Some(applied)) => applied,
            Ok(None) => {
                // Not in the store (another store, or one that forgot):
                // the escrow still knows it.
                let voucher = match &update {
                    ChannelUpdate::Pay { voucher, .. } => voucher.as_ref(),
                    _ => None,
                };
                self.recover(id, voucher).await?;
                self.store
                    .update(id, update)
                    .await
                    .map_err(store_unavailable)?
                    .ok_or_else(|| not_found(id))?
            }
            Err(error) => return Err(store_unavailable(error)),
        };
        match applied.outcome {
            Ok(()) => Ok(applied),
            Err(refusal) => Err(refused(id, &refusal)),
        }
    }
}

pub(super) fn store_unavailable(error: crate::store::StoreError) -> VerifyError {
    VerifyError::unavailable(RETRY_AFTER, "Payments are temporarily unavailable.")
        .with_source(error)
}

pub(super) fn rpc_unavailable(fault: RpcFault) -> VerifyError {
    VerifyError::unavailable(RETRY_AFTER, "The Tempo node is unavailable.").with_source(fault)
}

pub(super) fn not_found(id: B256) -> VerifyError {
    VerifyError::problem(
        ProblemType::SessionChannelNotFound,
        format!("No channel {id} is open with this server."),
    )
}

/// The problem a refused voucher or debit answers.
pub(super) fn refused(id: B256, refusal: &AccountingError) -> VerifyError {
    let problem = match refusal {
        AccountingError::Closed | AccountingError::CloseRequested => {
            ProblemType::SessionChannelFinalized
        }
        AccountingError::SignerMismatch => ProblemType::SessionSignerMismatch,
        AccountingError::BelowAccepted { .. } | AccountingError::BelowMinDelta { .. } => {
            ProblemType::SessionDeltaTooSmall
        }
        AccountingError::AboveDeposit { .. } => ProblemType::SessionAmountExceedsDeposit,
        _ => ProblemType::SessionInsufficientBalance,
    };
    // The client pays from this channel: its fresh challenge names it.
    let resume = !matches!(
        refusal,
        AccountingError::Closed | AccountingError::CloseRequested | AccountingError::SignerMismatch
    );
    let detail = match refusal.required_top_up() {
        Some(top_up) => format!(
            "Channel {id}: {refusal}; send a voucher at least {top_up} base units higher (requiredTopUp {top_up})."
        ),
        None => format!("Channel {id}: {refusal}."),
    };
    let error = VerifyError::problem(problem, detail);
    if resume {
        let mut details = Map::new();
        details.insert("channelId".into(), Value::String(id.to_string()));
        error.resume_with(details)
    } else {
        error
    }
}

impl PaymentMethod for TempoSession {
    fn name(&self) -> &'static str {
        "tempo"
    }

    fn intent(&self) -> &'static str {
        "session"
    }

    fn single_use_challenges(&self) -> bool {
        false
    }

    fn request(
        &self,
        intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError> {
        if intent != "session" {
            return Ok(None);
        }
        self.session_request(price)?
            .map(|request| request_object(&request))
            .transpose()
    }

    /// The offered request, or the same naming a channel to resume.
    fn pins_request(&self, offered: &Base64Json, echoed: &Base64Json) -> bool {
        if offered == echoed {
            return true;
        }
        let (Ok(offered), Ok(mut echoed)) = (
            offered.deserialize::<SessionRequest>(),
            echoed.deserialize::<SessionRequest>(),
        ) else {
            return false;
        };
        echoed.method_details.channel_id = None;
        offered == echoed
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        let unit_price = self
            .unit_price(verification.price)
            .map_err(|e| VerifyError::failed(e.to_string()))?;
        let cost = unit_price
            .checked_mul(verification.units)
            .ok_or_else(|| VerifyError::failed("The request's cost does not fit in 128 bits."))?;
        let run = self.run(
            verification.credential,
            cost,
            Some(verification.units),
            verification.expires,
        );
        with_attempts(verification.attempts.clone(), run).await
    }

    fn meter(
        &self,
        price: &Price,
        receipt: &Receipt,
    ) -> Result<Option<Arc<dyn Meter>>, MethodError> {
        let unit_price = self.unit_price(price)?;
        match crate::method::channel_meter::for_receipt(&self.inner.store, unit_price, receipt) {
            Some(meter) => Ok(Some(meter)),
            None => Err(MethodError::new("the receipt names no channel")),
        }
    }

    async fn manage(&self, management: &Management<'_>) -> Result<Option<Settlement>, VerifyError> {
        let request: SessionRequest = management
            .credential
            .challenge
            .request
            .deserialize()
            .map_err(|e| {
                VerifyError::malformed("The challenge's request is not a session request.")
                    .with_source(e)
            })?;
        if !self.is_ours(&request) {
            return Err(VerifyError::failed(
                "The challenge was issued for another payee, currency, escrow or chain.",
            ));
        }
        let run = self.run(management.credential, 0, None, management.expires);
        with_attempts(management.attempts.clone(), run)
            .await
            .map(Some)
    }
}
