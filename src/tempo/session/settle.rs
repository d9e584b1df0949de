//! Settlement and the close-request watcher, apart from requests.
//!
//! [`TempoSession::settle_once`] goes through the open channels in the
//! store: it reads each one back from the escrow (one `eth_call` per open
//! channel: the watcher), stops serving a channel whose payer requested a
//! forced close (and settles it at once: the payer may withdraw after the
//! grace period), records channels closed on chain, and settles every
//! channel whose consumed value exceeds what is settled by at least the
//! threshold, at the highest voucher that captures no more than was
//! consumed (vouchers ahead of the payer's use wait). A channel whose
//! cooperative close is in flight is left alone. A settlement that fails
//! stays due: the voucher is still in the store, and the next pass tries
//! again. [`TempoSession::settler`] runs passes on a schedule; spawn it on
//! the runtime.

use std::future::Future;
use std::time::Duration;

use alloy_primitives::B256;

use super::method::TempoSession;
use crate::store::ChannelUpdate;

/// What one settlement pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettleReport {
    /// Channels settled: the id, the amount and the transaction.
    pub settled: Vec<(B256, u128, B256)>,
    /// Channels whose payer requested a forced close (no longer served).
    pub close_requested: Vec<B256>,
    /// Channels found closed on chain.
    pub finalized: Vec<B256>,
    /// Channels left alone because this server's close of them may be in
    /// flight.
    pub closing: Vec<B256>,
    /// Channels whose settlement (or reading) failed, with why; retried by
    /// the next pass.
    pub failed: Vec<(B256, String)>,
}

/// How much a channel's unsettled vouchers must reach, in base units of
/// the session's currency, before a pass settles it: each settlement is a
/// transaction whose fee the payee pays, so a higher threshold settles
/// less often. A channel whose close was requested is settled whatever it
/// holds.
///
/// ```
/// use tower_mpp::tempo::session::SettleThreshold;
/// // Settle once a cent (of a 6-decimal token) has accumulated.
/// assert_eq!(SettleThreshold::base_units(10_000).get(), 10_000);
/// assert_eq!(SettleThreshold::base_units(0), SettleThreshold::ANY);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SettleThreshold(u128);

impl SettleThreshold {
    /// Settles anything unsettled (at least one base unit).
    pub const ANY: Self = Self(1);

    /// Settles once `base_units` are unsettled (`0` is [`ANY`](Self::ANY)).
    #[must_use]
    pub const fn base_units(base_units: u128) -> Self {
        if base_units == 0 {
            Self::ANY
        } else {
            Self(base_units)
        }
    }

    /// The threshold in base units.
    #[must_use]
    pub const fn get(self) -> u128 {
        self.0
    }
}

impl TempoSession {
    /// One pass: watch every open channel, settle the ones due. Settles a
    /// channel when its unsettled vouchers reach `threshold` (or hold
    /// anything once its close was requested).
    pub async fn settle_once(&self, threshold: SettleThreshold) -> SettleReport {
        let threshold = threshold.get();
        let inner = &self.inner;
        let mut report = SettleReport::default();
        let ids = match inner.store.open_channels().await {
            Ok(ids) => ids,
            Err(error) => {
                report
                    .failed
                    .push((B256::ZERO, format!("the store: {error}")));
                return report;
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        for id in ids {
            match inner.store.get(id).await {
                // The payee's close is in flight: a settlement now would
                // race it, revert, and cost its fee for nothing.
                Ok(Some(channel)) if channel.state.closing_until > now => {
                    report.closing.push(id);
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    report.failed.push((id, format!("the store: {error}")));
                    continue;
                }
            }
            let on = match inner.read_channel(id).await {
                Ok(on) => on,
                Err(fault) => {
                    report.failed.push((id, fault.to_string()));
                    continue;
                }
            };
            if !on.exists() || on.finalized {
                if inner.finalize(id, on.settled).await.is_ok() {
                    report.finalized.push(id);
                }
                continue;
            }
            let mut updates = vec![ChannelUpdate::Settled(on.settled)];
            if on.close_requested_at != 0 {
                report.close_requested.push(id);
                updates.push(ChannelUpdate::CloseRequested);
            }
            let mut channel = None;
            for update in updates {
                match inner.store.update(id, update).await {
                    Ok(applied) => channel = applied.map(|applied| applied.channel),
                    Err(error) => {
                        report.failed.push((id, format!("the store: {error}")));
                        channel = None;
                        break;
                    }
                }
            }
            let Some(channel) = channel else {
                continue;
            };
            // Only what was consumed is captured: a voucher above it (a
            // payer vouching ahead, a stream's hold) waits.
            let Some((amount, signature)) = channel.settleable() else {
                continue;
            };
            let unsettled = amount.saturating_sub(on.settled);
            let due = unsettled > 0 && (unsettled >= threshold || on.close_requested_at != 0);
            if !due {
                continue;
            }
            match inner.settle_on_chain(id, amount, signature.clone()).await {
                Ok(hash) => {
                    let _ = inner.store.update(id, ChannelUpdate::Settled(amount)).await;
                    report.settled.push((id, amount, hash));
                }
                Err(failure) => report.failed.push((id, failure.to_string())),
            }
        }
        report
    }

    /// Passes of [`settle_once`](Self::settle_once) every `every`, forever;
    /// `on_report` sees each report (log the failures). Spawn it:
    /// `tokio::spawn(session.settler(Duration::from_secs(60), SettleThreshold::ANY, |_| {}))`.
    pub fn settler(
        &self,
        every: Duration,
        threshold: SettleThreshold,
        mut on_report: impl FnMut(&SettleReport) + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let session = self.clone();
        async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let report = session.settle_once(threshold).await;
                on_report(&report);
            }
        }
    }
}
