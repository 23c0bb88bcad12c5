//! The global allocator of the benchmark binary: mimalloc v3 for every subject.
//!
//! ftgc allocates its objects from mimalloc heaps, so the peers get mimalloc too, or the
//! comparison would measure allocators. But not through the `mimalloc` crate's
//! `GlobalAlloc`: it calls `mi_malloc_aligned(size, align)` for every allocation, and in
//! mimalloc v3 that call misses the fast path for every size that is not a power of two
//! (`mimalloc-v3-notes.md` §2a: 19 ns instead of 9 ns per 48-byte allocation, in 64-byte
//! blocks). This allocator calls plain `mi_malloc` whenever mimalloc's natural alignment (16
//! bytes, 8 for 8-byte blocks) suffices, which is how a C program would use it, and the aligned
//! API otherwise.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use libmimalloc_sys as mi;

/// mimalloc, with the aligned API only when it is needed.
pub struct MiMalloc;

/// Alignment every `mi_malloc` block of at least 16 bytes has (`MI_MAX_ALIGN_SIZE`).
const NATURAL: usize = 16;

#[inline]
fn natural(layout: Layout) -> bool {
    layout.align() <= NATURAL && (layout.align() <= 8 || layout.size() >= NATURAL)
}

// SAFETY: every method forwards to mimalloc with a size and alignment that satisfy `layout`
// (plain `mi_malloc` returns 16-byte aligned blocks for sizes of 16 or more and 8-byte aligned
// ones below), and frees only pointers mimalloc returned.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl's comment.
        unsafe {
            if natural(layout) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl's comment.
        unsafe {
            if natural(layout) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new block keeps its
        // alignment (aligned realloc when the natural one does not suffice).
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if natural(new) && natural(layout) {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}
