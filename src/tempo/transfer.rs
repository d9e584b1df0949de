//! TIP-20 transfers: what a charge expects, what a transaction's calls or a
//! receipt's logs contain, and whether the two match.

use alloy_primitives::{Address, B256, Log, U256};
use alloy_sol_types::{SolCall, SolEvent};
use tempo_alloy::contracts::precompiles::ITIP20;

use super::memo::is_attribution_memo;
use super::request::ChargeRequest;

/// One TIP-20 transfer of the charge's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub(crate) from: Option<Address>,
    pub(crate) to: Address,
    pub(crate) amount: U256,
    pub(crate) memo: Option<B256>,
}

/// What memo a transfer must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemoRule {
    /// This memo, from the request.
    Exact(B256),
    /// The attribution memo of this realm and challenge.
    Attribution,
    /// Any memo or none.
    Any,
}

/// One transfer the charge requires.
#[derive(Debug, Clone, Copy)]
struct Required {
    to: Address,
    amount: U256,
    memo: MemoRule,
}

/// Why transfers do not pay a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// A required transfer is missing (wrong amount, recipient or memo).
    Missing(String),
    /// A transfer the charge did not ask for.
    Extra,
    /// A transfer from someone other than the payer.
    Sender,
}

impl Mismatch {
    pub(crate) fn detail(&self) -> String {
        match self {
            Self::Missing(what) => format!("The payment does not include {what}."),
            Self::Extra => {
                "The transaction makes transfers or calls the charge did not ask for.".to_owned()
            }
            Self::Sender => "The transfer was not sent by the credential's source.".to_owned(),
        }
    }
}

/// The transfers `request` requires, primary first; `None` when its splits
/// leave the primary recipient nothing.
fn required(request: &ChargeRequest) -> Option<Vec<Required>> {
    let details = &request.method_details;
    let primary_memo = details.memo.map_or(MemoRule::Attribution, MemoRule::Exact);
    let mut out = Vec::with_capacity(1 + details.splits.len());
    out.push(Required {
        to: request.recipient,
        amount: request.primary_amount()?,
        memo: primary_memo,
    });
    out.extend(details.splits.iter().map(|split| Required {
        to: split.recipient,
        amount: split.amount,
        memo: split.memo.map_or(MemoRule::Any, MemoRule::Exact),
    }));
    Some(out)
}

/// Checks `actual` against what `request` requires. With `exact`, every
/// actual transfer must be required (a transaction the server broadcasts);
/// without, extra transfers are ignored (a receipt, which also holds fee
/// transfers). With `payer`, every matched transfer must come from it.
pub(crate) fn check(
    request: &ChargeRequest,
    realm: &str,
    challenge_id: &str,
    actual: &[Transfer],
    exact: bool,
    payer: Option<Address>,
) -> Result<(), Mismatch> {
    let Some(mut required) = required(request) else {
        return Err(Mismatch::Missing("a valid split of the amount".to_owned()));
    };
    // The most specific rules first, so a loose rule never takes a transfer
    // a specific one needs.
    required.sort_by_key(|r| matches!(r.memo, MemoRule::Any));
    let mut used = vec![false; actual.len()];
    for want in &required {
        let found = actual.iter().enumerate().position(|(i, got)| {
            !used[i]
                && got.to == want.to
                && got.amount == want.amount
                && payer.is_none_or(|payer| got.from == Some(payer))
                && match want.memo {
                    MemoRule::Exact(memo) => got.memo == Some(memo),
                    MemoRule::Attribution => got
                        .memo
                        .is_some_and(|memo| is_attribution_memo(&memo, realm, challenge_id)),
                    MemoRule::Any => true,
                }
        });
        match found {
            Some(i) => used[i] = true,
            None => return Err(missing(want, actual, payer)),
        }
    }
    if exact && used.iter().any(|used| !used) {
        return Err(Mismatch::Extra);
    }
    Ok(())
}

fn missing(want: &Required, actual: &[Transfer], payer: Option<Address>) -> Mismatch {
    let to_right_place = |got: &&Transfer| got.to == want.to && got.amount == want.amount;
    if let Some(payer) = payer
        && actual
            .iter()
            .filter(to_right_place)
            .all(|got| got.from != Some(payer))
        && actual.iter().any(|got| to_right_place(&got))
    {
        return Mismatch::Sender;
    }
    let memo = match want.memo {
        MemoRule::Exact(memo) => format!(" with memo {memo}"),
        MemoRule::Attribution => " with this challenge's attribution memo".to_owned(),
        MemoRule::Any => String::new(),
    };
    Mismatch::Missing(format!(
        "a transfer of {} base units to {}{memo}",
        want.amount, want.to
    ))
}

/// Decodes one call of a transaction as a transfer of `currency`; `None`
/// for anything else (another token, another function, a value transfer,
/// contract creation).
pub(crate) fn from_call(
    currency: Address,
    to: Option<Address>,
    value: U256,
    input: &[u8],
) -> Option<Transfer> {
    if to != Some(currency) || !value.is_zero() {
        return None;
    }
    let selector: [u8; 4] = input.get(..4)?.try_into().ok()?;
    match selector {
        ITIP20::transferCall::SELECTOR => {
            let call = ITIP20::transferCall::abi_decode(input).ok()?;
            Some(Transfer {
                from: None,
                to: call.to,
                amount: call.amount,
                memo: None,
            })
        }
        ITIP20::transferWithMemoCall::SELECTOR => {
            let call = ITIP20::transferWithMemoCall::abi_decode(input).ok()?;
            Some(Transfer {
                from: None,
                to: call.to,
                amount: call.amount,
                memo: Some(call.memo),
            })
        }
        _ => None,
    }
}

/// The transfers of `currency` in a receipt's logs. `transferWithMemo`
/// emits a `Transfer` beside its `TransferWithMemo`: each such pair counts
/// once, with its memo.
pub(crate) fn from_logs<'a>(
    currency: Address,
    logs: impl Iterator<Item = &'a Log>,
) -> Vec<Transfer> {
    let mut plain = Vec::new();
    let mut with_memo = Vec::new();
    for log in logs.filter(|log| log.address == currency) {
        if let Ok(event) = ITIP20::TransferWithMemo::decode_log_data(&log.data) {
            with_memo.push(Transfer {
                from: Some(event.from),
                to: event.to,
                amount: event.amount,
                memo: Some(event.memo),
            });
        } else if let Ok(event) = ITIP20::Transfer::decode_log_data(&log.data) {
            plain.push(Transfer {
                from: Some(event.from),
                to: event.to,
                amount: event.amount,
                memo: None,
            });
        }
    }
    for memo in &with_memo {
        let twin = plain
            .iter()
            .position(|p| p.from == memo.from && p.to == memo.to && p.amount == memo.amount);
        if let Some(i) = twin {
            plain.remove(i);
        }
    }
    with_memo.extend(plain);
    with_memo
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
