//! The retry schedule of webhook delivery: parsing `0s,5s,5m,30m,2h,5h,10h,10h`, the jittered
//! delay before each attempt, and `Retry-After`.
//!
//! Everything here is pure: the jitter is an argument, so tests choose it and the delivery
//! worker draws it. Entry `n` of a schedule is the delay before attempt `n` (counted from 0) of
//! one message to one endpoint; when every entry is spent the endpoint is marked failing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The default schedule of contract §7: eight attempts over about 27 hours.
pub const DEFAULT_RETRY_SCHEDULE: &str = "0s,5s,5m,30m,2h,5h,10h,10h";

/// The largest jitter, as a fraction of a delay (±20 %).
pub const MAX_JITTER: f64 = 0.2;

/// The longest `Retry-After` honoured; a receiver cannot park an endpoint for longer.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The most entries a schedule may have.
const MAX_ENTRIES: usize = 100;

/// The longest single delay of a schedule (a week), so a typo cannot park deliveries forever.
const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The delays before each delivery attempt of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        // The default text is a constant that a unit test parses.
        DEFAULT_RETRY_SCHEDULE
            .parse()
            .unwrap_or_else(|_| RetrySchedule(vec![Duration::ZERO]))
    }
}

/// Why a schedule's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid retry schedule {text:?}: {reason}")]
pub struct InvalidSchedule {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RetrySchedule {
    /// A schedule of these delays; at least one, at most 100, each at most a week.
    pub fn new(delays: Vec<Duration>) -> Result<RetrySchedule, String> {
        if delays.is_empty() {
            return Err("name at least one delay".into());
        }
        if delays.len() > MAX_ENTRIES {
            return Err(format!("name at most {MAX_ENTRIES} delays"));
        }
        if delays.iter().any(|delay| *delay > MAX_DELAY) {
            return Err("a delay may be at most 7 days (168h)".into());
        }
        Ok(RetrySchedule(delays))
    }

    /// The delays.
    pub fn delays(&self) -> &[Duration] {
        &self.0
    }

    /// How many attempts one message gets before its endpoint is marked failing.
    pub fn attempts(&self) -> usize {
        self.0.len()
    }

    /// The delay before attempt `attempt` (from 0), moved by `jitter_fraction` (clamped to
    /// ±20 %); `None` when the schedule is spent.
    ///
    /// ```
    /// use std::time::Duration;
    /// use caseledger_webhooks::RetrySchedule;
    /// let schedule: RetrySchedule = "0s,5s,5m".parse().unwrap();
    /// assert_eq!(schedule.retry_delay(1, 0.0), Some(Duration::from_secs(5)));
    /// assert_eq!(schedule.retry_delay(2, 0.2), Some(Duration::from_secs(360)));
    /// assert_eq!(schedule.retry_delay(2, -5.0), Some(Duration::from_secs(240)));
    /// assert_eq!(schedule.retry_delay(3, 0.0), None);
    /// ```
    pub fn retry_delay(&self, attempt: usize, jitter_fraction: f64) -> Option<Duration> {
        let base = *self.0.get(attempt)?;
        let jitter = if jitter_fraction.is_finite() {
            jitter_fraction.clamp(-MAX_JITTER, MAX_JITTER)
        } else {
            0.0
        };
        Some(base.mul_f64(1.0 + jitter))
    }
}

impl FromStr for RetrySchedule {
    type Err = InvalidSchedule;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| InvalidSchedule {
            text: text.to_owned(),
            reason,
        };
        let delays = text
            .split(',')
            .map(|entry| parse_delay(entry.trim()).map_err(&invalid))
            .collect::<Result<Vec<_>, _>>()?;
        RetrySchedule::new(delays).map_err(invalid)
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self.0.iter().map(|delay| format_delay(*delay)).collect();
        f.write_str(&entries.join(","))
    }
}

/// `500ms`, `5s`, `5m`, `2h` (a whole number and a unit; a bare number is seconds).
fn parse_delay(entry: &str) -> Result<Duration, String> {
    let digits_end = entry
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(entry.len());
    let (number, unit) = entry.split_at(digits_end);
    let bad = || format!("{entry:?} is not a delay such as 0s, 500ms, 5m or 2h");
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = |factor: u64| {
        number
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{entry:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "" | "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        _ => Err(bad()),
    }
}

fn format_delay(delay: Duration) -> String {
    let millis = delay.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let seconds = delay.as_secs();
    if seconds != 0 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds != 0 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// A `Retry-After` header in delay-seconds, capped at a day; `None` for anything else (an
/// HTTP date is not honoured).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn the_default_schedule_is_eight_attempts_over_about_27_hours() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.to_string(), DEFAULT_RETRY_SCHEDULE);
        assert_eq!(schedule.attempts(), 8);
        let total: Duration = schedule.delays().iter().sum();
        assert_eq!(total, Duration::from_secs(27 * 3600 + 35 * 60 + 5));
    }

    #[test]
    fn parsing_and_display_round_trip() {
        let schedule: RetrySchedule = " 0s, 500ms ,1,2m,3h,1d".parse().unwrap();
        assert_eq!(
            schedule.delays(),
            [
                Duration::ZERO,
                Duration::from_millis(500),
                Duration::from_secs(1),
                Duration::from_secs(120),
                Duration::from_secs(3 * 3600),
                Duration::from_secs(86_400),
            ]
        );
        assert_eq!(schedule.to_string(), "0s,500ms,1s,2m,3h,24h");
        assert_eq!(
            schedule.to_string().parse::<RetrySchedule>().unwrap(),
            schedule
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "not a delay"),
            ("5s,,5m", "not a delay"),
            ("5 minutes", "not a delay"),
            ("-5s", "not a delay"),
            ("1.5s", "not a delay"),
            ("8d", "at most 7 days"),
            ("99999999999999999999h", "not a delay"),
            ("18446744073709551615h", "too long"),
        ] {
            let error = text.parse::<RetrySchedule>().unwrap_err();
            assert!(error.to_string().contains(reason), "{text:?}: {error}");
        }
        let too_many = vec!["1s"; 101].join(",");
        assert!(too_many.parse::<RetrySchedule>().is_err());
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let schedule = RetrySchedule::default();
        for attempt in 0..schedule.attempts() {
            let base = schedule.delays()[attempt];
            for step in -50..=50 {
                let jitter = f64::from(step) / 100.0;
                let delay = schedule.retry_delay(attempt, jitter).unwrap();
                assert!(delay >= base.mul_f64(0.8) && delay <= base.mul_f64(1.2));
            }
            assert_eq!(schedule.retry_delay(attempt, f64::NAN), Some(base));
            assert_eq!(schedule.retry_delay(attempt, 0.0), Some(base));
        }
        assert_eq!(
            schedule.retry_delay(7, 0.1),
            Some(Duration::from_secs(11 * 3600))
        );
        assert_eq!(schedule.retry_delay(8, 0.0), None);
    }

    #[test]
    fn retry_after_is_seconds_and_capped() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("99999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
