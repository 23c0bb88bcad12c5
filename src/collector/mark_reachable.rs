//! Phase: everything a candidate with gc_refs > 0 reaches is reachable.
//!
//! A candidate with references from outside the candidate set is alive, and so is everything
//! it references, transitively. Marking uses an explicit worklist (the prefetch buffer on big
//! heaps), never recursion. CPython's `mark_heap_visitor` + `mark_reachable`.

use crate::header::scratch;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::marking::{Mark, run_pass};
use super::workers::{Chunks, Team};
use super::{CollectionState, MARK};

pub(super) fn mark_reachable(state: &mut CollectionState, team: &Team) {
    let segments = state.objects.segments();
    let chunks = Chunks::new(segments.len(), team.size());
    let stack = core::mem::take(&mut state.stack);
    state.stack = run_pass(team, Reachable, state.use_prefetch, stack, |marker| {
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
}

/// Marks candidates reachable.
#[derive(Clone, Copy)]
pub(crate) struct Reachable;

impl Mark for Reachable {
    const KIND: usize = MARK;

    #[inline(always)]
    fn try_mark(&self, obj: ObjRef) -> bool {
        let header = obj.header();
        let s = header.gc.load(Ordering::Relaxed);
        if s & (scratch::CANDIDATE | scratch::REACHABLE) != scratch::CANDIDATE {
            return false; // not a candidate (alive, frozen, immortal, dead) or already marked
        }
        // A plain store, also in parallel: only the REACHABLE bit changes in this phase, so
        // two workers that both mark the object write the same word (and both trace it).
        header.gc.store(s | scratch::REACHABLE, Ordering::Relaxed);
        true
    }
}
