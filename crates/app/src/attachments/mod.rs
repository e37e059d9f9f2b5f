//! Files attached to cases as evidence (contract §10): uploads streamed into the store
//! encrypted, a chunk at a time, their events recorded only once the bytes are durable; lists
//! and downloads as each role may see them; the sweep of uploads no event followed.
//!
//! An upload: the caller and the case are checked, the file name too; the file's case key is
//! fetched or created (the personal-data key for a file marked personal, so that erasure makes
//! it unreadable; the case's content key otherwise); an upload record is written
//! (`Storage::attachment_uploads`); then the body is read a chunk at a time
//! ([`sealing::CHUNK_BYTES`]): counted against the limit (413 the moment it is passed), its
//! first chunk's type detected before anything is kept (415), hashed, sealed and written, the
//! last chunk durably. Only then is `AttachmentAdded` appended. A refusal, a broken body or a
//! refused command removes what was written. A process killed in between leaves an upload
//! record without an event: no one sees those bytes (nothing lists them), and the sweep
//! removes them ([`App::sweep_abandoned_uploads`]).
//!
//! Submodules: `kinds` (the limit and the media types, detection from the bytes), `sealing`
//! (the chunks' encryption). This module knows nothing of HTTP: the API hands it the body as a
//! stream and sends what it reads back.

pub mod kinds;
pub mod sealing;

use std::ops::Range;

use caseledger_domain::{
    limits, Attachment, AttachmentId, AttachmentWithdrawal, Case, CaseId, Command, FileName,
    Rejection, Role, Rule,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::access::{may_see_personal_data, require_role};
use crate::error::UploadRefusal;
use crate::personal_data::{CaseKey, StoredCaseKey};
use crate::reads::TimeTravel;
use crate::{App, AppError, Caller, CommandOutcome};
use kinds::detect;
use sealing::{chunk_count, FileSealer, CHUNK_BYTES};

/// How long an upload may go without its event before the sweep removes its bytes, where
/// other instances may still be uploading (PostgreSQL). A sled store is one process's alone, so
/// at its start every upload without an event is abandoned.
pub const ABANDONED_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// A file to attach, as asked for.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// The file's name.
    pub filename: String,
    /// Whether it holds personal data (the default).
    pub personal: bool,
    /// Whether partner departments may read it (only when not personal).
    pub shared: bool,
    /// The size the request declares (`Content-Length`), when it does: more than the limit is
    /// refused before anything is read.
    pub declared_size: Option<u64>,
}

/// An attachment as a reader may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentView {
    /// Its id.
    pub attachment_id: AttachmentId,
    /// Its name; `None` for a personal file's name to a reader who may not see personal data,
    /// or once the case's personal data is erased.
    pub filename: Option<String>,
    /// The media type detected from its bytes.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, lowercase hex: what an auditor checks a copy against.
    pub sha256: String,
    /// Whether it holds personal data.
    pub personal: bool,
    /// Whether partner departments may read it.
    pub shared: bool,
    /// When it was attached.
    pub added_at: DateTime<Utc>,
    /// Its withdrawal, once marked not relevant.
    pub withdrawn: Option<AttachmentWithdrawal>,
    /// True when its bytes can no longer be read: a personal file of an erased case.
    pub erased: bool,
}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct AddedAttachment {
    /// The attachment: the new one, or the one of the same bytes attached before.
    pub attachment: AttachmentView,
    /// The command's outcome when this upload recorded it; `None` when the same bytes were
    /// attached to the case already (nothing was written).
    pub outcome: Option<CommandOutcome>,
}

/// An attachment whose bytes the caller may read.
pub struct AttachmentFile {
    /// What it is.
    pub attachment: AttachmentView,
    sealer: std::sync::Arc<FileSealer>,
    files: caseledger_store::Blobs,
}

impl std::fmt::Debug for AttachmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentFile")
            .field("attachment", &self.attachment.attachment_id)
            .finish_non_exhaustive()
    }
}

impl AttachmentFile {
    /// The bytes of `range` (within the file's size), a chunk's worth at a time, each chunk
    /// opened and checked as it is read; the next chunk is read and opened (on another thread)
    /// while one is sent.
    pub fn read(
        &self,
        range: Range<u64>,
    ) -> impl Stream<Item = Result<Vec<u8>, AppError>> + Send + 'static {
        let sealer = std::sync::Arc::clone(&self.sealer);
        let files = self.files.clone();
        let blob = self.attachment.attachment_id.0;
        let chunks = chunk_count(self.attachment.size);
        let end = range.end.min(self.attachment.size);
        let start = range.start.min(end);
        let chunk = CHUNK_BYTES as u64;
        // The chunks the range touches (none for an empty range).
        let first = u32::try_from(start / chunk).unwrap_or(u32::MAX);
        let after_last = if start == end {
            first
        } else {
            u32::try_from(end.div_ceil(chunk)).unwrap_or(u32::MAX)
        };
        futures_util::stream::iter(first..after_last)
            .map(move |index| {
                let sealer = std::sync::Arc::clone(&sealer);
                let files = files.clone();
                async move {
                    let opened = tokio::spawn(async move {
                        let sealed = files.chunk(blob, index).await?.ok_or_else(|| {
                            AppError::Internal(anyhow::anyhow!(
                                "chunk {index} of attachment {blob} is missing from the store"
                            ))
                        })?;
                        sealer.open(index, index + 1 == chunks, sealed)
                    })
                    .await
                    .map_err(|error| {
                        AppError::Internal(anyhow::anyhow!("reading a chunk failed: {error}"))
                    })??;
                    // The part of the chunk inside the range.
                    let chunk_start = u64::from(index) * chunk;
                    let from = usize::try_from(start.saturating_sub(chunk_start)).unwrap_or(0);
                    let to = usize::try_from(end.min(chunk_start + chunk) - chunk_start)
                        .unwrap_or(usize::MAX);
                    opened.get(from..to).map(<[u8]>::to_vec).ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!(
                            "chunk {index} of attachment {blob} is shorter than its size says"
                        ))
                    })
                }
            })
            .buffered(2)
    }
}

/// An upload's record: which case it is for, when it began, and whether its event is known to
/// be recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadRecord {
    case_id: CaseId,
    started_at: DateTime<Utc>,
    recorded: bool,
}

/// What the sweep of abandoned uploads found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadSweep {
    /// Uploads whose event is recorded (their records are marked so).
    pub recorded: u64,
    /// Uploads no event followed, removed.
    pub removed: u64,
    /// The bytes those held.
    pub removed_bytes: u64,
}

/// An upload's chunk writes: each chunk sealed on a task of its own as soon as it is read (so
/// two chunks are sealed at once on two cores), and written in order — a chunk's task waits
/// for the one before it to be written. At most [`CHUNKS_IN_FLIGHT`] are under way.
struct ChunkWrites {
    sealer: std::sync::Arc<FileSealer>,
    files: caseledger_store::Blobs,
    blob: Uuid,
    /// The upload record's write, until it is known to be durable.
    record: Option<RecordWrite>,
    /// The chunks' tasks, oldest first.
    in_flight: std::collections::VecDeque<tokio::task::JoinHandle<Result<(), AppError>>>,
    /// Fires when the newest chunk started is written (none before the first).
    written: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The SHA-256 of the chunks so far, computed on a task of its own.
    hashing: Hashing,
}

/// How many chunks an upload seals and writes at once.
const CHUNKS_IN_FLIGHT: usize = 3;

/// The SHA-256 of a file, computed on a task of its own from its chunks in order, beside
/// their sealing and writing.
struct Hashing {
    chunks: Option<tokio::sync::mpsc::Sender<std::sync::Arc<Vec<u8>>>>,
    digest: tokio::task::JoinHandle<String>,
}

impl Hashing {
    fn start() -> Hashing {
        let (chunks, mut received) = tokio::sync::mpsc::channel::<std::sync::Arc<Vec<u8>>>(2);
        let digest = tokio::spawn(async move {
            let mut hasher = Sha256::new();
            while let Some(chunk) = received.recv().await {
                hasher.update(chunk.as_slice());
            }
            hex::encode(hasher.finalize())
        });
        Hashing {
            chunks: Some(chunks),
            digest,
        }
    }
}

/// The write of an upload's record, under way.
type RecordWrite = tokio::task::JoinHandle<Result<(), caseledger_store::StoreError>>;

impl ChunkWrites {
    /// Starts sealing this chunk at once and writing it after the one before; the last is
    /// written durably. The upload's record is durable before the first chunk is written.
    async fn start(&mut self, index: u32, last: bool, plain: Vec<u8>) -> Result<(), AppError> {
        if let Some(record) = self.record.take() {
            record.await.map_err(|error| {
                AppError::Internal(anyhow::anyhow!("an upload record's write failed: {error}"))
            })??;
        }
        let plain = std::sync::Arc::new(plain);
        if let Some(chunks) = &self.hashing.chunks {
            chunks
                .send(std::sync::Arc::clone(&plain))
                .await
                .map_err(|_| AppError::Internal(anyhow::anyhow!("the upload's hashing stopped")))?;
        }
        while self.in_flight.len() >= CHUNKS_IN_FLIGHT {
            self.wait_oldest().await?;
        }
        let (sealer, files, blob) = (
            std::sync::Arc::clone(&self.sealer),
            self.files.clone(),
            self.blob,
        );
        let before = self.written.take();
        let (done, written) = tokio::sync::oneshot::channel();
        self.written = Some(written);
        self.in_flight.push_back(tokio::spawn(async move {
            let sealed = sealer.seal(index, last, &plain)?;
            if let Some(before) = before {
                // The chunk before failed when its task ended without saying it was written.
                before.await.map_err(|_| {
                    AppError::Internal(anyhow::anyhow!("an earlier chunk was not written"))
                })?;
            }
            files.put_chunk(blob, index, sealed, last).await?;
            let _ = done.send(());
            Ok(())
        }));
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<(), AppError> {
        match self.in_flight.pop_front() {
            Some(write) => write.await.map_err(|error| {
                AppError::Internal(anyhow::anyhow!("a chunk write failed: {error}"))
            })?,
            None => Ok(()),
        }
    }

    /// The SHA-256 of every chunk started, lowercase hex, once all are hashed.
    async fn digest(&mut self) -> Result<String, AppError> {
        self.hashing.chunks = None;
        (&mut self.hashing.digest).await.map_err(|error| {
            AppError::Internal(anyhow::anyhow!("hashing an upload failed: {error}"))
        })
    }

    /// Waits for every write under way (and the upload record's), all of them even when one
    /// failed; the first failure is the answer.
    async fn settle(&mut self) -> Result<(), AppError> {
        let mut outcome = Ok(());
        if let Some(record) = self.record.take() {
            outcome = record
                .await
                .map_err(|error| {
                    AppError::Internal(anyhow::anyhow!("an upload record's write failed: {error}"))
                })
                .and_then(|written| written.map_err(AppError::from));
        }
        while !self.in_flight.is_empty() {
            let written = self.wait_oldest().await;
            if outcome.is_ok() {
                outcome = written;
            }
        }
        outcome
    }
}

/// What a file's bytes came to once stored.
struct StoredFile {
    size: u64,
    sha256: String,
    content_type: String,
}

impl App {
    /// The attachments of a case as the caller may see them: partners only the shared files
    /// that are not personal (of a case shared with them); everyone else all, withdrawn ones
    /// included; a personal file's name only to those who may see personal data.
    pub async fn attachments(
        &self,
        caller: &Caller,
        case_id: CaseId,
    ) -> Result<Vec<AttachmentView>, AppError> {
        let view = self.case(caller, case_id, TimeTravel::Latest).await?;
        let erased = self.is_erased(case_id).await?;
        let name_key = self.name_key(caller, &view.case, erased).await?;
        view.case
            .attachments
            .iter()
            .filter(|attachment| caller.role != Role::Partner || attachment.is_partner_visible())
            .map(|attachment| attachment_view(attachment, case_id, name_key.as_ref(), erased))
            .collect()
    }

    /// One attachment whose bytes the caller may read: 404 for a file a partner may not see
    /// (as for one that does not exist), 403 for an auditor asking for a personal file's bytes,
    /// 410 for a personal file of an erased case.
    pub async fn attachment_file(
        &self,
        caller: &Caller,
        case_id: CaseId,
        attachment_id: AttachmentId,
    ) -> Result<AttachmentFile, AppError> {
        let view = self.case(caller, case_id, TimeTravel::Latest).await?;
        let attachment = view
            .case
            .attachment(attachment_id)
            .filter(|attachment| caller.role != Role::Partner || attachment.is_partner_visible())
            .ok_or_else(|| AppError::NotFound("attachment".into()))?;
        if attachment.personal && caller.role == Role::Auditor {
            return Err(AppError::Forbidden(
                "an auditor reads the metadata of every file but the bytes only of files not \
                 marked personal"
                    .into(),
            ));
        }
        let erased = attachment.personal && self.is_erased(case_id).await?;
        if erased {
            return Err(AppError::Gone(format!(
                "attachment {attachment_id} held personal data, which was erased with the \
                 case's; its record and SHA-256 remain"
            )));
        }
        let name_key = self.name_key(caller, &view.case, erased).await?;
        let key = self
            .file_key(case_id, attachment.personal, false)
            .await?
            .ok_or_else(|| {
                if attachment.personal {
                    AppError::Gone(format!(
                        "attachment {attachment_id} held personal data, which was erased"
                    ))
                } else {
                    AppError::Internal(anyhow::anyhow!(
                        "the content key of case {case_id} is missing"
                    ))
                }
            })?;
        Ok(AttachmentFile {
            attachment: attachment_view(attachment, case_id, name_key.as_ref(), erased)?,
            sealer: std::sync::Arc::new(FileSealer::new(&key, case_id, attachment_id)?),
            files: self.storage.attachment_files.clone(),
        })
    }

    /// Attaches the file `body` streams to a case: officers, supervisors and admins. The same
    /// bytes attached to the case already (and not withdrawn) answer that attachment and write
    /// nothing. Nothing of a refused upload stays.
    pub async fn add_attachment<S, B, E>(
        &self,
        caller: &Caller,
        case_id: CaseId,
        new: NewAttachment,
        body: S,
    ) -> Result<AddedAttachment, AppError>
    where
        S: Stream<Item = Result<B, E>> + Send + Unpin,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let result = self.try_add_attachment(caller, case_id, new, body).await;
        if let Err(AppError::Upload(refusal)) = &result {
            metrics::counter!("caseledger_attachment_uploads_refused_total", "reason" => refusal.reason())
                .increment(1);
        }
        result
    }

    async fn try_add_attachment<S, B, E>(
        &self,
        caller: &Caller,
        case_id: CaseId,
        new: NewAttachment,
        body: S,
    ) -> Result<AddedAttachment, AppError>
    where
        S: Stream<Item = Result<B, E>> + Send + Unpin,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        require_role(
            caller,
            &[Role::Officer, Role::Supervisor, Role::Admin],
            "attach files to cases",
        )?;
        self.case(caller, case_id, TimeTravel::Latest).await?;
        let filename = new.filename.trim().to_owned();
        if let Some(message) = limits::file_name_problem(&filename) {
            return Err(AppError::Invalid {
                field: "filename".into(),
                message,
            });
        }
        let limit = self.attachment_limits.max_bytes;
        if new.declared_size.is_some_and(|size| size > limit) {
            return Err(UploadRefusal::TooLarge { limit }.into());
        }
        if new.personal && self.is_erased(case_id).await? {
            return Err(Rejection::conflict(
                Rule::PersonalDataErased,
                "the case's personal data was erased",
            )
            .into());
        }
        let key = self
            .file_key(case_id, new.personal, true)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a case key was not created")))?;
        let attachment_id = AttachmentId(Uuid::now_v7());
        // The upload's record is written (durably) while the first chunk arrives; no chunk is
        // written before it is durable, so every stored byte has a record the sweep finds.
        let record = {
            let uploads = self.storage.attachment_uploads.clone();
            let record = UploadRecord {
                case_id,
                started_at: self.now(),
                recorded: false,
            };
            tokio::spawn(async move { uploads.put(attachment_id.0.as_bytes(), &record).await })
        };
        let stored = match self
            .store_file(&key, case_id, attachment_id, record, body)
            .await
        {
            Ok(stored) => stored,
            Err(error) => {
                self.discard_upload(attachment_id).await;
                return Err(error);
            }
        };
        // The same bytes again: the attachment there is the answer.
        let (case, _) = self.load(case_id, TimeTravel::Latest).await?;
        if let Some(existing) = same_file(&case, &stored.sha256) {
            self.discard_upload(attachment_id).await;
            return self.existing_attachment(caller, case_id, &existing).await;
        }
        let filename = if new.personal {
            FileName::Sealed(key.seal_text(case_id, &filename)?)
        } else {
            FileName::Plain(filename)
        };
        let command = Command::AddAttachment {
            attachment_id,
            filename,
            content_type: stored.content_type,
            size: stored.size,
            sha256: stored.sha256.clone(),
            personal: new.personal,
            shared: new.shared && !new.personal,
        };
        let outcome = match self.execute(caller, case_id, command, None, None).await {
            Ok(outcome) => outcome,
            Err(error) => {
                self.discard_upload(attachment_id).await;
                // Another upload of the same bytes was recorded first.
                if let AppError::Rejected(Rejection::Conflict {
                    rule: Rule::AttachmentAlreadyAdded,
                    ..
                }) = &error
                {
                    let (case, _) = self.load(case_id, TimeTravel::Latest).await?;
                    if let Some(existing) = same_file(&case, &stored.sha256) {
                        return self.existing_attachment(caller, case_id, &existing).await;
                    }
                }
                return Err(error);
            }
        };
        self.mark_recorded(attachment_id, case_id).await;
        metrics::counter!("caseledger_attachment_bytes_stored_total").increment(stored.size);
        let attachments = self.attachments(caller, case_id).await?;
        let attachment = attachments
            .into_iter()
            .find(|attachment| attachment.attachment_id == attachment_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a recorded attachment vanished")))?;
        Ok(AddedAttachment {
            attachment,
            outcome: Some(outcome),
        })
    }

    async fn existing_attachment(
        &self,
        caller: &Caller,
        case_id: CaseId,
        existing: &AttachmentId,
    ) -> Result<AddedAttachment, AppError> {
        let attachment = self
            .attachments(caller, case_id)
            .await?
            .into_iter()
            .find(|attachment| attachment.attachment_id == *existing)
            .ok_or_else(|| AppError::NotFound("attachment".into()))?;
        Ok(AddedAttachment {
            attachment,
            outcome: None,
        })
    }

    /// Reads `body` into the store a chunk at a time: counted, typed, hashed, sealed, written;
    /// the last chunk durably. One chunk is sealed and written (on another thread) while the
    /// next is read, so receiving, sealing and the disk overlap; at most two chunks are held.
    async fn store_file<S, B, E>(
        &self,
        key: &CaseKey,
        case_id: CaseId,
        attachment_id: AttachmentId,
        record: RecordWrite,
        body: S,
    ) -> Result<StoredFile, AppError>
    where
        S: Stream<Item = Result<B, E>> + Send + Unpin,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let mut writes = ChunkWrites {
            sealer: std::sync::Arc::new(FileSealer::new(key, case_id, attachment_id)?),
            files: self.storage.attachment_files.clone(),
            blob: attachment_id.0,
            record: Some(record),
            in_flight: std::collections::VecDeque::new(),
            written: None,
            hashing: Hashing::start(),
        };
        let stored = self.read_chunks(body, &mut writes).await;
        // Whatever happened, no write of this upload runs on after this returns (a refusal
        // then removes what was written, and nothing may land after that).
        let written = writes.settle().await;
        let stored = stored?;
        written?;
        Ok(stored)
    }

    async fn read_chunks<S, B, E>(
        &self,
        mut body: S,
        writes: &mut ChunkWrites,
    ) -> Result<StoredFile, AppError>
    where
        S: Stream<Item = Result<B, E>> + Send + Unpin,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let limit = self.attachment_limits.max_bytes;
        let mut buffer: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
        let mut size = 0u64;
        let mut index = 0u32;
        let mut content_type = None;
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|error| UploadRefusal::CutShort(error.to_string()))?;
            let mut bytes = piece.as_ref();
            size += bytes.len() as u64;
            if size > limit {
                return Err(UploadRefusal::TooLarge { limit }.into());
            }
            while !bytes.is_empty() {
                if buffer.len() == CHUNK_BYTES {
                    // More follows: the full chunk is not the last.
                    if index == 0 {
                        content_type = Some(self.accepted_type(&buffer)?);
                    }
                    let full = std::mem::replace(&mut buffer, Vec::with_capacity(CHUNK_BYTES));
                    writes.start(index, false, full).await?;
                    index += 1;
                }
                let take = (CHUNK_BYTES - buffer.len()).min(bytes.len());
                buffer.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
            }
        }
        if index == 0 {
            content_type = Some(self.accepted_type(&buffer)?);
        }
        writes.start(index, true, buffer).await?;
        Ok(StoredFile {
            size,
            sha256: writes.digest().await?,
            content_type: content_type.unwrap_or_default(),
        })
    }

    /// The media type of a file beginning with `head`, when the service takes it.
    fn accepted_type(&self, head: &[u8]) -> Result<String, AppError> {
        match detect(head) {
            Some(kind) if self.attachment_limits.accepts(&kind) => Ok(kind),
            detected => Err(UploadRefusal::UnsupportedType {
                detected,
                accepted: self.attachment_limits.accepted.clone(),
            }
            .into()),
        }
    }

    /// Removes what an upload wrote: its chunks, then its record. A failure is logged; the
    /// sweep finds the record again.
    async fn discard_upload(&self, attachment_id: AttachmentId) {
        let removed = async {
            self.storage
                .attachment_files
                .remove(attachment_id.0)
                .await?;
            self.storage
                .attachment_uploads
                .remove(attachment_id.0.as_bytes())
                .await
        }
        .await;
        if let Err(error) = removed {
            tracing::warn!(%attachment_id, %error, "a refused upload's bytes stay until the sweep");
        }
    }

    /// Marks an upload's event recorded (without a sync: the sweep checks the case anyway).
    async fn mark_recorded(&self, attachment_id: AttachmentId, case_id: CaseId) {
        let record = UploadRecord {
            case_id,
            started_at: self.now(),
            recorded: true,
        };
        let written = match serde_json::to_vec(&record) {
            Ok(bytes) => {
                self.storage
                    .attachment_uploads
                    .apply(
                        vec![(attachment_id.0.as_bytes().to_vec(), Some(bytes))],
                        false,
                    )
                    .await
            }
            Err(error) => Err(caseledger_store::StoreError::Encode(error.to_string())),
        };
        if let Err(error) = written {
            tracing::warn!(%attachment_id, %error, "an upload's record is not marked recorded");
        }
    }

    /// Removes the bytes of every upload that began before `started_before` and whose event
    /// is not recorded (a process killed mid-upload, a failure between its bytes and its
    /// event), and marks the rest recorded. Says what it found in the logs.
    pub async fn sweep_abandoned_uploads(
        &self,
        started_before: DateTime<Utc>,
    ) -> Result<UploadSweep, AppError> {
        const PAGE: usize = 256;
        let mut sweep = UploadSweep::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page: Vec<(Vec<u8>, UploadRecord)> = self
                .storage
                .attachment_uploads
                .scan_after(b"", after.as_deref(), PAGE)
                .await?;
            let full = page.len() == PAGE;
            after = page.last().map(|(key, _)| key.clone());
            for (key, record) in page {
                if record.recorded || record.started_at >= started_before {
                    continue;
                }
                let Ok(id) = Uuid::from_slice(&key) else {
                    continue;
                };
                let attachment_id = AttachmentId(id);
                let (case, _) = self.load(record.case_id, TimeTravel::Latest).await?;
                if case.attachment(attachment_id).is_some() {
                    self.mark_recorded(attachment_id, record.case_id).await;
                    sweep.recorded += 1;
                    continue;
                }
                let bytes = self.storage.attachment_files.remove(id).await?;
                self.storage.attachment_uploads.remove(&key).await?;
                tracing::warn!(
                    %attachment_id,
                    case_id = %record.case_id,
                    started_at = %record.started_at,
                    bytes,
                    "removed the stored bytes of an upload that was never recorded"
                );
                sweep.removed += 1;
                sweep.removed_bytes += bytes;
            }
            if !full {
                return Ok(sweep);
            }
        }
    }

    /// The key a file of `case_id` is sealed with: the personal-data key for a personal file,
    /// the case's content key otherwise; created (once, whichever instance asks first) when
    /// `create` and there is none.
    async fn file_key(
        &self,
        case_id: CaseId,
        personal: bool,
        create: bool,
    ) -> Result<Option<CaseKey>, AppError> {
        let keyspace = if personal {
            &self.storage.personal_data_keys
        } else {
            &self.storage.attachment_keys
        };
        let id = case_id.0.as_bytes();
        if let Some(stored) = keyspace.get::<StoredCaseKey>(id).await? {
            return Ok(Some(self.keyring().open(case_id, &stored)?));
        }
        if !create {
            return Ok(None);
        }
        let key = CaseKey::generate();
        if keyspace
            .put_new(id, &self.keyring().store(case_id, &key)?)
            .await?
        {
            return Ok(Some(key));
        }
        // Another upload created it first.
        let stored = keyspace
            .get::<StoredCaseKey>(id)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a created case key vanished")))?;
        Ok(Some(self.keyring().open(case_id, &stored)?))
    }

    /// The key that opens personal files' names for this caller, when it may read them.
    async fn name_key(
        &self,
        caller: &Caller,
        case: &Case,
        erased: bool,
    ) -> Result<Option<CaseKey>, AppError> {
        let sealed_names = case
            .attachments
            .iter()
            .any(|attachment| matches!(attachment.filename, FileName::Sealed(_)));
        if erased || !sealed_names || !may_see_personal_data(caller.role) {
            return Ok(None);
        }
        self.file_key(case.id, true, false).await
    }
}

/// The attachment of `case` with these bytes, not withdrawn.
fn same_file(case: &Case, sha256: &str) -> Option<AttachmentId> {
    case.attachments
        .iter()
        .find(|attachment| attachment.sha256 == sha256 && attachment.withdrawn.is_none())
        .map(|attachment| attachment.attachment_id)
}

fn attachment_view(
    attachment: &Attachment,
    case_id: CaseId,
    name_key: Option<&CaseKey>,
    erased: bool,
) -> Result<AttachmentView, AppError> {
    let filename = match (&attachment.filename, name_key) {
        (FileName::Plain(name), _) => Some(name.clone()),
        (FileName::Sealed(sealed), Some(key)) => Some(key.open_text(case_id, sealed)?),
        (FileName::Sealed(_), None) => None,
    };
    Ok(AttachmentView {
        attachment_id: attachment.attachment_id,
        filename,
        content_type: attachment.content_type.clone(),
        size: attachment.size,
        sha256: attachment.sha256.clone(),
        personal: attachment.personal,
        shared: attachment.shared,
        added_at: attachment.added_at,
        withdrawn: attachment.withdrawn.clone(),
        erased: erased && attachment.personal,
    })
}
