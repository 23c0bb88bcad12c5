//! Weak slots: what a `Weak<T>` points to.
//!
//! The header has no room for a weak count or a weak list, and most objects never get a weak
//! reference, so weakly referenced objects are found through a side table keyed by address
//! (only they are in it; `HAS_WEAK` in the header says to look). A [`WeakSlot`] is shared by all
//! `Weak`s to one object and outlives it; its target is cleared, under the slot lock, before the
//! object's value is destroyed and before its block is freed.
//!
//! # Protocol
//!
//! * `Gc::downgrade` (strong handle held): under the shard lock, find or insert the slot and set
//!   `HAS_WEAK`.
//! * Death (count 0, or found garbage with the world stopped): under the shard lock remove the
//!   entry, then under the slot lock set the target to `None` and take the slot's callbacks
//!   (`Gc::downgrade_with_callback`). Only then is the value dropped and the block freed; the
//!   callbacks run afterwards with no lock held (for garbage, after the world restarts).
//! * `Weak::upgrade`: under the slot lock, read the target and increment its count unless it is
//!   0 (dying) or the object is `DEAD`. Because death clears the target under the same lock
//!   before freeing, the header read here is always of an allocated block.
//!
//! Lock order: shard, then slot.

use std::collections::HashMap;

use crate::header::flags;
use crate::sync::{self, Arc, Mutex, Ordering};
use crate::trace::ObjRef;

/// A weak-reference callback: runs once when the object's weak references are cleared.
pub(crate) type WeakCallback = Box<dyn FnOnce() + Send>;

/// The shared target of every `Weak` to one object.
pub struct WeakSlot(Mutex<SlotState>);

/// What the slot lock guards.
struct SlotState {
    /// The object, until its death clears it (never set again).
    target: Option<ObjRef>,
    /// Callbacks to run when `target` is cleared (taken with it, by `clear`).
    callbacks: Vec<WeakCallback>,
}

impl WeakSlot {
    fn new(target: Option<ObjRef>) -> WeakSlot {
        WeakSlot(Mutex::new(SlotState {
            target,
            callbacks: Vec::new(),
        }))
    }

    /// Runs `f` with the target while holding the slot lock (so it cannot be freed meanwhile).
    pub(crate) fn with_target<R>(&self, f: impl FnOnce(Option<ObjRef>) -> R) -> R {
        let state = sync::lock(&self.0); // held until `f` returns
        f(state.target)
    }

    /// A slot whose target is already gone.
    pub(crate) fn cleared() -> WeakSlot {
        WeakSlot::new(None)
    }

    /// Adds a callback to run when the target is cleared; if it already is, returns the
    /// callback to the caller, to run now.
    pub(crate) fn add_callback(&self, f: WeakCallback) -> Option<WeakCallback> {
        let mut state = sync::lock(&self.0);
        if state.target.is_none() {
            return Some(f);
        }
        state.callbacks.push(f);
        None
    }

    /// Whether the target has been cleared.
    pub(crate) fn is_cleared(&self) -> bool {
        sync::lock(&self.0).target.is_none()
    }
}

const SHARDS: usize = 32;

/// Address → slot, for weakly referenced objects only.
pub struct WeakTable {
    shards: Vec<Mutex<HashMap<usize, Arc<WeakSlot>>>>,
}

impl Default for WeakTable {
    fn default() -> Self {
        Self::new()
    }
}

impl WeakTable {
    /// An empty table.
    pub fn new() -> WeakTable {
        WeakTable {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, obj: ObjRef) -> &Mutex<HashMap<usize, Arc<WeakSlot>>> {
        // Blocks are at least 16-byte aligned: drop the always-zero bits before hashing.
        let a = obj.as_ptr() as usize >> 4;
        &self.shards[(a ^ (a >> 7)) % SHARDS]
    }

    /// The slot of `obj`, created on first use.
    ///
    /// # Safety
    /// The caller holds a strong handle to `obj` (so it is alive and not dying).
    pub(crate) unsafe fn slot(&self, obj: ObjRef) -> Arc<WeakSlot> {
        let mut shard = sync::lock(self.shard(obj));
        let slot = shard
            .entry(obj.as_ptr() as usize)
            .or_insert_with(|| Arc::new(WeakSlot::new(Some(obj))))
            .clone();
        // Ordering: Release, paired with the Acquire flag load at death: whoever destroys the
        // object sees HAS_WEAK (the strong count's Release/Acquire chain also orders it).
        obj.header().set_flags(flags::HAS_WEAK, Ordering::Release);
        slot
    }

    /// Clears and forgets the slot of a dying object, if it has one. Returns the slot's
    /// callbacks, for the caller to run once no lock is held (the collector: after the world
    /// restarts).
    ///
    /// # Safety
    /// `obj` is dying: its count is 0 and the caller owns its destruction; or it is `DEAD` and
    /// the caller holds its last reference (the collector's, see `object::free_dead`); or the
    /// world is stopped and the collector found it garbage.
    #[must_use]
    pub(crate) unsafe fn clear(&self, obj: ObjRef) -> Vec<WeakCallback> {
        // Ordering: Acquire, paired with the Release in `slot`.
        if obj.header().flags(Ordering::Acquire) & flags::HAS_WEAK == 0 {
            return Vec::new();
        }
        let removed = sync::lock(self.shard(obj)).remove(&(obj.as_ptr() as usize));
        match removed {
            Some(slot) => {
                let mut state = sync::lock(&slot.0);
                state.target = None;
                core::mem::take(&mut state.callbacks)
            }
            None => Vec::new(),
        }
    }
}

/// Runs weak-reference callbacks; returns the first panic (every callback runs).
pub(crate) fn run_callbacks(callbacks: Vec<WeakCallback>) -> Option<Box<dyn std::any::Any + Send>> {
    let mut first = None;
    for f in callbacks {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            first.get_or_insert(p);
        }
    }
    first
}
