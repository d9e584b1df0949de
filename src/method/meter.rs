//! Metering: service delivered piece by piece (the tokens of an answer, the
//! rows of a query) and debited as it goes, against what a metering method
//! holds for the payer (a session's channel).
//!
//! A method that meters (see
//! [`PaymentMethod::single_use_challenges`](super::PaymentMethod::single_use_challenges))
//! hands out a [`Meter`] for a request it has verified
//! ([`PaymentMethod::meter`](super::PaymentMethod::meter)); the stream that
//! delivers the service debits it before each piece and, when the payer's
//! funds run out, announces what it needs and waits for it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::price::Price;
use super::registry::Payments;
use super::rejection::PaymentRejection;
use crate::protocol::{Challenge, Receipt};
use crate::store::StoreError;

/// A boxed future, as [`Meter`]'s methods return.
pub type MeterFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a payer has paid for and what was used, in base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Balance {
    /// What the payer has authorized in all (a session: the highest
    /// accepted voucher).
    pub paid: u128,
    /// What was debited in all.
    pub spent: u128,
    /// The most the payer can authorize without adding funds (a session:
    /// the channel's deposit).
    pub limit: u128,
}

impl Balance {
    /// A balance.
    pub fn new(paid: u128, spent: u128, limit: u128) -> Self {
        Self { paid, spent, limit }
    }

    /// What is left to debit.
    pub fn available(&self) -> u128 {
        self.paid.saturating_sub(self.spent)
    }
}

/// Debits a payer's funds for one response, as its service is delivered.
/// Handed out by a metering method for a verified request.
pub trait Meter: Send + Sync + fmt::Debug + 'static {
    /// Debits `units` units at the metered price, atomically: the new
    /// balance, or [`MeterError::Exhausted`] (nothing debited) when what
    /// the payer authorized does not cover it.
    fn debit(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>>;

    /// Gives back `units` units debited and not delivered (a stream's
    /// unused reservation).
    fn release(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>>;

    /// Debits `units` as [`debit`](Self::debit) does, for a stream that
    /// debits ahead of delivery: the `reported` units it said it held
    /// before are delivered by now, and `hold` units of this debit are
    /// not delivered yet. What is held is not consumed: a settlement or a
    /// close does not count it. By default a plain debit.
    fn debit_holding(
        &self,
        units: u128,
        reported: u128,
        hold: u128,
    ) -> MeterFuture<'_, Result<Balance, MeterError>> {
        let _ = (reported, hold);
        self.debit(units)
    }

    /// Gives back `units` as [`release`](Self::release) does, and ends a
    /// stream's hold of `held` units (see
    /// [`debit_holding`](Self::debit_holding)). By default a plain
    /// release.
    fn release_held(
        &self,
        units: u128,
        held: u128,
    ) -> MeterFuture<'_, Result<Balance, MeterError>> {
        let _ = held;
        self.release(units)
    }

    /// Waits at most `timeout` for the payer's funds to change from
    /// `seen` (a higher voucher, a top-up, a close): the new balance, or
    /// `None` when nothing changed in time. The change may come through
    /// any instance sharing the method's store.
    fn wait(
        &self,
        seen: Balance,
        timeout: Duration,
    ) -> MeterFuture<'_, Result<Option<Balance>, MeterError>>;

    /// The receipt for what this meter debited, as of now.
    fn receipt(&self) -> MeterFuture<'_, Result<Receipt, MeterError>>;

    /// What to ask the payer for, as of `balance`, so that `least` more
    /// units than `balance.spent` are covered (beyond the limit if they
    /// must be: the payer then adds funds) and, as far as the limit
    /// allows, `ahead` units: the data of a need, as in
    /// [`MeterError::Exhausted`]. `None` when `balance` covers it already.
    ///
    /// The default is `None`, as for a method that cannot say ahead of a
    /// refused debit: a stream then announces the refused debit's own need
    /// and asks nothing before its funds run out.
    fn need(&self, balance: &Balance, least: u128, ahead: u128) -> Option<Map<String, Value>> {
        let _ = (balance, least, ahead);
        None
    }
}

/// Why a [`Meter`] could not debit.
#[derive(Debug)]
#[non_exhaustive]
pub enum MeterError {
    /// The payer's authorized funds do not cover the debit: `need` is what
    /// to ask the payer for (a session's `payment-need-voucher` data),
    /// `balance` the balance as it stands.
    Exhausted {
        /// The method's request for more funds, sent to the payer as is.
        need: Map<String, Value>,
        /// The balance that did not cover the debit.
        balance: Balance,
    },
    /// The payer's funds can no longer be debited (a channel closed, or
    /// whose close the payer requested).
    Closed,
    /// The store or the chain could not answer: nothing was debited.
    Unavailable(StoreError),
}

impl fmt::Display for MeterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted { balance, .. } => write!(
                f,
                "the payer's funds are used up ({} of {} spent)",
                balance.spent, balance.paid
            ),
            Self::Closed => f.write_str("the payer's funds are closed to debits"),
            Self::Unavailable(_) => f.write_str("the payment store is unavailable"),
        }
    }
}

impl std::error::Error for MeterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable(error) => Some(error),
            _ => None,
        }
    }
}

impl Payments {
    /// The [`Meter`] of a request verified at `price` per unit by the
    /// method that issued `challenge`, whose receipt is `receipt`.
    ///
    /// # Errors
    ///
    /// A 500 [`PaymentRejection`] when that method does not meter (a
    /// request metered in units is only offered metering methods, so this
    /// is a misconfigured method).
    pub fn meter(
        &self,
        challenge: &Challenge,
        price: &Price,
        receipt: &Receipt,
    ) -> Result<Arc<dyn Meter>, PaymentRejection> {
        let method = self
            .inner
            .methods
            .iter()
            .find(|m| m.name() == challenge.method && m.supports_intent(&challenge.intent));
        match method.map(|m| m.meter(price, receipt)) {
            Some(Ok(Some(meter))) => Ok(meter),
            Some(Err(error)) => Err(self
                .misconfigured("The payment method cannot meter this payment.")
                .with_source(error)),
            _ => Err(self.misconfigured("The payment method does not meter.")),
        }
    }
}

/// The default wait for a payer to send more funds before a paused stream
/// ends (the session spec suggests about a minute).
pub const DEFAULT_PAYMENT_WAIT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_balance_is_what_is_paid_and_not_spent() {
        let balance = Balance::new(100, 30, 500);
        assert_eq!(balance.available(), 70);
        assert_eq!(Balance::new(10, 30, 500).available(), 0);
    }

    #[test]
    fn errors_say_what_happened_and_keep_their_cause() {
        let exhausted = MeterError::Exhausted {
            need: Map::new(),
            balance: Balance::new(100, 100, 500),
        };
        assert_eq!(
            exhausted.to_string(),
            "the payer's funds are used up (100 of 100 spent)"
        );
        assert!(std::error::Error::source(&MeterError::Closed).is_none());
    }
}
