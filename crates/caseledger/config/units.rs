//! The units of the configuration, one style in flags and file alike: sizes such as `64MiB`
//! or `1GiB` and durations such as `30s`, `500ms`, `2m` or `168h`.
//!
//! This module owns the parsers the flags use ([`parse_size`], [`parse_duration`],
//! [`parse_rate`]) and the readers the file's keys use ([`bytes`], [`millis`], [`secs`],
//! [`hours`]). A file key keeps the unit in its name (`read_wait_ms`) and still takes a plain
//! number in that unit, as it always has; it also takes the flags' text (`read_wait_ms =
//! "3s"`), converted to the key's unit, which must then hold it whole.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// A rate flag's text: `PER_SECOND` or `PER_SECOND:BURST` (burst defaults to five seconds'
/// worth); `0` turns the limit off.
pub fn parse_rate(text: &str) -> Result<(u32, u32), String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("{text:?}: expected PER_SECOND or PER_SECOND:BURST, e.g. 100:500"))
    };
    match text.split_once(':') {
        Some((rate, burst)) => Ok((number(rate)?, number(burst)?)),
        None => {
            let rate = number(text)?;
            Ok((rate, rate.saturating_mul(5)))
        }
    }
}

/// Parses a size: bytes (`1048576`) or a number with a unit `KiB`, `MiB`, `GiB` (also `K`, `M`,
/// `G`, powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let invalid = || {
        format!("invalid size {text:?}: write a whole number of bytes, or with a unit like 64MiB or 1GiB")
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1024,
        "M" | "MiB" => 1024 * 1024,
        "G" | "GiB" => 1024 * 1024 * 1024,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Parses a duration such as `30s`, `500ms`, `2m` or `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits_end = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let invalid = || {
        format!("invalid duration {text:?}: write a whole number with a unit, like 30s, 500ms, 2m or 1h")
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let duration = match unit.trim() {
        "" | "s" | "sec" | "secs" => Some(Duration::from_secs(number)),
        "ms" => Some(Duration::from_millis(number)),
        "m" | "min" | "mins" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(60 * 60).map(Duration::from_secs),
        _ => return Err(invalid()),
    };
    duration.ok_or_else(|| format!("duration {text:?} is too long"))
}

/// Reads a file key in bytes: a number, or a size with a unit (`"64MiB"`).
pub fn bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(InUnit(Unit::Bytes))
}

/// Reads a file key in milliseconds: a number, or a duration with a unit (`"3s"`).
pub fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(InUnit(Unit::Millis))
}

/// Reads a file key in seconds: a number, or a duration with a unit (`"2m"`).
pub fn secs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(InUnit(Unit::Secs))
}

/// Reads a file key in hours: a number, or a duration with a unit (`"168h"`).
pub fn hours<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(InUnit(Unit::Hours))
}

/// The unit a file key is counted in.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Bytes,
    Millis,
    Secs,
    Hours,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Millis => "milliseconds",
            Unit::Secs => "seconds",
            Unit::Hours => "hours",
        }
    }

    /// The flags' text as a whole number of this unit; a bare number is already in it.
    fn count(self, text: &str) -> Result<u64, String> {
        if let Ok(number) = text.trim().parse::<u64>() {
            return Ok(number);
        }
        let (amount, per_unit) = match self {
            Unit::Bytes => return parse_size(text),
            Unit::Millis => (parse_duration(text)?.as_millis(), 1),
            Unit::Secs => (parse_duration(text)?.as_millis(), 1_000),
            Unit::Hours => (parse_duration(text)?.as_millis(), 3_600_000),
        };
        if amount % per_unit != 0 {
            return Err(format!("{text:?} is not a whole number of {}", self.name()));
        }
        u64::try_from(amount / per_unit).map_err(|_| format!("{text:?} is too large"))
    }
}

/// Reads a number in a key's unit, or the flags' text converted to it.
struct InUnit(Unit);

impl Visitor<'_> for InUnit {
    type Value = u64;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unit::Bytes => formatter.write_str("a whole number of bytes, or a size like \"64MiB\""),
            unit => write!(
                formatter,
                "a whole number of {}, or a duration like \"30s\" or \"500ms\"",
                unit.name()
            ),
        }
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<u64, E> {
        Ok(number)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<u64, E> {
        u64::try_from(number).map_err(|_| E::invalid_value(de::Unexpected::Signed(number), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        self.0.count(text).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_the_rest() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("2G"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size(" 8 KiB "), Ok(8 * 1024));
        assert!(parse_size("64MB").unwrap_err().contains("64MiB"));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("18014398509481984G")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "s",
            "-1s",
            "1.5s",
            "10 parsecs",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration(&format!("{}h", u64::MAX)).is_err());
    }

    #[test]
    fn rates_are_per_second_with_an_optional_burst() {
        assert_eq!(parse_rate("100:500"), Ok((100, 500)));
        assert_eq!(parse_rate("100"), Ok((100, 500)));
        assert_eq!(parse_rate("0"), Ok((0, 0)));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10:").is_err());
        assert!(parse_rate("-1").is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    struct Keys {
        #[serde(default, deserialize_with = "bytes")]
        size_bytes: u64,
        #[serde(default, deserialize_with = "millis")]
        wait_ms: u64,
        #[serde(default, deserialize_with = "secs")]
        interval_secs: u64,
        #[serde(default, deserialize_with = "hours")]
        ttl_hours: u64,
    }

    #[test]
    fn file_keys_take_their_unit_or_the_flags_text() {
        let keys: Keys = toml::from_str(
            "size_bytes = 1024\nwait_ms = 3000\ninterval_secs = 30\nttl_hours = 168\n",
        )
        .unwrap();
        assert_eq!(
            (
                keys.size_bytes,
                keys.wait_ms,
                keys.interval_secs,
                keys.ttl_hours
            ),
            (1024, 3000, 30, 168)
        );
        let keys: Keys = toml::from_str(
            "size_bytes = \"64MiB\"\nwait_ms = \"3s\"\ninterval_secs = \"2m\"\n\
             ttl_hours = \"48h\"\n",
        )
        .unwrap();
        assert_eq!(
            (
                keys.size_bytes,
                keys.wait_ms,
                keys.interval_secs,
                keys.ttl_hours
            ),
            (64 * 1024 * 1024, 3000, 120, 48)
        );
        let keys: Keys = toml::from_str("wait_ms = \"250\"\n").unwrap();
        assert_eq!(keys.wait_ms, 250, "a bare number is in the key's unit");
        for (text, expected) in [
            ("interval_secs = \"1500ms\"\n", "whole number of seconds"),
            ("size_bytes = \"64MB\"\n", "64MiB"),
            ("wait_ms = -1\n", "wait_ms"),
            ("ttl_hours = \"soon\"\n", "soon"),
        ] {
            let error = toml::from_str::<Keys>(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
