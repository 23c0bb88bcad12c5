//! Phase (first, with the world stopped): mark everything reachable from the known roots as
//! *alive*, so the cycle search skips it.
//!
//! An alive object is not a candidate: its count is not read and its children are not
//! subtracted, so the expensive phases only see what the roots do not reach. Roots are an
//! optimisation only: a reference the roots do not know about still counts in the refcount
//! phases, so forgetting to register a root never frees a live object; and marking alive an
//! object that is in fact garbage only keeps it until a later collection. CPython's
//! `gc_mark_alive_from_roots`.
//!
//! Not marked (and not traced through): frozen objects, `DEAD` ones, and leaf objects (never
//! walked: their scratch word would not be reset).

use crate::header::{flags, scratch};
use crate::object::runtime;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::marking::{Mark, Marker};
use super::{ALIVE, CollectionState};

pub(super) fn mark_alive(state: &mut CollectionState) {
    let roots = runtime().roots_snapshot();
    let mut marker = Marker::<Alive>::new(state.use_prefetch, core::mem::take(&mut state.stack));
    for root in roots {
        marker.mark_from(root);
    }
    state.stack = marker.into_stack();
}

/// Marks objects alive.
pub(crate) struct Alive;

impl Mark for Alive {
    const KIND: usize = ALIVE;

    #[inline(always)]
    fn try_mark(obj: ObjRef) -> bool {
        let header = obj.header();
        // Ordering (scratch): Relaxed; collector-only data during the pause.
        if header.gc.load(Ordering::Relaxed) != 0 {
            return false; // already alive
        }
        // Ordering: Relaxed; flags that matter here change only during pauses, on this thread.
        if header.flags(Ordering::Relaxed) & (flags::DEAD | flags::FROZEN) != 0
            || header.info().leaf
        {
            return false;
        }
        // A count of 0 (an object on its way out, or queued) is left to its owner.
        // Ordering: Relaxed; a count never rises from 0.
        if header.rc.load(Ordering::Relaxed) == 0 {
            return false;
        }
        header.gc.store(scratch::ALIVE, Ordering::Relaxed);
        true
    }
}
