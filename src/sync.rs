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
