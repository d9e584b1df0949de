//! `type="permit2"`: a Permit2 witness transfer the payer signed, whose
//! witness names the challenge; the server submits it (the batch form when
//! the charge has splits) and pays the gas.

use alloy_primitives::{Address, B256, Bytes, Signature, U256};
use alloy_sol_types::{SolCall, sol};
use serde::Deserialize;
use serde::de::value::MapDeserializer;

use super::logs::{self, Transfer};
use super::submission;
use super::typed::{PERMIT2_WITNESS_TYPE_STRING, Permit2Transfer, eip712_digest};
use super::verify::{Proof, Settle};
use super::{CLAIM_MARGIN, MAX_SPLITS, parse_address, parse_uint, unix};
use crate::chain::signature::recover;
use crate::method::{Settlement, VerifyError};

sol! {
    struct TokenPermissions { address token; uint256 amount; }
    struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }
    struct PermitBatchTransferFrom { TokenPermissions[] permitted; uint256 nonce; uint256 deadline; }
    struct SignatureTransferDetails { address to; uint256 requestedAmount; }
    function permitWitnessTransferFrom(
        PermitTransferFrom permit,
        SignatureTransferDetails transferDetails,
        address owner,
        bytes32 witness,
        string witnessTypeString,
        bytes signature
    );
    // The draft's `permitBatchWitnessTransferFrom` is an overload of the
    // same name in Permit2's ABI.
    function permitWitnessTransferFrom(
        PermitBatchTransferFrom permit,
        SignatureTransferDetails[] transferDetails,
        address owner,
        bytes32 witness,
        string witnessTypeString,
        bytes signature
    );
}

// The payload's fields, borrowed from the credential.
#[derive(Debug, Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    permit: Permit<'a>,
    #[serde(rename = "transferDetails", borrow)]
    transfer_details: Vec<Detail<'a>>,
    #[serde(borrow)]
    witness: Witness<'a>,
    signature: &'a str,
}

#[derive(Debug, Deserialize)]
struct Permit<'a> {
    #[serde(borrow)]
    permitted: Vec<Permitted<'a>>,
    nonce: &'a str,
    deadline: &'a str,
}

#[derive(Debug, Deserialize)]
struct Permitted<'a> {
    token: &'a str,
    amount: &'a str,
}

#[derive(Debug, Deserialize)]
struct Detail<'a> {
    to: &'a str,
    #[serde(rename = "requestedAmount")]
    requested_amount: &'a str,
}

#[derive(Debug, Deserialize)]
struct Witness<'a> {
    #[serde(rename = "challengeHash")]
    challenge_hash: &'a str,
}

/// A checked permit, ready to submit.
#[derive(Debug)]
pub(super) struct Checked {
    owner: Address,
    transfer: Permit2Transfer,
    /// `(to, amount)` per transfer, primary first.
    details: Vec<(Address, U256)>,
    /// The witness' struct hash, signed and submitted.
    witness: B256,
    signature: Signature,
}

/// A permit checked offline, ready to submit.
pub(super) type Ready<'a> = submission::Ready<'a, Checked>;

/// The offline half: the gas key, every check, the call.
pub(super) fn prepare<'a>(proof: &Proof<'a>) -> Result<Ready<'a>, VerifyError> {
    let Some(gas) = &proof.method.gas_payer else {
        return Err(VerifyError::failed(
            "This server does not accept permit2 credentials.",
        ));
    };
    let checked = check(proof, gas.address())?;
    let calldata = calldata(&checked);
    Ok(Ready {
        gas,
        checked,
        calldata,
    })
}

/// Claims the permit's nonce, submits it and reads its transfers.
pub(super) async fn settle(ctx: &Settle<'_>, ready: Ready<'_>) -> Result<Settlement, VerifyError> {
    let Ready {
        gas,
        checked,
        calldata,
    } = ready;
    let key = format!(
        "evm:permit2:{}:{}:{}:{}",
        ctx.request.method_details.chain_id,
        ctx.request.method_details.permit2_address,
        checked.owner,
        checked.transfer.nonce
    );
    // The permit is dead after its deadline (or the challenge's expiry).
    let deadline = u64::try_from(checked.transfer.deadline).unwrap_or(u64::MAX);
    let until_deadline =
        std::time::Duration::from_secs(deadline.saturating_sub(unix(std::time::SystemTime::now())));
    let ttl = until_deadline.min(ctx.until_expiry()) + CLAIM_MARGIN;
    let permit2 = ctx.request.method_details.permit2_address;
    let submitted = submission::submit_once(ctx, gas, &key, ttl, permit2, calldata).await?;
    let receipt = submission::receipt(ctx, &submitted).await?;
    let expected: Vec<Transfer> = checked
        .details
        .iter()
        .map(|&(to, value)| Transfer {
            from: checked.owner,
            to,
            value,
        })
        .collect();
    if !receipt.succeeded()
        || !logs::contains_all(
            &logs::transfers(&receipt.logs, ctx.request.currency),
            &expected,
        )
    {
        return Err(
            VerifyError::failed("The permitted transfer failed on chain.").spends_challenge(),
        );
    }
    Ok(ctx.settlement(submitted.hash))
}

/// The payload, read in place (nothing of it copied).
fn read<'a>(ctx: &Proof<'a>) -> Result<Payload<'a>, VerifyError> {
    let fields = ctx.credential.payload.iter().map(|(k, v)| (k.as_str(), v));
    Payload::deserialize(MapDeserializer::<_, serde_json::Error>::new(fields)).map_err(|e| {
        VerifyError::malformed("The permit2 payload does not have the draft's shape.")
            .with_source(e)
    })
}

/// Every offline check of the draft's Permit2 verification (1, 2 and 5 to
/// 10; the balance and allowance, 3 and 4, are what the simulation before
/// submitting shows).
fn check(ctx: &Proof<'_>, spender: Address) -> Result<Checked, VerifyError> {
    let payload = read(ctx)?;
    let owner = ctx.payer.ok_or_else(|| {
        VerifyError::malformed("A permit2 credential names its signer in `source`.")
    })?;
    let request = ctx.request;
    let splits = &request.method_details.splits;
    if payload.permit.permitted.len() != payload.transfer_details.len() {
        return Err(VerifyError::failed(
            "The permit's permitted and transferDetails differ in length.",
        ));
    }
    if payload.transfer_details.len() != splits.len() + 1 || splits.len() > MAX_SPLITS {
        return Err(VerifyError::failed(
            "The permit's transfers are not the charge's recipient and splits.",
        ));
    }
    let primary = request.primary_amount().ok_or_else(|| {
        VerifyError::failed("The charge's splits leave nothing to its recipient.")
    })?;
    let expected = std::iter::once((request.recipient, primary))
        .chain(splits.iter().map(|s| (s.recipient, s.amount)));
    let mut permitted = Vec::with_capacity(splits.len() + 1);
    let mut details = Vec::with_capacity(splits.len() + 1);
    for ((allowed, detail), (to, amount)) in payload
        .permit
        .permitted
        .iter()
        .zip(&payload.transfer_details)
        .zip(expected)
    {
        let token = parse_address("token", allowed.token)?;
        let max = parse_uint("amount", allowed.amount)?;
        let got_to = parse_address("to", detail.to)?;
        let requested = parse_uint("requestedAmount", detail.requested_amount)?;
        if token != request.currency {
            return Err(VerifyError::failed("The permit is for another token."));
        }
        if got_to != to {
            return Err(VerifyError::failed(
                "A transfer of the permit pays another recipient than the charge names, in its order.",
            ));
        }
        if requested != amount {
            return Err(VerifyError::insufficient(
                "A transfer of the permit is not the amount the charge names.",
            ));
        }
        if max < requested {
            return Err(VerifyError::insufficient(
                "The permit allows less than its transfer requests.",
            ));
        }
        permitted.push((token, max));
        details.push((to, requested));
    }
    let challenge_hash = ctx.challenge_hash();
    if payload.witness.challenge_hash.parse().ok() != Some(challenge_hash) {
        return Err(VerifyError::failed(
            "The permit's witness does not name this challenge.",
        ));
    }
    let nonce = parse_uint("nonce", payload.permit.nonce)?;
    let deadline = parse_uint("deadline", payload.permit.deadline)?;
    if deadline <= U256::from(unix(std::time::SystemTime::now())) {
        return Err(VerifyError::expired("The permit's deadline has passed."));
    }
    let signature: Signature = payload
        .signature
        .parse()
        .map_err(|_| VerifyError::malformed("The payload's signature is not a signature."))?;
    let transfer = Permit2Transfer {
        permitted,
        spender,
        nonce,
        deadline,
        challenge_hash,
        external_id: request.external_id.clone().unwrap_or_default(),
    };
    let witness = transfer.witness_hash();
    let separator = ctx.method.separators.permit2(
        request.method_details.chain_id,
        request.method_details.permit2_address,
    );
    let digest = eip712_digest(separator, transfer.struct_hash(witness));
    if recover(&signature, &digest) != Some(owner) {
        return Err(VerifyError::failed(
            "The permit's signature is not from the credential's source.",
        ));
    }
    Ok(Checked {
        owner,
        transfer,
        details,
        witness,
        signature,
    })
}

/// The Permit2 call that settles `checked`: the single form for one
/// transfer, the batch form with splits.
fn calldata(checked: &Checked) -> Bytes {
    let t = &checked.transfer;
    let permissions = |&(token, amount): &(Address, U256)| TokenPermissions { token, amount };
    let details = |&(to, amount): &(Address, U256)| SignatureTransferDetails {
        to,
        requestedAmount: amount,
    };
    // Permit2 checks 65-byte signatures with `ecrecover`, which takes
    // either `s`; the low one is what every signer makes.
    let signature = Bytes::from(checked.signature.normalized_s().as_bytes().to_vec());
    let witness = checked.witness;
    let type_string = PERMIT2_WITNESS_TYPE_STRING.to_owned();
    match (t.permitted.as_slice(), checked.details.as_slice()) {
        ([one], [detail]) => permitWitnessTransferFrom_0Call {
            permit: PermitTransferFrom {
                permitted: permissions(one),
                nonce: t.nonce,
                deadline: t.deadline,
            },
            transferDetails: details(detail),
            owner: checked.owner,
            witness,
            witnessTypeString: type_string,
            signature,
        }
        .abi_encode(),
        (many, all) => permitWitnessTransferFrom_1Call {
            permit: PermitBatchTransferFrom {
                permitted: many.iter().map(permissions).collect(),
                nonce: t.nonce,
                deadline: t.deadline,
            },
            transferDetails: all.iter().map(details).collect(),
            owner: checked.owner,
            witness,
            witnessTypeString: type_string,
            signature,
        }
        .abi_encode(),
    }
    .into()
}
