//! Phase: everything a candidate with gc_refs > 0 reaches is reachable.
//!
//! A candidate with references from outside the candidate set is alive, and so is everything
//! it references, transitively. Marking uses an explicit worklist (the prefetch buffer on big
//! heaps), never recursion. CPython's `mark_heap_visitor` + `mark_reachable`.

use crate::header::scratch;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::marking::{Mark, Marker};
use super::{CollectionState, MARK};

pub(super) fn mark_reachable(state: &mut CollectionState) {
    let mut marker =
        Marker::<Reachable>::new(state.use_prefetch, core::mem::take(&mut state.stack));
    for &obj in &state.objects {
        // Ordering (all scratch accesses): Relaxed; collector-only data during the pause.
        let s = obj.header().gc.load(Ordering::Relaxed);
        if s & (scratch::CANDIDATE | scratch::REACHABLE) == scratch::CANDIDATE
            && s & scratch::REFS != 0
        {
            marker.mark_from(obj);
        }
    }
    state.stack = marker.into_stack();
}

/// Marks candidates reachable.
pub(crate) struct Reachable;

impl Mark for Reachable {
    const KIND: usize = MARK;

    #[inline(always)]
    fn try_mark(obj: ObjRef) -> bool {
        let header = obj.header();
        let s = header.gc.load(Ordering::Relaxed);
        if s & (scratch::CANDIDATE | scratch::REACHABLE) != scratch::CANDIDATE {
            return false; // not a candidate (alive, frozen, immortal, dead) or already marked
        }
        header.gc.store(s | scratch::REACHABLE, Ordering::Relaxed);
        true
    }
}
