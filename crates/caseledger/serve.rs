//! `caseledger serve`: startup, the first admin token, the HTTP server and graceful shutdown.
//!
//! This module owns the order of startup (configuration → working-day calendar → data dir →
//! checkpoint signing key → store → [`App`] → initial admin token → listener → metrics →
//! router) and of shutdown (stop
//! accepting, drain in-flight requests, close the store). [`Server`] is the started service,
//! bound but not yet serving, so tests can read its real address after binding port 0; [`run`]
//! is what the binary does with it. Routes live in `caseledger-api`, the service in
//! `caseledger-app`; this module only wires them together.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use caseledger_api::{router, AppState};
use caseledger_app::{spawn_workers, App, AppSetup, Clock, Storage, SystemClock};
use caseledger_store::checkpoint::public_key_base64;
use caseledger_store::SledLogOptions;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{HttpLimits, ServeArgs, Settings, StoreSelection};
use crate::data_dir::{self, INITIAL_ADMIN_SETUP_URL_FILE, INITIAL_ADMIN_TOKEN_FILE};
use crate::signing_key::{self, KeySource};

/// How much longer than one request's timeout shutdown waits for in-flight requests.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// How often the metrics recorder drains its histograms.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Runs `caseledger serve` until SIGTERM or Ctrl-C.
pub async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    // Listen for signals before anything else, so that a SIGTERM during startup is not lost.
    let shutdown = shutdown_signal()?;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let upkeep = tokio::spawn(run_metrics_upkeep(metrics.clone()));
    let server = Server::build(settings, Some(metrics)).await?;
    let served = server.run_until_stopped(shutdown).await;
    upkeep.abort();
    served
}

/// The started service: store open, first admin token written, listener bound.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: Arc<App>,
    state: AppState,
    console: caseledger_console::ConsoleState,
    initial_admin_token_file: Option<PathBuf>,
    initial_admin_setup_url_file: Option<PathBuf>,
    drain_limit: Duration,
    deadline_scan_interval: Duration,
    http_limits: HttpLimits,
}

impl Server {
    /// Opens the store in the data dir, builds the service, writes the initial admin token on
    /// first start and binds the listener. `metrics` serves `/metrics`; the caller installs the
    /// recorder, since a process can hold only one.
    pub async fn build(
        settings: Settings,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Server> {
        Server::build_with_clock(settings, metrics, Arc::new(SystemClock)).await
    }

    /// [`Server::build`] with the service's clock given: `caseledger demo` plays eighteen
    /// months of an office's work through the real service on a clock it moves forward.
    pub async fn build_with_clock(
        settings: Settings,
        metrics: Option<PrometheusHandle>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Server> {
        let data_dir = settings.data_dir.clone();
        tracing::info!(
            data_dir = %data_dir.display(),
            store = %settings.store,
            departments = settings.policy.departments.len(),
            body_limit_bytes = settings.api.body_limit_bytes,
            read_wait = ?settings.api.read_wait,
            request_timeout = ?settings.api.request_timeout,
            body_read_timeout = ?settings.api.body_read_timeout,
            header_read_timeout = ?settings.http.header_read_timeout,
            min_free_space_bytes = settings.min_free_space_bytes,
            deadline_scan_interval = ?settings.deadline_scan_interval,
            webhook_retry_schedule = %settings.webhook_retry_schedule,
            "starting caseledger {}",
            env!("CARGO_PKG_VERSION")
        );

        // The calendar before anything is opened: a bad calendar file stops the start at once.
        let calendar = load_calendar(settings.calendar_dir.as_deref())?;
        let printing = load_printing(&settings.printing)?;
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        // The key before the store: a bad key file should stop the start before anything else.
        let (signing_key, key_source) =
            signing_key::load_or_create(settings.signing_key.as_deref(), &data_dir)?;
        let public_key = public_key_base64(&signing_key);
        // The path and the public key only: the key itself never goes to the log.
        match &key_source {
            KeySource::Created(path) => tracing::info!(
                path = %path.display(),
                public_key = %public_key,
                "first start: made the checkpoint signing key in {}",
                path.display()
            ),
            KeySource::Given(path) | KeySource::DataDir(path) => tracing::info!(
                path = %path.display(),
                public_key = %public_key,
                "checkpoints are signed with the key in {}",
                path.display()
            ),
        }
        let storage = match &settings.store {
            StoreSelection::Sled => {
                let sled_dir = data_dir::sled_dir(&data_dir);
                let options = SledLogOptions {
                    min_free_space_bytes: settings.min_free_space_bytes,
                    cache_capacity_bytes: settings.sled_cache_bytes,
                    ..SledLogOptions::default()
                };
                tokio::task::spawn_blocking(move || Storage::open_sled_with(&sled_dir, options))
                    .await
                    .context("opening the store stopped unexpectedly")?
                    .context("cannot open the store")?
            }
            // The data dir still holds this instance's signing key and first admin token file.
            StoreSelection::Postgres(url) => {
                if let Some(warning) = caseledger_store::postgres_sslmode_warning(url) {
                    tracing::warn!("{warning}");
                }
                Storage::open_postgres(url)
                    .await
                    .with_context(|| format!("cannot open the store {}", settings.store))?
            }
        };
        // Every instance on one store must sign with the same key, or auditors would be told
        // different public keys and find checkpoints that do not verify.
        if let Some(last) = caseledger_app::audit::last_checkpoint(&storage)
            .await
            .context("cannot read the checkpoints")?
        {
            if last.verify(&public_key).is_err() {
                anyhow::bail!(
                    "the checkpoints in this store were signed with another key than {} \
                     (public key {public_key}); start every instance with the same \
                     --signing-key",
                    key_source.path().display()
                );
            }
        }
        // Personal-data keys are wrapped by the KEK file's key; a store whose keys another KEK
        // wrapped gets no new one. Then every key is (re)wrapped and the erasure register
        // reconciled with the log, before any request is taken.
        let holds_wrapped = caseledger_app::erasure::holds_wrapped_keys(&storage)
            .await
            .context("cannot read the personal-data keys")?;
        let kek = crate::kek::load_or_create(
            settings.kek_file.as_deref(),
            settings.previous_kek_file.as_deref(),
            &data_dir,
            holds_wrapped,
        )?;
        let kek_id = kek
            .keyring
            .current()
            .map(|kek| kek.id().to_owned())
            .unwrap_or_default();
        if kek.created {
            tracing::info!(
                path = %kek.path.display(),
                kek = %kek_id,
                "first start: made the key-encryption key in {}; keep a copy apart from \
                 backups, and outside the data dir in production",
                kek.path.display()
            );
        } else {
            tracing::info!(
                path = %kek.path.display(),
                kek = %kek_id,
                "personal-data keys are wrapped with the key-encryption key in {}",
                kek.path.display()
            );
        }
        let setup = AppSetup {
            options: settings.app,
            signing_key: Some(signing_key),
            key_encryption: kek.keyring,
            webhook_delivery: caseledger_app::webhooks::DeliveryConfig {
                schedule: settings.webhook_retry_schedule.clone(),
                egress: settings.webhook_egress.clone(),
                ..caseledger_app::webhooks::DeliveryConfig::default()
            },
            calendar: Some(calendar),
            timezone: settings.console.timezone,
            printing: Some(printing),
            attachments: settings.attachments.clone(),
        };
        let app = App::with_setup(storage, settings.policy.clone(), clock, setup)
            .await
            .context("cannot start the service")?;
        let upkeep = app
            .prepare_personal_data_keys()
            .await
            .context("cannot prepare the personal-data keys")?;
        tracing::info!(
            rewrapped = upkeep.rewrapped,
            erasures_reconciled = upkeep.reconciled,
            erased_keys_removed = upkeep.keys_removed,
            "personal-data keys wrapped and erasures reconciled"
        );
        if !app.storage().shared {
            // The embedded store is this process's alone: no upload is under way, so every
            // upload without its event was cut off by a stop and its bytes go now.
            let sweep = app
                .sweep_abandoned_uploads(app.now())
                .await
                .context("cannot sweep the uploads a stop cut off")?;
            if sweep.removed > 0 {
                tracing::warn!(
                    uploads = sweep.removed,
                    bytes = sweep.removed_bytes,
                    "removed the bytes of uploads a stop cut off before their event"
                );
            }
        }
        for warning in app.readiness_warnings() {
            tracing::warn!("{warning}");
        }
        let app = Arc::new(app);

        let initial_admin_token_file = write_initial_admin_token(&app, &data_dir).await?;
        if let Some(path) = &initial_admin_token_file {
            // The path only: the token itself never goes to the log.
            tracing::info!(
                path = %path.display(),
                "first start: wrote the initial admin token to {}",
                path.display()
            );
        }

        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local_addr = listener
            .local_addr()
            .context("cannot read the listener's address")?;

        let base_url = settings
            .console
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"));
        let initial_admin_setup_url_file =
            write_initial_admin_setup_url(&app, &data_dir, &base_url).await?;
        if let Some(path) = &initial_admin_setup_url_file {
            // The path only: the link is a secret and never goes to the log.
            tracing::info!(
                path = %path.display(),
                "first start: wrote the first admin account's one-time setup link to {}",
                path.display()
            );
        }
        let console =
            caseledger_console::ConsoleState::new(Arc::clone(&app), settings.console.clone())
                .context("cannot build the console")?;
        let mut state = AppState::new(Arc::clone(&app), settings.api.clone())
            .with_public_url(settings.console.public_url.clone());
        if let Some(metrics) = metrics {
            state = state.with_metrics(metrics);
        }
        if let Some(path) = &settings.metrics_token_file {
            state = state.with_metrics_token(read_metrics_token(path)?);
        }
        Ok(Server {
            listener,
            local_addr,
            app,
            state,
            console,
            initial_admin_token_file,
            initial_admin_setup_url_file,
            drain_limit: settings.api.request_timeout + DRAIN_GRACE,
            deadline_scan_interval: settings.deadline_scan_interval,
            http_limits: settings.http,
        })
    }

    /// The address the listener is bound to (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The service.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Where the first admin token was written, when this start made one.
    pub fn initial_admin_token_file(&self) -> Option<&Path> {
        self.initial_admin_token_file.as_deref()
    }

    /// Where the first admin account's setup link was written, when this start made one.
    pub fn initial_admin_setup_url_file(&self) -> Option<&Path> {
        self.initial_admin_setup_url_file.as_deref()
    }

    /// Closes the store without serving (what `caseledger demo` does once the store is filled).
    pub async fn close(self) {
        let Server {
            app,
            state,
            console,
            ..
        } = self;
        drop(state);
        drop(console);
        close(app).await;
    }

    /// Serves until `shutdown` completes, then stops accepting connections, lets in-flight
    /// requests finish (for at most the request timeout plus a few seconds) and closes the
    /// store.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Server {
            listener,
            local_addr,
            app,
            state,
            console,
            drain_limit,
            deadline_scan_interval,
            http_limits,
            initial_admin_token_file,
            initial_admin_setup_url_file,
            ..
        } = self;
        // The projection follower and the deadline watcher run beside the server and stop
        // after it.
        let (stop_workers, workers_stopping) = tokio::sync::watch::channel(false);
        let workers = spawn_workers(&app, deadline_scan_interval, workers_stopping);
        let stopping = Arc::new(tokio::sync::Notify::new());
        let stopping_signal = Arc::clone(&stopping);
        let serving = crate::http_server::serve(
            listener,
            // The console's pages are counted and timed like the API's routes.
            caseledger_console::router(console)
                .layer(axum::middleware::from_fn(
                    caseledger_api::metrics::track_requests,
                ))
                .merge(router(state)),
            http_limits,
            async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight requests");
                stopping_signal.notify_one();
            },
        );
        // Tests read the port from this line; it must stay one line with the bound address.
        tracing::info!("caseledger listening on http://{local_addr}");
        if let Some(path) = &initial_admin_token_file {
            // Once, on the first start: where a newcomer goes next. Paths only, no secret.
            tracing::info!(
                docs = %format!("http://{local_addr}/docs"),
                admin_token_file = %path.display(),
                "first start: the API and its interactive docs are at http://{local_addr}/docs; \
                 the first admin's token is in {} (README, \"Your first case\")",
                path.display()
            );
        }
        if let Some(path) = &initial_admin_setup_url_file {
            // Once, on the first start: where a person goes next. The path only, no secret.
            tracing::info!(
                console = %format!("http://{local_addr}/"),
                admin_setup_url_file = %path.display(),
                "first start: open the setup link in {} in a browser to choose the admin \
                 account's password, then sign in at http://{local_addr}/ (README, \"Use it in \
                 the browser\")",
                path.display()
            );
        }

        let drain_expired = async {
            stopping.notified().await;
            tokio::time::sleep(drain_limit).await;
        };
        tokio::select! {
            () = serving => {}
            () = drain_expired => tracing::warn!(
                drain_limit_secs = drain_limit.as_secs(),
                "in-flight requests did not finish in time; stopping without them"
            ),
        }
        let _ = stop_workers.send(true);
        workers.join().await;
        close(app).await;
        tracing::info!("caseledger stopped");
        Ok(())
    }
}

/// Closes the store once nothing else holds the service, so the log writer finishes its last
/// batch and releases the data dir before the process exits.
async fn close(app: Arc<App>) {
    match Arc::try_unwrap(app) {
        // Dropping the last handle joins the log writer's thread: blocking work.
        Ok(app) => {
            if tokio::task::spawn_blocking(move || drop(app))
                .await
                .is_err()
            {
                tracing::warn!("closing the store stopped unexpectedly");
            }
        }
        Err(_still_shared) => tracing::warn!(
            "requests still hold the store; it closes when they end or the process exits"
        ),
    }
}

/// Issues the first admin token when the store never had one, and writes it, alone on one
/// line, to `<data-dir>/initial-admin-token` with mode 0600. Returns the file's path when it
/// did.
async fn write_initial_admin_token(app: &App, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    write_secret_once(data_dir, INITIAL_ADMIN_TOKEN_FILE, || async {
        let issued = app
            .issue_initial_admin_token()
            .await
            .context("cannot issue the initial admin token")?;
        Ok(issued.map(|issued| issued.token))
    })
    .await
}

/// Creates the first admin account, `admin`, when the store never had it, and writes its
/// one-time setup link (under `base_url`), alone on one line, to
/// `<data-dir>/initial-admin-setup-url` with mode 0600 (contract §8). Returns the file's path
/// when it did.
async fn write_initial_admin_setup_url(
    app: &App,
    data_dir: &Path,
    base_url: &str,
) -> anyhow::Result<Option<PathBuf>> {
    write_secret_once(data_dir, INITIAL_ADMIN_SETUP_URL_FILE, || async {
        let created = app
            .create_initial_admin_user()
            .await
            .context("cannot create the initial admin account")?;
        Ok(created.map(|created| created.setup_url(base_url)))
    })
    .await
}

/// Writes the secret `issue` makes, alone on one line, to `<data-dir>/<name>` with mode 0600;
/// `issue` answers `None` when the store made it before (the file is then left alone).
async fn write_secret_once<F, Fut>(
    data_dir: &Path,
    name: &str,
    issue: F,
) -> anyhow::Result<Option<PathBuf>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<String>>>,
{
    let path = data_dir.join(name);
    let staging = data_dir.join(format!("{name}.new"));
    // The secret is stored before it is written out, and a store that holds one never makes
    // another. So prove the data dir writable first, with the file the secret will go to: a
    // failure then costs nothing. `create_new` with `mode` makes the file 0600 from its first
    // moment; a staging file left by an interrupted start holds no live secret.
    remove_if_present(&staging)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let issued = match issue().await {
        Ok(issued) => issued,
        Err(error) => {
            drop(file);
            remove_if_present(&staging)?;
            return Err(error);
        }
    };
    let Some(secret) = issued else {
        drop(file);
        remove_if_present(&staging)?;
        return Ok(None);
    };
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", staging.display()))?;
    drop(file);
    // An older file here belongs to a store that was since removed; its secret is dead.
    std::fs::rename(&staging, &path)
        .with_context(|| format!("cannot rename {} to {}", staging.display(), path.display()))?;
    std::fs::File::open(data_dir)
        .and_then(|directory| directory.sync_all())
        .with_context(|| format!("cannot sync the data dir {}", data_dir.display()))?;
    Ok(Some(path))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Completes at the first SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is
/// called, not when the future is first polled.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    Ok(async move {
        let received = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = received, "received a shutdown signal");
    })
}

async fn run_metrics_upkeep(metrics: PrometheusHandle) {
    let mut interval = tokio::time::interval(METRICS_UPKEEP_EVERY);
    loop {
        interval.tick().await;
        metrics.run_upkeep();
    }
}

/// The official working-day calendar: the one built in, with the files of `--calendar-dir`
/// when it is given. A bad file stops the start, named with its entry.
fn load_calendar(dir: Option<&Path>) -> anyhow::Result<caseledger_domain::Calendar> {
    let calendar = caseledger_app::calendar::load(dir).with_context(|| match dir {
        Some(dir) => format!(
            "cannot load the working-day calendar (--calendar-dir {})",
            dir.display()
        ),
        None => "cannot load the working-day calendar built in".to_owned(),
    })?;
    let years: Vec<i32> = calendar.covered_years().collect();
    tracing::info!(
        version = calendar.version(),
        first_year = years.first(),
        last_year = years.last(),
        "working days follow the calendar {} ({} years of official notices)",
        calendar.version(),
        years.len()
    );
    Ok(calendar)
}

/// How letters are printed: the templates and fonts built in, with `--template-dir` and
/// `--font-dir` when given. A template that does not compile or a font that does not load
/// stops the start, named.
fn load_printing(
    settings: &crate::config::PrintingSettings,
) -> anyhow::Result<caseledger_app::LetterPrinting> {
    let typesetter = caseledger_documents::Typesetter::new(
        settings.template_dir.as_deref(),
        settings.font_dir.as_deref(),
    )
    .context("cannot load the letter templates and fonts (--template-dir, --font-dir)")?;
    tracing::info!(
        template_dir = settings
            .template_dir
            .as_ref()
            .map(|dir| dir.display().to_string()),
        font_dir = settings
            .font_dir
            .as_ref()
            .map(|dir| dir.display().to_string()),
        "letters are typeset with the templates and fonts {}",
        match (&settings.template_dir, &settings.font_dir) {
            (None, None) => "built in",
            _ => "built in and the directories given",
        }
    );
    Ok(caseledger_app::LetterPrinting::new(
        typesetter,
        settings.letterhead.clone(),
    ))
}

/// The token in `path` (the file's text, trimmed), which `/metrics` then requires; an empty
/// file is refused, since it would make the empty token the password.
fn read_metrics_token(path: &Path) -> anyhow::Result<caseledger_api::MetricsToken> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the metrics token file {}", path.display()))?;
    anyhow::ensure!(
        text.trim().len() >= 16,
        "the metrics token file {} must hold a token of at least 16 characters",
        path.display()
    );
    Ok(caseledger_api::MetricsToken::new(text.trim()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn settings_in(data_dir: &Path) -> Settings {
        Settings::with_defaults(
            data_dir,
            "127.0.0.1:0".parse().unwrap(),
            StoreSelection::Sled,
        )
    }

    #[tokio::test]
    async fn first_start_writes_the_token_file_and_later_starts_do_not() {
        let directory = tempfile::tempdir().unwrap();
        let data_dir = directory.path().join("data");

        let server = Server::build(settings_in(&data_dir), None).await.unwrap();
        assert_ne!(server.local_addr().port(), 0, "the real port is known");
        let path = server.initial_admin_token_file().unwrap().to_owned();
        assert_eq!(path, data_dir.join(INITIAL_ADMIN_TOKEN_FILE));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        let token = text.strip_suffix('\n').unwrap();
        assert!(!token.is_empty() && !token.contains(char::is_whitespace));
        assert!(server.app().authenticate(token).is_some());
        assert!(!data_dir
            .join(format!("{INITIAL_ADMIN_TOKEN_FILE}.new"))
            .exists());

        server.run_until_stopped(async {}).await.unwrap();

        let again = Server::build(settings_in(&data_dir), None).await.unwrap();
        assert_eq!(again.initial_admin_token_file(), None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(again.app().authenticate(token).is_some());
        assert!(!data_dir
            .join(format!("{INITIAL_ADMIN_TOKEN_FILE}.new"))
            .exists());
    }

    #[tokio::test]
    async fn the_signing_key_is_made_at_first_start_and_kept() {
        let directory = tempfile::tempdir().unwrap();
        let data_dir = directory.path().join("data");
        let server = Server::build(settings_in(&data_dir), None).await.unwrap();
        let key_file = data_dir.join(data_dir::SIGNING_KEY_FILE);
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = crate::signing_key::read_key_file(&key_file).unwrap();
        let public_key = server.app().public_key().unwrap();
        assert_eq!(public_key, public_key_base64(&key));
        server.run_until_stopped(async {}).await.unwrap();

        let again = Server::build(settings_in(&data_dir), None).await.unwrap();
        assert_eq!(again.app().public_key(), Some(public_key));
        again.run_until_stopped(async {}).await.unwrap();
    }

    #[tokio::test]
    async fn a_given_signing_key_is_used_and_a_bad_one_stops_the_start() {
        let directory = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let key_file = directory.path().join("checkpoint-key");
        std::fs::write(&key_file, crate::signing_key::key_file_text(&key)).unwrap();
        let data_dir = directory.path().join("data");
        let mut settings = settings_in(&data_dir);
        settings.signing_key = Some(key_file.clone());
        let server = Server::build(settings.clone(), None).await.unwrap();
        assert_eq!(server.app().public_key(), Some(public_key_base64(&key)));
        assert!(!data_dir.join(data_dir::SIGNING_KEY_FILE).exists());
        server.run_until_stopped(async {}).await.unwrap();

        std::fs::write(&key_file, "secret-but-not-a-key\n").unwrap();
        let error = Server::build(settings, None).await.unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("--signing-key"), "{message}");
        assert!(!message.contains("secret-but-not-a-key"), "{message}");
    }

    #[tokio::test]
    async fn an_unreachable_postgres_store_fails_the_start_without_its_password() {
        let directory = tempfile::tempdir().unwrap();
        let mut settings = settings_in(directory.path());
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        settings.store = "postgres://u:secret@127.0.0.1:1/caseledger"
            .parse()
            .unwrap();
        let error = Server::build(settings, None).await.unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("cannot open the store"), "{message}");
        assert!(
            message.contains("postgres://u:***@127.0.0.1:1/caseledger"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }
}
