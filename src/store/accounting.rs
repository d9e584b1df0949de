//! A channel's server-side accounting (the spec's "Server-Side
//! Accounting"), as pure transitions of [`ChannelState`]: a channel store
//! applies them atomically per channel, and persists the result before the
//! service is delivered.
//!
//! - [`ChannelState::accept_voucher`]: monotonic, at least the minimum
//!   delta above the highest accepted, never above the deposit, and not on
//!   a channel whose close was requested or which is closed; the highest
//!   amount again is an idempotent retry.
//! - [`ChannelState::charge`]: `spent + cost <= acceptedCumulative`, or the
//!   top-up the request needs.
//! - [`ChannelState::check_close`]: a close voucher covers what was
//!   consumed (and settled) and stays within the deposit.
//!
//! `spent` includes what metered streams debited ahead of delivery
//! (`held`); what was [consumed](ChannelState::consumed) is `spent - held`,
//! and only that may be captured: settled, or required of a close.
//!
//! Every amount is an exact `u128` of base units; no transition overflows.

use std::fmt;

/// What the server knows of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelState {
    /// The latest verified on-chain deposit.
    pub deposit: u128,
    /// The highest voucher accepted (monotonic).
    pub accepted_cumulative: u128,
    /// What service has used of it, including what metered streams
    /// debited ahead and hold (`held`).
    pub spent: u128,
    /// Of `spent`, what metered streams debited ahead of delivery and have
    /// not reported sent: not consumed yet, so neither settled nor
    /// required of a close.
    pub held: u128,
    /// The last cumulative amount settled on chain.
    pub settled: u128,
    /// The payer asked the escrow to close (forced close pending).
    pub close_requested: bool,
    /// The channel is closed.
    pub finalized: bool,
    /// Until when (Unix seconds) a cooperative close this server sent may
    /// still be in flight: settlement leaves the channel alone until then.
    pub closing_until: u64,
}

/// How a voucher changed the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoucherOutcome {
    /// A higher voucher: `accepted_cumulative` is now its amount.
    Raised,
    /// The highest amount again: nothing changed (a retry).
    Repeated,
}

/// Why a voucher or a charge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountingError {
    /// The channel is closed.
    Closed,
    /// The payer requested a forced close: no more service on it.
    CloseRequested,
    /// The voucher was signed by someone other than the channel's signer.
    SignerMismatch,
    /// Lower than the highest voucher accepted.
    BelowAccepted {
        /// The voucher's amount.
        amount: u128,
        /// The highest accepted.
        accepted: u128,
    },
    /// Higher, but by less than the minimum delta.
    BelowMinDelta {
        /// The voucher's amount.
        amount: u128,
        /// The least acceptable amount.
        least: u128,
    },
    /// More than the channel holds.
    AboveDeposit {
        /// The voucher's amount.
        amount: u128,
        /// The deposit.
        deposit: u128,
    },
    /// A close voucher below what was consumed or settled.
    CloseBelowConsumed {
        /// The close voucher's amount.
        amount: u128,
        /// The least a close may capture.
        least: u128,
    },
    /// The accepted vouchers do not cover this request's cost.
    Insufficient {
        /// What the request costs.
        cost: u128,
        /// `accepted_cumulative - spent`.
        available: u128,
    },
}

impl AccountingError {
    /// For [`Insufficient`](Self::Insufficient): the voucher increase the
    /// request needs (`cost - available`).
    pub fn required_top_up(&self) -> Option<u128> {
        match *self {
            Self::Insufficient { cost, available } => Some(cost - available),
            _ => None,
        }
    }
}

impl fmt::Display for AccountingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the channel is closed"),
            Self::CloseRequested => f.write_str("the payer requested to close the channel"),
            Self::SignerMismatch => {
                f.write_str("the voucher is not signed by the channel's signer")
            }
            Self::BelowAccepted { amount, accepted } => write!(
                f,
                "the voucher ({amount}) is below the highest accepted ({accepted})"
            ),
            Self::BelowMinDelta { amount, least } => write!(
                f,
                "the voucher ({amount}) raises the total by less than the minimum (at least {least})"
            ),
            Self::AboveDeposit { amount, deposit } => write!(
                f,
                "the voucher ({amount}) is above the channel's deposit ({deposit})"
            ),
            Self::CloseBelowConsumed { amount, least } => write!(
                f,
                "the close voucher ({amount}) is below what was consumed or settled ({least})"
            ),
            Self::Insufficient { cost, available } => write!(
                f,
                "the request costs {cost} and the vouchers leave {available}"
            ),
        }
    }
}

impl std::error::Error for AccountingError {}

impl ChannelState {
    /// A channel just opened with `deposit`.
    pub fn opened(deposit: u128) -> Self {
        Self {
            deposit,
            ..Self::default()
        }
    }

    /// What the accepted vouchers leave for service.
    pub fn available(&self) -> u128 {
        self.accepted_cumulative.saturating_sub(self.spent)
    }

    /// What was delivered: `spent` less what streams hold ahead. The most
    /// a settlement may capture, and the least a close must.
    pub fn consumed(&self) -> u128 {
        self.spent.saturating_sub(self.held)
    }

    /// Checks a close voucher of `amount`: at least what was consumed and
    /// settled, at most the deposit, on a channel not closed.
    ///
    /// # Errors
    ///
    /// [`AccountingError::Closed`], [`AccountingError::CloseBelowConsumed`]
    /// or [`AccountingError::AboveDeposit`].
    pub fn check_close(&self, amount: u128) -> Result<(), AccountingError> {
        if self.finalized {
            return Err(AccountingError::Closed);
        }
        let least = self.consumed().max(self.settled);
        if amount < least {
            return Err(AccountingError::CloseBelowConsumed { amount, least });
        }
        if amount > self.deposit {
            return Err(AccountingError::AboveDeposit {
                amount,
                deposit: self.deposit,
            });
        }
        Ok(())
    }

    fn serviceable(&self) -> Result<(), AccountingError> {
        if self.finalized {
            return Err(AccountingError::Closed);
        }
        if self.close_requested {
            return Err(AccountingError::CloseRequested);
        }
        Ok(())
    }

    /// Accepts a voucher of `amount` (its signature already checked).
    ///
    /// # Errors
    ///
    /// [`AccountingError`] when the channel is closed or closing, or the
    /// amount is below the highest accepted, raises it by less than
    /// `min_delta`, or exceeds the deposit. The state is then unchanged.
    pub fn accept_voucher(
        &mut self,
        amount: u128,
        min_delta: u128,
    ) -> Result<VoucherOutcome, AccountingError> {
        self.serviceable()?;
        if amount == self.accepted_cumulative {
            return Ok(VoucherOutcome::Repeated);
        }
        if amount < self.accepted_cumulative {
            return Err(AccountingError::BelowAccepted {
                amount,
                accepted: self.accepted_cumulative,
            });
        }
        let least = self.accepted_cumulative.saturating_add(min_delta.max(1));
        if amount < least {
            return Err(AccountingError::BelowMinDelta { amount, least });
        }
        if amount > self.deposit {
            return Err(AccountingError::AboveDeposit {
                amount,
                deposit: self.deposit,
            });
        }
        self.accepted_cumulative = amount;
        Ok(VoucherOutcome::Raised)
    }

    /// Charges `cost` for service about to be delivered.
    ///
    /// # Errors
    ///
    /// [`AccountingError::Insufficient`] (with the top-up needed) when the
    /// accepted vouchers do not cover it, or the channel is closed or
    /// closing. The state is then unchanged.
    pub fn charge(&mut self, cost: u128) -> Result<(), AccountingError> {
        self.serviceable()?;
        let available = self.available();
        if cost > available {
            return Err(AccountingError::Insufficient { cost, available });
        }
        self.spent += cost;
        Ok(())
    }

    /// The cost of `units` at `price` per unit, or `None` past `u128`.
    pub fn cost(price: u128, units: u128) -> Option<u128> {
        price.checked_mul(units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vouchers_rise_monotonically_within_the_deposit() {
        let mut channel = ChannelState::opened(1_000);
        assert_eq!(channel.accept_voucher(0, 10), Ok(VoucherOutcome::Repeated));
        assert_eq!(channel.accept_voucher(100, 10), Ok(VoucherOutcome::Raised));
        assert_eq!(
            channel.accept_voucher(100, 10),
            Ok(VoucherOutcome::Repeated)
        );
        assert_eq!(
            channel.accept_voucher(99, 10),
            Err(AccountingError::BelowAccepted {
                amount: 99,
                accepted: 100
            })
        );
        assert_eq!(
            channel.accept_voucher(105, 10),
            Err(AccountingError::BelowMinDelta {
                amount: 105,
                least: 110
            })
        );
        assert_eq!(
            channel.accept_voucher(1_001, 10),
            Err(AccountingError::AboveDeposit {
                amount: 1_001,
                deposit: 1_000
            })
        );
        assert_eq!(
            channel.accept_voucher(1_000, 10),
            Ok(VoucherOutcome::Raised)
        );
        assert_eq!(channel.accepted_cumulative, 1_000);
        // A minimum delta of zero still means "higher".
        let mut zero = ChannelState::opened(5);
        assert_eq!(zero.accept_voucher(1, 0), Ok(VoucherOutcome::Raised));
    }

    #[test]
    fn charges_never_exceed_the_accepted_vouchers() {
        let mut channel = ChannelState::opened(1_000);
        channel.accept_voucher(300, 1).unwrap();
        channel.charge(200).unwrap();
        assert_eq!(channel.available(), 100);
        let refused = channel.charge(150).unwrap_err();
        assert_eq!(
            refused,
            AccountingError::Insufficient {
                cost: 150,
                available: 100
            }
        );
        assert_eq!(refused.required_top_up(), Some(50));
        assert_eq!(channel.spent, 200, "a refusal changes nothing");
        channel.charge(100).unwrap();
        assert_eq!(channel.available(), 0);
        channel.charge(0).unwrap();
        assert_eq!(ChannelState::cost(u128::MAX, 2), None);
        assert_eq!(ChannelState::cost(25, 4), Some(100));
    }

    #[test]
    fn a_closing_or_closed_channel_serves_nothing() {
        let mut channel = ChannelState::opened(1_000);
        channel.accept_voucher(500, 1).unwrap();
        channel.close_requested = true;
        assert_eq!(
            channel.accept_voucher(600, 1),
            Err(AccountingError::CloseRequested)
        );
        assert_eq!(channel.charge(1), Err(AccountingError::CloseRequested));
        channel.finalized = true;
        assert_eq!(channel.charge(1), Err(AccountingError::Closed));
        assert_eq!(channel.accepted_cumulative, 500);
    }

    /// Any sequence of vouchers and charges keeps the invariants:
    /// spent <= accepted <= deposit, both monotonic.
    #[test]
    fn the_invariants_hold_for_any_sequence() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            u128::from(seed % n)
        };
        for _ in 0..200 {
            let mut channel = ChannelState::opened(next(10_000));
            let (mut accepted, mut spent) = (0, 0);
            for _ in 0..50 {
                if next(2) == 0 {
                    let _ = channel.accept_voucher(next(12_000), next(50));
                } else {
                    let _ = channel.charge(next(500));
                }
                assert!(channel.spent <= channel.accepted_cumulative);
                assert!(channel.accepted_cumulative <= channel.deposit);
                assert!(channel.accepted_cumulative >= accepted);
                assert!(channel.spent >= spent);
                (accepted, spent) = (channel.accepted_cumulative, channel.spent);
            }
        }
    }
}
