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
    pub(super) fn new<S, F>(
        items: S,
        units: F,
        meter: Arc<dyn Meter>,
        wait: Duration,
        reserve: u128,
    ) -> Self
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
            reserve: reserve.max(1),
            credit: 0,
        };
        // Boxed, so that each step moves a pointer, not the state.
        let events = futures_util::stream::unfold(Box::new(run), |mut run| async move {
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
    /// An item whose debit waits for the payer, and until when.
    held: Option<(S::Item, u128, Option<Instant>)>,
    /// The balance the last need event was sent for.
    announced: Option<Balance>,
    finished: bool,
    /// Units sent (and so paid) by this stream.
    debited: u128,
    /// Units debited at a time when the funds allow it.
    reserve: u128,
    /// Units debited ahead and not sent yet: given back at the end, or
    /// when the client goes away.
    credit: u128,
}

impl<S: Stream, F> Drop for Run<S, F> {
    fn drop(&mut self) {
        if self.credit == 0 {
            return;
        }
        // The client went away mid-stream: give back what was debited
        // ahead and never sent.
        let (meter, credit) = (self.meter.clone(), self.credit);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = meter.release(credit).await;
            });
        }
    }
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
                        (item, units, None)
                    }
                    None => return self.finish().await,
                },
            };
            let balance = match self.take(units).await {
                Ok(()) => {
                    self.debited = self.debited.saturating_add(units);
                    self.announced = None;
                    return Some(event("message", item.as_ref()));
                }
                Err(MeterError::Exhausted { need, balance }) => {
                    // The wait counts from the first shortfall of the item.
                    let deadline = deadline.unwrap_or_else(|| Instant::now() + self.wait);
                    if self.announced != Some(balance) {
                        // Once per shortfall: a spurious wake does not
                        // repeat it, a voucher that is still too low does.
                        self.announced = Some(balance);
                        self.held = Some((item, units, Some(deadline)));
                        let data = Value::Object(need).to_string();
                        return Some(event("payment-need-voucher", &data));
                    }
                    (balance, deadline)
                }
                Err(MeterError::Closed | MeterError::Unavailable(_)) => {
                    return self.finish().await;
                }
            };
            let (balance, deadline) = balance;
            let left = deadline.saturating_duration_since(Instant::now());
            match self.meter.wait(balance, left).await {
                Ok(Some(_)) => self.held = Some((item, units, Some(deadline))),
                // No voucher in time: the item is never sent nor paid.
                Ok(None) | Err(_) => return self.finish().await,
            }
        }
    }

    /// Pays `units` from the credit, debiting ahead by `reserve` units
    /// when the funds allow it and exactly what is missing otherwise.
    async fn take(&mut self, units: u128) -> Result<(), MeterError> {
        if let Some(left) = self.credit.checked_sub(units) {
            self.credit = left;
            return Ok(());
        }
        let missing = units - self.credit;
        if self.reserve > missing {
            match self.meter.debit(self.reserve).await {
                Ok(_) => {
                    self.credit = self.credit + self.reserve - units;
                    return Ok(());
                }
                Err(MeterError::Exhausted { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        self.meter.debit(missing).await?;
        self.credit = 0;
        Ok(())
    }

    /// The final receipt event, after the unused credit is given back.
    async fn finish(&mut self) -> Option<Bytes> {
        self.finished = true;
        if self.credit > 0 {
            let credit = std::mem::take(&mut self.credit);
            if self.meter.release(credit).await.is_err() {
                // Unknown: the receipt would misstate what was spent.
                return None;
            }
        }
        let mut receipt = self.meter.receipt().await.ok()?;
        receipt.extra.insert(
            "units".to_owned(),
            Value::from(u64::try_from(self.debited).unwrap_or(u64::MAX)),
        );
        let json = receipt.to_json().ok()?;
        Some(event("payment-receipt", &json))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http_body_util::BodyExt as _;

    use super::*;
    use crate::method::MeterFuture;
    use crate::protocol::{Receipt, Timestamp};

    /// Funds in memory: `paid` units authorized, `spent` debited.
    #[derive(Debug, Default)]
    struct Funds {
        state: Mutex<(u128, u128)>,
        debits: Mutex<Vec<u128>>,
    }

    impl Funds {
        fn paid(paid: u128) -> Arc<Self> {
            let funds = Self::default();
            funds.state.lock().unwrap().0 = paid;
            Arc::new(funds)
        }

        fn spent(&self) -> u128 {
            self.state.lock().unwrap().1
        }
    }

    impl Meter for Funds {
        fn debit(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>> {
            let mut state = self.state.lock().unwrap();
            self.debits.lock().unwrap().push(units);
            let result = if state.1 + units > state.0 {
                Err(MeterError::Exhausted {
                    need: serde_json::Map::new(),
                    balance: Balance::new(state.0, state.1, u128::MAX),
                })
            } else {
                state.1 += units;
                Ok(Balance::new(state.0, state.1, u128::MAX))
            };
            Box::pin(std::future::ready(result))
        }

        fn release(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>> {
            let mut state = self.state.lock().unwrap();
            state.1 -= units;
            Box::pin(std::future::ready(Ok(Balance::new(state.0, state.1, 0))))
        }

        fn wait(
            &self,
            _: Balance,
            _: Duration,
        ) -> MeterFuture<'_, Result<Option<Balance>, MeterError>> {
            Box::pin(std::future::ready(Ok(None)))
        }

        fn receipt(&self) -> MeterFuture<'_, Result<Receipt, MeterError>> {
            let receipt = Receipt::new("test", Timestamp::now(), self.spent().to_string());
            Box::pin(std::future::ready(Ok(receipt)))
        }
    }

    fn body(funds: &Arc<Funds>, items: usize, reserve: u128) -> MeteredBody {
        let words = futures_util::stream::iter((0..items).map(|i| format!("w{i}")));
        let meter: Arc<dyn Meter> = funds.clone();
        MeteredBody::new(words, |_| 1, meter, Duration::ZERO, reserve)
    }

    #[tokio::test]
    async fn debits_ahead_and_gives_back_what_was_not_sent_at_the_end() {
        let funds = Funds::paid(100);
        let text = body(&funds, 5, 16).collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&text).unwrap();
        assert_eq!(text.matches("event: message").count(), 5);
        // The receipt is written after the unused 11 units came back.
        assert!(text.ends_with("\n\n"), "{text}");
        assert!(text.contains("\"reference\":\"5\""), "{text}");
        assert_eq!(*funds.debits.lock().unwrap(), [16]);
        assert_eq!(funds.spent(), 5);
    }

    #[tokio::test]
    async fn near_the_limit_it_debits_exactly() {
        let funds = Funds::paid(3);
        let text = body(&funds, 5, 16).collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&text).unwrap();
        assert_eq!(text.matches("event: message").count(), 3);
        assert_eq!(text.matches("event: payment-need-voucher").count(), 1);
        assert_eq!(funds.spent(), 3);
    }

    #[tokio::test]
    async fn a_client_that_goes_away_gets_the_unsent_reservation_back() {
        let funds = Funds::paid(100);
        let mut body = body(&funds, 50, 16);
        for _ in 0..3 {
            body.frame().await.unwrap().unwrap();
        }
        assert_eq!(funds.spent(), 16, "one reservation");
        drop(body);
        for _ in 0..100 {
            if funds.spent() == 3 {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("spent {} after the drop, 3 sent", funds.spent());
    }

    #[tokio::test]
    async fn items_are_pulled_only_when_the_client_reads() {
        let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pulled.clone();
        let words = futures_util::stream::iter(0..1000).map(move |i| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            format!("w{i}")
        });
        let meter: Arc<dyn Meter> = Funds::paid(10_000);
        let mut body = MeteredBody::new(words, |_| 1, meter, Duration::ZERO, 16);
        body.frame().await.unwrap().unwrap();
        body.frame().await.unwrap().unwrap();
        assert_eq!(pulled.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
