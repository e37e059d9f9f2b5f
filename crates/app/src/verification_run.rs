//! Verifying the whole chain in the background, for the console's auditors: one run at a time
//! per [`VerificationRuns`] (the console keeps one per process), its progress (events checked
//! of the head at its start) readable while it runs, and the last run's result kept until the
//! next starts. A second start while one runs answers the running one.
//!
//! The walk is [`App::verify_log_counting`], the same page-at-a-time check as
//! `GET /v1/audit/verify`, which adds each page's count to an atomic counter — one store per
//! page of [`crate::audit::AUDIT_PAGE`] events, nothing per event. It knows nothing of HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use caseledger_domain::Role;
use chrono::{DateTime, Utc};

use crate::access::require_role;
use crate::audit::Verification;
use crate::{App, AppError, Caller};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The chain was walked to its end.
    Verified(Verification),
    /// The walk could not be done (the store failed); the cause is in the service's log.
    Failed,
}

/// A verification run as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationStatus {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Who started it (their name).
    pub started_by: String,
    /// The head's position when it started: how many events it will check.
    pub total: u64,
    /// How many events it has checked so far.
    pub checked: u64,
    /// When it ended, and how; `None` while it runs.
    pub finished: Option<(DateTime<Utc>, RunOutcome)>,
}

impl VerificationStatus {
    /// Whether the run is still going.
    pub fn running(&self) -> bool {
        self.finished.is_none()
    }
}

#[derive(Debug)]
struct Run {
    started_at: DateTime<Utc>,
    started_by: String,
    total: u64,
    checked: Arc<AtomicU64>,
    finished: Option<(DateTime<Utc>, RunOutcome)>,
}

/// An instance's current or last verification run: the console keeps one for its process.
#[derive(Debug, Default)]
pub struct VerificationRuns {
    current: Mutex<Option<Run>>,
}

impl VerificationRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Run>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn snapshot(&self) -> Option<VerificationStatus> {
        self.lock().as_ref().map(|run| VerificationStatus {
            started_at: run.started_at,
            started_by: run.started_by.clone(),
            total: run.total,
            checked: run.checked.load(Ordering::Relaxed).min(run.total),
            finished: run.finished.clone(),
        })
    }

    /// Starts verifying `app`'s whole chain in the background, unless a run is going, and
    /// answers the run that is going (auditors and admins).
    pub fn start(
        self: &Arc<Self>,
        app: &Arc<App>,
        caller: &Caller,
    ) -> Result<VerificationStatus, AppError> {
        require_role(caller, &[Role::Admin, Role::Auditor], "verify the log")?;
        let checked = Arc::new(AtomicU64::new(0));
        {
            let mut current = self.lock();
            if current.as_ref().is_none_or(|run| run.finished.is_some()) {
                *current = Some(Run {
                    started_at: app.now(),
                    started_by: caller.name.clone(),
                    total: app.head().position.0,
                    checked: Arc::clone(&checked),
                    finished: None,
                });
                let runs = Arc::clone(self);
                let app = Arc::clone(app);
                let caller = caller.clone();
                tokio::spawn(async move {
                    let outcome = match app.verify_log_counting(&caller, &checked).await {
                        Ok(verification) => RunOutcome::Verified(verification),
                        Err(error) => {
                            tracing::error!(%error, "a verification of the chain failed");
                            RunOutcome::Failed
                        }
                    };
                    if let Some(run) = runs.lock().as_mut() {
                        run.finished = Some((app.now(), outcome));
                    }
                });
            }
        }
        self.snapshot()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the verification did not start")))
    }

    /// The running or last run, if any (auditors and admins).
    pub fn status(&self, caller: &Caller) -> Result<Option<VerificationStatus>, AppError> {
        require_role(caller, &[Role::Admin, Role::Auditor], "verify the log")?;
        Ok(self.snapshot())
    }
}

impl App {
    /// Walks the whole chain like [`App::verify_log`], adding each page's events to `checked`
    /// as it goes (auditors and admins).
    pub async fn verify_log_counting(
        &self,
        caller: &Caller,
        checked: &AtomicU64,
    ) -> Result<Verification, AppError> {
        self.verify_log_with(caller, |events| {
            checked.fetch_add(events, Ordering::Relaxed);
        })
        .await
    }
}
