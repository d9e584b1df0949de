//! Server secrets and the rotation ring that signs and verifies challenge ids.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::input::{self, BindingInput};
use crate::protocol::base64url;

/// The shortest server secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The environment variable holding the current secret.
const ENV_SECRET: &str = "MPP_SECRET_KEY";
/// The environment variable holding the previous secret, during rotation.
const ENV_PREVIOUS: &str = "MPP_SECRET_KEY_PREVIOUS";

/// A server secret, ready to sign: its HMAC key schedule is computed once.
#[derive(Clone)]
pub struct SecretKey {
    mac: Hmac<Sha256>,
}

impl SecretKey {
    /// Loads a secret of at least [`MIN_SECRET_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError`] if the secret is shorter than [`MIN_SECRET_LEN`].
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { len: secret.len() });
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Ok(Self { mac })
    }

    fn tag(&self, input: &BindingInput<'_>) -> [u8; 32] {
        input.mac_with(self.mac.clone())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The current secret plus previous ones still accepted during rotation.
///
/// New challenges are signed with the current secret; a challenge id is
/// valid if any secret of the ring produced it.
#[derive(Clone)]
pub struct SecretRing {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl SecretRing {
    /// A ring holding one secret.
    pub fn new(current: SecretKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds a previous secret, still accepted when verifying.
    #[must_use]
    pub fn with_previous(mut self, previous: SecretKey) -> Self {
        self.previous.push(previous);
        self
    }

    /// Loads the ring from `MPP_SECRET_KEY` and, during a rotation, the
    /// previous secret from `MPP_SECRET_KEY_PREVIOUS`.
    ///
    /// # Errors
    ///
    /// [`SecretError`] if `MPP_SECRET_KEY` is unset or not Unicode, or if
    /// either secret is shorter than [`MIN_SECRET_LEN`].
    pub fn from_env() -> Result<Self, SecretError> {
        let read = |name: &'static str| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::NotUnicode { var: name }),
        };
        let current = read(ENV_SECRET)?.ok_or(SecretError::Missing { var: ENV_SECRET })?;
        let mut ring = Self::new(SecretKey::new(current)?);
        if let Some(previous) = read(ENV_PREVIOUS)?.filter(|p| !p.is_empty()) {
            ring = ring.with_previous(SecretKey::new(previous)?);
        }
        Ok(ring)
    }

    /// The challenge id for `input`, signed with the current secret.
    pub fn sign(&self, input: &BindingInput<'_>) -> String {
        base64url::encode(self.current.tag(input))
    }

    /// The signer of the challenges of one offer, with the current secret.
    pub(crate) fn offer_signer(
        &self,
        realm: &str,
        method: &str,
        intent: &str,
        request: &str,
    ) -> OfferSigner {
        let mut mac = self.current.mac.clone();
        input::absorb_offer(&mut mac, realm, method, intent, request);
        OfferSigner { mac }
    }

    /// Whether `id` was produced for `input` by any secret of the ring.
    ///
    /// Compares in constant time; a malformed id is simply not valid.
    pub fn verify(&self, id: &str, input: &BindingInput<'_>) -> bool {
        if id.len() != 43 {
            return false;
        }
        // One spare byte: the decoder wants room for its length estimate.
        let mut decoded = [0u8; 33];
        if base64url::decode_into(id, &mut decoded) != Ok(32) {
            return false;
        }
        let presented = &decoded[..32];
        std::iter::once(&self.current)
            .chain(&self.previous)
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.tag(input).ct_eq(presented)
            })
            .into()
    }
}

/// The current secret's signing state after the slots one offer fixes
/// (realm, method, intent, request): signing a challenge for the offer
/// then hashes only its expiry, digest and `opaque`, and gives the id
/// [`SecretRing::sign`] gives for the whole challenge.
#[derive(Clone)]
pub(crate) struct OfferSigner {
    mac: Hmac<Sha256>,
}

impl OfferSigner {
    /// The challenge id of the offer with these last three slots.
    pub(crate) fn sign(
        &self,
        expires: Option<&str>,
        digest: Option<&str>,
        opaque: Option<&str>,
    ) -> String {
        base64url::encode(input::finish(
            self.mac.clone(),
            expires,
            digest,
            None,
            opaque,
        ))
    }
}

impl fmt::Debug for OfferSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OfferSigner(<redacted>)")
    }
}

impl fmt::Debug for SecretRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRing")
            .field("current", &self.current)
            .field("previous", &self.previous.len())
            .finish()
    }
}

/// A server secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is shorter than [`MIN_SECRET_LEN`] bytes.
    TooShort {
        /// The length given.
        len: usize,
    },
    /// The environment variable is not set.
    Missing {
        /// The variable's name.
        var: &'static str,
    },
    /// The environment variable is not valid Unicode.
    NotUnicode {
        /// The variable's name.
        var: &'static str,
    },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "the challenge-binding secret has {len} bytes; at least {MIN_SECRET_LEN} are required (e.g. `openssl rand -hex 32`)"
            ),
            Self::Missing { var } => write!(
                f,
                "{var} is not set; set it to a random secret of at least {MIN_SECRET_LEN} bytes"
            ),
            Self::NotUnicode { var } => write!(f, "{var} is not valid Unicode"),
        }
    }
}

impl std::error::Error for SecretError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::challenge_id;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    fn input(realm: &str) -> BindingInput<'_> {
        BindingInput {
            realm,
            method: "tempo",
            intent: "charge",
            request: "e30",
            expires: Some("2030-01-01T00:00:00Z"),
            digest: None,
            header: None,
            opaque: None,
        }
    }

    #[test]
    fn refuses_short_secrets() {
        assert_eq!(
            SecretKey::new("short").unwrap_err(),
            SecretError::TooShort { len: 5 }
        );
        assert!(SecretKey::new(&A[..31]).is_err());
        assert!(SecretKey::new(A).is_ok());
    }

    #[test]
    fn signs_like_the_bare_function_and_verifies() {
        let ring = SecretRing::new(SecretKey::new(A).unwrap());
        let id = ring.sign(&input("r"));
        assert_eq!(id, challenge_id(A.as_bytes(), &input("r")));
        assert!(ring.verify(&id, &input("r")));
        assert!(!ring.verify(&id, &input("other")));
        assert!(!ring.verify("", &input("r")));
        assert!(!ring.verify(&format!("{id}A"), &input("r")));
        assert!(!ring.verify(
            &id.replace(|c: char| c.is_ascii_alphabetic(), "!"),
            &input("r")
        ));
        let mut tampered = id.into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        assert!(!ring.verify(std::str::from_utf8(&tampered).unwrap(), &input("r")));
    }

    #[test]
    fn an_offer_signer_signs_as_the_ring_does() {
        let ring = SecretRing::new(SecretKey::new(A).unwrap());
        for (expires, digest, opaque) in [
            (None, None, None),
            (Some("2030-01-01T00:00:00Z"), None, Some("e30")),
            (Some("x"), Some("sha-256=:abc=:"), Some("eyJhIjoiYiJ9")),
        ] {
            let input = BindingInput {
                realm: "api.example.com",
                method: "tempo",
                intent: "charge",
                request: "eyJhbW91bnQiOiIxMDAwIn0",
                expires,
                digest,
                header: None,
                opaque,
            };
            let signer = ring.offer_signer(input.realm, input.method, input.intent, input.request);
            assert_eq!(signer.sign(expires, digest, opaque), ring.sign(&input));
        }
        let debug = format!("{:?}", ring.offer_signer("r", "m", "i", "e30"));
        assert!(!debug.contains("0123"), "{debug}");
    }

    #[test]
    fn rotation_accepts_previous_keys_and_signs_with_the_current() {
        let old = SecretRing::new(SecretKey::new(A).unwrap());
        let old_id = old.sign(&input("r"));
        let rotated =
            SecretRing::new(SecretKey::new(B).unwrap()).with_previous(SecretKey::new(A).unwrap());
        assert!(rotated.verify(&old_id, &input("r")));
        assert_ne!(rotated.sign(&input("r")), old_id);
        let fresh = SecretRing::new(SecretKey::new(B).unwrap());
        assert!(!fresh.verify(&old_id, &input("r")));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let ring =
            SecretRing::new(SecretKey::new(A).unwrap()).with_previous(SecretKey::new(B).unwrap());
        let debug = format!("{ring:?}");
        assert!(
            !debug.contains("0123") && !debug.contains("fedc"),
            "{debug}"
        );
    }
}
