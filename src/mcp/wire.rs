//! The JSON forms of challenges, credentials and receipts on JSON-RPC
//! (draft-payment-transport-mcp-00), shared by the server and the client.
//!
//! A challenge's `request` travels as a JSON object; its id binds the JCS
//! form of that object, which is what [`Base64Json::from_object`] encodes,
//! so a challenge read here has the binding input of its HTTP twin.
//! `opaque` travels as its base64url text (what mppx reads and echoes);
//! an object (what pympp's servers send) is read too, canonically encoded.

use std::fmt;

use serde_json::{Map, Value};

use crate::protocol::{
    Base64Json, Challenge, ChallengeError, Credential, JsonError, Receipt, ReceiptError, Timestamp,
    TimestampError, base64url,
};

/// The `_meta` key of a credential, in `params._meta` or the root `_meta`.
pub const CREDENTIAL_KEY: &str = "org.paymentauth/credential";
/// The `_meta` key of a receipt, in `result._meta`.
pub const RECEIPT_KEY: &str = "org.paymentauth/receipt";
/// The `_meta` key of a tool result that asks for payment (the tool-result
/// form, for clients whose SDK turns errors into results).
pub const PAYMENT_REQUIRED_KEY: &str = "org.paymentauth/payment-required";

/// JSON-RPC error code: payment required.
pub const PAYMENT_REQUIRED: i32 = -32042;
/// JSON-RPC error code: payment verification failed.
pub const VERIFICATION_FAILED: i32 = -32043;
/// JSON-RPC error code: invalid params (a malformed credential).
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC error code: internal error (a payment processor failure).
pub const INTERNAL_ERROR: i32 = -32603;

/// A challenge, credential or receipt whose JSON form cannot be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum WireError {
    /// A field is missing or of the wrong type.
    Field(&'static str),
    /// `request` or `opaque` is not a JSON object that can be encoded.
    Json(JsonError),
    /// `expires` is not an RFC 3339 timestamp.
    Timestamp(TimestampError),
    /// The challenge is not valid.
    Challenge(ChallengeError),
    /// The receipt is not valid.
    Receipt(ReceiptError),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, "`{name}` is missing or of the wrong type"),
            Self::Json(_) => f.write_str("a challenge's request or opaque is not a JSON object"),
            Self::Timestamp(_) => f.write_str("`expires` is not an RFC 3339 timestamp"),
            Self::Challenge(_) => f.write_str("the challenge is not valid"),
            Self::Receipt(_) => f.write_str("the receipt is not valid"),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Field(_) => None,
            Self::Json(e) => Some(e),
            Self::Timestamp(e) => Some(e),
            Self::Challenge(e) => Some(e),
            Self::Receipt(e) => Some(e),
        }
    }
}

/// A challenge as a JSON object, `request` native.
pub fn challenge_to_json(challenge: &Challenge) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), challenge.id.clone().into());
    object.insert("realm".into(), challenge.realm.clone().into());
    object.insert("method".into(), challenge.method.clone().into());
    object.insert("intent".into(), challenge.intent.clone().into());
    object.insert(
        "request".into(),
        Value::Object(challenge.request.object().clone()),
    );
    let optional = [
        ("expires", challenge.expires.as_ref().map(Timestamp::as_str)),
        ("description", challenge.description.as_deref()),
        ("digest", challenge.digest.as_deref()),
        ("opaque", challenge.opaque.as_ref().map(Base64Json::as_wire)),
        ("header", challenge.header.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            object.insert(name.into(), value.into());
        }
    }
    Value::Object(object)
}

/// Reads a challenge's JSON form.
///
/// # Errors
///
/// [`WireError`] for a missing or mistyped field, or a challenge that is
/// not valid.
pub fn challenge_from_json(value: &Value) -> Result<Challenge, WireError> {
    let object = value.as_object().ok_or(WireError::Field("challenge"))?;
    let text = |name: &'static str| match object.get(name) {
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(WireError::Field(name)),
    };
    let required = |name: &'static str| text(name)?.ok_or(WireError::Field(name));
    let json_object = |name: &'static str| match object.get(name) {
        Some(Value::Object(o)) => Base64Json::from_object(o.clone())
            .map(Some)
            .map_err(WireError::Json),
        // The HTTP form, as some servers send it.
        Some(Value::String(wire)) => Base64Json::from_wire(wire)
            .map(Some)
            .map_err(WireError::Json),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(WireError::Field(name)),
    };
    let request = json_object("request")?.ok_or(WireError::Field("request"))?;
    let mut challenge = Challenge::new(
        required("id")?,
        required("realm")?,
        required("method")?,
        required("intent")?,
        request,
    );
    if let Some(expires) = text("expires")? {
        challenge.expires = Some(Timestamp::parse(expires).map_err(WireError::Timestamp)?);
    }
    challenge.description = text("description")?.map(str::to_owned);
    challenge.digest = text("digest")?.map(str::to_owned);
    challenge.header = text("header")?.map(str::to_owned);
    challenge.opaque = json_object("opaque")?;
    challenge.validate().map_err(WireError::Challenge)?;
    Ok(challenge)
}

/// Reads a credential's JSON form (the value of [`CREDENTIAL_KEY`]).
///
/// # Errors
///
/// [`WireError`] for a missing or mistyped field, or an echoed challenge
/// that is not valid.
pub fn credential_from_json(value: &Value) -> Result<Credential, WireError> {
    let object = value.as_object().ok_or(WireError::Field("credential"))?;
    let challenge = challenge_from_json(object.get("challenge").unwrap_or(&Value::Null))?;
    let Some(Value::Object(payload)) = object.get("payload") else {
        return Err(WireError::Field("payload"));
    };
    let mut credential = Credential::new(challenge, payload.clone());
    match object.get("source") {
        None | Some(Value::Null) => {}
        Some(Value::String(source)) => credential = credential.with_source(source.clone()),
        Some(_) => return Err(WireError::Field("source")),
    }
    Ok(credential)
}

/// A credential's JSON form: `challenge` echoed as the server sent it.
pub fn credential_to_json(
    challenge: &Value,
    payload: &Map<String, Value>,
    source: Option<&str>,
) -> Value {
    let mut object = Map::new();
    object.insert("challenge".into(), challenge.clone());
    object.insert("payload".into(), Value::Object(payload.clone()));
    if let Some(source) = source {
        object.insert("source".into(), source.into());
    }
    Value::Object(object)
}

/// A receipt's JSON form, with the id of the challenge it paid.
///
/// # Errors
///
/// [`ReceiptError`] when the receipt cannot be written (an invalid method
/// id, a field shadowing a standard one).
pub fn receipt_to_json(receipt: &Receipt, challenge_id: &str) -> Result<Value, ReceiptError> {
    let json = receipt.to_json()?;
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(&json) else {
        unreachable!("Receipt::to_json writes a JSON object");
    };
    object.insert("challengeId".into(), challenge_id.into());
    Ok(Value::Object(object))
}

/// Reads a receipt's JSON form: the receipt and the challenge id it names.
///
/// # Errors
///
/// [`WireError`] when it is not an object, has no string `challengeId`, or
/// is not a valid receipt.
pub fn receipt_from_json(value: &Value) -> Result<(Receipt, String), WireError> {
    let mut object = value
        .as_object()
        .cloned()
        .ok_or(WireError::Field("receipt"))?;
    let Some(Value::String(challenge_id)) = object.remove("challengeId") else {
        return Err(WireError::Field("challengeId"));
    };
    // Read by the one receipt parser, through its header form.
    let text = serde_json::to_string(&object).map_err(|_| WireError::Field("receipt"))?;
    let receipt = Receipt::parse(&base64url::encode(text)).map_err(WireError::Receipt)?;
    Ok((receipt, challenge_id))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn challenge() -> Challenge {
        let request = Base64Json::from_value(json!({"amount": "10", "currency": "usd"})).unwrap();
        Challenge::new("id-1", "api.example.com", "tempo", "charge", request)
            .with_expires(Timestamp::parse("2030-01-01T00:00:00Z").unwrap())
            .with_description("A joke")
            .with_opaque(Base64Json::from_value(json!({"scope": "tools/call joke"})).unwrap())
    }

    #[test]
    fn mcp_challenges_round_trip_with_the_same_binding_input() {
        let original = challenge();
        let json = challenge_to_json(&original);
        assert_eq!(json["request"], json!({"amount": "10", "currency": "usd"}));
        assert!(json["opaque"].is_string());
        assert_eq!(challenge_from_json(&json).unwrap(), original);
        // An object `opaque` (pympp's form) reads as the same challenge.
        let mut pympp = json.clone();
        pympp["opaque"] = json!({"scope": "tools/call joke"});
        assert_eq!(challenge_from_json(&pympp).unwrap(), original);
        // The request's member order does not change it.
        let mut reordered = json;
        reordered["request"] = json!({"currency": "usd", "amount": "10"});
        assert_eq!(challenge_from_json(&reordered).unwrap(), original);
    }

    #[test]
    fn mcp_malformed_credentials_are_typed_errors() {
        let good = credential_to_json(&challenge_to_json(&challenge()), &Map::new(), Some("did:x"));
        assert!(credential_from_json(&good).is_ok());
        for (path, bad) in [
            ("/challenge", json!(5)),
            ("/payload", json!("x")),
            ("/source", json!(1)),
            ("/challenge/id", json!(null)),
            ("/challenge/request", json!([1])),
            ("/challenge/expires", json!("tomorrow")),
            ("/challenge/method", json!("TEMPO")),
        ] {
            let mut value = good.clone();
            *value.pointer_mut(path).unwrap() = bad;
            assert!(credential_from_json(&value).is_err(), "{path}");
        }
        assert!(credential_from_json(&json!([])).is_err());
    }

    #[test]
    fn mcp_receipts_round_trip_with_their_challenge_id() {
        let receipt = Receipt::new("tempo", Timestamp::now(), "0xabc");
        let json = receipt_to_json(&receipt, "id-1").unwrap();
        assert_eq!(json["status"], "success");
        assert_eq!(json["challengeId"], "id-1");
        let (read, id) = receipt_from_json(&json).unwrap();
        assert_eq!((read, id.as_str()), (receipt, "id-1"));
        assert!(receipt_from_json(&json!({"status": "success"})).is_err());
    }
}
