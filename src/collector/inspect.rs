//! Introspection with the world stopped (CPython's `gc.get_objects`, `gc.get_referents`,
//! `gc.get_referrers`), and `freeze` / `unfreeze` (CPython's `gc.freeze`).
//!
//! Everything here walks or traces the heap, so it stops the world like a collection (and is
//! serialised with collections), then hands back strong handles ([`GcAny`]) taken while the
//! world was stopped. Only *tracked* objects (GC-heap objects: types whose `NEEDS_TRACE` is set)
//! are seen: leaf objects are not in the walked heap, and handles to them are not reported by
//! tracing, as CPython does not track atomic objects.
//!
//! Frozen objects are neither candidates nor traced by collections, so they cost a collection
//! only their place in the heap walk; a reference from a frozen object counts as an outside
//! one. Typical use of `freeze`: after a runtime has loaded its modules, so that later
//! collections skip them.

use std::sync::atomic::Ordering;

use crate::gc::GcAny;
use crate::header::flags;
use crate::heap;
use crate::mutator::Mutator;
use crate::object::runtime;
use crate::stw::WorldStopped;
use crate::trace::ObjRef;
use crate::trace::sealed::TracerImpl;

use super::{Collector, EDGES};

/// The introspection tracer: collects the reported references.
#[derive(Default)]
pub(crate) struct Edges(Vec<ObjRef>);

impl TracerImpl for Edges {
    #[inline]
    fn edge(&mut self, obj: ObjRef) {
        self.0.push(obj);
    }
}

/// The references `obj` reports.
///
/// # Safety
/// `obj` is live ([`is_live`]: allocated, count above zero, not DEAD), so its value is
/// initialised.
unsafe fn edges_of(_stopped: &WorldStopped<'_>, obj: ObjRef) -> Vec<ObjRef> {
    let mut edges = Edges::default();
    let trace = obj.header().info().trace[EDGES];
    // SAFETY: the value is initialised (contract); the world is stopped (witness), so nobody
    // mutates it meanwhile; `edges` is an exclusive `Edges`, the tracer of this slot.
    unsafe { trace(obj, (&raw mut edges).cast::<()>()) };
    edges.0
}

/// Whether a walked object is live: not destroyed by the collector, not waiting in the release
/// queue (count 0).
fn is_live(obj: ObjRef) -> bool {
    let header = obj.header();
    // Ordering: Relaxed; DEAD changes only during pauses, and callers run in one.
    header.flags(Ordering::Relaxed) & flags::DEAD == 0 && header.strong_count() > 0
}

impl Collector {
    /// Stops the world (serialised with collections) and calls `f` with every live GC-heap
    /// object.
    pub(super) fn with_live_objects<R>(
        &self,
        m: &mut Mutator,
        f: impl FnOnce(&WorldStopped<'_>, Vec<ObjRef>) -> R,
    ) -> R {
        let _serial = self.serialise(m);
        let stopped = runtime().world.stop(m.thread_state());
        let mut objects = Vec::new();
        heap::walk_gc_heap(&stopped, |obj| objects.push(obj));
        objects.retain(|&obj| is_live(obj));
        f(&stopped, objects)
    }

    /// Applies `f` to the header of every live GC-heap object, with the world stopped;
    /// returns how many `f` counted.
    fn count_live(&self, m: &mut Mutator, f: impl Fn(&crate::header::Header) -> bool) -> usize {
        self.with_live_objects(m, |_, objects| {
            objects.iter().filter(|obj| f(obj.header())).count()
        })
    }
}

/// A strong handle to each of `objs`, taken while the world is stopped.
///
/// # Safety
/// Each object is allocated with a count above zero: from the walk filtered by `is_live`,
/// referenced by such an object (which owns a handle to it), or garbage this pause found
/// (candidates have counts above zero).
pub(super) unsafe fn handles(
    _stopped: &WorldStopped<'_>,
    objs: impl IntoIterator<Item = ObjRef>,
) -> Vec<GcAny> {
    // SAFETY: counts above zero (contract); the world is stopped (witness), so no count can
    // reach zero before the increment.
    objs.into_iter()
        .map(|obj| unsafe { GcAny::from_live(obj) })
        .collect()
}

impl Mutator {
    /// Every tracked object (each live object of the GC heap), as strong handles: CPython's
    /// `gc.get_objects()`. Stops the world to walk the heap.
    pub fn objects(&mut self) -> Vec<GcAny> {
        // SAFETY: the walk's live objects.
        super::COLLECTOR.with_live_objects(self, |stopped, objects| unsafe {
            handles(stopped, objects)
        })
    }

    /// The tracked objects `obj` references, in the order its `Trace` impl reports them (a
    /// handle held twice appears twice): CPython's `gc.get_referents()`. Stops the world to
    /// trace it.
    ///
    /// An object the collector already destroyed (a handle a destructor of garbage kept)
    /// references nothing.
    pub fn referents(&mut self, obj: &GcAny) -> Vec<GcAny> {
        let _serial = super::COLLECTOR.serialise(self);
        let stopped = runtime().world.stop(self.thread_state());
        // Its value may be gone: tracing it would read a dropped value.
        if !is_live(obj.obj()) {
            return Vec::new();
        }
        // SAFETY: `obj` is live (checked above); its references are counted by the handles it
        // owns.
        unsafe { handles(&stopped, edges_of(&stopped, obj.obj())) }
    }

    /// The tracked objects that reference any of `targets`: CPython's `gc.get_referrers()`.
    /// Stops the world and traces every object in the heap.
    pub fn referrers(&mut self, targets: &[GcAny]) -> Vec<GcAny> {
        let wanted: std::collections::HashSet<ObjRef> = targets.iter().map(GcAny::obj).collect();
        super::COLLECTOR.with_live_objects(self, |stopped, objects| {
            let found: Vec<ObjRef> = objects
                .into_iter()
                // SAFETY: the walk's live objects.
                .filter(|&obj| {
                    unsafe { edges_of(stopped, obj) }
                        .iter()
                        .any(|e| wanted.contains(e))
                })
                .collect();
            // SAFETY: live objects from the walk.
            unsafe { handles(stopped, found) }
        })
    }

    /// Freezes every object now in the GC heap: later collections neither scan nor collect
    /// them (CPython's `gc.freeze`). Returns how many were frozen.
    pub fn freeze(&mut self) -> usize {
        super::COLLECTOR.count_live(self, |h| {
            // Ordering: Relaxed; the world is stopped and restarting it publishes the flag.
            h.set_flags(flags::FROZEN, Ordering::Relaxed) & flags::FROZEN == 0
        })
    }

    /// Unfreezes every frozen object. Returns how many were unfrozen.
    pub fn unfreeze(&mut self) -> usize {
        super::COLLECTOR.count_live(self, |h| {
            // Ordering: as in `freeze`.
            h.clear_flags(flags::FROZEN, Ordering::Relaxed) & flags::FROZEN != 0
        })
    }

    /// Number of frozen objects (stops the world to count them).
    pub fn freeze_count(&mut self) -> usize {
        super::COLLECTOR.count_live(self, |h| {
            // Ordering: as in `freeze`.
            h.flags(Ordering::Relaxed) & flags::FROZEN != 0
        })
    }
}
