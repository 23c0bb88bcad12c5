//! `Trace` for the standard library's types.
//!
//! * Types that can never own a handle report nothing and are leaves (`NEEDS_TRACE = false`,
//!   `HOLDS_HANDLES = false`); containers take both constants from their elements.
//! * Containers report their elements, slices of handles as one span.
//! * Locks are traced with non-blocking calls only: with the world stopped, no mutator holds a
//!   guard borrowed from the heap (guards come from `&T`, which cannot outlive a safepoint), so
//!   a lock found held was either leaked with `mem::forget` or is held for a moment by another
//!   collector worker tracing the same object. A leaked lock's contents are skipped, which only
//!   keeps their targets alive (they count as outside references), consistently in every phase
//!   since nobody can unlock it during the pause. Two workers race on one object only in the
//!   marking phases, where the one holding the lock reports the contents, which is enough
//!   (marks are idempotent); `update_refs` traces each object once. Poisoned locks are traced
//!   normally.
//! * `Arc<T>` and `Rc<T>` are deliberately *not* traced: the same `Arc` may be shared by several
//!   objects (or by non-GC code), so its handles would be reported once per owner while being
//!   counted once. Handles inside an `Arc` count as outside references.

use core::marker::PhantomData;
use core::num::*;
use core::sync::atomic::*;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};
use std::time::{Duration, Instant, SystemTime};

use super::{Trace, Tracer};

macro_rules! leaf {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: values of this type own no handle; reporting nothing is exact.
        unsafe impl Trace for $t {
            const NEEDS_TRACE: bool = false;
            const HOLDS_HANDLES: bool = false;
            #[inline]
            fn trace<V: Tracer>(&self, _tracer: &mut V) {}
        }
    )*};
}

leaf!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    str,
    String,
    std::ffi::CString,
    std::ffi::OsString,
    std::path::PathBuf,
    Duration,
    Instant,
    SystemTime,
    AtomicBool,
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize,
    NonZeroU8,
    NonZeroU16,
    NonZeroU32,
    NonZeroU64,
    NonZeroU128,
    NonZeroUsize,
    NonZeroI8,
    NonZeroI16,
    NonZeroI32,
    NonZeroI64,
    NonZeroI128,
    NonZeroIsize,
    std::thread::ThreadId,
);

// SAFETY: a shared reference owns nothing; what it points to is owned (and traced) elsewhere.
unsafe impl<T: ?Sized> Trace for &'static T {
    const NEEDS_TRACE: bool = false;
    const HOLDS_HANDLES: bool = false;
    #[inline]
    fn trace<V: Tracer>(&self, _tracer: &mut V) {}
}

// SAFETY: owns no value of `T`.
unsafe impl<T: ?Sized> Trace for PhantomData<T> {
    const NEEDS_TRACE: bool = false;
    const HOLDS_HANDLES: bool = false;
    #[inline]
    fn trace<V: Tracer>(&self, _tracer: &mut V) {}
}

// SAFETY: handles inside an `Arc` are never reported (see the module docs); under-reporting is
// safe.
unsafe impl<T: ?Sized> Trace for Arc<T> {
    const NEEDS_TRACE: bool = false;
    const HOLDS_HANDLES: bool = false;
    #[inline]
    fn trace<V: Tracer>(&self, _tracer: &mut V) {}
}

// SAFETY: reports the boxed value's handles, exactly once (the box owns it).
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        (**self).trace(tracer);
    }
}

// SAFETY: reports each element once, as a span where possible.
unsafe impl<T: Trace> Trace for [T] {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        T::trace_slice(self, tracer);
    }
}

// SAFETY: as for slices.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        T::trace_slice(self, tracer);
    }
}

// SAFETY: as for slices: the vector owns its elements.
unsafe impl<T: Trace> Trace for Vec<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        T::trace_slice(self, tracer);
    }
}

// SAFETY: the deque owns its elements, which are exactly its two slices.
unsafe impl<T: Trace> Trace for VecDeque<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        let (a, b) = self.as_slices();
        T::trace_slice(a, tracer);
        T::trace_slice(b, tracer);
    }
}

// SAFETY: the option owns its value, if any.
unsafe impl<T: Trace> Trace for Option<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        if let Some(v) = self {
            v.trace(tracer);
        }
    }
}

// SAFETY: the result owns whichever value it holds.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE || E::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES || E::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        match self {
            Ok(v) => v.trace(tracer),
            Err(e) => e.trace(tracer),
        }
    }
}

macro_rules! map {
    ($($name:ident < K, W $(, $s:ident)? >;)*) => {$(
        // SAFETY: the map owns its keys and values; iteration yields each entry once.
        unsafe impl<K: Trace, W: Trace $(, $s)?> Trace for $name<K, W $(, $s)?> {
            const NEEDS_TRACE: bool = K::NEEDS_TRACE || W::NEEDS_TRACE;
            const HOLDS_HANDLES: bool = K::HOLDS_HANDLES || W::HOLDS_HANDLES;
            #[inline]
            fn trace<V: Tracer>(&self, tracer: &mut V) {
                if Self::NEEDS_TRACE {
                    for (k, w) in self {
                        k.trace(tracer);
                        w.trace(tracer);
                    }
                }
            }
        }
    )*};
}

map! {
    HashMap<K, W, S>;
    BTreeMap<K, W>;
}

macro_rules! collection {
    ($($name:ident < T $(, $s:ident)? >;)*) => {$(
        // SAFETY: the collection owns its elements; iteration yields each once.
        unsafe impl<T: Trace $(, $s)?> Trace for $name<T $(, $s)?> {
            const NEEDS_TRACE: bool = T::NEEDS_TRACE;
            const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
            #[inline]
            fn trace<V: Tracer>(&self, tracer: &mut V) {
                if Self::NEEDS_TRACE {
                    for item in self {
                        item.trace(tracer);
                    }
                }
            }
        }
    )*};
}

collection! {
    HashSet<T, S>;
    BTreeSet<T>;
    LinkedList<T>;
    BinaryHeap<T>;
}

macro_rules! tuple {
    ($(($($t:ident $i:tt),+))*) => {$(
        // SAFETY: the tuple owns each field; each is traced once.
        unsafe impl<$($t: Trace),+> Trace for ($($t,)+) {
            const NEEDS_TRACE: bool = false $(|| $t::NEEDS_TRACE)+;
            const HOLDS_HANDLES: bool = false $(|| $t::HOLDS_HANDLES)+;
            #[inline]
            fn trace<V: Tracer>(&self, tracer: &mut V) {
                $(self.$i.trace(tracer);)+
            }
        }
    )*};
}

tuple! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}

// SAFETY: see the module docs: contents are traced only when the lock can be taken without
// blocking; skipping a leaked-held lock's contents under-reports, which is safe and consistent
// through the pause; a lock held by another worker tracing the same object is reported by it.
unsafe impl<T: Trace + ?Sized> Trace for Mutex<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        match self.try_lock() {
            Ok(guard) => guard.trace(tracer),
            Err(TryLockError::Poisoned(p)) => p.into_inner().trace(tracer),
            Err(TryLockError::WouldBlock) => {}
        }
    }
}

// SAFETY: as for `Mutex`; a leaked read guard still lets `try_read` succeed.
unsafe impl<T: Trace + ?Sized> Trace for RwLock<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        match self.try_read() {
            Ok(guard) => guard.trace(tracer),
            Err(TryLockError::Poisoned(p)) => p.into_inner().trace(tracer),
            Err(TryLockError::WouldBlock) => {}
        }
    }
}

// SAFETY: the cell owns its value once initialised. No initialisation can be running while the
// world is stopped (it would hold a `&T` borrowed from a mutator).
unsafe impl<T: Trace> Trace for OnceLock<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    #[inline]
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        if let Some(v) = self.get() {
            v.trace(tracer);
        }
    }
}
