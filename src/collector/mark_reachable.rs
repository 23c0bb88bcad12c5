//! Phase: everything a candidate with gc_refs > 0 reaches is reachable.
//!
//! A candidate with references from outside the candidate set is alive, and so is everything
//! it references, transitively. Marking uses an explicit worklist (the prefetch buffer on big
//! heaps), never recursion. CPython's `mark_heap_visitor` + `mark_reachable`.
//!
//! The phase also tells whether it marked every candidate ([`Tally`]): then there is no
//! garbage, and the pause skips `scan`, a whole pass over the heap, which is what most
//! collections of a program whose garbage is acyclic would find.

use crate::header::scratch;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::marking::{Mark, run_pass};
use super::workers::{Chunks, Team};
use super::{CollectionState, MARK};

/// Marks from every candidate with gc_refs > 0; returns whether it marked every one of the
/// `candidates` (`update_refs`' tally).
pub(super) fn mark_reachable(state: &mut CollectionState, team: &Team, candidates: Tally) -> bool {
    let segments = state.objects.segments();
    let chunks = Chunks::new(segments.len(), team.size());
    let stack = core::mem::take(&mut state.stack);
    let policy = Reachable {
        marked: Tally::default(),
    };
    let (stack, workers) = run_pass(team, policy, state.use_prefetch, stack, |marker| {
        let Some(i) = chunks.next(marker.worker()) else {
            return false;
        };
        for &obj in &segments[i] {
            // Ordering (all scratch accesses): Relaxed; see `Alive::try_mark`.
            let s = obj.header().gc.load(Ordering::Relaxed);
            if s & (scratch::CANDIDATE | scratch::REACHABLE) == scratch::CANDIDATE
                && s & scratch::REFS != 0
            {
                marker.mark_from(obj);
            }
        }
        true
    });
    state.stack = stack;
    let marked = workers
        .iter()
        .fold(Tally::default(), |sum, w| sum.merge(w.marked));
    marked == candidates
}

/// Marks candidates reachable, and tallies them.
#[derive(Clone, Copy)]
pub(crate) struct Reachable {
    marked: Tally,
}

impl Mark for Reachable {
    const KIND: usize = MARK;

    #[inline(always)]
    fn try_mark(&mut self, obj: ObjRef) -> bool {
        let header = obj.header();
        let s = header.gc.load(Ordering::Relaxed);
        if s & (scratch::CANDIDATE | scratch::REACHABLE) != scratch::CANDIDATE {
            return false; // not a candidate (alive, frozen, immortal, dead) or already marked
        }
        // A plain store, also in parallel: only the REACHABLE bit changes in this phase, so
        // two workers that both mark the object write the same word (and both trace it).
        header.gc.store(s | scratch::REACHABLE, Ordering::Relaxed);
        self.marked.add(obj);
        true
    }
}

/// A count of objects and an order-independent checksum of their addresses: `update_refs`
/// tallies the candidates, this phase the objects it marked, and equal tallies mean that
/// every candidate was marked.
///
/// Why a checksum too: in parallel, two workers may both mark one object (marks are plain
/// stores, see [`marking`](super::marking)), and both count it, so a count alone could match
/// while some candidate went unmarked. The sums of mixed addresses then differ, unless the
/// doubly marked objects and the unmarked ones happen to have equal sums modulo 2^64, a
/// chance of about 2^-64; and even then the only effect is that the unmarked garbage waits
/// for the next collection (the scan is skipped, nothing is freed). On one worker the count
/// alone is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    count: usize,
    sum: u64,
}

impl Tally {
    /// Counts `obj` in.
    #[inline(always)]
    pub(super) fn add(&mut self, obj: ObjRef) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(mix(obj.as_ptr() as usize as u64));
    }

    /// Both tallies together.
    pub(super) fn merge(self, other: Tally) -> Tally {
        Tally {
            count: self.count + other.count,
            sum: self.sum.wrapping_add(other.sum),
        }
    }

    /// The number of objects counted in.
    pub(super) fn count(self) -> usize {
        self.count
    }
}

/// A bijective mix of all 64 bits (the splitmix64 finalizer), so that sums of mixed
/// addresses do not cancel the way sums of the evenly spaced addresses themselves can.
#[inline(always)]
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
