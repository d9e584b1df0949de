//! The Tempo operations of the harness, each one the library's own code:
//!
//! - `tempo.receipt.verify`: a hash credential and a receipt fixture in,
//!   `{status:"success", reference}` out, through
//!   [`tower_mpp::tempo::check_push_receipt`] (the push verification with
//!   the receipt given instead of fetched);
//! - `tempo.fee_payer.cosign`: keys, fee token, request and a client
//!   transaction in, the co-signed transaction's summary out, through
//!   [`TempoCharge::co_sign`] (the pull mode's checks and co-signing).

use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::eips::eip2930::{AccessList, AccessListItem};
use alloy::primitives::{Address, B256, TxKind, U256, hex};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};
use tempo_alloy::primitives::transaction::{
    AASigned, Call, FEE_PAYER_SIGNATURE_MARKER, TEMPO_EXPIRING_NONCE_KEY, TempoTransaction,
};
use tower_mpp::protocol::Credential;
use tower_mpp::tempo::{TempoCharge, encode_fee_payer_envelope};

use super::{OpResult, challenge_from_value, server_verify::credential_from_value, string};

pub(crate) fn receipt_verify(input: &Value) -> OpResult {
    let credential = credential_from_value(input.get("credential").unwrap_or(&Value::Null))?;
    let receipt = input
        .get("receipt")
        .filter(|r| r.is_object())
        .ok_or("input field `receipt` must be an object")?;
    let reference =
        tower_mpp::tempo::check_push_receipt(&credential, receipt).map_err(|e| e.to_string())?;
    Ok(json!({"status": "success", "reference": reference}))
}

/// The chain of a charge whose request names none.
const NO_CHAIN: u64 = 0;

/// How long a challenge without `expires` stays payable: the registry's
/// default expiry, which our server would have bound.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(300);

/// `tempo.fee_payer.cosign`: the harness's client transaction is signed
/// by its payer key (the client's part, done here), then checked and
/// co-signed by [`TempoCharge::co_sign`] (the server's part, the
/// library's); the co-signed transaction's summary comes out.
pub(crate) fn fee_payer_cosign(input: &Value) -> OpResult {
    let request = input
        .get("request")
        .filter(|r| r.is_object())
        .ok_or("input field `request` must be an object")?;
    let details = request.get("methodDetails").unwrap_or(&Value::Null);
    let charge = TempoCharge::builder()
        .recipient(string(request, "recipient")?)
        .currency(string(request, "currency")?)
        .chain_id(
            details
                .get("chainId")
                .and_then(Value::as_u64)
                .unwrap_or(NO_CHAIN),
        )
        .rpc_url("http://127.0.0.1:9")
        .fee_payer_key(string(input, "feePayerPrivateKey")?)
        .fee_token(string(input, "feeToken")?)
        .build()
        .map_err(|e| e.to_string())?;

    let mut challenge_input = input
        .get("challenge")
        .cloned()
        .unwrap_or_else(|| json!({"id": "conformance", "realm": "conformance", "method": "tempo", "intent": "charge"}));
    challenge_input["request"] = request.clone();
    let challenge = challenge_from_value(&challenge_input)?;
    let expires = match &challenge.expires {
        Some(expires) => expires.to_system_time(),
        None => SystemTime::now() + DEFAULT_EXPIRY,
    };
    let payer: PrivateKeySigner = string(input, "payerPrivateKey")?
        .parse()
        .map_err(|e| format!("payerPrivateKey: {e}"))?;
    let tx = client_transaction(input.get("transaction").unwrap_or(&Value::Null))?;
    let signature = payer
        .sign_hash_sync(&tx.signature_hash())
        .map_err(|e| e.to_string())?;
    let signed = tx.into_signed(signature.into());
    // The `0x78` envelope has no fee token slot a client may fill, so a
    // transaction that names one is sent as the `0x76` form (placeholder
    // fee payer signature) that keeps it.
    let wire = if signed.tx().fee_token.is_some() {
        signed.encoded_2718()
    } else {
        encode_fee_payer_envelope(&signed, payer.address())
    };
    let credential = Credential::new(
        challenge,
        json!({"type": "transaction", "signature": hex::encode_prefixed(wire)})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let co_signed = charge
        .co_sign(&credential, expires)
        .map_err(|e| e.to_string())?;
    let mut bytes = co_signed.as_slice();
    let decoded = AASigned::decode_2718(&mut bytes).map_err(|e| e.to_string())?;
    let tx = decoded.tx();
    Ok(json!({
        "type": format!("0x{:02x}", co_signed.first().copied().unwrap_or_default()),
        "feeToken": tx.fee_token.map(|t| t.to_string().to_lowercase()),
        "feePayerSignaturePresent": tx.fee_payer_signature.is_some(),
        "accessListLength": tx.access_list.len(),
        "callCount": tx.calls.len(),
    }))
}

/// The harness's transaction description as an unsigned Tempo
/// transaction awaiting its fee payer.
fn client_transaction(tx: &Value) -> Result<TempoTransaction, String> {
    let u64_of = |field: &str| {
        tx.get(field)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("transaction `{field}` must be an integer"))
    };
    let mut calls = Vec::new();
    for call in tx
        .get("calls")
        .and_then(Value::as_array)
        .ok_or("transaction `calls` must be a list")?
    {
        let to: Address = string(call, "to")?
            .parse()
            .map_err(|e| format!("call `to`: {e}"))?;
        let data = hex::decode(string(call, "data")?).map_err(|e| format!("call `data`: {e}"))?;
        calls.push(Call {
            to: TxKind::Call(to),
            value: U256::from(
                call.get("value")
                    .and_then(Value::as_u64)
                    .unwrap_or_default(),
            ),
            input: data.into(),
        });
    }
    let mut access_list = Vec::new();
    for item in tx
        .get("accessList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let address: Address = item[0]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("access list: {e}"))?;
        let keys = item[1]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                k.as_str()
                    .unwrap_or_default()
                    .parse::<B256>()
                    .map_err(|e| format!("access list key: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        access_list.push(AccessListItem {
            address,
            storage_keys: keys,
        });
    }
    let nonce_key = match tx.get("nonceKey") {
        Some(Value::String(s)) if s == "max" => TEMPO_EXPIRING_NONCE_KEY,
        Some(Value::Number(n)) => U256::from(n.as_u64().ok_or("nonceKey")?),
        _ => return Err("transaction `nonceKey` must be \"max\" or an integer".into()),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let valid_before = match tx.get("validBefore") {
        Some(Value::String(s)) => {
            let offset: u64 = s
                .strip_prefix("now+")
                .and_then(|n| n.parse().ok())
                .ok_or("validBefore must be now+N")?;
            NonZeroU64::new(now + offset)
        }
        Some(Value::Number(n)) => n.as_u64().and_then(NonZeroU64::new),
        _ => None,
    };
    let fee_token = match tx.get("feeToken") {
        Some(Value::String(s)) => Some(s.parse::<Address>().map_err(|e| format!("feeToken: {e}"))?),
        _ => None,
    };
    Ok(TempoTransaction {
        chain_id: u64_of("chainId")?,
        fee_token,
        max_priority_fee_per_gas: u128::from(u64_of("maxPriorityFeePerGas")?),
        max_fee_per_gas: u128::from(u64_of("maxFeePerGas")?),
        gas_limit: u64_of("gasLimit")?,
        calls,
        access_list: AccessList(access_list),
        nonce_key,
        nonce: u64_of("nonce")?,
        fee_payer_signature: Some(FEE_PAYER_SIGNATURE_MARKER),
        valid_before,
        ..TempoTransaction::default()
    })
}
