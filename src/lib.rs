//! # ftgc — a free-threaded, cycle-collecting garbage collector
//!
//! `ftgc` gives multi-threaded Rust programs (language runtimes first) reference-counted,
//! thread-safe handles whose garbage cycles are found and freed by a stop-the-world collector.
//! Its design follows CPython 3.14's free-threaded collector.
//!
//! ```
//! use ftgc::{Gc, Mutator, Trace};
//! use std::sync::Mutex;
//!
//! #[derive(Trace)]
//! struct Node {
//!     name: String,
//!     next: Mutex<Option<Gc<Node>>>,
//! }
//!
//! let mut m = Mutator::new(); // this thread may now touch the heap
//! let a = Gc::new(&mut m, Node { name: "a".into(), next: Mutex::new(None) });
//! let b = Gc::new(&mut m, Node { name: "b".into(), next: Mutex::new(Some(a.clone())) });
//! *a.get(&m).next.lock().unwrap() = Some(b.clone()); // a ⇄ b: a cycle
//! assert_eq!(b.get(&m).name, "b");
//! drop((a, b)); // the cycle is unreachable now, but its counts are not zero
//! let stats = m.collect(); // the collector finds it
//! assert!(stats.collected >= 2);
//! ```
//!
//! ## The model
//!
//! **Handles.** [`Gc<T>`] is a strong, atomically counted handle, `Send + Sync` when `T` is.
//! Dropping the last handle destroys the value at once; only cycles wait for the collector.
//! [`Weak<T>`] does not keep its target alive. Handles may be cloned, moved and dropped on any
//! thread.
//!
//! **Objects.** Each object is one mimalloc block: a 16-byte header (count, collector scratch,
//! type pointer with flag bits) and the value. Objects that may be part of a cycle live in
//! the *GC heap*, which the collector walks to find every object: there are no list links and
//! no table of objects. Values that cannot ([`Trace::NEEDS_TRACE`] is false: no handle, or
//! only handles to values that hold none, such as a `Gc<String>`) live in a *leaf heap* that
//! is never walked.
//!
//! **Mutators and the token.** A thread that reads objects, allocates, or collects registers
//! a [`Mutator`]. Reading takes the token by shared borrow, `gc.get(&m) -> &T`; everything
//! that may park the thread or collect (`Gc::new`, [`Mutator::safepoint`],
//! [`Mutator::detached`], [`Mutator::collect`]) takes it by `&mut`. Hence:
//!
//! > **No thread holds a reference into the heap while the world is stopped.** A reference
//! > into an object is derived from `&Mutator`; stopping the world requires every attached
//! > thread to be inside a `&mut Mutator` call (a safepoint, a detached section, or the
//! > collection itself), which cannot overlap a shared borrow of the same token. Threads
//! > without a mutator can own handles but cannot read through them.
//!
//! This is what makes the collector's view consistent: while the world is stopped the object
//! graph cannot change (edges change only through `&T`), and reference counts change only by
//! threads cloning or dropping handles they already own, which never turns an outside
//! reference into an inside one.
//!
//! **Safepoints.** An attached mutator must poll [`Mutator::safepoint`] regularly (allocation
//! polls too) and run blocking work in [`Mutator::detached`]. A collection stops the world:
//! it parks every attached thread at its next safepoint and holds detached ones out until it
//! restarts. A thread that never polls delays collections; a [`Warning`] names it
//! ([`Collector::set_stop_warning`], [`Collector::set_warning_handler`]).
//!
//! **What may be touched when.**
//!
//! | thread                       | clone/drop handles | read (`get`) | allocate | `Weak::upgrade` |
//! |------------------------------|--------------------|--------------|----------|-----------------|
//! | attached mutator             | yes                | yes          | yes      | yes             |
//! | inside `Mutator::detached`   | yes                | no           | no       | no              |
//! | no mutator                   | yes                | no           | no       | no              |
//!
//! A thread without a mutator that needs to read attaches for the duration of a call with
//! [`attach`].
//!
//! A last handle dropped where blocks may not be freed (a detached or non-mutator thread) hands
//! the object to a queue that attached mutators drain at their next safepoint.
//!
//! **Collection.** With the world stopped the collector walks the GC heap, computes for each
//! object its reference count minus the references from other objects, keeps everything
//! reachable from objects with references from outside, and destroys the rest once the world
//! runs again. See [`Collector`] and `docs/design.md`.
//!
//! **Workers.** The pause's phases (mark-alive, walk, the refcount analysis, marking, scan) run
//! on a private pool of worker threads, one per core by default
//! ([`Collector::set_workers`]; 1 keeps everything on the collecting thread). Workers only run
//! while the world is stopped and are done before it restarts; destructors always run on the
//! thread that collected.
//!
//! **Known roots.** A runtime registers what it knows to be long-lived (its module table, each
//! VM thread's stack kept in a GC object) as a [`Root`]; everything a root reaches is marked
//! alive first and skipped by every later phase of the pause but the heap walk. Roots are an
//! optimisation only: an unregistered reference still keeps its target alive.
//! [`Mutator::freeze`] sets the whole current heap aside from later collections, as CPython's
//! `gc.freeze`.
//!
//! **The gc module.** [`Collector`] and [`Mutator`] offer what CPython's `gc` module does:
//! enable/disable, thresholds, statistics and [callbacks](Collector::add_callback),
//! [`freeze`](Mutator::freeze), a [save-all](Collector::set_debug_saveall) debug mode, and
//! [`objects`](Mutator::objects), [`referents`](Mutator::referents) and
//! [`referrers`](Mutator::referrers) as type-erased handles ([`GcAny`]). Types may opt into a
//! [`Finalize`] hook with PEP 442 semantics (resurrection is allowed and frees nothing), and
//! weak references may carry [callbacks](Gc::downgrade_with_callback). `docs/embedding.md` is
//! the guide for runtime authors.
//!
//! **Tracing.** Types stored in `Gc` implement [`Trace`], usually with `#[derive(Trace)]`.
//! Interior mutability uses [`GcMutex`] (traced with plain reads: no guard can exist while the
//! world is stopped), or `std::sync::Mutex`, `RwLock`, atomics and `OnceLock`, all traced
//! without blocking (std locks with `try_lock`, two atomic operations per object and phase).
//!
//! **Failure outcomes.** A `Trace` impl that over-reports references is caught when it drives
//! a count below zero (a panic naming the types, before anything is freed); one that panics
//! abandons the collection the same way, its panic resuming on the collecting thread. A
//! panicking destructor does not stop a collection or a chain of releases: everything is still
//! freed, then the panic resumes. Reading a value the collector destroyed (through a handle a
//! destructor kept) panics. When memory runs out, an allocation collects and tries once more;
//! then [`Gc::try_new`] returns the value in an [`AllocError`] and [`Gc::new`] calls
//! [`std::alloc::handle_alloc_error`].

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate self as ftgc;

mod cell;
mod collector;
mod gc;
mod header;
mod heap;
mod mutator;
mod object;
mod stw;
mod sync;
mod trace;
mod warning;
mod weak;

pub use cell::{GcMutex, GcMutexGuard};
pub use collector::{
    CallbackId, CollectionPhase, CollectionStats, Collector, DEFAULT_PREFETCH_THRESHOLD,
    DEFAULT_THRESHOLD, MemoryProbe, OsProbe, Reason, SysinfoProbe, Totals, TriggerConfig,
    TriggerMode,
};
pub use ftgc_derive::Trace;
pub use gc::{AllocError, Finalize, Gc, GcAny, Root, Weak};
pub use mutator::Mutator;
pub use trace::{ObjRef, Trace, Tracer};
pub use warning::{Warning, WarningHandler};

/// The process-wide collector.
pub fn collector() -> &'static Collector {
    &collector::COLLECTOR
}

/// Runs `f` with the calling thread registered as a mutator for the duration of the call, as
/// PyO3's `Python::attach` does: the way for a thread that is not a mutator (a pool worker, a
/// callback thread) to read objects it holds handles to.
///
/// ```
/// # use ftgc::Gc;
/// let mut m = ftgc::Mutator::new();
/// let shared = Gc::new(&mut m, String::from("hello"));
/// let h = shared.clone();
/// let len = m.detached(|| {
///     std::thread::spawn(move || ftgc::attach(|t| h.get(t).len())).join().unwrap()
/// });
/// assert_eq!(len, 5);
/// ```
///
/// # Panics
/// If this thread already has a [`Mutator`]: use that one.
pub fn attach<R>(f: impl FnOnce(&mut Mutator) -> R) -> R {
    let mut m = Mutator::try_new().expect(
        "ftgc::attach: this thread already has a Mutator; pass it down instead of attaching again",
    );
    f(&mut m)
}

/// Size of the object header in bytes (the value follows it).
pub const HEADER_SIZE: usize = header::HEADER_SIZE;

/// Internals exposed for the loom models in `loom-tests/` (built with `--cfg loom`). Not a
/// public API.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::collector::{Termination, TerminationBug};
    pub use crate::header::RefCount;
    pub use crate::heap::registry::{take_violations, violation};
    pub use crate::stw::{
        ATTACHED, DETACHED, PARKED, PlantedBug, STOP, SUSPENDED, ThreadState, World, WorldStopped,
    };
    pub use crate::sync::planted::{Bug, plant};
}

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
