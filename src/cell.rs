//! [`GcMutex`]: interior mutability for GC objects that the collector traces without locking.
//!
//! A `std::sync::Mutex` inside a GC object works, but the collector can only look inside it
//! with `try_lock` (two atomic read-modify-writes per object per phase), because std offers no
//! way to peek. `GcMutex` is a mutex whose contents the collector reads directly, which is
//! sound because of the crate's central invariant:
//!
//! > A guard is derived from `&GcMutex`, which is reachable only through a `&T` into a GC
//! > object, which borrows an attached mutator's token; the world cannot be stopped while that
//! > borrow lives. So while the world is stopped, no guard exists (a guard leaked with
//! > `mem::forget` can no longer be used), and nothing writes the contents.
//!
//! Tracers exist only while the world is stopped (they are made by the collector and the
//! `Tracer` trait is sealed), so `trace` never runs beside a guard.
//!
//! Outside the GC heap (say in an `Arc`) a `GcMutex` is just a mutex: the collector never sees
//! it there (`Arc` is not traced).

use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use crate::trace::{Trace, Tracer};

/// A mutual-exclusion lock for the inside of GC objects; the collector traces its contents
/// without locking (see the module docs).
///
/// Poisoning is ignored: a panic while locked leaves the value as the panicking code left it,
/// as with `parking_lot`.
///
/// ```
/// use ftgc::{Gc, GcMutex, Mutator, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     next: GcMutex<Option<Gc<Node>>>,
/// }
///
/// let mut m = Mutator::new();
/// let a = Gc::new(&mut m, Node { next: GcMutex::new(None) });
/// *a.get(&m).next.lock() = Some(a.clone()); // a self-cycle
/// drop(a);
/// assert_eq!(m.collect().collected, 1);
/// ```
pub struct GcMutex<T: ?Sized> {
    lock: Mutex<()>,
    data: UnsafeCell<T>,
}

// SAFETY: as for `std::sync::Mutex`: the value moves with the mutex.
unsafe impl<T: ?Sized + Send> Send for GcMutex<T> {}
// SAFETY: as for `std::sync::Mutex`: access to the value is serialised by `lock`, so sharing
// the mutex only ever hands the value to one thread at a time (`T: Send` suffices). The
// collector's unlocked reads happen only while no guard can exist (module docs).
unsafe impl<T: ?Sized + Send> Sync for GcMutex<T> {}

impl<T> GcMutex<T> {
    /// A new, unlocked mutex.
    pub const fn new(value: T) -> GcMutex<T> {
        GcMutex {
            lock: Mutex::new(()),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> GcMutex<T> {
    /// Locks the mutex, blocking until it is free.
    ///
    /// While the guard lives, this thread cannot reach a safepoint (the guard borrows from a
    /// `&T` that borrows the mutator token), so hold it briefly and never across blocking
    /// waits for other mutators.
    pub fn lock(&self) -> GcMutexGuard<'_, T> {
        GcMutexGuard {
            _guard: self.lock.lock().unwrap_or_else(PoisonError::into_inner),
            mutex: self,
        }
    }

    /// Locks the mutex if it is free.
    pub fn try_lock(&self) -> Option<GcMutexGuard<'_, T>> {
        let guard = match self.lock.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(GcMutexGuard {
            _guard: guard,
            mutex: self,
        })
    }

    /// The value, through exclusive access to the mutex (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for GcMutex<T> {
    fn default() -> Self {
        GcMutex::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for GcMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GcMutex { .. }")
    }
}

/// Exclusive access to the value of a locked [`GcMutex`].
pub struct GcMutexGuard<'a, T: ?Sized> {
    _guard: MutexGuard<'a, ()>,
    mutex: &'a GcMutex<T>,
}

impl<T: ?Sized> Deref for GcMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held for the guard's lifetime, so no other guard accesses the
        // value; the collector reads it only when no guard can exist.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for GcMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

// SAFETY: reports exactly what the value reports. Reading it without the lock is sound because
// `trace` runs only while the world is stopped, when no guard can exist (module docs), so no
// write is in progress and none happens during the pause. Several collector workers may trace
// one object at once (marking races are allowed), so they share `&T` between threads: hence
// `T: Sync`, which the lock itself does not need.
unsafe impl<T: Trace + Sync + ?Sized> Trace for GcMutex<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;

    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        // SAFETY: see the impl's comment.
        unsafe { &*self.data.get() }.trace(tracer);
    }
}
