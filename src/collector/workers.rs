//! The collector's worker threads: a private `rayon` pool, and the team that runs one phase on
//! all of them.
//!
//! The workers only ever run during a pause, inside [`Team::run`], which returns when every one
//! of them is done: everything a worker does to the heap happens before the collecting thread
//! restarts the world (the pool's join orders it), and no worker touches an object while the
//! world runs. Workers are not mutators: they never allocate or free GC objects, and they run
//! no user code but `Trace` impls.
//!
//! One worker means no pool at all: each phase runs on the collecting thread, and
//! `update_refs` subtracts with plain updates instead of atomic ones (marks are plain stores
//! either way). That sequential path is the reference the parallel one is tested against.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

/// The pool, built on first use and rebuilt when the configured size changes.
pub(super) struct Pool {
    /// Configured size; 0 means the machine's parallelism.
    configured: AtomicUsize,
    built: Mutex<Option<Arc<ThreadPool>>>,
}

impl Pool {
    pub(super) const fn new() -> Pool {
        Pool {
            configured: AtomicUsize::new(0),
            built: Mutex::new(None),
        }
    }

    /// Sets the number of workers; 0 means the machine's parallelism.
    pub(super) fn set_size(&self, workers: usize) {
        // Ordering: Relaxed; configuration, read by the next collection.
        self.configured.store(workers, Ordering::Relaxed);
    }

    /// The number of workers the next collection uses.
    pub(super) fn size(&self) -> usize {
        match self.configured.load(Ordering::Relaxed) {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// The team for one collection. Builds the pool if needed (with the world running: a
    /// thread spawn must not happen in a pause). A pool that cannot be built (the OS refuses
    /// threads) leaves the collection sequential, with a warning.
    pub(super) fn team(&self) -> Team {
        let n = self.size();
        if n <= 1 {
            return Team { pool: None };
        }
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if built.as_ref().is_none_or(|p| p.current_num_threads() != n) {
            let pool = ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("ftgc-worker-{i}"))
                .build();
            match pool {
                Ok(p) => {
                    // Wait until every thread has started, so that the pause does not.
                    p.broadcast(|_| ());
                    *built = Some(Arc::new(p));
                }
                Err(e) => {
                    self.set_size(1);
                    *built = None;
                    drop(built);
                    // With the lock released: the handler is user code.
                    crate::warning::emit(crate::warning::Warning::WorkersUnavailable {
                        requested: n,
                        error: e.to_string(),
                    });
                    return Team { pool: None };
                }
            }
        }
        Team {
            pool: built.clone(),
        }
    }
}

/// The workers of one collection.
pub(crate) struct Team {
    pool: Option<Arc<ThreadPool>>,
}

impl Team {
    /// Number of workers.
    pub(crate) fn size(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// Whether phases run on several threads (and so `update_refs` subtracts atomically).
    pub(crate) fn is_parallel(&self) -> bool {
        self.pool.is_some()
    }

    /// Runs `f(worker index)` once on every worker and returns the results in worker order;
    /// returns when all are done. A panic on a worker is resumed here, after the others
    /// finish.
    pub(crate) fn run<R: Send>(&self, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
        match &self.pool {
            None => vec![f(0)],
            Some(pool) => pool.broadcast(|ctx| f(ctx.index())),
        }
    }
}

/// Hands out the indexes `0..len` (segments of the heap, pieces of a list) to the workers.
///
/// Each worker starts on a range of its own, taken front to back, so that at any moment the
/// workers are far apart in the heap: workers on neighbouring segments would write the same
/// cache lines (the children of neighbouring parents often are neighbours) and pull them from
/// core to core. A worker whose range is done takes indexes from the back of the others'.
pub(crate) struct Chunks {
    /// Per worker, its remaining range `[next, end)`, packed as `end << 32 | next`.
    ranges: Box<[AtomicU64]>,
}

const fn pack(next: usize, end: usize) -> u64 {
    (end as u64) << 32 | next as u64
}

const fn unpack(r: u64) -> (usize, usize) {
    ((r & 0xffff_ffff) as usize, (r >> 32) as usize)
}

impl Chunks {
    /// Indexes `0..len` for `workers` workers.
    pub(crate) fn new(len: usize, workers: usize) -> Chunks {
        assert!(len < 1 << 32, "ftgc: too many segments");
        let ranges = (0..workers)
            .map(|w| AtomicU64::new(pack(w * len / workers, (w + 1) * len / workers)))
            .collect();
        Chunks { ranges }
    }

    /// The next index for worker `me`, if any is left.
    #[inline]
    pub(crate) fn next(&self, me: usize) -> Option<usize> {
        let n = self.ranges.len();
        for k in 0..n {
            let range = &self.ranges[(me + k) % n];
            // Ordering: Relaxed; only uniqueness matters (the CAS gives it), the data each
            // index stands for was published before the workers started.
            let mut r = range.load(Ordering::Relaxed);
            loop {
                let (next, end) = unpack(r);
                if next >= end {
                    break;
                }
                // The owner takes the front, thieves the back.
                let (taken, rest) = if k == 0 {
                    (next, pack(next + 1, end))
                } else {
                    (end - 1, pack(next, end - 1))
                };
                match range.compare_exchange_weak(r, rest, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return Some(taken),
                    Err(now) => r = now,
                }
            }
        }
        None
    }
}
