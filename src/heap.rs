//! The two mimalloc v3 first-class heaps objects live in.
//!
//! * The **GC heap** holds every object whose type may own handles. The collector finds them by
//!   walking it (`mi_heap_visit_blocks`) while the world is stopped: there are no list links.
//! * The **leaf heap** holds objects that can never own a handle (`Trace::NEEDS_TRACE ==
//!   false`). It is never walked, as CPython never scans its non-GC object heap.
//!
//! # Rules (from `mimalloc-v3-notes.md` §1)
//!
//! * Blocks are allocated with `mi_heap_malloc`, never the aligned API (slow in v3, and its
//!   interior pointers would not be block starts).
//! * No thread may allocate or free a GC-heap block while a walk runs: the walk collects each
//!   page's pending frees. Only attached mutators allocate and free GC-heap blocks, and a walk
//!   needs a [`WorldStopped`] witness, so they are all parked.
//! * Blocks above [`MAX_GC_OBJECT`] could land on OS pages the walk does not see; `Gc::new`
//!   refuses such types at compile time, naming the limit.

use core::ffi::c_void;
use core::ptr::NonNull;
use std::sync::OnceLock;

use libmimalloc_sys as mi;

use crate::stw::WorldStopped;
use crate::trace::ObjRef;

/// Largest block the GC heap hands out. mimalloc's walk misses blocks above
/// `arena_max_object_size` (2 GiB by default); we stay well under it.
pub(crate) const MAX_GC_OBJECT: usize = 1 << 30;

struct Heaps {
    gc: NonNull<mi::mi_heap_t>,
    leaf: NonNull<mi::mi_heap_t>,
}

// SAFETY: mimalloc v3 first-class heaps are shared by all threads (each thread allocates through
// its own theap of the heap); the pointers are only passed to mimalloc's thread-safe API.
unsafe impl Send for Heaps {}
// SAFETY: as above.
unsafe impl Sync for Heaps {}

static HEAPS: OnceLock<Heaps> = OnceLock::new();

fn heaps() -> &'static Heaps {
    HEAPS.get_or_init(|| {
        // SAFETY: `mi_heap_new` has no preconditions; it returns null only on out-of-memory.
        let gc = unsafe { mi::mi_heap_new() };
        // SAFETY: as above.
        let leaf = unsafe { mi::mi_heap_new() };
        Heaps {
            gc: NonNull::new(gc).expect("ftgc: mimalloc could not create the GC heap"),
            leaf: NonNull::new(leaf).expect("ftgc: mimalloc could not create the leaf heap"),
        }
    })
}

/// Allocates an uninitialised block of `size` bytes (16-byte aligned) from the GC heap
/// (`leaf == false`) or the leaf heap. Returns `None` when mimalloc is out of memory.
///
/// The caller must initialise the header before its next safepoint (a walk would otherwise see
/// an uninitialised block), which is why only `Gc::new` calls this.
#[inline]
pub(crate) fn alloc(size: usize, leaf: bool) -> Option<NonNull<u8>> {
    let h = heaps();
    let heap = if leaf { h.leaf } else { h.gc };
    // SAFETY: `heap` is a live heap created by `mi_heap_new` and never deleted.
    let p = unsafe { mi::mi_heap_malloc(heap.as_ptr(), size) };
    NonNull::new(p.cast())
}

/// Frees an object's block.
///
/// # Safety
/// `obj` must be a block from [`alloc`] that nobody will use again, and, for a GC-heap block,
/// the calling thread must be an attached mutator (so no walk is running).
#[inline]
pub(crate) unsafe fn free(obj: ObjRef) {
    // SAFETY: by the contract, the block came from mimalloc and is not used again; mimalloc
    // frees blocks of any heap from any thread.
    unsafe { mi::mi_free(obj.as_ptr().cast::<c_void>()) }
}

/// Calls `f` on every allocated block of the GC heap, in address order page by page.
///
/// Every block holds an initialised header (allocation and header initialisation happen with
/// no safepoint in between, and nobody allocates during the walk). `f` must not panic: the
/// walk runs inside mimalloc's C code, and unwinding out of it aborts the process.
pub(crate) fn walk_gc_heap<F: FnMut(ObjRef)>(_stopped: &WorldStopped<'_>, mut f: F) {
    unsafe extern "C" fn visit<F: FnMut(ObjRef)>(
        _heap: *const mi::mi_heap_t,
        _area: *const mi::mi_heap_area_t,
        block: *mut c_void,
        _block_size: usize,
        arg: *mut c_void,
    ) -> bool {
        if let Some(block) = NonNull::new(block.cast::<u8>()) {
            // SAFETY: `arg` is the `&mut F` passed to `mi_heap_visit_blocks` below, live for
            // the whole walk and not aliased (the walk is single-threaded).
            let f = unsafe { &mut *arg.cast::<F>() };
            // SAFETY: mimalloc passes only allocated blocks of the GC heap, each of which got
            // its header before its allocating thread could reach a safepoint.
            f(unsafe { ObjRef::from_block(block) });
        }
        true
    }
    let heap = heaps().gc;
    // SAFETY: the world is stopped (witness), so no thread allocates or frees GC-heap blocks
    // during the walk; `visit::<F>` matches `mi_block_visit_fun` and gets `&mut f` as `arg`.
    unsafe {
        mi::mi_heap_visit_blocks(
            heap.as_ptr(),
            true,
            Some(visit::<F>),
            (&raw mut f).cast::<c_void>(),
        );
    }
}
