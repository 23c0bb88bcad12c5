//! The two mimalloc v3 first-class heaps objects live in.
//!
//! * The **GC heap** holds every object that may be part of a cycle. The collector finds them
//!   by walking it (`mi_heap_visit_blocks`) while the world is stopped: there are no list links.
//! * The **leaf heap** holds objects that cannot (`Trace::NEEDS_TRACE == false`: no handle,
//!   or only handles to values that hold none). It is never walked, as CPython never scans its
//!   non-GC object heap.
//!
//! # Rules (from `mimalloc-v3-notes.md` §1)
//!
//! * Blocks are allocated with `mi_heap_malloc`, never the aligned API (slow in v3, and its
//!   interior pointers would not be block starts).
//! * No thread may allocate or free a GC-heap block while a walk runs: the walk collects each
//!   page's pending frees. Only attached mutators allocate and free GC-heap blocks, and a walk
//!   needs a [`WorldStopped`] witness, so they are all parked. mimalloc's own thread teardown
//!   also collects a thread's pages, after the thread stopped being a mutator: a mutator hands
//!   its pages back first ([`release_thread_pages`]).
//! * Blocks above [`MAX_GC_OBJECT`] could land on OS pages the walk does not see; `Gc::new`
//!   refuses such types at compile time, naming the limit.
//!
//! # Walking in parallel
//!
//! [`gc_pages`] lists the heap's pages (one cheap pass, about 17 ns a page) and [`visit_page`]
//! visits one page's blocks, so that workers can walk different pages at once. mimalloc's
//! public API can only walk a whole heap; `visit_page` calls the exported internal
//! `_mi_theap_area_visit_blocks`, which `mi_heap_visit_blocks` itself calls per page and which
//! only touches the page it is given (it first collects that page's pending frees). The symbol
//! is internal, so `libmimalloc-sys` is pinned exactly and the walk tests run through it. The
//! alternative, several GC heaps walked side by side with the public API, balances only as well
//! as allocation spreads over the heaps: one thread building the whole graph would leave one
//! worker with all of it.

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
    // Loom builds allocate from the system allocator; only the (empty) GC heap is walked.
    #[cfg_attr(loom, allow(dead_code))]
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
/// an uninitialised block), which is why only `Gc`'s allocation path calls this (directly, and
/// through `Mutator::alloc_after_collecting` for the retry).
#[cfg(not(loom))]
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
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn free(obj: ObjRef) {
    // SAFETY: by the contract, the block came from mimalloc and is not used again; mimalloc
    // frees blocks of any heap from any thread.
    unsafe { mi::mi_free(obj.as_ptr().cast::<c_void>()) }
}

unsafe extern "C" {
    /// mimalloc v3 (`src/heap.c`): the calling thread's theap of `heap`, or null if the
    /// thread never used the heap; never creates one.
    fn _mi_heap_theap_get_peek(heap: *const mi::mi_heap_t) -> *mut c_void;
    /// mimalloc v3 (`src/theap.c`): what mimalloc's own thread teardown does to each theap:
    /// frees the theap's empty pages and abandons the others, which any thread may then
    /// reclaim. Must run on the theap's own thread.
    fn _mi_theap_collect_abandon(theap: *mut c_void);
}

/// Hands the calling thread's GC-heap pages back to mimalloc as abandoned pages. A mutator
/// calls it, still attached, just before it unregisters.
///
/// Why: mimalloc tears a thread's theaps down in a thread-exit destructor. By then the thread
/// is no longer a mutator, so no stop of the world holds it, and that teardown collects the
/// free lists of its GC-heap pages. A heap walk running at the same moment collects the same
/// lists, which races and corrupts them (the torture test caught it as a crash in
/// `mi_page_thread_free_collect` under `_mi_thread_done`). After this call the thread owns no
/// GC-heap page, and its teardown has nothing of the GC heap left to touch. If the thread
/// registers again, it allocates from new pages or reclaims abandoned ones, with no further
/// cost.
///
/// A `Mutator` kept in a thread-local is dropped by Rust's thread-local destructors, which on
/// Linux (glibc) and macOS run before the pthread-key destructor in which mimalloc frees the
/// thread's theaps, so the theap peeked here is still alive.
#[cfg(not(loom))]
pub(crate) fn release_thread_pages() {
    let heap = heaps().gc.as_ptr();
    // SAFETY: `heap` is a live heap; peeking reads this thread's slot and creates nothing.
    let theap = unsafe { _mi_heap_theap_get_peek(heap) };
    if !theap.is_null() {
        // SAFETY: `theap` is this thread's own theap of the GC heap, alive (the thread is
        // running). The caller is an attached mutator, so no heap walk runs meanwhile.
        unsafe { _mi_theap_collect_abandon(theap) };
    }
}

/// Loom builds allocate from the system allocator: no mimalloc pages to release.
#[cfg(loom)]
pub(crate) fn release_thread_pages() {}

/// Loom builds: blocks come from the system allocator and are never handed back (loom runs
/// thousands of short executions; a few blocks each is a few megabytes), and a registry of the
/// allocated ones detects a double free or a use after free in a model. A detection is
/// recorded as a *violation* rather than a panic (a panic inside a model unwinds through
/// values that touch loom state after the execution is gone, which aborts); the model asserts
/// there were none at the end of each execution. Since no block is reused, carrying on after a
/// detection stays memory-safe. The heap walks find nothing: the models run no cycle search.
#[cfg(loom)]
pub(crate) mod registry {
    use core::cell::RefCell;
    use std::collections::HashSet;

    std::thread_local! {
        // OS-thread-locals: loom runs a model's threads on the test's OS thread.
        static ALLOCATED: RefCell<HashSet<usize>> = RefCell::new(HashSet::new());
        static VIOLATIONS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn insert(addr: usize) {
        ALLOCATED.with(|a| a.borrow_mut().insert(addr));
    }

    pub(super) fn remove(addr: usize) -> bool {
        ALLOCATED.with(|a| a.borrow_mut().remove(&addr))
    }

    /// Whether `addr` is an allocated block.
    pub(crate) fn contains(addr: usize) -> bool {
        ALLOCATED.with(|a| a.borrow().contains(&addr))
    }

    /// Records a broken invariant.
    pub fn violation(msg: String) {
        VIOLATIONS.with(|v| v.borrow_mut().push(msg));
    }

    /// The violations recorded since the last call.
    pub fn take_violations() -> Vec<String> {
        VIOLATIONS.with(|v| core::mem::take(&mut *v.borrow_mut()))
    }
}

/// Loom builds: [`alloc`] from the system allocator (see [`registry`]).
#[cfg(loom)]
pub(crate) fn alloc(size: usize, _leaf: bool) -> Option<NonNull<u8>> {
    let layout = core::alloc::Layout::from_size_align(size, 16).ok()?;
    // SAFETY: every block has at least a header, so `size` is not zero.
    let p = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
    registry::insert(p.as_ptr() as usize);
    Some(p)
}

/// Loom builds: [`free`] marks the block freed (it is never reused).
///
/// # Safety
/// As for the mimalloc build's `free`.
#[cfg(loom)]
pub(crate) unsafe fn free(obj: ObjRef) {
    if !registry::remove(obj.as_ptr() as usize) {
        registry::violation(format!("ftgc (loom): block {:p} freed twice", obj.as_ptr()));
    }
}

/// Loom builds: records a violation unless `obj` is an allocated block (use after free).
#[cfg(loom)]
pub(crate) fn assert_allocated(obj: ObjRef) {
    if !registry::contains(obj.as_ptr() as usize) {
        registry::violation(format!(
            "ftgc (loom): block {:p} used after it was freed",
            obj.as_ptr()
        ));
    }
}

/// Calls `f` on every allocated block of the GC heap, in address order page by page.
///
/// Every block holds an initialised header (allocation and header initialisation happen with
/// no safepoint in between, and nobody allocates during the walk). `f` must not panic: the
/// walk runs inside mimalloc's C code, and unwinding out of it aborts the process.
pub(crate) fn walk_gc_heap<F: FnMut(ObjRef)>(_stopped: &WorldStopped<'_>, mut f: F) {
    let heap = heaps().gc;
    // SAFETY: the world is stopped (witness), so no thread allocates or frees GC-heap blocks
    // during the walk; `visit_block::<F>` matches `mi_block_visit_fun` and gets `&mut f` as
    // `arg`.
    unsafe {
        mi::mi_heap_visit_blocks(
            heap.as_ptr(),
            true,
            Some(visit_block::<F>),
            (&raw mut f).cast::<c_void>(),
        );
    }
}

/// The block visitor of both walks: calls the `F` behind `arg` on each block.
unsafe extern "C" fn visit_block<F: FnMut(ObjRef)>(
    _heap: *const mi::mi_heap_t,
    _area: *const mi::mi_heap_area_t,
    block: *mut c_void,
    _block_size: usize,
    arg: *mut c_void,
) -> bool {
    if let Some(block) = NonNull::new(block.cast::<u8>()) {
        // SAFETY: `arg` is the `&mut F` the walk was started with, live for the whole walk and
        // used by no one else meanwhile (each walk of a page runs on one thread).
        let f = unsafe { &mut *arg.cast::<F>() };
        // SAFETY: mimalloc passes only allocated blocks of the GC heap, each of which got its
        // header before its allocating thread could reach a safepoint.
        f(unsafe { ObjRef::from_block(block) });
    }
    true
}

/// One page of the GC heap, as listed by [`gc_pages`]: mimalloc's description of it, whose
/// `reserved1` is the page itself. Valid until the world restarts.
#[derive(Clone, Copy)]
pub(crate) struct Page(mi::mi_heap_area_t);

// SAFETY: a `Page` is a description (addresses and sizes); it is only used by `visit_page`,
// whose contract requires the world to be stopped and each page to be visited by one thread.
unsafe impl Send for Page {}
// SAFETY: as above; `&Page` gives only reads of the copied description.
unsafe impl Sync for Page {}

impl Page {
    /// Blocks in use on the page when it was listed: an upper bound on what `visit_page` finds
    /// (frees from other threads are not collected yet).
    pub(crate) fn used(&self) -> usize {
        self.0.used
    }

    /// Address of the page's first block.
    pub(crate) fn start(&self) -> usize {
        self.0.blocks as usize
    }
}

unsafe extern "C" {
    /// mimalloc v3's per-page block visitor (`src/theap.c`), exported from the static library
    /// but not declared by `libmimalloc-sys`. Collects the page's pending frees, then calls
    /// `visitor` on each allocated block of the page; touches nothing outside the page.
    fn _mi_theap_area_visit_blocks(
        area: *const mi::mi_heap_area_t,
        page: *mut c_void,
        visitor: mi::mi_block_visit_fun,
        arg: *mut c_void,
    ) -> bool;
}

/// Lists the pages of the GC heap without visiting their blocks.
pub(crate) fn gc_pages(_stopped: &WorldStopped<'_>) -> Vec<Page> {
    unsafe extern "C" fn visit_area(
        _heap: *const mi::mi_heap_t,
        area: *const mi::mi_heap_area_t,
        _block: *mut c_void,
        _block_size: usize,
        arg: *mut c_void,
    ) -> bool {
        // SAFETY: `arg` is the `&mut Vec<Page>` below; mimalloc passes a valid area for the
        // duration of the call.
        let (pages, area) = unsafe { (&mut *arg.cast::<Vec<Page>>(), &*area) };
        if !area.reserved1.is_null() {
            pages.push(Page(*area));
        }
        true
    }
    let mut pages = Vec::new();
    // SAFETY: the world is stopped (witness); with `visit_all_blocks == false` mimalloc only
    // describes each page (it calls the visitor once per page with a null block) and changes
    // nothing.
    unsafe {
        mi::mi_heap_visit_blocks(
            heaps().gc.as_ptr(),
            false,
            Some(visit_area),
            (&raw mut pages).cast::<c_void>(),
        );
    }
    pages
}

/// Calls `f` on every allocated block of `page`, in address order.
///
/// Different pages may be visited at the same time by different threads; `f` must not panic
/// (see [`walk_gc_heap`]).
///
/// # Safety
/// `page` comes from [`gc_pages`] under the same stop of the world, which is still in force, and
/// no other thread visits `page` during the call (the visit collects the page's free lists).
pub(crate) unsafe fn visit_page<F: FnMut(ObjRef)>(page: &Page, mut f: F) {
    // SAFETY: by the contract, `page.0.reserved1` is a live page of the GC heap that only this
    // thread touches now (the world is stopped, so neither its owner nor a remote free does);
    // `visit_block::<F>` matches `mi_block_visit_fun` and gets `&mut f` as `arg`.
    unsafe {
        _mi_theap_area_visit_blocks(
            &page.0,
            page.0.reserved1,
            Some(visit_block::<F>),
            (&raw mut f).cast::<c_void>(),
        );
    }
}
