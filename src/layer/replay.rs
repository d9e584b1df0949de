//! The parts of [`IdempotencyLayer`](super::IdempotencyLayer): the key of
//! a request, which responses are kept, the responses it answers itself,
//! and the mark of a request in flight.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use sha2::{Digest as _, Sha256};

use super::PAYMENT_RECEIPT;
use super::context::{PaidResponse, ParsedCredential};
use super::idempotency::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use crate::method::Payments;
use crate::protocol::{Credential, PROBLEM_JSON, ProblemDetails};
use crate::store::{CachedResponse, ResponseCache};

/// The longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

/// The key of a paid request that names itself for retries: `None`
/// without a `Payment` credential or an `Idempotency-Key`.
/// The credential read here is left in the request's extensions for the
/// payment layer.
pub(super) fn replay_key<B>(
    request: &mut Request<B>,
    payments: &Payments,
) -> Result<Option<String>, &'static str> {
    let mut keys = request.headers().get_all(IDEMPOTENCY_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return if request.headers().contains_key(IDEMPOTENCY_KEY) {
            Err("a request carries one Idempotency-Key at most")
        } else {
            Ok(None)
        };
    };
    let Some(header) = request
        .headers()
        .get(AUTHORIZATION)
        .filter(|value| {
            value
                .as_bytes()
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"payment "))
        })
        .cloned()
    else {
        return Ok(None);
    };
    // A credential this server did not issue is the payment layer's to
    // refuse: it never touches the cache.
    let Some(credential) = header
        .to_str()
        .ok()
        .and_then(|text| Credential::parse(text).ok())
        .filter(|credential| payments.issued(&credential.challenge))
    else {
        return Ok(None);
    };
    let key = key.as_bytes();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err("an Idempotency-Key is 1 to 255 visible ASCII characters");
    }
    let mut hash = Sha256::new();
    for part in [
        request.method().as_str().as_bytes(),
        request.uri().to_string().as_bytes(),
        header.as_bytes(),
        key,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    request
        .extensions_mut()
        .insert(ParsedCredential { header, credential });
    Ok(Some(crate::protocol::base64url::encode(hash.finalize())))
}

/// Whether a response is kept: a `2xx` the payment layer marked paid for
/// ([`PaidResponse`]: a real debit, not a free payment or a management
/// request's `204`), not a stream, with a body of known size within
/// `max_body`.
pub(super) fn keepable<B: Body>(response: &Response<B>, max_body: usize) -> bool {
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    response.status().is_success()
        && response.headers().contains_key(PAYMENT_RECEIPT)
        && response.extensions().get::<PaidResponse>().is_some()
        && !streamed
        && response
            .body()
            .size_hint()
            .upper()
            .is_some_and(|n| n <= max_body as u64)
}

pub(super) fn replay<ResBody: From<Bytes>>(kept: CachedResponse) -> Response<ResBody> {
    let mut response = Response::new(ResBody::from(kept.body));
    *response.status_mut() = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in kept.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

pub(super) fn problem<ResBody: From<Bytes>>(status: StatusCode, detail: &str) -> Response<ResBody> {
    let body = ProblemDetails::custom(
        "about:blank",
        status.canonical_reason().unwrap_or("Error"),
        status,
    )
    .with_detail(detail)
    .to_json();
    let mut response = Response::new(ResBody::from(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

pub(super) fn unavailable<ResBody: From<Bytes>>() -> Response<ResBody> {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "the response cache is unavailable",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A key marked in flight: freed when its request ends without a response
/// kept, also when the request is dropped (the client went away).
pub(super) struct Pending {
    pub(super) cache: Option<Arc<dyn ResponseCache>>,
    pub(super) key: String,
}

impl Pending {
    pub(super) async fn abandon(&mut self) {
        if let Some(cache) = self.cache.take() {
            // A failure leaves the mark to expire after the pending time.
            let _ = cache.abandon(&self.key).await;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(cache) = self.cache.take() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = cache.abandon(&key).await;
            });
        }
    }
}
