//! RFC 3339 timestamps: challenge `expires` and receipt `timestamp`.
//!
//! A [`Timestamp`] keeps the text it was parsed from, because the challenge id
//! binds `expires` exactly as written: re-formatting `+00:00` as `Z` would
//! change the signature. Timestamps this crate produces are UTC with a `Z`
//! and whole seconds.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long a challenge stays valid unless configured otherwise: five minutes.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(5 * 60);

thread_local! {
    /// The last whole second [`Timestamp::after`] formatted on this thread.
    static LAST_FORMATTED: RefCell<Option<(u64, Timestamp)>> = const { RefCell::new(None) };
}

/// An RFC 3339 date-time, with the text it is written as.
#[derive(Clone)]
pub struct Timestamp {
    // Shared: every challenge of one second carries the same expiry.
    text: Arc<str>,
    at: OffsetDateTime,
}

impl Timestamp {
    /// Parses an RFC 3339 date-time (fractional seconds and any offset).
    ///
    /// # Errors
    ///
    /// [`TimestampError`] when the text is not an RFC 3339 date-time.
    ///
    /// ```
    /// use tower_mpp::protocol::Timestamp;
    /// let t = Timestamp::parse("2025-01-06T12:00:00.250+01:00").unwrap();
    /// assert_eq!(t.as_str(), "2025-01-06T12:00:00.250+01:00");
    /// assert!(Timestamp::parse("2025-01-06 12:00:00").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| TimestampError::Invalid)?;
        Ok(Self {
            text: text.into(),
            at,
        })
    }

    /// The timestamp for an instant, in UTC with `Z`, truncated to whole
    /// seconds.
    ///
    /// # Errors
    ///
    /// [`TimestampError`] for an instant RFC 3339 cannot represent (before
    /// year 0 or after year 9999).
    pub fn from_system_time(instant: SystemTime) -> Result<Self, TimestampError> {
        let at = OffsetDateTime::from(instant)
            .replace_nanosecond(0)
            .map_err(|_| TimestampError::OutOfRange)?;
        let text = at
            .format(&Rfc3339)
            .map_err(|_| TimestampError::OutOfRange)?;
        Ok(Self {
            text: text.into(),
            at,
        })
    }

    /// The current time, in UTC with whole seconds.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
            .expect("the system clock is within RFC 3339 range")
    }

    /// The time `duration` from now: an expiry for a challenge issued now.
    ///
    /// # Errors
    ///
    /// [`TimestampError`] if the result is past year 9999.
    pub fn after(duration: Duration) -> Result<Self, TimestampError> {
        let instant = SystemTime::now()
            .checked_add(duration)
            .ok_or(TimestampError::OutOfRange)?;
        // Every challenge issued in one second carries the same expiry:
        // each thread formats it once per second.
        let Ok(since_epoch) = instant.duration_since(SystemTime::UNIX_EPOCH) else {
            return Self::from_system_time(instant);
        };
        let second = since_epoch.as_secs();
        LAST_FORMATTED.with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                Some((cached, timestamp)) if *cached == second => Ok(timestamp.clone()),
                _ => {
                    let timestamp = Self::from_system_time(instant)?;
                    *last = Some((second, timestamp.clone()));
                    Ok(timestamp)
                }
            }
        })
    }

    /// The text as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant this timestamp denotes.
    pub fn to_system_time(&self) -> SystemTime {
        SystemTime::from(self.at)
    }

    /// Whether the instant is at or before `now`.
    pub fn is_reached(&self, now: SystemTime) -> bool {
        self.to_system_time() <= now
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Timestamp {}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A timestamp that is not a valid RFC 3339 date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// The text is not an RFC 3339 date-time.
    Invalid,
    /// The instant is outside the years RFC 3339 can write.
    OutOfRange,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "not an RFC 3339 date-time (e.g. 2025-01-15T12:05:00Z)",
            Self::OutOfRange => "instant outside the range of RFC 3339 date-times",
        })
    }
}

impl std::error::Error for TimestampError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_peers_send() {
        for text in [
            "2025-01-06T12:00:00Z",
            "2025-01-06T12:00:00.123Z",
            "2025-01-06T12:00:00.123456789Z",
            "2025-01-06T13:00:00+01:00",
            "2025-01-06T12:00:00+00:00",
            "2025-01-06 12:00:00Z", // RFC 3339 section 5.6 allows a space
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(t.as_str(), text);
        }
        let a = Timestamp::parse("2025-01-06T13:00:00+01:00").unwrap();
        let b = Timestamp::parse("2025-01-06T12:00:00Z").unwrap();
        assert_eq!(a.to_system_time(), b.to_system_time());
        assert_ne!(a, b, "different wire text is a different value");
    }

    #[test]
    fn rejects_other_forms() {
        for text in [
            "",
            "2025-01-06",
            "2025-01-06T12:00:00",
            "1736164800",
            "Mon, 06 Jan 2025 12:00:00 GMT",
            "2025-13-06T12:00:00Z",
            " 2025-01-06T12:00:00Z",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn produced_timestamps_are_utc_whole_seconds() {
        let t = Timestamp::from_system_time(
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_736_164_800_750),
        )
        .unwrap();
        assert_eq!(t.as_str(), "2025-01-06T12:00:00Z");
        let later = Timestamp::after(DEFAULT_EXPIRY).unwrap();
        assert!(!later.is_reached(SystemTime::now()));
        assert!(later.is_reached(SystemTime::now() + Duration::from_secs(301)));
        // From the per-second cache, or formatted afresh: the same value.
        for duration in [DEFAULT_EXPIRY, Duration::from_secs(3600), DEFAULT_EXPIRY] {
            let cached = Timestamp::after(duration).unwrap();
            let fresh = Timestamp::from_system_time(SystemTime::now() + duration).unwrap();
            let skew = fresh
                .to_system_time()
                .duration_since(cached.to_system_time());
            assert!(
                skew.is_ok_and(|d| d <= Duration::from_secs(1)),
                "{cached:?} {fresh:?}"
            );
            assert_eq!(cached, Timestamp::parse(cached.as_str()).unwrap());
        }
    }
}
