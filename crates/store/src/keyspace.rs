//! Keyspaces: named, durable key-value maps for state derived from or kept beside the log.
//!
//! Tokens, projections, webhook cursors and counters live here, in the same database as the
//! log but never in the log's own tables or trees. A keyspace knows nothing of what it stores:
//! values are JSON documents of the caller's types. [`Keyspace`] is backend-neutral; each
//! backend supplies a [`KeyspaceBackend`]: sled (a tree per keyspace, synced with the log's
//! `Durability`) in `sled::keyspace`, PostgreSQL (rows of one `keyspace_entries` table) in
//! `postgres::keyspace`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};

use crate::lease::{Fence, Lease};
use crate::types::StoreError;

/// One change in an atomic batch: a value to put, or `None` to remove the key.
pub type KeyspaceChange = (Vec<u8>, Option<Vec<u8>>);

/// A key and its stored bytes.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// What a backend does for a keyspace, on raw bytes. Keys sort bytewise in every backend.
#[async_trait]
pub(crate) trait KeyspaceBackend: Send + Sync + 'static {
    /// The bytes at `key`.
    async fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, StoreError>;
    /// The bytes at each of `keys`, in their order, in one round trip.
    async fn get_many(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Up to `limit` (all when `None`) entries whose key starts with `prefix` and sorts after
    /// `after` (every one when `None`), in key order.
    async fn scan(
        &self,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, StoreError>;
    /// The entry with `prefix` whose key sorts last.
    async fn last(&self, prefix: Vec<u8>) -> Result<Option<Entry>, StoreError>;
    /// Applies every change atomically (a later change of a key wins); with `durable`, returns
    /// only once they are durable. Every write takes a `fence`: when there is one, the write
    /// happens only while the stored epoch of its lease is still the fence's, checked
    /// atomically with the write ([`StoreError::Fenced`] otherwise).
    async fn apply(
        &self,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        fence: Option<Fence>,
    ) -> Result<(), StoreError>;
    /// Like `apply`, but only when the JSON `u64` at `guard` is absent or at most `at_most`,
    /// checked and applied atomically against every other writer, including other service
    /// instances on the same database; returns whether the changes were applied.
    async fn apply_guarded(
        &self,
        guard: Vec<u8>,
        at_most: u64,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        fence: Option<Fence>,
    ) -> Result<bool, StoreError>;
    /// Stores `value` at `key` only when the key is absent, durably and atomically against
    /// every other writer; returns whether it stored it.
    async fn insert_new(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        fence: Option<Fence>,
    ) -> Result<bool, StoreError>;
    /// Removes every key that starts with `prefix`, durably, without reading the values out;
    /// returns how many bytes the values held.
    async fn remove_prefix(&self, prefix: Vec<u8>, fence: Option<Fence>)
        -> Result<u64, StoreError>;
    /// Removes every key, without waiting for durability.
    async fn clear(&self, fence: Option<Fence>) -> Result<(), StoreError>;
    /// Adds one to the big-endian `u64` at `key` (0 when absent), durably, and returns it.
    async fn increment(&self, key: Vec<u8>, fence: Option<Fence>) -> Result<u64, StoreError>;
}

/// A named key-value map. Writes are durable when they return, unless said otherwise.
///
/// A keyspace [fenced by a lease](Keyspace::fenced_by) writes only for the lease's holder:
/// every write carries the epoch this process took the lease at, and the store refuses it
/// ([`StoreError::Fenced`]) once another process took the lease since.
#[derive(Clone)]
pub struct Keyspace {
    backend: Arc<dyn KeyspaceBackend>,
    name: Arc<str>,
    fence: Option<FenceSource>,
}

/// Where a fenced keyspace's writes get their fence.
#[derive(Clone)]
enum FenceSource {
    /// The lease's current holding, at each write.
    Lease(Lease),
    /// One holding, captured when some work started.
    Fixed(Fence),
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Keyspace {
    pub(crate) fn new(name: &str, backend: Arc<dyn KeyspaceBackend>) -> Keyspace {
        Keyspace {
            backend,
            name: name.into(),
            fence: None,
        }
    }

    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same keyspace, whose writes are made only by the holder of `lease`: each is refused
    /// with [`StoreError::Fenced`] while this process does not hold the lease, and — checked
    /// by the database atomically with the write — once another process took the lease since
    /// this one did (an old leader's late write). Reads are unchanged.
    pub fn fenced_by(&self, lease: Lease) -> Keyspace {
        Keyspace {
            fence: Some(FenceSource::Lease(lease)),
            ..self.clone()
        }
    }

    /// The same keyspace, whose writes are made only while `fence` is the lease's current
    /// holding: for work that took its fence when it started, so that a write it makes late —
    /// after the lease changed hands — is refused by the database ([`StoreError::Fenced`]).
    pub fn fenced_at(&self, fence: Fence) -> Keyspace {
        Keyspace {
            fence: Some(FenceSource::Fixed(fence)),
            ..self.clone()
        }
    }

    /// The same keyspace without a fence (for writes any instance may make, such as the
    /// first initialisation of a keyspace that is otherwise fenced).
    pub fn unfenced(&self) -> Keyspace {
        Keyspace {
            fence: None,
            ..self.clone()
        }
    }

    /// The fence a write carries now: none when unfenced; the lease's current holding when
    /// fenced, or a refusal when this process does not hold the lease.
    fn current_fence(&self) -> Result<Option<Fence>, StoreError> {
        match &self.fence {
            None => Ok(None),
            Some(FenceSource::Fixed(fence)) => Ok(Some(fence.clone())),
            Some(FenceSource::Lease(lease)) => {
                lease.fence().map(Some).ok_or_else(|| StoreError::Fenced {
                    lease: lease.name().to_owned(),
                })
            }
        }
    }

    /// Reads and decodes the value at `key`.
    pub async fn get<T: DeserializeOwned + Send + 'static>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        self.backend
            .get(key.to_vec())
            .await?
            .map(|bytes| decode(key, &bytes))
            .transpose()
    }

    /// Reads and decodes the value at `key`, with the size of its stored form in bytes.
    pub async fn get_sized<T: DeserializeOwned + Send + 'static>(
        &self,
        key: &[u8],
    ) -> Result<Option<(T, usize)>, StoreError> {
        self.backend
            .get(key.to_vec())
            .await?
            .map(|bytes| Ok((decode(key, &bytes)?, bytes.len())))
            .transpose()
    }

    /// Every key and decoded value whose key starts with `prefix`, in key order.
    pub async fn scan<T: DeserializeOwned + Send + 'static>(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        decode_all(self.backend.scan(prefix.to_vec(), None, None).await?)
    }

    /// Up to `limit` keys and values with `prefix` whose key sorts after `after` (all of the
    /// prefix when `after` is `None`), in key order.
    pub async fn scan_after<T: DeserializeOwned + Send + 'static>(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        let after = after.map(<[u8]>::to_vec);
        decode_all(
            self.backend
                .scan(prefix.to_vec(), after, Some(limit))
                .await?,
        )
    }

    /// The last key and value with `prefix`.
    pub async fn last<T: DeserializeOwned + Send + 'static>(
        &self,
        prefix: &[u8],
    ) -> Result<Option<(Vec<u8>, T)>, StoreError> {
        self.backend
            .last(prefix.to_vec())
            .await?
            .map(|(key, bytes)| Ok((key.clone(), decode(&key, &bytes)?)))
            .transpose()
    }

    /// Stores `value` at `key`, durably.
    pub async fn put<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), StoreError> {
        let bytes =
            serde_json::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()))?;
        self.apply(vec![(key.to_vec(), Some(bytes))], true).await
    }

    /// Stores `value` at `key` only when nothing is stored there yet, durably; returns whether
    /// it did. The check and the write are one atomic step against every writer, other service
    /// instances on the same PostgreSQL database included: of two processes creating the same
    /// key at once, exactly one stores its value.
    pub async fn put_new<T: Serialize>(&self, key: &[u8], value: &T) -> Result<bool, StoreError> {
        let bytes =
            serde_json::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()))?;
        let fence = self.current_fence()?;
        self.backend.insert_new(key.to_vec(), bytes, fence).await
    }

    /// The stored bytes at each of `keys`, in their order, in one round trip to the store (one
    /// blocking call on sled, one query on PostgreSQL): for reads of many small values at once,
    /// such as the subtrees of a Merkle proof.
    pub async fn get_many_bytes(
        &self,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.backend.get_many(keys).await
    }

    /// The stored bytes at `key`, as written by [`Keyspace::apply`] (not decoded: for values
    /// that are not JSON, such as the chunks of [`crate::Blobs`]).
    pub async fn get_bytes(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.get(key.to_vec()).await
    }

    /// Up to `limit` keys with `prefix` that sort after `after`, in key order, without their
    /// values' decoding.
    pub async fn scan_bytes(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.backend
            .scan(prefix.to_vec(), after.map(<[u8]>::to_vec), Some(limit))
            .await
    }

    /// Removes every key that starts with `prefix`, durably, in one step and without reading
    /// the values out (for large ones); returns how many bytes the values held.
    pub async fn remove_prefix(&self, prefix: &[u8]) -> Result<u64, StoreError> {
        let fence = self.current_fence()?;
        self.backend.remove_prefix(prefix.to_vec(), fence).await
    }

    /// Removes `key`, durably.
    pub async fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        self.apply(vec![(key.to_vec(), None)], true).await
    }

    /// Applies every change atomically; with `durable`, returns only once they are on disk (or
    /// committed durably by the database). Rebuildable state (projections) may skip the sync
    /// and rely on the log instead.
    pub async fn apply(
        &self,
        changes: Vec<KeyspaceChange>,
        durable: bool,
    ) -> Result<(), StoreError> {
        let fence = self.current_fence()?;
        self.backend.apply(changes, durable, fence).await
    }

    /// Applies every change atomically, but only if the JSON `u64` stored at `guard` is absent
    /// or at most `at_most`; returns whether it did. The check and the write are one atomic
    /// step against every writer of the keyspace, other service instances on the same
    /// PostgreSQL database included: this is how several followers of the log persist one
    /// shared projection without one of them writing older rows over newer ones.
    pub async fn apply_guarded(
        &self,
        guard: &[u8],
        at_most: u64,
        changes: Vec<KeyspaceChange>,
        durable: bool,
    ) -> Result<bool, StoreError> {
        let fence = self.current_fence()?;
        self.backend
            .apply_guarded(guard.to_vec(), at_most, changes, durable, fence)
            .await
    }

    /// Removes every key (not synced: for rebuildable state).
    pub async fn clear(&self) -> Result<(), StoreError> {
        let fence = self.current_fence()?;
        self.backend.clear(fence).await
    }

    /// Adds one to the counter at `key` and returns the new value, durably. Counters start at
    /// 0. Atomic across every handle on the same store, including other service instances on
    /// the same PostgreSQL database.
    pub async fn increment(&self, key: &[u8]) -> Result<u64, StoreError> {
        let fence = self.current_fence()?;
        self.backend.increment(key.to_vec(), fence).await
    }
}

/// The `u64` a guard key holds.
pub(crate) fn guard_value(key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    decode(key, bytes)
}

fn decode_all<T: DeserializeOwned>(entries: Vec<Entry>) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
    entries
        .into_iter()
        .map(|(key, bytes)| {
            let value = decode(&key, &bytes)?;
            Ok((key, value))
        })
        .collect()
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| {
        StoreError::Storage(format!(
            "undecodable value at key {}: {error}",
            String::from_utf8_lossy(key)
        ))
    })
}
