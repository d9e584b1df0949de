//! How far ahead a metered stream asks for funds: its settings, and the
//! pace it measures to turn "a time's worth" into items.

use std::time::Duration;

use tokio::time::Instant;

use crate::method::DEFAULT_PAYMENT_WAIT;

/// Units a metered stream debits at a time by default (see
/// [`Metered::reserve`](super::Metered::reserve)).
pub const DEFAULT_RESERVE: u128 = 16;

/// Items a need for a voucher asks ahead by default, at least (see
/// [`Metered::ask_ahead`](super::Metered::ask_ahead)).
pub const DEFAULT_ASK_AHEAD: u128 = 64;

/// The time's worth of items a need asks ahead by default, at the
/// stream's pace (see [`Metered::ask_ahead_time`](super::Metered::ask_ahead_time)).
pub const DEFAULT_ASK_AHEAD_TIME: Duration = Duration::from_secs(2);

/// Items left under which a stream asks for its next voucher by default,
/// before it runs dry (see [`Metered::low_water`](super::Metered::low_water)).
pub const DEFAULT_LOW_WATER: u128 = 16;

/// The time's worth of items left under which a stream asks for its next
/// voucher by default (see [`Metered::low_water_time`](super::Metered::low_water_time)).
pub const DEFAULT_LOW_WATER_TIME: Duration = Duration::from_millis(500);

/// How often a paused stream sends an SSE comment by default (see
/// [`Metered::keep_alive`](super::Metered::keep_alive)).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Streams that may wait at once for the same payer's funds in this
/// process by default (see [`Metered::max_waiting`](super::Metered::max_waiting)).
pub const DEFAULT_MAX_WAITING: usize = 4;

/// Below this much running time the pace is not measured: a burst at the
/// start says nothing of the rate.
const MEASURED_AFTER: Duration = Duration::from_millis(100);

/// A metered stream's settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Config {
    pub(super) wait: Duration,
    pub(super) reserve: u128,
    pub(super) ahead: u128,
    pub(super) ahead_time: Duration,
    pub(super) low_water: u128,
    pub(super) low_water_time: Duration,
    pub(super) keep_alive: Duration,
    pub(super) max_waiting: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            wait: DEFAULT_PAYMENT_WAIT,
            reserve: DEFAULT_RESERVE,
            ahead: DEFAULT_ASK_AHEAD,
            ahead_time: DEFAULT_ASK_AHEAD_TIME,
            low_water: DEFAULT_LOW_WATER,
            low_water_time: DEFAULT_LOW_WATER_TIME,
            keep_alive: DEFAULT_KEEP_ALIVE,
            max_waiting: DEFAULT_MAX_WAITING,
        }
    }
}

/// What a stream sent and for how long it ran, pauses left out. The clock
/// is read at the first item, at pauses and when a need is made, never
/// per item.
#[derive(Debug, Default)]
pub(super) struct Pace {
    started: Option<Instant>,
    paused: Duration,
    paused_at: Option<Instant>,
    items: u128,
    units: u128,
}

impl Pace {
    /// One item of `units` was sent.
    pub(super) fn sent(&mut self, units: u128) {
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        self.items += 1;
        self.units = self.units.saturating_add(units);
    }

    /// The stream pauses for funds (once per pause).
    pub(super) fn pause(&mut self) {
        if self.paused_at.is_none() {
            self.paused_at = Some(Instant::now());
        }
    }

    /// The stream goes on after a pause, if it paused.
    pub(super) fn resume(&mut self) {
        if let Some(at) = self.paused_at.take() {
            self.paused += at.elapsed();
        }
    }

    /// The units of `items` items, or of `time`'s worth at the pace so
    /// far, whichever is more; at the mean units per item (at least
    /// `least`, the item at hand).
    pub(super) fn units(&self, items: u128, time: Duration, least: u128) -> u128 {
        let items = items.max(self.items_in(time));
        let per_item = if self.items == 0 {
            1
        } else {
            self.units.div_ceil(self.items)
        };
        items.saturating_mul(per_item.max(1)).max(least)
    }

    /// Items sent in `time` at the pace so far.
    fn items_in(&self, time: Duration) -> u128 {
        let Some(started) = self.started else {
            return 0;
        };
        let running = started.elapsed().saturating_sub(self.paused);
        if time.is_zero() || running < MEASURED_AFTER {
            return 0;
        }
        self.items.saturating_mul(time.as_micros()) / running.as_micros().max(1)
    }
}
