//! Phase (after mark-alive, with the world stopped): find every GC-heap object by walking the
//! heap, and list those not marked alive.
//!
//! The result is a list of *segments*, each the objects of a run of neighbouring heap pages, in
//! address order: the unit in which the later phases share the objects out among the workers.
//! Objects marked alive in this pass are counted, not listed, so no later phase visits them;
//! the walk resets an earlier pass's alive mark ([`scratch::alive`]), or the candidate word
//! a pass that found no garbage left behind, as it goes by.
//! With one worker the walk is one `mi_heap_visit_blocks`; with several, the pages are listed
//! first and each worker visits runs of pages until none is left ([`crate::heap`] explains how).
//! The parallel walk also makes each object that can be a candidate of the cycle search one
//! ([`init_candidate`]) while its header passes by: `update_refs` then needs no separate pass
//! for it, nor a compare-and-swap when workers meet on a child. A candidate with a count of
//! [`HOT_MIN`] or more is made *hot* ([`Objects::hot`]; `update_refs` explains why). On one
//! thread `update_refs` makes the candidates at no extra cost, at each object's turn.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::header::scratch;
use crate::heap::{self, Page};
use crate::stw::WorldStopped;
use crate::trace::ObjRef;

use super::update_refs::init_candidate;
use super::workers::{Chunks, Team};

/// Objects per segment, roughly: big enough that taking one costs nothing next to its work,
/// small enough that 16 workers on a few million objects stay balanced.
const SEGMENT: usize = 8192;

/// Every object the walk found and did not find alive, in segments.
#[derive(Default)]
pub(crate) struct Objects {
    segments: Vec<Vec<ObjRef>>,
    /// Objects the walk found marked alive in this pass (not listed).
    pub(crate) alive: usize,
    /// The hot candidates ([`HOT_MIN`]) with their counts, by index (parallel walk only).
    pub(crate) hot: Vec<(ObjRef, u32)>,
}

/// A candidate with at least this count is *hot* (parallel walk only): `update_refs` counts the
/// subtractions from it in each worker's own table instead of its scratch word, which the
/// workers would otherwise pull from each other's caches with a locked instruction each time (a
/// class object that every instance references; the heads of the benchmark's big lists).
pub(crate) const HOT_MIN: u32 = 32;
/// At most this many hot candidates; the others stay ordinary ones.
const HOT_CAP: u32 = 1 << 16;

impl Objects {
    /// Number of listed objects.
    pub(crate) fn len(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    /// The segments, in address order.
    pub(crate) fn segments(&self) -> &[Vec<ObjRef>] {
        &self.segments
    }

    /// The segments, for `scan`, which keeps only the garbage in each.
    pub(crate) fn segments_mut(&mut self) -> &mut [Vec<ObjRef>] {
        &mut self.segments
    }

    /// Every listed object, segment by segment.
    pub(crate) fn iter(&self) -> impl Iterator<Item = ObjRef> + '_ {
        self.segments.iter().flatten().copied()
    }
}

/// Walks the GC heap with `team`. `capacity` is a guess at the number of objects to list;
/// `alive` is this pass's alive mark. `clean` says that every scratch word is 0 (no alive
/// mark, no word a skipped scan left): then the walk on one thread lists every object without
/// reading its header.
pub(crate) fn walk(
    stopped: &WorldStopped<'_>,
    team: &Team,
    capacity: usize,
    alive: u32,
    clean: bool,
) -> Objects {
    if !team.is_parallel() {
        let mut all = Vec::with_capacity(capacity);
        let mut found_alive = 0;
        if clean {
            heap::walk_gc_heap(stopped, |obj| all.push(obj));
            return Objects {
                segments: vec![all],
                alive: 0,
                hot: Vec::new(),
            };
        }
        heap::walk_gc_heap(stopped, |obj| {
            let s = scratch_word(obj);
            if s == alive {
                found_alive += 1;
                return;
            }
            // An earlier pass's alive mark or candidate word: reset, so that `update_refs`,
            // which makes an object a candidate when it finds a scratch word of 0, can make
            // this one.
            if s != 0 {
                reset(obj);
            }
            all.push(obj);
        });
        return Objects {
            segments: vec![all],
            alive: found_alive,
            hot: Vec::new(),
        };
    }
    let mut pages = heap::gc_pages(stopped);
    // Address order: workers that start on distant segments then work on distant memory.
    pages.sort_unstable_by_key(Page::start);
    let runs = runs_of_pages(&pages);
    let chunks = Chunks::new(runs.len(), team.size());
    // Every header is read anyway, for the candidates; `clean` changes nothing here.
    let next_hot = AtomicU32::new(0);
    let found = team.run(|me| {
        let mut mine = Vec::new();
        let mut hot = Vec::new();
        let mut found_alive = 0;
        while let Some(i) = chunks.next(me) {
            let run = &pages[runs[i].0..runs[i].1];
            let mut objs = Vec::with_capacity(run.iter().map(Page::used).sum());
            for page in run {
                // SAFETY: `page` was listed under `stopped`, which is still held, and `chunks`
                // gives each run of pages to one worker only.
                unsafe {
                    heap::visit_page(page, |obj| {
                        let s = scratch_word(obj);
                        if s == alive {
                            found_alive += 1;
                            return;
                        }
                        if init_candidate(obj) {
                            let count = scratch_word(obj) & scratch::REFS;
                            if count >= HOT_MIN {
                                make_hot(obj, count, &next_hot, &mut hot);
                            }
                        } else if s != 0 {
                            reset(obj); // an earlier pass's word
                        }
                        objs.push(obj);
                    })
                };
            }
            mine.push((i, objs));
        }
        (mine, hot, found_alive)
    });
    let mut segments = vec![Vec::new(); runs.len()];
    let dangling = ObjRef(core::ptr::NonNull::dangling());
    let mut hot = vec![(dangling, 0); next_hot.into_inner().min(HOT_CAP) as usize];
    let mut alive = 0;
    for (mine, found_hot, found_alive) in found {
        alive += found_alive;
        for (i, objs) in mine {
            segments[i] = objs;
        }
        for (i, obj, count) in found_hot {
            hot[i as usize] = (obj, count);
        }
    }
    segments.retain(|s| !s.is_empty());
    Objects {
        segments,
        alive,
        hot,
    }
}

/// The scratch word of `obj`.
#[inline(always)]
fn scratch_word(obj: ObjRef) -> u32 {
    // Ordering (scratch, here and in `reset`): Relaxed; collector-only data during the pause,
    // and the walk visits each object on one worker only.
    obj.header().gc.load(Ordering::Relaxed)
}

/// Resets the scratch word of `obj` (it held an earlier pass's alive mark or candidate word).
#[cold]
fn reset(obj: ObjRef) {
    obj.header().gc.store(0, Ordering::Relaxed);
}

/// Makes the candidate `obj` (with `count`) hot if the table has room.
#[cold]
fn make_hot(obj: ObjRef, count: u32, next: &AtomicU32, hot: &mut Vec<(u32, ObjRef, u32)>) {
    // Ordering: Relaxed; only the indexes' uniqueness matters, and the team's join publishes
    // the lists.
    let i = next.fetch_add(1, Ordering::Relaxed);
    if i < HOT_CAP {
        // Ordering: Relaxed; scratch words are collector-only data during the pause.
        obj.header().gc.store(scratch::HOT | i, Ordering::Relaxed);
        hot.push((i, obj, count));
    }
}

/// Splits `pages` into runs of about [`SEGMENT`] blocks each, as `(start, end)` indexes.
fn runs_of_pages(pages: &[Page]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let (mut start, mut blocks) = (0, 0);
    for (i, page) in pages.iter().enumerate() {
        blocks += page.used();
        if blocks >= SEGMENT {
            runs.push((start, i + 1));
            (start, blocks) = (i + 1, 0);
        }
    }
    if start < pages.len() {
        runs.push((start, pages.len()));
    }
    runs
}
