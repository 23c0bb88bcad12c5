//! Phase: candidates not found reachable are garbage; everyone's scratch word is reset.
//!
//! Then, still with the world stopped, each garbage object is made safe to destroy once the
//! world runs again: the collector takes a reference to it (so handles between garbage objects
//! can be dropped in any order without a count reaching zero), marks it `DEAD` (any handle that
//! a destructor smuggles out can then be dropped but never read), and clears its weak slot (no
//! `Weak` can upgrade to it). CPython's `scan_heap_visitor` + `clear_weakrefs`.

use crate::header::{flags, scratch};
use crate::object::runtime;
use crate::sync::Ordering;
use crate::trace::ObjRef;

use super::CollectionState;
use super::workers::{Chunks, Team};

/// Garbage objects a worker prepares at a time.
const GARBAGE_PER_PIECE: usize = 4096;

pub(super) fn scan(state: &mut CollectionState, team: &Team) {
    let segments = state.objects.segments();
    let chunks = Chunks::new(segments.len(), team.size());
    let found = team.run(|me| {
        let (mut garbage, mut candidates, mut alive) = (Vec::new(), 0, 0);
        while let Some(i) = chunks.next(me) {
            for &obj in &segments[i] {
                let header = obj.header();
                // Ordering (scratch): Relaxed; collector-only data during the pause, and each
                // object is in one segment only.
                let s = header.gc.load(Ordering::Relaxed);
                if s == 0 {
                    continue;
                }
                header.gc.store(0, Ordering::Relaxed);
                if s & scratch::CANDIDATE == 0 {
                    alive += 1; // marked alive from a root
                    continue;
                }
                candidates += 1;
                if s & scratch::REACHABLE == 0 {
                    garbage.push(obj);
                }
            }
        }
        (garbage, candidates, alive)
    });
    for (garbage, candidates, alive) in found {
        state.garbage.extend(garbage);
        state.stats.candidates += candidates;
        state.stats.alive += alive;
    }
}

/// Restores every scratch word to zero after an abandoned collection.
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

pub(super) fn prepare_garbage(state: &mut CollectionState, team: &Team) {
    let weak = &runtime().weak;
    let pieces: Vec<&[ObjRef]> = state.garbage.chunks(GARBAGE_PER_PIECE).collect();
    let chunks = Chunks::new(pieces.len(), team.size());
    let callbacks = team.run(|me| {
        let mut callbacks = Vec::new();
        while let Some(i) = chunks.next(me) {
            for &obj in pieces[i] {
                let header = obj.header();
                header.inc_ref();
                // Ordering: Release; the restart's Release/Acquire pairs already order it for
                // every mutator, this also covers threads that never stopped (non-mutators).
                header.set_flags(flags::DEAD, Ordering::Release);
                // SAFETY: the world is stopped and the collector found `obj` garbage.
                callbacks.extend(unsafe { weak.clear(obj) });
            }
        }
        callbacks
    });
    state.weak_callbacks.extend(callbacks.into_iter().flatten());
}
