//! Management requests, answered by the layer: a `HEAD`, or a `POST`
//! without a body, whose only payment content is a credential of a method
//! that has such requests (a session's voucher, top-up or close). The
//! clients of the session intent send them to the paid resource's own URL;
//! the route may not even accept `POST`, and its handler must not run (it
//! would deliver, and bill, service). The answer is `204 No Content` with
//! `Payment-Receipt`.
//!
//! A body-less `POST` is recognized by its headers: no `Transfer-Encoding`
//! and no `Content-Length` other than `0`. A route whose handler serves
//! body-less `POST`s paid with a session credential therefore never sees
//! them; such requests buy nothing but the channel update.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderValue, Method, Request, Response, StatusCode};

use super::context::PaymentContext;
use super::future::{PAYMENT_RECEIPT, Verified};
use crate::method::{PaymentRejection, Payments};
use crate::protocol::Credential;

/// The credential of a request that may be a management request: a `HEAD`
/// or body-less `POST` with a well-formed credential of an intent other
/// than `charge` (charges have no management requests).
pub(super) fn candidate<B>(request: &Request<B>, context: &PaymentContext) -> Option<Credential> {
    let credential = context.credential()?;
    if credential.challenge.intent == "charge" {
        return None;
    }
    let headers = request.headers();
    let body_less = !headers.contains_key(TRANSFER_ENCODING)
        && headers
            .get(CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() == b"0");
    let management =
        request.method() == Method::HEAD || (request.method() == Method::POST && body_less);
    management.then(|| credential.clone())
}

/// Answers a management request, or lets it through to the inner service
/// when its method has no management requests.
pub(super) async fn answer(
    payments: Payments,
    credential: Credential,
) -> Result<Verified, PaymentRejection> {
    let Some(receipt) = payments.manage(&credential).await? else {
        return Ok(Verified::Proceed);
    };
    let header = receipt.to_header_value().map_err(|e| {
        payments
            .misconfigured("the receipt cannot be encoded")
            .with_source(e)
    })?;
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(PAYMENT_RECEIPT, header);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(Verified::Answered(response))
}
