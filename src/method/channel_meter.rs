//! [`SessionMeter`]: a channel debited as a metered response is delivered.
//!
//! A debit is one atomic store update (no voucher, the cost of the units);
//! a refused debit answers the `payment-need-voucher` data the spec lists.
//! Waiting for the payer's next voucher takes a watch on the channel before
//! reading it, so a voucher accepted by any instance between the read and
//! the wait wakes it; no chain call is made.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B256;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{Balance, Meter, MeterError, MeterFuture};
use crate::protocol::{Receipt, Timestamp};
use crate::store::{AccountingError, Channel, ChannelUpdate, SharedChannelStore};

/// Debits one channel for one response.
#[derive(Debug)]
pub(crate) struct SessionMeter {
    store: SharedChannelStore,
    id: B256,
    unit_price: u128,
    /// The request's receipt, updated for the final one.
    receipt: Receipt,
}

fn balance(channel: &Channel) -> Balance {
    let state = &channel.state;
    Balance::new(state.accepted_cumulative, state.spent, state.deposit)
}

impl SessionMeter {
    /// The spec's `payment-need-voucher` data for a debit of `cost`.
    fn need(&self, channel: &Channel, cost: u128) -> Map<String, Value> {
        let state = &channel.state;
        let required = state.spent.saturating_add(cost);
        self.need_data(required, state.accepted_cumulative, state.deposit)
    }

    /// The spec's `payment-need-voucher` fields.
    fn need_data(&self, required: u128, accepted: u128, deposit: u128) -> Map<String, Value> {
        let mut need = Map::new();
        need.insert("channelId".into(), self.id.to_string().into());
        need.insert("requiredCumulative".into(), required.to_string().into());
        need.insert("acceptedCumulative".into(), accepted.to_string().into());
        need.insert("deposit".into(), deposit.to_string().into());
        need
    }

    /// A need for `least` units, and `ahead` where the deposit allows.
    fn need_ahead(
        &self,
        balance: &Balance,
        least: u128,
        ahead: u128,
    ) -> Option<Map<String, Value>> {
        let floor = balance
            .spent
            .checked_add(self.unit_price.checked_mul(least)?)?;
        let wanted = balance
            .spent
            .saturating_add(self.unit_price.saturating_mul(ahead))
            .min(balance.limit);
        let required = floor.max(wanted);
        (required > balance.paid).then(|| self.need_data(required, balance.paid, balance.limit))
    }

    fn amount(&self, units: u128) -> Result<u128, MeterError> {
        self.unit_price.checked_mul(units).ok_or(MeterError::Closed)
    }

    async fn debit_units(
        &self,
        units: u128,
        holding: Option<(u128, u128)>,
    ) -> Result<Balance, MeterError> {
        let cost = self.amount(units)?;
        let update = match holding {
            None => ChannelUpdate::Pay {
                voucher: None,
                min_delta: 0,
                cost,
            },
            Some((reported, hold)) => ChannelUpdate::Hold {
                cost,
                reported: self.amount(reported)?,
                hold: self.amount(hold)?,
            },
        };
        let applied = self
            .store
            .update(self.id, update)
            .await
            .map_err(MeterError::Unavailable)?
            .ok_or(MeterError::Closed)?;
        match applied.outcome {
            Ok(()) => Ok(balance(&applied.channel)),
            Err(AccountingError::Insufficient { .. }) => Err(MeterError::Exhausted {
                need: self.need(&applied.channel, cost),
                balance: balance(&applied.channel),
            }),
            Err(_) => Err(MeterError::Closed),
        }
    }

    async fn release_units(&self, units: u128, held: u128) -> Result<Balance, MeterError> {
        let update = ChannelUpdate::Release {
            amount: self.unit_price.saturating_mul(units),
            held: self.unit_price.saturating_mul(held),
        };
        let applied = self
            .store
            .update(self.id, update)
            .await
            .map_err(MeterError::Unavailable)?
            .ok_or(MeterError::Closed)?;
        Ok(balance(&applied.channel))
    }

    async fn wait_for_change(
        &self,
        seen: Balance,
        timeout: Duration,
    ) -> Result<Option<Balance>, MeterError> {
        let deadline = Instant::now() + timeout;
        let mut watch = self
            .store
            .watch(self.id)
            .await
            .map_err(MeterError::Unavailable)?;
        loop {
            let channel = self
                .store
                .get(self.id)
                .await
                .map_err(MeterError::Unavailable)?
                .ok_or(MeterError::Closed)?;
            let now = balance(&channel);
            let state = &channel.state;
            if now.paid != seen.paid
                || now.limit != seen.limit
                || state.close_requested
                || state.finalized
            {
                return Ok(Some(now));
            }
            if tokio::time::timeout_at(deadline, watch.changed())
                .await
                .is_err()
            {
                return Ok(None);
            }
        }
    }

    async fn current_receipt(&self) -> Result<Receipt, MeterError> {
        let channel = self
            .store
            .get(self.id)
            .await
            .map_err(MeterError::Unavailable)?
            .ok_or(MeterError::Closed)?;
        let mut receipt = self.receipt.clone();
        receipt.timestamp = Timestamp::now();
        let extra = &mut receipt.extra;
        extra.insert(
            "acceptedCumulative".into(),
            channel.state.accepted_cumulative.to_string().into(),
        );
        extra.insert("spent".into(), channel.state.spent.to_string().into());
        extra.remove("txHash");
        Ok(receipt)
    }
}

impl Meter for SessionMeter {
    fn debit(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>> {
        Box::pin(self.debit_units(units, None))
    }

    fn release(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>> {
        Box::pin(self.release_units(units, 0))
    }

    fn debit_holding(
        &self,
        units: u128,
        reported: u128,
        hold: u128,
    ) -> MeterFuture<'_, Result<Balance, MeterError>> {
        Box::pin(self.debit_units(units, Some((reported, hold))))
    }

    fn release_held(
        &self,
        units: u128,
        held: u128,
    ) -> MeterFuture<'_, Result<Balance, MeterError>> {
        Box::pin(self.release_units(units, held))
    }

    fn wait(
        &self,
        seen: Balance,
        timeout: Duration,
    ) -> MeterFuture<'_, Result<Option<Balance>, MeterError>> {
        Box::pin(self.wait_for_change(seen, timeout))
    }

    fn receipt(&self) -> MeterFuture<'_, Result<Receipt, MeterError>> {
        Box::pin(self.current_receipt())
    }

    fn need(&self, balance: &Balance, least: u128, ahead: u128) -> Option<Map<String, Value>> {
        self.need_ahead(balance, least, ahead)
    }
}

/// The meter of a request that `receipt` says was paid on a channel.
pub(crate) fn for_receipt(
    store: &SharedChannelStore,
    unit_price: u128,
    receipt: &Receipt,
) -> Option<Arc<dyn Meter>> {
    let id = receipt.extra.get("channelId")?.as_str()?.parse().ok()?;
    Some(Arc::new(SessionMeter {
        store: store.clone(),
        id,
        unit_price,
        receipt: receipt.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryChannelStore;

    fn meter() -> SessionMeter {
        SessionMeter {
            store: SharedChannelStore::new(MemoryChannelStore::new()),
            id: B256::repeat_byte(7),
            unit_price: 10,
            receipt: Receipt::new("tempo", Timestamp::now(), "0x07"),
        }
    }

    fn required(need: &Map<String, Value>) -> &str {
        need["requiredCumulative"].as_str().unwrap()
    }

    #[test]
    fn a_need_asks_ahead_within_the_deposit_and_beyond_it_only_for_what_it_must() {
        let meter = meter();
        // 64 units ahead would be 740: the deposit caps it.
        let need = meter
            .need_ahead(&Balance::new(100, 100, 500), 1, 64)
            .unwrap();
        assert_eq!(required(&need), "500");
        assert_eq!(need["acceptedCumulative"], "100");
        assert_eq!(need["deposit"], "500");
        assert_eq!(
            required(
                &meter
                    .need_ahead(&Balance::new(100, 100, 500), 1, 4)
                    .unwrap()
            ),
            "140"
        );
        // The deposit is used up: one item beyond it (a top-up).
        let need = meter
            .need_ahead(&Balance::new(500, 500, 500), 1, 64)
            .unwrap();
        assert_eq!(required(&need), "510");
        // Covered already: nothing to ask.
        assert!(
            meter
                .need_ahead(&Balance::new(300, 100, 500), 5, 5)
                .is_none()
        );
        // Nothing more fits in the deposit: nothing asked ahead.
        assert!(
            meter
                .need_ahead(&Balance::new(500, 480, 500), 0, 64)
                .is_none()
        );
        assert!(
            meter
                .need_ahead(&Balance::new(0, 0, 500), u128::MAX, 1)
                .is_none()
        );
    }
}
