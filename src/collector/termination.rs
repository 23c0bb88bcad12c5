//! When a work-stealing marking pass is over: termination detection for the parallel workers.
//!
//! Each worker owns a deque it alone pushes to and pops from; others steal from it. A worker
//! that runs out of work (its private worklist, its deque and the pass's shared sources all
//! empty) calls [`Termination::find_work`], which steals until it gets something or the pass is
//! over.
//!
//! # The protocol
//!
//! `active` counts the workers that hold work or may be about to. It starts at the number of
//! workers. A worker leaves the count when it runs out of work, and joins it again *before*
//! each steal attempt, leaving it once more if the attempt fails.
//!
//! Invariant: **while `active` is 0, no work exists anywhere.** Every worker is then looking for
//! work; each left the count only after finding its own deque and the sources empty; nothing
//! was pushed to its deque since (only its owner pushes, and only while counted); and nobody
//! holds stolen work it has not counted (thieves count themselves first). So a worker that reads
//! 0 can end the pass for everyone (`done`), and no work is ever left behind.
//!
//! A worker looking for work only joins the count when some deque looks non-empty, so once the
//! work is gone the count falls to 0 and stays there: every looking worker sees it and stops.
//!
//! A panic on a worker ends the pass too ([`Termination::abort`]): the others drop what they
//! hold and stop, and the panic is resumed on the collecting thread.
//!
//! `loom-tests/tests/termination.rs` model-checks this code (through `crate::sync`), with a
//! planted bug (an uncounted steal) that it must catch.

use crate::sync::{AtomicBool, AtomicUsize, Ordering, spin};

/// A bug to plant in the protocol, so that the loom model can show it catches it (loom builds
/// only).
#[cfg(loom)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// The real protocol.
    None,
    /// Steal without joining the count first.
    UncountedSteal,
}

/// The shared termination state of one pass. See the module docs for the protocol.
pub struct Termination {
    workers: usize,
    /// Workers that hold work or are about to (see the invariant in the module docs).
    active: AtomicUsize,
    /// The pass is over (or aborted): looking workers stop.
    done: AtomicBool,
    /// A worker panicked.
    aborted: AtomicBool,
    #[cfg(loom)]
    bug: PlantedBug,
}

impl Termination {
    /// The state of a pass run by `workers` workers, all of them counted as active.
    pub fn new(workers: usize) -> Termination {
        Termination {
            workers,
            active: AtomicUsize::new(workers),
            done: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            #[cfg(loom)]
            bug: PlantedBug::None,
        }
    }

    /// A pass with a planted bug (loom builds only).
    #[cfg(loom)]
    pub fn with_planted_bug(workers: usize, bug: PlantedBug) -> Termination {
        Termination {
            bug,
            ..Termination::new(workers)
        }
    }

    /// Whether some worker is looking for work: a worker holding plenty should share.
    #[inline]
    pub fn someone_hungry(&self) -> bool {
        // Ordering: Relaxed; a hint only, a stale answer costs a late or needless share.
        self.active.load(Ordering::Relaxed) < self.workers
    }

    /// Whether a worker panicked and the pass was abandoned.
    pub fn aborted(&self) -> bool {
        // Ordering: Relaxed; a stop hint read by workers during the pass: a stale `false`
        // only delays the stop (the pass's result is thrown away anyway).
        self.aborted.load(Ordering::Relaxed)
    }

    /// Ends the pass after a panic on the calling worker, which must not take part in it again
    /// (it does not call `find_work` afterwards).
    pub fn abort(&self) {
        // Ordering: Relaxed; `done` only makes looking workers stop, and the panic itself is
        // handed over by the worker join.
        self.aborted.store(true, Ordering::Relaxed);
        self.done.store(true, Ordering::Relaxed);
    }

    /// Called by a worker that has run out of work: its private worklist, its deque and the
    /// shared sources are empty, and it will push nothing until this returns `Some`. Steals
    /// with `steal` until it gets work (`Some`) or the pass is over (`None`); a steal attempt
    /// returns `None` when it took nothing (the deques looked empty, or it lost a race with
    /// another thief: either way the loop looks again). `looks_empty` tells, without taking
    /// anything, whether every deque is empty.
    pub fn find_work<T>(
        &self,
        mut looks_empty: impl FnMut() -> bool,
        mut steal: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        // Ordering: SeqCst on `active`, here and below. The invariant is about one total order
        // of joins, leaves and deque operations: a leave must follow the owner's last push and
        // its empty pop, and a join must precede the steal it covers; SeqCst gives that order
        // and makes a reader of 0 see every push before it.
        self.active.fetch_sub(1, Ordering::SeqCst);
        let mut step = 0;
        loop {
            // Ordering: Relaxed; `done` carries no data (see `abort` and below).
            if self.done.load(Ordering::Relaxed) {
                return None;
            }
            if looks_empty() {
                if self.active.load(Ordering::SeqCst) == 0 {
                    // No work exists anywhere (the invariant): the pass is over.
                    self.done.store(true, Ordering::Relaxed);
                    return None;
                }
                spin(&mut step);
                continue;
            }
            #[cfg(loom)]
            let counted = self.bug != PlantedBug::UncountedSteal;
            #[cfg(not(loom))]
            let counted = true;
            if counted {
                self.active.fetch_add(1, Ordering::SeqCst);
            }
            match steal() {
                Some(work) => {
                    if !counted {
                        self.active.fetch_add(1, Ordering::SeqCst);
                    }
                    return Some(work);
                }
                None => {
                    if counted {
                        self.active.fetch_sub(1, Ordering::SeqCst);
                    }
                    spin(&mut step);
                }
            }
        }
    }
}
