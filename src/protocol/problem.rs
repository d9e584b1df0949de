//! Problem details (RFC 9457) for payment failures.
//!
//! Every failure of the payment flow is answered with an
//! `application/problem+json` body whose `type` is one of the problem types
//! of the core specification, and with the `challengeId` of the fresh
//! challenge when the response carries one.

use std::fmt;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The base URI of the payment problem types.
pub const PROBLEM_BASE: &str = "https://paymentauth.org/problems/";

/// The problem types of the core specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemType {
    /// The resource requires payment (402).
    PaymentRequired,
    /// The amount paid is too low (402).
    PaymentInsufficient,
    /// The challenge or authorization expired (402).
    PaymentExpired,
    /// The payment proof is invalid (402).
    VerificationFailed,
    /// The payment method is not accepted (400).
    MethodUnsupported,
    /// The credential is not well formed (402).
    MalformedCredential,
    /// The challenge id is unknown, expired or already used (402).
    InvalidChallenge,
    /// Sessions: a voucher or close signature does not verify (402).
    SessionInvalidSignature,
    /// Sessions: the voucher's signer is not the channel's (402).
    SessionSignerMismatch,
    /// Sessions: the voucher is above the channel's deposit (402).
    SessionAmountExceedsDeposit,
    /// Sessions: the voucher does not rise by `minVoucherDelta`, or is
    /// below the highest accepted (402).
    SessionDeltaTooSmall,
    /// Sessions: no channel with this id (410).
    SessionChannelNotFound,
    /// Sessions: the channel is closed, or closing (410).
    SessionChannelFinalized,
    /// Sessions: the challenge is unknown or expired (402).
    SessionChallengeNotFound,
    /// Sessions: the accepted vouchers do not cover the request (402).
    SessionInsufficientBalance,
}

impl ProblemType {
    /// Every problem type, in the order of the specification's table.
    pub const ALL: [Self; 7] = [
        Self::PaymentRequired,
        Self::PaymentInsufficient,
        Self::PaymentExpired,
        Self::VerificationFailed,
        Self::MethodUnsupported,
        Self::MalformedCredential,
        Self::InvalidChallenge,
    ];

    /// The session intent's problem types (`draft-tempo-session-00`),
    /// under `session/`.
    pub const SESSION: [Self; 8] = [
        Self::SessionInvalidSignature,
        Self::SessionSignerMismatch,
        Self::SessionAmountExceedsDeposit,
        Self::SessionDeltaTooSmall,
        Self::SessionChannelNotFound,
        Self::SessionChannelFinalized,
        Self::SessionChallengeNotFound,
        Self::SessionInsufficientBalance,
    ];

    /// The short code, e.g. `verification-failed`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::PaymentRequired => "payment-required",
            Self::PaymentInsufficient => "payment-insufficient",
            Self::PaymentExpired => "payment-expired",
            Self::VerificationFailed => "verification-failed",
            Self::MethodUnsupported => "method-unsupported",
            Self::MalformedCredential => "malformed-credential",
            Self::InvalidChallenge => "invalid-challenge",
            Self::SessionInvalidSignature => "session/invalid-signature",
            Self::SessionSignerMismatch => "session/signer-mismatch",
            Self::SessionAmountExceedsDeposit => "session/amount-exceeds-deposit",
            Self::SessionDeltaTooSmall => "session/delta-too-small",
            Self::SessionChannelNotFound => "session/channel-not-found",
            Self::SessionChannelFinalized => "session/channel-finalized",
            Self::SessionChallengeNotFound => "session/challenge-not-found",
            Self::SessionInsufficientBalance => "session/insufficient-balance",
        }
    }

    /// The type URI, under [`PROBLEM_BASE`].
    pub const fn uri(self) -> &'static str {
        match self {
            Self::PaymentRequired => "https://paymentauth.org/problems/payment-required",
            Self::PaymentInsufficient => "https://paymentauth.org/problems/payment-insufficient",
            Self::PaymentExpired => "https://paymentauth.org/problems/payment-expired",
            Self::VerificationFailed => "https://paymentauth.org/problems/verification-failed",
            Self::MethodUnsupported => "https://paymentauth.org/problems/method-unsupported",
            Self::MalformedCredential => "https://paymentauth.org/problems/malformed-credential",
            Self::InvalidChallenge => "https://paymentauth.org/problems/invalid-challenge",
            Self::SessionInvalidSignature => {
                "https://paymentauth.org/problems/session/invalid-signature"
            }
            Self::SessionSignerMismatch => {
                "https://paymentauth.org/problems/session/signer-mismatch"
            }
            Self::SessionAmountExceedsDeposit => {
                "https://paymentauth.org/problems/session/amount-exceeds-deposit"
            }
            Self::SessionDeltaTooSmall => {
                "https://paymentauth.org/problems/session/delta-too-small"
            }
            Self::SessionChannelNotFound => {
                "https://paymentauth.org/problems/session/channel-not-found"
            }
            Self::SessionChannelFinalized => {
                "https://paymentauth.org/problems/session/channel-finalized"
            }
            Self::SessionChallengeNotFound => {
                "https://paymentauth.org/problems/session/challenge-not-found"
            }
            Self::SessionInsufficientBalance => {
                "https://paymentauth.org/problems/session/insufficient-balance"
            }
        }
    }

    /// A short human-readable summary.
    pub const fn title(self) -> &'static str {
        match self {
            Self::PaymentRequired => "Payment Required",
            Self::PaymentInsufficient => "Payment Insufficient",
            Self::PaymentExpired => "Payment Expired",
            Self::VerificationFailed => "Payment Verification Failed",
            Self::MethodUnsupported => "Method Unsupported",
            Self::MalformedCredential => "Malformed Credential",
            Self::InvalidChallenge => "Invalid Challenge",
            Self::SessionInvalidSignature => "Invalid Signature",
            Self::SessionSignerMismatch => "Signer Mismatch",
            Self::SessionAmountExceedsDeposit => "Amount Exceeds Deposit",
            Self::SessionDeltaTooSmall => "Delta Too Small",
            Self::SessionChannelNotFound => "Channel Not Found",
            Self::SessionChannelFinalized => "Channel Finalized",
            Self::SessionChallengeNotFound => "Challenge Not Found",
            Self::SessionInsufficientBalance => "Insufficient Balance",
        }
    }

    /// The HTTP status the specification assigns.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MethodUnsupported => StatusCode::BAD_REQUEST,
            Self::SessionChannelNotFound | Self::SessionChannelFinalized => StatusCode::GONE,
            _ => StatusCode::PAYMENT_REQUIRED,
        }
    }

    /// The problem type for a type URI, if it is one of the core ones.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::SESSION)
            .find(|t| t.uri() == uri)
    }
}

impl fmt::Display for ProblemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProblemDetails {
    /// The problem type URI.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// An explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The id of the fresh challenge sent with this problem, if any.
    #[serde(
        rename = "challengeId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub challenge_id: Option<String>,
    /// Extension members.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl ProblemDetails {
    /// A problem of one of the core types, with its title and status.
    pub fn new(problem_type: ProblemType) -> Self {
        Self::custom(
            problem_type.uri(),
            problem_type.title(),
            problem_type.status(),
        )
    }

    /// A problem of any type (a URI of the caller's).
    pub fn custom(uri: impl Into<String>, title: impl Into<String>, status: StatusCode) -> Self {
        Self {
            problem_type: uri.into(),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            challenge_id: None,
            extensions: Map::new(),
        }
    }

    /// Sets `detail`.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets `challengeId`.
    #[must_use]
    pub fn with_challenge_id(mut self, id: impl Into<String>) -> Self {
        self.challenge_id = Some(id.into());
        self
    }

    /// The core problem type, if `type` is one of them.
    pub fn core_type(&self) -> Option<ProblemType> {
        ProblemType::from_uri(&self.problem_type)
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("string keys and JSON values always serialize")
    }
}

/// The members of a problem body without extensions, borrowed: the same
/// members in the same order as [`ProblemDetails`] writes them.
#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    problem_type: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(rename = "challengeId", skip_serializing_if = "Option::is_none")]
    challenge_id: Option<&'a str>,
}

/// A problem body as `ProblemDetails` writes it, without building one.
pub(crate) fn problem_json(
    problem_type: &str,
    title: &str,
    status: u16,
    detail: Option<&str>,
    challenge_id: Option<&str>,
) -> String {
    let body = ProblemBody {
        problem_type,
        title,
        status,
        detail,
        challenge_id,
    };
    serde_json::to_string(&body).expect("a struct of strings always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_type_has_a_uri_under_the_base_and_a_status() {
        for t in ProblemType::ALL {
            assert_eq!(t.uri(), format!("{PROBLEM_BASE}{}", t.code()));
            assert_eq!(ProblemType::from_uri(t.uri()), Some(t));
            let expected = if t == ProblemType::MethodUnsupported {
                400
            } else {
                402
            };
            assert_eq!(t.status().as_u16(), expected);
        }
        for t in ProblemType::SESSION {
            assert_eq!(t.uri(), format!("{PROBLEM_BASE}{}", t.code()));
            assert_eq!(ProblemType::from_uri(t.uri()), Some(t));
        }
        assert_eq!(ProblemType::SessionChannelFinalized.status().as_u16(), 410);
    }

    #[test]
    fn serializes_as_rfc9457_with_challenge_id() {
        let p = ProblemDetails::new(ProblemType::PaymentRequired)
            .with_detail("Payment required for access.")
            .with_challenge_id("qB3w");
        assert_eq!(
            p.to_json(),
            r#"{"type":"https://paymentauth.org/problems/payment-required","title":"Payment Required","status":402,"detail":"Payment required for access.","challengeId":"qB3w"}"#
        );
        let back: ProblemDetails = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.core_type(), Some(ProblemType::PaymentRequired));
    }

    #[test]
    fn writes_what_serde_writes() {
        let mut with_extensions = ProblemDetails::custom(
            "about:blank",
            "caf\u{e9} \"x\"",
            StatusCode::from_u16(599).unwrap(),
        )
        .with_detail("line\nbreak \\ \u{1}");
        with_extensions
            .extensions
            .insert("retryAfter".into(), 5.into());
        with_extensions
            .extensions
            .insert("a\"b".into(), serde_json::json!({"x": [1.5, null, "y"]}));
        with_extensions
            .extensions
            .insert("type".into(), "shadowed".into());
        for problem in [
            ProblemDetails::new(ProblemType::PaymentRequired),
            ProblemDetails::new(ProblemType::MethodUnsupported).with_challenge_id("id"),
            ProblemDetails::custom("u", "t", StatusCode::from_u16(100).unwrap()).with_detail(""),
            with_extensions,
        ] {
            assert_eq!(problem.to_json(), serde_json::to_string(&problem).unwrap());
        }
    }

    #[test]
    fn keeps_extension_members() {
        let json = r#"{"type":"about:blank","title":"x","status":503,"retryAfter":5}"#;
        let p: ProblemDetails = serde_json::from_str(json).unwrap();
        assert_eq!(p.extensions["retryAfter"], 5);
        assert_eq!(p.core_type(), None);
    }
}
