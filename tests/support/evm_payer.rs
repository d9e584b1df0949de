//! The payer's side of the EVM charge's credential types on the plain
//! test chain ([`EVM_CHAIN_ID`], the test stablecoin's domain): signed
//! payloads as a client sends them, for the tests and `benches/evm.rs`.

use alloy::consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718 as _;
use alloy::primitives::{Address, B256, TxKind, U256};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall as _;
use serde_json::{Value, json};
use tower_mpp::evm::{Authorization, Permit2Transfer, TokenDomain, authorization_signing_hash};

use crate::support::evm_chain::{EVM_CHAIN_ID, PERMIT2, TOKEN_NAME, TOKEN_VERSION, transferCall};

/// An EIP-3009 authorization of `authorization` signed by `signer`, as a
/// payload.
pub(crate) fn authorization_payload(
    signer: &PrivateKeySigner,
    token: Address,
    authorization: &Authorization,
) -> Value {
    let domain = TokenDomain {
        name: TOKEN_NAME.to_owned(),
        version: TOKEN_VERSION.to_owned(),
    };
    let digest = authorization_signing_hash(&domain, EVM_CHAIN_ID, token, authorization);
    let signature = signer.sign_hash_sync(&digest).unwrap();
    json!({
        "type": "authorization",
        "from": authorization.from,
        "to": authorization.to,
        "value": authorization.value.to_string(),
        "validAfter": authorization.valid_after.to_string(),
        "validBefore": authorization.valid_before.to_string(),
        "nonce": authorization.nonce,
        "signature": alloy::hex::encode_prefixed(signature.as_bytes()),
    })
}

/// A Permit2 payload for `transfer` with `details` (`(to, amount)` per
/// transfer), signed by `signer`.
pub(crate) fn permit2_payload(
    signer: &PrivateKeySigner,
    transfer: &Permit2Transfer,
    details: &[(Address, U256)],
) -> Value {
    let digest = transfer.signing_hash(EVM_CHAIN_ID, PERMIT2);
    let signature = signer.sign_hash_sync(&digest).unwrap();
    json!({
        "type": "permit2",
        "permit": {
            "permitted": transfer.permitted.iter().map(|(token, amount)| json!({"token": token, "amount": amount.to_string()})).collect::<Vec<_>>(),
            "nonce": transfer.nonce.to_string(),
            "deadline": transfer.deadline.to_string(),
        },
        "transferDetails": details.iter().map(|(to, amount)| json!({"to": to, "requestedAmount": amount.to_string()})).collect::<Vec<_>>(),
        "witness": {"challengeHash": transfer.challenge_hash},
        "signature": alloy::hex::encode_prefixed(signature.as_bytes()),
    })
}

/// `signer`'s signed EIP-1559 `transfer(to, amount)` of `token` with
/// `nonce`, as raw bytes.
pub(crate) fn signed_transfer(
    signer: &PrivateKeySigner,
    chain_id: u64,
    token: Address,
    to: Address,
    amount: u128,
    nonce: u64,
) -> (Vec<u8>, B256) {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(token),
        value: U256::ZERO,
        access_list: alloy::eips::eip2930::AccessList::default(),
        input: transferCall {
            to,
            value: U256::from(amount),
        }
        .abi_encode()
        .into(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    (envelope.encoded_2718(), *envelope.tx_hash())
}
