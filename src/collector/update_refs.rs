//! Phase: gc_refs = refcount − references from other candidates.
//!
//! Every listed object (walked and not marked alive) that is not `DEAD`, not frozen, mortal and
//! referenced gets `CANDIDATE | refcount` in its scratch word (in parallel from the walk; on
//! one thread lazily here, as a child may be met before its own turn), then each candidate's
//! value is traced and every candidate it references loses one. Afterwards an object's gc_refs is
//! the number of references to it from outside the candidate set: handles on stacks, in
//! non-GC memory, on other threads. CPython's `update_refs` + `visit_decref`.
//!
//! Not candidates (never traced, ignored as children): objects marked alive from a root,
//! objects with count 0 (their owner is destroying them or they wait in the release queue),
//! immortal and frozen objects, and `DEAD` objects whose value the collector already
//! destroyed.
//!
//! # In parallel
//!
//! The parallel walk already made every candidate (each worker on the pages it visited, with
//! plain stores, while the headers passed by). Workers take segments of the heap
//! ([`Chunks`]: each starts far from the others) and trace them. Each candidate is traced
//! once, by the worker holding its segment.
//!
//! A locked read-modify-write costs several times a plain update, even in cache (about 5 ns
//! against 1 on the machine of `docs/benchmarks.md`), so subtractions are atomic only where
//! workers may meet. The subtraction that takes a candidate's gc_refs to exactly 0 is a plain
//! store: gc_refs counts the outside references plus the subtractions still to come, so none
//! is left for another worker (most objects are referenced once). An object many others point
//! to (the back-edges of siblings to their parent, a class every instance references) would
//! also have its cache line pulled from core to core, so single edges are *combined*: an edge
//! lands in a small direct-mapped buffer keyed by the child's address (and asks for the
//! child's cache line); repeated edges to a child add up in its slot, and the subtraction
//! happens once, when the slot is needed for another child or at the end. The elements of a
//! container (a span) are usually distinct objects: they skip the buffer and are subtracted
//! at once, with a look-ahead prefetch.
//!
//! An object referenced from everywhere (a class every instance points to, the heads of the
//! benchmark's big lists) has too many referrers for a small buffer to combine. The walk makes
//! each candidate with a count of [`HOT_MIN`](super::walk::HOT_MIN) or more *hot*
//! (`scratch::HOT` and an index); every worker counts the subtractions from hot candidates in a
//! table of its own, and [`settle_hot`] adds the tables up after the phase (and catches an
//! over-report there). On the big lists this took `update_refs` with 2 workers from 6 to 3.4 ns
//! per object.
//!
//! Measured alternatives (`docs/benchmarks.md`, "scaling"): giving every scratch word one
//! owning worker and sending it the others' subtractions in outboxes needs no atomics at all,
//! but splits the work by address, not by cost, and buffers most edges; it lost on two of the
//! three graphs. So did a variant whose tracing is shared out as here and only the posting is
//! by address: children are rarely near their parents in address order (the benchmark tree
//! is built breadth-first, and mimalloc hands out pages in no particular order), so most
//! edges still went to outboxes.

use crate::header::{IMMORTAL_MIN, flags, scratch};
use crate::sync::Ordering;
use crate::trace::ObjRef;
use crate::trace::sealed::TracerImpl;

use super::mark_reachable::Tally;
use super::marking::prefetch;
use super::walk::Objects;
use super::workers::{Chunks, Team};
use super::{CollectionState, SUBTRACT};

/// Computes every candidate's gc_refs; returns the tally of the candidates.
pub(super) fn update_refs(state: &mut CollectionState, team: &Team) -> Tally {
    let objects = &state.objects;
    let segments = objects.segments();
    let shared = team.is_parallel();
    let chunks = Chunks::new(segments.len(), team.size());
    let done = team.run(|me| {
        let mut candidates = Tally::default();
        let mut tracer = SubtractRefs::new(if shared {
            Mode::Shared {
                pending: vec![Pending::EMPTY; COMBINE].into_boxed_slice(),
                objects,
            }
        } else {
            Mode::Direct
        });
        if shared {
            tracer.hot = vec![0; objects.hot.len()];
        }
        while let Some(i) = chunks.next(me) {
            for &obj in &segments[i] {
                let header = obj.header();
                // Ordering (all scratch accesses): Relaxed. The scratch word is only touched by
                // the collector while the world is stopped; between workers, only the RMWs'
                // atomicity matters (the counts they end with), and the team's join orders
                // them before the next phase.
                let s = header.gc.load(Ordering::Relaxed);
                // Skip objects that cannot be candidates.
                if s & scratch::CANDIDATE == 0 && (s != 0 || shared || !init_candidate(obj)) {
                    continue;
                }
                // Each candidate has its turn once, on one worker.
                candidates.add(obj);
                tracer.parent = Some(obj);
                let trace = header.info().trace[SUBTRACT];
                // SAFETY: `obj` is a candidate: allocated (the world is stopped and it was
                // walked), its value initialised and not destroyed (not DEAD); `tracer` is
                // exclusive here.
                unsafe { trace(obj, (&raw mut tracer).cast()) };
            }
        }
        tracer.flush();
        (tracer.hot, candidates)
    });
    let (hot, candidates): (Vec<_>, Vec<_>) = done.into_iter().unzip();
    if shared {
        settle_hot(objects, &hot);
    }
    candidates.into_iter().fold(Tally::default(), Tally::merge)
}

/// Gives each hot candidate its gc_refs: its count less the subtractions every worker counted.
fn settle_hot(objects: &Objects, subtracted: &[Vec<u32>]) {
    for (i, &(obj, count)) in objects.hot.iter().enumerate() {
        let header = obj.header();
        let total = subtracted
            .iter()
            .fold(0u32, |sum, worker| sum.saturating_add(worker[i]));
        if total > count {
            over_reported(find_referrer(objects, obj), obj);
        }
        header
            .gc
            .store(scratch::CANDIDATE | (count - total), Ordering::Relaxed);
    }
}

/// Makes `obj` a candidate if it can be one; returns whether it is. In parallel, the walk made
/// every candidate: an object that is not one by then never is.
#[inline]
pub(super) fn init_candidate(obj: ObjRef) -> bool {
    let header = obj.header();
    // Ordering: Relaxed. DEAD and FROZEN change only in earlier pauses (or later in this one,
    // after this phase), which the stop and the team's join order before this read.
    if header.flags(Ordering::Relaxed) & (flags::DEAD | flags::FROZEN) != 0 {
        return false;
    }
    // Ordering: Relaxed. Other threads (non-mutators) may still clone and drop handles, but
    // only handles they already own: a count read at any moment of the pause includes every
    // reference from another candidate, whose values are frozen. A count never rises from 0.
    let rc = header.rc.load(Ordering::Relaxed);
    if rc == 0 || rc >= IMMORTAL_MIN {
        return false;
    }
    header.gc.store(scratch::CANDIDATE | rc, Ordering::Relaxed);
    true
}

/// Subtracts `count` references from `child`'s gc_refs if it is a candidate, making it one
/// first if it can be (one worker). Returns `false` if that would take gc_refs below 0: a
/// `Trace` impl over-reports.
#[inline]
fn subtract(child: ObjRef, count: u32) -> bool {
    let header = child.header();
    let s = header.gc.load(Ordering::Relaxed);
    // An alive child (this pass's alive mark: s != 0 without CANDIDATE) is not a candidate:
    // nothing to subtract.
    if s & scratch::CANDIDATE == 0 && (s != 0 || !init_candidate(child)) {
        return true;
    }
    let s = header.gc.load(Ordering::Relaxed);
    if s & scratch::REFS < count {
        return false;
    }
    header.gc.store(s - count, Ordering::Relaxed);
    true
}

/// [`subtract`] with several workers, which may meet on `child`: the walk made every candidate;
/// `hot` is this worker's count of subtractions from each hot candidate. Returns `false` if the
/// subtraction takes gc_refs below 0 (the word is then left wrapped; the collection is
/// abandoned and every scratch word reset).
#[inline]
fn subtract_shared(child: ObjRef, count: u32, hot: &mut [u32]) -> bool {
    let header = child.header();
    let s = header.gc.load(Ordering::Relaxed);
    if s & scratch::CANDIDATE == 0 {
        return true;
    }
    if s & scratch::HOT == scratch::HOT {
        // Counted here, checked and applied by `settle_hot`.
        let sum = &mut hot[(s & scratch::REFS) as usize];
        *sum = sum.saturating_add(count);
        return true;
    }
    // gc_refs is the outside references plus the subtractions still to come. If it equals
    // this one, there is nothing else: no other worker will write the word, and a plain store
    // does (most objects are referenced once). A `Trace` impl that over-reports can break that
    // premise; the word then ends at 0 where it should go below (the same outcome as an
    // over-report that is not caught, which the `Trace` docs describe).
    if s & scratch::REFS == count {
        header.gc.store(s - count, Ordering::Relaxed);
        return true;
    }
    header.gc.fetch_sub(count, Ordering::Relaxed) & scratch::REFS >= count
}

/// Slots of a worker's combining buffer (a power of two).
const COMBINE: usize = 256;
const _: () = assert!(COMBINE.is_power_of_two());

/// How far ahead `span` prefetches.
const SPAN_PREFETCH: usize = 8;

/// Subtractions from one child waiting in the combining buffer.
#[derive(Clone, Copy)]
struct Pending {
    child: Option<ObjRef>,
    count: u32,
}

impl Pending {
    const EMPTY: Pending = Pending {
        child: None,
        count: 0,
    };
}

/// What the tracer does with an edge.
enum Mode {
    /// Subtract right away (one thread does the whole phase).
    Direct,
    /// Combine, then subtract atomically (see the module docs).
    Shared {
        pending: Box<[Pending]>,
        /// The walk's objects, for [`find_referrer`]; they outlive the phase.
        objects: *const Objects,
    },
    /// Only look for an edge to `target` (for the over-reporting message).
    Search { target: ObjRef, found: bool },
}

/// The tracer of this phase: subtracts one from each candidate child.
pub(crate) struct SubtractRefs {
    /// The object being traced, for the over-reporting message.
    parent: Option<ObjRef>,
    mode: Mode,
    /// In `Shared` mode, the subtractions from each hot candidate, by index. (Not in `Mode`:
    /// a bigger enum made the one-worker phase 10 % slower on the B-tree.)
    hot: Vec<u32>,
}

impl SubtractRefs {
    fn new(mode: Mode) -> SubtractRefs {
        SubtractRefs {
            parent: None,
            mode,
            hot: Vec::new(),
        }
    }

    /// Applies every combined subtraction.
    fn flush(&mut self) {
        if let Mode::Shared { pending, objects } = &mut self.mode {
            for p in pending.iter_mut() {
                if let Some(child) = p.child.take() {
                    apply_combined(child, p.count, &mut self.hot, *objects);
                }
            }
        }
    }
}

/// Applies `count` combined subtractions to `child`. They may come from several objects, so an
/// over-report is blamed on one that a search finds.
#[inline]
fn apply_combined(child: ObjRef, count: u32, hot: &mut [u32], objects: *const Objects) {
    if !subtract_shared(child, count, hot) {
        // SAFETY: `objects` points to `state.objects`, which `update_refs` borrows for the whole
        // phase (the tracer holding the pointer lives inside it), and nothing changes the lists
        // during the phase.
        let objects = unsafe { &*objects };
        over_reported(find_referrer(objects, child), child);
    }
}

impl TracerImpl for SubtractRefs {
    #[inline]
    fn edge(&mut self, child: ObjRef) {
        match &mut self.mode {
            Mode::Direct => {
                if !subtract(child, 1) {
                    over_reported(self.parent, child);
                }
            }
            Mode::Shared { pending, objects } => {
                let addr = child.as_ptr() as usize as u64;
                // Fibonacci hashing: the product's top bits index the buffer.
                let slot = (addr.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    >> (64 - COMBINE.trailing_zeros())) as usize;
                let p = &mut pending[slot];
                if p.child == Some(child) {
                    p.count += 1;
                    return;
                }
                let evicted = core::mem::replace(
                    p,
                    Pending {
                        child: Some(child),
                        count: 1,
                    },
                );
                prefetch(child.0.as_ptr());
                if let Some(old) = evicted.child {
                    apply_combined(old, evicted.count, &mut self.hot, *objects);
                }
            }
            Mode::Search { target, found } => *found |= child == *target,
        }
    }

    /// The elements of a container: usually distinct objects, so combining would only churn
    /// the buffer. Subtracted right away, a few children ahead prefetched.
    #[inline]
    fn span(&mut self, objs: &[ObjRef]) {
        let parent = self.parent;
        match &mut self.mode {
            Mode::Shared { .. } => {
                for (k, &child) in objs.iter().enumerate() {
                    if let Some(ahead) = objs.get(k + SPAN_PREFETCH) {
                        prefetch(ahead.0.as_ptr());
                    }
                    if !subtract_shared(child, 1, &mut self.hot) {
                        over_reported(parent, child);
                    }
                }
            }
            Mode::Direct | Mode::Search { .. } => objs.iter().for_each(|&obj| self.edge(obj)),
        }
    }
}

/// Some candidate that reports an edge to `child`, for the message when a combined
/// subtraction is applied after its tracing object is gone.
#[cold]
fn find_referrer(objects: &Objects, child: ObjRef) -> Option<ObjRef> {
    let mut tracer = SubtractRefs::new(Mode::Search {
        target: child,
        found: false,
    });
    objects.iter().find(|&obj| {
        let header = obj.header();
        // Candidates keep their CANDIDATE bit for the whole phase, so their values are live.
        if header.gc.load(Ordering::Relaxed) & scratch::CANDIDATE == 0 {
            return false;
        }
        let trace = header.info().trace[SUBTRACT];
        // SAFETY: as in `update_refs`; in `Search` mode the tracer writes no scratch word.
        unsafe { trace(obj, (&raw mut tracer).cast()) };
        matches!(tracer.mode, Mode::Search { found: true, .. })
    })
}

#[cold]
#[inline(never)]
fn over_reported(parent: Option<ObjRef>, child: ObjRef) -> ! {
    let child_ty = (child.header().info().type_name)();
    let parent_ty = parent.map_or("?", |p| (p.header().info().type_name)());
    panic!(
        "ftgc: a Trace implementation reported more references to an object of type `{child_ty}` \
         than it has (found while tracing a `{parent_ty}`): the Trace impl of `{parent_ty}`, or of \
         another type holding handles to that `{child_ty}`, reports a handle it does not own or \
         reports one twice. The collection was abandoned before anything was freed."
    )
}
