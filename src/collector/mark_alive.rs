//! Phase (after the walk, with the world stopped): mark everything reachable from the known
//! roots as *alive*, so the cycle search skips it.
//!
//! An alive object is not a candidate: its count is not used and its children are not
//! subtracted, so the expensive phases only see what the roots do not reach. Roots are an
//! optimisation only: a reference the roots do not know about still counts in the refcount
//! phases, so forgetting to register a root never frees a live object; and marking alive an
//! object that is in fact garbage only keeps it until a later collection. CPython's
//! `gc_mark_alive_from_roots`.
//!
//! Not marked (and not traced through): frozen objects, `DEAD` ones, objects with count 0, and
//! leaf objects (never walked: their scratch word would not be reset).

use crate::header::{flags, scratch};
use crate::object::runtime;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::marking::{Mark, run_pass};
use super::workers::{Chunks, Team};
use super::{ALIVE, CollectionState};

/// Roots a worker takes at a time.
const ROOTS_PER_PIECE: usize = 16;

pub(super) fn mark_alive(state: &mut CollectionState, team: &Team) {
    let roots = runtime().roots_snapshot();
    let pieces: Vec<&[ObjRef]> = roots.chunks(ROOTS_PER_PIECE).collect();
    let chunks = Chunks::new(pieces.len(), team.size());
    let stack = core::mem::take(&mut state.stack);
    state.stack = run_pass::<Alive>(team, state.use_prefetch, stack, |marker| {
        let Some(i) = chunks.next(marker.worker()) else {
            return false;
        };
        for &root in pieces[i] {
            marker.mark_from(root);
        }
        true
    });
}

/// Marks objects alive.
pub(crate) struct Alive;

impl Mark for Alive {
    const KIND: usize = ALIVE;

    #[inline(always)]
    fn try_mark(obj: ObjRef) -> bool {
        let header = obj.header();
        // Ordering (scratch): Relaxed; collector-only data during the pause. Workers need no
        // more: the values they trace were published before they started and do not change,
        // and the team's join orders their marks before the next phase.
        // The parallel walk made most objects candidates (`CANDIDATE | count`, or `HOT |
        // index`); marking takes that back.
        if header.gc.load(Ordering::Relaxed) & (scratch::CANDIDATE | scratch::ALIVE)
            == scratch::ALIVE
        {
            return false; // already alive
        }
        // Ordering: Relaxed; DEAD and FROZEN change only in earlier pauses (or later in this
        // one, after marking), which the stop and the team's join order before this read.
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
        // A plain store, also in parallel: two workers may both mark (and trace) the object,
        // which costs a repeated trace but nothing else; a locked read-modify-write per object
        // would cost more (see `marking`).
        header.gc.store(scratch::ALIVE, Ordering::Relaxed);
        true
    }
}
