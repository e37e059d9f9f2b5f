//! Blobs: large byte strings (files) kept as numbered chunks, each backend where it keeps
//! things best — sled in files of the data dir (its own trees would cache every byte written,
//! and grow the process by twice a file's size), PostgreSQL in rows of the database every
//! instance reads. A blob space is named like a keyspace, with the prefix [`BLOB_SPACE_PREFIX`];
//! snapshots, backups and copies carry it as keyspace entries (key `id (16 bytes) ‖ index (u32,
//! big-endian)`, value the chunk), so a copy between backends needs no format of its own.
//!
//! A blob is written a chunk at a time, in order from chunk 0, so a writer never holds a whole
//! file; every chunk but the last has the same length (files depend on it to find a chunk).
//! The last one written durably makes every earlier one durable too. This module knows nothing
//! of what a blob holds (the app encrypts before it writes), nor which blobs are still wanted:
//! their owner keeps its own record and removes the rest.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::keyspace::Keyspace;
use crate::types::StoreError;

/// The prefix of every blob space's name: what tells a snapshot's entries of blobs from those
/// of keyspaces.
pub const BLOB_SPACE_PREFIX: &str = "files.";

/// What a backend does for a blob space.
#[async_trait]
pub(crate) trait BlobBackend: Send + Sync + 'static {
    /// Writes chunk `index` of `blob` (chunk 0 begins the blob, each later one follows the one
    /// before); with `durable`, returns once it and every chunk before it are durable.
    async fn put_chunk(
        &self,
        blob: Uuid,
        index: u32,
        bytes: Vec<u8>,
        durable: bool,
    ) -> Result<(), StoreError>;
    /// Chunk `index` of `blob`, when it is stored.
    async fn chunk(&self, blob: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes `blob`, durably; returns how many bytes of storage that freed (at least its
    /// chunks' bytes).
    async fn remove(&self, blob: Uuid) -> Result<u64, StoreError>;
}

/// The blobs of one space.
#[derive(Clone)]
pub struct Blobs {
    backend: Arc<dyn BlobBackend>,
    name: Arc<str>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The key of chunk `index` of `blob` in a snapshot, and in a keyspace of chunks.
pub(crate) fn chunk_key(blob: Uuid, index: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(20);
    key.extend_from_slice(blob.as_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// The blob and index of a chunk's key.
pub(crate) fn parse_chunk_key(key: &[u8]) -> Option<(Uuid, u32)> {
    let (blob, index) = key.split_at_checked(16)?;
    let index = <[u8; 4]>::try_from(index).ok()?;
    Some((Uuid::from_slice(blob).ok()?, u32::from_be_bytes(index)))
}

impl Blobs {
    pub(crate) fn new(name: &str, backend: Arc<dyn BlobBackend>) -> Blobs {
        Blobs {
            backend,
            name: name.into(),
        }
    }

    /// The space's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes chunk `index` of `blob`: chunk 0 begins it, each later chunk follows the one
    /// before, and every chunk but the last has the same length. With `durable`, returns once
    /// it and every chunk written before it are durable.
    pub async fn put_chunk(
        &self,
        blob: Uuid,
        index: u32,
        bytes: Vec<u8>,
        durable: bool,
    ) -> Result<(), StoreError> {
        self.backend.put_chunk(blob, index, bytes, durable).await
    }

    /// Chunk `index` of `blob`, when it is stored.
    pub async fn chunk(&self, blob: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.chunk(blob, index).await
    }

    /// Removes every chunk of `blob`, durably; returns how many bytes of storage that freed
    /// (at least the chunks' bytes).
    pub async fn remove(&self, blob: Uuid) -> Result<u64, StoreError> {
        self.backend.remove(blob).await
    }
}

/// Blobs as rows of a keyspace, one chunk a row (PostgreSQL).
pub(crate) struct KeyspaceBlobs {
    keyspace: Keyspace,
}

impl KeyspaceBlobs {
    pub(crate) fn new(keyspace: Keyspace) -> KeyspaceBlobs {
        KeyspaceBlobs { keyspace }
    }
}

#[async_trait]
impl BlobBackend for KeyspaceBlobs {
    async fn put_chunk(
        &self,
        blob: Uuid,
        index: u32,
        bytes: Vec<u8>,
        durable: bool,
    ) -> Result<(), StoreError> {
        self.keyspace
            .apply(vec![(chunk_key(blob, index), Some(bytes))], durable)
            .await
    }

    async fn chunk(&self, blob: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.keyspace.get_bytes(&chunk_key(blob, index)).await
    }

    async fn remove(&self, blob: Uuid) -> Result<u64, StoreError> {
        self.keyspace.remove_prefix(blob.as_bytes()).await
    }
}
