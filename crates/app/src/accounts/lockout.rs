//! The lockout of a login after repeated failed sign-ins (contract §8): five failures within
//! fifteen minutes lock the login for fifteen minutes, whatever the password.
//!
//! Keyspace `sign_in_failures`: `<login>` → the times of the failures within the last period.
//! The failures are kept per login, not per address, so guessing from many addresses is
//! stopped too; they are cleared by a successful sign-in and by a new password.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::error::AppError;

/// How many failures within [`LOCKOUT_PERIOD`] lock a login.
pub const LOCKOUT_FAILURES: usize = 5;

/// The window the failures are counted in, and how long the lock lasts after the last one.
pub const LOCKOUT_PERIOD: chrono::Duration = chrono::Duration::minutes(15);

impl App {
    async fn recent_failures(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, AppError> {
        let failures: Vec<DateTime<Utc>> = self
            .storage
            .sign_in_failures
            .get(login.as_bytes())
            .await?
            .unwrap_or_default();
        Ok(failures
            .into_iter()
            .filter(|at| now - *at < LOCKOUT_PERIOD)
            .collect())
    }

    /// Seconds until the login's lock ends, when it is locked.
    pub(crate) async fn sign_in_locked(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, AppError> {
        let failures = self.recent_failures(login, now).await?;
        if failures.len() < LOCKOUT_FAILURES {
            return Ok(None);
        }
        let last = failures.iter().max().copied().unwrap_or(now);
        let left = (last + LOCKOUT_PERIOD - now).num_seconds().max(1);
        Ok(Some(u64::try_from(left).unwrap_or(1)))
    }

    /// Counts a failed sign-in of `login`.
    pub(crate) async fn record_sign_in_failure(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let mut failures = self.recent_failures(login, now).await?;
        failures.push(now);
        // Only the last few matter; a flood of failures does not grow the record.
        let keep = failures.len().saturating_sub(LOCKOUT_FAILURES);
        failures.drain(..keep);
        self.storage
            .sign_in_failures
            .put(login.as_bytes(), &failures)
            .await?;
        Ok(())
    }

    /// Forgets the failures of `login`.
    pub(crate) async fn clear_sign_in_failures(&self, login: &str) -> Result<(), AppError> {
        self.storage
            .sign_in_failures
            .remove(login.as_bytes())
            .await?;
        Ok(())
    }
}
