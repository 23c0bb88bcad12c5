//! The object header and the per-type table.
//!
//! Every object, in either heap, is one mimalloc block laid out as
//!
//! ```text
//! block start ─▶ ┌──────────────┬──────────────┬──────────────────────────────┐
//!                │ rc: u32      │ gc: u32      │ ty: &'static TypeInfo | flags │  16 bytes
//!                ├──────────────┴──────────────┴──────────────────────────────┤
//!                │ (padding, only when align_of::<T>() > 16)                   │
//!                │ value: T                                                    │
//!                └─────────────────────────────────────────────────────────────┘
//! ```
//!
//! There are no list links and no side table of objects: the collector finds GC objects by
//! walking the GC heap, and the block start *is* the header.
//!
//! # Invariants
//!
//! * `rc` counts the strong handles (`Gc<T>`) to the object, wherever they are. Values in
//!   `[0, IMMORTAL_MIN)` are exact. A count that reaches `IMMORTAL_MIN` saturates: the object is
//!   *immortal*, never freed, and its count is pinned near [`IMMORTAL`]. The count never moves
//!   from 0 back to 1: whoever takes it to 0 owns the object's destruction.
//! * `gc` is the collector's scratch word. It is written only while the world is stopped.
//!   Whenever the world is running it is 0, the *alive mark* of an earlier pass
//!   ([`scratch::alive`]), or the candidate word (`CANDIDATE | REACHABLE | gc_refs`) of an
//!   earlier pass that found no garbage and so skipped the scan, which otherwise restores
//!   candidates to 0. Neither is the next pass's, so the next walk resets them.
//! * `ty` holds a `&'static TypeInfo` (64-byte aligned) in its high bits and the [`flags`] in its
//!   low 6 bits. `DEAD` and `FROZEN` change only while the world is stopped; `HAS_WEAK` may
//!   be set at any time by a thread holding a strong handle; `FINALIZED` is set once, by the
//!   collecting thread between two passes.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::sync::{AtomicU32, AtomicUsize, Ordering};
use crate::trace::ObjRef;

/// Size of the header. The value starts right after it unless its alignment is above 16.
#[cfg(not(loom))]
pub(crate) const HEADER_SIZE: usize = 16;
/// Loom's atomics are larger: the header takes whole 16-byte units.
#[cfg(loom)]
pub(crate) const HEADER_SIZE: usize = size_of::<Header>().next_multiple_of(16);

/// Counts at or above this value are saturated: the object is immortal.
pub(crate) const IMMORTAL_MIN: u32 = 1 << 30;
/// The value an immortal count is pinned to, far from both ends of the `u32` range.
pub(crate) const IMMORTAL: u32 = 3 << 30;

/// Bits of the `ty` word that are not part of the `TypeInfo` pointer.
pub(crate) mod flags {
    /// The collector destroyed (or is destroying) the value; handles that survive (for example
    /// one a destructor stored somewhere) may only be dropped, never read.
    pub(crate) const DEAD: usize = 1 << 0;
    /// A weak slot for this object exists in the weak table and must be cleared at death.
    pub(crate) const HAS_WEAK: usize = 1 << 1;
    /// Set by `Mutator::freeze`: the collector neither scans nor collects the object.
    /// Changed only while the world is stopped.
    pub(crate) const FROZEN: usize = 1 << 2;
    /// The object's finalizer has run (or is running); it never runs again. Set by the
    /// collecting thread with the world running, before the call.
    pub(crate) const FINALIZED: usize = 1 << 3;
    /// All flag bits (the `TypeInfo` alignment leaves six).
    pub(crate) const MASK: usize = 0x3f;
}

/// Bits of the `gc` scratch word during a collection.
pub(crate) mod scratch {
    /// The object is a candidate of this collection: `REFS` holds its gc_refs.
    pub(crate) const CANDIDATE: u32 = 1 << 31;
    /// The object was found reachable: from outside the candidate set (with `CANDIDATE`), or
    /// from a known root by the mark-alive pass (without `CANDIDATE`, see [`alive`]).
    pub(crate) const REACHABLE: u32 = 1 << 30;
    /// A *hot* candidate, from the parallel walk until the end of `update_refs` (REACHABLE
    /// means nothing else then): `REFS` holds its index in the walk's list of hot candidates,
    /// and each worker counts the subtractions from it apart.
    pub(crate) const HOT: u32 = CANDIDATE | REACHABLE;
    /// gc_refs: the refcount minus the references from other candidates.
    pub(crate) const REFS: u32 = (1 << 30) - 1;

    /// The mark of an object that the pass numbered `epoch` marked alive from a known root:
    /// not a candidate, never walked into the lists. No one resets it: a later pass has another
    /// number, so to it the word is a stale mark, which its walk resets (or mark-alive
    /// overwrites). Two passes share a number only 2^30 passes apart; a stale mark taken for
    /// a fresh one would at worst keep an object out of that pass's cycle search.
    pub(crate) const fn alive(epoch: u32) -> u32 {
        REACHABLE | (epoch & REFS)
    }
}

/// Type-erased tracing entry point: traces the value of `obj` with the tracer behind the
/// pointer, whose concrete type is fixed by the table slot.
pub(crate) type TraceFn = unsafe fn(ObjRef, *mut ());

/// Number of tracer kinds the collector uses (one table slot each).
pub(crate) const TRACER_KINDS: usize = 4;

/// The static, per-type table every header points to.
#[repr(C, align(64))]
pub(crate) struct TypeInfo {
    /// Drops the value in place (not the block).
    pub(crate) drop_value: unsafe fn(ObjRef),
    /// One tracing function per collector tracer kind.
    pub(crate) trace: [TraceFn; TRACER_KINDS],
    /// `core::any::type_name` of the value type, for messages.
    pub(crate) type_name: fn() -> &'static str,
    /// The type's finalizer, if it has one ([`Finalize`](crate::Finalize)): called with the
    /// object and a `*mut Mutator` (erased, so that the header needs nothing above it).
    pub(crate) finalize: Option<unsafe fn(ObjRef, *mut ())>,
    /// `TypeId::of` the value type, for `GcAny::downcast`.
    pub(crate) type_id: fn() -> core::any::TypeId,
    /// Size and alignment of the value.
    pub(crate) value_layout: Layout,
    /// Bytes to allocate for the block (header, padding, value).
    pub(crate) block_size: usize,
    /// `false`: the object lives in the GC heap and is walked. `true`: leaf heap, never walked.
    pub(crate) leaf: bool,
}

/// The first 16 bytes of every object.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) rc: AtomicU32,
    pub(crate) gc: AtomicU32,
    ty: AtomicUsize,
}

const _: () = assert!(size_of::<Header>() <= HEADER_SIZE && HEADER_SIZE % 16 == 0);
const _: () = assert!(align_of::<TypeInfo>() > flags::MASK);

impl Header {
    /// A header for a new object with one strong handle.
    pub(crate) fn new(info: &'static TypeInfo) -> Header {
        Header {
            rc: AtomicU32::new(1),
            gc: AtomicU32::new(0),
            ty: AtomicUsize::new(info as *const TypeInfo as usize),
        }
    }

    /// The type table. The pointer bits of `ty` never change after initialisation.
    #[inline]
    pub(crate) fn info(&self) -> &'static TypeInfo {
        // Ordering: Relaxed. The pointer bits are written once, before the object is published
        // (publication itself carries the happens-before); only flag bits change later.
        let word = self.ty.load(Ordering::Relaxed);
        // SAFETY: the pointer bits were set from a `&'static TypeInfo` in `Header::new` and are
        // never modified (flag updates use fetch_or/fetch_and on the low bits only).
        unsafe { &*((word & !flags::MASK) as *const TypeInfo) }
    }

    /// The current flag bits.
    #[inline]
    pub(crate) fn flags(&self, order: Ordering) -> usize {
        self.ty.load(order) & flags::MASK
    }

    /// Sets flag bits; returns the previous flags.
    #[inline]
    pub(crate) fn set_flags(&self, bits: usize, order: Ordering) -> usize {
        debug_assert_eq!(bits & !flags::MASK, 0);
        self.ty.fetch_or(bits, order) & flags::MASK
    }

    /// Clears flag bits; returns the previous flags.
    #[inline]
    pub(crate) fn clear_flags(&self, bits: usize, order: Ordering) -> usize {
        debug_assert_eq!(bits & !flags::MASK, 0);
        self.ty.fetch_and(!bits, order) & flags::MASK
    }

    /// Adds one strong reference. The caller holds one (or the world is stopped and the caller
    /// is the collector), so the count is not 0.
    #[inline]
    pub(crate) fn inc_ref(&self) {
        #[cfg(loom)]
        if crate::sync::planted::is(crate::sync::planted::Bug::RacySaturation) {
            // Ordering: as below; the bug is deciding on a load instead of the add's result.
            if self.rc.load(Ordering::Relaxed) >= IMMORTAL_MIN - 1 {
                self.pin_immortal();
            } else {
                self.rc.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        // Ordering: Relaxed, as for `Arc::clone`: a new handle is made from an existing one,
        // whose owner already has whatever synchronisation it needs.
        let old = self.rc.fetch_add(1, Ordering::Relaxed);
        if old >= IMMORTAL_MIN - 1 {
            self.pin_immortal();
        }
    }

    /// Adds one strong reference unless the count is 0 (the object is being destroyed).
    /// Used by `Weak::upgrade`.
    pub(crate) fn try_inc_ref(&self) -> bool {
        // Ordering: Relaxed loads and CAS. The caller holds the weak slot lock, which the
        // destroying thread takes before freeing, so the header stays valid; a successful CAS
        // makes a handle from a count that another handle keeps above zero.
        let mut cur = self.rc.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return false;
            }
            if cur >= IMMORTAL_MIN {
                return true;
            }
            match self
                .rc
                .compare_exchange_weak(cur, cur + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Drops one strong reference. Returns `true` if it was the last one: the caller now owns
    /// the object and must destroy it (or hand it to someone who will).
    #[inline]
    pub(crate) fn dec_ref(&self) -> bool {
        // Ordering: Release, paired with the Acquire fence below on the thread that takes the
        // count to zero, exactly as `Arc::drop`: every use of the value through other handles
        // happens-before its destruction.
        let old = self.rc.fetch_sub(1, Ordering::Release);
        if old == 1 {
            crate::sync::fence(Ordering::Acquire);
            return true;
        }
        if old >= IMMORTAL_MIN {
            self.pin_immortal();
        }
        debug_assert!(old != 0, "ftgc: reference count underflow");
        false
    }

    /// Gives up a reference like [`dec_ref`](Self::dec_ref), but reads before it writes: a
    /// count of 1 is the caller's own reference, the last one, and is left as it is (the
    /// caller frees the block). Saves the locked instruction in the common case.
    ///
    /// Only for a reference the caller owns to an object no `Weak` can reach any more (its
    /// slot cleared): then no other thread can raise a count of 1, as it holds no handle to
    /// clone.
    #[inline]
    pub(crate) fn dec_ref_unless_last(&self) -> bool {
        // Ordering: Acquire, the fence `dec_ref` issues on the last decrement: every other
        // handle's drop (a Release decrement) happens-before the caller frees the block.
        if self.rc.load(Ordering::Acquire) == 1 {
            return true;
        }
        self.dec_ref()
    }

    /// Re-pins a saturated count to [`IMMORTAL`], so that unbalanced traffic on an immortal
    /// object can never walk it back into the mortal range or past `u32::MAX`.
    #[cold]
    fn pin_immortal(&self) {
        // Ordering: Relaxed. Any value at or above IMMORTAL_MIN means the same thing; racing
        // increments and decrements between here and the store are harmless.
        self.rc.store(IMMORTAL, Ordering::Relaxed);
    }

    /// The strong count (a snapshot).
    #[inline]
    pub(crate) fn strong_count(&self) -> u32 {
        // Ordering: Relaxed; a snapshot for statistics, the collector, or tests.
        self.rc.load(Ordering::Relaxed)
    }
}

impl ObjRef {
    /// The header of the object.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        #[cfg(loom)]
        crate::heap::assert_allocated(*self);
        // SAFETY: the crate's invariant for every `ObjRef` it dereferences: it was built for a
        // block holding an initialised header (`from_block`, a handle, a tracer's report), and
        // the block stays allocated while it is used, by one of: a strong handle the caller
        // owns or borrows; the weak slot lock (`Weak::upgrade`; death clears the slot under
        // it before freeing); or the world being stopped, for blocks found by the walk or
        // registered as roots (GC-heap blocks are not freed during a pause: non-mutators only
        // queue them, and leaf objects are never registered or reported).
        unsafe { self.0.as_ref() }
    }

    /// The block start (for freeing).
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.0.as_ptr().cast()
    }

    /// Address of the value of an object whose value type has alignment `align`.
    #[inline]
    pub(crate) fn value_addr(self, align: usize) -> *mut u8 {
        let start = self.as_ptr().wrapping_add(HEADER_SIZE);
        if align <= HEADER_SIZE {
            start
        } else {
            // The block was sized with `align - HEADER_SIZE` bytes of slack (`block_size`).
            start.wrapping_add(start.align_offset(align))
        }
    }
}

/// Bytes of block needed for a value of `layout`, or `None` on overflow. For alignments up to
/// 16 the value sits right after the header; above that, the block gets `align - 16` bytes of
/// slack so that an aligned address always fits (mimalloc guarantees 16-byte alignment for
/// blocks of 16 bytes or more, and we never use its aligned API: see
/// `mimalloc-v3-notes.md` §2a).
pub(crate) const fn block_size(layout: Layout) -> Option<usize> {
    let slack = if layout.align() > HEADER_SIZE {
        layout.align() - HEADER_SIZE
    } else {
        0
    };
    match HEADER_SIZE.checked_add(slack) {
        Some(n) => n.checked_add(layout.size()),
        None => None,
    }
}

// SAFETY: an `ObjRef` is an address. Every dereference is an `unsafe` operation (or goes through
// `header()`, whose callers prove the block is allocated), so moving the address between
// threads cannot by itself cause a data race.
unsafe impl Send for ObjRef {}
// SAFETY: as above; `&ObjRef` only gives access to the address.
unsafe impl Sync for ObjRef {}

impl ObjRef {
    /// Wraps a block pointer.
    ///
    /// # Safety
    /// `ptr` must be the start of a live block whose first 16 bytes are an initialised
    /// [`Header`].
    #[inline]
    pub(crate) unsafe fn from_block(ptr: NonNull<u8>) -> ObjRef {
        ObjRef(ptr.cast())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::trace::ObjRef;

    unsafe fn no_drop(_: ObjRef) {}
    unsafe fn no_trace(_: ObjRef, _: *mut ()) {}
    fn name() -> &'static str {
        "test"
    }
    static INFO: TypeInfo = TypeInfo {
        drop_value: no_drop,
        trace: [no_trace; TRACER_KINDS],
        type_name: name,
        finalize: None,
        type_id: core::any::TypeId::of::<()>,
        value_layout: Layout::new::<()>(),
        block_size: HEADER_SIZE,
        leaf: true,
    };

    #[test]
    fn counts_saturate_at_the_immortal_boundary_instead_of_wrapping() {
        let h = Header::new(&INFO);
        h.rc.store(IMMORTAL_MIN - 2, Ordering::Relaxed);
        h.inc_ref();
        assert_eq!(h.strong_count(), IMMORTAL_MIN - 1, "still mortal, exact");
        h.inc_ref();
        assert_eq!(
            h.strong_count(),
            IMMORTAL,
            "crossing the boundary pins the count"
        );
        for _ in 0..1000 {
            assert!(!h.dec_ref(), "an immortal object is never released");
        }
        assert_eq!(
            h.strong_count(),
            IMMORTAL,
            "decrements re-pin, never drift down"
        );
        assert!(h.try_inc_ref());
        h.rc.store(u32::MAX, Ordering::Relaxed);
        h.inc_ref();
        assert_eq!(h.strong_count(), IMMORTAL, "never wraps past u32::MAX");
    }

    #[test]
    fn a_count_never_rises_from_zero() {
        let h = Header::new(&INFO);
        assert!(h.dec_ref(), "the last reference");
        assert!(!h.try_inc_ref());
        assert_eq!(h.strong_count(), 0);
    }

    #[test]
    fn the_header_is_16_bytes_and_values_are_placed_by_alignment() {
        assert_eq!(size_of::<Header>(), 16);
        assert_eq!(block_size(Layout::new::<u64>()), Some(24));
        assert_eq!(
            block_size(Layout::from_size_align(64, 64).unwrap()),
            Some(128)
        );
    }
}

/// Loom builds only: one header's strong count, for the saturation model in `loom-tests/`.
#[cfg(loom)]
#[doc(hidden)]
pub struct RefCount(Header);

#[cfg(loom)]
impl RefCount {
    /// Counts at or above this are saturated.
    pub const IMMORTAL_MIN: u32 = IMMORTAL_MIN;
    /// Where a saturated count is pinned.
    pub const IMMORTAL: u32 = IMMORTAL;

    /// A header whose count is `count`.
    pub fn new(count: u32) -> RefCount {
        unsafe fn no_drop(_: ObjRef) {}
        unsafe fn no_trace(_: ObjRef, _: *mut ()) {}
        static INFO: TypeInfo = TypeInfo {
            drop_value: no_drop,
            trace: [no_trace; TRACER_KINDS],
            type_name: || "RefCount",
            finalize: None,
            type_id: core::any::TypeId::of::<()>,
            value_layout: Layout::new::<()>(),
            block_size: HEADER_SIZE,
            leaf: true,
        };
        let h = Header::new(&INFO);
        // Ordering: Relaxed; the model publishes the header by spawning its threads.
        h.rc.store(count, Ordering::Relaxed);
        RefCount(h)
    }

    /// `Gc::clone`'s increment.
    pub fn inc(&self) {
        self.0.inc_ref();
    }

    /// `Gc::drop`'s decrement; `true` if it released the last reference.
    pub fn dec(&self) -> bool {
        self.0.dec_ref()
    }

    /// The count.
    pub fn get(&self) -> u32 {
        self.0.strong_count()
    }
}
