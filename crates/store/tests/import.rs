//! Whole-store copies on real stores: sled → PostgreSQL (a scratch database) → sled, with the
//! chain verified on every side, every envelope byte-identical at its position, every keyspace
//! and idempotency record equal, stream versions and heads intact; and the refusal of a target
//! that holds anything.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use std::sync::Arc;

use caseledger_store::conformance::{postgres_or_skip, ScratchDatabase, TestEvent};
use caseledger_store::snapshot::{
    ImportError, Imported, Importer, SnapshotReader, SnapshotRecord, SnapshotSource,
};
use caseledger_store::{
    EventLog, ExpectedVersion, Head, IdempotencyKey, Position, PostgresLog, SledLog, StreamId,
    Version,
};

/// Everything a copy must carry, read back through the public API.
#[derive(Debug, PartialEq)]
struct Contents {
    head: Head,
    events: Vec<(Position, Vec<u8>)>,
    keyspaces: Vec<SnapshotRecord>,
    idempotency: Vec<SnapshotRecord>,
}

async fn contents(source: Arc<dyn SnapshotSource>, log: &dyn EventLog<TestEvent>) -> Contents {
    let mut reader = SnapshotReader::new(source, &[]);
    let mut keyspaces = Vec::new();
    let mut idempotency = Vec::new();
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        for record in chunk {
            match record {
                SnapshotRecord::Keyspace { .. } => keyspaces.push(record),
                SnapshotRecord::Idempotency { .. } => idempotency.push(record),
                _ => {}
            }
        }
    }
    Contents {
        head: log.head(),
        events: log.read_all_raw(Position::ZERO, 1_000_000).await.unwrap(),
        keyspaces,
        idempotency,
    }
}

async fn copy(source: Arc<dyn SnapshotSource>, mut importer: Importer) -> Imported {
    let mut reader = SnapshotReader::new(source, &[]);
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        importer.apply(chunk).await.unwrap();
    }
    importer.finish().await.unwrap()
}

/// Fills a sled store: several streams (with more than a page of events), an idempotent
/// append, and keyspaces with JSON values, raw counters and binary keys.
async fn fill(log: &SledLog) {
    let streams: Vec<StreamId> = (0..7).map(|_| StreamId(uuid::Uuid::now_v7())).collect();
    for round in 0..160u64 {
        let stream = streams[(round % 7) as usize];
        let events = (0..((round % 3) + 1))
            .map(|n| TestEvent::numbered(round * 10 + n))
            .collect();
        let key = (round % 5 == 0).then(|| IdempotencyKey {
            key: format!("token-{round}/key-é{round}"),
            fingerprint: format!("fp{round}"),
        });
        log.append(stream, ExpectedVersion::Any, events, key)
            .await
            .unwrap()
            .unwrap();
    }
    let tokens = log.keyspace("tokens").unwrap();
    for n in 0..1_200u32 {
        tokens
            .put(format!("t/{n:05}").as_bytes(), &serde_json::json!({"n": n}))
            .await
            .unwrap();
    }
    let counters = log.keyspace("counters").unwrap();
    for _ in 0..3 {
        counters.increment(b"letters/2026").await.unwrap();
    }
    let binary = log.keyspace("audit.checkpoints").unwrap();
    binary
        .put(&[b'c', 0, 0, 0xff, 0x10], &serde_json::json!("at ∞"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_to_postgres_to_sled_is_exact() {
    if !postgres_or_skip("store: snapshots to and from PostgreSQL").await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = SledLog::open(&dir.path().join("source"), Default::default()).unwrap();
    fill(&source).await;
    let expected = contents(Arc::new(source.clone()), &source).await;
    assert!(expected.head.position.0 > 300, "{:?}", expected.head);
    assert_eq!(expected.idempotency.len(), 32);
    assert_eq!(expected.keyspaces.len(), 1_202);

    // sled → PostgreSQL.
    let database = ScratchDatabase::create().await;
    let imported = copy(
        Arc::new(source.clone()),
        Importer::postgres(database.url()).await.unwrap(),
    )
    .await;
    assert_eq!(imported.head, expected.head);
    assert_eq!(imported.counts.events, expected.head.position.0);
    let postgres = PostgresLog::open(database.url(), Default::default())
        .await
        .unwrap();
    assert_eq!(postgres.head(), expected.head);
    assert_eq!(
        postgres.verify_chain(|_| {}).await.unwrap().unwrap(),
        expected.head
    );
    let on_postgres = contents(Arc::new(postgres.clone()), &postgres).await;
    assert_eq!(on_postgres, expected);

    // The copy is a working log: stream versions carried over, appends continue the chain.
    let first_stream = first_stream_of(&source).await;
    let version = EventLog::<TestEvent>::stream_version(&source, first_stream)
        .await
        .unwrap();
    assert_eq!(
        EventLog::<TestEvent>::stream_version(&postgres, first_stream)
            .await
            .unwrap(),
        version
    );
    let replay = EventLog::<TestEvent>::idempotency_record(&postgres, "token-0/key-é0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replay.committed.first_position, Position(1));

    // PostgreSQL → a second sled store.
    let back_dir = dir.path().join("back");
    let imported = copy(
        Arc::new(postgres.clone()),
        Importer::sled(&back_dir).await.unwrap(),
    )
    .await;
    assert_eq!(imported.head, expected.head);
    assert!(!dir.path().join("back.importing").exists());
    let back = SledLog::open(&back_dir, Default::default()).unwrap();
    assert_eq!(
        back.verify_chain(|_| {}).await.unwrap().unwrap(),
        expected.head
    );
    assert_eq!(contents(Arc::new(back.clone()), &back).await, expected);
    assert_eq!(
        EventLog::<TestEvent>::stream_version(&back, first_stream)
            .await
            .unwrap(),
        version
    );
    let next = back
        .append(
            first_stream,
            ExpectedVersion::Exact(version.unwrap()),
            vec![TestEvent::numbered(9_999)],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.first_position, expected.head.position.next());
    assert_eq!(next.last_version, Version(version.unwrap().0 + 1));
    assert!(back.verify_chain(|_| {}).await.unwrap().is_ok());
}

async fn first_stream_of(log: &SledLog) -> StreamId {
    let mut reader = SnapshotReader::new(Arc::new(log.clone()), &[]);
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        for record in chunk {
            if let SnapshotRecord::Event { stream, .. } = record {
                return stream;
            }
        }
    }
    panic!("no event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_holds_anything_is_refused() {
    if !postgres_or_skip("store: snapshots to and from PostgreSQL").await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = SledLog::open(&dir.path().join("source"), Default::default()).unwrap();
    let stream = StreamId(uuid::Uuid::now_v7());
    source
        .append(
            stream,
            ExpectedVersion::NoStream,
            vec![TestEvent::numbered(1)],
            None,
        )
        .await
        .unwrap()
        .unwrap();

    // A sled directory with files in it.
    let refused = Importer::sled(&dir.path().join("source"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ImportError::TargetNotEmpty { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("not empty"), "{refused}");

    // A database with a log, and one with only a keyspace entry.
    let database = ScratchDatabase::create().await;
    let target = PostgresLog::open(database.url(), Default::default())
        .await
        .unwrap();
    target
        .append(
            stream,
            ExpectedVersion::NoStream,
            vec![TestEvent::numbered(1)],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    let refused = Importer::postgres(database.url()).await.unwrap_err();
    assert!(refused.to_string().contains("has events"), "{refused}");

    let second = ScratchDatabase::create().await;
    let target = PostgresLog::open(second.url(), Default::default())
        .await
        .unwrap();
    target.keyspace("tokens").put(b"t", &1).await.unwrap();
    let refused = Importer::postgres(second.url()).await.unwrap_err();
    assert!(refused.to_string().contains("keyspace tokens"), "{refused}");
    // The refusal changed nothing.
    assert_eq!(
        target.keyspace("tokens").get::<u32>(b"t").await.unwrap(),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_tampered_snapshot_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = SledLog::open(&dir.path().join("source"), Default::default()).unwrap();
    fill(&source).await;
    let mut records = Vec::new();
    let mut reader = SnapshotReader::new(Arc::new(source.clone()), &["tokens"]);
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        records.extend(chunk);
    }
    // The skipped keyspace is not in the snapshot.
    assert!(!records.iter().any(
        |record| matches!(record, SnapshotRecord::Keyspace { space, .. } if space == "tokens")
    ));

    // Without its end record.
    let target = dir.path().join("truncated");
    let mut importer = Importer::sled(&target).await.unwrap();
    importer
        .apply(records[..records.len() - 1].to_vec())
        .await
        .unwrap();
    let error = importer.finish().await.unwrap_err();
    assert!(error.to_string().contains("end record"), "{error}");
    assert!(!target.exists());
    assert!(!dir.path().join("truncated.importing").exists());

    // With one envelope edited.
    let mut tampered = records.clone();
    for record in &mut tampered {
        if let SnapshotRecord::Event {
            position, envelope, ..
        } = record
        {
            if *position == Position(5) {
                *envelope = envelope.replacen("Tested", "Tasted", 1);
            }
        }
    }
    let mut importer = Importer::sled(&dir.path().join("tampered")).await.unwrap();
    let error = importer.apply(tampered).await.unwrap_err();
    assert!(error.to_string().contains("position 5"), "{error}");
    importer.abort().await;
    assert!(!dir.path().join("tampered.importing").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_leaves_out_the_keys_its_register_names() {
    let dir = tempfile::tempdir().unwrap();
    let source = SledLog::open(&dir.path().join("source"), Default::default()).unwrap();
    fill(&source).await;
    // More keys than one page, three of them named by the register (one past the first page),
    // and a register entry that names nothing.
    let keys = source.keyspace("keys").unwrap();
    for n in 0..1_500u32 {
        keys.put(
            format!("k{n:05}").as_bytes(),
            &serde_json::json!({"key": n}),
        )
        .await
        .unwrap();
    }
    let register = source.keyspace("register").unwrap();
    for revoked in ["k00003", "k00999", "k01200"] {
        register
            .put(
                format!("case/{revoked}").as_bytes(),
                &serde_json::json!(true),
            )
            .await
            .unwrap();
    }
    register
        .put(b"scanned", &serde_json::json!(42))
        .await
        .unwrap();
    let revocation = caseledger_store::snapshot::Revocation {
        keys: "keys".into(),
        register: "register".into(),
        register_prefix: b"case/".to_vec(),
    };

    let mut reader = SnapshotReader::new(Arc::new(source.clone()), &[]).revoking(revocation);
    let target = Importer::sled(&dir.path().join("target")).await.unwrap();
    let mut target = Some(target);
    let mut kept = Vec::new();
    let mut register_entries = 0;
    let mut events_seen = false;
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        for record in &chunk {
            match record {
                SnapshotRecord::Keyspace { space, key, .. } if space == "keys" => {
                    assert!(!events_seen, "the keys come before the log");
                    kept.push(String::from_utf8(key.clone()).unwrap());
                }
                SnapshotRecord::Keyspace { space, .. } if space == "register" => {
                    register_entries += 1;
                }
                SnapshotRecord::Event { .. } => events_seen = true,
                _ => {}
            }
        }
        target.as_mut().unwrap().apply(chunk).await.unwrap();
    }
    assert_eq!(kept.len(), 1_497);
    for revoked in ["k00003", "k00999", "k01200"] {
        assert!(!kept.contains(&revoked.to_owned()), "{revoked}");
    }
    assert!(kept.contains(&"k00004".to_owned()));
    assert_eq!(register_entries, 4, "the register itself travels whole");
    // The importer agrees with the counts: the snapshot is whole without the revoked keys.
    let imported = target.take().unwrap().finish().await.unwrap();
    assert_eq!(imported.head, source.head());
}
