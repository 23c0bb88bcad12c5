//! `freeze` / `unfreeze` (CPython's `gc.freeze`): set the current heap aside from every
//! collection. Frozen objects are neither candidates nor traced, so they cost a collection only
//! their place in the heap walk; a reference from a frozen object counts as an outside one.
//! Typical use: after a runtime has loaded its modules, so that later collections skip them.

use std::sync::atomic::Ordering;

use crate::header::flags;
use crate::heap;
use crate::object::runtime;
use crate::stw::ThreadState;

use super::Collector;

impl Collector {
    /// Stops the world and applies `f` to the flags of every live GC-heap object; returns how
    /// many `f` counted.
    pub(super) fn for_each_live(
        &self,
        me: &ThreadState,
        mut f: impl FnMut(&crate::header::Header) -> bool,
    ) -> usize {
        let _serial = self.serialise(me);
        let stopped = runtime().world.stop(me);
        let mut objects = Vec::new();
        heap::walk_gc_heap(&stopped, |obj| objects.push(obj));
        let mut n = 0;
        for obj in objects {
            let header = obj.header();
            // Ordering: Relaxed; DEAD changes only during pauses, and this is one.
            if header.flags(Ordering::Relaxed) & flags::DEAD == 0 && header.strong_count() > 0 {
                n += usize::from(f(header));
            }
        }
        n
    }
}

impl crate::Mutator {
    /// Freezes every object now in the GC heap: later collections neither scan nor collect
    /// them (CPython's `gc.freeze`). Returns how many were frozen.
    pub fn freeze(&mut self) -> usize {
        let me = self.thread_state();
        super::COLLECTOR.for_each_live(me, |h| {
            // Ordering: Relaxed; the world is stopped and restarting it publishes the flag.
            h.set_flags(flags::FROZEN, Ordering::Relaxed) & flags::FROZEN == 0
        })
    }

    /// Unfreezes every frozen object. Returns how many were unfrozen.
    pub fn unfreeze(&mut self) -> usize {
        let me = self.thread_state();
        super::COLLECTOR.for_each_live(me, |h| {
            // Ordering: as in `freeze`.
            h.clear_flags(flags::FROZEN, Ordering::Relaxed) & flags::FROZEN != 0
        })
    }

    /// Number of frozen objects (stops the world to count them).
    pub fn freeze_count(&mut self) -> usize {
        let me = self.thread_state();
        super::COLLECTOR.for_each_live(me, |h| {
            // Ordering: as in `freeze`.
            h.flags(Ordering::Relaxed) & flags::FROZEN != 0
        })
    }
}
