//! Where the app keeps things: the event log and the keyspaces beside it, behind one handle.
//!
//! Two backends: the embedded sled store in a directory ([`Storage::open_sled`]) and a
//! PostgreSQL database ([`Storage::open_postgres`]), where the log and every keyspace live in
//! the same database, so that any number of service instances on it are full peers.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use caseledger_store::snapshot::SnapshotSource;
use caseledger_store::{
    Blobs, EventLog, Keyspace, Lease, MerkleTree, PostgresLog, PostgresLogOptions, SledLog,
    SledLogOptions,
};

use caseledger_domain::StoredEvent;

/// The log and the keyspaces of one store.
#[derive(Clone)]
pub struct Storage {
    /// The case event log.
    pub log: Arc<dyn EventLog<StoredEvent>>,
    /// API tokens, by id.
    pub tokens: Keyspace,
    /// People's console accounts (`crate::accounts`).
    pub users: Keyspace,
    /// Console sessions, by the hash of their secret.
    pub sessions: Keyspace,
    /// Recent failed sign-ins, by login (the lockout).
    pub sign_in_failures: Keyspace,
    /// Per-case keys of complainants' personal data.
    pub personal_data_keys: Keyspace,
    /// The erasure register: every case whose personal data is erased or being erased.
    pub erasures: Keyspace,
    /// Counters (letter numbers).
    pub counters: Keyspace,
    /// Letters' PDFs kept before they were kept among the files, by their SHA-256 (read only,
    /// `crate::letter_documents`).
    pub documents: Keyspace,
    /// Letters' PDFs, one file each named by the first 16 bytes of its SHA-256
    /// (`crate::letter_documents`): the same store as attachments'.
    pub document_files: Blobs,
    /// The encrypted bytes of files attached to cases, by attachment id (`crate::attachments`):
    /// files in the data dir on sled, rows on PostgreSQL.
    pub attachment_files: Blobs,
    /// Every stored file's upload, by attachment id: its case, when it began, and whether its
    /// event is known to be recorded — what the sweep checks, removing the bytes of an upload
    /// no event followed.
    pub attachment_uploads: Keyspace,
    /// Per-case content keys of attached files not marked personal, wrapped like the
    /// personal-data keys.
    pub attachment_keys: Keyspace,
    /// The case projection's rows and checkpoint.
    pub case_projection: Keyspace,
    /// Signed checkpoints of the log, by position. Fenced by [`Storage::leader`]: only the
    /// lease's current holder writes them.
    pub checkpoints: Keyspace,
    /// The log's Merkle tree (contract §11): every perfect subtree's hash, derived from the
    /// log and rebuilt from it when missing.
    pub tree: Arc<MerkleTree>,
    /// Witnesses of the log registered by admins: their names and public keys.
    pub witnesses: Keyspace,
    /// Witnesses' cosignatures of checkpoints, by tree size and witness name (unfenced: a
    /// witness posts through any instance).
    pub cosignatures: Keyspace,
    /// Webhook endpoints, with their secrets.
    pub webhook_endpoints: Keyspace,
    /// Webhook delivery cursors and attempt logs (unfenced: admins change them through any
    /// instance; the deliverer writes through a copy fenced by [`Storage::leader`]).
    pub webhook_state: Keyspace,
    /// The partner departments' feeds of webhook messages. Fenced by [`Storage::leader`].
    pub feed: Keyspace,
    /// Which instance does the work that must run in one place: the webhook feed and
    /// delivery, and checkpoint signing.
    pub leader: Lease,
    /// Whether other service instances may share this store (PostgreSQL): in-memory copies of
    /// shared state (tokens, webhook endpoints) must then be refreshed from it.
    pub shared: bool,
    /// The whole store read raw, for backups (`crate::backup`).
    pub snapshot: Arc<dyn SnapshotSource>,
}

/// The blob space of [`Storage::attachment_files`] (sled: files in its directory; PostgreSQL:
/// rows): snapshots read it after the log's head.
pub const ATTACHMENT_FILES_KEYSPACE: &str = "files.attachments";

/// The blob space of [`Storage::document_files`]: snapshots read it after the log's head, as
/// a letter is printed before its event.
pub const DOCUMENT_FILES_KEYSPACE: &str = "files.documents";

/// The keyspace of [`Storage::attachment_uploads`]: snapshots read it after the files, so
/// every file's bytes in a copy come with their upload's record.
pub const ATTACHMENT_UPLOADS_KEYSPACE: &str = "attachments.uploads";

/// The keyspace of [`Storage::attachment_keys`]: snapshots read it after the files it opens.
pub const ATTACHMENT_KEYS_KEYSPACE: &str = "attachments.keys";

/// The keyspace of [`Storage::tree`].
pub const TREE_KEYSPACE: &str = "audit.tree";

/// The name of the lease of [`Storage::leader`].
pub const LEADER_LEASE: &str = "leader";

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("head", &self.log.head())
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the embedded sled store in `dir`.
    pub fn open_sled(dir: &Path) -> anyhow::Result<Storage> {
        Storage::open_sled_with(dir, SledLogOptions::default())
    }

    /// Opens the embedded sled store in `dir` with these options (e.g. the free-space reserve).
    pub fn open_sled_with(dir: &Path, options: SledLogOptions) -> anyhow::Result<Storage> {
        let log = SledLog::open(dir, options)
            .with_context(|| format!("opening the event log in {}", dir.display()))?;
        // sled locks its directory: this process is the only one, and always the leader.
        let leader = Lease::always_held(LEADER_LEASE);
        Ok(Storage {
            tokens: log.keyspace("tokens")?,
            users: log.keyspace("users")?,
            sessions: log.keyspace("sessions")?,
            sign_in_failures: log.keyspace("sign_in_failures")?,
            personal_data_keys: log.keyspace("personal_data_keys")?,
            erasures: log.keyspace("erasures")?,
            counters: log.keyspace("counters")?,
            documents: log.keyspace("documents")?,
            attachment_files: log.blobs(ATTACHMENT_FILES_KEYSPACE),
            document_files: log.blobs(DOCUMENT_FILES_KEYSPACE),
            attachment_uploads: log.keyspace(ATTACHMENT_UPLOADS_KEYSPACE)?,
            attachment_keys: log.keyspace(ATTACHMENT_KEYS_KEYSPACE)?,
            case_projection: log.keyspace("projection.cases")?,
            checkpoints: log.keyspace("audit.checkpoints")?.fenced_by(leader.clone()),
            tree: Arc::new(MerkleTree::new(log.keyspace(TREE_KEYSPACE)?)),
            witnesses: log.keyspace("audit.witnesses")?,
            cosignatures: log.keyspace("audit.cosignatures")?,
            webhook_endpoints: log.keyspace("webhooks.endpoints")?,
            webhook_state: log.keyspace("webhooks.state")?,
            feed: log.keyspace("webhooks.feed")?.fenced_by(leader.clone()),
            leader,
            shared: false,
            snapshot: Arc::new(log.clone()),
            log: Arc::new(log),
        })
    }

    /// Opens the PostgreSQL store at `url` (applying pending schema migrations), with every
    /// keyspace in the same database. Errors never contain the URL, which may hold a password.
    pub async fn open_postgres(url: &str) -> anyhow::Result<Storage> {
        let log = PostgresLog::open(url, PostgresLogOptions::default())
            .await
            .context("opening the event log in PostgreSQL")?;
        // The leader's writes carry the epoch at which this instance took the lease, so a late
        // write of an instance that lost it is refused (`caseledger_store::lease`).
        let leader = log.lease(LEADER_LEASE);
        Ok(Storage {
            tokens: log.keyspace("tokens"),
            users: log.keyspace("users"),
            sessions: log.keyspace("sessions"),
            sign_in_failures: log.keyspace("sign_in_failures"),
            personal_data_keys: log.keyspace("personal_data_keys"),
            erasures: log.keyspace("erasures"),
            counters: log.keyspace("counters"),
            documents: log.keyspace("documents"),
            attachment_files: log.blobs(ATTACHMENT_FILES_KEYSPACE),
            document_files: log.blobs(DOCUMENT_FILES_KEYSPACE),
            attachment_uploads: log.keyspace(ATTACHMENT_UPLOADS_KEYSPACE),
            attachment_keys: log.keyspace(ATTACHMENT_KEYS_KEYSPACE),
            case_projection: log.keyspace("projection.cases"),
            checkpoints: log.keyspace("audit.checkpoints").fenced_by(leader.clone()),
            tree: Arc::new(MerkleTree::new(log.keyspace(TREE_KEYSPACE))),
            witnesses: log.keyspace("audit.witnesses"),
            cosignatures: log.keyspace("audit.cosignatures"),
            webhook_endpoints: log.keyspace("webhooks.endpoints"),
            webhook_state: log.keyspace("webhooks.state"),
            feed: log.keyspace("webhooks.feed").fenced_by(leader.clone()),
            leader,
            shared: true,
            snapshot: Arc::new(log.clone()),
            log: Arc::new(log),
        })
    }
}
