//! Loom models of the object layer: the last-reference drop and the release queue, weak
//! upgrades racing it, and the strong count's saturation.
//!
//! They run the crate's real code built with `--cfg loom`: `Gc`, `Weak`, `Mutator`, the
//! release queue and the weak table take their atomics and locks from the `sync` shim, the
//! runtime is created afresh for every execution, and objects come from a loom build of the
//! heap that panics on a double free or a use after free (`src/heap.rs`, `registry`).
//!
//! * `release`: an object with three handles, dropped by an attached mutator, by a thread that
//!   is not a mutator (which must queue it), and raced by a mutator upgrading a weak reference,
//!   while the first mutator runs a collection (drain the queue, stop the world, restart).
//!   Checked: the value is destroyed exactly once, never while a handle can read it, never on a
//!   thread that may not free a GC-heap block, and the weak reference is dead at the end.
//! * `saturation`: increments and decrements racing at the immortal boundary. Checked: a
//!   count that reached `IMMORTAL_MIN` ends pinned near `IMMORTAL` (far from both ends of the
//!   range), a count that did not is exact, and no decrement reports a last reference.
//!
//! Each has planted-bug variants (`ftgc::__loom::Bug`) that loom must catch.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! ftgc-loom-tests --target-dir target/loom --test objects -- --nocapture`.
#![cfg(loom)]

mod common;

use common::{check, expect_caught};
use ftgc::__loom::{Bug, RefCount, plant, take_violations, violation};
use ftgc::{Gc, Mutator, Trace};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

const MAGIC: u64 = 0x0b1e_c7ed;

/// A GC-heap value (it has a handle field) that counts its drops.
#[derive(Trace)]
struct Value {
    #[trace(skip)]
    drops: Arc<AtomicUsize>,
    #[trace(skip)]
    magic: u64,
    next: Option<Gc<Value>>,
}

impl Drop for Value {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn release_model() {
    take_violations(); // none are left from an earlier execution
    let drops = Arc::new(AtomicUsize::new(0));
    let (destroyed, upgrade_failed_at_end) = release_scenario(&drops);
    // Asserted with every loom object of the execution gone (see `ftgc::__loom::violation`).
    let violations = take_violations();
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(destroyed, 1, "the value is destroyed exactly once");
    assert!(
        upgrade_failed_at_end,
        "the weak reference is dead at the end"
    );
}

/// Returns the drop count and whether the weak reference was dead at the end.
fn release_scenario(drops: &Arc<AtomicUsize>) -> (usize, bool) {
    ftgc::collector().set_workers(1);
    let mut m0 = Mutator::new();
    let x = Gc::new(
        &mut m0,
        Value {
            drops: drops.clone(),
            magic: MAGIC,
            next: None,
        },
    );
    let weak = Gc::downgrade(&x);

    // Not a mutator: if its handle is the last, the object must go to the release queue.
    let x1 = x.clone();
    let dropper = thread::spawn(move || drop(x1));

    let (w2, d2) = (weak.clone(), drops.clone());
    let upgrader = thread::spawn(move || {
        let mut m2 = Mutator::new();
        if let Some(x) = w2.upgrade(&m2) {
            if d2.load(Ordering::SeqCst) != 0 || x.get(&m2).magic != MAGIC {
                violation("an upgrade returned a handle to a destroyed value".to_owned());
            }
            drop(x); // may be the last handle: destroyed here, on an attached mutator
        }
        m2.safepoint();
    });

    drop(x);
    // Drains the queue, stops the world (parking or suspending the upgrader), restarts.
    m0.collect();
    m0.detached(|| {
        dropper.join().unwrap();
        upgrader.join().unwrap();
    });
    m0.safepoint(); // drains what the dropper queued after the collection, if anything
    let dead = weak.upgrade(&m0).is_none() && weak.is_dead();
    (drops.load(Ordering::SeqCst), dead)
}

#[test]
fn release_queue_weak_upgrade_and_a_stop() {
    check(
        "release: mutator drop, off-mutator drop, weak upgrade, collection",
        release_model,
    );
}

#[test]
fn planted_racy_upgrade_is_caught() {
    plant(Bug::RacyUpgrade);
    expect_caught(
        "release with a racy upgrade",
        "destroyed twice",
        release_model,
    );
    plant(Bug::None);
}

#[test]
fn planted_free_off_mutator_is_caught() {
    plant(Bug::FreeOffMutator);
    expect_caught(
        "release destroying off-mutator",
        "not an attached mutator",
        release_model,
    );
    plant(Bug::None);
}

/// Runs `ops` (`true`: a clone's increment, `false`: a drop's decrement), one list per thread,
/// on a count that starts at `start`; returns the final count.
fn race(start: u32, ops: &[&'static [bool]]) -> u32 {
    let count = Arc::new(RefCount::new(start));
    let released = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = ops
        .iter()
        .map(|&list| {
            let (count, released) = (count.clone(), released.clone());
            thread::spawn(move || {
                for &inc in list {
                    if inc {
                        count.inc();
                    } else if count.dec() {
                        released.store(true, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        !released.load(Ordering::SeqCst),
        "a decrement reported the last reference of a count far from zero"
    );
    count.get()
}

/// Whether `n` is pinned: within `ops` of `IMMORTAL`.
fn pinned(n: u32, ops: u32) -> bool {
    n.abs_diff(RefCount::IMMORTAL) <= ops
}

/// Two increments racing from two below the boundary: every interleaving reaches it.
fn crossing_model() {
    let end = race(RefCount::IMMORTAL_MIN - 2, &[&[true], &[true]]);
    assert!(
        pinned(end, 2),
        "the count reached IMMORTAL_MIN but ended at {end}, not pinned near IMMORTAL"
    );
}

#[test]
fn saturation_at_the_boundary() {
    check(
        "saturation: two increments cross the boundary",
        crossing_model,
    );
    // An increment racing two decrements from one below: the count saturates only if the
    // increment comes first; otherwise it stays exact.
    check("saturation: an increment races two decrements", || {
        let start = RefCount::IMMORTAL_MIN - 1;
        let end = race(start, &[&[true], &[false, false]]);
        assert!(
            pinned(end, 3) || end == start - 1,
            "ended at {end}: neither pinned nor the exact count {}",
            start - 1
        );
    });
    // Near the top of the range: pinned counts never wrap.
    check("saturation: traffic on a pinned count", || {
        let end = race(RefCount::IMMORTAL, &[&[true, false], &[false, true]]);
        assert!(pinned(end, 4), "a pinned count drifted to {end}");
    });
}

#[test]
fn planted_racy_saturation_is_caught() {
    plant(Bug::RacySaturation);
    expect_caught(
        "saturation decided on a load",
        "not pinned near IMMORTAL",
        crossing_model,
    );
    plant(Bug::None);
}
