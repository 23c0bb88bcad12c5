//! Mutator threads: registration, safepoints, detaching, and the allocation-time trigger.

use core::marker::PhantomData;

use crate::collector::{COLLECTOR, CollectionStats, Decision, Reason};
use crate::object::{self, RELEASES, runtime};
use crate::stw::{STOP, ThreadState};
use crate::sync::Arc;

/// The calling thread's registration as a mutator, and its token for touching the heap.
///
/// A thread must hold a `Mutator` to read objects ([`Gc::get`](crate::Gc::get)), allocate
/// ([`Gc::new`](crate::Gc::new)) or collect. At most one exists per thread, and it cannot
/// leave its thread (`!Send`). While the thread holds it, it is **attached**: collections wait
/// for it to reach a safepoint, so it must call [`safepoint`](Mutator::safepoint) regularly
/// (allocation is one) and wrap blocking work in [`detached`](Mutator::detached).
///
/// Every operation that can park the thread or run a collection takes `&mut Mutator`, while
/// reading an object borrows `&Mutator`: the borrow checker thus guarantees that no reference
/// into the heap is alive on this thread while the world may be stopped.
///
/// Dropping the `Mutator` unregisters the thread; handles it still owns stay valid and may
/// be dropped later from any thread.
pub struct Mutator {
    ts: Arc<ThreadState>,
    _not_send: PhantomData<*const ()>,
}

impl Mutator {
    /// Registers the calling thread as a mutator.
    ///
    /// # Panics
    /// If this thread already has a `Mutator`.
    pub fn new() -> Mutator {
        Mutator::try_new().expect(
            "ftgc: this thread already has a Mutator (one per thread; pass `&mut Mutator` down \
             instead of registering again)",
        )
    }

    /// Registers the calling thread as a mutator, or returns `None` if it already is one.
    pub fn try_new() -> Option<Mutator> {
        if object::is_registered() {
            return None;
        }
        let name = match std::thread::current().name() {
            Some(n) => format!("{n} ({:?})", std::thread::current().id()),
            None => format!("{:?}", std::thread::current().id()),
        };
        let ts = runtime().world.register(name);
        object::set_registered(true);
        object::set_attached(true);
        Some(Mutator {
            ts,
            _not_send: PhantomData,
        })
    }

    /// A safepoint: if another thread asked to stop the world, parks until it restarts; also
    /// destroys objects whose last handle died on threads that could not free them.
    #[inline]
    pub fn safepoint(&mut self) {
        if runtime().world.breaker() != 0 {
            self.safepoint_slow();
        }
    }

    #[cold]
    fn safepoint_slow(&mut self) {
        let world = &runtime().world;
        let bits = world.breaker();
        if bits & STOP != 0 {
            object::set_attached(false);
            world.park(&self.ts);
            object::set_attached(true);
        }
        if bits & RELEASES != 0 {
            object::drain_releases();
        }
    }

    /// Runs `f` detached: collections proceed without waiting for this thread, which must not
    /// (and, by the borrow of `self`, cannot) read GC objects meanwhile. Use it around
    /// blocking calls: I/O, locks, joins, sleeps. On return the thread re-attaches, waiting for
    /// a collection in progress to finish.
    ///
    /// Handles may be cloned and dropped inside `f`.
    pub fn detached<R>(&mut self, f: impl FnOnce() -> R) -> R {
        struct Reattach<'a>(&'a ThreadState);
        impl Drop for Reattach<'_> {
            fn drop(&mut self) {
                runtime().world.attach(self.0);
                object::set_attached(true);
            }
        }
        object::set_attached(false);
        runtime().world.detach(&self.ts);
        let _reattach = Reattach(&self.ts);
        f()
    }

    /// Runs a full collection on this thread and returns what it did.
    ///
    /// Collections are serialised, destruction included: when this returns, every object that
    /// was garbage when it was called has been destroyed (by this collection or one that ran
    /// just before), with two exceptions: in save-all mode
    /// ([`Collector::set_debug_saveall`](crate::Collector::set_debug_saveall)) garbage is kept
    /// intact instead, and garbage with a [`Finalize`](crate::Finalize) hook is finalized
    /// first, so what a finalizer made reachable again survives (as does garbage still waiting
    /// for a finalizer after the collection's last pass; the next collection finds it).
    /// Waiting for another collection happens detached.
    ///
    /// A destructor of garbage must not wait for another thread that may itself call
    /// `collect`: that thread waits for this collection to finish.
    ///
    /// # Panics
    /// Resumes the first panic of a garbage destructor, a finalizer, a weak-reference callback
    /// or a collection callback, after the collection has finished (everything else was
    /// still destroyed or called); or the panic of a `Trace` impl, at once (the collection is
    /// then abandoned and nothing is freed).
    pub fn collect(&mut self) -> CollectionStats {
        COLLECTOR.run(self, Reason::Manual)
    }

    /// This thread's registry entry.
    pub(crate) fn thread_state(&self) -> &ThreadState {
        &self.ts
    }

    /// The allocation-time poll: a safepoint, plus the count trigger.
    #[inline]
    pub(crate) fn before_alloc(&mut self, traced: bool, bytes: usize) {
        self.safepoint();
        if traced && object::count(1, bytes as isize) {
            if let Decision::Collect(reason) = COLLECTOR.check_trigger() {
                self.collect_automatically(reason);
            }
        }
    }

    /// The allocation failed: collect (garbage cycles may hold the memory) and try once more.
    /// Runs even when automatic collection is disabled.
    #[cold]
    pub(crate) fn alloc_after_collecting(
        &mut self,
        size: usize,
        leaf: bool,
    ) -> Option<core::ptr::NonNull<u8>> {
        COLLECTOR.run(self, Reason::OutOfMemory);
        crate::heap::alloc(size, leaf)
    }

    /// A panic in an automatic collection (a destructor of garbage, a bad `Trace` impl)
    /// surfaces at the allocation that triggered it.
    #[cold]
    fn collect_automatically(&mut self, reason: Reason) {
        COLLECTOR.run(self, reason);
    }
}

impl Default for Mutator {
    fn default() -> Self {
        Mutator::new()
    }
}

impl Drop for Mutator {
    fn drop(&mut self) {
        // While unwinding, a destructor's panic would abort: leave the queue to other mutators.
        if !std::thread::panicking() {
            object::drain_releases();
        }
        // Still attached: no walk can run while the thread gives up its GC-heap pages.
        crate::heap::release_thread_pages();
        object::flush_count();
        object::set_attached(false);
        object::set_registered(false);
        runtime().world.unregister(&self.ts);
    }
}

impl core::fmt::Debug for Mutator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mutator")
            .field("thread", &self.ts.name())
            .finish()
    }
}
