//! What a route charges: an amount, and optionally a currency, a recipient,
//! a memo, fee sponsorship, an expiry, a description and a merchant
//! reference.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::protocol::{AmountError, MAX_DECIMALS, parse_amount};

/// An amount: a human decimal (scaled by the method's currency decimals) or
/// exact base units.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Amount {
    /// A decimal string in whole currency units, e.g. `"0.01"`.
    Decimal(Cow<'static, str>),
    /// Base units (the currency's smallest denomination).
    BaseUnits(u128),
}

impl Amount {
    /// The amount in base units for a currency with `decimals` decimals.
    ///
    /// # Errors
    ///
    /// [`AmountError`] when the decimal amount has more significant decimals
    /// than the currency, or overflows.
    pub fn to_base_units(&self, decimals: u8) -> Result<u128, AmountError> {
        match self {
            Self::Decimal(text) => parse_amount(text, decimals),
            Self::BaseUnits(units) => Ok(*units),
        }
    }
}

/// The price of a request.
///
/// ```
/// use tower_mpp::method::Price;
/// let price = Price::new("0.01")?.description("One joke").external_id("order-42");
/// assert_eq!(price.amount().to_base_units(6)?, 10_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Price {
    amount: Amount,
    currency: Option<String>,
    recipient: Option<String>,
    memo: Option<String>,
    sponsor_fees: Option<bool>,
    expires_in: Option<Duration>,
    description: Option<Cow<'static, str>>,
    /// Why the last description given to [`Price::description`] was left
    /// out, if it was.
    description_error: Option<PriceError>,
    external_id: Option<String>,
    units: u128,
}

impl Price {
    /// A price in whole currency units, as a decimal string (`"0.50"`).
    ///
    /// # Errors
    ///
    /// [`AmountError`] if the text is not a non-negative decimal number.
    pub fn new(decimal: impl Into<String>) -> Result<Self, AmountError> {
        let decimal = decimal.into();
        // The syntax is checked now; the scale once the method's currency
        // decimals are known.
        parse_amount(&decimal, MAX_DECIMALS)?;
        Ok(Self::from_amount(Amount::Decimal(Cow::Owned(decimal))))
    }

    /// A price in base units (`10_000` is 0.01 of a 6-decimal currency).
    pub const fn base_units(units: u128) -> Self {
        Self::from_amount(Amount::BaseUnits(units))
    }

    /// A price in whole currency units, written as a decimal literal
    /// (`digits [ "." digits ]`), checked at compile time when used in a
    /// `const` (a [`StaticPrice`] needs no `expect`):
    ///
    /// ```
    /// use tower_mpp::method::{Price, StaticPrice};
    ///
    /// struct OneCent;
    /// impl StaticPrice for OneCent {
    ///     fn price() -> Price {
    ///         const { Price::decimal("0.01").described("One joke") }
    ///     }
    /// }
    /// assert_eq!(OneCent::price().amount().to_base_units(6)?, 10_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// ```compile_fail
    /// const BAD: tower_mpp::method::Price = tower_mpp::method::Price::decimal("0,01");
    /// ```
    ///
    /// # Panics
    ///
    /// When `text` is not a decimal literal: at compile time in a `const`.
    /// Use [`Price::new`] for text known only at run time.
    pub const fn decimal(text: &'static str) -> Self {
        assert!(
            is_decimal(text.as_bytes()),
            "Price::decimal takes digits with an optional `.` and more digits, e.g. \"0.01\""
        );
        Self::from_amount(Amount::Decimal(Cow::Borrowed(text)))
    }

    /// Sets a description known at compile time, checked then when used in
    /// a `const` (see [`Price::decimal`]).
    ///
    /// # Panics
    ///
    /// When `description` holds a character a header cannot carry (see
    /// [`try_description`](Self::try_description)): at compile time in a
    /// `const`.
    #[must_use]
    pub const fn described(self, description: &'static str) -> Self {
        // Nothing to drop if the check fails (a const fn runs no destructor).
        let this = std::mem::ManuallyDrop::new(self);
        assert!(
            header_text_error(description.as_bytes()).is_none(),
            "a price's description goes into a WWW-Authenticate header: printable ASCII and tabs only"
        );
        let mut whole = std::mem::ManuallyDrop::into_inner(this);
        whole.description_error = None;
        let previous = whole.description.replace(Cow::Borrowed(description));
        // A const fn cannot run a destructor; a description set before at
        // run time is a few bytes left unfreed.
        std::mem::forget(previous);
        whole
    }

    const fn from_amount(amount: Amount) -> Self {
        Self {
            amount,
            currency: None,
            recipient: None,
            memo: None,
            sponsor_fees: None,
            expires_in: None,
            description: None,
            description_error: None,
            external_id: None,
            units: 1,
        }
    }

    /// Bills `units` units at this price each (tokens, bytes, rows): only
    /// methods that meter (payment-channel sessions) are offered and
    /// accepted then, and they debit `amount x units` from the channel. A
    /// one-time charge pays a fixed price: for it, price the request as a
    /// whole instead. One unit by default.
    #[must_use]
    pub fn units(mut self, units: u128) -> Self {
        self.units = units;
        self
    }

    /// How many units the request consumes (1 by default).
    pub fn unit_count(&self) -> u128 {
        self.units
    }

    /// Charges in this currency instead of the method's default; methods
    /// that do not accept it are not offered.
    #[must_use]
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// Pays this recipient instead of the method's default; methods that
    /// cannot parse it refuse the price as a configuration error.
    #[must_use]
    pub fn recipient(mut self, recipient: impl Into<String>) -> Self {
        self.recipient = Some(recipient.into());
        self
    }

    /// A memo the payment must carry (for Tempo a `bytes32` in hex),
    /// instead of the method's default.
    #[must_use]
    pub fn memo(mut self, memo: impl Into<String>) -> Self {
        self.memo = Some(memo.into());
        self
    }

    /// Turns the server's fee sponsorship on or off for this price, where
    /// the method supports it (a method without a sponsor refuses `true` as
    /// a configuration error).
    #[must_use]
    pub fn sponsor_fees(mut self, sponsor: bool) -> Self {
        self.sponsor_fees = Some(sponsor);
        self
    }

    /// Challenges for this price expire after `expiry` instead of the
    /// registry's default.
    #[must_use]
    pub fn expires_in(mut self, expiry: Duration) -> Self {
        self.expires_in = Some(expiry);
        self
    }

    /// A human-readable purpose, shown to the payer. It must be text a
    /// header carries (printable ASCII and tabs). Other text (`"Café"`) is
    /// left out, so the route stays payable (a description is for display
    /// only): its challenges carry no description, [`check`](Self::check)
    /// and [`Payments::offers`](crate::method::Payments::offers) (the
    /// start-up path of discovery) return the [`PriceError`], and with the
    /// `tracing` feature the first challenge issued without it logs a
    /// warning. Use [`try_description`](Self::try_description) to refuse
    /// such text where the price is built, [`described`](Self::described)
    /// for a literal checked at compile time.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        let description = description.into();
        if let Some(position) = header_text_error(description.as_bytes()) {
            self.description = None;
            self.description_error = Some(PriceError {
                kind: PriceErrorKind::DescriptionNotHeaderText { position },
            });
        } else {
            self.description = Some(Cow::Owned(description));
            self.description_error = None;
        }
        self
    }

    /// Whether every setting of this price can be offered as given: the
    /// [`PriceError`] of a [`description`](Self::description) that was left
    /// out. Call it at start-up to refuse such a price there.
    ///
    /// ```
    /// use tower_mpp::method::Price;
    /// let price = Price::base_units(1).description("Un café");
    /// assert!(price.check().is_err());
    /// assert_eq!(price.description_text(), None);
    /// ```
    ///
    /// # Errors
    ///
    /// The [`PriceError`] saying what was left out and why.
    pub fn check(&self) -> Result<(), PriceError> {
        match &self.description_error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Sets a description, refused now if a header cannot carry it.
    ///
    /// ```
    /// use tower_mpp::method::Price;
    /// assert!(Price::base_units(1).try_description("A coffee").is_ok());
    /// let err = Price::base_units(1).try_description("Un café").unwrap_err();
    /// assert!(err.to_string().contains("byte 6"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`PriceError`] when `description` holds a control or non-ASCII
    /// character: the `description` parameter of `WWW-Authenticate` is a
    /// quoted-string, and peers read header values as ASCII.
    pub fn try_description(self, description: impl Into<String>) -> Result<Self, PriceError> {
        let description = description.into();
        match header_text_error(description.as_bytes()) {
            Some(position) => Err(PriceError {
                kind: PriceErrorKind::DescriptionNotHeaderText { position },
            }),
            None => Ok(self.description(description)),
        }
    }

    /// The merchant's reference, echoed in the receipt.
    #[must_use]
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// The amount.
    pub fn amount(&self) -> &Amount {
        &self.amount
    }

    /// The currency override, if any.
    pub fn currency_override(&self) -> Option<&str> {
        self.currency.as_deref()
    }

    /// The recipient override, if any.
    pub fn recipient_override(&self) -> Option<&str> {
        self.recipient.as_deref()
    }

    /// The memo override, if any.
    pub fn memo_override(&self) -> Option<&str> {
        self.memo.as_deref()
    }

    /// The fee sponsorship override, if any.
    pub fn sponsor_fees_override(&self) -> Option<bool> {
        self.sponsor_fees
    }

    /// The expiry override, if any.
    pub fn expiry_override(&self) -> Option<Duration> {
        self.expires_in
    }

    /// The description, if any.
    pub fn description_text(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The merchant's reference, if any.
    pub fn external_id_text(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

/// `digits [ "." digits ]`, the syntax of [`parse_amount`].
const fn is_decimal(text: &[u8]) -> bool {
    let mut i = 0;
    let mut digits = 0;
    let mut dot = None;
    while i < text.len() {
        match text[i] {
            b'0'..=b'9' => digits += 1,
            b'.' if dot.is_none() && digits > 0 => dot = Some(digits),
            _ => return false,
        }
        i += 1;
    }
    match dot {
        Some(before) => digits > before,
        None => digits > 0,
    }
}

/// The offset of the first byte a header's quoted-string cannot carry as
/// plain text (controls other than tab, DEL, non-ASCII), if any.
pub(crate) const fn header_text_error(text: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if !(b == b'\t' || (b >= b' ' && b <= b'~')) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A price that cannot be offered as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PriceError {
    kind: PriceErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PriceErrorKind {
    DescriptionNotHeaderText { position: usize },
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PriceErrorKind::DescriptionNotHeaderText { position } => write!(
                f,
                "the price's description holds a control or non-ASCII character at byte {position}: \
                 it is sent in a WWW-Authenticate header, which carries printable ASCII and tabs only"
            ),
        }
    }
}

impl std::error::Error for PriceError {}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.amount {
            Amount::Decimal(text) => f.write_str(text)?,
            Amount::BaseUnits(units) => write!(f, "{units} base units")?,
        }
        if let Some(currency) = &self.currency {
            write!(f, " {currency}")?;
        }
        Ok(())
    }
}

/// A price fixed at compile time, for the [`Charge`](crate::axum::Charge)
/// extractor: one type per route price.
///
/// ```
/// use tower_mpp::method::{Price, StaticPrice};
///
/// struct OneCent;
/// impl StaticPrice for OneCent {
///     fn price() -> Price {
///         Price::base_units(10_000).description("One joke")
///     }
/// }
/// ```
pub trait StaticPrice: Send + Sync + 'static {
    /// The price.
    fn price() -> Price;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_prices_are_the_checked_ones() {
        const PRICE: Price = Price::decimal("0.01").described("One joke");
        const UNITS: Price = Price::base_units(10_000);
        assert_eq!(PRICE, Price::new("0.01").unwrap().description("One joke"));
        assert_eq!(PRICE.amount().to_base_units(6), Ok(10_000));
        assert_eq!(UNITS, Price::base_units(10_000));
        for good in ["0", "12", "0.01", "1.50"] {
            assert!(is_decimal(good.as_bytes()), "{good}");
        }
        for bad in ["", ".", "1.", ".5", "1.2.3", "-1", "1e3", " 1", "0,01"] {
            assert!(!is_decimal(bad.as_bytes()), "{bad}");
            assert!(Price::new(bad).is_err(), "{bad}");
        }
    }

    /// "Café" used to be accepted here and answered every request with a
    /// 500: `try_description` refuses it where the price is built, saying
    /// why; `description` leaves it out and `check` says why.
    #[test]
    fn a_description_a_header_cannot_carry_is_refused_when_set() {
        let err = Price::base_units(1)
            .try_description("Un caf\u{e9}")
            .unwrap_err();
        assert!(err.to_string().contains("byte 6"), "{err}");
        assert!(err.to_string().contains("WWW-Authenticate"), "{err}");
        assert!(Price::base_units(1).try_description("a\nb").is_err());
        assert!(Price::base_units(1).try_description("tab\tok ~").is_ok());
        let left_out = Price::base_units(1).description("Un caf\u{e9}");
        assert_eq!(left_out.description_text(), None);
        assert!(left_out.check().unwrap_err().to_string().contains("byte 6"));
        // The last description set wins.
        assert!(left_out.description("Un cafe").check().is_ok());
    }

    #[test]
    #[should_panic(expected = "printable ASCII")]
    fn a_literal_description_a_header_cannot_carry_does_not_compile() {
        // In a `const` this panic is a compile error.
        let _ = std::hint::black_box(Price::base_units(1)).described("Caf\u{e9}");
    }

    #[test]
    fn decimal_prices_are_checked_when_built_and_scaled_by_the_method() {
        assert!(Price::new("abc").is_err());
        assert!(Price::new("-1").is_err());
        let price = Price::new("0.0000001").unwrap();
        assert_eq!(
            price.amount().to_base_units(6),
            Err(AmountError::TooManyDecimals { max: 6 })
        );
        assert_eq!(price.amount().to_base_units(18), Ok(100_000_000_000));
        assert_eq!(Price::base_units(5).amount().to_base_units(0), Ok(5));
        assert_eq!(
            Price::new("1.5").unwrap().currency("usd").to_string(),
            "1.5 usd"
        );
    }
}
