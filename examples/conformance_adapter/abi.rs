//! The conformance harness operations, mapped onto the library: the
//! protocol ones here, `server.verify` in `server_verify.rs`,
//! `tempo.receipt.verify` and `tempo.fee_payer.cosign` in `tempo_ops.rs`
//! (feature `tempo`) and
//! `http.payment_request` in `http_op.rs` (feature `client`).
//!
//! Shared by the adapter binary and the differential tests against peers,
//! so both speak exactly the same value shapes:
//!
//! - a challenge is `{id, realm, method, intent, request, expires?,
//!   description?, digest?, opaque?, header?}` with `request` decoded to a JSON
//!   object and `opaque` kept as its base64url wire string;
//! - a credential is `{challenge, payload, source?}` with the challenge in
//!   the same shape;
//! - a receipt is `{status, method, timestamp, reference, externalId?,
//!   extra?}`;
//! - absent optional fields are omitted, never `null`.
//!
//! `challenge.id` is the bare HMAC function [`challenge_id`], which takes a
//! secret of any length (the published vectors use 8 to 21 bytes); the
//! 32-byte minimum belongs to a configured server ([`SecretKey`]), not to a
//! test-vector operation.
//!
//! [`SecretKey`]: tower_mpp::binding::SecretKey

// Beside this file, wherever this file is included from.
#[cfg(feature = "client")]
#[path = "http_op.rs"]
mod http_op;
#[path = "server_verify.rs"]
pub(crate) mod server_verify;
#[cfg(feature = "tempo")]
#[path = "tempo_ops.rs"]
mod tempo_ops;

use serde_json::{Map, Value, json};
use tower_mpp::binding::{BindingInput, challenge_id};
use tower_mpp::protocol::{
    Base64Json, Challenge, Credential, Receipt, Timestamp, base64url, parse_challenges,
};

/// Runs one harness request and returns its response object.
pub(crate) fn handle(request: &Value) -> Value {
    let op = request
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let input = request.get("input").unwrap_or(&Value::Null);
    let (error_type, result) = match op {
        "challenge.parse" => ("parse_error", challenge_parse(input)),
        "challenge.format" => ("format_error", challenge_format(input)),
        "credential.parse" => ("parse_error", credential_parse(input)),
        "credential.format" => ("format_error", credential_format(input)),
        "receipt.parse" => ("parse_error", receipt_parse(input)),
        "receipt.format" => ("format_error", receipt_format(input)),
        "base64url.encode" => ("encoding_error", base64url_encode(input)),
        "base64url.decode" => ("encoding_error", base64url_decode(input)),
        "challenge.id" => ("generation_error", challenge_id_op(input)),
        "server.verify" => ("verification_error", server_verify::server_verify(input)),
        #[cfg(feature = "tempo")]
        "tempo.receipt.verify" => ("verification_error", tempo_ops::receipt_verify(input)),
        #[cfg(feature = "tempo")]
        "tempo.fee_payer.cosign" => ("verification_error", tempo_ops::fee_payer_cosign(input)),
        #[cfg(feature = "client")]
        "http.payment_request" => ("http_error", http_op::payment_request(input)),
        other => {
            return error(
                "unsupported_operation",
                &format!("unknown operation {other:?}"),
            );
        }
    };
    match result {
        Ok(value) => json!({"ok": true, "value": value}),
        Err(message) => error(error_type, &message),
    }
}

/// An error response.
pub(crate) fn error(error_type: &str, message: &str) -> Value {
    json!({"ok": false, "error": {"type": error_type, "message": message}})
}

pub(crate) type OpResult = Result<Value, String>;

pub(crate) fn string<'a>(input: &'a Value, field: &str) -> Result<&'a str, String> {
    input
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("input field `{field}` must be a string"))
}

pub(crate) fn optional<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, String> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("input field `{field}` must be a string")),
    }
}

fn challenge_to_value(c: &Challenge) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), c.id.clone().into());
    out.insert("realm".into(), c.realm.clone().into());
    out.insert("method".into(), c.method.clone().into());
    out.insert("intent".into(), c.intent.clone().into());
    out.insert("request".into(), Value::Object(c.request.object().clone()));
    if let Some(v) = &c.expires {
        out.insert("expires".into(), v.as_str().into());
    }
    if let Some(v) = &c.description {
        out.insert("description".into(), v.clone().into());
    }
    if let Some(v) = &c.digest {
        out.insert("digest".into(), v.clone().into());
    }
    if let Some(v) = &c.opaque {
        out.insert("opaque".into(), v.as_wire().into());
    }
    if let Some(v) = &c.header {
        out.insert("header".into(), v.clone().into());
    }
    Value::Object(out)
}

pub(crate) fn challenge_from_value(input: &Value) -> Result<Challenge, String> {
    let request = match input.get("request") {
        Some(Value::String(wire)) => Base64Json::from_wire(wire),
        Some(value) => Base64Json::from_value(value.clone()),
        None => return Err("input field `request` is required".into()),
    }
    .map_err(|e| format!("request: {e}"))?;
    let mut challenge = Challenge::new(
        string(input, "id")?,
        string(input, "realm")?,
        string(input, "method")?,
        string(input, "intent")?,
        request,
    );
    if let Some(v) = optional(input, "expires")? {
        challenge.expires = Some(Timestamp::parse(v).map_err(|e| format!("expires: {e}"))?);
    }
    challenge.description = optional(input, "description")?.map(str::to_owned);
    challenge.digest = optional(input, "digest")?.map(str::to_owned);
    challenge.header = optional(input, "header")?.map(str::to_owned);
    if let Some(v) = optional(input, "opaque")? {
        challenge.opaque = Some(Base64Json::from_wire(v).map_err(|e| format!("opaque: {e}"))?);
    }
    challenge.validate().map_err(|e| e.to_string())?;
    Ok(challenge)
}

fn challenge_parse(input: &Value) -> OpResult {
    let header = string(input, "header")?;
    let challenges = parse_challenges([header]).map_err(|e| e.to_string())?;
    let first = challenges
        .first()
        .ok_or("no Payment challenge in the header")?;
    Ok(challenge_to_value(first))
}

fn challenge_format(input: &Value) -> OpResult {
    let header = challenge_from_value(input)?
        .to_header()
        .map_err(|e| e.to_string())?;
    Ok(json!({"header": header}))
}

fn credential_parse(input: &Value) -> OpResult {
    let credential = Credential::parse(string(input, "header")?).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    out.insert(
        "challenge".into(),
        challenge_to_value(&credential.challenge),
    );
    out.insert("payload".into(), Value::Object(credential.payload));
    if let Some(source) = credential.source {
        out.insert("source".into(), source.into());
    }
    Ok(Value::Object(out))
}

fn credential_format(input: &Value) -> OpResult {
    let challenge = challenge_from_value(input.get("challenge").unwrap_or(&Value::Null))?;
    let Some(Value::Object(payload)) = input.get("payload") else {
        return Err("input field `payload` must be an object".into());
    };
    let mut credential = Credential::new(challenge, payload.clone());
    credential.source = optional(input, "source")?.map(str::to_owned);
    let header = credential.to_header().map_err(|e| e.to_string())?;
    Ok(json!({"header": header}))
}

fn receipt_parse(input: &Value) -> OpResult {
    let receipt = Receipt::parse(string(input, "header")?).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    out.insert("status".into(), "success".into());
    out.insert("method".into(), receipt.method.into());
    out.insert("timestamp".into(), receipt.timestamp.as_str().into());
    out.insert("reference".into(), receipt.reference.into());
    if let Some(id) = receipt.external_id {
        out.insert("externalId".into(), id.into());
    }
    if let Some(extra) = receipt.extra.get("extra").filter(|v| v.is_object()) {
        out.insert("extra".into(), extra.clone());
    }
    Ok(Value::Object(out))
}

fn receipt_format(input: &Value) -> OpResult {
    if string(input, "status")? != "success" {
        return Err("receipt `status` must be \"success\"".into());
    }
    let timestamp =
        Timestamp::parse(string(input, "timestamp")?).map_err(|e| format!("timestamp: {e}"))?;
    let mut receipt = Receipt::new(
        string(input, "method")?,
        timestamp,
        string(input, "reference")?,
    );
    receipt.external_id = optional(input, "externalId")?.map(str::to_owned);
    if let Some(extra) = input.get("extra").filter(|v| !v.is_null()) {
        receipt.extra.insert("extra".into(), extra.clone());
    }
    let header = receipt.encode().map_err(|e| e.to_string())?;
    Ok(json!({"header": header}))
}

fn base64url_encode(input: &Value) -> OpResult {
    Ok(json!({"text": base64url::encode(string(input, "text")?)}))
}

fn base64url_decode(input: &Value) -> OpResult {
    let text = base64url::decode_text(string(input, "text")?).map_err(|e| e.to_string())?;
    Ok(json!({"text": text}))
}

fn challenge_id_op(input: &Value) -> OpResult {
    let secret = string(input, "secretKey")?;
    let request = Base64Json::from_value(input.get("request").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("request: {e}"))?;
    let binding = BindingInput {
        realm: string(input, "realm")?,
        method: string(input, "method")?,
        intent: string(input, "intent")?,
        request: request.as_wire(),
        expires: optional(input, "expires")?,
        digest: optional(input, "digest")?,
        header: optional(input, "header")?,
        opaque: optional(input, "opaque")?,
    };
    Ok(json!({"id": challenge_id(secret.as_bytes(), &binding)}))
}
