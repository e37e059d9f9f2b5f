//! Blobs of a sled store as files in its directory: `<dir>/files/<space>/<blob id>`, one file a
//! blob, its chunks one after another, each framed as `length (u32, big-endian) ‖ bytes`.
//! Every chunk but the last has the same length, so chunk `i` starts at `i × (4 + length of
//! chunk 0)`. Writes check the store's [`Durability`] first (no write after a failed sync, none
//! below the free-space reserve); creating a file syncs its directory, a durable write the
//! file.
//!
//! This module owns the files and their layout; [`crate::Blobs`] owns the API, and the sled
//! snapshot reads and writes a space's files as entries ([`FileBlobs::page`]).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::durability::{blocking, Durability};
use crate::blobs::{chunk_key, BlobBackend};
use crate::snapshot::RawEntry;
use crate::types::StoreError;

/// The folder of a store's blob spaces, inside its directory.
pub(super) const FILES_FOLDER: &str = "files";

/// One blob space of a sled store.
#[derive(Clone)]
pub(super) struct FileBlobs {
    dir: PathBuf,
    durability: Option<Arc<Durability>>,
}

fn storage(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Storage(format!("{}: {error}", path.display()))
}

impl FileBlobs {
    /// The space `space` of the store in `store_dir`; writes check `durability` when given (an
    /// import's staging store has none: it is synced as a whole before it is used).
    pub(super) fn new(
        store_dir: &Path,
        space: &str,
        durability: Option<Arc<Durability>>,
    ) -> FileBlobs {
        FileBlobs {
            dir: store_dir.join(FILES_FOLDER).join(space),
            durability,
        }
    }

    fn path(&self, blob: Uuid) -> PathBuf {
        self.dir.join(blob.simple().to_string())
    }

    fn put(&self, blob: Uuid, index: u32, bytes: &[u8], durable: bool) -> Result<(), StoreError> {
        if let Some(durability) = &self.durability {
            durability.check_writable()?;
        }
        let path = self.path(blob);
        let length = u32::try_from(bytes.len())
            .map_err(|_| StoreError::Storage("a chunk of 4 GiB or more".into()))?;
        let mut file = if index == 0 {
            std::fs::create_dir_all(&self.dir).map_err(|error| storage(&self.dir, error))?;
            File::create(&path)
        } else {
            OpenOptions::new().append(true).open(&path)
        }
        .map_err(|error| storage(&path, error))?;
        if index == 0 {
            // The new file's name is made durable at once (while later chunks are still on
            // their way), so a durable last chunk needs only the file's own sync.
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|error| storage(&self.dir, error))?;
        }
        file.write_all(&length.to_be_bytes())
            .and_then(|()| file.write_all(bytes))
            .map_err(|error| storage(&path, error))?;
        if durable {
            file.sync_data().map_err(|error| storage(&path, error))?;
        }
        Ok(())
    }

    fn get(&self, blob: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(blob);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(storage(&path, error)),
        };
        let Some(first) = read_length(&mut file, &path)? else {
            return Ok(None);
        };
        let offset = u64::from(index) * (4 + u64::from(first));
        file.seek(SeekFrom::Start(offset))
            .map_err(|error| storage(&path, error))?;
        let Some(length) = read_length(&mut file, &path)? else {
            return Ok(None);
        };
        let mut bytes = vec![0; length as usize];
        match file.read_exact(&mut bytes) {
            Ok(()) => Ok(Some(bytes)),
            // A chunk cut by a stop before its write ended: not stored.
            Err(error) if error.kind() == ErrorKind::UnexpectedEof => Ok(None),
            Err(error) => Err(storage(&path, error)),
        }
    }

    fn delete(&self, blob: Uuid) -> Result<u64, StoreError> {
        let path = self.path(blob);
        let size = match std::fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(storage(&path, error)),
        };
        std::fs::remove_file(&path).map_err(|error| storage(&path, error))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|error| storage(&self.dir, error))?;
        Ok(size)
    }

    /// Whether the space holds any blob.
    pub(super) fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.blob_ids()?.is_empty())
    }

    /// Every blob's id, in key order.
    fn blob_ids(&self) -> Result<Vec<Uuid>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(storage(&self.dir, error)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| storage(&self.dir, error))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| Uuid::try_parse(name).ok())
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Up to `limit` chunks as snapshot entries (key `id ‖ index`), in key order, after the
    /// key `after`.
    pub(super) fn page(
        &self,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<RawEntry>, StoreError> {
        let after = after.as_deref().and_then(crate::blobs::parse_chunk_key);
        let mut page = Vec::new();
        for blob in self.blob_ids()? {
            let mut index = match after {
                Some((last, _)) if blob < last => continue,
                Some((last, index)) if blob == last => index.saturating_add(1),
                _ => 0,
            };
            while page.len() < limit {
                let Some(chunk) = self.get(blob, index)? else {
                    break;
                };
                page.push((chunk_key(blob, index), chunk));
                index = index.saturating_add(1);
            }
            if page.len() >= limit {
                break;
            }
        }
        Ok(page)
    }

    /// Writes one snapshot entry (an import: chunks come in key order).
    pub(super) fn import(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let (blob, index) = crate::blobs::parse_chunk_key(key)
            .ok_or_else(|| StoreError::Storage("a file chunk's key is not id ‖ index".into()))?;
        self.put(blob, index, value, false)
    }

    /// Syncs every file of the space and its directory (the end of an import).
    pub(super) fn sync_all(&self) -> Result<(), StoreError> {
        for blob in self.blob_ids()? {
            let path = self.path(blob);
            File::open(&path)
                .and_then(|file| file.sync_all())
                .map_err(|error| storage(&path, error))?;
        }
        if self.dir.exists() {
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|error| storage(&self.dir, error))?;
        }
        Ok(())
    }
}

/// The next frame's length, `None` at the end of the file (or a length cut by a stop).
fn read_length(file: &mut File, path: &Path) -> Result<Option<u32>, StoreError> {
    let mut length = [0u8; 4];
    match file.read_exact(&mut length) {
        Ok(()) => Ok(Some(u32::from_be_bytes(length))),
        Err(error) if error.kind() == ErrorKind::UnexpectedEof => Ok(None),
        Err(error) => Err(storage(path, error)),
    }
}

#[async_trait]
impl BlobBackend for FileBlobs {
    async fn put_chunk(
        &self,
        blob: Uuid,
        index: u32,
        bytes: Vec<u8>,
        durable: bool,
    ) -> Result<(), StoreError> {
        let files = self.clone();
        blocking(move || files.put(blob, index, &bytes, durable)).await
    }

    async fn chunk(&self, blob: Uuid, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let files = self.clone();
        blocking(move || files.get(blob, index)).await
    }

    async fn remove(&self, blob: Uuid) -> Result<u64, StoreError> {
        let files = self.clone();
        blocking(move || files.delete(blob)).await
    }
}

/// The blob spaces of the store in `store_dir` that hold a blob, by name.
pub(super) fn blob_spaces(store_dir: &Path) -> Result<Vec<String>, StoreError> {
    let folder = store_dir.join(FILES_FOLDER);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(storage(&folder, error)),
    };
    let mut spaces = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| storage(&folder, error))?;
        if let Some(space) = entry.file_name().to_str() {
            if space.starts_with(crate::blobs::BLOB_SPACE_PREFIX)
                && !FileBlobs::new(store_dir, space, None).is_empty()?
            {
                spaces.push(space.to_owned());
            }
        }
    }
    Ok(spaces)
}
