//! Transitive marking, shared by the mark-alive and reachability phases, with CPython's
//! software-prefetch FIFO buffer (gh-129201).
//!
//! Two modes:
//!
//! * **Depth-first** (small heaps): a child is tested and marked when it is found, and pushed
//!   on a stack; popped objects are traced. No object is pushed twice.
//! * **Prefetch** (heaps bigger than [`Collector::set_prefetch_threshold`]): a child's address
//!   is pushed into a 256-entry ring *without touching it*, and a prefetch for its header is
//!   issued; it is tested, marked and traced only when it leaves the ring, by which time the
//!   cache line has (ideally) arrived. A full ring overflows to the stack; a run of handles
//!   reported at once (a *span*, the elements of a `[Gc<T>]`) goes straight into the ring if
//!   it fits, or onto a span stack otherwise. When the ring runs low (≤ [`LOW`]) it is refilled
//!   up to [`HIGH`] from the spans, then from the stack: refilling only to `HIGH`, not to the
//!   ring's size, keeps the stack from being used again right away.
//!
//! Which objects a pass may mark is the [`Mark`] policy's business.
//!
//! [`Collector::set_prefetch_threshold`]: crate::Collector::set_prefetch_threshold

use crate::header::Header;
use crate::trace::ObjRef;
use crate::trace::sealed::TracerImpl;

/// Ring size (a power of two).
pub(crate) const SIZE: usize = 256;
const MASK: usize = SIZE - 1;
/// Refill when the ring holds this many or fewer.
pub(crate) const LOW: usize = 8;
/// Refill up to this many.
pub(crate) const HIGH: usize = 16;

const _: () = assert!(SIZE.is_power_of_two() && 0 < LOW && LOW < HIGH && HIGH < SIZE);

/// Asks the CPU to start loading the cache line at `p` into L2 (and outer levels); never
/// faults, whatever `p` is.
#[inline(always)]
pub(crate) fn prefetch(p: *const Header) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht1` is a hint: it never faults and has no architectural effect, for any
    // address. SSE is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(p.cast());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `prfm` is a hint: it never faults and has no architectural effect, for any address.
    unsafe {
        core::arch::asm!("prfm pldl2keep, [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = p;
}

/// What a marking pass may mark.
pub(crate) trait Mark {
    /// Table slot of this pass's tracer in every `TypeInfo`.
    const KIND: usize;
    /// Marks `obj` if this pass may and it is not marked yet; returns whether it did.
    fn try_mark(obj: ObjRef) -> bool;
}

/// A span: the elements of a `[Gc<T>]` inside an object's value. Valid while the world is
/// stopped (values do not change during a pause).
#[derive(Clone, Copy)]
struct Span {
    start: *const ObjRef,
    len: usize,
}

/// The marking worklist and tracer of one pass.
pub(crate) struct Marker<M> {
    use_prefetch: bool,
    ring: Box<[ObjRef]>,
    /// Free-running counters: the ring holds `pushed - popped` entries.
    pushed: usize,
    popped: usize,
    stack: Vec<ObjRef>,
    spans: Vec<Span>,
    _policy: core::marker::PhantomData<M>,
}

impl<M: Mark> Marker<M> {
    /// An empty marker; `use_prefetch` chooses the mode.
    pub(crate) fn new(use_prefetch: bool, stack: Vec<ObjRef>) -> Marker<M> {
        let dangling = ObjRef(core::ptr::NonNull::dangling());
        Marker {
            use_prefetch,
            ring: vec![dangling; if use_prefetch { SIZE } else { 0 }].into_boxed_slice(),
            pushed: 0,
            popped: 0,
            stack,
            spans: Vec::new(),
            _policy: core::marker::PhantomData,
        }
    }

    /// The stack, for reuse by a later pass.
    pub(crate) fn into_stack(self) -> Vec<ObjRef> {
        self.stack
    }

    /// Marks everything reachable from `root` (and from what is already queued).
    pub(crate) fn mark_from(&mut self, root: ObjRef) {
        self.edge(root);
        self.propagate();
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.pushed - self.popped
    }

    #[inline(always)]
    fn push_ring(&mut self, obj: ObjRef) {
        prefetch(obj.0.as_ptr());
        self.ring[self.pushed & MASK] = obj;
        self.pushed += 1;
    }

    /// Refills the ring up to `HIGH` from the spans, then from the stack.
    #[cold]
    fn refill(&mut self) {
        while self.len() < HIGH {
            if let Some(span) = self.spans.last_mut() {
                // SAFETY: spans point into object values, which do not change while the world
                // is stopped; `len` elements remain from `start`.
                let obj = unsafe { *span.start };
                span.start = span.start.wrapping_add(1);
                span.len -= 1;
                if span.len == 0 {
                    self.spans.pop();
                }
                self.push_ring(obj);
            } else if let Some(obj) = self.stack.pop() {
                self.push_ring(obj);
            } else {
                break;
            }
        }
    }

    fn propagate(&mut self) {
        if self.use_prefetch {
            loop {
                if self.len() <= LOW {
                    self.refill();
                    if self.len() == 0 {
                        return;
                    }
                }
                let obj = self.ring[self.popped & MASK];
                self.popped += 1;
                if M::try_mark(obj) {
                    self.trace(obj);
                }
            }
        } else {
            while let Some(obj) = self.stack.pop() {
                self.trace(obj);
            }
        }
    }

    #[inline(always)]
    fn trace(&mut self, obj: ObjRef) {
        let trace = obj.header().info().trace[M::KIND];
        // SAFETY: `try_mark` admits only live, walked, initialised, not DEAD objects, and the
        // world is stopped; `self` is this kind's tracer and is exclusive here.
        unsafe { trace(obj, (self as *mut Self).cast()) };
    }
}

impl<M: Mark> TracerImpl for Marker<M> {
    #[inline(always)]
    fn edge(&mut self, obj: ObjRef) {
        if self.use_prefetch {
            if self.len() < SIZE {
                self.push_ring(obj);
            } else {
                self.stack.push(obj);
            }
        } else if M::try_mark(obj) {
            self.stack.push(obj);
        }
    }

    #[inline]
    fn span(&mut self, objs: &[ObjRef]) {
        if !self.use_prefetch {
            for &obj in objs {
                self.edge(obj);
            }
        } else if SIZE - self.len() >= objs.len() {
            for &obj in objs {
                self.push_ring(obj);
            }
        } else if !objs.is_empty() {
            self.spans.push(Span {
                start: objs.as_ptr(),
                len: objs.len(),
            });
        }
    }
}
