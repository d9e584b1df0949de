//! Metered streams: a response delivered item by item (the tokens of an
//! LLM answer, the rows of a query), each item debited from the payer's
//! session before it is sent.
//!
//! A handler verifies the request's session credential with
//! [`Payment::meter`](crate::axum::Payment::meter) (or, outside axum, gets
//! a [`Meter`] from [`Payments::meter`](crate::method::Payments::meter))
//! and returns its items through [`Metered::sse`]: a Server-Sent Events
//! response whose events are the ones the session clients read:
//!
//! - `event: message` for each item, sent once its units are debited;
//! - `event: payment-need-voucher` when the payer's vouchers are used up,
//!   with `{channelId, requiredCumulative, acceptedCumulative, deposit}`;
//!   the stream then pauses, holding the item, until a higher voucher is
//!   accepted (a body-less `POST` to the same URL, at this instance or at
//!   any other sharing the store) or [`Metered::wait`] passes, and ends
//!   cleanly if none comes;
//! - `event: payment-receipt` last, with the receipt for what was debited.
//!
//! The response's `Payment-Receipt` header is the receipt of the request
//! itself (the voucher or open it carried). Items are pulled from the
//! handler's stream one at a time, only when the client reads: a slow
//! client slows the stream and nothing is buffered ahead. While the funds
//! allow it the stream debits [`Metered::reserve`] units at a time (one
//! store update per 16 items by default, instead of one per item) and gives
//! back what it did not send when it ends; a client that disconnects drops
//! the handler's stream, and the unsent reservation is given back too, so
//! it pays for what was sent and no more.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # mod example {
//! use axum::response::IntoResponse;
//! use futures_util::stream;
//! use tower_mpp::axum::Payment;
//! use tower_mpp::method::{PaymentRejection, Price};
//!
//! /// Five words, 25 base units each, billed as they are sent.
//! async fn answer(payment: Payment) -> Result<impl IntoResponse, PaymentRejection> {
//!     let metered = payment.meter(Price::base_units(25)).await?;
//!     let words = stream::iter(["Pay", "as", "you", "go", "."]);
//!     Ok(metered.sse(words))
//! }
//! # }
//! ```

mod body;
mod events;

pub use body::MeteredBody;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};

use crate::method::{DEFAULT_PAYMENT_WAIT, Meter};
use crate::protocol::Receipt;

/// A verified request whose response is debited as it is delivered: the
/// request's receipt and its [`Meter`].
#[derive(Debug, Clone)]
pub struct Metered {
    receipt: Receipt,
    meter: Arc<dyn Meter>,
    wait: Duration,
    reserve: u128,
}

/// Units a metered stream debits at a time by default (see
/// [`Metered::reserve`]).
pub const DEFAULT_RESERVE: u128 = 16;

impl Metered {
    /// A metered response debiting `meter`, for a request paid with
    /// `receipt`.
    pub fn new(receipt: Receipt, meter: Arc<dyn Meter>) -> Self {
        Self {
            receipt,
            meter,
            wait: DEFAULT_PAYMENT_WAIT,
            reserve: DEFAULT_RESERVE,
        }
    }

    /// How many units the stream debits at a time while the payer's funds
    /// cover them ([`DEFAULT_RESERVE`] by default; at least 1). Debiting
    /// ahead saves a store update per item; the units not sent are given
    /// back when the stream ends or the client goes away. If the server
    /// crashes mid-stream, up to this many units stay debited without being
    /// sent: 1 makes every debit exact, at one store update per item.
    #[must_use]
    pub fn reserve(mut self, units: u128) -> Self {
        self.reserve = units.max(1);
        self
    }

    /// How long a paused stream waits for the payer's next voucher before
    /// it ends ([`DEFAULT_PAYMENT_WAIT`] by default).
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The receipt of the request (what its `Payment-Receipt` header says).
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }

    /// The meter, to debit units by hand.
    pub fn meter(&self) -> &Arc<dyn Meter> {
        &self.meter
    }

    /// A Server-Sent Events response of `items`, one unit each.
    pub fn sse<S>(self, items: S) -> MeteredSse
    where
        S: Stream + Send + 'static,
        S::Item: AsRef<str> + Send + 'static,
    {
        self.sse_with(items, |_| 1)
    }

    /// A Server-Sent Events response of `items`, each costing the units
    /// `units` counts for it (the tokens in a chunk, say). An item of zero
    /// units is sent free.
    pub fn sse_with<S, F>(self, items: S, units: F) -> MeteredSse
    where
        S: Stream + Send + 'static,
        S::Item: AsRef<str> + Send + 'static,
        F: Fn(&S::Item) -> u128 + Send + 'static,
    {
        MeteredSse {
            body: MeteredBody::new(items, units, self.meter, self.wait, self.reserve),
        }
    }
}

/// A metered Server-Sent Events response (see the [module](self) docs).
/// With the `axum` feature it is an `IntoResponse`; elsewhere,
/// [`into_response`](Self::into_response) makes the `http` response.
pub struct MeteredSse {
    body: MeteredBody,
}

impl MeteredSse {
    /// The response: `200`, `text/event-stream`, not cached.
    pub fn into_response(self) -> Response<MeteredBody> {
        let mut response = Response::new(self.body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // Proxies that buffer would hold back the items and the need for a
        // voucher.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

impl fmt::Debug for MeteredSse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredSse").finish_non_exhaustive()
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for MeteredSse {
    fn into_response(self) -> axum_core::response::Response {
        MeteredSse::into_response(self).map(axum_core::body::Body::new)
    }
}
