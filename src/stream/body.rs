//! [`MeteredBody`]: the body of a metered stream, one SSE event per frame.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt as _;
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;
use tokio::time::Instant;

use super::events::event;
use crate::method::{Balance, Meter, MeterError};

type Events = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// The body of a [`MeteredSse`](super::MeteredSse) response: pulls an
/// item from the handler's stream only when the client reads, debits it,
/// and sends it as one event.
pub struct MeteredBody {
    events: Events,
}

impl MeteredBody {
    pub(super) fn new<S, F>(items: S, units: F, meter: Arc<dyn Meter>, wait: Duration) -> Self
    where
        S: Stream + Send + 'static,
        S::Item: AsRef<str> + Send + 'static,
        F: Fn(&S::Item) -> u128 + Send + 'static,
    {
        let run = Run {
            items: Box::pin(items),
            units,
            meter,
            wait,
            held: None,
            announced: None,
            finished: false,
            debited: 0,
        };
        let events = futures_util::stream::unfold(run, |mut run| async move {
            let event = run.next_event().await?;
            Some((event, run))
        });
        Self {
            events: Box::pin(events),
        }
    }
}

impl fmt::Debug for MeteredBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredBody").finish_non_exhaustive()
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events
            .as_mut()
            .poll_next(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The stream's state between two events.
struct Run<S: Stream, F> {
    items: Pin<Box<S>>,
    units: F,
    meter: Arc<dyn Meter>,
    wait: Duration,
    /// An item whose debit waits for the payer.
    held: Option<(S::Item, u128, Instant)>,
    /// The balance the last need event was sent for.
    announced: Option<Balance>,
    finished: bool,
    /// Units debited by this stream.
    debited: u128,
}

impl<S, F> Run<S, F>
where
    S: Stream,
    S::Item: AsRef<str>,
    F: Fn(&S::Item) -> u128,
{
    /// The next event, or `None` once the receipt was sent (or the stream
    /// could not go on).
    async fn next_event(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        loop {
            let (item, units, deadline) = match self.held.take() {
                Some(held) => held,
                None => match self.items.next().await {
                    Some(item) => {
                        let units = (self.units)(&item);
                        (item, units, Instant::now() + self.wait)
                    }
                    None => return self.finish().await,
                },
            };
            let balance = match self.meter.debit(units).await {
                Ok(_) => {
                    self.debited = self.debited.saturating_add(units);
                    self.announced = None;
                    return Some(event("message", item.as_ref()));
                }
                Err(MeterError::Exhausted { need, balance }) => {
                    if self.announced != Some(balance) {
                        // Once per shortfall: a spurious wake does not
                        // repeat it, a voucher that is still too low does.
                        self.announced = Some(balance);
                        self.held = Some((item, units, deadline));
                        let data = Value::Object(need).to_string();
                        return Some(event("payment-need-voucher", &data));
                    }
                    balance
                }
                Err(MeterError::Closed | MeterError::Unavailable(_)) => {
                    return self.finish().await;
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match self.meter.wait(balance, left).await {
                Ok(Some(_)) => self.held = Some((item, units, deadline)),
                // No voucher in time: the item is never sent nor paid.
                Ok(None) | Err(_) => return self.finish().await,
            }
        }
    }

    /// The final receipt event.
    async fn finish(&mut self) -> Option<Bytes> {
        self.finished = true;
        let mut receipt = self.meter.receipt().await.ok()?;
        receipt.extra.insert(
            "units".to_owned(),
            Value::from(u64::try_from(self.debited).unwrap_or(u64::MAX)),
        );
        let json = receipt.to_json().ok()?;
        Some(event("payment-receipt", &json))
    }
}
