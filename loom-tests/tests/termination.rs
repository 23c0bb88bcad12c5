//! Loom models of the termination protocol of parallel marking
//! (`src/collector/termination.rs`).
//!
//! The models run the crate's real `Termination` (through `ftgc::__loom`, built with
//! `--cfg loom`, so its atomics are loom's) with model deques: one `loom` mutex-guarded queue
//! per worker, which only its owner pushes to. The work is a small tree: processing an item
//! of depth `d > 0` pushes two items of depth `d - 1` on the worker's own deque, as marking an
//! object pushes its children. A worker drains its own deque, then calls `find_work`, which
//! steals from the others' fronts. Each model asserts what the protocol promises:
//!
//! * when `find_work` tells a worker the pass is over, no work is left anywhere, neither
//!   queued nor held by another worker (an `outstanding` counter, raised before a push and
//!   lowered after an item is done, is 0);
//! * every item is processed exactly once, and every worker returns (loom fails a model
//!   that deadlocks or spins forever).
//!
//! The models have two workers. With three, the idle workers' spinning multiplies the
//! interleavings beyond what loom explores in CI time (over 580,000 executions and still going
//! after 6 minutes, even with a single item); the protocol's argument does not depend on the
//! number of workers.
//!
//! `planted_uncounted_steal_is_caught` runs the same model with a thief that steals before
//! joining the active count, and asserts that loom finds the lost work.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! ftgc-loom-tests --target-dir target/loom --test termination -- --nocapture`.
#![cfg(loom)]

mod common;

use std::collections::VecDeque;

use common::{check, expect_caught};
use ftgc::__loom::{Termination, TerminationBug};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

struct Shared {
    term: Termination,
    deques: Vec<Mutex<VecDeque<u32>>>,
    /// Items pushed and not yet processed.
    outstanding: AtomicUsize,
    processed: AtomicUsize,
}

impl Shared {
    /// Processes one item on worker `me`: its children go on `me`'s deque.
    fn process(&self, me: usize, depth: u32) {
        if depth > 0 {
            // Ordering (model counters): SeqCst, so the assertions read one global order.
            self.outstanding.fetch_add(2, Ordering::SeqCst);
            let mut d = self.deques[me].lock().unwrap();
            d.push_back(depth - 1);
            d.push_back(depth - 1);
        }
        self.processed.fetch_add(1, Ordering::SeqCst);
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    fn worker(&self, me: usize) {
        loop {
            loop {
                let own = self.deques[me].lock().unwrap().pop_back();
                match own {
                    Some(item) => self.process(me, item),
                    None => break,
                }
            }
            let n = self.deques.len();
            let found = self.term.find_work(
                || self.deques.iter().all(|d| d.lock().unwrap().is_empty()),
                || (1..n).find_map(|k| self.deques[(me + k) % n].lock().unwrap().pop_front()),
            );
            match found {
                Some(item) => self.process(me, item),
                None => {
                    assert_eq!(
                        self.outstanding.load(Ordering::SeqCst),
                        0,
                        "model: worker {me} was told the pass is over while work was left"
                    );
                    return;
                }
            }
        }
    }
}

/// `workers` workers; worker `i` starts with one item of depth `depths[i]` (none if absent).
fn model(workers: usize, depths: &[u32], bug: TerminationBug) {
    let shared = Arc::new(Shared {
        term: Termination::with_planted_bug(workers, bug),
        deques: (0..workers).map(|_| Mutex::new(VecDeque::new())).collect(),
        outstanding: AtomicUsize::new(depths.len()),
        processed: AtomicUsize::new(0),
    });
    for (i, &depth) in depths.iter().enumerate() {
        shared.deques[i].lock().unwrap().push_back(depth);
    }
    let others: Vec<_> = (1..workers)
        .map(|me| {
            let shared = shared.clone();
            thread::spawn(move || shared.worker(me))
        })
        .collect();
    shared.worker(0);
    for t in others {
        t.join().unwrap();
    }
    assert_eq!(
        shared.processed.load(Ordering::SeqCst),
        depths.iter().map(|d| (1 << (d + 1)) - 1).sum::<usize>(),
        "model: every item processed exactly once"
    );
}

#[test]
fn two_workers_share_a_tree() {
    check("termination: 2 workers, one tree of depth 2", || {
        model(2, &[2], TerminationBug::None)
    });
}

#[test]
fn two_workers_with_a_tree_each() {
    check("termination: 2 workers, a tree of depth 1 each", || {
        model(2, &[1, 1], TerminationBug::None)
    });
}

#[test]
fn planted_uncounted_steal_is_caught() {
    expect_caught(
        "termination with an uncounted steal",
        "while work was left",
        || model(2, &[1], TerminationBug::UncountedSteal),
    );
}
