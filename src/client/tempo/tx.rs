//! The transaction a Tempo charge asks for: the transfers, then an
//! expiring-nonce Tempo transaction (type `0x76`) carrying them.

use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_sol_types::SolCall;
use tempo_alloy::contracts::precompiles::ITIP20;
use tempo_alloy::primitives::transaction::{
    Call, FEE_PAYER_SIGNATURE_MARKER, TEMPO_EXPIRING_NONCE_KEY, TempoTransaction,
};
use tempo_alloy::rpc::TempoTransactionRequest;

use crate::client::PayError;
use crate::protocol::Challenge;
use crate::tempo::attribution_memo;
use crate::tempo::request::ChargeRequest;

/// How long a signed transaction stays valid, at most. Tempo drops
/// expiring-nonce transactions valid for more than 30 s past the latest
/// block; the margin covers a client clock a little ahead.
const VALIDITY: Duration = Duration::from_secs(25);

/// The calls that pay `request`: the primary transfer (with the request's
/// memo, else the challenge's attribution memo naming `client_id`), then
/// one transfer per split (with the split's memo when it has one).
pub(super) fn calls(
    request: &ChargeRequest,
    challenge: &Challenge,
    client_id: Option<&str>,
) -> Result<Vec<Call>, PayError> {
    let primary = request
        .primary_amount()
        .ok_or_else(|| PayError::invalid("the splits add up to the whole amount or more"))?;
    let memo = request
        .method_details
        .memo
        .unwrap_or_else(|| attribution_memo(&challenge.realm, &challenge.id, client_id));
    let currency = request.currency;
    let mut calls = vec![transfer(currency, request.recipient, primary, Some(memo))];
    for split in &request.method_details.splits {
        calls.push(transfer(
            currency,
            split.recipient,
            split.amount,
            split.memo,
        ));
    }
    Ok(calls)
}

fn transfer(token: Address, to: Address, amount: U256, memo: Option<B256>) -> Call {
    let input = match memo {
        Some(memo) => ITIP20::transferWithMemoCall { to, amount, memo }.abi_encode(),
        None => ITIP20::transferCall { to, amount }.abi_encode(),
    };
    Call {
        to: TxKind::Call(token),
        value: U256::ZERO,
        input: input.into(),
    }
}

/// The last second the transaction may be mined in: 25 s from now, or the
/// challenge's expiry if sooner.
pub(crate) fn valid_before(challenge: &Challenge, now: SystemTime) -> Result<NonZeroU64, PayError> {
    let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut until = seconds(now) + VALIDITY.as_secs();
    if let Some(expires) = &challenge.expires {
        until = until.min(seconds(expires.to_system_time()));
    }
    if until <= seconds(now) {
        return Err(PayError::invalid(format!(
            "challenge {} expires too soon to pay",
            challenge.id
        )));
    }
    NonZeroU64::new(until).ok_or_else(|| PayError::invalid("the clock is before 1970"))
}

/// What a transaction pays in fees, and in what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fees {
    /// `None`: the server sponsors the fees.
    pub(crate) fee_token: Option<Address>,
    pub(crate) gas_limit: u64,
    pub(crate) max_fee_per_gas: u128,
    pub(crate) max_priority_fee_per_gas: u128,
}

/// The unsigned transaction: an expiring nonce (key `U256::MAX`, nonce 0),
/// and when sponsored no fee token and the fee payer placeholder.
pub(crate) fn transaction(
    chain_id: u64,
    calls: Vec<Call>,
    fees: Fees,
    valid_before: NonZeroU64,
) -> TempoTransaction {
    TempoTransaction {
        chain_id,
        fee_token: fees.fee_token,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        max_fee_per_gas: fees.max_fee_per_gas,
        gas_limit: fees.gas_limit,
        calls,
        nonce_key: TEMPO_EXPIRING_NONCE_KEY,
        nonce: 0,
        fee_payer_signature: fees
            .fee_token
            .is_none()
            .then_some(FEE_PAYER_SIGNATURE_MARKER),
        valid_before: Some(valid_before),
        ..TempoTransaction::default()
    }
}

/// The `eth_estimateGas` request for `tx` sent by `from`, capped at
/// `cap` gas (a node otherwise simulates with the block's gas limit and
/// reserves that much of the fee token).
pub(super) fn estimate_request(
    tx: &TempoTransaction,
    from: Address,
    cap: u64,
) -> TempoTransactionRequest {
    let mut request = TempoTransactionRequest {
        fee_token: tx.fee_token,
        nonce_key: Some(tx.nonce_key),
        calls: tx.calls.clone(),
        valid_before: tx.valid_before,
        ..TempoTransactionRequest::default()
    };
    request.inner.from = Some(from);
    request.inner.chain_id = Some(tx.chain_id);
    request.inner.nonce = Some(tx.nonce);
    request.inner.gas = Some(cap);
    request.inner.max_fee_per_gas = Some(tx.max_fee_per_gas);
    request.inner.max_priority_fee_per_gas = Some(tx.max_priority_fee_per_gas);
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Base64Json, Timestamp};

    fn challenge(expires_in: Option<u64>) -> Challenge {
        let mut challenge = Challenge::new(
            "id",
            "realm",
            "tempo",
            "charge",
            Base64Json::from_value(serde_json::json!({})).unwrap(),
        );
        if let Some(secs) = expires_in {
            challenge =
                challenge.with_expires(Timestamp::after(Duration::from_secs(secs)).unwrap());
        }
        challenge
    }

    #[test]
    fn valid_before_is_capped_by_the_expiry() {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let open = valid_before(&challenge(None), now).unwrap().get();
        assert_eq!(open, secs + 25);
        let soon = valid_before(&challenge(Some(10)), now).unwrap().get();
        assert!((secs + 9..=secs + 10).contains(&soon), "{soon} vs {secs}");
        assert!(valid_before(&challenge(Some(0)), now).is_err());
    }
}
