//! Drop counting, so that every workload can verify its own result.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

static DROPPED: AtomicUsize = AtomicUsize::new(0);
static RUN: Mutex<()> = Mutex::new(());

/// Runs one workload with the drop count to itself: takes the run lock (so that parallel
/// tests never share the global count), resets the count, runs `f`.
pub fn exclusive<R>(f: impl FnOnce() -> R) -> R {
    let _run = RUN.lock().unwrap_or_else(PoisonError::into_inner);
    Tally::reset();
    f()
}

/// A token to embed in each counted object (a zero-sized field with a `Drop` impl). Mark it
/// `#[trace(skip)]` / `#[unsafe_ignore_trace]` / untraced as the subject's derive requires: it
/// holds no handle.
#[derive(Debug, Default)]
pub struct Tally;

impl Tally {
    /// A new token; its drop is counted.
    #[inline]
    pub fn new() -> Tally {
        Tally
    }

    /// Resets the global count (the harness does this before each run).
    pub fn reset() {
        DROPPED.store(0, Ordering::SeqCst);
    }

    /// Tokens dropped since the last reset.
    pub fn dropped() -> usize {
        DROPPED.load(Ordering::SeqCst)
    }
}

impl Drop for Tally {
    #[inline]
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}
