//! The log's Merkle tree kept in a keyspace: the hash of every perfect subtree, written as the
//! log grows, so that roots and proofs of any size up to the tree's are O(log n) reads.
//!
//! The tree is derived state: nothing in it that the log does not determine. It follows the
//! log a page at a time ([`MerkleTree::catch_up`]), writes each page's completed subtrees and
//! its new size in one guarded batch (several instances on one database write the same bytes,
//! and a slower one never moves the size back), and is rebuilt from the log when missing — or
//! when its last leaf no longer names the log's event at that position, which is what a log
//! rewritten behind the service's back looks like from here. The hashing and the proofs' shapes
//! are [`crate::tree`]'s; this module only stores and reads.

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::keyspace::{Keyspace, KeyspaceChange};
use crate::log::{EventLog, LogEvent};
use crate::tree::{self, Frontier, NodeId, ProofError, ProofPlan, TreeHash};
use crate::types::{ChainHash, Position, StoreError};

/// The key of the tree's size (a JSON number, the guard of every write).
const SIZE_KEY: &[u8] = b"size";
/// How many envelopes one step of [`MerkleTree::catch_up`] reads.
const PAGE: usize = 2_000;

fn node_key(node: NodeId) -> Vec<u8> {
    let mut key = Vec::with_capacity(10);
    key.push(b'n');
    key.push(node.level);
    key.extend_from_slice(&node.index.to_be_bytes());
    key
}

/// The one member of an envelope the tree needs.
#[derive(Deserialize)]
struct EnvelopeHash {
    hash: ChainHash,
}

/// The tree over a log, stored in a keyspace of its own.
pub struct MerkleTree {
    keyspace: Keyspace,
    /// The right edge as far as this process has written or read it; `None` until first used.
    /// The lock also makes catching up single-flight within a process.
    frontier: Mutex<Option<Frontier>>,
}

impl std::fmt::Debug for MerkleTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerkleTree")
            .field("keyspace", &self.keyspace.name())
            .finish_non_exhaustive()
    }
}

impl MerkleTree {
    /// The tree kept in `keyspace` (a keyspace of its own: the tree owns every key in it).
    pub fn new(keyspace: Keyspace) -> Self {
        MerkleTree {
            keyspace,
            frontier: Mutex::new(None),
        }
    }

    /// How many leaves the stored tree holds (0 when it was never built).
    pub async fn size(&self) -> Result<u64, StoreError> {
        Ok(self.keyspace.get::<u64>(SIZE_KEY).await?.unwrap_or(0))
    }

    /// Adds the log's events up to `to` (the log's head, or less) to the tree, and returns the
    /// tree's size. Before its first step in a process it checks that its last leaf is still
    /// the log's event at that position, and starts over from the log when it is not.
    pub async fn catch_up<E: LogEvent>(
        &self,
        log: &dyn EventLog<E>,
        to: Position,
    ) -> Result<u64, StoreError> {
        let mut guard = self.frontier.lock().await;
        let stored = self.size().await?;
        let mut frontier = match guard.take() {
            Some(frontier) if frontier.size() == stored => frontier,
            Some(_) => self.load_frontier(stored).await?,
            None => {
                let frontier = self.load_frontier(stored).await?;
                if self.agrees_with(log, &frontier).await? {
                    frontier
                } else {
                    tracing::warn!(
                        tree_size = frontier.size(),
                        "the Merkle tree's last leaf is not the log's event at that position: \
                         the log was changed outside the service; rebuilding the tree from the log"
                    );
                    self.keyspace.clear().await?;
                    Frontier::new()
                }
            }
        };
        while frontier.size() < to.0 {
            let page = log.read_all_raw(Position(frontier.size()), PAGE).await?;
            if page.is_empty() {
                break;
            }
            let mut changes: Vec<KeyspaceChange> = Vec::with_capacity(page.len() * 2 + 1);
            for (position, bytes) in &page {
                if position.0 > to.0 {
                    break;
                }
                let hash = envelope_hash(*position, bytes)?;
                for (node, node_hash) in frontier.push(&hash.0) {
                    changes.push((node_key(node), Some(node_hash.to_vec())));
                }
            }
            let size = frontier.size();
            changes.push((SIZE_KEY.to_vec(), Some(size.to_string().into_bytes())));
            // The tree is rebuilt from the log whenever it is behind, so its writes need not
            // wait for the disk.
            self.keyspace
                .apply_guarded(SIZE_KEY, size, changes, false)
                .await?;
        }
        let size = frontier.size();
        *guard = Some(frontier);
        Ok(size)
    }

    /// Whether the stored tree's last leaf is the hash of the log's event at that position.
    async fn agrees_with<E: LogEvent>(
        &self,
        log: &dyn EventLog<E>,
        frontier: &Frontier,
    ) -> Result<bool, StoreError> {
        let size = frontier.size();
        if size == 0 {
            return Ok(true);
        }
        let last = NodeId {
            level: 0,
            index: size - 1,
        };
        let Some(stored) = self.node(last).await? else {
            return Ok(false);
        };
        let page = log.read_all_raw(Position(size - 1), 1).await?;
        let Some((position, bytes)) = page.first() else {
            // The log is shorter than the tree.
            return Ok(false);
        };
        Ok(*position == Position(size)
            && tree::leaf_hash(&envelope_hash(*position, bytes)?.0) == stored)
    }

    async fn load_frontier(&self, size: u64) -> Result<Frontier, StoreError> {
        let nodes = tree::range_nodes(0, size);
        let hashes = self.nodes(&nodes).await?;
        Frontier::from_nodes(size, hashes).ok_or_else(|| missing(size))
    }

    async fn node(&self, node: NodeId) -> Result<Option<TreeHash>, StoreError> {
        Ok(self
            .keyspace
            .get_bytes(&node_key(node))
            .await?
            .and_then(|bytes| bytes.try_into().ok()))
    }

    /// The hashes of `nodes`, read in one round trip.
    async fn nodes(&self, nodes: &[NodeId]) -> Result<Vec<TreeHash>, StoreError> {
        let keys = nodes.iter().map(|node| node_key(*node)).collect();
        let values = self.keyspace.get_many_bytes(keys).await?;
        nodes
            .iter()
            .zip(values)
            .map(|(node, value)| {
                value
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| missing(node.end_leaf()))
            })
            .collect()
    }

    /// The root hash of the tree of the first `tree_size` leaves; `tree_size` must be at most
    /// the tree's size ([`MerkleTree::catch_up`] first).
    pub async fn root(&self, tree_size: u64) -> Result<TreeHash, StoreError> {
        let hashes = self.nodes(&tree::range_nodes(0, tree_size)).await?;
        Ok(tree::fold_range(&hashes).unwrap_or(tree::EMPTY_ROOT))
    }

    /// The inclusion proof of leaf `leaf_index` in the tree of `tree_size` leaves.
    pub async fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<Result<Vec<TreeHash>, ProofError>, StoreError> {
        match ProofPlan::inclusion(leaf_index, tree_size) {
            Ok(plan) => self.assemble(&plan).await.map(Ok),
            Err(error) => Ok(Err(error)),
        }
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves.
    pub async fn consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Result<Vec<TreeHash>, ProofError>, StoreError> {
        match ProofPlan::consistency(from, to) {
            Ok(plan) => self.assemble(&plan).await.map(Ok),
            Err(error) => Ok(Err(error)),
        }
    }

    async fn assemble(&self, plan: &ProofPlan) -> Result<Vec<TreeHash>, StoreError> {
        let ids = plan.nodes();
        let hashes = self.nodes(&ids).await?;
        plan.assemble(|node| ids.binary_search(&node).ok().map(|at| hashes[at]))
            .ok_or_else(|| missing(0))
    }
}

fn envelope_hash(position: Position, bytes: &[u8]) -> Result<ChainHash, StoreError> {
    serde_json::from_slice::<EnvelopeHash>(bytes)
        .map(|envelope| envelope.hash)
        .map_err(|error| StoreError::Decode {
            position,
            reason: format!("no readable hash: {error}"),
        })
}

fn missing(size: u64) -> StoreError {
    StoreError::Storage(format!(
        "the Merkle tree is missing a subtree needed for size {size}; it is rebuilt from the \
         log when its keyspace is cleared"
    ))
}
