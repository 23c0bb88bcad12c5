//! The cycle collector: one full, non-generational collection, phase by phase.
//!
//! [`Collector::run`] runs one *pass* ([`Collector::pass`], which reads top-down as the
//! phases below), or up to [`MAX_PASSES`] when garbage has finalizers to run ([`finalize`]):
//!
//! 1. drain the release queue (world running);
//! 2. **stop the world**;
//! 3. [`mark_alive`]: everything reachable from the registered roots is alive and skipped
//!    by the cycle search;
//! 4. [`walk`] the GC heap: every object, in address order; those not alive are listed, in
//!    segments, for the phases below;
//! 5. [`update_refs`]: gc_refs = refcount − references from other candidates;
//! 6. [`mark_reachable`]: everything reachable from a candidate with gc_refs > 0 is alive;
//!    if that is every candidate, there is no garbage and the pause ends here;
//! 7. [`scan`]: the rest is garbage; reset every listed object's scratch word; take a
//!    reference to each garbage object, mark it DEAD, clear its weak slot (or, in save-all
//!    mode, keep it intact; or, when some of it has finalizers to run, clear its weak slots
//!    and hold it);
//! 8. **restart the world**; run the cleared weak references' callbacks;
//! 9. [`destroy`]: drop the garbage values, then release the blocks (or run the finalizers
//!    and let the next pass decide).
//!
//! On a big heap both marking phases may use the prefetch buffer ([`marking`]): the collector
//! measures whether it is faster on this heap than depth-first marking ([`mark_mode`]).
//! [`inspect`] lists objects and their references with the world stopped, and freezes them
//! (sets them aside from every collection).
//!
//! Steps 3–7 run on the collector's [`workers`] (all cores by default): segments of the heap
//! are handed out one at a time, and the marking phases steal work from each other
//! ([`marking`], [`termination`]). Step 9 runs on the collecting thread: destructors are user
//! code that may allocate, collect or panic, and freeing a block from a thread that did not
//! allocate it costs mimalloc about six times a local free.
//!
//! A panic in steps 3–7 (a `Trace` impl that panics or over-reports) abandons the collection:
//! scratch words are reset, the world restarts, nothing is freed, and the panic resumes on the
//! collecting thread.

mod destroy;
mod finalize;
mod inspect;
mod mark_alive;
mod mark_mode;
mod mark_reachable;
mod marking;
mod scan;
mod termination;
mod trigger;
mod update_refs;
mod walk;
mod workers;

#[cfg(loom)]
pub use termination::{PlantedBug as TerminationBug, Termination};

use mark_mode::MarkModes;
pub(crate) use trigger::Decision;
use trigger::{Inputs, TriggerState};
pub use trigger::{MemoryProbe, OsProbe, SysinfoProbe, TriggerConfig, TriggerMode};

use core::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::gc::GcAny;
use crate::header::{TRACER_KINDS, TraceFn, scratch};
use crate::mutator::Mutator;
use crate::object::{self, runtime};
use crate::sync::{self, MutexGuard};
use crate::trace::{ObjRef, Trace, trace_erased};

use inspect::Edges;
use mark_alive::Alive;
use mark_reachable::Reachable;
use marking::Marker;
use update_refs::SubtractRefs;
use walk::Objects;
use workers::Pool;

/// Table slot of the `update_refs` tracer.
pub(crate) const SUBTRACT: usize = 0;
/// Table slot of the `mark_reachable` tracer.
pub(crate) const MARK: usize = 1;
/// Table slot of the `mark_alive` tracer.
pub(crate) const ALIVE: usize = 2;
/// Table slot of the introspection tracer (`Mutator::referents` and friends).
pub(crate) const EDGES: usize = 3;

/// The tracing functions of `T`, one per tracer kind, for its `TypeInfo`.
pub(crate) const fn tracer_table<T: Trace>() -> [TraceFn; TRACER_KINDS] {
    [
        trace_erased::<T, SubtractRefs> as TraceFn,
        trace_erased::<T, Marker<Reachable>> as TraceFn,
        trace_erased::<T, Marker<Alive>> as TraceFn,
        trace_erased::<T, Edges> as TraceFn,
    ]
}

/// Why a collection ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reason {
    /// An explicit [`Collector::collect`] / [`Mutator::collect`](crate::Mutator::collect).
    #[default]
    Manual,
    /// The allocation-count trigger fired ([`TriggerMode::Count`]).
    Allocations,
    /// The count trigger fired and process memory grew enough ([`TriggerMode::Memory`]).
    MemoryGrowth,
    /// The count trigger fired; memory was flat but too many objects were deferred already.
    DeferralCap,
    /// The count trigger fired; memory was flat but the GC heap itself grew too much.
    HeapGrowth,
    /// The count trigger fired and the memory probe failed.
    ProbeFailed,
    /// An allocation failed: collect, then try it once more ([`Gc::try_new`](crate::Gc::try_new)).
    OutOfMemory,
}

/// What one collection did and how long each part took.
#[derive(Clone, Debug, Default)]
pub struct CollectionStats {
    /// Why it ran.
    pub reason: Reason,
    /// GC-heap objects found by the heap walk.
    pub objects: usize,
    /// Objects marked alive from the registered roots (skipped by the cycle search).
    pub alive: usize,
    /// Objects that took part in the cycle search (not alive, mortal, referenced, not frozen).
    pub candidates: usize,
    /// Candidates with many references (32 or more, at most 65,536, found by a parallel walk)
    /// whose subtractions each worker counted apart, instead of all workers writing one word.
    pub hot: usize,
    /// Garbage objects found and destroyed.
    pub collected: usize,
    /// Garbage objects found and kept, intact, by the save-all debug mode
    /// ([`Collector::set_debug_saveall`]).
    pub uncollectable: usize,
    /// Finalizers run ([`Finalize`](crate::Finalize)).
    pub finalized: usize,
    /// Passes over the heap: more than 1 when finalizers ran (the objects they could have
    /// resurrected are only destroyed by a later pass that finds them still garbage).
    pub passes: usize,
    /// Time from the request until every other mutator was parked.
    pub stop_time: Duration,
    /// Time the world was stopped (from the request to the restart).
    pub pause: Duration,
    /// Whether marking used the prefetch buffer ([`Collector::set_prefetch_threshold`]).
    pub prefetch: bool,
    /// Threads that ran the phases in the pause (1: the collecting thread alone).
    pub workers: usize,
    /// Heap walk.
    pub walk: Duration,
    /// `mark_alive` phase.
    pub mark_alive: Duration,
    /// `update_refs` phase.
    pub update_refs: Duration,
    /// `mark_reachable` phase.
    pub mark_reachable: Duration,
    /// `scan` phase (with preparing the garbage); close to zero when marking found every
    /// candidate reachable (no garbage: the scan is skipped).
    pub scan: Duration,
    /// Destroying the garbage, with the world running.
    pub destroy: Duration,
    /// The whole collection, from the call to the return.
    pub total: Duration,
}

impl CollectionStats {
    /// Adds one pass: times and counts of destroyed, kept and finalized objects add up; the
    /// heap's census (objects, alive, candidates, hot) and `prefetch` are the last pass's.
    fn add_pass(&mut self, pass: &CollectionStats) {
        self.passes += 1;
        self.objects = pass.objects;
        self.alive = pass.alive;
        self.candidates = pass.candidates;
        self.hot = pass.hot;
        self.prefetch = pass.prefetch;
        self.collected += pass.collected;
        self.uncollectable += pass.uncollectable;
        self.finalized += pass.finalized;
        self.stop_time += pass.stop_time;
        self.pause += pass.pause;
        self.walk += pass.walk;
        self.mark_alive += pass.mark_alive;
        self.update_refs += pass.update_refs;
        self.mark_reachable += pass.mark_reachable;
        self.scan += pass.scan;
        self.destroy += pass.destroy;
    }
}

/// Totals over every collection since the process started.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Collections run.
    pub collections: u64,
    /// Objects collected.
    pub collected: u64,
    /// Objects found garbage and kept by the save-all debug mode.
    pub uncollectable: u64,
    /// Finalizers run.
    pub finalized: u64,
    /// Sum of the pauses.
    pub pause: Duration,
    /// Longest pause.
    pub max_pause: Duration,
    /// Times the memory rule deferred a collection the count rule asked for.
    pub deferrals: u64,
}

/// Default for [`Collector::set_threshold`]: CPython's `young.threshold`.
pub const DEFAULT_THRESHOLD: usize = 2000;

/// Default for [`Collector::set_prefetch_threshold`] (see `docs/benchmarks.md`).
pub const DEFAULT_PREFETCH_THRESHOLD: usize = 200_000;

/// The process-wide collector: configuration, triggering and statistics. Get it with
/// [`collector()`](fn@crate::collector).
pub struct Collector {
    enabled: AtomicBool,
    threshold: AtomicUsize,
    /// Objects that survived the last collection (CPython's `long_lived_total`), walked
    /// objects of every kind included.
    long_lived: AtomicUsize,
    /// Collections in progress (automatic ones are skipped while one runs).
    running: AtomicUsize,
    /// Marking may use the prefetch buffer when more objects than this survived the last
    /// collection.
    prefetch_threshold: AtomicUsize,
    /// The marking costs measured in each mode, which decide between them above the
    /// threshold.
    mark_modes: Mutex<MarkModes>,
    last: Mutex<Option<CollectionStats>>,
    totals: Mutex<Totals>,
    trigger: Mutex<TriggerConfig>,
    trigger_state: TriggerState,
    /// The memory probe; `None` means [`OsProbe`].
    probe: Mutex<Option<Box<dyn MemoryProbe>>>,
    /// The worker threads of the pause.
    pool: Pool,
    /// Callbacks on collection start and stop, with their ids; and the next id.
    callbacks: Mutex<(u64, Vec<(u64, Callback)>)>,
    /// The number of the next pass, for its alive mark ([`scratch::alive`]).
    ///
    /// [`scratch::alive`]: crate::header::scratch::alive
    passes: AtomicU32,
    /// Some scratch word may be other than 0 between pauses: since the last walk that read
    /// every header, a pass had roots to mark from (alive marks), or found no garbage and
    /// skipped the scan (candidates' words). When none is and the next pass has no root
    /// either, the walk on one thread need not read the headers.
    scratch_used: AtomicBool,
    /// Debug mode: keep garbage in `saved` instead of destroying it.
    saveall: AtomicBool,
    saved: Mutex<Vec<GcAny>>,
}

/// When a collection callback is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionPhase {
    /// Before the world stops; the statistics hold only the reason.
    Start,
    /// After the garbage was destroyed; the statistics are complete. Not called for a
    /// collection abandoned because a `Trace` impl panicked.
    Stop,
}

/// A collection callback (CPython's `gc.callbacks`).
type Callback = std::sync::Arc<dyn Fn(CollectionPhase, &CollectionStats) + Send + Sync>;

/// Identifies a callback for [`Collector::remove_callback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

pub(crate) static COLLECTOR: Collector = Collector {
    enabled: AtomicBool::new(true),
    threshold: AtomicUsize::new(DEFAULT_THRESHOLD),
    long_lived: AtomicUsize::new(0),
    running: AtomicUsize::new(0),
    prefetch_threshold: AtomicUsize::new(DEFAULT_PREFETCH_THRESHOLD),
    mark_modes: Mutex::new(MarkModes::new()),
    last: Mutex::new(None),
    totals: Mutex::new(Totals {
        collections: 0,
        collected: 0,
        uncollectable: 0,
        finalized: 0,
        pause: Duration::ZERO,
        max_pause: Duration::ZERO,
        deferrals: 0,
    }),
    trigger: Mutex::new(TriggerConfig::DEFAULT),
    trigger_state: TriggerState::new(),
    probe: Mutex::new(None),
    pool: Pool::new(),
    callbacks: Mutex::new((0, Vec::new())),
    passes: AtomicU32::new(0),
    scratch_used: AtomicBool::new(false),
    saveall: AtomicBool::new(false),
    saved: Mutex::new(Vec::new()),
};

thread_local! {
    /// This thread is running a collection (its destroy phase may call back into `collect`).
    static IN_COLLECTION: Cell<bool> = const { Cell::new(false) };
}

/// Most passes one collection runs: finalizers may create new garbage with finalizers, which
/// the next pass finalizes; what is left after the last pass waits for the next collection.
const MAX_PASSES: usize = 3;

/// What a pass does with the garbage it found, besides destroying it.
enum Kept {
    /// Destroy it (the normal case).
    Nothing,
    /// Save-all debug mode: keep it for `take_garbage`.
    Saved(Vec<GcAny>),
    /// Some of it has finalizers to run: run them, destroy nothing; the next pass decides.
    ToFinalize(Vec<GcAny>),
}

/// The collection lock held by the outermost collection on this thread.
pub(super) struct Serial(Option<MutexGuard<'static, ()>>);

impl Drop for Serial {
    fn drop(&mut self) {
        if self.0.is_some() {
            IN_COLLECTION.with(|c| c.set(false));
        }
    }
}

/// Working state of one collection, passed to every phase.
pub(crate) struct CollectionState {
    /// Every GC-heap object, from the walk; after `scan`, only the garbage (scan keeps it in
    /// the walk's lists, which are no longer needed, instead of copying it into new ones).
    objects: Objects,
    /// Marking stack, reused across phases (on one thread; parallel workers keep their own).
    stack: Vec<ObjRef>,
    /// Marking uses the prefetch buffer.
    use_prefetch: bool,
    /// The scratch word of an object marked alive in this pass.
    alive_mark: u32,
    /// Callbacks of the weak references the pass cleared, run after the restart.
    weak_callbacks: Vec<crate::weak::WeakCallback>,
    stats: CollectionStats,
}

impl Collector {
    /// Runs a full collection on the calling thread; the same as
    /// [`Mutator::collect`](crate::Mutator::collect).
    pub fn collect(&self, m: &mut crate::Mutator) -> CollectionStats {
        m.collect()
    }

    /// Turns automatic collection on (the default).
    pub fn enable(&self) {
        // Ordering (configuration knobs): Relaxed; read by heuristics only.
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Turns automatic collection off; explicit collections still run. Returns whether it was
    /// on.
    pub fn disable(&self) -> bool {
        self.enabled.swap(false, Ordering::Relaxed)
    }

    /// Whether automatic collection is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The allocation threshold: a collection is due when more than this many net new GC-heap
    /// objects were allocated since the last one (and at least a quarter of the survivors of
    /// the last one, so big heaps are not collected quadratically often).
    pub fn threshold(&self) -> usize {
        self.threshold.load(Ordering::Relaxed)
    }

    /// Sets the threshold; 0 turns automatic collection off.
    pub fn set_threshold(&self, threshold: usize) {
        self.threshold.store(threshold, Ordering::Relaxed);
    }

    /// Net new GC-heap objects since the last collection (the calling thread's pending count
    /// included).
    pub fn count(&self) -> usize {
        object::flush_count();
        runtime().young.load(Ordering::Relaxed).max(0) as usize
    }

    /// Objects that survived the last collection.
    pub fn long_lived(&self) -> usize {
        self.long_lived.load(Ordering::Relaxed)
    }

    /// Marking may use the software-prefetch buffer when more than `objects` survived the last
    /// collection (default [`DEFAULT_PREFETCH_THRESHOLD`]): it can pay only when the heap does
    /// not fit in cache. Above the threshold the collector measures marking in both modes and
    /// keeps the faster, measuring the other again every 8 passes (a collection that runs
    /// finalizers makes more than one): the buffer wins on
    /// heaps whose objects are scattered, and loses on heaps laid out in the order their
    /// references are followed, where the hardware prefetcher already does its work
    /// ([`CollectionStats::prefetch`] says which mode a collection used). 0 always uses the
    /// buffer, without measuring; `usize::MAX` never does.
    pub fn set_prefetch_threshold(&self, objects: usize) {
        self.prefetch_threshold.store(objects, Ordering::Relaxed);
    }

    /// The current prefetch threshold.
    pub fn prefetch_threshold(&self) -> usize {
        self.prefetch_threshold.load(Ordering::Relaxed)
    }

    /// Sets the number of threads that run a collection's pause: 1 runs every phase on the
    /// collecting thread (the sequential reference path), `n > 1` on a private pool of `n`
    /// worker threads, 0 (the default) on as many as the machine has cores. Takes effect at the
    /// next collection, which starts the pool (with the world running).
    pub fn set_workers(&self, workers: usize) {
        self.pool.set_size(workers);
    }

    /// The number of threads the next collection's pause runs on.
    pub fn workers(&self) -> usize {
        self.pool.size()
    }

    /// Statistics of the most recent collection.
    pub fn last_stats(&self) -> Option<CollectionStats> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Totals since the process started.
    pub fn totals(&self) -> Totals {
        self.totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Registered mutator threads.
    pub fn mutators(&self) -> usize {
        runtime().world.thread_count()
    }

    /// How long a collection waits for an attached mutator to reach a safepoint before it
    /// raises [`Warning::SlowSafepoint`](crate::Warning) naming the thread (it keeps waiting,
    /// and warns again each period). Default 10 s.
    pub fn set_stop_warning(&self, after: Duration) {
        runtime().world.set_warn_after(after);
    }

    /// Routes the collector's [`Warning`](crate::Warning)s to `handler` (`None`: standard
    /// error, the default). The handler runs on the thread that raised the warning: for a
    /// late safepoint, the collecting thread while it waits for the stop, with the collection
    /// locks held. It must not collect, register a mutator or wait for a mutator thread (it
    /// may wake one, or install another handler). A panic in it is caught and reported on
    /// standard error, and the stop goes on.
    pub fn set_warning_handler(&self, handler: Option<crate::WarningHandler>) {
        crate::warning::set_handler(handler);
    }

    /// Calls `f` at the start and at the stop of every collection (CPython's `gc.callbacks`),
    /// on the collecting thread, with the world running and no lock of the crate held but the
    /// collection lock (so `f` may allocate, read objects through handles it owns, or even
    /// collect; other threads' collections wait). A panic in `f` does not stop the
    /// collection; it resumes when the collection is over.
    pub fn add_callback(
        &self,
        f: impl Fn(CollectionPhase, &CollectionStats) + Send + Sync + 'static,
    ) -> CallbackId {
        let mut cbs = self
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cbs.0 += 1;
        let id = cbs.0;
        cbs.1.push((id, std::sync::Arc::new(f)));
        CallbackId(id)
    }

    /// Removes a callback; `false` if it was not registered.
    pub fn remove_callback(&self, id: CallbackId) -> bool {
        let mut cbs = self
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = cbs.1.len();
        cbs.1.retain(|(i, _)| *i != id.0);
        cbs.1.len() != before
    }

    /// Calls every callback; returns the first panic.
    fn notify(
        &self,
        phase: CollectionPhase,
        stats: &CollectionStats,
    ) -> Option<Box<dyn std::any::Any + Send>> {
        let cbs: Vec<Callback> = {
            let cbs = self
                .callbacks
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            cbs.1.iter().map(|(_, f)| f.clone()).collect()
        };
        let mut first = None;
        for f in cbs {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(phase, stats))) {
                first.get_or_insert(p);
            }
        }
        first
    }

    /// Debug mode (CPython's `gc.DEBUG_SAVEALL`): garbage that collections find is kept,
    /// intact, instead of destroyed, for [`take_garbage`](Collector::take_garbage). Kept
    /// objects are alive (the collector holds them), so later collections do not find them
    /// again. `CollectionStats::uncollectable` counts them (`collected` does not).
    pub fn set_debug_saveall(&self, on: bool) {
        // Ordering: Relaxed; a setting read once per collection.
        self.saveall.store(on, Ordering::Relaxed);
    }

    /// Whether garbage is kept instead of destroyed.
    pub fn debug_saveall(&self) -> bool {
        // Ordering: Relaxed; as above.
        self.saveall.load(Ordering::Relaxed)
    }

    /// The garbage kept in debug mode so far (CPython's `gc.garbage`); the collector lets go
    /// of it, so dropping the handles (and breaking their cycles) lets a later collection
    /// free it.
    pub fn take_garbage(&self) -> Vec<GcAny> {
        core::mem::take(&mut *self.saved.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The trigger's configuration.
    pub fn trigger(&self) -> TriggerConfig {
        *self.trigger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the trigger's configuration (count-only or memory-aware, and its bounds).
    pub fn set_trigger(&self, config: TriggerConfig) {
        *self.trigger.lock().unwrap_or_else(PoisonError::into_inner) = config;
    }

    /// Replaces the process-memory probe (the default is [`OsProbe`]); for embedders with their
    /// own accounting, and for tests.
    pub fn set_memory_probe(&self, probe: Box<dyn MemoryProbe>) {
        *self.probe.lock().unwrap_or_else(PoisonError::into_inner) = Some(probe);
    }

    fn read_probe(&self) -> Option<u64> {
        match &*self.probe.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(p) => p.process_memory(),
            None => OsProbe.process_memory(),
        }
    }

    /// Asks the trigger whether to collect now (called when a thread folds its allocation
    /// count). A deferral resets the count, so the probe is read again only after another
    /// threshold's worth of allocations, as CPython does.
    pub(crate) fn check_trigger(&self) -> Decision {
        // Ordering (every atomic here): Relaxed; heuristic inputs and counters. A stale value
        // moves a collection by one check at most, and a count taken by `swap` is added to
        // `deferred` by the same thread.
        if !self.is_enabled() || self.running.load(Ordering::Relaxed) > 0 {
            return Decision::NotDue;
        }
        let rt = runtime();
        let st = &self.trigger_state;
        let inputs = Inputs {
            count: rt.young.load(Ordering::Relaxed).max(0) as usize,
            threshold: self.threshold(),
            long_lived: self.long_lived(),
            deferred: st.deferred.load(Ordering::Relaxed) as usize,
            last_memory: st.last_memory(),
            heap_bytes: rt.heap_bytes.load(Ordering::Relaxed).max(0) as u64,
            heap_bytes_after_last: st.heap_bytes_after_last.load(Ordering::Relaxed),
        };
        let decision = trigger::decide(&self.trigger(), inputs, || self.read_probe());
        if decision == Decision::Defer {
            let count = rt.young.swap(0, Ordering::Relaxed).max(0) as u64;
            st.deferred.fetch_add(count, Ordering::Relaxed);
            self.totals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .deferrals += 1;
        }
        decision
    }

    /// After a collection: the baselines of the memory rule.
    fn reset_trigger(&self) {
        // Ordering (every atomic here): Relaxed; baselines for the heuristics, written by the
        // collecting thread under the collection lock.
        let st = &self.trigger_state;
        st.deferred.store(0, Ordering::Relaxed);
        object::flush_count();
        let heap = runtime().heap_bytes.load(Ordering::Relaxed).max(0) as u64;
        st.heap_bytes_after_last.store(heap, Ordering::Relaxed);
        if self.trigger().mode == TriggerMode::Memory {
            let mem = self.read_probe().unwrap_or(u64::MAX);
            st.last_memory.store(mem, Ordering::Relaxed);
        }
    }

    /// Runs one full collection on the calling thread, an attached mutator: one pass, or up to
    /// [`MAX_PASSES`] when passes find garbage with finalizers to run (each such pass
    /// finalizes and destroys nothing; the next one finds what is still garbage).
    pub(crate) fn run(&self, m: &mut Mutator, reason: Reason) -> CollectionStats {
        /// Counts the collection as running until it returns or unwinds.
        struct Running<'a>(&'a AtomicUsize);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                // Ordering: Relaxed; a heuristic for the trigger.
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }

        let start = Instant::now();
        let _serial = self.serialise(m);
        // Ordering: Relaxed; as above.
        self.running.fetch_add(1, Ordering::Relaxed);
        let _running = Running(&self.running);
        let team = self.pool.team();
        let mut stats = CollectionStats {
            reason,
            workers: team.size(),
            ..CollectionStats::default()
        };
        let mut callback_panic = self.notify(CollectionPhase::Start, &stats);
        let mut panic = None;
        for _ in 0..MAX_PASSES {
            let (pass, pass_panic) = self.pass(m, &team);
            stats.add_pass(&pass);
            panic = panic.or(pass_panic);
            if pass.finalized == 0 {
                break;
            }
        }
        self.reset_trigger();
        stats.total = start.elapsed();
        self.record(&stats);
        #[cfg(feature = "log")]
        log::debug!(
            target: "ftgc",
            "collection ({:?}): {} objects, {} collected, {} finalized, pause {:?}, total {:?}, {} worker(s)",
            stats.reason,
            stats.objects,
            stats.collected,
            stats.finalized,
            stats.pause,
            stats.total,
            stats.workers
        );
        callback_panic = callback_panic.or(self.notify(CollectionPhase::Stop, &stats));
        if let Some(p) = panic.or(callback_panic) {
            resume_unwind(p);
        }
        stats
    }

    /// One pass: drain the release queue, stop the world, find the garbage, restart, then
    /// destroy it (or keep it in save-all mode, or finalize it). Returns the first panic of a
    /// destructor or finalizer; a panic of a phase abandons the pass and resumes at once. The
    /// statistics are the pass's own ([`CollectionStats::add_pass`] takes what it needs; the
    /// collection's reason and workers are set by `run`).
    fn pass(
        &self,
        m: &mut Mutator,
        team: &workers::Team,
    ) -> (CollectionStats, Option<Box<dyn std::any::Any + Send>>) {
        let me = m.thread_state();
        // Read once: scan's preparation and the choice below must agree (another thread may
        // change the setting at any moment).
        let saveall = self.debug_saveall();
        object::drain_releases();
        let (use_prefetch, measured) = self.marking_mode(team.size());
        let mut state = CollectionState {
            objects: Objects::default(),
            stack: Vec::new(),
            weak_callbacks: Vec::new(),
            use_prefetch,
            // Ordering: Relaxed; passes are serialised by the collection lock (a nested
            // collection runs on the thread that holds it).
            alive_mark: scratch::alive(self.passes.fetch_add(1, Ordering::Relaxed)),
            stats: CollectionStats::default(),
        };
        state.stats.prefetch = state.use_prefetch;

        let requested = Instant::now();
        let stopped = runtime().world.stop(me);
        state.stats.stop_time = requested.elapsed();
        object::flush_count();
        runtime().young.store(0, Ordering::Relaxed);

        let phases = catch_unwind(AssertUnwindSafe(|| {
            let mut t = Instant::now();
            let lap = |t: &mut Instant| {
                let now = Instant::now();
                let d = now - *t;
                *t = now;
                d
            };
            // Ordering (`scratch_used`, here and below): Relaxed; read and written under the
            // collection lock. Set before marking, which may panic halfway.
            let used_before = self.scratch_used.swap(true, Ordering::Relaxed);
            let rooted = mark_alive::mark_alive(&mut state, team);
            state.stats.mark_alive = lap(&mut t);
            let capacity = self.long_lived() + self.long_lived() / 8 + 1024;
            let clean = !(rooted || used_before);
            state.objects = walk::walk(&stopped, team, capacity, state.alive_mark, clean);
            state.stats.walk = lap(&mut t);
            // The walk reset every earlier word it read; if it read none, all were 0.
            self.scratch_used.store(rooted, Ordering::Relaxed);
            state.stats.alive = state.objects.alive;
            state.stats.objects = state.objects.len() + state.objects.alive;
            state.stats.hot = state.objects.hot.len();
            let candidates = update_refs::update_refs(&mut state, team);
            state.stats.candidates = candidates.count();
            state.stats.update_refs = lap(&mut t);
            let all_reachable = mark_reachable::mark_reachable(&mut state, team, candidates);
            state.stats.mark_reachable = lap(&mut t);
            if measured {
                self.mark_modes().record(
                    team.size(),
                    state.use_prefetch,
                    state.stats.alive + state.stats.candidates,
                    state.stats.mark_alive + state.stats.mark_reachable,
                );
            }
            if all_reachable {
                // No garbage: no scan. The candidates keep their words until the next walk
                // resets them. The (now empty) lists are freed after the restart.
                state.objects.segments_mut().iter_mut().for_each(Vec::clear);
                self.scratch_used.store(true, Ordering::Relaxed);
                return false;
            }
            let finalizers = scan::scan(&mut state, team, !saveall);
            state.stats.scan = lap(&mut t);
            finalizers
        }));
        let finalizers = match phases {
            Ok(finalizers) => finalizers,
            Err(panic) => {
                scan::reset(&state, team);
                drop(stopped);
                resume_unwind(panic);
            }
        };
        let t = Instant::now();
        let kept = if saveall {
            // Kept intact (neither DEAD nor weak-cleared): handles taken while stopped.
            state.stats.uncollectable = state.objects.len();
            // SAFETY: garbage this pause found: candidates, whose counts are above zero.
            Kept::Saved(unsafe { inspect::handles(&stopped, state.objects.iter()) })
        } else if finalizers {
            // SAFETY: the garbage `scan` just prepared (it was not in save-all mode).
            Kept::ToFinalize(unsafe { finalize::hold(&stopped, state.objects.iter()) })
        } else {
            state.stats.collected = state.objects.len();
            Kept::Nothing
        };
        drop(stopped); // restart the world
        let restarted = Instant::now();
        state.stats.scan += restarted - t;
        state.stats.pause = restarted - requested;

        // Weak-reference callbacks of the garbage, with the world running, before finalizers
        // and destructors.
        let callbacks = core::mem::take(&mut state.weak_callbacks);
        let callback_panic = crate::weak::run_callbacks(callbacks);
        let panic = match kept {
            Kept::Saved(saved) => {
                self.saved
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(saved);
                None
            }
            Kept::ToFinalize(held) => {
                let (finalized, panic) = finalize::run(m, held);
                state.stats.finalized = finalized;
                panic
            }
            Kept::Nothing => destroy::destroy_garbage(&mut state),
        };
        let panic = callback_panic.or(panic);
        state.stats.destroy = restarted.elapsed();
        (state.stats, panic)
    }

    /// Whether the pass marks through the prefetch buffer, and whether it measures that choice
    /// ([`mark_mode`]): forced on by a threshold of 0, off on a heap at or under the threshold,
    /// otherwise decided by the costs measured so far.
    fn marking_mode(&self, workers: usize) -> (bool, bool) {
        let (threshold, heap) = (self.prefetch_threshold(), self.long_lived());
        if threshold == 0 || heap <= threshold {
            return (threshold == 0, false);
        }
        (self.mark_modes().choose(workers, heap), true)
    }

    fn mark_modes(&self) -> std::sync::MutexGuard<'_, MarkModes> {
        self.mark_modes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the collection lock, waiting detached (so that the collection in progress can
    /// stop this thread). A collection started from a destructor run by a collection on the
    /// same thread does not wait for itself.
    pub(super) fn serialise(&self, m: &mut Mutator) -> Serial {
        if IN_COLLECTION.with(|c| c.replace(true)) {
            return Serial(None);
        }
        // The lock lives in the runtime (from the `sync` shim), so that loom models get a fresh
        // one per execution. A panicking collection poisons it; `sync` takes the guard anyway.
        let serial = &runtime().collecting;
        let guard = match sync::try_lock(serial) {
            Some(g) => g,
            None => m.detached(|| sync::lock(serial)),
        };
        Serial(Some(guard))
    }

    fn record(&self, stats: &CollectionStats) {
        self.long_lived.store(
            stats.objects.saturating_sub(stats.collected),
            Ordering::Relaxed,
        );
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        totals.collections += 1;
        totals.collected += stats.collected as u64;
        totals.uncollectable += stats.uncollectable as u64;
        totals.finalized += stats.finalized as u64;
        totals.pause += stats.pause;
        totals.max_pause = totals.max_pause.max(stats.pause);
        drop(totals);
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(stats.clone());
    }
}
