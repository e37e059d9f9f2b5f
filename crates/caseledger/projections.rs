//! `caseledger projections rebuild`: forget the case projection of a stopped service's data
//! dir and fold the whole log into it again, offline.
//!
//! This module owns that command and its summary line; the projection itself is
//! `caseledger-projections`, reached through the [`App`]. It changes nothing in the log.

use std::sync::Arc;

use anyhow::Context as _;
use caseledger_app::{App, SystemClock};

use crate::cli::RebuildArgs;
use crate::config::Config;
use crate::data_dir;
use crate::progress::progress_bar;

/// Runs `caseledger projections rebuild`.
pub async fn run_rebuild(args: &RebuildArgs) -> anyhow::Result<()> {
    let policy = Config::load_or_default(args.config.as_deref())?
        .policy()
        .context("invalid configuration")?;
    let storage = data_dir::open_storage(&args.data_dir).await?;
    let app = App::new(storage, policy, Arc::new(SystemClock))
        .await
        .context("cannot load the service's state")?;
    let head = app.head();
    let bar = progress_bar(head.position.0, "rebuilding");
    let rebuilt = rebuild_case_projection(&app, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    let cases = rebuilt?;
    tokio::task::spawn_blocking(move || drop(app))
        .await
        .context("closing the store stopped unexpectedly")?;
    println!(
        "rebuilt the case projection: {cases} cases, up to position {}",
        head.position
    );
    Ok(())
}

/// Forgets the case projection and folds the whole log into it again; returns how many cases
/// it holds.
pub async fn rebuild_case_projection(
    app: &App,
    progress: impl FnMut(u64),
) -> anyhow::Result<usize> {
    let projection = app.case_projection();
    projection
        .reset()
        .await
        .context("cannot reset the case projection")?;
    let log = Arc::clone(&app.storage().log);
    projection
        .catch_up(log.as_ref(), progress)
        .await
        .context("cannot rebuild the case projection")?;
    projection
        .len()
        .context("cannot count the rebuilt case projection")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_app::Storage;
    use caseledger_domain::CaseId;
    use uuid::Uuid;

    use super::*;
    use crate::testing::data_dir_with_events;

    #[tokio::test]
    async fn the_case_projection_is_rebuilt_from_the_log() {
        let data_dir = data_dir_with_events().await;
        let storage = Storage::open_sled(&data_dir::sled_dir(data_dir.path())).unwrap();
        let app = App::new(
            storage,
            Config::default().policy().unwrap(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let mut progress = Vec::new();
        let cases = rebuild_case_projection(&app, |position| progress.push(position))
            .await
            .unwrap();
        assert_eq!(cases, 2);
        assert_eq!(progress.last(), Some(&5));
        let case = app
            .case_projection()
            .get(CaseId(Uuid::from_u128(2)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((case.version, case.notes.len()), (3, 2));
        tokio::task::spawn_blocking(move || drop(app))
            .await
            .unwrap();
    }
}
