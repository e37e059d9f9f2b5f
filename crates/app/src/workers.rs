//! The background workers of a running service: the case projection follower, the deadline
//! watcher, the checkpoint signer, and the webhook feed follower and delivery worker. Each is
//! one step under a loop that ends when the shutdown signal turns true, so tests can also
//! drive the steps themselves.
//!
//! Several instances may share one store (PostgreSQL). Every instance follows the log with
//! its own case projection and runs the deadline watcher (the domain refuses a second record
//! of one missed deadline, and the version check makes racing watchers meet there). The
//! checkpoint signer and the webhook feed and delivery run only in the instance that holds
//! the leader lease ([`caseledger_store::Lease`]); when it loses the lease they stop, and the
//! instance that takes it over reloads the feed and the endpoints from the store and goes
//! on from the stored cursors. On a shared store every instance also re-reads the tokens and
//! the webhook endpoints every few seconds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tokens::TOKEN_REFRESH_EVERY;
use crate::App;

/// The running workers; stop them with the shutdown sender given to [`spawn_workers`].
#[derive(Debug)]
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Waits for every worker to finish (after shutdown).
    pub async fn join(self) {
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

/// How often expired idempotency records are removed.
pub const IDEMPOTENCY_SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// How long after start the first sweep runs (not at once: a start is busy enough).
const IDEMPOTENCY_SWEEP_DELAY: Duration = Duration::from_secs(60);

/// Starts the projection follower and the deadline watcher (one scan every
/// `deadline_scan_interval`).
///
/// It also sweeps expired idempotency records and console sessions every
/// [`IDEMPOTENCY_SWEEP_EVERY`].
pub fn spawn_workers(
    app: &Arc<App>,
    deadline_scan_interval: Duration,
    shutdown: watch::Receiver<bool>,
) -> Workers {
    let projection = {
        let app = Arc::clone(app);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let log = Arc::clone(&app.storage().log);
            app.case_projection().run_until_stopped(log, shutdown).await;
        })
    };
    let watcher = {
        let app = Arc::clone(app);
        tokio::spawn(every(
            tokio::time::interval(deadline_scan_interval),
            shutdown.clone(),
            move || {
                let app = Arc::clone(&app);
                async move {
                    match app.scan_deadlines().await {
                        Ok(0) => {}
                        Ok(recorded) => {
                            tracing::info!(recorded, "recorded missed letter deadlines")
                        }
                        Err(error) => tracing::warn!(
                            %error,
                            "the deadline scan failed; retrying at the next interval"
                        ),
                    }
                }
            },
        ))
    };
    // The work of the leader: the checkpoint signer, the webhook feed follower and the
    // delivery worker (one lane per endpoint).
    let leader = {
        let app = Arc::clone(app);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { run_leader_work(app, shutdown).await })
    };
    // Idempotency records past their period go, shortly after start and then every hour (a
    // key is kept at least its period, at most an hour longer), and so do console sessions
    // past their idle or absolute limit (refused at their next use whether swept or not: the
    // sweep only keeps the store small), and the bytes of uploads no event followed within an
    // hour. Every instance may sweep: a sweep removes only records past their cut-off.
    let sweeper = {
        let app = Arc::clone(app);
        tokio::spawn(every(
            tokio::time::interval_at(
                tokio::time::Instant::now() + IDEMPOTENCY_SWEEP_DELAY,
                IDEMPOTENCY_SWEEP_EVERY,
            ),
            shutdown.clone(),
            move || {
                let app = Arc::clone(&app);
                async move {
                    match app.expire_idempotency_records().await {
                        Ok(0) => {}
                        Ok(removed) => {
                            tracing::info!(removed, "removed expired idempotency records")
                        }
                        Err(error) => tracing::warn!(
                            %error,
                            "the idempotency sweep failed; retrying in an hour"
                        ),
                    }
                    match app.settle_letter_number_holds().await {
                        Ok(0) => {}
                        Ok(settled) => tracing::info!(
                            settled,
                            "settled letter numbers held by a stopped command"
                        ),
                        Err(error) => tracing::warn!(
                            %error,
                            "the letter-number sweep failed; retrying in an hour"
                        ),
                    }
                    match app.expire_sessions().await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, "removed expired console sessions"),
                        Err(error) => tracing::warn!(
                            %error,
                            "the session sweep failed; retrying in an hour"
                        ),
                    }
                    let cut_off = app.now()
                        - chrono::Duration::from_std(crate::attachments::ABANDONED_UPLOAD_AGE)
                            .unwrap_or(chrono::Duration::hours(1));
                    if let Err(error) = app.sweep_abandoned_uploads(cut_off).await {
                        tracing::warn!(%error, "the upload sweep failed; retrying in an hour");
                    }
                }
            },
        ))
    };
    let mut handles = vec![projection, watcher, leader, sweeper];
    if app.storage().shared {
        let app = Arc::clone(app);
        let shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move {
            refresh_shared_state(app, shutdown).await
        }));
    }
    Workers { handles }
}

/// Runs `step` at every tick of `ticks` until `shutdown` turns true; a tick missed while a
/// step ran is delayed, not bunched up.
async fn every<Step, Run>(
    mut ticks: tokio::time::Interval,
    mut shutdown: watch::Receiver<bool>,
    mut step: Step,
) where
    Step: FnMut() -> Run,
    Run: std::future::Future<Output = ()>,
{
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        step().await;
    }
}

/// Runs the leader's work for as long as this instance holds the leader lease, again each time
/// it takes the lease, until `shutdown` turns true.
async fn run_leader_work(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let lease = app.storage().leader.clone();
    let mut held = lease.subscribe();
    let gauge = metrics::gauge!("caseledger_lease_held", "lease" => lease.name().to_owned());
    loop {
        gauge.set(0.0);
        let taken = tokio::select! {
            taken = held.wait_for(|held| *held) => taken.is_ok(),
            _ = shutdown.changed() => false,
        };
        if !taken || *shutdown.borrow() {
            return;
        }
        gauge.set(1.0);
        tracing::info!(
            lease = lease.name(),
            "this instance signs checkpoints and delivers webhooks"
        );
        if app.storage().shared {
            // Another instance may have moved the feed and the cursors since this one last
            // wrote them.
            if let Err(error) = app.reload_webhooks().await {
                tracing::error!(%error, "cannot reload the webhook feed and endpoints; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let (stop_term, term) = watch::channel(false);
        let mut handles = vec![{
            let app = Arc::clone(&app);
            let term = term.clone();
            tokio::spawn(async move { app.run_checkpoints_until_stopped(term).await })
        }];
        handles.extend(app.spawn_webhook_workers(&term));
        let lease_lost = async {
            // A lease whose keeper is gone (sled's, always held) never changes again.
            if held.wait_for(|held| !*held).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let lost = tokio::select! {
            () = lease_lost => true,
            _ = shutdown.changed() => false,
        };
        let _ = stop_term.send(true);
        for handle in handles {
            let _ = handle.await;
        }
        if !lost {
            gauge.set(0.0);
            return;
        }
        tracing::warn!(
            lease = lease.name(),
            "lost the leader lease; stopped signing checkpoints and delivering webhooks"
        );
    }
}

/// On a shared store: re-reads the tokens and the webhook endpoints every
/// [`TOKEN_REFRESH_EVERY`], so what another instance issued, revoked or changed holds here too.
async fn refresh_shared_state(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(TOKEN_REFRESH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopped = tokio::select! {
            _ = ticks.tick() => false,
            _ = shutdown.changed() => true,
        };
        if stopped {
            return;
        }
        if let Err(error) = app.refresh_shared_state().await {
            tracing::warn!(%error, "cannot re-read the tokens and webhook endpoints; retrying");
        }
    }
}
