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
//! - `event: payment-need-voucher` with `{channelId, requiredCumulative,
//!   acceptedCumulative, deposit}`, once per level of the payer's funds;
//!   when the funds run out the stream pauses, holding the item, until a
//!   higher voucher is accepted (a body-less `POST` to the same URL, at
//!   this instance or at any other sharing the store) or [`Metered::wait`]
//!   passes, and ends cleanly if none comes;
//! - `: keep-alive` comments every [`Metered::keep_alive`] while paused,
//!   so that proxies do not drop the idle connection;
//! - `event: payment-receipt` last, with the receipt for what was debited.
//!
//! The response's `Payment-Receipt` header is the receipt of the request
//! itself (the voucher or open it carried).
//!
//! **Nothing unpaid is produced.** Items are pulled from the handler's
//! stream one at a time, only when the client reads, and the first only
//! after the funds were debited for it: a stream on empty funds asks for a
//! voucher and waits without pulling anything (an LLM does no prefill for
//! it, provided the handler starts the model's work inside the stream, at
//! its first poll, not before returning it). While the funds allow it the
//! stream debits [`Metered::reserve`] units at a time (one store update per
//! 16 items by default) and gives back what it did not send when it ends,
//! when it pauses (so that while it waits the store's `spent` is exactly
//! what was sent) and when the client goes away.
//!
//! **Few streams wait.** At most [`Metered::max_waiting`] streams (4 by
//! default) wait at once for the same payer's funds (the receipt's
//! reference: a session's channel) in this process; a stream beyond them
//! sends its need and its receipt and ends at once, as the session spec
//! allows ("the server MAY close the response"), holding no connection.
//!
//! **Streams that do not stall.** A need asks ahead: for
//! [`Metered::ask_ahead`] items or [`Metered::ask_ahead_time`]'s worth at
//! the stream's pace, whichever is more (64 items or 2 s by default), never
//! beyond the deposit unless one item needs it. And the stream sends its
//! need before it runs dry, when what is left is under
//! [`Metered::low_water`] items or [`Metered::low_water_time`]'s worth (16
//! or 500 ms by default), and goes on while the voucher travels: a client
//! 100 ms away that answers each need with one voucher does not pause a
//! stream of 100 items a second. A need sent early is not a pause: delivery
//! goes on only within what the accepted vouchers cover, and the stream
//! pauses when they are used up (the session draft says a server pauses
//! after a need; a need sent early announces the pause to come).
//! `low_water(0)` with `low_water_time(Duration::ZERO)` sends needs only
//! when the funds are used up.
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
mod pace;
mod run;
#[cfg(test)]
mod tests;
mod waiting;

pub use body::MeteredBody;
pub use pace::{
    DEFAULT_ASK_AHEAD, DEFAULT_ASK_AHEAD_TIME, DEFAULT_KEEP_ALIVE, DEFAULT_LOW_WATER,
    DEFAULT_LOW_WATER_TIME, DEFAULT_MAX_WAITING, DEFAULT_RESERVE,
};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};

use crate::method::Meter;
use crate::protocol::Receipt;
use pace::Config;

/// A verified request whose response is debited as it is delivered: the
/// request's receipt and its [`Meter`].
#[derive(Debug, Clone)]
pub struct Metered {
    receipt: Receipt,
    meter: Arc<dyn Meter>,
    config: Config,
}

impl Metered {
    /// A metered response debiting `meter`, for a request paid with
    /// `receipt`.
    pub fn new(receipt: Receipt, meter: Arc<dyn Meter>) -> Self {
        Self {
            receipt,
            meter,
            config: Config::default(),
        }
    }

    /// How many units the stream debits at a time while the payer's funds
    /// cover them ([`DEFAULT_RESERVE`] by default; at least 1). Debiting
    /// ahead saves a store update per item; the units not sent are given
    /// back when the stream ends, pauses, or the client goes away. If the
    /// server crashes mid-stream, up to this many units stay debited
    /// without being sent: 1 makes every debit exact, at one store update
    /// per item. What is debited ahead is held, not consumed (see
    /// [`Meter::debit_holding`]): a settlement never captures it, and a
    /// payer may close at what it received while the stream runs; the
    /// stream may then still send what it had debited ahead (at most this
    /// many units) before it sees the channel closed.
    #[must_use]
    pub fn reserve(mut self, units: u128) -> Self {
        self.config.reserve = units.max(1);
        self
    }

    /// How long a paused stream waits for the payer's next voucher before
    /// it ends ([`DEFAULT_PAYMENT_WAIT`](crate::method::DEFAULT_PAYMENT_WAIT)
    /// by default).
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.config.wait = wait;
        self
    }

    /// How many items a need for a voucher asks for at least
    /// ([`DEFAULT_ASK_AHEAD`] by default; 1 asks for the next item only,
    /// one voucher per item). Never beyond the payer's deposit, unless a
    /// single item needs more.
    #[must_use]
    pub fn ask_ahead(mut self, items: u128) -> Self {
        self.config.ahead = items;
        self
    }

    /// The time's worth of items a need asks for, at the pace the stream
    /// has run so far, when that is more than [`ask_ahead`](Self::ask_ahead)
    /// ([`DEFAULT_ASK_AHEAD_TIME`] by default; zero to count items only).
    #[must_use]
    pub fn ask_ahead_time(mut self, time: Duration) -> Self {
        self.config.ahead_time = time;
        self
    }

    /// The stream sends its need before it runs dry, when the payer's
    /// funds cover fewer than `items` more ([`DEFAULT_LOW_WATER`] by
    /// default), and goes on while the voucher comes. Keep it below
    /// [`ask_ahead`](Self::ask_ahead).
    #[must_use]
    pub fn low_water(mut self, items: u128) -> Self {
        self.config.low_water = items;
        self
    }

    /// As [`low_water`](Self::low_water), in a time's worth of items at the
    /// stream's pace ([`DEFAULT_LOW_WATER_TIME`] by default): at least a
    /// client's round trip, so its voucher arrives before the funds run
    /// out. With both zero a need is sent only when the funds are used up.
    #[must_use]
    pub fn low_water_time(mut self, time: Duration) -> Self {
        self.config.low_water_time = time;
        self
    }

    /// How often a paused stream sends a `: keep-alive` SSE comment, so
    /// that proxies and browsers keep the connection
    /// ([`DEFAULT_KEEP_ALIVE`] by default).
    #[must_use]
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.config.keep_alive = every;
        self
    }

    /// How many streams may wait at once for the same payer's funds in
    /// this process ([`DEFAULT_MAX_WAITING`] by default); a stream beyond
    /// them sends its need and its receipt and ends at once.
    #[must_use]
    pub fn max_waiting(mut self, streams: usize) -> Self {
        self.config.max_waiting = streams;
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
        // Streams on the same funds (a session's channel) wait together.
        let funds = format!("{} {}", self.receipt.method, self.receipt.reference);
        MeteredSse {
            body: MeteredBody::new(items, units, self.meter, self.config, funds),
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
