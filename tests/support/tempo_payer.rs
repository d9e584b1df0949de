//! What a paying client does, for tests: builds and signs Tempo
//! transactions (pull), broadcasts them (push), signs proofs, and wraps the
//! result in a credential. Every field can be bent, to build the bad
//! payments the server must refuse.

// Each user takes what it needs.
#![allow(dead_code)]

use std::num::NonZeroU64;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde_json::{Map, Value, json};
use tempo_alloy::contracts::precompiles::ITIP20;
use tempo_alloy::primitives::transaction::{
    AASigned, Call, FEE_PAYER_SIGNATURE_MARKER, TEMPO_EXPIRING_NONCE_KEY, TempoTransaction,
};
use tower_mpp::protocol::{Challenge, Credential};
use tower_mpp::tempo::{attribution_memo, did_pkh, encode_fee_payer_envelope, proof_signing_hash};

/// A call of `transfer` (no memo) or `transferWithMemo` on `token`.
pub(crate) fn transfer(token: Address, to: Address, amount: u128, memo: Option<B256>) -> Call {
    let amount = U256::from(amount);
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

/// The decoded `request` of a Tempo challenge.
pub(crate) fn request(challenge: &Challenge) -> Map<String, Value> {
    challenge.request.object().clone()
}

fn address(value: &Value) -> Address {
    value.as_str().unwrap().parse().unwrap()
}

fn units(value: &Value) -> u128 {
    value.as_str().unwrap().parse().unwrap()
}

/// The calls a well-behaved client makes for `challenge`: the primary
/// transfer with the request's memo or the attribution memo, then one
/// transfer per split.
pub(crate) fn honest_calls(challenge: &Challenge) -> Vec<Call> {
    let request = request(challenge);
    let details = &request["methodDetails"];
    let currency = address(&request["currency"]);
    let splits = details["splits"].as_array().cloned().unwrap_or_default();
    let split_total: u128 = splits.iter().map(|s| units(&s["amount"])).sum();
    let memo = details["memo"].as_str().map_or_else(
        || attribution_memo(&challenge.realm, &challenge.id, Some("tests")),
        |m| m.parse().unwrap(),
    );
    let mut calls = vec![transfer(
        currency,
        address(&request["recipient"]),
        units(&request["amount"]) - split_total,
        Some(memo),
    )];
    for split in &splits {
        let memo = split["memo"].as_str().map(|m| m.parse().unwrap());
        calls.push(transfer(
            currency,
            address(&split["recipient"]),
            units(&split["amount"]),
            memo,
        ));
    }
    calls
}

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An unsigned expiring-nonce transaction for `calls`, paying its own fees
/// in `fee_token` unless `sponsored`.
pub(crate) fn transaction(
    chain_id: u64,
    calls: Vec<Call>,
    fee_token: Address,
    sponsored: bool,
) -> TempoTransaction {
    TempoTransaction {
        chain_id,
        fee_token: (!sponsored).then_some(fee_token),
        max_priority_fee_per_gas: 1_000_000_000,
        max_fee_per_gas: 41_000_000_000,
        gas_limit: 1_000_000,
        calls,
        nonce_key: TEMPO_EXPIRING_NONCE_KEY,
        nonce: 0,
        fee_payer_signature: sponsored.then_some(FEE_PAYER_SIGNATURE_MARKER),
        valid_before: NonZeroU64::new(now() + 25),
        ..TempoTransaction::default()
    }
}

/// Signs `tx` as `signer`.
pub(crate) fn sign(signer: &PrivateKeySigner, tx: TempoTransaction) -> AASigned {
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature.into())
}

/// What a well-behaved client signs for `challenge` (on the test chain,
/// fees in `PathUSD` unless `sponsored`).
pub(crate) fn honest(
    signer: &PrivateKeySigner,
    challenge: &Challenge,
    sponsored: bool,
) -> AASigned {
    let chain_id = challenge.request.object()["methodDetails"]["chainId"]
        .as_u64()
        .expect("a Tempo request names its chain");
    let fee_token = address(&request(challenge)["currency"]);
    sign(
        signer,
        transaction(chain_id, honest_calls(challenge), fee_token, sponsored),
    )
}

/// The `0x`-hex wire form of a signed transaction: a `0x78` fee-payer
/// envelope when it awaits a sponsor, else `0x76`.
pub(crate) fn wire(signed: &AASigned, sender: Address) -> String {
    if signed.tx().fee_payer_signature.is_some() {
        hex::encode_prefixed(encode_fee_payer_envelope(signed, sender))
    } else {
        hex::encode_prefixed(signed.encoded_2718())
    }
}

/// A pull payload.
pub(crate) fn pull_payload(signed: &AASigned, sender: Address) -> Map<String, Value> {
    object(json!({"type": "transaction", "signature": wire(signed, sender)}))
}

/// A push payload.
pub(crate) fn push_payload(hash: B256) -> Map<String, Value> {
    object(json!({"type": "hash", "hash": hash.to_string()}))
}

/// A proof payload signed by `signer` for `challenge` on `chain_id`.
pub(crate) fn proof_payload(
    signer: &PrivateKeySigner,
    chain_id: u64,
    challenge: &Challenge,
) -> Map<String, Value> {
    let hash = proof_signing_hash(chain_id, signer.address(), &challenge.id, &challenge.realm);
    let signature = signer.sign_hash_sync(&hash).unwrap();
    object(json!({"type": "proof", "signature": hex::encode_prefixed(signature.as_bytes())}))
}

/// The `Authorization` header value answering `challenge`.
pub(crate) fn credential(
    challenge: &Challenge,
    payload: Map<String, Value>,
    source: Option<String>,
) -> String {
    let mut credential = Credential::new(challenge.clone(), payload);
    if let Some(source) = source {
        credential = credential.with_source(source);
    }
    credential.to_header().unwrap()
}

/// `signer`'s DID on `chain_id`, as a credential's optional `source`.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn source(chain_id: u64, signer: &PrivateKeySigner) -> Option<String> {
    Some(did_pkh(chain_id, signer.address()))
}

/// The raw bytes of a signed transaction, for pushing it ourselves.
pub(crate) fn raw(signed: &AASigned) -> Bytes {
    signed.encoded_2718().into()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}
