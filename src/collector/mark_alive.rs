//! Phase (first, with the world stopped): mark everything reachable from the known roots as
//! *alive*, so the cycle search skips it.
//!
//! An alive object is not a candidate: the walk leaves it out of the lists, so no later phase
//! visits it, and edges to it are ignored. The expensive phases only see what the roots do not
//! reach. The mark carries the pass's number
//! ([`scratch::alive`](crate::header::scratch::alive)), so nothing resets it at the end of the
//! pass: to the next pass it is a stale mark, which that pass's walk resets as it goes by.
//! Roots are an optimisation only: a reference the roots do not know about still counts in the refcount
//! phases, so forgetting to register a root never frees a live object; and marking alive an
//! object that is in fact garbage only keeps it until a later collection. CPython's
//! `gc_mark_alive_from_roots`.
//!
//! Not marked (and not traced through): frozen objects, `DEAD` ones, objects with count 0, and
//! leaf objects (never walked: no pass would reset their scratch word).

use crate::header::flags;
use crate::object::runtime;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::marking::{Mark, run_pass};
use super::workers::{Chunks, Team};
use super::{ALIVE, CollectionState};

/// Roots a worker takes at a time.
const ROOTS_PER_PIECE: usize = 16;

/// Marks alive from every registered root; returns `false` if there was none (nothing was
/// marked).
pub(super) fn mark_alive(state: &mut CollectionState, team: &Team) -> bool {
    let roots = runtime().roots_snapshot();
    if roots.is_empty() {
        return false;
    }
    let pieces: Vec<&[ObjRef]> = roots.chunks(ROOTS_PER_PIECE).collect();
    let chunks = Chunks::new(pieces.len(), team.size());
    let stack = core::mem::take(&mut state.stack);
    let alive = Alive {
        mark: state.alive_mark,
    };
    (state.stack, _) = run_pass(team, alive, state.use_prefetch, stack, |marker| {
        let Some(i) = chunks.next(marker.worker()) else {
            return false;
        };
        for &root in pieces[i] {
            marker.mark_from(root);
        }
        true
    });
    true
}

/// Marks objects alive in one pass.
#[derive(Clone, Copy)]
pub(crate) struct Alive {
    /// This pass's alive mark, [`scratch::alive`](crate::header::scratch::alive).
    pub(crate) mark: u32,
}

impl Mark for Alive {
    const KIND: usize = ALIVE;

    #[inline(always)]
    fn try_mark(&mut self, obj: ObjRef) -> bool {
        let header = obj.header();
        // Ordering (scratch): Relaxed; collector-only data during the pause. Workers need no
        // more: the values they trace were published before they started and do not change,
        // and the team's join orders their marks before the next phase.
        // Any other value is 0 or an earlier pass's mark.
        if header.gc.load(Ordering::Relaxed) == self.mark {
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
        header.gc.store(self.mark, Ordering::Relaxed);
        true
    }
}
