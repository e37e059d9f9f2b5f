//! The full case states the case projection holds in memory, bounded.
//!
//! Two kinds of case are held. A *pinned* case changed since its row was last written (or its
//! write is on its way): memory is the only place its current state is, so it stays until a
//! persist writes it. A *recent* case is one whose stored row is current; it is kept only as a
//! cache — the most recently used ones, up to a byte budget — and anything beyond the budget is
//! dropped, to be read from the keyspace again when needed. Pinned cases are bounded by what
//! changes between two persists, recent ones by the budget, so the memory the projection needs
//! does not grow with the history the store holds.
//!
//! A recent case's size is the length of the row last written for it, a fair measure of what
//! its decoded form holds (mostly text).

use std::collections::HashMap;

use caseledger_domain::{Case, CaseId};
use lru::LruCache;

/// The held cases; see the module documentation.
#[derive(Debug)]
pub(crate) struct Details {
    pinned: HashMap<CaseId, Case>,
    recent: LruCache<CaseId, (Case, usize)>,
    recent_bytes: usize,
    budget_bytes: usize,
    /// How many cases were dropped so far; see [`Details::add_read`].
    dropped: u64,
}

impl Details {
    /// Holds every pinned case and recent cases up to `budget_bytes`.
    pub(crate) fn new(budget_bytes: usize) -> Details {
        Details {
            pinned: HashMap::new(),
            recent: LruCache::unbounded(),
            recent_bytes: 0,
            budget_bytes,
            dropped: 0,
        }
    }

    /// A mark to pass to [`Details::add_read`] for rows read after it was taken.
    pub(crate) fn read_mark(&self) -> u64 {
        self.dropped
    }

    /// Keeps `case`, read from its row (of `size` bytes) after `mark` was taken, as a recent
    /// case — unless it is held already, or any case was dropped since the mark. A case not
    /// held when its row was read and not held now changed since only if it was pinned, written
    /// and dropped in between; without a drop since the mark, the row read is its current
    /// state.
    pub(crate) fn add_read(&mut self, mark: u64, case: Case, size: usize) {
        if self.dropped != mark || self.holds(case.id) {
            return;
        }
        self.recent.put(case.id, (case, size));
        self.recent_bytes += size;
        self.drop_beyond_budget();
    }

    /// The case, if held.
    pub(crate) fn get(&self, id: CaseId) -> Option<&Case> {
        self.pinned
            .get(&id)
            .or_else(|| self.recent.peek(&id).map(|(case, _)| case))
    }

    /// Whether the case is held.
    pub(crate) fn holds(&self, id: CaseId) -> bool {
        self.pinned.contains_key(&id) || self.recent.contains(&id)
    }

    /// The case, pinned: held until [`Details::unpin`]. A case not held yet is `absent()`.
    pub(crate) fn pin(&mut self, id: CaseId, absent: impl FnOnce() -> Case) -> &mut Case {
        let recent = &mut self.recent;
        let recent_bytes = &mut self.recent_bytes;
        self.pinned
            .entry(id)
            .or_insert_with(|| match recent.pop(&id) {
                Some((case, size)) => {
                    *recent_bytes -= size;
                    case
                }
                None => absent(),
            })
    }

    /// The pinned case, now written as a row of `size` bytes, becomes a recent one; the least
    /// recently used recent cases are dropped while the budget is exceeded.
    pub(crate) fn unpin(&mut self, id: CaseId, size: usize) {
        let Some(case) = self.pinned.remove(&id) else {
            return;
        };
        self.recent.put(id, (case, size));
        self.recent_bytes += size;
        self.drop_beyond_budget();
    }

    fn drop_beyond_budget(&mut self) {
        while self.recent_bytes > self.budget_bytes {
            match self.recent.pop_lru() {
                Some((_, (_, size))) => {
                    self.recent_bytes -= size;
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }

    /// Drops every case.
    pub(crate) fn clear(&mut self) {
        self.pinned.clear();
        self.recent.clear();
        self.recent_bytes = 0;
        self.dropped += 1;
    }

    /// How many cases are pinned.
    pub(crate) fn pinned_len(&self) -> usize {
        self.pinned.len()
    }

    /// How many recent cases are held, and their bytes.
    pub(crate) fn recent_len_and_bytes(&self) -> (usize, usize) {
        (self.recent.len(), self.recent_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> Case {
        Case::new(CaseId(uuid::Uuid::now_v7()))
    }

    #[test]
    fn pinned_cases_stay_whatever_the_budget() {
        let mut details = Details::new(0);
        let ids: Vec<CaseId> = (0..10).map(|_| case().id).collect();
        for id in &ids {
            details.pin(*id, || Case::new(*id)).version = 7;
        }
        for id in &ids {
            assert_eq!(details.get(*id).map(|case| case.version), Some(7));
        }
        assert_eq!(details.pinned_len(), 10);
    }

    #[test]
    fn unpinned_cases_are_dropped_least_recently_used_first_beyond_the_budget() {
        let mut details = Details::new(300);
        let ids: Vec<CaseId> = (0..4).map(|_| case().id).collect();
        for id in &ids {
            details.pin(*id, || Case::new(*id));
        }
        for id in &ids {
            details.unpin(*id, 100);
        }
        // Four of 100 bytes in a budget of 300: the first unpinned went.
        assert!(!details.holds(ids[0]));
        assert!(ids[1..].iter().all(|id| details.holds(*id)));
        assert_eq!(details.recent_len_and_bytes(), (3, 300));
        // Pinning again takes a recent case back out of the budget, with its state.
        details
            .pin(ids[1], || panic!("held, so not absent"))
            .version = 3;
        assert_eq!(details.recent_len_and_bytes(), (2, 200));
        details.unpin(ids[1], 150);
        assert_eq!(details.get(ids[1]).map(|case| case.version), Some(3));
        // 350 bytes > 300: the least recently used of the others went.
        assert!(!details.holds(ids[2]));
        assert_eq!(details.recent_len_and_bytes(), (2, 250));
    }

    #[test]
    fn a_case_larger_than_the_budget_is_not_kept_once_written() {
        let mut details = Details::new(50);
        let id = case().id;
        details.pin(id, || Case::new(id));
        details.unpin(id, 51);
        assert!(!details.holds(id));
        assert_eq!(details.recent_len_and_bytes(), (0, 0));
    }

    #[test]
    fn a_read_row_is_kept_only_if_no_case_was_dropped_since_the_mark() {
        let mut details = Details::new(250);
        let read = case();
        let mark = details.read_mark();
        details.add_read(mark, read.clone(), 100);
        assert!(details.holds(read.id));
        // A case held already is not replaced by what was read.
        let pinned = case();
        details.pin(pinned.id, || pinned.clone()).version = 5;
        let mut stale = pinned.clone();
        stale.version = 1;
        details.add_read(details.read_mark(), stale, 100);
        assert_eq!(details.get(pinned.id).map(|case| case.version), Some(5));
        // A drop between the mark and the read row's return: the row may be stale, not kept.
        let mark = details.read_mark();
        for _ in 0..2 {
            let other = case();
            details.pin(other.id, || other.clone());
            details.unpin(other.id, 100);
        }
        assert_ne!(details.read_mark(), mark);
        let late = case();
        details.add_read(mark, late.clone(), 10);
        assert!(!details.holds(late.id));
    }

    #[test]
    fn unpinning_a_case_not_pinned_changes_nothing() {
        let mut details = Details::new(1_000);
        details.unpin(case().id, 10);
        assert_eq!(details.recent_len_and_bytes(), (0, 0));
        assert_eq!(details.pinned_len(), 0);
    }
}
