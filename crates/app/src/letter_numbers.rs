//! Letter numbers without gaps (contract §9): each issuer's, kind's and year's sequence, with
//! every number taken either issued or given back for the next letter.
//!
//! A number is taken before its letter is appended (the PDF carries it) and the append may
//! still fail: the case moved on under an `If-Match`, the same idempotency key answered
//! already, the store refused. A number whose letter was not recorded is *released*, and the
//! next letter of its series takes the lowest released number before drawing a new one. So
//! the numbers of a series are always 1, 2, … n issued, plus released ones waiting for their
//! letter — never a hole an auditor would ask about.
//!
//! Everything lives in the `counters` keyspace, atomically against other instances on the
//! same PostgreSQL database:
//! - `letter_number|<series>`: the highest number drawn (the keyspace's `increment`);
//! - `letter_number_released|<series>|<n, 20 digits>`: a released number, with the claim
//!   generation that may take it;
//! - `letter_number_claims|<series>|<n, 20 digits>`: how often it was taken back (the
//!   guard that lets one claimer win);
//! - `letter_number_held|<series>|<n, 20 digits>`: a number taken and not yet known to be
//!   issued or released, with the case and letter it was taken for. A process that stops
//!   between taking a number and recording its letter (a crash, a dropped request) leaves its
//!   hold behind; the hourly sweep ([`crate::App::settle_letter_number_holds`]) then looks for
//!   the letter in the case and confirms or releases the number.
//!
//! It knows nothing of cases or letters beyond the series key the domain names
//! ([`caseledger_domain::NumberTemplate::series`]).

use caseledger_domain::{CaseId, LetterId};
use caseledger_store::Keyspace;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// How many released numbers a take tries before drawing a new one (each try loses only to
/// another take of the same number).
const CLAIM_ATTEMPTS: usize = 8;

/// A number taken from a series; give it back with [`LetterNumbers::release`] unless its
/// letter was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenNumber {
    /// The series key.
    pub series: String,
    /// The number in its series, from 1.
    pub n: u64,
}

/// What a number was taken for, while its letter is not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The case of the letter.
    pub case_id: CaseId,
    /// The letter.
    pub letter_id: LetterId,
    /// When the number was taken.
    pub taken_at: DateTime<Utc>,
}

/// A released number: the claim generation that takes it next.
#[derive(Debug, Serialize, Deserialize)]
struct Released {
    generation: u64,
}

/// The sequences of letter numbers, over the `counters` keyspace.
#[derive(Debug, Clone)]
pub struct LetterNumbers {
    counters: Keyspace,
}

fn drawn_key(series: &str) -> Vec<u8> {
    format!("letter_number|{series}").into_bytes()
}

fn released_prefix(series: &str) -> Vec<u8> {
    format!("letter_number_released|{series}|").into_bytes()
}

fn released_key(series: &str, n: u64) -> Vec<u8> {
    format!("letter_number_released|{series}|{n:020}").into_bytes()
}

fn held_key(series: &str, n: u64) -> Vec<u8> {
    format!("letter_number_held|{series}|{n:020}").into_bytes()
}

const HELD_PREFIX: &[u8] = b"letter_number_held|";

/// The series and number of a held key.
fn held_number(key: &[u8]) -> Option<TakenNumber> {
    let text = std::str::from_utf8(key).ok()?;
    let rest = text.strip_prefix("letter_number_held|")?;
    let (series, n) = rest.rsplit_once('|')?;
    Some(TakenNumber {
        series: series.to_owned(),
        n: n.parse().ok()?,
    })
}

fn claims_key(series: &str, n: u64) -> Vec<u8> {
    format!("letter_number_claims|{series}|{n:020}").into_bytes()
}

/// The number at the end of a released key.
fn number_of(key: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(key).ok()?;
    text.rsplit('|').next()?.parse().ok()
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec(value).map_err(|error| AppError::Internal(error.into()))
}

impl LetterNumbers {
    /// The sequences kept in `counters`.
    pub fn new(counters: Keyspace) -> LetterNumbers {
        LetterNumbers { counters }
    }

    /// Takes the lowest released number of `series`, or else the next new one, held for
    /// `hold` until [`LetterNumbers::confirm`] or [`LetterNumbers::release`].
    pub async fn take(&self, series: &str, hold: &Hold) -> Result<TakenNumber, AppError> {
        let held = encode(hold)?;
        let released: Vec<(Vec<u8>, Released)> = self
            .counters
            .scan_after(&released_prefix(series), None, CLAIM_ATTEMPTS)
            .await?;
        for (key, entry) in released {
            let Some(n) = number_of(&key) else { continue };
            let generation = entry.generation;
            // The claim count moves from `generation - 1` to `generation` for one claimer
            // only; a loser tries the next released number.
            let claimed = self
                .counters
                .apply_guarded(
                    &claims_key(series, n),
                    generation.saturating_sub(1),
                    vec![
                        (claims_key(series, n), Some(encode(&generation)?)),
                        (key.clone(), None),
                        (held_key(series, n), Some(held.clone())),
                    ],
                    true,
                )
                .await?;
            if claimed {
                metrics::counter!("caseledger_letter_numbers_reused_total").increment(1);
                return Ok(TakenNumber {
                    series: series.to_owned(),
                    n,
                });
            }
        }
        let n = self.counters.increment(&drawn_key(series)).await?;
        // A stop between these two writes loses the number: the one window this design
        // leaves, two durable writes wide.
        self.counters
            .apply(vec![(held_key(series, n), Some(held))], true)
            .await?;
        Ok(TakenNumber {
            series: series.to_owned(),
            n,
        })
    }

    /// `taken`'s letter is recorded: the number is issued for good.
    pub async fn confirm(&self, taken: &TakenNumber) -> Result<(), AppError> {
        self.counters
            .remove(&held_key(&taken.series, taken.n))
            .await?;
        Ok(())
    }

    /// Every hold taken before `before`: numbers whose letters may or may not be recorded.
    pub async fn holds_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<(TakenNumber, Hold)>, AppError> {
        let holds: Vec<(Vec<u8>, Hold)> = self.counters.scan(HELD_PREFIX).await?;
        Ok(holds
            .into_iter()
            .filter(|(_, hold)| hold.taken_at < before)
            .filter_map(|(key, hold)| Some((held_number(&key)?, hold)))
            .collect())
    }

    /// Gives `taken` back for the next letter of its series: its letter was not recorded.
    pub async fn release(&self, taken: &TakenNumber) -> Result<(), AppError> {
        let claims: u64 = self
            .counters
            .get(&claims_key(&taken.series, taken.n))
            .await?
            .unwrap_or(0);
        let entry = Released {
            generation: claims + 1,
        };
        self.counters
            .apply(
                vec![
                    (released_key(&taken.series, taken.n), Some(encode(&entry)?)),
                    (held_key(&taken.series, taken.n), None),
                ],
                true,
            )
            .await?;
        metrics::counter!("caseledger_letter_numbers_released_total").increment(1);
        Ok(())
    }

    /// The released numbers of `series`, lowest first (for tests and the operator).
    pub async fn released(&self, series: &str) -> Result<Vec<u64>, AppError> {
        let entries: Vec<(Vec<u8>, Released)> =
            self.counters.scan(&released_prefix(series)).await?;
        Ok(entries
            .iter()
            .filter_map(|(key, _)| number_of(key))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn released_keys_sort_by_number_and_read_back() {
        let low = released_key("绵工监|opinion|2026", 9);
        let high = released_key("绵工监|opinion|2026", 10);
        assert!(low < high, "20 digits keep the numeric order");
        assert_eq!(number_of(&high), Some(10));
        assert!(high.starts_with(&released_prefix("绵工监|opinion|2026")));
        assert!(!high.starts_with(&released_prefix("绵工监|opinion|202")));
        let held = held_key("绵工监|opinion|2026", 12);
        assert_eq!(
            held_number(&held),
            Some(TakenNumber {
                series: "绵工监|opinion|2026".to_owned(),
                n: 12
            })
        );
    }
}
