//! The slots a challenge id signs, and the bare HMAC function.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::protocol::base64url;
use crate::protocol::{Base64Json, Challenge, Timestamp};

/// The values a challenge id binds, in wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingInput<'a> {
    /// Slot 0: `realm`.
    pub realm: &'a str,
    /// Slot 1: `method`.
    pub method: &'a str,
    /// Slot 2: `intent`.
    pub intent: &'a str,
    /// Slot 3: `request`, base64url of its JCS JSON.
    pub request: &'a str,
    /// Slot 4: `expires`, as written.
    pub expires: Option<&'a str>,
    /// Slot 5: `digest`, as written.
    pub digest: Option<&'a str>,
    /// The `header` a challenge names for its credential, bound before
    /// `opaque` (as `header|`) only when it is not the default
    /// `Authorization`: a challenge without one signs as before.
    pub header: Option<&'a str>,
    /// Slot 6: `opaque`, base64url of its JCS JSON.
    pub opaque: Option<&'a str>,
}

impl<'a> BindingInput<'a> {
    /// The slots of a challenge (its `id` and `description` are not bound).
    pub fn from_challenge(challenge: &'a Challenge) -> Self {
        Self {
            realm: &challenge.realm,
            method: &challenge.method,
            intent: &challenge.intent,
            request: challenge.request.as_wire(),
            expires: challenge.expires.as_ref().map(Timestamp::as_str),
            digest: challenge.digest.as_deref(),
            header: challenge.header.as_deref(),
            opaque: challenge.opaque.as_ref().map(Base64Json::as_wire),
        }
    }

    pub(crate) fn mac_with(&self, mut mac: Hmac<Sha256>) -> [u8; 32] {
        absorb_offer(&mut mac, self.realm, self.method, self.intent, self.request);
        finish(mac, self.expires, self.digest, self.header, self.opaque)
    }
}

/// Slots 0 to 3, each followed by `|`: what one offer of one price signs
/// in every challenge, hashed once by [`OfferSigner`](super::OfferSigner).
pub(crate) fn absorb_offer(
    mac: &mut Hmac<Sha256>,
    realm: &str,
    method: &str,
    intent: &str,
    request: &str,
) {
    for slot in [realm, method, intent, request] {
        mac.update(slot.as_bytes());
        mac.update(b"|");
    }
}

/// Slots 4 to 6 after [`absorb_offer`] (with a non-default `header` before
/// `opaque`), and the tag.
pub(crate) fn finish(
    mut mac: Hmac<Sha256>,
    expires: Option<&str>,
    digest: Option<&str>,
    header: Option<&str>,
    opaque: Option<&str>,
) -> [u8; 32] {
    mac.update(expires.unwrap_or_default().as_bytes());
    mac.update(b"|");
    mac.update(digest.unwrap_or_default().as_bytes());
    mac.update(b"|");
    if let Some(header) = header.filter(|h| !h.eq_ignore_ascii_case("authorization")) {
        mac.update(header.as_bytes());
        mac.update(b"|");
    }
    mac.update(opaque.unwrap_or_default().as_bytes());
    mac.finalize().into_bytes().into()
}

/// The challenge id for `input` under `key`: base64url(HMAC-SHA256).
///
/// This bare function takes a key of any length, for the published test
/// vectors; servers use [`SecretRing`](super::SecretRing), which refuses
/// short secrets.
///
/// ```
/// use tower_mpp::binding::{BindingInput, challenge_id};
/// let input = BindingInput {
///     realm: "api.example.com",
///     method: "tempo",
///     intent: "charge",
///     request: "eyJhbW91bnQiOiIxMDAwMDAwIn0",
///     expires: None,
///     digest: None,
///     header: None,
///     opaque: None,
/// };
/// assert_eq!(challenge_id(b"test-vector-secret", &input), "X6v1eo7fJ76gAxqY0xN9Jd__4lUyDDYmriryOM-5FO4");
/// ```
pub fn challenge_id(key: &[u8], input: &BindingInput<'_>) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    base64url::encode(input.mac_with(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test-vector-secret";

    fn vector(expires: Option<&str>, opaque: Option<&str>) -> String {
        let input = BindingInput {
            realm: "api.example.com",
            method: "tempo",
            intent: "charge",
            request: "eyJhbW91bnQiOiIxMDAwMDAwIn0",
            expires,
            digest: None,
            header: None,
            opaque,
        };
        challenge_id(KEY, &input)
    }

    #[test]
    fn published_vectors() {
        assert_eq!(
            vector(None, None),
            "X6v1eo7fJ76gAxqY0xN9Jd__4lUyDDYmriryOM-5FO4"
        );
        assert_eq!(
            vector(Some("2025-01-06T12:00:00Z"), None),
            "ChPX33RkKSZoSUyZcu8ai4hhkvjZJFkZVnvWs5s0iXI"
        );
        let opaque = Base64Json::from_value(serde_json::json!({"pi": "pi_3abc123XYZ"})).unwrap();
        assert_eq!(
            vector(None, Some(opaque.as_wire())),
            "rxzKZ2qjXvinqCH96RORTZEPs1KXsA-0AUjrCAPFOWc"
        );
    }

    #[test]
    fn conformance_harness_vectors() {
        let mut input = BindingInput {
            realm: "api.example.com",
            method: "tempo",
            intent: "charge",
            request: "eyJhbW91bnQiOiIxMDAwMDAwIn0",
            expires: None,
            digest: Some("sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE"),
            header: None,
            opaque: None,
        };
        assert_eq!(
            challenge_id(KEY, &input),
            "JHB7EFsPVb-xsYCo8LHcOzeX1gfXWVoUSzQsZhKAfKM"
        );
        input.digest = None;
        input.opaque = Some("trace-123");
        assert_eq!(
            challenge_id(KEY, &input),
            "Eygx23gBLxdo3J9NvD8HVzhbozPso8ICyOQNOXHADd0"
        );
        input.opaque = None;
        input.request = "e30";
        assert_eq!(
            challenge_id(KEY, &input),
            "yLN7yChAejW9WNmb54HpJIWpdb1WWXeA3_aCx4dxmkU"
        );
    }

    #[test]
    fn empty_slots_are_positional() {
        let base = BindingInput {
            realm: "r",
            method: "m",
            intent: "i",
            request: "e30",
            expires: None,
            digest: None,
            header: None,
            opaque: None,
        };
        let a = BindingInput {
            expires: Some("x"),
            ..base
        };
        let b = BindingInput {
            digest: Some("x"),
            ..base
        };
        let c = BindingInput {
            header: None,
            opaque: Some("x"),
            ..base
        };
        let ids = [&base, &a, &b, &c].map(|i| challenge_id(KEY, i));
        for (i, x) in ids.iter().enumerate() {
            for y in &ids[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
