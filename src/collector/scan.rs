//! Phase: candidates not found reachable are garbage; the scratch word of every listed object
//! is reset (alive objects keep their mark, see [`scratch::alive`]). The walk's lists are cut
//! down to the garbage.
//!
//! Unless save-all keeps it intact, each garbage object is also made safe to destroy once the
//! world runs again, in the same pass (its header is in cache): the collector takes a
//! reference to it (so handles between garbage objects can be dropped in any order without a
//! count reaching zero), marks it `DEAD` (any handle that a destructor smuggles out can then be
//! dropped but never read), and clears its weak slot (no `Weak` can upgrade to it). CPython's
//! `scan_heap_visitor` + `clear_weakrefs`. If some of the garbage has a finalizer to run,
//! [`super::finalize::hold`] takes `DEAD` back before the restart.
//!
//! Scan runs no user code, so it cannot panic halfway.

use std::sync::{Mutex, PoisonError};

use crate::header::{flags, scratch};
use crate::object::runtime;
use crate::sync::Ordering;
use crate::trace::ObjRef;
use crate::weak::WeakCallback;

use super::CollectionState;
use super::finalize::not_run;
use super::marking::prefetch;
use super::workers::{Chunks, Team};

/// How many objects ahead the scan prefetches headers.
const PREFETCH_AHEAD: usize = 16;

/// Finds the garbage and resets the scratch word of every listed object. The walk's lists then hold only the
/// garbage: each segment keeps its garbage objects, in order, and loses the others (no new
/// list is made; a fresh one costs page faults for every 512 objects). With `prepare`, also
/// makes the garbage safe to destroy (see the module docs); then returns whether some of it
/// has a finalizer that has not run.
pub(super) fn scan(state: &mut CollectionState, team: &Team, prepare: bool) -> bool {
    let weak = &runtime().weak;
    // One lock per segment, taken once, by the worker `chunks` hands it to.
    let segments: Vec<Mutex<&mut Vec<ObjRef>>> = state
        .objects
        .segments_mut()
        .iter_mut()
        .map(Mutex::new)
        .collect();
    let chunks = Chunks::new(segments.len(), team.size());
    let found = team.run(|me| {
        let mut found = Found::default();
        while let Some(i) = chunks.next(me) {
            let mut segment = segments[i].lock().unwrap_or_else(PoisonError::into_inner);
            let mut kept = 0;
            for k in 0..segment.len() {
                if let Some(ahead) = segment.get(k + PREFETCH_AHEAD) {
                    prefetch(ahead.0.as_ptr());
                }
                let obj = segment[k];
                let header = obj.header();
                // Ordering (scratch): Relaxed; collector-only data during the pause, and each
                // object is in one segment only.
                // A listed object is a candidate or has a scratch word of 0 (the walk left the
                // alive ones out).
                let s = header.gc.load(Ordering::Relaxed);
                if s == 0 {
                    continue;
                }
                header.gc.store(0, Ordering::Relaxed);
                if s & scratch::REACHABLE != 0 {
                    continue;
                }
                segment[kept] = obj;
                kept += 1;
                if prepare {
                    header.inc_ref();
                    // Ordering: AcqRel. Release: the restart's Release/Acquire pairs already
                    // order DEAD for every mutator, this also covers threads that never
                    // stopped (non-mutators). Acquire: pairs with the Release that set
                    // HAS_WEAK, as in `WeakTable::clear`.
                    let was = header.set_flags(flags::DEAD, Ordering::AcqRel);
                    if was & flags::HAS_WEAK != 0 {
                        // SAFETY: the world is stopped and the collector found `obj` garbage.
                        found.callbacks.extend(unsafe { weak.clear(obj) });
                    }
                    found.finalizers |= not_run(was, header.info()).is_some();
                }
            }
            segment.truncate(kept);
        }
        found
    });
    let mut finalizers = false;
    for found in found {
        state.weak_callbacks.extend(found.callbacks);
        finalizers |= found.finalizers;
    }
    finalizers
}

/// What one worker's share of the scan found.
#[derive(Default)]
struct Found {
    callbacks: Vec<WeakCallback>,
    finalizers: bool,
}

/// Restores the scratch word of every listed object to zero after an abandoned collection.
pub(super) fn reset(state: &CollectionState, team: &Team) {
    let segments = state.objects.segments();
    let chunks = Chunks::new(segments.len(), team.size());
    team.run(|me| {
        while let Some(i) = chunks.next(me) {
            for &obj in &segments[i] {
                obj.header().gc.store(0, Ordering::Relaxed);
            }
        }
    });
}
