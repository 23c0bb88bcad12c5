//! Phase: gc_refs = refcount − references from other candidates.
//!
//! Every walked object that is alive, mortal and referenced gets `CANDIDATE | refcount` in its
//! scratch word (lazily: a child may be met before its own turn), then each candidate's value
//! is traced and every candidate it references loses one. Afterwards an object's gc_refs is
//! the number of references to it from outside the candidate set: handles on stacks, in
//! non-GC memory, on other threads. CPython's `update_refs` + `visit_decref`.
//!
//! Not candidates (never traced, ignored as children): objects marked alive from a root,
//! objects with count 0 (their owner is destroying them or they wait in the release queue),
//! immortal and frozen objects, and `DEAD` objects whose value the collector already
//! destroyed.

use crate::header::{IMMORTAL_MIN, flags, scratch};
use crate::sync::Ordering;
use crate::trace::ObjRef;
use crate::trace::sealed::TracerImpl;

use super::{CollectionState, SUBTRACT};

pub(super) fn update_refs(state: &mut CollectionState) {
    let mut tracer = SubtractRefs { parent: None };
    for &obj in &state.objects {
        let header = obj.header();
        // Ordering (all scratch accesses): Relaxed. The scratch word is only touched by the
        // collecting thread while the world is stopped.
        let s = header.gc.load(Ordering::Relaxed);
        // Skip alive objects (marked from a root) and those that cannot be candidates.
        if s & scratch::CANDIDATE == 0 && (s != 0 || !init_candidate(obj)) {
            continue;
        }
        tracer.parent = Some(obj);
        let trace = header.info().trace[SUBTRACT];
        // SAFETY: `obj` is a candidate: allocated (the world is stopped and it was walked),
        // its value initialised and not destroyed (not DEAD); `tracer` is exclusive here.
        unsafe { trace(obj, (&raw mut tracer).cast()) };
    }
}

/// Makes `obj` a candidate if it can be one; returns whether it is.
#[inline]
fn init_candidate(obj: ObjRef) -> bool {
    let header = obj.header();
    // Ordering: Relaxed. DEAD and FROZEN change only during pauses, on the requester.
    if header.flags(Ordering::Relaxed) & (flags::DEAD | flags::FROZEN) != 0 {
        return false;
    }
    // Ordering: Relaxed. Other threads (non-mutators) may still clone and drop handles, but
    // only handles they already own: a count read at any moment of the pause includes every
    // reference from another candidate, whose values are frozen. A count never rises from 0.
    let rc = header.rc.load(Ordering::Relaxed);
    if rc == 0 || rc >= IMMORTAL_MIN {
        return false;
    }
    header.gc.store(scratch::CANDIDATE | rc, Ordering::Relaxed);
    true
}

/// The tracer of this phase: subtracts one from each candidate child.
pub(crate) struct SubtractRefs {
    /// The object being traced, for the over-reporting message.
    parent: Option<ObjRef>,
}

impl TracerImpl for SubtractRefs {
    #[inline]
    fn edge(&mut self, child: ObjRef) {
        let header = child.header();
        let mut s = header.gc.load(Ordering::Relaxed);
        if s & scratch::CANDIDATE == 0 {
            // An alive child (s != 0) is not a candidate: nothing to subtract.
            if s != 0 || !init_candidate(child) {
                return;
            }
            s = header.gc.load(Ordering::Relaxed);
        }
        if s & scratch::REFS == 0 {
            over_reported(self.parent, child);
        }
        header.gc.store(s - 1, Ordering::Relaxed);
    }
}

#[cold]
#[inline(never)]
fn over_reported(parent: Option<ObjRef>, child: ObjRef) -> ! {
    let child_ty = (child.header().info().type_name)();
    let parent_ty = parent.map_or("?", |p| (p.header().info().type_name)());
    panic!(
        "ftgc: a Trace implementation reported more references to an object of type `{child_ty}` \
         than it has (found while tracing a `{parent_ty}`): the Trace impl of `{parent_ty}`, or of \
         another type holding handles to that `{child_ty}`, reports a handle it does not own or \
         reports one twice. The collection was abandoned before anything was freed."
    );
}
