//! The background workers of a running service: the case projection follower, the deadline
//! watcher, the checkpoint signer, and the webhook feed follower and delivery worker. Each is one step under a loop that ends when the
//! shutdown signal turns true, so tests can also drive the steps themselves.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

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

/// Starts the projection follower and the deadline watcher (one scan every
/// `deadline_scan_interval`).
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
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(deadline_scan_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = shutdown.changed() => return,
                }
                if *shutdown.borrow() {
                    return;
                }
                match app.scan_deadlines().await {
                    Ok(0) => {}
                    Ok(recorded) => tracing::info!(recorded, "recorded missed letter deadlines"),
                    Err(error) => {
                        tracing::warn!(%error, "the deadline scan failed; retrying at the next interval")
                    }
                }
            }
        })
    };
    let checkpoints = {
        let app = Arc::clone(app);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { app.run_checkpoints_until_stopped(shutdown).await })
    };
    let mut handles = vec![projection, watcher, checkpoints];
    // The webhook feed follower and the delivery worker (one lane per endpoint).
    handles.extend(app.spawn_webhook_workers(&shutdown));
    Workers { handles }
}
