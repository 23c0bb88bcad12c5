//! The synchronisation shim: `std` types normally, `loom`'s under `--cfg loom`.
//!
//! Every concurrency protocol of the crate (stop-the-world, the deferred-release queue, weak
//! slots) takes its atomics and locks from here, so that `loom-tests/` model-checks the real
//! code rather than a copy of it. Types that loom does not model (`OnceLock` for globals) are
//! not re-exported here on purpose.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, TryLockError,
    atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering, fence},
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc, Condvar, Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering, fence},
};
#[cfg(loom)]
pub(crate) use std::sync::TryLockError;

/// Locks `m`, ignoring poisoning: the crate's locks guard plain data whose invariants hold
/// between statements, so a panic elsewhere never leaves them half-updated.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Takes `m` if it is free, ignoring poisoning (see [`lock`]). The guard inside a poisoned
/// error is taken, never left alive in a temporary while the caller goes on to block on `m`.
#[inline]
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Waits on `cv`, ignoring poisoning (see [`lock`]).
#[inline]
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(guard) {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// One step of a spin-wait: a CPU pause hint at first, giving the core away after a while.
/// Under loom, a yield, so that the model checker runs the other threads.
#[inline]
pub(crate) fn spin(step: &mut u32) {
    #[cfg(not(loom))]
    {
        if *step < 64 {
            core::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        *step = step.saturating_add(1);
    }
    #[cfg(loom)]
    {
        *step = step.saturating_add(1);
        loom::thread::yield_now();
    }
}

/// Bugs planted on purpose in the object layer, in loom builds only, so that the loom suite
/// shows its models catch them (the stop-the-world bugs live in [`crate::stw::PlantedBug`]).
///
/// The switch is an OS-thread-local: loom runs every thread of a model on the test's own OS
/// thread, so a model sees the bug its test planted and the tests running beside it do not.
#[cfg(loom)]
pub mod planted {
    use core::cell::Cell;

    /// A planted bug of the object layer.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Bug {
        /// The real code.
        None,
        /// `Header::inc_ref` checks for saturation with a load before a plain add instead of
        /// looking at the add's result: two racing increments can both pass the boundary
        /// unpinned.
        RacySaturation,
        /// `Weak::upgrade` increments the count without checking for 0: it can resurrect an
        /// object whose destruction is already owned by another thread.
        RacyUpgrade,
        /// The last handle of a GC-heap object destroys it on any thread, instead of queueing
        /// it when the thread is not an attached mutator.
        FreeOffMutator,
    }

    std::thread_local! {
        static BUG: Cell<Bug> = const { Cell::new(Bug::None) };
    }

    /// Plants `bug` for models run from this OS thread (`Bug::None` removes it).
    pub fn plant(bug: Bug) {
        BUG.with(|b| b.set(bug));
    }

    /// Whether `bug` is planted.
    pub(crate) fn is(bug: Bug) -> bool {
        BUG.with(|b| b.get() == bug)
    }
}
