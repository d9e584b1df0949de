//! `GET /floor`: the least work any server must do for a fresh 402, as a
//! yardstick between replaying bytes (`/same-size`) and the layer
//! (`/paid`).
//!
//! It answers the layer's 402 as a template: the header value and the body
//! captured once, with a fresh nonce, `opaque` and challenge id written
//! into them per request (the same lengths, so the same bytes on the
//! wire). It keeps the HMAC state after the fixed slots, as the registry
//! does, and formats no expiry (the registry formats one per second). It
//! builds no `Challenge`, checks no `Accept-Payment`, runs no hooks and
//! puts no rejection in the response: it is not a server, only a floor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tower_mpp::protocol::{Challenge, parse_challenges};

/// A captured 402 cut around its id and `opaque`, and the HMAC state
/// after realm, method, intent and request.
pub(crate) struct Floor {
    headers: HeaderMap,
    /// The header value before the id, between the id and `opaque`, after.
    header: [String; 3],
    /// The body before and after the id.
    body: [String; 2],
    mac: Hmac<Sha256>,
    expires: String,
    scope: String,
    counter: AtomicU64,
}

impl Floor {
    /// Cuts a 402 of the layer (`headers`, `body`) into a template.
    ///
    /// # Panics
    ///
    /// If the 402 does not hold exactly one challenge with an id, expiry
    /// and `opaque`: the load target is misconfigured.
    pub(crate) fn new(secret: &[u8], scope: &str, headers: HeaderMap, body: &[u8]) -> Arc<Self> {
        let value = headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        let challenge: Challenge = parse_challenges([value.as_str()]).unwrap().remove(0);
        let opaque = challenge.opaque.as_ref().unwrap().as_wire();
        let (before_id, rest) = value.split_once(&challenge.id).unwrap();
        let (between, after) = rest.split_once(opaque).unwrap();
        let body = std::str::from_utf8(body).unwrap();
        let (body_head, body_tail) = body.split_once(&challenge.id).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        let offer = [
            &challenge.realm,
            &challenge.method,
            &challenge.intent,
            challenge.request.as_wire(),
        ];
        for slot in offer {
            mac.update(slot.as_bytes());
            mac.update(b"|");
        }
        Arc::new(Self {
            headers,
            header: [before_id.into(), between.into(), after.into()],
            body: [body_head.into(), body_tail.into()],
            mac,
            expires: challenge.expires.unwrap().as_str().to_owned(),
            scope: scope.to_owned(),
            counter: AtomicU64::new(0),
        })
    }

    /// A fresh 402: nonce, `opaque`, id, header value and body.
    pub(crate) fn respond(&self) -> Response {
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 16];
        nonce[8..].copy_from_slice(&count.to_be_bytes());
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let opaque =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"nonce":"{nonce}","scope":"{}"}}"#, self.scope));
        let mut mac = self.mac.clone();
        for slot in [self.expires.as_bytes(), b"|", b"|", opaque.as_bytes()] {
            mac.update(slot);
        }
        let id = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let [before_id, between, after] = &self.header;
        let value = [before_id.as_str(), &id, between, &opaque, after].concat();
        let body = [self.body[0].as_str(), &id, &self.body[1]].concat();
        let mut headers = self.headers.clone();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).unwrap(),
        );
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
        *response.headers_mut() = headers;
        response
    }
}
