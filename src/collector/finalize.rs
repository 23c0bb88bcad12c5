//! Finalizers (CPython's PEP 442), between passes, with the world running.
//!
//! A pass whose garbage includes objects with a [`Finalize`](crate::Finalize) hook that has not
//! run destroys nothing. With the world still stopped it clears the weak slots of all that
//! garbage (so no `Weak::upgrade` reaches it) and takes a strong handle to each object. With the
//! world running, the collecting thread marks each such object `FINALIZED` and calls its hook,
//! which may read the object and others, allocate, and store handles anywhere (resurrection).
//! Then it lets go of the handles, and the collection runs another pass. That pass destroys
//! what is still garbage and keeps what a finalizer made reachable again. A hook runs at most
//! once per object, so a resurrected object that dies again is destroyed without a second
//! call.
//!
//! CPython re-checks only the unreachable set for resurrection. Here the check is a whole
//! second pass. That is simpler and cannot miss a reference, at the cost of a second heap walk
//! whenever finalizers ran.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use crate::gc::GcAny;
use crate::header::{TypeInfo, flags};
use crate::mutator::Mutator;
use crate::object::destruction_scope;
use crate::stw::WorldStopped;
use crate::trace::ObjRef;

/// `obj`'s finalizer, if it has one that has not run.
fn unfinalized(obj: ObjRef) -> Option<unsafe fn(ObjRef, *mut ())> {
    let header = obj.header();
    // Ordering: Relaxed; FINALIZED is only set by the collecting thread, which holds the
    // collection lock, and this runs under the same lock.
    not_run(header.flags(Ordering::Relaxed), header.info())
}

/// The finalizer of an object of type `info` whose flag bits are `bits`, if it has one that has
/// not run.
pub(super) fn not_run(bits: usize, info: &TypeInfo) -> Option<unsafe fn(ObjRef, *mut ())> {
    if bits & flags::FINALIZED != 0 {
        return None;
    }
    info.finalize
}

/// With the world stopped, for garbage that `scan` prepared: takes `DEAD` back, so that the
/// finalizers can read the objects, and turns the reference `scan` took to each into a
/// handle, so that it survives until the finalizers have run. The weak slots stay cleared.
///
/// # Safety
/// Every object of `garbage` was found garbage and prepared by `scan` in this pause (it holds
/// the reference `scan` took, which the handle takes over), and appears once.
pub(super) unsafe fn hold(
    _stopped: &WorldStopped<'_>,
    garbage: impl Iterator<Item = ObjRef>,
) -> Vec<GcAny> {
    garbage
        .map(|obj| {
            // Ordering: Relaxed; set in this pause, which no mutator has seen, and the
            // restart orders this for every one of them.
            obj.header().clear_flags(flags::DEAD, Ordering::Relaxed);
            // SAFETY: `scan` took one strong reference to `obj` for the collector (the
            // contract); the handle takes it over.
            unsafe { GcAny::from_owned(obj) }
        })
        .collect()
}

/// With the world running: runs each pending finalizer once, then lets go of the handles
/// (destroying the objects only they kept alive). Returns how many finalizers ran and the
/// first panic of a finalizer or destructor; every finalizer runs regardless.
pub(super) fn run(m: &mut Mutator, held: Vec<GcAny>) -> (usize, Option<Box<dyn Any + Send>>) {
    let mut ran = 0;
    let mut first = None;
    for obj in &held {
        let obj = obj.obj();
        let Some(finalize) = unfinalized(obj) else {
            continue;
        };
        // Ordering: Relaxed; only this thread reads it before the next pass, which this thread
        // runs.
        obj.header().set_flags(flags::FINALIZED, Ordering::Relaxed);
        ran += 1;
        let m: *mut Mutator = &mut *m;
        // SAFETY: `obj` is alive and not DEAD (a handle in `held` keeps it so, and only the
        // collector sets DEAD); `finalize` is the erased hook of its own type, and `m` is this
        // thread's mutator, exclusively borrowed for the call.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| unsafe { finalize(obj, m.cast()) })) {
            first.get_or_insert(p);
        }
    }
    let panic = destruction_scope(|| drop(held));
    (ran, first.or(panic))
}
