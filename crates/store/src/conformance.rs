//! The conformance suite every [`EventLog`] backend must pass, written once and run against
//! each backend (sled in this crate's tests, PostgreSQL in its own).
//!
//! A backend supplies a [`Harness`] that can make a fresh, empty log and reopen the same
//! storage after dropping a handle (a restart). Each check panics with a message on failure, as
//! a test should. [`ScratchDatabase`] gives PostgreSQL tests a database of their own. This
//! module owns the checks, not the backends.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chain::ChainVerifier;
use crate::{
    AppendRejected, EventLog, ExpectedVersion, IdempotencyKey, Position, StreamId, Version,
};

/// The event type the suite appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestEvent {
    /// Which kind of test event.
    pub kind: String,
    /// A number to tell events apart.
    pub n: u64,
    /// Free text, including non-ASCII.
    pub text: String,
}

impl TestEvent {
    /// A test event numbered `n`.
    pub fn numbered(n: u64) -> TestEvent {
        TestEvent {
            kind: "Tested".into(),
            n,
            text: format!("事件 {n} — \"quoted\"\n"),
        }
    }
}

/// A backend under test.
#[async_trait]
pub trait Harness: Send {
    /// The log type.
    type Log: EventLog<TestEvent> + 'static;
    /// A new, empty log.
    async fn fresh(&mut self) -> Self::Log;
    /// Drops `log` (and every handle to it) and opens the same storage again.
    async fn reopen(&mut self, log: Self::Log) -> Self::Log;
}

/// Runs every check of the suite, each on a fresh log.
pub async fn run_all<H: Harness>(harness: &mut H) {
    appends_are_read_back_in_order(harness).await;
    expected_versions_are_enforced(harness).await;
    positions_are_global_and_gapless(harness).await;
    concurrent_appends_all_land_once(harness).await;
    idempotent_appends_replay(harness).await;
    expired_idempotency_records_are_gone_and_fresh_ones_replay(harness).await;
    everything_acknowledged_survives_a_restart(harness).await;
    subscribers_are_woken(harness).await;
    empty_appends_are_refused(harness).await;
}

fn stream() -> StreamId {
    StreamId(Uuid::now_v7())
}

async fn append_one<L: EventLog<TestEvent>>(
    log: &L,
    stream: StreamId,
    expected: ExpectedVersion,
    n: u64,
) -> Result<crate::Committed, AppendRejected> {
    log.append(stream, expected, vec![TestEvent::numbered(n)], None)
        .await
        .expect("append must not fail for storage reasons")
}

/// Appended events come back, in order, with their versions, positions and chain.
pub async fn appends_are_read_back_in_order<H: Harness>(harness: &mut H) {
    let log = harness.fresh().await;
    let stream = stream();
    let events: Vec<TestEvent> = (1..=3).map(TestEvent::numbered).collect();
    let committed = log
        .append(stream, ExpectedVersion::NoStream, events.clone(), None)
        .await
        .expect("append")
        .expect("accepted");
    assert_eq!(committed.first_version, Version(1));
    assert_eq!(committed.last_version, Version(3));
    assert_eq!(committed.first_position, Position(1));
    assert_eq!(committed.last_position, Position(3));
    assert!(!committed.replayed);

    let read = log
        .read_stream(stream, Version(1), 100)
        .await
        .expect("read");
    let read_events: Vec<TestEvent> = read.iter().map(|r| r.event.clone()).collect();
    assert_eq!(read_events, events);
    assert_eq!(
        read.iter().map(|r| r.version.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let from_two = log.read_stream(stream, Version(2), 1).await.expect("read");
    assert_eq!(from_two.len(), 1);
    assert_eq!(from_two[0].version, Version(2));
    assert_eq!(
        log.stream_version(stream).await.expect("version"),
        Some(Version(3))
    );
    assert_eq!(
        log.stream_version(self::stream()).await.expect("version"),
        None
    );
    assert_eq!(log.head().position, Position(3));
    assert_eq!(log.head().hash, read[2].hash);
    assert_eq!(read[1].prev_hash, read[0].hash);
}

/// `NoStream`, `Exact` and `Any` mean what they say, and conflicts are typed outcomes.
pub async fn expected_versions_are_enforced<H: Harness>(harness: &mut H) {
    let log = harness.fresh().await;
    let stream = stream();
    assert!(
        append_one(&log, stream, ExpectedVersion::Exact(Version(1)), 1)
            .await
            .is_err()
    );
    append_one(&log, stream, ExpectedVersion::NoStream, 1)
        .await
        .expect("first append");
    assert_eq!(
        append_one(&log, stream, ExpectedVersion::NoStream, 2).await,
        Err(AppendRejected::VersionConflict {
            expected: ExpectedVersion::NoStream,
            actual: Some(Version(1)),
        })
    );
    assert!(
        append_one(&log, stream, ExpectedVersion::Exact(Version(0)), 2)
            .await
            .is_err()
    );
    append_one(&log, stream, ExpectedVersion::Exact(Version(1)), 2)
        .await
        .expect("exact version");
    let any = append_one(&log, stream, ExpectedVersion::Any, 3)
        .await
        .expect("any version");
    assert_eq!(any.last_version, Version(3));
    assert_eq!(
        log.head().position,
        Position(3),
        "rejected appends write nothing"
    );
}

/// Positions run 1, 2, 3… across all streams, and the whole log verifies.
pub async fn positions_are_global_and_gapless<H: Harness>(harness: &mut H) {
    let log = harness.fresh().await;
    let streams: Vec<StreamId> = (0..4).map(|_| stream()).collect();
    for n in 0..20u64 {
        let stream = streams[(n % 4) as usize];
        append_one(&log, stream, ExpectedVersion::Any, n)
            .await
            .expect("append");
    }
    let all = log.read_all(Position::ZERO, 1000).await.expect("read all");
    assert_eq!(
        all.iter().map(|r| r.position.0).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    let page = log.read_all(Position(5), 3).await.expect("page");
    assert_eq!(
        page.iter().map(|r| r.position.0).collect::<Vec<_>>(),
        vec![6, 7, 8]
    );
    assert!(log
        .read_all(Position(20), 10)
        .await
        .expect("tail")
        .is_empty());
    let raw = log.read_all_raw(Position::ZERO, 1000).await.expect("raw");
    let mut verifier = ChainVerifier::new();
    for (_, bytes) in &raw {
        verifier.verify(bytes).expect("the chain verifies");
    }
    assert_eq!(verifier.head(), log.head());
}

/// 64 concurrent writers on 8 streams: every append lands exactly once, versions per stream
/// are 1..n, and the chain verifies.
pub async fn concurrent_appends_all_land_once<H: Harness>(harness: &mut H) {
    let log = Arc::new(harness.fresh().await);
    let streams: Vec<StreamId> = (0..8).map(|_| stream()).collect();
    let mut tasks = Vec::new();
    for writer in 0..64u64 {
        let log = Arc::clone(&log);
        let stream = streams[(writer % 8) as usize];
        tasks.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for round in 0..5u64 {
                let result = log
                    .append(
                        stream,
                        ExpectedVersion::Any,
                        vec![TestEvent::numbered(writer * 100 + round)],
                        None,
                    )
                    .await
                    .expect("append")
                    .expect("any version is always accepted");
                committed.push(result);
            }
            committed
        }));
    }
    let mut positions = HashSet::new();
    for task in tasks {
        for committed in task.await.expect("writer task") {
            assert!(
                positions.insert(committed.last_position),
                "a position was given twice"
            );
        }
    }
    assert_eq!(positions.len(), 320);
    assert_eq!(log.head().position, Position(320));
    for stream in &streams {
        let events = log
            .read_stream(*stream, Version(1), 1000)
            .await
            .expect("read");
        assert_eq!(
            events.iter().map(|r| r.version.0).collect::<Vec<_>>(),
            (1..=40).collect::<Vec<_>>()
        );
    }
    let raw = log.read_all_raw(Position::ZERO, 1000).await.expect("raw");
    let mut verifier = ChainVerifier::new();
    for (_, bytes) in &raw {
        verifier.verify(bytes).expect("the chain verifies");
    }
}

/// Expiry removes the records first used before the cut-off, and only those: an expired key
/// is gone (from the store, and after a reopen) and starts a fresh append; a younger key still
/// replays.
pub async fn expired_idempotency_records_are_gone_and_fresh_ones_replay<H: Harness>(
    harness: &mut H,
) {
    let log = harness.fresh().await;
    let key = |name: &str| IdempotencyKey {
        key: format!("token-1:{name}"),
        fingerprint: "same request".into(),
    };
    let append = |stream: StreamId, name: &'static str, n: u64| {
        let log = &log;
        async move {
            log.append(
                stream,
                ExpectedVersion::Any,
                vec![TestEvent::numbered(n)],
                Some(key(name)),
            )
            .await
            .expect("append")
            .expect("accepted")
        }
    };
    let old_stream = stream();
    let old = append(old_stream, "old", 1).await;
    let old_at = log
        .idempotency_record("token-1:old")
        .await
        .expect("lookup")
        .expect("kept")
        .recorded_at_unix;
    // Records carry whole seconds: the young one is written in a later second.
    while crate::batch::unix_now() <= old_at {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let young_stream = stream();
    let young = append(young_stream, "young", 2).await;
    let young_at = log
        .idempotency_record("token-1:young")
        .await
        .expect("lookup")
        .expect("kept")
        .recorded_at_unix;
    assert!(young_at > old_at);

    let removed = log
        .expire_idempotency_records(young_at)
        .await
        .expect("expiry");
    assert_eq!(removed, 1);
    assert_eq!(
        log.idempotency_record("token-1:old").await.expect("lookup"),
        None
    );
    let log = harness.reopen(log).await;
    assert_eq!(
        log.idempotency_record("token-1:old").await.expect("lookup"),
        None
    );
    // The young key still replays its first answer; the expired one appends anew.
    let replayed = log
        .append(
            young_stream,
            ExpectedVersion::Any,
            vec![TestEvent::numbered(2)],
            Some(key("young")),
        )
        .await
        .expect("append")
        .expect("replayed");
    assert!(replayed.replayed);
    assert_eq!(replayed.last_position, young.last_position);
    let fresh = log
        .append(
            old_stream,
            ExpectedVersion::Any,
            vec![TestEvent::numbered(1)],
            Some(key("old")),
        )
        .await
        .expect("append")
        .expect("a fresh append");
    assert!(!fresh.replayed);
    assert!(fresh.last_position > old.last_position);
    // Expiring again removes nothing younger than the cut-off.
    assert_eq!(
        log.expire_idempotency_records(young_at)
            .await
            .expect("expiry"),
        0
    );
}

/// The same key and request replays the first outcome; the same key with another request is
/// refused; neither appends anything.
pub async fn idempotent_appends_replay<H: Harness>(harness: &mut H) {
    let log = harness.fresh().await;
    let stream = stream();
    let key = |fingerprint: &str| IdempotencyKey {
        key: "token-1:key-1".into(),
        fingerprint: fingerprint.into(),
    };
    let first = log
        .append(
            stream,
            ExpectedVersion::NoStream,
            vec![TestEvent::numbered(1)],
            Some(key("a")),
        )
        .await
        .expect("append")
        .expect("accepted");
    let again = log
        .append(
            stream,
            ExpectedVersion::NoStream,
            vec![TestEvent::numbered(1)],
            Some(key("a")),
        )
        .await
        .expect("append")
        .expect("replayed, not a conflict");
    assert!(again.replayed);
    assert_eq!(
        crate::Committed {
            replayed: false,
            ..again
        },
        first
    );
    let other = log
        .append(
            stream,
            ExpectedVersion::Any,
            vec![TestEvent::numbered(2)],
            Some(key("b")),
        )
        .await
        .expect("append");
    assert_eq!(other, Err(AppendRejected::IdempotencyKeyReused));
    assert_eq!(log.head().position, Position(1));
    let record = log
        .idempotency_record("token-1:key-1")
        .await
        .expect("lookup")
        .expect("recorded");
    assert_eq!(record.fingerprint, "a");
    assert_eq!(record.committed.last_position, Position(1));
    assert!(log
        .idempotency_record("unknown")
        .await
        .expect("lookup")
        .is_none());
}

/// Every acknowledged append, its stream head and its idempotency record survive a restart,
/// and appending goes on from there.
pub async fn everything_acknowledged_survives_a_restart<H: Harness>(harness: &mut H) {
    let log = harness.fresh().await;
    let stream = stream();
    for n in 1..=10 {
        log.append(
            stream,
            ExpectedVersion::after(Version(n - 1)),
            vec![TestEvent::numbered(n)],
            Some(IdempotencyKey {
                key: format!("k{n}"),
                fingerprint: "f".into(),
            }),
        )
        .await
        .expect("append")
        .expect("accepted");
    }
    let head = log.head();
    let log = harness.reopen(log).await;
    assert_eq!(log.head(), head);
    assert_eq!(
        log.stream_version(stream).await.expect("version"),
        Some(Version(10))
    );
    let replay = log
        .append(
            stream,
            ExpectedVersion::Any,
            vec![TestEvent::numbered(3)],
            Some(IdempotencyKey {
                key: "k3".into(),
                fingerprint: "f".into(),
            }),
        )
        .await
        .expect("append")
        .expect("replayed");
    assert!(replay.replayed);
    assert_eq!(replay.last_version, Version(3));
    let next = append_one(&log, stream, ExpectedVersion::Exact(Version(10)), 11)
        .await
        .expect("appends continue after a restart");
    assert_eq!(next.last_position, Position(11));
    let read = log
        .read_stream(stream, Version(1), 100)
        .await
        .expect("read");
    assert_eq!(read.len(), 11);
    assert_eq!(read[10].prev_hash, head.hash);
}

/// A subscriber sees the head move after an append.
pub async fn subscribers_are_woken<H: Harness>(harness: &mut H) {
    let log = Arc::new(harness.fresh().await);
    let mut receiver = log.subscribe();
    let waiter = tokio::spawn(async move {
        receiver
            .wait_for(|head| head.position >= Position(1))
            .await
            .map(|head| head.position)
            .expect("the log stays open")
    });
    append_one(log.as_ref(), stream(), ExpectedVersion::Any, 1)
        .await
        .expect("append");
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("the subscriber is woken")
        .expect("waiter task");
    assert_eq!(seen, Position(1));
}

/// An append without events is a caller's mistake, reported as an error.
pub async fn empty_appends_are_refused<H: Harness>(harness: &mut H) {
    let log = harness.fresh().await;
    let result = log
        .append(stream(), ExpectedVersion::Any, Vec::new(), None)
        .await;
    assert!(matches!(result, Err(crate::StoreError::EmptyAppend)));
    assert_eq!(log.head().position, Position::ZERO);
}

/// The environment variable naming the PostgreSQL server tests use: a URL of a database on it
/// that the test user may connect to and create databases from.
pub const TEST_POSTGRES_ENV: &str = "CASELEDGER_TEST_POSTGRES";

/// The server tests use when [`TEST_POSTGRES_ENV`] is not set.
pub const DEFAULT_TEST_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The environment variable that makes the PostgreSQL tests required: set to `1` (as `.ci/run`
/// does), a test whose server cannot be reached fails, naming the server, instead of skipping.
pub const REQUIRE_POSTGRES_ENV: &str = "CASELEDGER_REQUIRE_POSTGRES";

/// Whether the PostgreSQL tests of `group` can run: true when the test server (see
/// [`TEST_POSTGRES_ENV`]) answers.
///
/// When it does not answer: with [`REQUIRE_POSTGRES_ENV`]`=1` this panics with a message naming
/// the server it tried; otherwise it says loudly, once per group and past the test harness's
/// output capture, what it skipped and how to run it, and returns false — so `cargo test
/// --workspace` passes on a machine without PostgreSQL, and CI never skips silently. The
/// server is tried once per test process.
pub async fn postgres_or_skip(group: &str) -> bool {
    static REACHABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    static SAID: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let server = test_server();
    let reachable = match REACHABLE.get() {
        Some(reachable) => reachable.clone(),
        None => {
            let tried = admin_connection(&server).await.map(drop);
            REACHABLE.get_or_init(|| tried).clone()
        }
    };
    let Err(reason) = reachable else {
        return true;
    };
    let shown = without_password(&server);
    if std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|value| value == "1") {
        panic!(
            "{REQUIRE_POSTGRES_ENV}=1 and the test PostgreSQL server {shown} cannot be \
             reached: {reason}"
        );
    }
    let first_time = SAID
        .lock()
        .map(|mut said| said.insert(group.to_owned()))
        .unwrap_or(true);
    if first_time {
        // Straight to the process's stderr: the test harness captures only `eprintln!`.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED (no PostgreSQL): {group} — no server answers at {shown}. Start one, or set \
             {TEST_POSTGRES_ENV} to a postgres:// URL where the tests may create databases; \
             {REQUIRE_POSTGRES_ENV}=1 makes these tests required."
        );
    }
    false
}

/// The test server's URL, from [`TEST_POSTGRES_ENV`] or the default.
fn test_server() -> String {
    std::env::var(TEST_POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_TEST_POSTGRES.to_owned())
}

/// `url` with any password in it replaced by `***`, for messages.
fn without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |index| scheme_end + index);
    let authority = &url[scheme_end..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***@{host}{}",
                &url[..scheme_end],
                &url[authority_end..]
            )
        }
        _ => url.to_owned(),
    }
}

/// A fresh, empty PostgreSQL database for one test, created on the server named by
/// [`TEST_POSTGRES_ENV`] and dropped (with every connection to it) when this is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    server: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `caseledger_test_<random>` on the test server. Panics with a hint when the
    /// server cannot be reached, as a test should.
    pub async fn create() -> ScratchDatabase {
        ScratchDatabase::try_create()
            .await
            .unwrap_or_else(|reason| panic!("{reason}"))
    }

    /// [`ScratchDatabase::create`], but says why instead of panicking (for benchmarks that
    /// skip PostgreSQL when no server runs).
    pub async fn try_create() -> Result<ScratchDatabase, String> {
        let server = test_server();
        let name = format!("caseledger_test_{}", Uuid::new_v4().simple());
        let client = admin_connection(&server).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|error| format!("cannot create the test database {name}: {error}"))?;
        let url = database_url(&server, &name);
        Ok(ScratchDatabase { server, name, url })
    }

    /// The database's URL, for `PostgresLog::open` or `--store`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop may run inside or outside a runtime; a thread of its own works in both.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let client = admin_connection(&server).await?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|error| error.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

async fn admin_connection(server: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .map_err(|error| {
            format!(
                "cannot reach the test PostgreSQL server ({error}); start it, or set \
                 {TEST_POSTGRES_ENV} to a postgres:// URL of one"
            )
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `server` with its database replaced by `name`: `postgres://u@h:p/db?x` → `…/name?x`.
fn database_url(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let authority_start = base.find("://").map(|index| index + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Guarded writes ([`crate::Keyspace::apply_guarded`]) through two handles on the same
/// keyspace (two service instances on PostgreSQL; one store twice on sled): a write whose
/// bound is below the stored guard changes nothing, and many racing writers, each writing a
/// row and the guard with its own bound, leave the row and the guard from the same writer —
/// the one with the highest bound.
pub async fn guarded_writes_never_go_backwards(one: &crate::Keyspace, other: &crate::Keyspace) {
    fn write(n: u64) -> Vec<crate::KeyspaceChange> {
        let encoded = serde_json::to_vec(&n).expect("a number encodes");
        vec![
            (b"row".to_vec(), Some(encoded.clone())),
            (b"guard".to_vec(), Some(encoded)),
        ]
    }
    assert!(
        one.apply_guarded(b"guard", 5, write(5), false)
            .await
            .expect("the keyspace answers"),
        "an absent guard lets the write through"
    );
    assert!(
        !other
            .apply_guarded(b"guard", 4, write(4), false)
            .await
            .expect("the keyspace answers"),
        "a bound below the stored guard is refused"
    );
    assert_eq!(
        other
            .get::<u64>(b"row")
            .await
            .expect("the keyspace answers"),
        Some(5)
    );
    assert!(
        other
            .apply_guarded(b"guard", 5, write(5), false)
            .await
            .expect("the keyspace answers"),
        "an equal bound is accepted"
    );
    let mut tasks = Vec::new();
    for bound in 6..46u64 {
        let keyspace = if bound % 2 == 0 {
            one.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            keyspace
                .apply_guarded(b"guard", bound, write(bound), false)
                .await
        }));
    }
    for task in tasks {
        task.await.expect("the task ran").expect("the write ran");
    }
    assert_eq!(
        one.get::<u64>(b"guard")
            .await
            .expect("the keyspace answers"),
        Some(45)
    );
    assert_eq!(
        other
            .get::<u64>(b"row")
            .await
            .expect("the keyspace answers"),
        Some(45),
        "the row comes from the same writer as the guard"
    );
}

/// Creations ([`crate::Keyspace::put_new`]) through two handles on the same keyspace: of many
/// racing creators of one key exactly one stores its value, and later ones change nothing; and
/// blobs ([`crate::Blobs`]) written chunk by chunk through one handle read back through the
/// other, byte for byte, until they are removed.
pub async fn creations_and_blobs(
    one: &crate::Keyspace,
    other: &crate::Keyspace,
    blobs: (crate::Blobs, crate::Blobs),
) {
    let mut tasks = Vec::new();
    for n in 0..20u64 {
        let keyspace = if n % 2 == 0 {
            one.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            keyspace.put_new(b"key", &n).await.map(|stored| (n, stored))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (n, stored) = task.await.expect("the task ran").expect("the write ran");
        if stored {
            winners.push(n);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator stores its value");
    assert_eq!(
        other
            .get::<u64>(b"key")
            .await
            .expect("the keyspace answers"),
        Some(winners[0])
    );

    let blob = uuid::Uuid::now_v7();
    let (writer, reader) = blobs;
    // Equal chunks but the last, as blobs are written.
    let chunks: Vec<Vec<u8>> = (0..5u8)
        .map(|n| vec![n; if n == 4 { 17 } else { 1000 }])
        .collect();
    for (index, chunk) in chunks.iter().enumerate() {
        let index = u32::try_from(index).expect("few chunks");
        writer
            .put_chunk(blob, index, chunk.clone(), index == 4)
            .await
            .expect("a chunk is written");
    }
    for (index, chunk) in chunks.iter().enumerate() {
        let index = u32::try_from(index).expect("few chunks");
        assert_eq!(
            reader
                .chunk(blob, index)
                .await
                .expect("the keyspace answers"),
            Some(chunk.clone())
        );
    }
    assert_eq!(reader.chunk(blob, 5).await.expect("answers"), None);
    assert!(
        writer.remove(blob).await.expect("removed")
            >= chunks.iter().map(|chunk| chunk.len() as u64).sum::<u64>(),
        "removing tells at least the chunks' bytes freed"
    );
    assert_eq!(reader.chunk(blob, 0).await.expect("answers"), None);
}

/// The stored Merkle tree follows the log from two handles (two instances on PostgreSQL): its
/// roots are the roots of the log's chain hashes, every proof it answers verifies, and a tree
/// whose last leaf no longer names the log's event is rebuilt from the log.
pub async fn merkle_tree_follows_the_log<L: EventLog<TestEvent>>(
    log: &L,
    (one, other): (&crate::Keyspace, &crate::Keyspace),
) {
    use crate::tree::{leaf_hash, verify_consistency, verify_inclusion, Frontier};
    use crate::MerkleTree;

    let stream = stream();
    for n in 1..=37 {
        let expected = if n == 1 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(Version(n - 1))
        };
        append_one(log, stream, expected, n)
            .await
            .expect("the store answers");
    }
    let hashes: Vec<crate::ChainHash> = log
        .read_all(Position(0), 100)
        .await
        .expect("the store answers")
        .into_iter()
        .map(|recorded| recorded.hash)
        .collect();
    assert_eq!(hashes.len(), 37);
    let mut roots = vec![crate::tree::EMPTY_ROOT];
    let mut frontier = Frontier::new();
    for hash in &hashes {
        frontier.push(&hash.0);
        roots.push(frontier.root());
    }

    let first = MerkleTree::new(one.clone());
    assert_eq!(
        first
            .catch_up(log, Position(20))
            .await
            .expect("the store answers"),
        20
    );
    // The other instance takes over from what the first stored.
    let second = MerkleTree::new(other.clone());
    assert_eq!(
        second
            .catch_up(log, Position(37))
            .await
            .expect("the store answers"),
        37
    );
    assert_eq!(
        first
            .catch_up(log, Position(37))
            .await
            .expect("the store answers"),
        37
    );
    assert_eq!(second.size().await.expect("the store answers"), 37);
    for size in [1u64, 2, 7, 16, 20, 37] {
        assert_eq!(
            first.root(size).await.expect("the store answers"),
            roots[size as usize]
        );
        assert_eq!(
            second.root(size).await.expect("the store answers"),
            roots[size as usize]
        );
    }
    for (leaf, size) in [(0u64, 1u64), (4, 20), (19, 20), (36, 37), (0, 37)] {
        let proof = first
            .inclusion_proof(leaf, size)
            .await
            .expect("the store answers")
            .expect("a proof of these sizes exists");
        let leaf_hash = leaf_hash(&hashes[leaf as usize].0);
        assert_eq!(
            verify_inclusion(leaf, size, &leaf_hash, &proof, &roots[size as usize]),
            Ok(()),
            "inclusion of {leaf} in {size}"
        );
    }
    for (from, to) in [(1u64, 37u64), (20, 37), (16, 20), (37, 37)] {
        let proof = second
            .consistency_proof(from, to)
            .await
            .expect("the store answers")
            .expect("a proof of these sizes exists");
        assert_eq!(
            verify_consistency(from, to, &roots[from as usize], &roots[to as usize], &proof),
            Ok(()),
            "consistency from {from} to {to}"
        );
    }
    assert!(first
        .inclusion_proof(37, 37)
        .await
        .expect("the store answers")
        .is_err());
    assert!(first
        .consistency_proof(0, 37)
        .await
        .expect("the store answers")
        .is_err());

    // A tree whose last leaf is not the log's (as after the log was rewritten offline) is
    // thrown away and built again by a process that opens it.
    let mut key = vec![b'n', 0];
    key.extend_from_slice(&36u64.to_be_bytes());
    one.apply(vec![(key, Some(vec![7; 32]))], true)
        .await
        .expect("the store answers");
    let reopened = MerkleTree::new(one.clone());
    assert_eq!(
        reopened
            .catch_up(log, Position(37))
            .await
            .expect("the store answers"),
        37
    );
    assert_eq!(
        reopened.root(37).await.expect("the store answers"),
        roots[37]
    );
}

#[cfg(test)]
mod tests {
    use super::{database_url, without_password};

    #[test]
    fn messages_name_the_server_without_its_password() {
        assert_eq!(
            without_password("postgres://u:secret@h:5432/db?sslmode=require"),
            "postgres://u:***@h:5432/db?sslmode=require"
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(without_password("host=h user=u"), "host=h user=u");
    }

    #[test]
    fn the_scratch_database_replaces_the_servers_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "t1"),
            "postgres://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(database_url("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
