//! Phase: everything a candidate with gc_refs > 0 reaches is reachable.
//!
//! A candidate with references from outside the candidate set is alive, and so is everything
//! it references, transitively. Marking uses an explicit stack, never recursion, so a
//! ten-million-long chain needs no deep native stack. CPython's `mark_heap_visitor` +
//! `mark_reachable`.

use crate::header::scratch;
use crate::sync::Ordering;
use crate::trace::ObjRef;
use crate::trace::sealed::TracerImpl;

use super::{CollectionState, MARK};

pub(super) fn mark_reachable(state: &mut CollectionState) {
    let mut tracer = MarkReachable {
        stack: core::mem::take(&mut state.stack),
    };
    for &obj in &state.objects {
        // Ordering (all scratch accesses): Relaxed; collector-only data during the pause.
        let s = obj.header().gc.load(Ordering::Relaxed);
        if s & scratch::CANDIDATE != 0 && s & scratch::REACHABLE == 0 && s & scratch::REFS != 0 {
            obj.header()
                .gc
                .store(s | scratch::REACHABLE, Ordering::Relaxed);
            tracer.stack.push(obj);
            tracer.propagate();
        }
    }
    state.stack = tracer.stack;
}

/// The tracer of this phase: marks candidate children reachable and pushes them.
pub(crate) struct MarkReachable {
    stack: Vec<ObjRef>,
}

impl MarkReachable {
    fn propagate(&mut self) {
        while let Some(obj) = self.stack.pop() {
            let trace = obj.header().info().trace[MARK];
            // SAFETY: only candidates are pushed: allocated, initialised, not DEAD, and the
            // world is stopped; `self` is exclusive here.
            unsafe { trace(obj, (self as *mut Self).cast()) };
        }
    }
}

impl TracerImpl for MarkReachable {
    #[inline]
    fn edge(&mut self, child: ObjRef) {
        let header = child.header();
        let s = header.gc.load(Ordering::Relaxed);
        if s & (scratch::CANDIDATE | scratch::REACHABLE) == scratch::CANDIDATE {
            header.gc.store(s | scratch::REACHABLE, Ordering::Relaxed);
            self.stack.push(child);
        }
    }
}
