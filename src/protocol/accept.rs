//! The `Accept-Payment` request header: the client's payment preferences.
//!
//! `Accept-Payment: tempo/charge, stripe/*;q=0.5, */session;q=0` lists
//! `method/intent` ranges with optional weights. [`AcceptPayment::rank`]
//! filters and orders a server's offers by it: offers whose best-matching
//! range has `q=0` (or that match nothing) are dropped, the most specific
//! matching range decides an offer's weight, and equal weights keep the
//! server's order. When nothing would be left, the offers are returned as
//! they were, as the specification allows.

use std::fmt;

use super::challenge::{is_intent, is_method_id};

/// A parsed `Accept-Payment` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcceptPayment {
    ranges: Vec<PaymentRange>,
}

/// One `method/intent;q=...` entry; `None` stands for the `*` wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRange {
    method: Option<String>,
    intent: Option<String>,
    /// The weight in thousandths (0..=1000), so comparisons are exact.
    q: u16,
}

impl PaymentRange {
    /// The method, or `None` for `*`.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The intent, or `None` for `*`.
    pub fn intent(&self) -> Option<&str> {
        self.intent.as_deref()
    }

    /// The weight in thousandths: `q=0.5` is 500.
    pub fn weight(&self) -> u16 {
        self.q
    }

    fn specificity(&self) -> u8 {
        u8::from(self.method.is_some()) * 2 + u8::from(self.intent.is_some())
    }

    fn matches(&self, method: &str, intent: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.intent.as_deref().is_none_or(|i| i == intent)
    }
}

impl AcceptPayment {
    /// Parses one or more `Accept-Payment` field values (a list may span
    /// several header lines).
    ///
    /// # Errors
    ///
    /// [`AcceptPaymentError`] if any element breaks the grammar: a missing
    /// `/`, a method that is not lowercase letters, an invalid intent, a
    /// parameter other than `q`, or a `q` that is not a valid qvalue.
    ///
    /// ```
    /// use tower_mpp::protocol::AcceptPayment;
    /// let accept = AcceptPayment::parse(["tempo/*, stripe/charge;q=0.5"]).unwrap();
    /// let offers = ["stripe/charge", "lightning/charge", "tempo/charge"];
    /// let ranked = accept.rank(offers.to_vec(), |o| o.split_once('/').unwrap());
    /// assert_eq!(ranked, ["tempo/charge", "stripe/charge"]);
    /// ```
    pub fn parse<'a, I>(values: I) -> Result<Self, AcceptPaymentError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut ranges = Vec::new();
        for value in values {
            for element in value.split(',') {
                let element = element.trim_matches([' ', '\t']);
                if element.is_empty() {
                    continue;
                }
                ranges.push(parse_range(element)?);
            }
        }
        Ok(Self { ranges })
    }

    /// The ranges, in header order.
    pub fn ranges(&self) -> &[PaymentRange] {
        &self.ranges
    }

    /// The weight (in thousandths) this header gives an offer, from its most
    /// specific matching range; `None` if no range matches.
    pub fn weight(&self, method: &str, intent: &str) -> Option<u16> {
        let mut best: Option<&PaymentRange> = None;
        for range in self.ranges.iter().filter(|r| r.matches(method, intent)) {
            best = match best {
                Some(b) if b.specificity() > range.specificity() => Some(b),
                Some(b) if b.specificity() == range.specificity() && b.q >= range.q => Some(b),
                _ => Some(range),
            };
        }
        best.map(|r| r.q)
    }

    /// Filters and orders `offers` by this header; `key` gives an offer's
    /// `(method, intent)`.
    ///
    /// Returns the offers unchanged when no offer would remain.
    pub fn rank<T, F>(&self, offers: Vec<T>, mut key: F) -> Vec<T>
    where
        F: FnMut(&T) -> (&str, &str),
    {
        let mut weighted: Vec<(u16, usize)> = Vec::with_capacity(offers.len());
        for (index, offer) in offers.iter().enumerate() {
            let (method, intent) = key(offer);
            if let Some(q) = self.weight(method, intent).filter(|q| *q > 0) {
                weighted.push((q, index));
            }
        }
        if weighted.is_empty() {
            return offers;
        }
        weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut slots: Vec<Option<T>> = offers.into_iter().map(Some).collect();
        weighted
            .into_iter()
            .filter_map(|(_, index)| slots[index].take())
            .collect()
    }

    /// Ranks offers by an optional header: absent, malformed or unmatched
    /// headers leave the offers as they are.
    pub fn rank_by_header<'a, I, T, F>(values: I, offers: Vec<T>, key: F) -> Vec<T>
    where
        I: IntoIterator<Item = &'a str>,
        F: FnMut(&T) -> (&str, &str),
    {
        match Self::parse(values) {
            Ok(accept) if !accept.ranges.is_empty() => accept.rank(offers, key),
            _ => offers,
        }
    }
}

fn parse_range(element: &str) -> Result<PaymentRange, AcceptPaymentError> {
    let mut parts = element.split(';');
    let token = parts
        .next()
        .unwrap_or_default()
        .trim_end_matches([' ', '\t']);
    let (method, intent) = token
        .split_once('/')
        .ok_or_else(|| AcceptPaymentError::new(element, "expected `method/intent`"))?;
    let method = match method {
        "*" => None,
        m if is_method_id(m) => Some(m.to_owned()),
        _ => {
            return Err(AcceptPaymentError::new(
                element,
                "method must be lowercase letters or `*`",
            ));
        }
    };
    let intent = match intent {
        "*" => None,
        i if is_intent(i) => Some(i.to_owned()),
        _ => {
            return Err(AcceptPaymentError::new(
                element,
                "intent must be a token or `*`",
            ));
        }
    };
    let mut q = 1000;
    let mut seen_q = false;
    for param in parts {
        let param = param.trim_matches([' ', '\t']);
        let value = param
            .strip_prefix("q=")
            .or_else(|| param.strip_prefix("Q="))
            .ok_or_else(|| AcceptPaymentError::new(element, "only the `q` parameter is allowed"))?;
        if seen_q {
            return Err(AcceptPaymentError::new(element, "`q` given twice"));
        }
        seen_q = true;
        q = parse_qvalue(value).ok_or_else(|| {
            AcceptPaymentError::new(element, "`q` must be a qvalue between 0 and 1")
        })?;
    }
    Ok(PaymentRange { method, intent, q })
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// An `Accept-Payment` header that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptPaymentError {
    element: String,
    reason: &'static str,
}

impl AcceptPaymentError {
    fn new(element: &str, reason: &'static str) -> Self {
        Self {
            element: element.to_owned(),
            reason,
        }
    }
}

impl fmt::Display for AcceptPaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid Accept-Payment element {:?}: {}",
            self.element, self.reason
        )
    }
}

impl std::error::Error for AcceptPaymentError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(header: &str, offers: &[&'static str]) -> Vec<&'static str> {
        AcceptPayment::rank_by_header([header], offers.to_vec(), |o| o.split_once('/').unwrap())
    }

    const FOUR: [&str; 4] = [
        "tempo/charge",
        "tempo/session",
        "stripe/charge",
        "solana/charge",
    ];

    #[test]
    fn spec_examples() {
        assert_eq!(
            rank(
                "tempo/charge, tempo/session, stripe/charge;q=0.5, solana/charge;q=0.3",
                &FOUR
            ),
            FOUR
        );
        assert_eq!(
            rank(
                "tempo/*, solana/*;q=0.6, stripe/charge;q=0.2",
                &[
                    "stripe/charge",
                    "solana/charge",
                    "tempo/session",
                    "tempo/charge"
                ]
            ),
            [
                "tempo/session",
                "tempo/charge",
                "solana/charge",
                "stripe/charge"
            ]
        );
        assert_eq!(
            rank(
                "tempo/charge, tempo/session;q=0, solana/charge;q=0.8, stripe/charge;q=0.4",
                &FOUR
            ),
            ["tempo/charge", "solana/charge", "stripe/charge"]
        );
    }

    #[test]
    fn equal_weights_keep_server_order() {
        assert_eq!(
            rank(
                "tempo/charge, solana/charge",
                &["solana/charge", "tempo/charge"]
            ),
            ["solana/charge", "tempo/charge"]
        );
    }

    #[test]
    fn most_specific_range_wins() {
        assert_eq!(
            rank("*/*;q=0.1, tempo/*;q=0, tempo/charge;q=0.9", &FOUR),
            ["tempo/charge", "stripe/charge", "solana/charge"]
        );
        assert_eq!(
            rank("*/*, */session;q=0", &FOUR),
            ["tempo/charge", "stripe/charge", "solana/charge"]
        );
        let accept = AcceptPayment::parse(["tempo/*;q=0.2, */charge;q=0.9"]).unwrap();
        assert_eq!(
            accept.weight("tempo", "charge"),
            Some(200),
            "method-specific beats intent-specific"
        );
    }

    #[test]
    fn unmatched_or_malformed_headers_leave_offers_alone() {
        assert_eq!(rank("bitcoin/charge", &FOUR), FOUR);
        assert_eq!(
            rank(
                "tempo/charge;q=0, tempo/session;q=0, stripe/*;q=0, solana/*;q=0",
                &FOUR
            ),
            FOUR
        );
        for bad in [
            "tempo",
            "Tempo/charge",
            "tempo/charge;q=2",
            "tempo/charge;q=0.1234",
            "tempo/charge;level=1",
            "tempo/charge;q=0.5;q=0.4",
            "tempo/ch arge",
            "tempo/charge;q=",
            "tempo/charge;q=1.001",
        ] {
            assert!(AcceptPayment::parse([bad]).is_err(), "{bad}");
            assert_eq!(rank(&format!("stripe/charge, {bad}"), &FOUR), FOUR, "{bad}");
        }
        assert_eq!(rank("", &FOUR), FOUR);
    }

    #[test]
    fn qvalues_are_exact() {
        assert_eq!(parse_qvalue("0.001"), Some(1));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue(".5"), None);
        assert_eq!(parse_qvalue("0.-1"), None);
        let accept = AcceptPayment::parse(["a/b; q=0.5 , c/d", "e/*"]).unwrap();
        let weights: Vec<_> = accept.ranges().iter().map(PaymentRange::weight).collect();
        assert_eq!(weights, [500, 1000, 1000]);
    }
}
