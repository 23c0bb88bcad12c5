//! Object lifecycle: the shared runtime state, releasing the last handle, and destruction.
//!
//! # Who destroys an object
//!
//! The thread that takes an object's count to zero owns its destruction. It destroys the
//! object at once if it may free blocks of that object's heap now:
//!
//! * leaf objects (never walked): any thread, any time;
//! * GC-heap objects: only an **attached mutator**, because a free on a detached or unregistered
//!   thread could race a heap walk. Such threads hand the object to the *release queue*
//!   ([`defer`]); attached mutators drain it at their next safepoint (the breaker bit
//!   [`RELEASES`] tells them), and every collection drains it first.
//!
//! A queued object keeps its value intact and its count at 0; the collector treats count-0
//! objects as non-candidates (never traced, never freed by it), so queued objects are left to
//! the queue.
//!
//! # Iterative destruction (CPython's trashcan)
//!
//! Dropping a value drops its handles, which can destroy more objects. A thread destroying an
//! object runs a *destruction scope*: objects that die inside it are pushed on the thread's
//! pending list and destroyed one after another by the outermost scope, so dropping a chain of
//! ten million objects uses a constant amount of stack.
//!
//! # Panics in destructors
//!
//! A panicking `Drop` does not stop the scope: the block is still freed, every remaining
//! pending object is still destroyed, and the first panic is resumed at the end.

use core::cell::{Cell, RefCell};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
#[cfg(not(loom))]
use std::sync::OnceLock;
use std::sync::atomic::AtomicIsize;

use crate::header::flags;
use crate::heap;
use crate::stw::World;
use crate::sync::{self, Mutex, Ordering};
use crate::trace::ObjRef;
use crate::weak::WeakTable;

/// The root slot of a leaf object: not registered (see [`Runtime::add_root`]).
pub(crate) const NO_ROOT_SLOT: usize = usize::MAX;

/// Breaker bit: the release queue is not empty.
pub(crate) const RELEASES: u32 = 1 << 1;

/// Per-thread allocation counts are folded into the global count in batches of this size.
pub(crate) const COUNT_BATCH: i32 = 512;

/// State shared by every thread.
pub(crate) struct Runtime {
    /// Mutator registry and stop-the-world protocol.
    pub(crate) world: World,
    /// Weak slots of weakly referenced objects.
    pub(crate) weak: WeakTable,
    /// GC-heap objects whose last handle died on a thread that may not free them.
    releases: Mutex<Vec<ObjRef>>,
    /// Net new GC-heap objects since the last collection (CPython's `young.count`), from
    /// per-thread batches; never below zero.
    pub(crate) young: AtomicIsize,
    /// Bytes of GC-heap blocks allocated minus freed since the process started (exact up to
    /// the per-thread batches not yet folded in).
    pub(crate) heap_bytes: AtomicIsize,
    /// Objects registered as known roots (`Root<T>`); a free slot is `None`.
    roots: Mutex<RootSlots>,
    /// Serialises whole collections, destruction included, so that when `collect` returns,
    /// every object that was garbage when it was called has been destroyed.
    pub(crate) collecting: Mutex<()>,
}

#[derive(Default)]
struct RootSlots {
    slots: Vec<Option<ObjRef>>,
    free: Vec<usize>,
}

#[cfg(not(loom))]
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

// Under loom, a fresh runtime for every execution of a model.
#[cfg(loom)]
loom::lazy_static! {
    static ref RUNTIME: Runtime = Runtime::new();
}

/// The process-wide runtime.
#[inline]
pub(crate) fn runtime() -> &'static Runtime {
    #[cfg(not(loom))]
    return RUNTIME.get_or_init(Runtime::new);
    #[cfg(loom)]
    return &RUNTIME;
}

impl Runtime {
    fn new() -> Runtime {
        Runtime {
            world: World::new(),
            weak: WeakTable::new(),
            releases: Mutex::new(Vec::new()),
            young: AtomicIsize::new(0),
            heap_bytes: AtomicIsize::new(0),
            roots: Mutex::new(RootSlots::default()),
            collecting: Mutex::new(()),
        }
    }

    /// Registers `obj` as a known root; returns its slot.
    pub(crate) fn add_root(&self, obj: ObjRef) -> usize {
        // A leaf object is never marked, and may be freed on any thread the moment its last
        // handle goes: the collector must not hold its address.
        if obj.header().info().leaf {
            return NO_ROOT_SLOT;
        }
        let mut r = sync::lock(&self.roots);
        match r.free.pop() {
            Some(i) => {
                r.slots[i] = Some(obj);
                i
            }
            None => {
                r.slots.push(Some(obj));
                r.slots.len() - 1
            }
        }
    }

    /// Unregisters the root in `slot`.
    pub(crate) fn remove_root(&self, slot: usize) {
        if slot == NO_ROOT_SLOT {
            return;
        }
        let mut r = sync::lock(&self.roots);
        r.slots[slot] = None;
        r.free.push(slot);
    }

    /// The registered roots (read by the collector while the world is stopped). Their blocks
    /// stay allocated through the pause even if a `Root` is dropped meanwhile: no mutator
    /// runs, and a non-mutator dropping the last handle of a GC-heap object only queues it
    /// (leaf objects are never registered).
    pub(crate) fn roots_snapshot(&self) -> Vec<ObjRef> {
        sync::lock(&self.roots)
            .slots
            .iter()
            .flatten()
            .copied()
            .collect()
    }
}

struct ThreadFlags {
    /// This thread has a `Mutator`.
    registered: Cell<bool>,
    /// This thread is a registered mutator in the ATTACHED state.
    attached: Cell<bool>,
    /// Allocations minus frees of GC-heap objects not yet folded into `Runtime::young`.
    count_delta: Cell<i32>,
    /// Bytes of those allocations minus frees, not yet folded into `Runtime::heap_bytes`.
    bytes_delta: Cell<isize>,
}

struct Trashcan {
    active: Cell<bool>,
    pending: RefCell<Vec<ObjRef>>,
}

impl ThreadFlags {
    const fn new() -> ThreadFlags {
        ThreadFlags {
            registered: Cell::new(false),
            attached: Cell::new(false),
            count_delta: Cell::new(0),
            bytes_delta: Cell::new(0),
        }
    }
}

impl Trashcan {
    const fn new() -> Trashcan {
        Trashcan {
            active: Cell::new(false),
            pending: RefCell::new(Vec::new()),
        }
    }
}

#[cfg(not(loom))]
thread_local! {
    // No destructor: readable at any point of thread teardown.
    static FLAGS: ThreadFlags = const { ThreadFlags::new() };
    static TRASHCAN: Trashcan = const { Trashcan::new() };
}

// Under loom, per model thread (loom runs them all on one OS thread).
#[cfg(loom)]
loom::thread_local! {
    static FLAGS: ThreadFlags = ThreadFlags::new();
    static TRASHCAN: Trashcan = Trashcan::new();
}

/// Records whether this thread is an attached mutator (called by `Mutator` on every
/// transition).
#[inline]
pub(crate) fn set_attached(attached: bool) {
    FLAGS.with(|f| f.attached.set(attached));
}

/// Records whether this thread has a `Mutator`.
pub(crate) fn set_registered(registered: bool) {
    FLAGS.with(|f| f.registered.set(registered));
}

/// Whether this thread has a `Mutator`.
pub(crate) fn is_registered() -> bool {
    FLAGS.try_with(|f| f.registered.get()).unwrap_or(false)
}

/// Whether this thread is an attached mutator.
#[inline]
pub(crate) fn is_attached() -> bool {
    FLAGS.try_with(|f| f.attached.get()).unwrap_or(false)
}

/// Counts one GC-heap allocation (+1) or free (-1) of a `bytes`-byte block on this thread.
/// Returns `true` when a batch was folded into the global counts (the caller may then check
/// the trigger).
#[inline]
pub(crate) fn count(delta: i32, bytes: isize) -> bool {
    let folded = FLAGS.try_with(|f| {
        let d = f.count_delta.get() + delta;
        let b = f.bytes_delta.get() + bytes;
        if d.abs() >= COUNT_BATCH {
            f.count_delta.set(0);
            f.bytes_delta.set(0);
            Some((d, b))
        } else {
            f.count_delta.set(d);
            f.bytes_delta.set(b);
            None
        }
    });
    match folded {
        Ok(Some((d, b))) => {
            fold_count(d as isize, b);
            true
        }
        _ => false,
    }
}

/// Folds this thread's pending counts into the global ones (at unregistration, or when the
/// counts are read).
pub(crate) fn flush_count() {
    if let Ok((d, b)) = FLAGS.try_with(|f| (f.count_delta.replace(0), f.bytes_delta.replace(0))) {
        fold_count(d as isize, b);
    }
}

/// Counts `d` GC-heap allocations (positive) or frees (negative) of `bytes` in all, straight
/// into the global counts (the collector's bulk frees, and this thread's folded batches).
pub(crate) fn fold_count(d: isize, bytes: isize) {
    let rt = runtime();
    if bytes != 0 {
        // Ordering: Relaxed; a statistic for the trigger.
        rt.heap_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    if d == 0 {
        return;
    }
    // Ordering: Relaxed; a heuristic counter. Clamped at zero: frees of objects that were
    // allocated before the last collection must not bank credit against the next one
    // (CPython gh-142048).
    let _ = rt
        .young
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
            Some((c + d).max(0))
        });
}

/// Drops one strong reference held by the caller, destroying or queueing the object if it was
/// the last.
///
/// # Safety
/// The caller owns one strong reference to `obj` and gives it up.
#[inline]
pub(crate) unsafe fn release(obj: ObjRef) {
    if obj.header().dec_ref() {
        // SAFETY: the count reached zero on this thread: we own the object.
        unsafe { release_last(obj) }
    }
}

#[cold]
unsafe fn release_last(obj: ObjRef) {
    #[cfg(loom)]
    let is_attached =
        || is_attached() || crate::sync::planted::is(crate::sync::planted::Bug::FreeOffMutator);
    if obj.header().info().leaf || is_attached() {
        // SAFETY: we own the object (count 0); leaf blocks may be freed on any thread, and
        // GC-heap blocks on an attached mutator, which no walk can run beside.
        unsafe { destroy(obj) }
    } else {
        defer(obj);
    }
}

/// Hands a count-0 GC-heap object to the release queue.
fn defer(obj: ObjRef) {
    let rt = runtime();
    let mut q = sync::lock(&rt.releases);
    q.push(obj);
    // Raised under the queue lock, cleared under it by `drain_releases`: the bit is set
    // whenever the queue is non-empty.
    rt.world.raise(RELEASES);
}

/// Destroys every queued object. Must run on an attached mutator.
pub(crate) fn drain_releases() {
    debug_assert!(is_attached());
    let rt = runtime();
    let queued = {
        let mut q = sync::lock(&rt.releases);
        rt.world.clear(RELEASES);
        core::mem::take(&mut *q)
    };
    if queued.is_empty() {
        return;
    }
    let panic = destruction_scope(|| {
        for obj in queued {
            // SAFETY: queued objects have count 0 and are owned by the queue; we are an
            // attached mutator.
            unsafe { destroy(obj) }
        }
    });
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// Destroys `obj` (clears its weak slot, drops its value unless the collector already did,
/// frees its block), or, inside a destruction scope on this thread, queues it on the scope.
///
/// # Safety
/// The caller owns the object's destruction: its count is 0, nobody else will touch it, and the
/// block may be freed on this thread (leaf object, or attached mutator).
pub(crate) unsafe fn destroy(obj: ObjRef) {
    let queued = TRASHCAN.try_with(|t| {
        if t.active.get() {
            t.pending.borrow_mut().push(obj);
            true
        } else {
            false
        }
    });
    match queued {
        Ok(true) => {}
        Ok(false) => {
            // SAFETY: forwarded contract.
            if let Some(p) = destruction_scope(|| unsafe { destroy_one(obj) }) {
                resume_unwind(p);
            }
        }
        // Thread-local storage is being torn down: no scope; recursion depth is bounded by
        // what this exiting thread still owns.
        // SAFETY: forwarded contract.
        Err(_) => unsafe { destroy_one(obj) },
    }
}

/// Runs `f` as a destruction scope on this thread: objects destroyed inside it are destroyed
/// after it, one at a time, until none is left. Returns the first panic (from `f` or from a
/// destructor); every object is destroyed regardless. Nested scopes defer to the outer one.
pub(crate) fn destruction_scope(f: impl FnOnce()) -> Option<Box<dyn Any + Send>> {
    let outer = TRASHCAN
        .try_with(|t| t.active.replace(true))
        .unwrap_or(true);
    let mut first = catch_unwind(AssertUnwindSafe(f)).err();
    if outer {
        return first;
    }
    loop {
        let next = TRASHCAN.with(|t| t.pending.borrow_mut().pop());
        let Some(obj) = next else { break };
        // SAFETY: only `destroy` pushes on the pending list, under its own contract.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| unsafe { destroy_one(obj) })) {
            first.get_or_insert(p);
        }
    }
    TRASHCAN.with(|t| t.active.set(false));
    first
}

/// Frees the block of a garbage object whose collector reference was the last one: its value
/// is already dropped (`DEAD`) and its weak slot already cleared, so only the block is left.
/// The caller counts the frees (in bulk).
///
/// # Safety
/// `obj` is `DEAD`, no handle but the collector's own is left (its count just reached zero on
/// this thread, or is 1 and that reference is the collector's: see
/// `Header::dec_ref_unless_last`), this thread is an attached mutator, and its weak slot was
/// cleared by the collector.
pub(crate) unsafe fn free_dead(obj: ObjRef) {
    debug_assert!(obj.header().flags(Ordering::Relaxed) & flags::DEAD != 0);
    debug_assert!(is_attached());
    // The collector cleared the weak slot and `Gc::downgrade` makes none for a DEAD object, so
    // this finds nothing; it keeps the rule "no slot outlives its block" local.
    // SAFETY: `obj` is DEAD and this thread holds its last reference (the contract), a case
    // of `clear`'s contract.
    let callbacks = unsafe { runtime().weak.clear(obj) };
    debug_assert!(callbacks.is_empty());
    // SAFETY: by the contract, nothing refers to the block any more and we may free it here.
    unsafe { heap::free(obj) };
}

/// Destroys one object now.
///
/// # Safety
/// As for [`destroy`].
unsafe fn destroy_one(obj: ObjRef) {
    /// Frees the block even when the value's destructor panics.
    struct FreeBlock(ObjRef, &'static crate::header::TypeInfo);
    impl Drop for FreeBlock {
        fn drop(&mut self) {
            // SAFETY: `destroy_one`'s contract: the block is ours and may be freed here.
            unsafe { heap::free(self.0) };
            if !self.1.leaf {
                count(-1, -(self.1.block_size as isize));
            }
        }
    }

    #[cfg(loom)]
    if !heap::registry::contains(obj.as_ptr() as usize) {
        heap::registry::violation(format!(
            "ftgc (loom): object {:p} destroyed twice",
            obj.as_ptr()
        ));
        return;
    }
    let header = obj.header();
    let info = header.info();
    // The contract of `heap::free`, checked where it is cheap to: in debug builds and loom
    // models (which record it and carry on, see `heap::registry`).
    const OFF_MUTATOR: &str =
        "ftgc: a GC-heap object destroyed on a thread that is not an attached mutator";
    #[cfg(loom)]
    if !(info.leaf || is_attached()) {
        heap::registry::violation(OFF_MUTATOR.to_owned());
    }
    debug_assert!(info.leaf || is_attached(), "{OFF_MUTATOR}");
    // SAFETY: `obj` is DEAD and this thread holds its last reference (the contract), a case
    // of `clear`'s contract.
    let callbacks = unsafe { runtime().weak.clear(obj) };
    // Ordering: Acquire, paired with the collector's setting of DEAD during its pause (the
    // restart's Release/Acquire also orders it).
    let drop_value = header.flags(Ordering::Acquire) & flags::DEAD == 0;
    if callbacks.is_empty() {
        // The common case, kept free of `catch_unwind`: a panic unwinds past `_free`, which
        // still frees the block.
        let _free = FreeBlock(obj, info);
        if drop_value {
            // SAFETY: the value is initialised (not DEAD) and nobody else can reach it.
            unsafe { (info.drop_value)(obj) };
        }
        return;
    }
    let dropped = {
        let _free = FreeBlock(obj, info);
        if drop_value {
            // SAFETY: as above.
            catch_unwind(AssertUnwindSafe(|| unsafe { (info.drop_value)(obj) }))
        } else {
            Ok(())
        }
    };
    // Weak-reference callbacks run once the object is gone, even if its destructor panicked.
    let callback_panic = crate::weak::run_callbacks(callbacks);
    if let Some(p) = dropped.err().or(callback_panic) {
        resume_unwind(p);
    }
}
