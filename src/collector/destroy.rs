//! Phase (world running): destroy the garbage values, then release the collector's references.
//!
//! All values are dropped first, then the blocks are released. Handles from one garbage object
//! to another only decrement counts (the collector's own reference keeps each above zero), so
//! no value is used after it was dropped and none is dropped twice. A handle a destructor
//! stored elsewhere keeps its block allocated; the value is gone (`DEAD`), so reading through
//! it panics, and dropping it frees the block.
//!
//! A panicking destructor does not stop the phase: every value is still dropped and every
//! block still released; the first panic is returned to the caller, which resumes it.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::object::{self, destruction_scope, free_dead};

use super::CollectionState;

pub(super) fn destroy_garbage(state: &mut CollectionState) -> Option<Box<dyn Any + Send>> {
    let garbage = core::mem::take(&mut state.objects);
    destruction_scope(|| {
        let mut first = None;
        for obj in garbage.iter() {
            let drop_value = obj.header().info().drop_value;
            // SAFETY: `obj` is garbage: DEAD, so no one else reads or drops its value, and the
            // collector's reference keeps the block allocated; its value is dropped only here.
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| unsafe { drop_value(obj) })) {
                first.get_or_insert(p);
            }
        }
        let (mut freed, mut bytes) = (0, 0);
        for obj in garbage.iter() {
            // Releases the reference `scan` took. Usually it is the last one: the
            // block is freed right here. A handle a destructor kept holds it otherwise, and
            // its last drop frees it (DEAD: the value is not dropped again).
            if obj.header().dec_ref_unless_last() {
                // SAFETY: DEAD, weak slot cleared in the pause, and no handle left on this
                // attached thread (the count reached zero, or was 1: the collector's own).
                let size = obj.header().info().block_size as isize;
                unsafe { free_dead(obj) };
                freed += 1;
                bytes += size;
            }
        }
        object::fold_count(-freed, -bytes);
        if let Some(p) = first {
            std::panic::resume_unwind(p);
        }
    })
}
