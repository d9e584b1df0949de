//! `Content-Digest` (RFC 9530) for binding a payment to a request body.
//!
//! A challenge's `digest` parameter names the body the payment is for. This
//! crate produces the RFC form `sha-256=:<base64>:` and verifies `sha-256`
//! and `sha-512`, in the RFC form and in the form without colons that
//! deployed SDKs emit (`sha-256=<base64>`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256, Sha512};

/// The `Content-Digest` value of `body`: `sha-256=:<base64>:`.
///
/// ```
/// assert_eq!(
///     tower_mpp::protocol::content_digest(b""),
///     "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
/// );
/// ```
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// Checks that `digest` (a `Content-Digest` value) matches `body`.
///
/// Every `sha-256` and `sha-512` member must match; other algorithms are
/// ignored, but at least one supported member must be present.
///
/// # Errors
///
/// [`DigestError`] when the value is malformed, names no supported
/// algorithm, or does not match.
pub fn verify_content_digest(digest: &str, body: &[u8]) -> Result<(), DigestError> {
    let mut checked = false;
    for member in digest.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (algorithm, value) = member.split_once('=').ok_or(DigestError::Malformed)?;
        let value = value
            .strip_prefix(':')
            .map_or(Some(value), |v| v.strip_suffix(':'));
        let value = value.ok_or(DigestError::Malformed)?;
        let expected = STANDARD.decode(value).map_err(|_| DigestError::Malformed)?;
        let actual = match algorithm
            .trim_end_matches([' ', '\t'])
            .to_ascii_lowercase()
            .as_str()
        {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => continue,
        };
        if actual != expected {
            return Err(DigestError::Mismatch);
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(DigestError::UnsupportedAlgorithm)
    }
}

/// A `Content-Digest` that does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// The value does not follow the `algorithm=:base64:` form.
    Malformed,
    /// No `sha-256` or `sha-512` member.
    UnsupportedAlgorithm,
    /// The body's digest differs.
    Mismatch,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed Content-Digest value",
            Self::UnsupportedAlgorithm => {
                "Content-Digest names no supported algorithm (sha-256, sha-512)"
            }
            Self::Mismatch => "request body does not match the digest",
        })
    }
}

impl std::error::Error for DigestError {}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"amount":"1000000"}"#;

    #[test]
    fn computes_the_rfc_form() {
        assert_eq!(
            content_digest(BODY),
            "sha-256=:6nVZg3NAxgHRSSzvCW0zPSzlf+X6FebH+hEuMCLjRK4=:"
        );
    }

    #[test]
    fn verifies_both_forms_and_sha512() {
        verify_content_digest(&content_digest(BODY), BODY).unwrap();
        verify_content_digest("sha-256=6nVZg3NAxgHRSSzvCW0zPSzlf+X6FebH+hEuMCLjRK4=", BODY)
            .unwrap();
        let sha512 = format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(BODY)));
        verify_content_digest(&sha512, BODY).unwrap();
        verify_content_digest(&format!("md5=:AAAA:, {sha512}"), BODY).unwrap();
        verify_content_digest(&format!("{}, {sha512}", content_digest(BODY)), BODY).unwrap();
    }

    #[test]
    fn refuses_mismatch_and_garbage() {
        let d = content_digest(BODY);
        assert_eq!(verify_content_digest(&d, b"{}"), Err(DigestError::Mismatch));
        let sha512 = format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(b"x")));
        assert_eq!(
            verify_content_digest(&format!("{d}, {sha512}"), BODY),
            Err(DigestError::Mismatch)
        );
        assert_eq!(
            verify_content_digest("md5=:AAAA:", BODY),
            Err(DigestError::UnsupportedAlgorithm)
        );
        assert_eq!(
            verify_content_digest("", BODY),
            Err(DigestError::UnsupportedAlgorithm)
        );
        for bad in ["sha-256", "sha-256=:!!:", "sha-256=:abc", "sha-256=abc:"] {
            assert_eq!(
                verify_content_digest(bad, BODY),
                Err(DigestError::Malformed),
                "{bad}"
            );
        }
    }
}
