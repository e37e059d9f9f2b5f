//! The per-process cache of case states that commands decide on, and the per-case lock that
//! serialises commands on one case inside the process.
//!
//! After an append of its own, the service knows the case's new state: the state it decided on,
//! evolved with the events it just wrote. It keeps that state here, under the case's slot, so
//! the next command on the case decides on it directly — no projection copy cloned, no stream
//! read — and appends expecting exactly its version. The log's version check is what keeps this
//! correct: a command decided on a cached state lands only if nobody (another task, another
//! instance on the same PostgreSQL database) appended since, i.e. only if the cached state *is*
//! the current state. Anything else — a version conflict, a refusal, a failed `If-Match` — drops
//! the entry and the command falls back to loading the case from the log.
//!
//! The slot's async mutex is held from the load (or cache hit) to the append's answer, so
//! commands on one hot case queue here instead of all loading one version and racing for it.
//!
//! A slot holds what a loaded [`Case`] holds: the complainant only as the sealed record, never in
//! clear. The cache is bounded: two generations of at most `capacity / 2` slots each; a slot
//! used in the older generation moves to the newer, and the older is dropped whole when the
//! newer fills (an approximate LRU with O(1) work per command).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use caseledger_domain::{Case, CaseId};

/// One case's slot: its last known state, `None` when unknown. Lock it for the whole command.
pub(crate) type CaseSlot = Arc<tokio::sync::Mutex<Option<Case>>>;

/// The bounded map of case slots.
#[derive(Debug)]
pub(crate) struct CaseCache {
    generations: Mutex<Generations>,
    generation_capacity: usize,
}

#[derive(Debug, Default)]
struct Generations {
    current: HashMap<CaseId, CaseSlot>,
    previous: HashMap<CaseId, CaseSlot>,
}

impl CaseCache {
    /// A cache of at most `capacity` case slots (at least 2).
    pub(crate) fn new(capacity: usize) -> CaseCache {
        CaseCache {
            generations: Mutex::new(Generations::default()),
            generation_capacity: (capacity / 2).max(1),
        }
    }

    /// The slot of `case`, made empty when the case has none yet.
    pub(crate) fn slot(&self, case: CaseId) -> CaseSlot {
        // A poisoned lock only means a panic elsewhere while the map was being updated; the
        // map itself is always consistent (every operation is a single insert or remove).
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = generations.current.get(&case) {
            return Arc::clone(slot);
        }
        let slot = generations.previous.remove(&case).unwrap_or_default();
        if generations.current.len() >= self.generation_capacity {
            generations.previous = std::mem::take(&mut generations.current);
        }
        generations.current.insert(case, Arc::clone(&slot));
        slot
    }

    /// How many slots the cache holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let generations = self
            .generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        generations.current.len() + generations.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn case_id(n: u128) -> CaseId {
        CaseId(Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn a_slot_keeps_its_state_between_commands() {
        let cache = CaseCache::new(8);
        let id = case_id(1);
        *cache.slot(id).lock().await = Some(Case::new(id));
        let again = cache.slot(id);
        let state = again.lock().await;
        assert_eq!(state.as_ref().map(|case| case.id), Some(id));
    }

    #[test]
    fn the_cache_stays_bounded_and_keeps_recently_used_slots() {
        let cache = CaseCache::new(8);
        let hot = case_id(0);
        let hot_slot = cache.slot(hot);
        for n in 1..100 {
            cache.slot(case_id(n));
            // Using the hot case keeps it across generations.
            assert!(Arc::ptr_eq(&cache.slot(hot), &hot_slot), "after {n} cases");
            assert!(cache.len() <= 8, "{} slots after {n} cases", cache.len());
        }
        // A case not used for a while is gone: its slot is new and empty.
        let first = cache.slot(case_id(1));
        assert!(first
            .try_lock()
            .map(|state| state.is_none())
            .unwrap_or(false));
    }

    #[tokio::test]
    async fn commands_on_one_case_queue_on_its_slot() {
        let cache = CaseCache::new(8);
        let id = case_id(7);
        let held = cache.slot(id);
        let guard = held.lock().await;
        let other = cache.slot(id);
        assert!(other.try_lock().is_err(), "the second command must wait");
        drop(guard);
        assert!(other.try_lock().is_ok());
    }
}
