//! The log as a Merkle tree (RFC 9162 §2.1): its hashing rules, the proofs of inclusion and of
//! consistency, their verification, and the perfect subtrees a proof is assembled from.
//!
//! Leaf *i* of the tree is the chain `hash` of the event at position *i* + 1, as 32 bytes
//! (contract §11). A tree of any size is made of *perfect* subtrees — `2^level` leaves starting
//! at a multiple of `2^level` — and every hash a proof needs is either one perfect subtree or
//! the root of a few of them along the tree's right edge. So a store that keeps the hash of
//! every perfect subtree as the log grows ([`crate::MerkleTree`], `merkle.rs`) answers any
//! proof with O(log n) reads: this module says *which* subtrees ([`ProofPlan`]) and folds their
//! hashes into the proof; it does no I/O, so offline verifiers use it as it is.

use sha2::{Digest, Sha256};

/// A node or root hash of the tree.
pub type TreeHash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub const EMPTY_ROOT: TreeHash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of a leaf: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// A perfect subtree: the `2^level` leaves from `index · 2^level` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// The subtree's height: 0 for a single leaf.
    pub level: u8,
    /// Its place among the subtrees of its height, from the left.
    pub index: u64,
}

impl NodeId {
    /// The first leaf the subtree covers.
    pub fn first_leaf(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf the subtree covers.
    pub fn end_leaf(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// The perfect subtrees that make up the leaves `start..end`, left to right, when `start` is a
/// multiple of the largest power of two not above `end - start` — which holds for every range
/// RFC 9162's recursive split produces. Their sizes strictly decrease (the binary digits of
/// `end - start`), so the range's root folds them from the right.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = start;
    while at < end {
        let remaining = end - at;
        // The largest perfect subtree starting at `at` that fits: limited by the remaining
        // size and by the alignment of `at`.
        let mut level = 63 - remaining.leading_zeros() as u8;
        if at != 0 {
            level = level.min(at.trailing_zeros() as u8);
        }
        nodes.push(NodeId {
            level,
            index: at >> level,
        });
        at += 1u64 << level;
    }
    nodes
}

/// Folds the hashes of [`range_nodes`] (in that order) into the range's root.
pub fn fold_range(hashes: &[TreeHash]) -> Option<TreeHash> {
    let (last, rest) = hashes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    )
}

/// The largest power of two strictly below `n` (for `n ≥ 2`): where RFC 9162 splits a tree.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf is not in a tree of that size.
    #[error("leaf {leaf_index} is not in a tree of size {tree_size}")]
    LeafOutOfRange {
        /// The leaf asked for.
        leaf_index: u64,
        /// The size of the tree.
        tree_size: u64,
    },
    /// A consistency proof between these sizes does not exist (the first must be at least 1
    /// and at most the second).
    #[error("there is no consistency proof from size {from} to size {to}")]
    BadSizes {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// The proof has the wrong number of hashes for the sizes it claims.
    #[error("the proof has the wrong number of hashes ({found}) for these sizes")]
    WrongLength {
        /// How many hashes the proof carries.
        found: usize,
    },
    /// The hashes do not lead to the root (or roots) given.
    #[error("the proof does not lead to the root hash{0}")]
    RootMismatch(&'static str),
}

/// Which perfect subtrees make up each hash of a proof, in the proof's order (from the leaf
/// upward). Each element is one perfect subtree, or several along the right edge folded with
/// [`fold_range`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    /// Each proof hash as its perfect subtrees.
    pub elements: Vec<Vec<NodeId>>,
}

impl ProofPlan {
    /// Every subtree the plan needs, each once, in order.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.elements.iter().flatten().copied().collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The proof's hashes, given each subtree's hash.
    pub fn assemble(&self, hash_of: impl Fn(NodeId) -> Option<TreeHash>) -> Option<Vec<TreeHash>> {
        self.elements
            .iter()
            .map(|element| {
                let hashes = element
                    .iter()
                    .map(|node| hash_of(*node))
                    .collect::<Option<Vec<_>>>()?;
                fold_range(&hashes)
            })
            .collect()
    }

    /// The plan of the inclusion proof of `leaf_index` in a tree of `tree_size` leaves
    /// (RFC 9162 §2.1.3.1).
    ///
    /// ```
    /// use caseledger_store::tree::{NodeId, ProofPlan, ProofError};
    ///
    /// let plan = ProofPlan::inclusion(5, 8).unwrap();
    /// assert_eq!(plan.elements, vec![
    ///     vec![NodeId { level: 0, index: 4 }],
    ///     vec![NodeId { level: 1, index: 3 }],
    ///     vec![NodeId { level: 2, index: 0 }],
    /// ]);
    /// assert_eq!(
    ///     ProofPlan::inclusion(8, 8),
    ///     Err(ProofError::LeafOutOfRange { leaf_index: 8, tree_size: 8 })
    /// );
    /// ```
    pub fn inclusion(leaf_index: u64, tree_size: u64) -> Result<ProofPlan, ProofError> {
        if leaf_index >= tree_size {
            return Err(ProofError::LeafOutOfRange {
                leaf_index,
                tree_size,
            });
        }
        let mut elements = Vec::new();
        let (mut low, mut high) = (0, tree_size);
        while high - low > 1 {
            let k = split(high - low);
            if leaf_index - low < k {
                elements.push(range_nodes(low + k, high));
                high = low + k;
            } else {
                elements.push(range_nodes(low, low + k));
                low += k;
            }
        }
        elements.reverse();
        Ok(ProofPlan { elements })
    }

    /// The plan of the consistency proof from a tree of `from` leaves to one of `to` leaves
    /// (RFC 9162 §2.1.4.1); empty when the sizes are equal.
    pub fn consistency(from: u64, to: u64) -> Result<ProofPlan, ProofError> {
        if from == 0 || from > to {
            return Err(ProofError::BadSizes { from, to });
        }
        let mut elements = Vec::new();
        let (mut low, mut high) = (0, to);
        // Whether the subtree being descended is the old tree's own root (RFC 9162's `b`):
        // its hash is then known to the verifier and left out.
        let mut whole_old_tree = true;
        loop {
            let size = high - low;
            let old = from - low;
            if old == size {
                if !whole_old_tree {
                    elements.push(range_nodes(low, high));
                }
                break;
            }
            let k = split(size);
            if old <= k {
                elements.push(range_nodes(low + k, high));
                high = low + k;
            } else {
                elements.push(range_nodes(low, low + k));
                low += k;
                whole_old_tree = false;
            }
        }
        elements.reverse();
        Ok(ProofPlan { elements })
    }
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf whose hash is `leaf` (already
/// hashed with [`leaf_hash`]) is leaf `leaf_index` of the tree of `tree_size` leaves whose root
/// is `root`.
///
/// ```
/// use caseledger_store::tree::{leaf_hash, verify_inclusion, ProofError};
///
/// // A tree of one leaf is its leaf's hash, and its proof is empty.
/// let leaf = leaf_hash(b"event");
/// assert_eq!(verify_inclusion(0, 1, &leaf, &[], &leaf), Ok(()));
/// assert!(matches!(
///     verify_inclusion(0, 1, &leaf_hash(b"other"), &[], &leaf),
///     Err(ProofError::RootMismatch(_))
/// ));
/// ```
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf: &TreeHash,
    proof: &[TreeHash],
    root: &TreeHash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::LeafOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength { found: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { found: proof.len() });
    }
    if r != *root {
        return Err(ProofError::RootMismatch(""));
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `from` leaves with root
/// `from_root` is a prefix of the tree of `to` leaves with root `to_root` — the log only grew.
///
/// ```
/// use caseledger_store::tree::{leaf_hash, node_hash, verify_consistency, ProofError};
///
/// let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
/// let two = node_hash(&a, &b);
/// assert_eq!(verify_consistency(1, 2, &a, &two, &[b]), Ok(()));
/// // A rewritten first leaf is not a prefix.
/// assert!(verify_consistency(1, 2, &leaf_hash(b"x"), &two, &[b]).is_err());
/// ```
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &TreeHash,
    to_root: &TreeHash,
    proof: &[TreeHash],
) -> Result<(), ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::BadSizes { from, to });
    }
    if from == to {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { found: proof.len() });
        }
        if from_root != to_root {
            return Err(ProofError::RootMismatch("es of equal sizes"));
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { found: 0 });
    }
    let mut path: Vec<TreeHash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (from - 1, to - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength { found: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { found: proof.len() });
    }
    if fr != *from_root {
        return Err(ProofError::RootMismatch(" of the older tree"));
    }
    if sr != *to_root {
        return Err(ProofError::RootMismatch(" of the newer tree"));
    }
    Ok(())
}

/// The right edge of a growing tree: the hash of each perfect subtree that makes up its leaves,
/// in [`range_nodes`]`(0, size)` order. Enough to append leaves and compute the root in
/// O(log n) memory — how `caseledger audit verify` computes roots while it streams an export,
/// and how the store finds which perfect subtrees an append completes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(NodeId, TreeHash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of `size` leaves, from the hashes of [`range_nodes`]`(0, size)`;
    /// `None` when the count does not match.
    pub fn from_nodes(size: u64, hashes: Vec<TreeHash>) -> Option<Self> {
        let ids = range_nodes(0, size);
        (ids.len() == hashes.len()).then(|| Frontier {
            size,
            nodes: ids.into_iter().zip(hashes).collect(),
        })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf (its data: the hash is taken here) and returns every perfect subtree
    /// the leaf completes, the leaf itself first.
    pub fn push(&mut self, data: &[u8]) -> Vec<(NodeId, TreeHash)> {
        let mut completed = Vec::with_capacity(2);
        let mut node = (
            NodeId {
                level: 0,
                index: self.size,
            },
            leaf_hash(data),
        );
        completed.push(node);
        while let Some(&(left, left_hash)) = self.nodes.last() {
            if left.level != node.0.level {
                break;
            }
            self.nodes.pop();
            node = (
                NodeId {
                    level: left.level + 1,
                    index: left.index >> 1,
                },
                node_hash(&left_hash, &node.1),
            );
            completed.push(node);
        }
        self.nodes.push(node);
        self.size += 1;
        completed
    }

    /// The root hash of the tree so far.
    pub fn root(&self) -> TreeHash {
        let hashes: Vec<TreeHash> = self.nodes.iter().map(|(_, hash)| *hash).collect();
        fold_range(&hashes).unwrap_or(EMPTY_ROOT)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use proptest::prelude::*;

    /// The leaves of the Certificate Transparency reference tests (RFC 6962's
    /// `merkle_tree_test.cc`, also Trillian's), and the roots after each of them.
    const CT_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const CT_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn h(text: &str) -> TreeHash {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    /// Every perfect subtree's hash of a tree built from `leaves`, by the definition.
    struct Reference {
        leaves: Vec<TreeHash>,
    }

    impl Reference {
        fn of(data: &[Vec<u8>]) -> Self {
            Reference {
                leaves: data.iter().map(|leaf| leaf_hash(leaf)).collect(),
            }
        }

        /// MTH(D[start:end]) as RFC 9162 defines it, recursively.
        fn mth(&self, start: usize, end: usize) -> TreeHash {
            match end - start {
                0 => EMPTY_ROOT,
                1 => self.leaves[start],
                n => {
                    let k = split(n as u64) as usize;
                    node_hash(&self.mth(start, start + k), &self.mth(start + k, end))
                }
            }
        }

        fn node(&self, id: NodeId) -> Option<TreeHash> {
            let end = id.end_leaf() as usize;
            (end <= self.leaves.len()).then(|| self.mth(id.first_leaf() as usize, end))
        }
    }

    fn ct_tree() -> Reference {
        Reference::of(&CT_LEAVES.map(|leaf| hex::decode(leaf).unwrap()))
    }

    #[test]
    fn empty_root_is_the_hash_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(Frontier::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn roots_match_the_certificate_transparency_vectors() {
        let mut frontier = Frontier::new();
        for (leaf, root) in CT_LEAVES.iter().zip(CT_ROOTS) {
            frontier.push(&hex::decode(leaf).unwrap());
            assert_eq!(
                frontier.root(),
                h(root),
                "root of {} leaves",
                frontier.size()
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_the_certificate_transparency_vectors() {
        let tree = ct_tree();
        let cases: [(u64, u64, &[&str]); 5] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (leaf_index, tree_size, expected) in cases {
            let proof = ProofPlan::inclusion(leaf_index, tree_size)
                .unwrap()
                .assemble(|node| tree.node(node))
                .unwrap();
            let expected: Vec<TreeHash> = expected.iter().map(|hash| h(hash)).collect();
            assert_eq!(proof, expected, "leaf {leaf_index} of {tree_size}");
            let root = h(CT_ROOTS[tree_size as usize - 1]);
            let leaf = tree.leaves[leaf_index as usize];
            assert_eq!(
                verify_inclusion(leaf_index, tree_size, &leaf, &proof, &root),
                Ok(())
            );
        }
    }

    #[test]
    fn consistency_proofs_match_the_certificate_transparency_vectors() {
        let tree = ct_tree();
        let cases: [(u64, u64, &[&str]); 5] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                7,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (from, to, expected) in cases {
            let proof = ProofPlan::consistency(from, to)
                .unwrap()
                .assemble(|node| tree.node(node))
                .unwrap();
            let expected: Vec<TreeHash> = expected.iter().map(|hash| h(hash)).collect();
            assert_eq!(proof, expected, "from {from} to {to}");
            let (old, new) = (h(CT_ROOTS[from as usize - 1]), h(CT_ROOTS[to as usize - 1]));
            assert_eq!(verify_consistency(from, to, &old, &new, &proof), Ok(()));
        }
    }

    #[test]
    fn impossible_sizes_are_refused() {
        assert_eq!(
            ProofPlan::consistency(0, 3),
            Err(ProofError::BadSizes { from: 0, to: 3 })
        );
        assert_eq!(
            ProofPlan::consistency(4, 3),
            Err(ProofError::BadSizes { from: 4, to: 3 })
        );
        let root = EMPTY_ROOT;
        assert!(verify_consistency(2, 1, &root, &root, &[]).is_err());
        assert!(verify_inclusion(3, 3, &root, &[], &root).is_err());
        // An empty proof between different sizes proves nothing.
        assert_eq!(
            verify_consistency(1, 2, &root, &root, &[]),
            Err(ProofError::WrongLength { found: 0 })
        );
    }

    fn tree_of(size: u64) -> Reference {
        Reference::of(
            &(0..size)
                .map(|leaf| leaf.to_be_bytes().to_vec())
                .collect::<Vec<_>>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// For random sizes m ≤ n: every inclusion and consistency proof verifies, and a
        /// changed leaf, proof hash or root fails.
        #[test]
        fn every_proof_verifies_and_every_change_fails(
            n in 1u64..300,
            m_seed in any::<u64>(),
            leaf_seed in any::<u64>(),
            flip in any::<(usize, u8)>(),
        ) {
            let tree = tree_of(n);
            let m = 1 + m_seed % n;
            let leaf = leaf_seed % n;
            let new_root = tree.mth(0, n as usize);
            let old_root = tree.mth(0, m as usize);

            let mut frontier = Frontier::new();
            for index in 0..n {
                frontier.push(&index.to_be_bytes());
            }
            prop_assert_eq!(frontier.root(), new_root);

            let inclusion = ProofPlan::inclusion(leaf, n).unwrap().assemble(|node| tree.node(node)).unwrap();
            let leaf_hash = tree.leaves[leaf as usize];
            prop_assert_eq!(verify_inclusion(leaf, n, &leaf_hash, &inclusion, &new_root), Ok(()));
            let other_leaf = tree.leaves[((leaf + 1) % n) as usize];
            if n > 1 {
                prop_assert!(verify_inclusion(leaf, n, &other_leaf, &inclusion, &new_root).is_err());
            }
            let mut wrong_root = new_root;
            wrong_root[flip.1 as usize % 32] ^= 1;
            prop_assert!(verify_inclusion(leaf, n, &leaf_hash, &inclusion, &wrong_root).is_err());
            if !inclusion.is_empty() {
                let mut changed = inclusion.clone();
                changed[flip.0 % inclusion.len()][flip.1 as usize % 32] ^= 0x80;
                prop_assert!(verify_inclusion(leaf, n, &leaf_hash, &changed, &new_root).is_err());
            }

            let consistency = ProofPlan::consistency(m, n).unwrap().assemble(|node| tree.node(node)).unwrap();
            prop_assert_eq!(verify_consistency(m, n, &old_root, &new_root, &consistency), Ok(()));
            let mut wrong_old = old_root;
            wrong_old[flip.1 as usize % 32] ^= 1;
            prop_assert!(verify_consistency(m, n, &wrong_old, &new_root, &consistency).is_err());
            prop_assert!(verify_consistency(m, n, &old_root, &wrong_root, &consistency).is_err());
            if !consistency.is_empty() {
                let mut changed = consistency.clone();
                changed[flip.0 % consistency.len()][flip.1 as usize % 32] ^= 0x80;
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &changed).is_err());
            }
            // A rewritten old leaf makes the old root disagree with the new tree.
            if m < n {
                let mut rewritten = tree.leaves.clone();
                rewritten[(leaf % m) as usize] = leaf_hash_of_other(leaf);
                let forged = Reference { leaves: rewritten[..m as usize].to_vec() };
                let forged_old = forged.mth(0, m as usize);
                prop_assert!(verify_consistency(m, n, &forged_old, &new_root, &consistency).is_err());
            }
        }

        /// A frontier rebuilt from stored subtrees carries on exactly as the one that grew.
        #[test]
        fn a_frontier_resumes_from_its_nodes(n in 0u64..200, more in 1u64..50) {
            let tree = tree_of(n + more);
            let hashes: Vec<TreeHash> = range_nodes(0, n).into_iter().map(|node| tree.node(node).unwrap()).collect();
            let mut frontier = Frontier::from_nodes(n, hashes).unwrap();
            for index in n..n + more {
                for (node, hash) in frontier.push(&index.to_be_bytes()) {
                    prop_assert_eq!(Some(hash), tree.node(node));
                }
            }
            prop_assert_eq!(frontier.root(), tree.mth(0, (n + more) as usize));
        }
    }

    fn leaf_hash_of_other(seed: u64) -> TreeHash {
        leaf_hash(&[b"forged".as_slice(), &seed.to_be_bytes()].concat())
    }
}
