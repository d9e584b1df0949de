//! Payment receipts: the `Payment-Receipt` header (base64url JSON).
//!
//! A receipt is only ever issued for a successful payment, so `status` is
//! always `"success"` on the wire and is not a field here. Fields that a
//! payment method adds (and any field this crate does not know) are kept in
//! [`Receipt::extra`] and written back unchanged.

use std::fmt;

use http::HeaderValue;
use serde_json::{Map, Value};

use super::base64url::{self, Base64Error};
use super::challenge::is_method_id;
use super::json::{JsonError, compact_json, parse_json};
use super::timestamp::Timestamp;

/// The largest receipt accepted when parsing, in bytes of base64url text.
pub const MAX_RECEIPT_LEN: usize = 16 * 1024;

/// Proof that a payment was verified and settled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// The payment method used, e.g. `tempo`.
    pub method: String,
    /// When the payment settled.
    pub timestamp: Timestamp,
    /// Method-specific reference: a transaction hash, an invoice id.
    pub reference: String,
    /// The merchant's reference (order id, invoice number), if any.
    pub external_id: Option<String>,
    /// Further fields, method-defined or unknown, kept as received.
    pub extra: Map<String, Value>,
}

impl Receipt {
    /// A receipt for `method`, settled at `timestamp`, with `reference`.
    pub fn new(
        method: impl Into<String>,
        timestamp: Timestamp,
        reference: impl Into<String>,
    ) -> Self {
        Self {
            method: method.into(),
            timestamp,
            reference: reference.into(),
            external_id: None,
            extra: Map::new(),
        }
    }

    /// Sets `externalId`.
    #[must_use]
    pub fn with_external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// Decodes a `Payment-Receipt` field value.
    ///
    /// # Errors
    ///
    /// [`ReceiptError`] for invalid base64url or JSON, a status other than
    /// `success`, a missing or mistyped required field, an invalid method id
    /// or a timestamp that is not RFC 3339.
    pub fn parse(header: &str) -> Result<Self, ReceiptError> {
        use ReceiptErrorKind as K;
        if header.len() > MAX_RECEIPT_LEN {
            return Err(ReceiptError::new(K::TooLarge));
        }
        let bytes = base64url::decode(header).map_err(|e| ReceiptError::new(K::Base64(e)))?;
        let Value::Object(mut extra) =
            parse_json(&bytes).map_err(|e| ReceiptError::new(K::Json(e)))?
        else {
            return Err(ReceiptError::new(K::Field(
                "the receipt must be a JSON object",
            )));
        };
        let mut take = |name: &'static str| match extra.remove(name) {
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(ReceiptError::new(K::Field(name))),
        };
        let status = take("status")?;
        let method = take("method")?.ok_or(ReceiptError::new(K::Field("method")))?;
        let timestamp = take("timestamp")?.ok_or(ReceiptError::new(K::Field("timestamp")))?;
        let reference = take("reference")?.ok_or(ReceiptError::new(K::Field("reference")))?;
        let external_id = take("externalId")?;
        if status.as_deref() != Some("success") {
            return Err(ReceiptError::new(K::Status));
        }
        if !is_method_id(&method) {
            return Err(ReceiptError::new(K::Field("method")));
        }
        let timestamp =
            Timestamp::parse(&timestamp).map_err(|_| ReceiptError::new(K::Field("timestamp")))?;
        Ok(Self {
            method,
            timestamp,
            reference,
            external_id,
            extra,
        })
    }

    /// Encodes the receipt: compact JSON with sorted keys, then base64url.
    ///
    /// # Errors
    ///
    /// [`ReceiptError`] for an invalid method id or an `extra` field that
    /// shadows a standard one.
    pub fn encode(&self) -> Result<String, ReceiptError> {
        self.to_json().map(base64url::encode)
    }

    /// The receipt as compact JSON with sorted keys: what
    /// [`encode`](Self::encode) base64url-encodes, and what a metered
    /// stream's final `payment-receipt` event carries.
    ///
    /// # Errors
    ///
    /// As [`Receipt::encode`].
    pub fn to_json(&self) -> Result<String, ReceiptError> {
        use ReceiptErrorKind as K;
        if !is_method_id(&self.method) {
            return Err(ReceiptError::new(K::Field("method")));
        }
        let mut object = self.extra.clone();
        for name in ["status", "method", "timestamp", "reference", "externalId"] {
            if object.contains_key(name) {
                return Err(ReceiptError::new(K::Shadowed(name)));
            }
        }
        object.insert("status".into(), "success".into());
        object.insert("method".into(), self.method.clone().into());
        object.insert("timestamp".into(), self.timestamp.as_str().into());
        object.insert("reference".into(), self.reference.clone().into());
        if let Some(id) = &self.external_id {
            object.insert("externalId".into(), id.clone().into());
        }
        Ok(compact_json(&object))
    }

    /// Encodes the receipt as a ready-to-send header value.
    ///
    /// # Errors
    ///
    /// As [`Receipt::encode`].
    pub fn to_header_value(&self) -> Result<HeaderValue, ReceiptError> {
        let text = self.encode()?;
        // base64url text is always a valid header value.
        HeaderValue::try_from(text)
            .map_err(|_| ReceiptError::new(ReceiptErrorKind::Field("header")))
    }
}

/// A receipt that could not be parsed or encoded.
#[derive(Debug)]
pub struct ReceiptError {
    kind: ReceiptErrorKind,
}

#[derive(Debug)]
enum ReceiptErrorKind {
    TooLarge,
    Base64(Base64Error),
    Json(JsonError),
    Status,
    Field(&'static str),
    Shadowed(&'static str),
}

impl ReceiptError {
    fn new(kind: ReceiptErrorKind) -> Self {
        Self { kind }
    }
}

impl fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ReceiptErrorKind as K;
        match &self.kind {
            K::TooLarge => write!(f, "receipt exceeds {MAX_RECEIPT_LEN} bytes"),
            K::Base64(e) => write!(f, "receipt is not valid base64url: {e}"),
            K::Json(e) => write!(f, "receipt is not valid JSON: {e}"),
            K::Status => f.write_str("receipt `status` must be \"success\""),
            K::Field(name) => write!(f, "receipt field `{name}` is missing or invalid"),
            K::Shadowed(name) => write!(f, "receipt extra field `{name}` shadows a standard field"),
        }
    }
}

impl std::error::Error for ReceiptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReceiptErrorKind::Base64(e) => Some(e),
            ReceiptErrorKind::Json(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decodes_the_spec_example() {
        let r = Receipt::parse("eyJzdGF0dXMiOiJzdWNjZXNzIiwibWV0aG9kIjoiaW52b2ljZSIsInRpbWVzdGFtcCI6IjIwMjUtMDEtMTVUMTI6MDA6MDBaIiwicmVmZXJlbmNlIjoiaW52XzEyMzQ1In0").unwrap();
        assert_eq!(r.method, "invoice");
        assert_eq!(r.reference, "inv_12345");
        assert_eq!(r.timestamp.as_str(), "2025-01-15T12:00:00Z");
        assert!(r.extra.is_empty());
    }

    #[test]
    fn keeps_external_id_and_unknown_fields() {
        let mut r = Receipt::new(
            "tempo",
            Timestamp::parse("2025-01-06T12:00:00Z").unwrap(),
            "0xabc",
        )
        .with_external_id("order-1");
        r.extra.insert("chainId".into(), json!(1337));
        r.extra.insert("nested".into(), json!({"b": [1, "x"]}));
        let encoded = r.encode().unwrap();
        let json = base64url::decode_text(&encoded).unwrap();
        assert_eq!(
            json,
            r#"{"chainId":1337,"externalId":"order-1","method":"tempo","nested":{"b":[1,"x"]},"reference":"0xabc","status":"success","timestamp":"2025-01-06T12:00:00Z"}"#
        );
        assert_eq!(Receipt::parse(&encoded).unwrap(), r);
    }

    #[test]
    fn refuses_invalid_receipts() {
        let enc = |v: Value| base64url::encode(v.to_string());
        let ok = json!({"status":"success","method":"tempo","timestamp":"2025-01-06T12:00:00Z","reference":"r"});
        Receipt::parse(&enc(ok.clone())).unwrap();
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            enc(o)
        };
        let without = |k: &str| {
            let mut o = ok.clone();
            o.as_object_mut().unwrap().remove(k);
            enc(o)
        };
        for bad in [
            with("status", json!("failed")),
            without("status"),
            without("method"),
            without("reference"),
            without("timestamp"),
            with("method", json!("Tempo")),
            with("timestamp", json!("yesterday")),
            with("reference", json!(5)),
            with("externalId", json!(5)),
            enc(json!([1])),
            "Payment abc".into(),
            "e30=".into(),
        ] {
            assert!(Receipt::parse(&bad).is_err(), "{bad}");
        }
        let mut r = Receipt::new("tempo", Timestamp::now(), "r");
        r.extra.insert("status".into(), json!("failed"));
        assert!(r.encode().is_err());
    }
}
