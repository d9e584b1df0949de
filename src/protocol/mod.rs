//! The MPP wire format, with no I/O.
//!
//! Everything that crosses the wire in the `Payment` HTTP authentication
//! scheme (`draft-httpauth-payment-00`) is parsed and produced here:
//!
//! | header | type |
//! | --- | --- |
//! | `WWW-Authenticate: Payment ...` | [`Challenge`], [`parse_challenges`] |
//! | `Authorization: Payment <token>` | [`Credential`] |
//! | `Payment-Receipt: <token>` | [`Receipt`] |
//! | `Accept-Payment` | [`AcceptPayment`] |
//! | `Content-Digest` | [`content_digest`], [`verify_content_digest`] |
//! | problem bodies (RFC 9457) | [`ProblemDetails`], [`ProblemType`] |
//!
//! and the building blocks they share: [`base64url`] without padding, JCS
//! ([`canonical_json`], [`Base64Json`]), RFC 3339 [`Timestamp`]s and exact
//! [amounts](parse_amount) in integer base units.
//!
//! Parsing is strict where the specification is (missing or duplicate
//! parameters, non-lowercase method ids, CR/LF, oversized requests) and
//! tolerant where deployed peers need it (several challenges and other
//! schemes in one header, case-insensitive names, unknown parameters).
//! Formatting never produces a header a peer could misread: a value that
//! cannot be carried is an error.
//!
//! ```
//! use serde_json::json;
//! use tower_mpp::protocol::{Base64Json, Challenge, Timestamp};
//!
//! let request = Base64Json::from_value(json!({"amount": "10000", "currency": "usd"}))?;
//! let challenge = Challenge::new("id-1", "api.example.com", "stripe", "charge", request)
//!     .with_expires(Timestamp::parse("2030-01-01T00:00:00Z")?);
//! let header = challenge.to_header()?;
//! assert_eq!(Challenge::parse(&header)?, challenge);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod accept;
mod amount;
mod auth_param;
mod base64_json;
pub mod base64url;
mod challenge;
mod credential;
mod credential_json;
mod digest;
mod json;
mod json_plain;
mod json_shape;
mod problem;
mod receipt;
mod scan;
#[cfg(test)]
mod test_rng;
mod timestamp;

pub use accept::{AcceptPayment, AcceptPaymentError, PaymentRange};
pub use amount::{AmountError, MAX_DECIMALS, format_amount, parse_amount, parse_base_units};
pub use auth_param::SyntaxError;
pub use base64_json::Base64Json;
pub use challenge::{
    Challenge, ChallengeError, MAX_REQUEST_LEN, is_intent, is_method_id, parse_challenges,
};
pub use credential::{Credential, CredentialError, MAX_CREDENTIAL_LEN};
pub use digest::{DigestError, content_digest, verify_content_digest};
pub(crate) use json::push_json_string;
pub use json::{JsonError, canonical_json};
pub(crate) use problem::problem_json;
pub use problem::{PROBLEM_BASE, PROBLEM_JSON, ProblemDetails, ProblemType};
pub use receipt::{MAX_RECEIPT_LEN, Receipt, ReceiptError};
pub use timestamp::{DEFAULT_EXPIRY, Timestamp, TimestampError};
