//! Transitive marking, shared by the mark-alive and reachability phases, with CPython's
//! software-prefetch FIFO buffer (gh-129201).
//!
//! Two modes:
//!
//! * **Depth-first** (heaps at or under [`Collector::set_prefetch_threshold`], unless it is 0;
//!   above it, when it measures faster, see [`mark_mode`](super::mark_mode)): a child is tested
//!   and marked when it is found, and pushed on a stack; popped objects are traced. No object
//!   is pushed twice.
//! * **Prefetch** (every heap with a threshold of 0; above a non-zero threshold, on its
//!   measuring pass and when it measures faster): a child's address is pushed into a 256-entry ring *without touching it*, and a
//!   prefetch for its header is issued; it is tested, marked and traced only when it leaves
//!   the ring, by which time the cache line has (ideally) arrived. A full ring overflows to
//!   the stack; a run of handles reported at once (a *span*, the elements of a `[Gc<T>]`)
//!   goes straight into the ring if it fits, or onto a span stack otherwise. When the ring
//!   runs low (≤ [`LOW`]) it is refilled up to [`HIGH`] from the spans, then from the stack:
//!   refilling only to `HIGH`, not to the ring's size, keeps the stack from being used again
//!   right away.
//!
//! Which objects a pass may mark is the [`Mark`] policy's business.
//!
//! # In parallel
//!
//! With several workers ([`run_pass`]), each keeps a marker of its own (ring, stack and spans)
//! and a `crossbeam-deque` deque. Once every [`SHARE_EVERY`] objects a worker looks whether
//! another is hungry; if so, and its deque is empty, it moves half of its lowest span of two or
//! more, else the older half of its stack, else the older half of its ring, to its deque,
//! where the hungry one steals it. Workers start from the pass's
//! *sources* (the roots, or the heap's segments), then drain their own deque, then steal;
//! [`Termination`] decides when the pass is over.
//!
//! Marks are plain stores even in parallel. Two workers that reach an object at the same moment
//! may both mark and trace it, which is harmless (a mark is idempotent, and tracing only reads);
//! a locked read-modify-write per object would cost more, because it keeps the core from
//! overlapping the cache misses around it.
//!
//! [`Collector::set_prefetch_threshold`]: crate::Collector::set_prefetch_threshold

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_deque::{Stealer, Worker};

use crate::header::Header;
use crate::trace::ObjRef;
use crate::trace::sealed::TracerImpl;

use super::termination::Termination;
use super::workers::Team;

/// Ring size (a power of two).
pub(crate) const SIZE: usize = 256;
const MASK: usize = SIZE - 1;
/// Refill when the ring holds this many or fewer.
pub(crate) const LOW: usize = 8;
/// Refill up to this many.
pub(crate) const HIGH: usize = 16;
/// A worker looks whether another one is hungry (and whether the pass was abandoned) once
/// every this many objects.
const SHARE_EVERY: u32 = 128;

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

/// What a marking pass may mark (a value: the mark-alive pass carries its epoch).
pub(crate) trait Mark: Copy + Send + Sync {
    /// Table slot of this pass's tracer in every `TypeInfo`.
    const KIND: usize;
    /// Marks `obj` if this pass may and it is not marked yet; returns whether it did (and so
    /// must trace it). In parallel, two workers may both succeed on one object: marks are
    /// idempotent, so that only costs a repeated trace (and a policy that counts what it marks
    /// counts the object twice).
    fn try_mark(&mut self, obj: ObjRef) -> bool;
}

/// A span: the elements of a `[Gc<T>]` inside an object's value. Valid while the world is
/// stopped (values do not change during a pause).
#[derive(Clone, Copy)]
struct Span {
    start: *const ObjRef,
    len: usize,
}

/// Work handed from one worker to another.
enum Work {
    /// Objects from a stack or the prefetch ring: already marked in depth-first mode, not yet
    /// in prefetch mode (the receiver runs the same mode, so it treats them as its own stack).
    Objs(Vec<ObjRef>),
    /// Part of a span (prefetch mode only).
    Span(Span),
}

// SAFETY: a `Span` points into a value in the GC heap, which no one changes or frees while the
// world is stopped, and every pass ends before the world restarts; the value's type is `Sync`
// (`Gc<T>` requires it), so reading it from another thread is allowed. The `ObjRef`s of `Objs`
// are addresses of walked objects, whose blocks stay allocated through the pause (`ObjRef` is
// `Send` on its own).
unsafe impl Send for Work {}

/// What the workers of one parallel pass share.
struct Pass {
    term: Termination,
    stealers: Vec<Stealer<Work>>,
}

/// A worker's part in a parallel pass.
struct Share {
    me: usize,
    deque: Worker<Work>,
    pass: Arc<Pass>,
}

/// The marking worklist and tracer of one pass (of one worker, in a parallel pass).
pub(crate) struct Marker<M> {
    use_prefetch: bool,
    ring: Box<[ObjRef]>,
    /// Free-running counters: the ring holds `pushed - popped` entries.
    pushed: usize,
    popped: usize,
    stack: Vec<ObjRef>,
    spans: Vec<Span>,
    /// Set in a parallel pass.
    share: Option<Share>,
    /// Objects traced since the last look at the other workers.
    ticks: u32,
    policy: M,
}

/// Runs one marking pass on `team`; returns a stack for reuse and each worker's policy as the
/// pass left it.
///
/// `source` is called on a worker's marker to take one piece of the pass's starting work and
/// mark from it (calling [`Marker::mark_from`] on each root it holds); it returns `false` when
/// no piece is left. It is shared by all workers, so it must hand each piece out once.
pub(crate) fn run_pass<M: Mark>(
    team: &Team,
    policy: M,
    use_prefetch: bool,
    stack: Vec<ObjRef>,
    source: impl Fn(&mut Marker<M>) -> bool + Sync,
) -> (Vec<ObjRef>, Vec<M>) {
    if !team.is_parallel() {
        let mut marker = Marker::new(policy, use_prefetch, stack, None);
        while source(&mut marker) {}
        return (marker.stack, vec![marker.policy]);
    }
    let n = team.size();
    let deques: Vec<Worker<Work>> = (0..n).map(|_| Worker::new_lifo()).collect();
    let pass = Arc::new(Pass {
        term: Termination::new(n),
        stealers: deques.iter().map(Worker::stealer).collect(),
    });
    let deques: Vec<Mutex<Option<Worker<Work>>>> =
        deques.into_iter().map(|d| Mutex::new(Some(d))).collect();
    let policies = team.run(|me| {
        let deque = deques[me]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("ftgc: a worker index was given out twice");
        let share = Share {
            me,
            deque,
            pass: Arc::clone(&pass),
        };
        let mut marker = Marker::new(policy, use_prefetch, Vec::new(), Some(share));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| marker.work(&source))) {
            // Let the others stop looking for work; the team resumes the panic.
            pass.term.abort();
            resume_unwind(panic);
        }
        marker.policy
    });
    (stack, policies)
}

impl<M: Mark> Marker<M> {
    /// An empty marker; `use_prefetch` chooses the mode.
    fn new(policy: M, use_prefetch: bool, stack: Vec<ObjRef>, share: Option<Share>) -> Marker<M> {
        let dangling = ObjRef(core::ptr::NonNull::dangling());
        Marker {
            use_prefetch,
            ring: vec![dangling; if use_prefetch { SIZE } else { 0 }].into_boxed_slice(),
            pushed: 0,
            popped: 0,
            stack,
            spans: Vec::new(),
            share,
            ticks: 0,
            policy,
        }
    }

    /// The index of this marker's worker (0 in a sequential pass).
    pub(crate) fn worker(&self) -> usize {
        self.share.as_ref().map_or(0, |s| s.me)
    }

    /// Marks everything reachable from `root` (and from what is already queued).
    pub(crate) fn mark_from(&mut self, root: ObjRef) {
        self.edge(root);
        self.propagate();
    }

    /// A worker's whole part in a parallel pass: sources, then its deque, then stealing.
    fn work(&mut self, source: &impl Fn(&mut Marker<M>) -> bool) {
        let pass = Arc::clone(&self.share.as_ref().expect("parallel pass").pass);
        loop {
            if pass.term.aborted() {
                return;
            }
            let own = self.share.as_ref().and_then(|s| s.deque.pop());
            if let Some(work) = own {
                self.take(work);
                self.propagate();
                continue;
            }
            if source(self) {
                continue;
            }
            let me = self.worker();
            let stealers = &pass.stealers;
            let found = pass.term.find_work(
                || stealers.iter().all(Stealer::is_empty),
                || steal_any(stealers, me),
            );
            match found {
                Some(work) => {
                    self.take(work);
                    self.propagate();
                }
                None => return,
            }
        }
    }

    /// Adds work from another worker.
    fn take(&mut self, work: Work) {
        match work {
            Work::Objs(objs) => self.stack.extend(objs),
            Work::Span(span) => self.spans.push(span),
        }
    }

    /// In a parallel pass, now and then: give work away if someone is hungry; stop if the pass
    /// was abandoned.
    #[inline(always)]
    fn tick(&mut self) {
        if self.share.is_some() {
            self.ticks += 1;
            if self.ticks >= SHARE_EVERY {
                self.ticks = 0;
                self.share_work();
            }
        }
    }

    #[cold]
    fn share_work(&mut self) {
        let Some(share) = &self.share else { return };
        if share.pass.term.aborted() {
            // Another worker panicked: the pass's result is thrown away, stop early.
            self.stack.clear();
            self.spans.clear();
            self.popped = self.pushed;
            return;
        }
        if !share.pass.term.someone_hungry() || !share.deque.is_empty() {
            return;
        }
        // What to give, best first: half of the lowest span that has two elements or more (the
        // lowest is the nearest the roots, and a span is work not yet touched); else the older
        // half of the stack; else the older half of the ring.
        if let Some(span) = self.spans.iter_mut().find(|s| s.len >= 2) {
            let give = span.len / 2;
            span.len -= give;
            share.deque.push(Work::Span(Span {
                start: span.start.wrapping_add(span.len),
                len: give,
            }));
        } else if self.stack.len() >= 2 {
            let half = self.stack.len() / 2;
            share
                .deque
                .push(Work::Objs(self.stack.drain(..half).collect()));
        } else if self.use_prefetch && self.pushed - self.popped >= 2 {
            // Ring entries are not marked yet, like stack entries in this mode.
            let give = (self.pushed - self.popped) / 2;
            let ring = &self.ring;
            let batch = (self.popped..self.popped + give)
                .map(|i| ring[i & MASK])
                .collect();
            self.popped += give;
            share.deque.push(Work::Objs(batch));
        }
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
                if self.policy.try_mark(obj) {
                    self.trace(obj);
                    self.tick();
                }
            }
        } else {
            while let Some(obj) = self.stack.pop() {
                self.trace(obj);
                self.tick();
            }
        }
    }

    #[inline(always)]
    fn trace(&mut self, obj: ObjRef) {
        let trace = obj.header().info().trace[M::KIND];
        // SAFETY: `try_mark` admits only live, initialised, not DEAD objects of the GC heap
        // (walked candidates, or objects a root reaches through handles), and the world is
        // stopped; `self` is this kind's tracer and is exclusive here.
        unsafe { trace(obj, (self as *mut Self).cast()) };
    }
}

/// One steal attempt from every other worker's deque: `None` if each looked empty or was
/// being stolen from by another thief (`Termination::find_work` then looks again).
fn steal_any(stealers: &[Stealer<Work>], me: usize) -> Option<Work> {
    let n = stealers.len();
    (1..n).find_map(|k| stealers[(me + k) % n].steal().success())
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
        } else if self.policy.try_mark(obj) {
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
