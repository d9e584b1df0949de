//! [`Run`]: a metered stream's state between two events, and the step
//! that makes the next one.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt as _;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::events::{KEEP_ALIVE, event};
use super::pace::{Config, Pace};
use super::waiting::{self, WaitSlot};
use crate::method::{Balance, Meter, MeterError};

/// The stream's state between two events.
pub(super) struct Run<S: Stream, F> {
    pub(super) items: Pin<Box<S>>,
    pub(super) units: F,
    pub(super) meter: Arc<dyn Meter>,
    pub(super) config: Config,
    /// Whose funds (the receipt's method and reference): streams waiting
    /// for the same funds are counted together.
    pub(super) funds: String,
    /// An item pulled whose debit waits for the payer.
    pub(super) held: Option<(S::Item, u128)>,
    /// Whether the first item was paid ahead: none is pulled before.
    pub(super) reserved: bool,
    /// The end of the current pause's wait, from its first shortfall.
    pub(super) deadline: Option<Instant>,
    /// The funds (paid, limit) the last need was sent for: one need each.
    pub(super) announced: Option<(u128, u128)>,
    /// An event to send before the next item (a need sent ahead).
    pub(super) queued: Option<Bytes>,
    /// This stream's place among those waiting for the funds.
    pub(super) slot: Option<WaitSlot>,
    /// Past the bound of waiting streams: the receipt comes next.
    pub(super) ending: bool,
    pub(super) finished: bool,
    /// Units sent (and so paid) by this stream.
    pub(super) debited: u128,
    /// Units debited ahead and not sent yet: given back at the end, when
    /// the stream pauses, or when the client goes away.
    pub(super) credit: u128,
    /// Units this stream last told the meter it holds ahead of delivery
    /// (see [`Meter::debit_holding`]): at least `credit`, so a settlement
    /// or a close never counts what was not sent.
    pub(super) reported: u128,
    pub(super) pace: Pace,
}

/// What a shortfall leads to.
enum Shortfall {
    /// Send this (a need, a keep-alive) and come back.
    Send(Bytes),
    /// The funds changed: try again.
    Retry,
    /// Nothing came in time (or the funds cannot be read): the receipt.
    End,
}

impl<S: Stream, F> Drop for Run<S, F> {
    fn drop(&mut self) {
        if self.credit == 0 && self.reported == 0 {
            return;
        }
        // The client went away mid-stream: give back what was debited
        // ahead and never sent, and end the hold.
        let (meter, credit, held) = (self.meter.clone(), self.credit, self.reported);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = meter.release_held(credit, held).await;
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
    pub(super) async fn next_event(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        if let Some(queued) = self.queued.take() {
            return Some(queued);
        }
        if self.ending {
            return self.finish().await;
        }
        loop {
            let (item, units) = match self.held.take() {
                Some((item, units)) => (Some(item), units),
                // Nothing is pulled before the funds pay for something.
                None if !self.reserved => (None, 1),
                None => match self.items.next().await {
                    Some(item) => {
                        let units = (self.units)(&item);
                        (Some(item), units)
                    }
                    None => return self.finish().await,
                },
            };
            let paid = match item {
                None => self.reserve_first().await,
                Some(_) => self.take(units).await,
            };
            match paid {
                Ok(balance) => {
                    self.resume();
                    if let Some(balance) = balance {
                        self.need_early(&balance, units);
                    }
                    let Some(item) = item else {
                        self.reserved = true;
                        continue;
                    };
                    self.debited = self.debited.saturating_add(units);
                    self.pace.sent(units);
                    return Some(event("message", item.as_ref()));
                }
                Err(MeterError::Exhausted { need, balance }) => {
                    self.held = item.map(|item| (item, units));
                    match self.shortfall(units, need, balance).await {
                        Shortfall::Send(bytes) => return Some(bytes),
                        Shortfall::Retry => {}
                        Shortfall::End => return self.finish().await,
                    }
                }
                Err(MeterError::Closed | MeterError::Unavailable(_)) => {
                    return self.finish().await;
                }
            }
        }
    }

    /// Debits ahead before the first item is pulled: `reserve` units, or
    /// one when the funds cover no more.
    async fn reserve_first(&mut self) -> Result<Option<Balance>, MeterError> {
        let reserve = self.config.reserve;
        match self.hold(reserve, reserve).await {
            Ok(balance) => Ok(Some(balance)),
            Err(MeterError::Exhausted { .. }) if reserve > 1 => self.hold(1, 1).await.map(Some),
            Err(error) => Err(error),
        }
    }

    /// Debits `units`, of which `credit` are not delivered yet: the credit
    /// this stream then holds, told to the meter in the same debit (what
    /// it held before is delivered by now).
    async fn hold(&mut self, units: u128, credit: u128) -> Result<Balance, MeterError> {
        let balance = self
            .meter
            .debit_holding(units, self.reported, credit)
            .await?;
        (self.credit, self.reported) = (credit, credit);
        Ok(balance)
    }

    /// Gives back the credit and ends the hold.
    async fn release(&mut self) -> Result<Option<Balance>, MeterError> {
        if self.credit == 0 && self.reported == 0 {
            return Ok(None);
        }
        let credit = std::mem::take(&mut self.credit);
        let held = std::mem::take(&mut self.reported);
        self.meter.release_held(credit, held).await.map(Some)
    }

    /// Pays `units` from the credit, debiting ahead by `reserve` units
    /// when the funds allow it and exactly what is missing otherwise; the
    /// balance when the store was asked.
    async fn take(&mut self, units: u128) -> Result<Option<Balance>, MeterError> {
        if let Some(left) = self.credit.checked_sub(units) {
            self.credit = left;
            return Ok(None);
        }
        let missing = units - self.credit;
        let reserve = self.config.reserve;
        if reserve > missing {
            match self.hold(reserve, reserve - missing).await {
                Ok(balance) => return Ok(Some(balance)),
                Err(MeterError::Exhausted { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        self.hold(missing, 0).await.map(Some)
    }

    /// Units of `items`, or of `time`'s worth at the stream's pace.
    fn ahead(&self, least: u128) -> u128 {
        let config = &self.config;
        self.pace.units(config.ahead, config.ahead_time, least)
    }

    /// Queues a need ahead of running dry when what is left of the funds
    /// is under the low-water mark, so the voucher travels while the
    /// stream goes on; once per funds (paid, limit), never past the limit.
    fn need_early(&mut self, balance: &Balance, units: u128) {
        let config = &self.config;
        if config.low_water == 0 && config.low_water_time.is_zero() {
            return;
        }
        if self.announced == Some((balance.paid, balance.limit)) {
            return;
        }
        let low = self.pace.units(config.low_water, config.low_water_time, 0);
        if self.meter.need(balance, low, low).is_none() {
            return;
        }
        if let Some(need) = self.meter.need(balance, 0, self.ahead(units)) {
            self.announced = Some((balance.paid, balance.limit));
            self.queued = Some(need_event(need));
        }
    }

    /// The funds do not cover `units`: give back the credit (so that the
    /// store's `spent` is what was sent while the stream waits), announce
    /// the need once, then wait for the funds to change, with keep-alives.
    async fn shortfall(
        &mut self,
        units: u128,
        need: Map<String, Value>,
        mut balance: Balance,
    ) -> Shortfall {
        match self.release().await {
            Ok(Some(released)) => balance = released,
            Ok(None) => {}
            Err(_) => return Shortfall::End,
        }
        self.pace.pause();
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert(now + self.config.wait);
        if self.slot.is_none() {
            let Some(slot) = waiting::admit(&self.funds, self.config.max_waiting) else {
                // Too many wait for these funds already: say what is
                // needed and end, holding no connection.
                self.ending = true;
                return Shortfall::Send(self.need_event(&balance, units, need));
            };
            self.slot = Some(slot);
        }
        if self.announced != Some((balance.paid, balance.limit)) {
            self.announced = Some((balance.paid, balance.limit));
            return Shortfall::Send(self.need_event(&balance, units, need));
        }
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Shortfall::End;
        }
        let timeout = left.min(self.config.keep_alive.max(MIN_KEEP_ALIVE));
        match self.meter.wait(balance, timeout).await {
            Ok(Some(_)) => Shortfall::Retry,
            Ok(None) if Instant::now() < deadline => Shortfall::Send(KEEP_ALIVE),
            // No voucher in time: the held item is never sent nor paid.
            Ok(None) | Err(_) => Shortfall::End,
        }
    }

    /// The need for `units` and as many ahead as the pace asks, or the
    /// refused debit's own `need` when the meter cannot say.
    fn need_event(&self, balance: &Balance, units: u128, need: Map<String, Value>) -> Bytes {
        let ahead = self.meter.need(balance, units, self.ahead(units));
        need_event(ahead.unwrap_or(need))
    }

    /// The stream goes on: it no longer waits.
    fn resume(&mut self) {
        if self.slot.take().is_some() || self.deadline.is_some() {
            self.deadline = None;
            self.pace.resume();
        }
    }

    /// The final receipt event, after the unused credit is given back.
    async fn finish(&mut self) -> Option<Bytes> {
        self.finished = true;
        self.slot = None;
        if self.release().await.is_err() {
            // Unknown: the receipt would misstate what was spent.
            return None;
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

/// A keep-alive interval below this would busy the store.
const MIN_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_millis(10);

fn need_event(need: Map<String, Value>) -> Bytes {
    event("payment-need-voucher", &Value::Object(need).to_string())
}
