//! The PostgreSQL backend against the conformance suite and the shared model-based property
//! test (`model`), plus what only a shared database has: two instances appending at once, and
//! the refusal to open a log whose tail was edited behind the service's back.
//!
//! Every test makes its own database (`ScratchDatabase`, dropped at the end) on the server
//! named by `CASELEDGER_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod model;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use caseledger_store::conformance::{self, postgres_or_skip, Harness, ScratchDatabase, TestEvent};
use caseledger_store::{
    ChainVerifier, EventLog, ExpectedVersion, Position, PostgresLog, PostgresLogOptions,
    StoreError, StreamId, Version,
};
use proptest::prelude::*;

fn options() -> PostgresLogOptions {
    PostgresLogOptions {
        // Tests open many logs at once; keep each one's share of the server's connections small.
        max_connections: 4,
        ..PostgresLogOptions::default()
    }
}

struct PostgresHarness {
    databases: Vec<ScratchDatabase>,
}

impl PostgresHarness {
    fn new() -> PostgresHarness {
        PostgresHarness {
            databases: Vec::new(),
        }
    }

    fn current_url(&self) -> String {
        self.databases.last().unwrap().url().to_owned()
    }
}

#[async_trait]
impl Harness for PostgresHarness {
    type Log = PostgresLog;

    async fn fresh(&mut self) -> PostgresLog {
        self.databases.push(ScratchDatabase::create().await);
        PostgresLog::open(&self.current_url(), options())
            .await
            .unwrap()
    }

    async fn reopen(&mut self, log: PostgresLog) -> PostgresLog {
        drop(log);
        PostgresLog::open(&self.current_url(), options())
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    conformance::run_all(&mut PostgresHarness::new()).await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    // Each case makes a database; fewer cases than sled's 48 keep the suite quick.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_its_model(ops in prop::collection::vec(model::op(), 1..40)) {
        runtime().block_on(async {
            if !postgres_or_skip("store: the PostgreSQL log").await {
                return Ok(());
            }
            let mut harness = PostgresHarness::new();
            model::the_log_behaves_like_its_model(&mut harness, ops).await
        })?;
    }
}

/// Waits until `log`'s head reaches `position`, through its notifications (or its poll).
async fn caught_up(log: &PostgresLog, position: Position) {
    let mut heads = EventLog::<TestEvent>::subscribe(log);
    tokio::time::timeout(
        Duration::from_secs(10),
        heads.wait_for(|head| head.position >= position),
    )
    .await
    .expect("the instance catches up within 10 s")
    .expect("the log stays open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_interleave_into_one_gapless_chain() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first = Arc::new(PostgresLog::open(database.url(), options()).await.unwrap());
    // The second instance polls only once a minute, so what it learns in time, it learns
    // through LISTEN/NOTIFY (or by appending itself).
    let second = Arc::new(
        PostgresLog::open(
            database.url(),
            PostgresLogOptions {
                poll_interval: Duration::from_secs(60),
                ..options()
            },
        )
        .await
        .unwrap(),
    );
    let stream = StreamId(uuid::Uuid::now_v7());

    // 120 appends to one stream, 12 writers at a time, alternating between the instances.
    let mut writers = Vec::new();
    for writer in 0..12u64 {
        let log = if writer % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        writers.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for round in 0..10u64 {
                let committed = log
                    .append(
                        stream,
                        ExpectedVersion::Any,
                        vec![TestEvent::numbered(writer * 100 + round)],
                        None,
                    )
                    .await
                    .unwrap()
                    .unwrap();
                positions.push(committed.last_position.0);
            }
            positions
        }));
    }
    let mut positions = Vec::new();
    for writer in writers {
        positions.extend(writer.await.unwrap());
    }
    positions.sort_unstable();
    assert_eq!(
        positions,
        (1..=120).collect::<Vec<u64>>(),
        "gapless, each once"
    );

    // Each instance learns of the other's commits without appending again.
    caught_up(&first, Position(120)).await;
    caught_up(&second, Position(120)).await;
    assert_eq!(
        EventLog::<TestEvent>::head(first.as_ref()),
        EventLog::<TestEvent>::head(second.as_ref())
    );

    for log in [&first, &second] {
        let raw = EventLog::<TestEvent>::read_all_raw(log.as_ref(), Position::ZERO, 1000)
            .await
            .unwrap();
        assert_eq!(raw.len(), 120);
        let mut verifier = ChainVerifier::new();
        for (position, bytes) in &raw {
            assert_eq!(verifier.verify(bytes).unwrap().position, *position);
        }
        assert_eq!(verifier.head(), EventLog::<TestEvent>::head(log.as_ref()));
        let versions: Vec<u64> =
            EventLog::<TestEvent>::read_stream(log.as_ref(), stream, Version(1), 1000)
                .await
                .unwrap()
                .iter()
                .map(|recorded| recorded.version.0)
                .collect();
        assert_eq!(versions, (1..=120).collect::<Vec<u64>>());
        assert_eq!(
            log.verify_chain(|_| {}).await.unwrap().unwrap(),
            verifier.head()
        );
    }

    // A stale expectation through one instance is refused after a commit through the other.
    let through_first = first
        .append(
            stream,
            ExpectedVersion::Exact(Version(120)),
            vec![TestEvent::numbered(1000)],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(through_first.last_position, Position(121));
    let stale = second
        .append(
            stream,
            ExpectedVersion::Exact(Version(120)),
            vec![TestEvent::numbered(1001)],
            None,
        )
        .await
        .unwrap();
    assert!(stale.is_err(), "{stale:?}");

    // An append through the first alone reaches the second by notification: its next poll is a
    // minute away and it does not write.
    let through_first = first
        .append(
            stream,
            ExpectedVersion::Any,
            vec![TestEvent::numbered(1002)],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(through_first.last_position, Position(122));
    let notified = tokio::time::timeout(Duration::from_secs(5), caught_up(&second, Position(122)));
    notified
        .await
        .expect("the notification arrives well before the next poll");
    assert_eq!(
        EventLog::<TestEvent>::stream_version(second.as_ref(), stream)
            .await
            .unwrap(),
        Some(Version(122)),
        "a stream read sees every committed event, whichever instance wrote it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_creations_and_blobs_across_instances() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first = PostgresLog::open(database.url(), options()).await.unwrap();
    let second = PostgresLog::open(database.url(), options()).await.unwrap();
    conformance::creations_and_blobs(
        &first.keyspace("keys"),
        &second.keyspace("keys"),
        (first.blobs("files.test"), second.blobs("files.test")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merkle_tree_follows_the_log_across_instances() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first = PostgresLog::open(database.url(), options()).await.unwrap();
    let second = PostgresLog::open(database.url(), options()).await.unwrap();
    conformance::merkle_tree_follows_the_log(
        &first,
        (
            &first.keyspace("audit.tree"),
            &second.keyspace("audit.tree"),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_keyspace_writes_never_go_backwards_across_instances() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first = PostgresLog::open(database.url(), options()).await.unwrap();
    let second = PostgresLog::open(database.url(), options()).await.unwrap();
    conformance::guarded_writes_never_go_backwards(
        &first.keyspace("projection"),
        &second.keyspace("projection"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspaces_are_shared_by_instances_and_counters_never_repeat() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first = PostgresLog::open(database.url(), options()).await.unwrap();
    let second = PostgresLog::open(database.url(), options()).await.unwrap();
    let (one, other) = (first.keyspace("counters"), second.keyspace("counters"));
    let mut tasks = Vec::new();
    for index in 0..40 {
        let keyspace = if index % 2 == 0 {
            one.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(
            async move { keyspace.increment(b"letters").await },
        ));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=40).collect::<Vec<u64>>());

    let tokens = first.keyspace("tokens");
    tokens.put(b"a/1", &"one").await.unwrap();
    tokens.put(b"a/2", &"two").await.unwrap();
    tokens.put(b"b/1", &"three").await.unwrap();
    let seen = second.keyspace("tokens");
    assert_eq!(
        seen.get::<String>(b"a/2").await.unwrap().as_deref(),
        Some("two")
    );
    let prefix: Vec<String> = seen
        .scan::<String>(b"a/")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, value)| value)
        .collect();
    assert_eq!(prefix, ["one", "two"]);
    let after = seen
        .scan_after::<String>(b"a/", Some(b"a/1"), 10)
        .await
        .unwrap();
    assert_eq!(after, [(b"a/2".to_vec(), "two".to_owned())]);
    assert_eq!(
        seen.last::<String>(b"a/").await.unwrap(),
        Some((b"a/2".to_vec(), "two".to_owned()))
    );
    // A later change of the same key in one batch wins; other keyspaces are untouched.
    seen.apply(
        vec![
            (b"a/1".to_vec(), None),
            (b"a/3".to_vec(), Some(b"\"x\"".to_vec())),
            (b"a/3".to_vec(), None),
        ],
        false,
    )
    .await
    .unwrap();
    assert_eq!(tokens.scan::<String>(b"").await.unwrap().len(), 2);
    tokens.clear().await.unwrap();
    assert!(seen.scan::<String>(b"").await.unwrap().is_empty());
    assert_eq!(one.increment(b"letters").await.unwrap(), 41);
}

/// Appends `count` events through a log on `url` and closes it.
async fn write_events(url: &str, count: u64) {
    let log = PostgresLog::open(url, options()).await.unwrap();
    let stream = StreamId(uuid::Uuid::now_v7());
    for n in 1..=count {
        log.append(
            stream,
            ExpectedVersion::Any,
            vec![TestEvent::numbered(n)],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    }
}

/// Runs `sql` on the database with the append-only trigger switched off, as someone with the
/// database owner's rights (or a bad restore) could.
async fn tamper(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "ALTER TABLE events DISABLE TRIGGER events_append_only; {sql}; \
             ALTER TABLE events ENABLE TRIGGER events_append_only;"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_event_in_the_tail_is_refused_at_start_naming_its_position() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    write_events(database.url(), 20).await;
    tamper(
        database.url(),
        "UPDATE events SET envelope = convert_to(replace(convert_from(envelope, 'UTF8'), \
         '事件 17', '事件 71'), 'UTF8') WHERE position = 17",
    )
    .await;
    match PostgresLog::open(database.url(), options())
        .await
        .unwrap_err()
    {
        StoreError::Corrupt { position, reason } => {
            assert_eq!(position, Position(17));
            assert!(reason.contains("edited"), "{reason}");
        }
        other => panic!("expected a corrupt log, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_event_in_the_tail_is_refused_at_start_naming_its_position() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    write_events(database.url(), 20).await;
    tamper(database.url(), "DELETE FROM events WHERE position = 12").await;
    match PostgresLog::open(database.url(), options())
        .await
        .unwrap_err()
    {
        StoreError::Corrupt { position, .. } => assert_eq!(position, Position(12)),
        other => panic!("expected a corrupt log, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_append_only_in_the_database_too() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    write_events(database.url(), 3).await;
    let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for sql in [
        "UPDATE events SET envelope = envelope WHERE position = 2",
        "DELETE FROM events WHERE position = 3",
        "TRUNCATE events",
    ] {
        let error = client.batch_execute(sql).await.unwrap_err();
        let message = error.as_db_error().unwrap().message().to_owned();
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    let log = PostgresLog::open(database.url(), options()).await.unwrap();
    assert_eq!(log.head().position, Position(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_once_and_a_newer_schema_is_refused() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    // Two instances starting together apply the schema once.
    let (first, second) = tokio::join!(
        PostgresLog::open(database.url(), options()),
        PostgresLog::open(database.url(), options()),
    );
    drop((first.unwrap(), second.unwrap()));
    let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: Vec<i64> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1]);
    client
        .batch_execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
        .await
        .unwrap();
    let error = PostgresLog::open(database.url(), options())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("newer than this build"), "{error}");
}

/// Waits up to `limit` for `lease` to be held (or not, as `wanted` says).
async fn lease_turns(lease: &caseledger_store::Lease, wanted: bool, limit: Duration) -> bool {
    let mut held = lease.subscribe();
    let turned = tokio::time::timeout(limit, held.wait_for(|held| *held == wanted)).await;
    matches!(turned, Ok(Ok(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_has_one_holder_and_passes_on_when_the_holder_goes() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first = PostgresLog::open(database.url(), options()).await.unwrap();
    let second = PostgresLog::open(database.url(), options()).await.unwrap();
    let one = first.lease("leader");
    assert!(lease_turns(&one, true, Duration::from_secs(5)).await);
    let other = second.lease("leader");
    // Several retry rounds: the second instance never gets it while the first holds it.
    tokio::time::sleep(caseledger_store::lease::LEASE_RETRY * 3).await;
    assert!(one.is_held());
    assert!(!other.is_held());
    // A lease of another name is independent.
    let unrelated = second.lease("something else");
    assert!(lease_turns(&unrelated, true, Duration::from_secs(5)).await);

    // The holder goes (its connection closes, as when the process dies): the other takes over
    // within a few retry rounds.
    let started = std::time::Instant::now();
    drop(one);
    assert!(
        lease_turns(&other, true, Duration::from_secs(5)).await,
        "the lease was not taken over"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // And the lease returns to the first instance only when the second lets go.
    let again = first.lease("leader");
    tokio::time::sleep(caseledger_store::lease::LEASE_RETRY * 2).await;
    assert!(!again.is_held());
    drop(other);
    assert!(lease_turns(&again, true, Duration::from_secs(5)).await);
}

/// A TCP proxy on 127.0.0.1 in front of the database that the test can freeze: while frozen it
/// forwards nothing — no bytes, and no close — in either direction, yet keeps every socket
/// open, as a stalled network path or a hung middlebox would.
struct FreezableProxy {
    address: std::net::SocketAddr,
    frozen: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl FreezableProxy {
    async fn start(upstream: String) -> FreezableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (frozen, watch) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let watch = watch.clone();
                tokio::spawn(async move {
                    let mut thawed = watch.clone();
                    let _ = thawed.wait_for(|frozen| !*frozen).await;
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(forward(client_read, server_write, watch.clone()));
                    tokio::spawn(forward(server_read, client_write, watch));
                });
            }
        });
        FreezableProxy {
            address,
            frozen,
            task,
        }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn url_through(&self, url: &str) -> String {
        let start = url.find("://").unwrap() + 3;
        let end = start + url[start..].find(['/', '?']).unwrap_or(url.len() - start);
        let authority = &url[start..end];
        let host_start = authority.rfind('@').map(|at| at + 1).unwrap_or(0);
        format!(
            "{}{}{}{}",
            &url[..start],
            &authority[..host_start],
            self.address,
            &url[end..]
        )
    }
}

impl Drop for FreezableProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction, holding every chunk (and the end of the stream) while frozen.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buffer).await.unwrap_or(0);
        if frozen.wait_for(|frozen| !*frozen).await.is_err() {
            return;
        }
        if read == 0 || to.write_all(&buffer[..read]).await.is_err() {
            let _ = to.shutdown().await;
            return;
        }
    }
}

/// The host and port of the server in `url`, for the proxy to connect to.
fn upstream_of(url: &str) -> String {
    let start = url.find("://").unwrap() + 3;
    let end = start + url[start..].find(['/', '?']).unwrap_or(url.len() - start);
    let authority = &url[start..end];
    let host_port = &authority[authority.rfind('@').map(|at| at + 1).unwrap_or(0)..];
    let host_port = if host_port.is_empty() {
        "127.0.0.1"
    } else {
        host_port
    };
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_lease_holder_loses_the_lease_and_its_late_writes_are_refused() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let proxy = FreezableProxy::start(upstream_of(database.url())).await;
    // The first instance reaches the database only through the proxy; the second directly.
    let first = PostgresLog::open(&proxy.url_through(database.url()), options())
        .await
        .unwrap();
    let second = PostgresLog::open(database.url(), options()).await.unwrap();
    let old = first.lease("leader");
    assert!(lease_turns(&old, true, Duration::from_secs(10)).await);
    let old_fence = old.fence().unwrap();
    let old_cursors = first.keyspace("webhooks.state").fenced_by(old.clone());
    old_cursors.put(b"state/endpoint", &1u64).await.unwrap();
    let new = second.lease("leader");
    tokio::time::sleep(caseledger_store::lease::LEASE_RETRY * 3).await;
    assert!(!new.is_held(), "one holder at a time");
    // A write fenced by a lease this process does not hold is refused before it is sent.
    let refused = second
        .keyspace("webhooks.state")
        .fenced_by(new.clone())
        .put(b"state/endpoint", &99u64)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Fenced { .. })),
        "{refused:?}"
    );

    // The holder's connection freezes: nothing reaches the database, nothing comes back, and
    // the database sees no close. The holder gives the lease up, and the database ends the
    // silent session (so releases the lock) by itself: another instance takes over.
    let frozen_at = std::time::Instant::now();
    proxy.freeze(true);
    assert!(
        lease_turns(&new, true, Duration::from_secs(15)).await,
        "the other instance did not take the lease within 15 s of the freeze"
    );
    let taken_after = frozen_at.elapsed();
    assert!(!old.is_held(), "the frozen holder gave the lease up");
    assert!(old.fence().is_none());
    eprintln!("the lease passed on {taken_after:?} after the holder's connection froze");
    let new_fence = new.fence().unwrap();
    assert!(
        new_fence.epoch > old_fence.epoch,
        "{new_fence:?} {old_fence:?}"
    );
    let new_cursors = second.keyspace("webhooks.state").fenced_by(new.clone());
    new_cursors.put(b"state/endpoint", &2u64).await.unwrap();

    // The network comes back. The old leader's late cursor write — made with the fence it
    // held when its work started — is refused by the database; so is one through a keyspace
    // fenced by the lease it no longer holds, and so is a fenced counter or guarded write.
    proxy.freeze(false);
    let late = first
        .keyspace("webhooks.state")
        .fenced_at(old_fence.clone());
    let refused = late.put(b"state/endpoint", &1_000u64).await;
    assert!(
        matches!(&refused, Err(StoreError::Fenced { lease }) if lease == "leader"),
        "{refused:?}"
    );
    let refused = late
        .apply_guarded(
            b"generation/endpoint",
            u64::MAX,
            vec![(b"state/endpoint".to_vec(), Some(b"1000".to_vec()))],
            true,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Fenced { .. })),
        "{refused:?}"
    );
    let refused = late.increment(b"attempts").await;
    assert!(
        matches!(refused, Err(StoreError::Fenced { .. })),
        "{refused:?}"
    );
    let refused = old_cursors.put(b"state/endpoint", &1_000u64).await;
    assert!(
        matches!(refused, Err(StoreError::Fenced { .. })),
        "{refused:?}"
    );
    assert_eq!(
        second
            .keyspace("webhooks.state")
            .get::<u64>(b"state/endpoint")
            .await
            .unwrap(),
        Some(2),
        "the new leader's cursor stands"
    );
    // The old instance does not get the lease back while the new one holds it.
    tokio::time::sleep(caseledger_store::lease::LEASE_RETRY * 3).await;
    assert!(new.is_held());
    assert!(!old.is_held());
    // Unfenced writes (an admin's, through any instance) are not affected.
    first
        .keyspace("webhooks.state")
        .put(b"endpoint-admin", &1u64)
        .await
        .unwrap();
}

/// Whether the connections to `database` are encrypted, as the server sees them.
async fn connections_use_tls(database: &ScratchDatabase) -> Vec<bool> {
    let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = $1 AND a.pid <> pg_backend_pid()",
            &[&database.name()],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    if !postgres_or_skip("store: the PostgreSQL log").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let server_has_tls = {
        let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query_one("SHOW ssl", &[])
            .await
            .unwrap()
            .get::<_, String>(0)
            == "on"
    };
    if !server_has_tls {
        eprintln!("skipped: the test server has ssl = off");
        return;
    }
    let require = format!("{}?sslmode=require", database.url());
    let log = PostgresLog::open(&require, options()).await.unwrap();
    let stream = StreamId(uuid::Uuid::now_v7());
    let committed = log
        .append(
            stream,
            ExpectedVersion::NoStream,
            vec![TestEvent::numbered(1)],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(committed.last_position, Position(1));
    let encrypted = connections_use_tls(&database).await;
    assert!(!encrypted.is_empty());
    assert!(
        encrypted.iter().all(|ssl| *ssl),
        "every connection of the log is encrypted: {encrypted:?}"
    );
    drop(log);

    // The Mozilla roots do not vouch for the test server's self-signed certificate: verifying
    // refuses it, which shows the check is made.
    let verify = format!("{}?sslmode=verify-full&sslrootcert=system", database.url());
    let refused = PostgresLog::open(&verify, options()).await.err().unwrap();
    let message = refused.to_string();
    assert!(message.contains("certificate"), "{message}");
    assert!(!message.contains("password"), "{message}");
}

/// Runs one test of this binary again, in a child process, against a server that cannot
/// answer (nothing listens on port 1 of loopback), with `require` as
/// `CASELEDGER_REQUIRE_POSTGRES`.
fn run_against_no_server(require: &str) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "two_instances_on_one_database_interleave_into_one_gapless_chain",
            "--exact",
            "--nocapture",
        ])
        .env(
            conformance::TEST_POSTGRES_ENV,
            "postgres://postgres@127.0.0.1:1/postgres",
        )
        .env(conformance::REQUIRE_POSTGRES_ENV, require)
        .output()
        .unwrap()
}

#[test]
fn without_a_server_the_tests_skip_loudly_unless_postgres_is_required() {
    let skipped = run_against_no_server("0");
    let said = String::from_utf8_lossy(&skipped.stderr);
    assert!(
        skipped.status.success(),
        "a missing server is a skip: {said}"
    );
    assert!(
        said.contains("SKIPPED (no PostgreSQL): store: the PostgreSQL log")
            && said.contains("127.0.0.1:1"),
        "the skip names what it skipped and the server it tried: {said}"
    );

    let required = run_against_no_server("1");
    let said = String::from_utf8_lossy(&required.stdout).to_string()
        + &String::from_utf8_lossy(&required.stderr);
    assert!(!required.status.success(), "required tests fail: {said}");
    assert!(
        said.contains("CASELEDGER_REQUIRE_POSTGRES=1")
            && said.contains("postgres://postgres@127.0.0.1:1/postgres"),
        "the failure names the server it tried: {said}"
    );
}
