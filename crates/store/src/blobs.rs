//! Blobs: large byte strings (files) kept in a keyspace as numbered chunks, so that both
//! backends keep them where they keep everything else — sled in the data dir, PostgreSQL in
//! rows of the database that every instance reads — and snapshots, backups and copies carry
//! them with no format of their own.
//!
//! A blob is named by a UUID; its chunks are the keys `id (16 bytes) ‖ index (u32, big-endian)`,
//! so a blob's chunks sort together and in order. Chunks are written one at a time, so a writer
//! never holds a whole file; the last one written durably makes every earlier one durable too
//! (sled syncs the whole database; a synchronous PostgreSQL commit waits for the WAL up to it).
//!
//! This module knows nothing of what a blob holds (the app encrypts before it writes), nor of
//! which blobs are still wanted: the owner keeps its own record of them and removes the rest.

use uuid::Uuid;

use crate::keyspace::Keyspace;
use crate::types::StoreError;

/// How many chunks [`Blobs::remove`] deletes in one write.
const REMOVE_PAGE: usize = 64;

/// The blobs of one keyspace.
#[derive(Debug, Clone)]
pub struct Blobs {
    keyspace: Keyspace,
}

fn chunk_key(blob: Uuid, index: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(20);
    key.extend_from_slice(blob.as_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    key
}

impl Blobs {
    /// The blobs kept in `keyspace` (which holds nothing else).
    pub fn new(keyspace: Keyspace) -> Blobs {
        Blobs { keyspace }
    }

    /// The keyspace's name (for snapshots, which read it after the log's head).
    pub fn keyspace_name(&self) -> &str {
        self.keyspace.name()
    }

    /// Writes chunk `index` of `blob`; with `durable`, returns once it and every chunk written
    /// before it are durable.
    pub async fn put_chunk(
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

    /// Chunk `index` of `blob`, when it is stored.
    pub async fn chunk(&self, blob: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.keyspace.get_bytes(&chunk_key(blob, index)).await
    }

    /// Removes every chunk of `blob`, durably; returns how many bytes they held.
    pub async fn remove(&self, blob: Uuid) -> Result<u64, StoreError> {
        let prefix = blob.as_bytes().to_vec();
        let mut removed = 0u64;
        loop {
            let page = self.keyspace.scan_bytes(&prefix, None, REMOVE_PAGE).await?;
            if page.is_empty() {
                return Ok(removed);
            }
            removed += page
                .iter()
                .map(|(_, value)| value.len() as u64)
                .sum::<u64>();
            let removals = page.into_iter().map(|(key, _)| (key, None)).collect();
            self.keyspace.apply(removals, true).await?;
        }
    }
}
