//! Keyspaces: named, durable key-value maps for state derived from or kept beside the log.
//!
//! Tokens, projections, webhook cursors and counters live here, in the same database as the
//! log but never in the log's own trees. A keyspace knows nothing of what it stores: values are
//! JSON documents of the caller's types.

use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

use crate::blocking;
use crate::sled_log::Durability;
use crate::types::StoreError;

/// A named key-value map. Writes are durable when they return, unless said otherwise.
#[derive(Clone)]
pub struct Keyspace {
    tree: sled::Tree,
    durability: Arc<Durability>,
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &String::from_utf8_lossy(&self.tree.name()))
            .finish()
    }
}

/// One change in an atomic batch: a value to put, or `None` to remove the key.
pub type KeyspaceChange = (Vec<u8>, Option<Vec<u8>>);

impl Keyspace {
    pub(crate) fn new(tree: sled::Tree, durability: Arc<Durability>) -> Keyspace {
        Keyspace { tree, durability }
    }

    /// Reads and decodes the value at `key`.
    pub async fn get<T: DeserializeOwned + Send + 'static>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        let tree = self.tree.clone();
        let key = key.to_vec();
        blocking(move || {
            tree.get(&key)?
                .map(|bytes| decode(&key, &bytes))
                .transpose()
        })
        .await
    }

    /// Every key and decoded value whose key starts with `prefix`, in key order.
    pub async fn scan<T: DeserializeOwned + Send + 'static>(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        let tree = self.tree.clone();
        let prefix = prefix.to_vec();
        blocking(move || {
            tree.scan_prefix(&prefix)
                .map(|entry| {
                    let (key, bytes) = entry?;
                    Ok((key.to_vec(), decode(&key, &bytes)?))
                })
                .collect()
        })
        .await
    }

    /// Up to `limit` keys and values with `prefix` whose key sorts after `after` (all of the
    /// prefix when `after` is `None`), in key order.
    pub async fn scan_after<T: DeserializeOwned + Send + 'static>(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        let tree = self.tree.clone();
        let prefix = prefix.to_vec();
        let after = after.map(<[u8]>::to_vec);
        blocking(move || {
            let start = match &after {
                Some(after) => std::ops::Bound::Excluded(after.clone()),
                None => std::ops::Bound::Included(prefix.clone()),
            };
            tree.range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
                .take_while(|entry| {
                    entry
                        .as_ref()
                        .map(|(key, _)| key.starts_with(&prefix))
                        .unwrap_or(true)
                })
                .take(limit)
                .map(|entry| {
                    let (key, bytes) = entry?;
                    Ok((key.to_vec(), decode(&key, &bytes)?))
                })
                .collect()
        })
        .await
    }

    /// The last key and value with `prefix`.
    pub async fn last<T: DeserializeOwned + Send + 'static>(
        &self,
        prefix: &[u8],
    ) -> Result<Option<(Vec<u8>, T)>, StoreError> {
        let tree = self.tree.clone();
        let prefix = prefix.to_vec();
        blocking(move || {
            tree.scan_prefix(&prefix)
                .next_back()
                .transpose()?
                .map(|(key, bytes)| Ok((key.to_vec(), decode(&key, &bytes)?)))
                .transpose()
        })
        .await
    }

    /// Stores `value` at `key`, durably.
    pub async fn put<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), StoreError> {
        let bytes =
            serde_json::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()))?;
        self.apply(vec![(key.to_vec(), Some(bytes))], true).await
    }

    /// Removes `key`, durably.
    pub async fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        self.apply(vec![(key.to_vec(), None)], true).await
    }

    /// Applies every change atomically; with `durable`, returns only once they are on disk.
    /// Rebuildable state (projections) may skip the sync and rely on the log instead.
    pub async fn apply(
        &self,
        changes: Vec<KeyspaceChange>,
        durable: bool,
    ) -> Result<(), StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        blocking(move || {
            let mut batch = sled::Batch::default();
            for (key, value) in changes {
                match value {
                    Some(value) => batch.insert(key, value),
                    None => batch.remove(key),
                }
            }
            tree.apply_batch(batch)?;
            if durable {
                durability.make_durable()?;
            }
            Ok(())
        })
        .await
    }

    /// Removes every key (not synced: for rebuildable state).
    pub async fn clear(&self) -> Result<(), StoreError> {
        let tree = self.tree.clone();
        blocking(move || Ok(tree.clear()?)).await
    }

    /// Adds one to the counter at `key` and returns the new value, durably. Counters start at 0.
    pub async fn increment(&self, key: &[u8]) -> Result<u64, StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        let key = key.to_vec();
        blocking(move || {
            let updated = tree.update_and_fetch(&key, |old| {
                let current = old
                    .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Some((current + 1).to_be_bytes().to_vec())
            })?;
            durability.make_durable()?;
            let bytes = updated
                .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
                .ok_or_else(|| StoreError::Storage("counter vanished".into()))?;
            Ok(u64::from_be_bytes(bytes))
        })
        .await
    }
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| {
        StoreError::Storage(format!(
            "undecodable value at key {}: {error}",
            String::from_utf8_lossy(key)
        ))
    })
}
