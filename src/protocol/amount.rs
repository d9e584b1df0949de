//! Amounts: human decimal strings and integer base units, exactly.
//!
//! Prices are configured as decimal strings ("0.50") with the currency's
//! number of decimals, and travel in base units ("500000" for 6 decimals).
//! Conversion is pure integer arithmetic on `u128`: no floats anywhere.

use std::fmt;

/// The most decimals an amount may have: 10^38 is the largest power of ten
/// below `u128::MAX`.
pub const MAX_DECIMALS: u8 = 38;

/// Converts a human decimal amount to base units.
///
/// The grammar is `digits [ "." digits ]`. Digits past `decimals` are
/// allowed only when they are zeros (the value stays exact).
///
/// # Errors
///
/// [`AmountError`] for an empty or non-decimal string (signs, exponents,
/// spaces), a negative amount, too many significant decimals, more than
/// [`MAX_DECIMALS`] decimals, or a value over `u128::MAX` base units.
///
/// ```
/// use tower_mpp::protocol::parse_amount;
/// assert_eq!(parse_amount("0.50", 6).unwrap(), 500_000);
/// assert_eq!(parse_amount("12", 2).unwrap(), 1200);
/// assert!(parse_amount("0.0000001", 6).is_err());
/// assert!(parse_amount("-1", 6).is_err());
/// ```
pub fn parse_amount(text: &str, decimals: u8) -> Result<u128, AmountError> {
    if decimals > MAX_DECIMALS {
        return Err(AmountError::DecimalsOutOfRange);
    }
    if text.starts_with('-') {
        return Err(AmountError::Negative);
    }
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) if !frac.is_empty() => (int, frac),
        Some(_) => return Err(AmountError::Invalid),
        None => (text, ""),
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AmountError::Invalid);
    }
    let places = usize::from(decimals);
    let (kept, dropped) = frac.split_at(frac.len().min(places));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(AmountError::TooManyDecimals { max: decimals });
    }
    let mut value: u128 = 0;
    let padding = places - kept.len();
    for b in int
        .bytes()
        .chain(kept.bytes())
        .chain(std::iter::repeat_n(b'0', padding))
    {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(b - b'0')))
            .ok_or(AmountError::Overflow)?;
    }
    Ok(value)
}

/// Parses a base-unit amount as it appears in a `request` (`"1000000"`).
///
/// # Errors
///
/// [`AmountError`] for anything but ASCII digits, and for overflow.
pub fn parse_base_units(text: &str) -> Result<u128, AmountError> {
    if text.starts_with('-') {
        return Err(AmountError::Negative);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::Invalid);
    }
    text.parse().map_err(|_| AmountError::Overflow)
}

/// Formats base units as a human decimal string, without trailing zeros.
///
/// ```
/// use tower_mpp::protocol::format_amount;
/// assert_eq!(format_amount(500_000, 6), "0.5");
/// assert_eq!(format_amount(1_000_000, 6), "1");
/// ```
pub fn format_amount(base_units: u128, decimals: u8) -> String {
    let digits = base_units.to_string();
    let places = usize::from(decimals);
    if places == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

/// An amount that is not a valid non-negative decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AmountError {
    /// Not a decimal number: empty, signs, exponents, spaces, other text.
    Invalid,
    /// A negative amount.
    Negative,
    /// More significant decimals than the currency has.
    TooManyDecimals {
        /// The currency's number of decimals.
        max: u8,
    },
    /// The value does not fit in `u128` base units.
    Overflow,
    /// The number of decimals exceeds [`MAX_DECIMALS`].
    DecimalsOutOfRange,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str("amount must be a decimal number like \"12\" or \"0.50\""),
            Self::Negative => f.write_str("amount must not be negative"),
            Self::TooManyDecimals { max } => write!(f, "amount has more than {max} decimals"),
            Self::Overflow => f.write_str("amount is too large"),
            Self::DecimalsOutOfRange => {
                write!(f, "a currency may have at most {MAX_DECIMALS} decimals")
            }
        }
    }
}

impl std::error::Error for AmountError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_exactly() {
        assert_eq!(parse_amount("0.01", 6), Ok(10_000));
        assert_eq!(parse_amount("1.5", 6), Ok(1_500_000));
        assert_eq!(parse_amount("007.100", 2), Ok(710));
        assert_eq!(
            parse_amount("0.1000000", 6),
            Ok(100_000),
            "trailing zeros past the precision are exact"
        );
        assert_eq!(parse_amount("0", 0), Ok(0));
        assert_eq!(parse_amount("42", 0), Ok(42));
        assert_eq!(parse_amount("0.000000000000000001", 18), Ok(1));
        assert_eq!(parse_amount(&u128::MAX.to_string(), 0), Ok(u128::MAX));
    }

    #[test]
    fn refuses_garbage() {
        for (text, err) in [
            ("", AmountError::Invalid),
            (".5", AmountError::Invalid),
            ("1.", AmountError::Invalid),
            ("1e3", AmountError::Invalid),
            ("+1", AmountError::Invalid),
            (" 1", AmountError::Invalid),
            ("1,5", AmountError::Invalid),
            ("1.2.3", AmountError::Invalid),
            ("0x10", AmountError::Invalid),
            ("１", AmountError::Invalid),
            ("NaN", AmountError::Invalid),
            ("-0.5", AmountError::Negative),
            ("0.0000001", AmountError::TooManyDecimals { max: 6 }),
            ("1.5", AmountError::TooManyDecimals { max: 0 }),
        ] {
            assert_eq!(
                parse_amount(text, if text == "1.5" { 0 } else { 6 }),
                Err(err),
                "{text:?}"
            );
        }
        let too_big = format!("{}0", u128::MAX);
        assert_eq!(parse_amount(&too_big, 0), Err(AmountError::Overflow));
        assert_eq!(
            parse_amount("340282366920938463463374607431768211456", 0),
            Err(AmountError::Overflow)
        );
        assert_eq!(parse_amount("1", 38), Ok(10u128.pow(38)));
        assert_eq!(parse_amount("4", 38), Err(AmountError::Overflow));
        assert_eq!(parse_amount("1", 39), Err(AmountError::DecimalsOutOfRange));
    }

    #[test]
    fn base_units() {
        assert_eq!(parse_base_units("1000000"), Ok(1_000_000));
        assert_eq!(parse_base_units("-1"), Err(AmountError::Negative));
        assert_eq!(parse_base_units("1.0"), Err(AmountError::Invalid));
        assert_eq!(parse_base_units(""), Err(AmountError::Invalid));
        assert_eq!(
            parse_base_units(&format!("{}0", u128::MAX)),
            Err(AmountError::Overflow)
        );
    }

    #[test]
    fn formats_back() {
        for (units, decimals, text) in [
            (0, 6, "0"),
            (1, 6, "0.000001"),
            (10_000, 6, "0.01"),
            (123, 0, "123"),
            (u128::MAX, 0, "340282366920938463463374607431768211455"),
        ] {
            assert_eq!(format_amount(units, decimals), text);
            assert_eq!(parse_amount(text, decimals), Ok(units));
        }
    }
}
