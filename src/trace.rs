//! The [`Trace`] trait: how the collector finds the references an object holds.
//!
//! A GC object reports each [`Gc`](crate::Gc) handle it owns to a [`Tracer`]. The collector
//! uses those reports to tell references *internal* to the heap from references held anywhere
//! else (CPython's "refcount minus internal references"), and to propagate reachability.
//!
//! `Trace` sits at the bottom of the crate: it sees objects only as raw header pointers
//! ([`ObjRef`]), so it depends on nothing above the object header.

use core::ptr::NonNull;

use crate::header::Header;

/// A raw reference to a GC object's header: what a [`Tracer`] receives.
///
/// `Gc<T>` is `repr(transparent)` over this type, so a slice of handles is a slice of `ObjRef`
/// and can be reported in one call (a *span*).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ObjRef(pub(crate) NonNull<Header>);

/// Types whose values may live in the GC heap, and that can report the handles they own.
///
/// Implement it with `#[derive(Trace)]` (the safe route: the derived impl only asks each field
/// to trace itself), or by hand for a container of your own.
///
/// # Safety
///
/// An `unsafe impl Trace` promises, for every value `v` of the type:
///
/// 1. **No over-reporting.** `v.trace(t)` reports each `Gc` handle that `v` owns *at most once*,
///    and reports nothing that `v` does not own. Reporting a handle `v` does not own (or the
///    same handle twice) makes the collector believe in references that do not exist. Where
///    that drives an object's count of outside references below zero the collection panics,
///    naming the types involved, before anything is freed; where it does not, a live object
///    may have its value destroyed by the collector (every later access through a surviving
///    handle panics, memory stays valid).
/// 2. **Stable while the world is stopped.** `trace` must report the same handles every time it
///    is called during one collection: it must not mutate the value, move handles in or out of
///    it, or create or drop handles. It may lock (only with `try_lock`-style calls that cannot
///    block: other threads are stopped and a blocking lock could deadlock). Several collector
///    workers may trace the same value at once, so `trace` must be safe to run concurrently
///    with itself (it reads through `&self`, which for a `Sync` value it is).
/// 3. **No panics expected.** A panic in `trace` aborts the collection cleanly (the world is
///    restarted, nothing is freed) and resumes on the collecting thread.
///
/// Under-reporting (forgetting a handle) is *safe*: the forgotten handle counts as a reference
/// from outside the heap, so its target, and everything it reaches, is kept alive. The only
/// cost is that a cycle through that handle is never collected.
///
/// [`NEEDS_TRACE`](Trace::NEEDS_TRACE) is a performance hint: `false` lets the value live in
/// the leaf heap that the collector never walks. Setting it to `false` for a type that does
/// hold handles only leaks (those handles become outside references).
pub unsafe trait Trace {
    /// `false` if no value of this type can be part of a cycle: it owns no `Gc` handle, or only
    /// handles to values that hold none (`Gc<String>`). Such values are allocated in the leaf
    /// heap and never scanned.
    const NEEDS_TRACE: bool = true;

    /// `false` if no value of this type can own a `Gc` handle at all, even to a leaf value.
    /// `Gc<T>` is scanned only when `T::HOLDS_HANDLES` (its `NEEDS_TRACE` is this). Unlike
    /// `NEEDS_TRACE`, it never looks through a `Gc`, so recursive types do not make it a cycle
    /// of constants. `true` (the default) is always safe; `false` for a type that does hold
    /// handles only leaks, as for `NEEDS_TRACE`.
    const HOLDS_HANDLES: bool = true;

    /// Reports every `Gc` handle this value owns to `tracer`, by calling `trace` on each field
    /// that may hold one.
    fn trace<V: Tracer>(&self, tracer: &mut V);

    /// Reports the handles of every element of `slice`. Containers call this instead of
    /// looping, so that `[Gc<T>]` is reported as one span. Rarely overridden.
    #[doc(hidden)]
    #[inline]
    fn trace_slice<V: Tracer>(slice: &[Self], tracer: &mut V)
    where
        Self: Sized,
    {
        if Self::NEEDS_TRACE {
            for item in slice {
                item.trace(tracer);
            }
        }
    }
}

/// The receiver of reported handles. Implemented only by the collector's own phases (the trait
/// is sealed): user code never calls a tracer directly, it passes it on to fields.
pub trait Tracer: sealed::TracerImpl {}

pub(crate) mod sealed {
    use super::ObjRef;

    /// The collector-side interface of [`Tracer`](super::Tracer).
    pub trait TracerImpl {
        /// One reference from the object being traced to `obj`.
        fn edge(&mut self, obj: ObjRef);

        /// A run of references (the elements of a `[Gc<T>]`), in order.
        #[inline]
        fn span(&mut self, objs: &[ObjRef]) {
            for &obj in objs {
                self.edge(obj);
            }
        }
    }
}

impl<T: sealed::TracerImpl> Tracer for T {}

mod impls;

/// Traces the value of `obj` as a `T` with the tracer behind `tracer`, a `*mut V`. The
/// collector stores one instance per tracer kind in each type's table.
///
/// # Safety
/// `obj` holds an initialised, not destroyed `T`, and `tracer` points to a live `V` that no
/// one else accesses during the call.
pub(crate) unsafe fn trace_erased<T: Trace, V: Tracer>(obj: ObjRef, tracer: *mut ()) {
    // SAFETY: by the contract, the value is an initialised `T` at its aligned address.
    let value = unsafe { &*obj.value_addr(align_of::<T>()).cast::<T>() };
    // SAFETY: by the contract, `tracer` is an exclusive `*mut V`.
    value.trace(unsafe { &mut *tracer.cast::<V>() });
}
