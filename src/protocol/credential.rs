//! Payment credentials: the `Authorization: Payment <base64url JSON>` header.
//!
//! The JSON object echoes the challenge being answered (`challenge`), names
//! the payer (`source`, optional) and carries the method-specific proof
//! (`payload`). It is serialized with JCS so one credential has one encoding.

use std::fmt;

use serde_json::{Map, Value};

use super::base64url::{self, Base64Error};
use super::challenge::{Challenge, ChallengeError};
use super::credential_json;
use super::json::{JsonError, compact_json, parse_json};

/// The largest credential token accepted, in bytes of base64url text (64 KiB).
///
/// The core specification asks servers to handle at least 4 KiB.
pub const MAX_CREDENTIAL_LEN: usize = 64 * 1024;

/// A payment credential: the answer to one challenge.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credential {
    /// The challenge being answered, echoed unchanged.
    pub challenge: Challenge,
    /// The payer, preferably as a DID (`did:pkh:eip155:...`).
    pub source: Option<String>,
    /// Method-specific proof of payment.
    pub payload: Map<String, Value>,
}

impl Credential {
    /// A credential answering `challenge` with `payload`.
    pub fn new(challenge: Challenge, payload: Map<String, Value>) -> Self {
        Self {
            challenge,
            source: None,
            payload,
        }
    }

    /// Sets `source`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Parses an `Authorization` field value: `Payment <base64url JSON>`.
    ///
    /// The scheme is case-insensitive; one or more spaces follow it.
    ///
    /// # Errors
    ///
    /// [`CredentialError`] if the scheme is not `Payment` or the token is not a
    /// valid credential (see [`Credential::decode`]).
    pub fn parse(header: &str) -> Result<Self, CredentialError> {
        let header = header.trim_matches(|c| c == ' ' || c == '\t');
        let (scheme, token) = header
            .split_once(' ')
            .ok_or(CredentialError::new(CredentialErrorKind::NotPayment))?;
        if !scheme.eq_ignore_ascii_case("payment") {
            return Err(CredentialError::new(CredentialErrorKind::NotPayment));
        }
        Self::decode(token.trim_start_matches(' '))
    }

    /// Decodes the base64url token of a credential (without the scheme).
    ///
    /// # Errors
    ///
    /// [`CredentialError`] for a token over [`MAX_CREDENTIAL_LEN`], invalid
    /// base64url or JSON, a missing or mistyped field, or an echoed
    /// challenge that is not a valid challenge.
    pub fn decode(token: &str) -> Result<Self, CredentialError> {
        if token.len() > MAX_CREDENTIAL_LEN {
            return Err(CredentialError::new(CredentialErrorKind::TooLarge));
        }
        // Decoded on the stack when it fits: only the parse reads it.
        base64url::with_decoded::<1536, _>(token, Self::from_token_json)
            .map_err(|e| CredentialError::new(CredentialErrorKind::Base64(e)))?
    }

    /// [`decode`](Self::decode) once the token is decoded to `bytes`.
    fn from_token_json(bytes: &[u8]) -> Result<Self, CredentialError> {
        // The fast reading answers for usual credentials; the rest, errors
        // included, is read again by the general parser (at most twice the
        // work for a hostile token, still bounded by its size).
        if let Some(fast) = credential_json::read(bytes)
            && let Ok(challenge) = Challenge::from_params(fast.echo())
        {
            return Ok(Self {
                challenge,
                source: fast.source,
                payload: fast.payload,
            });
        }
        Self::from_json(bytes)
    }

    /// The general reading of a credential's JSON, through a `Value` tree:
    /// the reference the fast reading agrees with, and the one that words
    /// every error.
    pub(super) fn from_json(bytes: &[u8]) -> Result<Self, CredentialError> {
        use CredentialErrorKind as K;
        let Value::Object(mut object) =
            parse_json(bytes).map_err(|e| CredentialError::new(K::Json(e)))?
        else {
            return Err(CredentialError::new(K::Field(
                "the credential must be a JSON object",
            )));
        };
        let Some(Value::Object(echo)) = object.remove("challenge") else {
            return Err(CredentialError::new(K::Field(
                "`challenge` must be an object",
            )));
        };
        let Some(Value::Object(payload)) = object.remove("payload") else {
            return Err(CredentialError::new(K::Field(
                "`payload` must be an object",
            )));
        };
        let source = match object.remove("source") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(CredentialError::new(K::Field("`source` must be a string"))),
        };
        let mut params = Vec::with_capacity(echo.len());
        for (name, value) in &echo {
            match value {
                Value::String(s) => params.push((name.as_str(), s.as_str())),
                Value::Null => {}
                _ => {
                    return Err(CredentialError::new(K::Field(
                        "challenge fields must be strings",
                    )));
                }
            }
        }
        let challenge =
            Challenge::from_params(params).map_err(|e| CredentialError::new(K::Challenge(e)))?;
        Ok(Self {
            challenge,
            source,
            payload,
        })
    }

    /// Encodes the credential token: compact JSON with sorted keys, then
    /// base64url. Payload numbers are kept exactly.
    ///
    /// # Errors
    ///
    /// [`CredentialError`] if the echoed challenge is invalid.
    pub fn encode(&self) -> Result<String, CredentialError> {
        use CredentialErrorKind as K;
        self.challenge
            .validate()
            .map_err(|e| CredentialError::new(K::Challenge(e)))?;
        let echo = self
            .challenge
            .wire_params()
            .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
            .collect();
        let mut object = Map::new();
        object.insert("challenge".into(), Value::Object(echo));
        object.insert("payload".into(), Value::Object(self.payload.clone()));
        if let Some(source) = &self.source {
            object.insert("source".into(), Value::String(source.clone()));
        }
        Ok(base64url::encode(compact_json(&object)))
    }

    /// Formats the `Authorization` field value: `Payment <token>`.
    ///
    /// # Errors
    ///
    /// As [`Credential::encode`].
    pub fn to_header(&self) -> Result<String, CredentialError> {
        Ok(format!("Payment {}", self.encode()?))
    }
}

/// Redacts the payload and source: a credential is a bearer token.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("challenge_id", &self.challenge.id)
            .field("method", &self.challenge.method)
            .field("intent", &self.challenge.intent)
            .field("source", &self.source.as_ref().map(|_| "<redacted>"))
            .field("payload", &"<redacted>")
            .finish()
    }
}

/// A credential that could not be parsed or encoded.
#[derive(Debug)]
pub struct CredentialError {
    kind: CredentialErrorKind,
}

#[derive(Debug)]
enum CredentialErrorKind {
    NotPayment,
    TooLarge,
    Base64(Base64Error),
    Json(JsonError),
    Field(&'static str),
    Challenge(ChallengeError),
}

impl CredentialError {
    fn new(kind: CredentialErrorKind) -> Self {
        Self { kind }
    }

    /// Whether the header simply does not use the `Payment` scheme (as
    /// opposed to a `Payment` credential that is malformed).
    pub fn is_other_scheme(&self) -> bool {
        matches!(self.kind, CredentialErrorKind::NotPayment)
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CredentialErrorKind as K;
        match &self.kind {
            K::NotPayment => f.write_str("not a `Payment` credential"),
            K::TooLarge => write!(f, "credential exceeds {MAX_CREDENTIAL_LEN} bytes"),
            K::Base64(e) => write!(f, "credential is not valid base64url: {e}"),
            K::Json(e) => write!(f, "credential is not valid JSON: {e}"),
            K::Field(what) => write!(f, "malformed credential: {what}"),
            K::Challenge(e) => write!(f, "credential echoes an invalid challenge: {e}"),
        }
    }
}

impl std::error::Error for CredentialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        use CredentialErrorKind as K;
        match &self.kind {
            K::Base64(e) => Some(e),
            K::Json(e) => Some(e),
            K::Challenge(e) => Some(e),
            K::NotPayment | K::TooLarge | K::Field(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::{Base64Json, Timestamp};

    fn credential() -> Credential {
        let challenge = Challenge::new(
            "x7Tg2pLqR9mKvNwY3hBcZa",
            "api.example.com",
            "example",
            "charge",
            Base64Json::from_wire(
                "eyJhbW91bnQiOiIxMDAwIiwiY3VycmVuY3kiOiJVU0QiLCJyZWNpcGllbnQiOiJhY2N0XzEyMyJ9",
            )
            .unwrap(),
        )
        .with_expires(Timestamp::parse("2025-01-15T12:05:00Z").unwrap());
        let Value::Object(payload) = json!({"proof": "0xabc123..."}) else {
            unreachable!()
        };
        Credential::new(challenge, payload)
    }

    #[test]
    fn decodes_the_spec_example() {
        let header = "Payment eyJjaGFsbGVuZ2UiOnsiaWQiOiJ4N1RnMnBMcVI5bUt2TndZM2hCY1phIiwicmVhbG0iOiJhcGkuZXhhbXBsZS5jb20iLCJtZXRob2QiOiJleGFtcGxlIiwiaW50ZW50IjoiY2hhcmdlIiwicmVxdWVzdCI6ImV5SmhiVzkxYm5RaU9pSXhNREF3SWl3aVkzVnljbVZ1WTNraU9pSlZVMFFpTENKeVpXTnBjR2xsYm5RaU9pSmhZMk4wWHpFeU15SjkiLCJleHBpcmVzIjoiMjAyNS0wMS0xNVQxMjowNTowMFoifSwicGF5bG9hZCI6eyJwcm9vZiI6IjB4YWJjMTIzLi4uIn19";
        assert_eq!(Credential::parse(header).unwrap(), credential());
    }

    #[test]
    fn round_trips_with_every_optional_field() {
        let mut c = credential().with_source("did:pkh:eip155:1337:0xabc");
        c.challenge.description = Some("caf\u{e9} \"x\"".into());
        c.challenge.digest = Some("sha-256=:abc=:".into());
        c.challenge.opaque = Some(Base64Json::from_value(json!({"pi": "pi_1"})).unwrap());
        let header = c.to_header().unwrap();
        assert_eq!(Credential::parse(&header).unwrap(), c);
        assert_eq!(
            Credential::parse(&header.replacen("Payment", "payment  ", 1)).unwrap(),
            c
        );
    }

    #[test]
    fn debug_redacts_the_proof() {
        let c = credential().with_source("did:pkh:eip155:1:0xsecret");
        let debug = format!("{c:?}");
        assert!(!debug.contains("0xabc123"));
        assert!(!debug.contains("0xsecret"));
    }

    #[test]
    fn refuses_malformed_credentials() {
        let enc = |v: Value| format!("Payment {}", base64url::encode(v.to_string()));
        let good = credential().encode().unwrap();
        let echo = json!({"id":"a","realm":"r","method":"tempo","intent":"charge","request":"e30"});
        for bad in [
            "Bearer abc".to_owned(),
            "Payment".to_owned(),
            "Payment !!!".to_owned(),
            format!("Payment {good}="),
            format!("Payment {}", "A".repeat(MAX_CREDENTIAL_LEN + 1)),
            format!("Payment {}", base64url::encode("not json")),
            enc(json!([1])),
            enc(json!({"payload": {}})),
            enc(json!({"challenge": echo, "payload": "x"})),
            enc(json!({"challenge": echo})),
            enc(json!({"challenge": echo, "payload": {}, "source": 5})),
            enc(json!({"challenge": {"id": "a"}, "payload": {}})),
            enc(
                json!({"challenge": {"id":"a","realm":"r","method":"TEMPO","intent":"charge","request":"e30"}, "payload": {}}),
            ),
            enc(
                json!({"challenge": {"id":5,"realm":"r","method":"tempo","intent":"charge","request":"e30"}, "payload": {}}),
            ),
            enc(
                json!({"challenge": {"id":"","realm":"r","method":"tempo","intent":"charge","request":"e30"}, "payload": {}}),
            ),
        ] {
            let err = Credential::parse(&bad).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
        Credential::parse(&enc(json!({"challenge": echo, "payload": {}}))).unwrap();
        Credential::parse(&enc(json!({"challenge": echo, "payload": {}, "extra": 1}))).unwrap();
    }
}
