//! The payloads of the four credential types, signed.

use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{B256, Bytes, TxKind, U256, hex};
use alloy_signer::Signer;
use alloy_sol_types::{SolCall, sol};
use serde_json::{Value, json};

use super::{EvmProvider, valid_until};
use crate::client::PayError;
use crate::client::node::payment_fault;
use crate::evm::{
    Authorization, EvmRequest, Permit2Transfer, authorization_signing_hash, challenge_hash,
};
use crate::protocol::Challenge;

sol! {
    function transfer(address to, uint256 amount) returns (bool);
}

/// Added to the gas estimate, for the variance between estimate and
/// execution.
const ESTIMATE_MARGIN: u64 = 10_000;

async fn sign<S: Signer + Send + Sync>(
    provider: &EvmProvider<S>,
    digest: &B256,
) -> Result<String, PayError> {
    let signature = provider
        .signer
        .sign_hash(digest)
        .await
        .map_err(PayError::failed)?;
    Ok(hex::encode_prefixed(signature.as_bytes()))
}

/// A Permit2 witness transfer of the amount to the recipient and the
/// splits, in their order. Its nonce is the challenge hash: unique per
/// challenge, so two payments of one challenge cannot both settle.
pub(super) async fn permit2<S: Signer + Send + Sync>(
    provider: &EvmProvider<S>,
    challenge: &Challenge,
    request: &EvmRequest,
) -> Result<Value, PayError> {
    let details = &request.method_details;
    let spender = details
        .spender
        .ok_or_else(|| PayError::invalid("the challenge names no Permit2 spender"))?;
    let primary = request
        .primary_amount()
        .ok_or_else(|| PayError::invalid("the splits leave nothing to the recipient"))?;
    let transfers: Vec<_> = std::iter::once((request.recipient, primary))
        .chain(details.splits.iter().map(|s| (s.recipient, s.amount)))
        .collect();
    let hash = challenge_hash(&challenge.id, &challenge.realm);
    let transfer = Permit2Transfer {
        permitted: transfers
            .iter()
            .map(|&(_, amount)| (request.currency, amount))
            .collect(),
        spender,
        nonce: U256::from_be_bytes(hash.0),
        deadline: U256::from(valid_until(challenge)?),
        challenge_hash: hash,
        external_id: request.external_id.clone().unwrap_or_default(),
    };
    let digest = transfer.signing_hash(details.chain_id, details.permit2_address);
    let signature = sign(provider, &digest).await?;
    Ok(json!({
        "type": "permit2",
        "permit": {
            "permitted": transfer.permitted.iter()
                .map(|(token, amount)| json!({"token": token, "amount": amount.to_string()}))
                .collect::<Vec<_>>(),
            "nonce": transfer.nonce.to_string(),
            "deadline": transfer.deadline.to_string(),
        },
        "transferDetails": transfers.iter()
            .map(|(to, amount)| json!({"to": to, "requestedAmount": amount.to_string()}))
            .collect::<Vec<_>>(),
        "witness": {"challengeHash": hash},
        "signature": signature,
    }))
}

/// An EIP-3009 authorization of the amount to the recipient, its nonce
/// the challenge hash, valid until the challenge expires.
pub(super) async fn authorization<S: Signer + Send + Sync>(
    provider: &EvmProvider<S>,
    challenge: &Challenge,
    request: &EvmRequest,
) -> Result<Value, PayError> {
    let domain = provider
        .domains
        .get(&request.currency)
        .ok_or_else(|| PayError::invalid("no EIP-712 domain is known for the token"))?;
    let authorization = Authorization {
        from: provider.address(),
        to: request.recipient,
        value: request.amount,
        valid_after: U256::ZERO,
        valid_before: U256::from(valid_until(challenge)?),
        nonce: challenge_hash(&challenge.id, &challenge.realm),
    };
    let digest = authorization_signing_hash(
        domain,
        request.method_details.chain_id,
        request.currency,
        &authorization,
    );
    Ok(json!({
        "type": "authorization",
        "from": authorization.from,
        "to": authorization.to,
        "value": authorization.value.to_string(),
        "validAfter": authorization.valid_after.to_string(),
        "validBefore": authorization.valid_before.to_string(),
        "nonce": authorization.nonce,
        "signature": sign(provider, &digest).await?,
    }))
}

/// A signed EIP-1559 `transfer` of the amount to the recipient: the
/// payload, and the raw transaction and its hash (for `hash`).
pub(super) async fn transaction<S: Signer + Send + Sync>(
    provider: &EvmProvider<S>,
    request: &EvmRequest,
) -> Result<(Value, Bytes, B256), PayError> {
    let from = provider.address();
    let input: Bytes = transferCall {
        to: request.recipient,
        amount: request.amount,
    }
    .abi_encode()
    .into();
    let rpc = &provider.node.rpc;
    let gas = rpc
        .estimate_call(from, request.currency, &input)
        .await
        .map_err(|f| payment_fault(&f))?;
    let nonce = rpc
        .pending_nonce(from)
        .await
        .map_err(|f| payment_fault(&f))?;
    let price = rpc.gas_price().await.map_err(|f| payment_fault(&f))?;
    let tip = rpc
        .max_priority_fee()
        .await
        .map_err(|f| payment_fault(&f))?;
    let tx = TxEip1559 {
        chain_id: request.method_details.chain_id,
        nonce,
        gas_limit: gas.saturating_add(ESTIMATE_MARGIN),
        // Twice the current price: room for the base fee to rise.
        max_fee_per_gas: price.saturating_mul(2).saturating_add(tip),
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(request.currency),
        value: U256::ZERO,
        access_list: alloy_eips::eip2930::AccessList::default(),
        input,
    };
    let signature = provider
        .signer
        .sign_hash(&tx.signature_hash())
        .await
        .map_err(PayError::failed)?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    let raw: Bytes = envelope.encoded_2718().into();
    let hash = *envelope.tx_hash();
    let payload = json!({"type": "transaction", "signature": hex::encode_prefixed(&raw)});
    Ok((payload, raw, hash))
}

/// The transfer, broadcast and mined: its hash.
pub(super) async fn hash<S: Signer + Send + Sync>(
    provider: &EvmProvider<S>,
    request: &EvmRequest,
) -> Result<Value, PayError> {
    let (_, raw, hash) = transaction(provider, request).await?;
    let receipt = provider
        .node
        .rpc
        .broadcast(raw, hash, provider.receipt_timeout)
        .await
        .map_err(|fault| {
            if fault.is_refused() {
                PayError::failed(format!("the node refused the transaction: {fault}"))
            } else {
                PayError::failed(format!(
                    "transaction {hash} was sent but its receipt is unknown: {fault}"
                ))
            }
        })?;
    if !receipt.succeeded() {
        return Err(PayError::failed(format!("transaction {hash} reverted")));
    }
    Ok(json!({"type": "hash", "hash": hash.to_string()}))
}
