//! Stateless challenge binding: the challenge id is an HMAC of the challenge.
//!
//! A server that signs its challenges needs no storage to recognise them
//! later: when a credential comes back, the echoed parameters are signed
//! again and compared with the echoed id. The signature covers seven
//! positional slots joined with `|`:
//!
//! ```text
//! realm | method | intent | request (base64url) | expires | digest | opaque (base64url)
//! ```
//!
//! with absent optional slots as empty strings, and is written as base64url
//! without padding. [`SecretRing`] holds the current key plus previous keys
//! for rotation; each key's HMAC state is computed once, when it is loaded.
//!
//! ```
//! use serde_json::json;
//! use tower_mpp::binding::{BindingInput, SecretKey, SecretRing};
//! use tower_mpp::protocol::{Base64Json, Challenge, Timestamp};
//!
//! let ring = SecretRing::new(SecretKey::new("a secret of at least thirty-two bytes!")?);
//! let request = Base64Json::from_value(json!({"amount": "1000"}))?;
//! let mut challenge = Challenge::new("", "api.example.com", "tempo", "charge", request)
//!     .with_expires(Timestamp::parse("2030-01-01T00:00:00Z")?);
//! challenge.id = ring.sign(&BindingInput::from_challenge(&challenge));
//! assert!(ring.verify(&challenge.id, &BindingInput::from_challenge(&challenge)));
//!
//! challenge.realm = "evil.example.com".into();
//! assert!(!ring.verify(&challenge.id, &BindingInput::from_challenge(&challenge)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod input;
mod secret;

pub use input::{BindingInput, challenge_id};
pub(crate) use secret::OfferSigner;
pub use secret::{MIN_SECRET_LEN, SecretError, SecretKey, SecretRing};
