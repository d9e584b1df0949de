//! Payment challenges: the `WWW-Authenticate: Payment ...` header.

use std::fmt;

use http::HeaderValue;

use super::auth_param::{self, SyntaxError};
use super::base64_json::Base64Json;
use super::json::JsonError;
use super::timestamp::{Timestamp, TimestampError};

/// The largest `request` parameter accepted or produced, in bytes of wire
/// text (16 KiB). Servers should keep whole challenges under 8 KiB.
pub const MAX_REQUEST_LEN: usize = 16 * 1024;

/// One payment challenge: what the server asks for, and how to pay it.
///
/// Parsed from and formatted to `WWW-Authenticate: Payment ...`; echoed back
/// inside a [`Credential`](super::Credential).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge {
    /// The challenge id, bound to the other parameters by the server.
    pub id: String,
    /// The protection space.
    pub realm: String,
    /// The payment method identifier (`1*LOWERALPHA`), e.g. `tempo`.
    pub method: String,
    /// The payment intent, e.g. `charge`.
    pub intent: String,
    /// The method-specific payment request.
    pub request: Base64Json,
    /// When the challenge stops being payable.
    pub expires: Option<Timestamp>,
    /// The `Content-Digest` of the request body the payment is bound to.
    pub digest: Option<String>,
    /// Human-readable purpose, for display only.
    pub description: Option<String>,
    /// Server correlation data: a flat string-to-string JSON object.
    pub opaque: Option<Base64Json>,
    /// The request header the credential goes in, when not the default
    /// `Authorization` (a newer draft's `Payment-Authorization`, for routes
    /// whose `Authorization` carries another scheme). Kept and written back
    /// as received; bound by the challenge id when not `Authorization`.
    pub header: Option<String>,
}

impl Challenge {
    /// A challenge with the required parameters and no optional ones.
    pub fn new(
        id: impl Into<String>,
        realm: impl Into<String>,
        method: impl Into<String>,
        intent: impl Into<String>,
        request: Base64Json,
    ) -> Self {
        Self {
            id: id.into(),
            realm: realm.into(),
            method: method.into(),
            intent: intent.into(),
            request,
            expires: None,
            digest: None,
            description: None,
            opaque: None,
            header: None,
        }
    }

    /// Sets `expires`.
    #[must_use]
    pub fn with_expires(mut self, expires: Timestamp) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets `digest`.
    #[must_use]
    pub fn with_digest(mut self, digest: impl Into<String>) -> Self {
        self.digest = Some(digest.into());
        self
    }

    /// Sets `description`.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets `opaque`.
    #[must_use]
    pub fn with_opaque(mut self, opaque: Base64Json) -> Self {
        self.opaque = Some(opaque);
        self
    }

    /// Parses the one `Payment` challenge in a header value.
    ///
    /// Challenges of other schemes in the same value are skipped.
    ///
    /// # Errors
    ///
    /// [`ChallengeError`] if the value is not valid, holds no `Payment`
    /// challenge, holds more than one, or the challenge is invalid.
    pub fn parse(header: &str) -> Result<Self, ChallengeError> {
        let mut all = parse_challenges([header])?;
        match all.len() {
            1 => Ok(all.remove(0)),
            0 => Err(ChallengeError::new(ChallengeErrorKind::NoPaymentChallenge)),
            _ => Err(ChallengeError::new(
                ChallengeErrorKind::SeveralPaymentChallenges,
            )),
        }
    }

    /// Formats the challenge as a `WWW-Authenticate` field value.
    ///
    /// # Errors
    ///
    /// [`ChallengeError`] if a parameter cannot be represented in a valid
    /// header: empty id, a method that is not lowercase letters, an invalid
    /// intent, a control or non-ASCII character, an opaque that is not a flat
    /// string map, or a `request` over [`MAX_REQUEST_LEN`].
    pub fn to_header(&self) -> Result<String, ChallengeError> {
        self.validate()?;
        // `name="value"` joined by `, `: the exact length unless a value
        // needs escapes (rare), so that the text becomes a header value
        // without a copy.
        let len = self
            .wire_params()
            .map(|(name, value)| name.len() + value.len() + 5)
            .sum::<usize>();
        let mut out = String::with_capacity("Payment ".len() + len - 2);
        out.push_str("Payment ");
        for (i, (name, value)) in self.wire_params().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
            out.push('=');
            if matches!(name, "request" | "opaque") {
                // Base64Json wire text is base64url: nothing to escape.
                out.push('"');
                out.push_str(value);
                out.push('"');
            } else if !auth_param::push_quoted(&mut out, value) {
                return Err(ChallengeError::new(ChallengeErrorKind::Unrepresentable(
                    name,
                )));
            }
        }
        Ok(out)
    }

    /// The parameters present, in wire form and in the order this crate
    /// writes them: the required five, then `description`, `digest`,
    /// `expires`, `header`, `opaque`.
    pub(crate) fn wire_params(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let required = [
            ("id", self.id.as_str()),
            ("realm", self.realm.as_str()),
            ("method", self.method.as_str()),
            ("intent", self.intent.as_str()),
            ("request", self.request.as_wire()),
        ];
        let optional = [
            ("description", self.description.as_deref()),
            ("digest", self.digest.as_deref()),
            ("expires", self.expires.as_ref().map(Timestamp::as_str)),
            ("header", self.header.as_deref()),
            ("opaque", self.opaque.as_ref().map(Base64Json::as_wire)),
        ];
        required.into_iter().chain(
            optional
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?))),
        )
    }

    /// Formats the challenge as a ready-to-send header value.
    ///
    /// # Errors
    ///
    /// As [`Challenge::to_header`].
    pub fn to_header_value(&self) -> Result<HeaderValue, ChallengeError> {
        let text = self.to_header()?;
        HeaderValue::try_from(text)
            .map_err(|_| ChallengeError::new(ChallengeErrorKind::Unrepresentable("header")))
    }

    /// Checks the invariants every challenge must satisfy on the wire.
    ///
    /// # Errors
    ///
    /// [`ChallengeError`] naming the first parameter that breaks one.
    pub fn validate(&self) -> Result<(), ChallengeError> {
        use ChallengeErrorKind as K;
        if self.id.is_empty() {
            return Err(ChallengeError::new(K::EmptyId));
        }
        if !is_method_id(&self.method) {
            return Err(ChallengeError::new(K::InvalidMethod));
        }
        if !is_intent(&self.intent) {
            return Err(ChallengeError::new(K::InvalidIntent));
        }
        if self.request.as_wire().len() > MAX_REQUEST_LEN {
            return Err(ChallengeError::new(K::RequestTooLarge));
        }
        if self
            .opaque
            .as_ref()
            .is_some_and(|o| !o.is_flat_string_map())
        {
            return Err(ChallengeError::new(K::OpaqueNotStringMap));
        }
        if self.header.as_deref().is_some_and(|h| !is_field_name(h)) {
            return Err(ChallengeError::new(K::Unrepresentable("header")));
        }
        Ok(())
    }

    /// Builds a challenge from its named string parameters, validating each.
    /// Unknown parameters are ignored; duplicates (case-insensitive) refused.
    pub(crate) fn from_params<'a, I>(params: I) -> Result<Self, ChallengeError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        use ChallengeErrorKind as K;
        const KNOWN: [&str; 10] = [
            "id",
            "realm",
            "method",
            "intent",
            "request",
            "expires",
            "digest",
            "description",
            "opaque",
            "header",
        ];
        let mut slots: [Option<&str>; 10] = [None; 10];
        // A name repeats a known one only if both are that known name, so
        // known names are checked by slot and only unknown ones are kept, in
        // a set: a hostile echo may carry thousands of them.
        let mut unknown = UnknownNames::default();
        for (name, value) in params {
            let repeated = match KNOWN.iter().position(|k| k.eq_ignore_ascii_case(name)) {
                Some(i) => slots[i].replace(value).is_some(),
                None => !unknown.insert(name),
            };
            if repeated {
                return Err(ChallengeError::new(K::DuplicateParameter(
                    name.to_ascii_lowercase(),
                )));
            }
        }
        let [
            id,
            realm,
            method,
            intent,
            request,
            expires,
            digest,
            description,
            opaque,
            header,
        ] = slots;
        let id = required(id, "id")?;
        let realm = required(realm, "realm")?;
        let method = required(method, "method")?;
        let intent = required(intent, "intent")?;
        let request = required(request, "request")?;
        if request.len() > MAX_REQUEST_LEN {
            return Err(ChallengeError::new(K::RequestTooLarge));
        }
        let challenge = Self {
            id: id.to_owned(),
            realm: realm.to_owned(),
            method: method.to_owned(),
            intent: intent.to_owned(),
            request: Base64Json::from_wire_recent(request)
                .map_err(|e| ChallengeError::with_json(K::InvalidRequest, e))?,
            expires: expires
                .map(Timestamp::parse)
                .transpose()
                .map_err(|e| ChallengeError::new(K::InvalidExpires(e)))?,
            digest: digest.map(str::to_owned),
            description: description.map(str::to_owned),
            opaque: opaque
                .map(Base64Json::from_wire)
                .transpose()
                .map_err(|e| ChallengeError::with_json(K::InvalidOpaque, e))?,
            header: header.map(str::to_owned),
        };
        challenge.validate()?;
        Ok(challenge)
    }
}

/// The unknown parameter names seen so far, compared without ASCII case:
/// a short list for the usual few, a hash set past that, so checking a
/// credential for duplicates stays linear in its size.
#[derive(Default)]
struct UnknownNames<'a> {
    few: Vec<&'a str>,
    many: std::collections::HashSet<String>,
}

impl<'a> UnknownNames<'a> {
    /// How many names the list holds before the set takes over.
    const FEW: usize = 8;

    /// Adds `name`; `false` when it was already there.
    fn insert(&mut self, name: &'a str) -> bool {
        if self.few.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
            return false;
        }
        if self.few.len() < Self::FEW {
            self.few.push(name);
            return true;
        }
        self.many.insert(name.to_ascii_lowercase())
    }
}

fn required<'v>(value: Option<&'v str>, name: &'static str) -> Result<&'v str, ChallengeError> {
    value.ok_or(ChallengeError::new(ChallengeErrorKind::MissingParameter(
        name,
    )))
}

/// Parses every `Payment` challenge in one or more `WWW-Authenticate` values.
///
/// Each value may hold several comma-joined challenges and challenges of other
/// schemes (skipped). The scheme and parameter names are case-insensitive.
///
/// # Errors
///
/// [`ChallengeError`] on the first value that breaks the RFC 9110 grammar or
/// the first `Payment` challenge that is invalid.
///
/// ```
/// use tower_mpp::protocol::parse_challenges;
/// let header = r#"Bearer realm="api", Payment id="abc", realm="api", method="tempo", intent="charge", request="e30""#;
/// let challenges = parse_challenges([header]).unwrap();
/// assert_eq!(challenges[0].method, "tempo");
/// ```
pub fn parse_challenges<'a, I>(values: I) -> Result<Vec<Challenge>, ChallengeError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = Vec::new();
    for value in values {
        let raw = auth_param::parse_challenges(value)
            .map_err(|e| ChallengeError::new(ChallengeErrorKind::Syntax(e)))?;
        for challenge in raw
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case("payment"))
        {
            if challenge.token68.is_some() {
                return Err(ChallengeError::new(ChallengeErrorKind::MissingParameter(
                    "id",
                )));
            }
            let params = challenge.params.iter().map(|(k, v)| (*k, v.as_ref()));
            out.push(Challenge::from_params(params)?);
        }
    }
    Ok(out)
}

/// Whether `s` is a payment method identifier: `1*LOWERALPHA`.
pub fn is_method_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// Whether `s` is an HTTP field name (RFC 9110 `token`), as `header` must be.
fn is_field_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `s` is an intent token: `1*( ALPHA / DIGIT / "-" )`.
pub fn is_intent(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A challenge that could not be parsed or formatted.
#[derive(Debug)]
pub struct ChallengeError {
    kind: ChallengeErrorKind,
    json: Option<JsonError>,
}

#[derive(Debug)]
enum ChallengeErrorKind {
    Syntax(SyntaxError),
    NoPaymentChallenge,
    SeveralPaymentChallenges,
    MissingParameter(&'static str),
    DuplicateParameter(String),
    EmptyId,
    InvalidMethod,
    InvalidIntent,
    RequestTooLarge,
    InvalidRequest,
    InvalidOpaque,
    OpaqueNotStringMap,
    InvalidExpires(TimestampError),
    Unrepresentable(&'static str),
}

impl ChallengeError {
    fn new(kind: ChallengeErrorKind) -> Self {
        Self { kind, json: None }
    }

    fn with_json(kind: ChallengeErrorKind, json: JsonError) -> Self {
        Self {
            kind,
            json: Some(json),
        }
    }

    /// Whether the error arose while formatting (a value the header cannot
    /// carry) rather than while parsing.
    pub fn is_unrepresentable(&self) -> bool {
        matches!(self.kind, ChallengeErrorKind::Unrepresentable(_))
    }
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChallengeErrorKind as K;
        match &self.kind {
            K::Syntax(e) => write!(f, "invalid WWW-Authenticate syntax: {e}"),
            K::NoPaymentChallenge => f.write_str("no Payment challenge in the header"),
            K::SeveralPaymentChallenges => {
                f.write_str("more than one Payment challenge in the header")
            }
            K::MissingParameter(name) => {
                write!(f, "challenge is missing the required `{name}` parameter")
            }
            K::DuplicateParameter(name) => write!(f, "challenge repeats the `{name}` parameter"),
            K::EmptyId => f.write_str("challenge `id` is empty"),
            K::InvalidMethod => f.write_str("challenge `method` must be lowercase ASCII letters"),
            K::InvalidIntent => f.write_str("challenge `intent` must be letters, digits and `-`"),
            K::RequestTooLarge => write!(f, "challenge `request` exceeds {MAX_REQUEST_LEN} bytes"),
            K::InvalidRequest => {
                f.write_str("challenge `request` is not base64url JCS JSON object")
            }
            K::InvalidOpaque => f.write_str("challenge `opaque` is not a base64url JSON object"),
            K::OpaqueNotStringMap => f.write_str("challenge `opaque` must map strings to strings"),
            K::InvalidExpires(e) => write!(f, "challenge `expires`: {e}"),
            K::Unrepresentable(name) => write!(
                f,
                "challenge `{name}` holds a character a header cannot carry (control or non-ASCII)"
            ),
        }
    }
}

impl std::error::Error for ChallengeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match (&self.kind, &self.json) {
            (_, Some(json)) => Some(json),
            (ChallengeErrorKind::Syntax(e), _) => Some(e),
            (ChallengeErrorKind::InvalidExpires(e), _) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "challenge_tests.rs"]
mod tests;
