//! Keyspaces in sled: every keyspace is one tree named `kv.<name>` in the log's database,
//! synced with the log's [`Durability`].
//!
//! sled is opened by one process only, which always holds every lease, so fences are not
//! checked here. This module owns the trees of keyspaces; [`crate::Keyspace`] owns their typed
//! API.

use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;

use super::durability::{blocking, Durability};
use crate::keyspace::{guard_value, Entry, KeyspaceBackend, KeyspaceChange};
use crate::lease::Fence;
use crate::types::StoreError;

/// The prefix of the sled trees that hold keyspaces.
pub(super) const KEYSPACE_TREE_PREFIX: &str = "kv.";

/// The name of the tree that holds keyspace `space`.
pub(super) fn keyspace_tree_name(space: &str) -> String {
    format!("{KEYSPACE_TREE_PREFIX}{space}")
}

/// A keyspace in sled: one tree, synced with the log's [`Durability`]. Every write first asks
/// the `Durability` whether the store may still be written (not after a failed sync anywhere in
/// it, not below the free-space reserve), and a failed sync of a keyspace write stops the log
/// exactly as a failed sync of the log does.
pub(super) struct SledKeyspace {
    tree: sled::Tree,
    durability: Arc<Durability>,
}

impl SledKeyspace {
    pub(super) fn new(tree: sled::Tree, durability: Arc<Durability>) -> SledKeyspace {
        SledKeyspace { tree, durability }
    }
}

#[async_trait]
impl KeyspaceBackend for SledKeyspace {
    async fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
        let tree = self.tree.clone();
        blocking(move || Ok(tree.get(&key)?.map(|bytes| bytes.to_vec()))).await
    }

    async fn get_many(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let tree = self.tree.clone();
        blocking(move || {
            keys.iter()
                .map(|key| Ok(tree.get(key)?.map(|bytes| bytes.to_vec())))
                .collect()
        })
        .await
    }

    async fn scan(
        &self,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, StoreError> {
        let tree = self.tree.clone();
        blocking(move || {
            let start = match after {
                Some(after) if after >= prefix => Bound::Excluded(after),
                _ => Bound::Included(prefix.clone()),
            };
            tree.range::<Vec<u8>, _>((start, Bound::Unbounded))
                .take_while(|entry| {
                    entry
                        .as_ref()
                        .map(|(key, _)| key.starts_with(&prefix))
                        .unwrap_or(true)
                })
                .take(limit.unwrap_or(usize::MAX))
                .map(|entry| {
                    let (key, bytes) = entry?;
                    Ok((key.to_vec(), bytes.to_vec()))
                })
                .collect()
        })
        .await
    }

    async fn last(&self, prefix: Vec<u8>) -> Result<Option<Entry>, StoreError> {
        let tree = self.tree.clone();
        blocking(move || {
            Ok(tree
                .scan_prefix(&prefix)
                .next_back()
                .transpose()?
                .map(|(key, bytes)| (key.to_vec(), bytes.to_vec())))
        })
        .await
    }

    // sled is opened by one process only, which always holds every lease: a fence has nothing
    // to be checked against.
    async fn apply(
        &self,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        _fence: Option<Fence>,
    ) -> Result<(), StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        blocking(move || {
            durability.check_writable()?;
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

    async fn apply_guarded(
        &self,
        guard: Vec<u8>,
        at_most: u64,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        _fence: Option<Fence>,
    ) -> Result<bool, StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        blocking(move || {
            durability.check_writable()?;
            let applied = tree
                .transaction(|tx| {
                    if let Some(stored) = tx.get(&guard)? {
                        let stored = guard_value(&guard, &stored)
                            .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                        if stored > at_most {
                            return Ok(false);
                        }
                    }
                    for (key, value) in &changes {
                        match value {
                            Some(value) => tx.insert(key.as_slice(), value.as_slice())?,
                            None => tx.remove(key.as_slice())?,
                        };
                    }
                    Ok(true)
                })
                .map_err(|error| match error {
                    sled::transaction::TransactionError::Abort(error) => error,
                    sled::transaction::TransactionError::Storage(error) => error.into(),
                })?;
            if applied && durable {
                durability.make_durable()?;
            }
            Ok(applied)
        })
        .await
    }

    async fn insert_new(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        _fence: Option<Fence>,
    ) -> Result<bool, StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        blocking(move || {
            durability.check_writable()?;
            let stored = tree
                .compare_and_swap(&key, None::<&[u8]>, Some(value))?
                .is_ok();
            if stored {
                durability.make_durable()?;
            }
            Ok(stored)
        })
        .await
    }

    async fn remove_prefix(
        &self,
        prefix: Vec<u8>,
        _fence: Option<Fence>,
    ) -> Result<u64, StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        blocking(move || {
            durability.check_writable()?;
            let mut batch = sled::Batch::default();
            let mut removed = 0u64;
            for entry in tree.scan_prefix(&prefix) {
                let (key, value) = entry?;
                removed += value.len() as u64;
                batch.remove(key);
            }
            tree.apply_batch(batch)?;
            durability.make_durable()?;
            Ok(removed)
        })
        .await
    }

    async fn clear(&self, _fence: Option<Fence>) -> Result<(), StoreError> {
        let tree = self.tree.clone();
        blocking(move || Ok(tree.clear()?)).await
    }

    async fn increment(&self, key: Vec<u8>, _fence: Option<Fence>) -> Result<u64, StoreError> {
        let tree = self.tree.clone();
        let durability = Arc::clone(&self.durability);
        blocking(move || {
            durability.check_writable()?;
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
