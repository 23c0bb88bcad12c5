//! Loom models of the stop-the-world protocol (`src/stw.rs`).
//!
//! The models drive the crate's real `World` through `ftgc::__loom` (built with `--cfg loom`,
//! `src/sync.rs` then hands `stw.rs` loom's atomics, mutexes and condvars). The heap is a row
//! of `loom::cell::UnsafeCell`s, one per mutator: a mutator touches its own cell only while it
//! is ATTACHED, and a requester touches every cell only while it holds a `WorldStopped`. Loom
//! tracks the happens-before relation, so any interleaving in which the protocol lets the two
//! overlap is reported as a causality violation. The models also assert the states they can:
//! while the witness is held, every other listed thread is held (SUSPENDED or PARKED).
//!
//! # Running
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p ftgc-loom-tests --target-dir target/loom -- --nocapture
//! ```
//!
//! (`.ci/run` does the same without `--nocapture`.) `--nocapture` shows one line per model:
//! its iteration count and time. Without `LOOM_MAX_PREEMPTIONS` the models use a bound of
//! `common::DEFAULT_PREEMPTIONS`: an unbounded search does not finish (see `.ci/run`). The planted-bug
//! tests (`planted_*`) plant a bug in `World` (`World::with_planted_bug`, loom builds only),
//! run a model under `catch_unwind` and assert that loom reports the bug; run one alone with
//! `... --target-dir target/loom planted_racy_attach -- --nocapture` to see loom's report.
//! Use release mode: a debug build runs the suite about 5 times slower (it also checks
//! `stw.rs`'s debug assertions, whose loads are extra loom operations; it passes there too).
//!
//! Loom's report of a failure names the kind of violation; set `LOOM_LOCATION=1` to have it
//! name source locations too (for example where each thread of a deadlock is blocked).
//! `LOOM_LOG` has no effect here: the models run through `loom::model::Builder`, which logs
//! only to a `tracing` subscriber, and the iteration counts come from a counter of our own.
//! A deadlock report can end in "panic in a destructor during cleanup" and abort the test
//! binary: loom's own cleanup panics; the first message is the report.
//!
//! Model c runs on `World::without_try_lock` (loom builds only), which makes `stop` skip its
//! `try_lock` fast path: loom 0.7.2 reports a false deadlock when two threads contend in
//! `try_lock` (tokio-rs/loom#376). The other models have one requester and use the real path.
#![cfg(loom)]

mod common;

use common::{caught, check};

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

use ftgc::__loom::{
    ATTACHED, PARKED, PlantedBug, STOP, SUSPENDED, ThreadState, World, WorldStopped,
};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// Options of one model run.
#[derive(Clone, Copy)]
struct Opts {
    /// The bug planted in `World`, if any.
    bug: PlantedBug,
    /// Assert thread states (mutators ATTACHED when they touch their cell, everyone else
    /// held, SUSPENDED or PARKED, during a pause). The planted-bug tests turn this off so that only the heap
    /// cells, that is loom's causality tracking, can catch the bug.
    check_states: bool,
}

const REAL: Opts = Opts {
    bug: PlantedBug::None,
    check_states: true,
};

/// The model heap: one cell per mutator.
struct Heap {
    cells: Vec<UnsafeCell<u32>>,
}

// SAFETY: the cells are shared between loom threads on purpose; loom checks every access
// against the happens-before relation and fails the model on a data race.
unsafe impl Sync for Heap {}

impl Heap {
    fn new(n: usize) -> Heap {
        Heap {
            cells: (0..n).map(|_| UnsafeCell::new(0)).collect(),
        }
    }

    /// The owner of cell `i` updates it; it must be ATTACHED.
    fn mutate(&self, i: usize, ts: &ThreadState, opts: Opts) {
        if opts.check_states {
            // The thread's own state: only it moves it out of ATTACHED.
            assert_eq!(
                ts.state(),
                ATTACHED,
                "model: {} touched the heap while not ATTACHED",
                ts.name()
            );
        }
        // SAFETY: loom checks the access; a racing one fails the model instead of being UB.
        self.cells[i].with_mut(|p| unsafe { *p += 1 });
    }

    /// The requester updates every cell; the witness says the world is stopped.
    fn collect(&self, _stopped: &WorldStopped<'_>) {
        for c in &self.cells {
            // SAFETY: as in `mutate`.
            c.with_mut(|p| unsafe { *p += 1 });
        }
    }

    /// The final value of cell `i` (all threads joined).
    fn value(&self, i: usize) -> u32 {
        // SAFETY: as in `mutate`.
        self.cells[i].with(|p| unsafe { *p })
    }
}

/// The model's own list of mutators, kept beside `World`'s private one so that a requester can
/// check their states while it holds the witness. A thread is listed from just after
/// `register` returns until just before it calls `unregister`, so a listed thread other than
/// the requester must be held (SUSPENDED or PARKED) during a pause. (The requester takes this lock only after
/// it has touched the cells, so the lock's happens-before edges cannot hide a race on them.)
struct Roster(Mutex<Vec<Arc<ThreadState>>>);

impl Roster {
    fn new() -> Roster {
        Roster(Mutex::new(Vec::new()))
    }

    fn join(&self, ts: &Arc<ThreadState>) {
        self.0.lock().unwrap().push(ts.clone());
    }

    fn leave(&self, ts: &Arc<ThreadState>) {
        self.0.lock().unwrap().retain(|t| !Arc::ptr_eq(t, ts));
    }

    /// Asserts that every listed thread but `me` is held (SUSPENDED or PARKED); returns their
    /// names.
    fn assert_others_suspended(&self, me: &ThreadState) -> Vec<String> {
        let list = self.0.lock().unwrap();
        let mut others = Vec::new();
        for t in list.iter().filter(|t| !std::ptr::eq(&***t, me)) {
            // A Relaxed snapshot is exact here: the last change of the word was made by the
            // requester (its CAS) or under `World::inner`, which the requester locked since.
            assert!(
                matches!(t.state(), SUSPENDED | PARKED),
                "model: {} is not held while the world is stopped (state {})",
                t.name(),
                t.state()
            );
            others.push(t.name().to_owned());
        }
        others
    }
}

/// The safepoint poll: park if a stop is requested.
fn safepoint(world: &World, ts: &ThreadState) {
    if world.breaker() & STOP != 0 {
        world.park(ts);
    }
}

/// Stops the world, touches every cell, checks the states, restarts. Returns the names of the
/// other listed threads, all held (empty when states are not checked).
fn pause(world: &World, me: &ThreadState, heap: &Heap, roster: &Roster, opts: Opts) -> Vec<String> {
    // Not dropped when loom fails the model during the pause (the planted-bug tests): in debug
    // builds the restart's assertions would panic again while unwinding, which aborts the test
    // binary.
    let stopped = ManuallyDrop::new(world.stop(me));
    heap.collect(&stopped);
    let mut others = Vec::new();
    if opts.check_states {
        assert_eq!(me.state(), ATTACHED, "model: the requester is not ATTACHED");
        others = roster.assert_others_suspended(me);
    }
    drop(ManuallyDrop::into_inner(stopped));
    others
}

/// Model a: one requester (the main thread) and two mutators that each register, write their
/// cell, poll a safepoint, write again and unregister.
fn model_a(opts: Opts) {
    let world = Arc::new(World::with_planted_bug(opts.bug));
    let heap = Arc::new(Heap::new(2));
    let roster = Arc::new(Roster::new());
    let mutators: Vec<_> = (0..2)
        .map(|i| {
            let (world, heap, roster) = (world.clone(), heap.clone(), roster.clone());
            thread::spawn(move || {
                let ts = world.register(format!("mutator {i}"));
                roster.join(&ts);
                heap.mutate(i, &ts, opts);
                safepoint(&world, &ts);
                heap.mutate(i, &ts, opts);
                roster.leave(&ts);
                world.unregister(&ts);
            })
        })
        .collect();
    let me = world.register("requester".into());
    pause(&world, &me, &heap, &roster, opts);
    world.unregister(&me);
    for m in mutators {
        m.join().unwrap();
    }
    assert_eq!(world.thread_count(), 0);
    for i in 0..2 {
        assert_eq!(
            heap.value(i),
            3,
            "cell {i}: two mutator writes and one pause"
        );
    }
}

/// Detach/attach rounds of the mutator, and pauses of the requester, in model b.
const B_ROUNDS: u32 = 2;

/// Model b: a requester (the main thread) stopping the world [`B_ROUNDS`] times, racing a
/// mutator that detaches and re-attaches [`B_ROUNDS`] times, touching its cell only while
/// attached.
fn model_b(opts: Opts) {
    let world = Arc::new(World::with_planted_bug(opts.bug));
    let heap = Arc::new(Heap::new(1));
    let roster = Arc::new(Roster::new());
    let mutator = {
        let (world, heap, roster) = (world.clone(), heap.clone(), roster.clone());
        thread::spawn(move || {
            let ts = world.register("mutator".into());
            roster.join(&ts);
            heap.mutate(0, &ts, opts);
            for _ in 0..B_ROUNDS {
                world.detach(&ts);
                if opts.check_states {
                    // Detached, possibly suspended by the requester by now; never ATTACHED.
                    assert_ne!(ts.state(), ATTACHED, "model: attached after detach");
                }
                world.attach(&ts);
                heap.mutate(0, &ts, opts);
            }
            roster.leave(&ts);
            world.unregister(&ts);
        })
    };
    let me = world.register("requester".into());
    for _ in 0..B_ROUNDS {
        pause(&world, &me, &heap, &roster, opts);
    }
    world.unregister(&me);
    mutator.join().unwrap();
    assert_eq!(world.thread_count(), 0);
    assert_eq!(heap.value(0), 1 + 2 * B_ROUNDS);
}

/// Executions of model c in which the winning requester saw the other one SUSPENDED inside
/// `stop` (a listed requester that is not the holder can only be there).
static WAITER_SUSPENDED: StdAtomicUsize = StdAtomicUsize::new(0);

/// Model c: two requesters at once (the main thread and one other; both registered mutators
/// that write their cell, stop the world, touch every cell, restart, write again) and one
/// plain mutator. The pauses must be serialised, and the requester that waits must wait
/// detached, so that the winner can suspend it.
fn model_c() {
    let opts = REAL;
    // Two requesters contend for the requester lock: see `World::without_try_lock`.
    let world = Arc::new(World::new().without_try_lock());
    let heap = Arc::new(Heap::new(3));
    let roster = Arc::new(Roster::new());
    let in_pause = Arc::new(AtomicBool::new(false));
    let requester = |i: usize| {
        let (world, heap, roster, in_pause) = (
            world.clone(),
            heap.clone(),
            roster.clone(),
            in_pause.clone(),
        );
        move || {
            let ts = world.register(format!("requester {i}"));
            roster.join(&ts);
            heap.mutate(i, &ts, opts);
            let stopped = world.stop(&ts);
            // Relaxed read-modify-writes see the latest value: a second holder would see `true`.
            assert!(
                !in_pause.swap(true, Ordering::Relaxed),
                "model: two pauses at once"
            );
            heap.collect(&stopped);
            assert_eq!(ts.state(), ATTACHED);
            let others = roster.assert_others_suspended(&ts);
            if others.iter().any(|n| n.starts_with("requester")) {
                WAITER_SUSPENDED.fetch_add(1, StdOrdering::Relaxed);
            }
            in_pause.store(false, Ordering::Relaxed);
            drop(stopped);
            heap.mutate(i, &ts, opts);
            roster.leave(&ts);
            world.unregister(&ts);
        }
    };
    let other = thread::spawn(requester(1));
    let mutator = {
        let (world, heap, roster) = (world.clone(), heap.clone(), roster.clone());
        thread::spawn(move || {
            let ts = world.register("mutator".into());
            roster.join(&ts);
            heap.mutate(2, &ts, opts);
            safepoint(&world, &ts);
            heap.mutate(2, &ts, opts);
            roster.leave(&ts);
            world.unregister(&ts);
        })
    };
    requester(0)();
    other.join().unwrap();
    mutator.join().unwrap();
    assert_eq!(world.thread_count(), 0);
    for i in 0..3 {
        assert_eq!(
            heap.value(i),
            4,
            "cell {i}: two owner writes and two pauses"
        );
    }
}

/// Executions of model d in which the registering thread was blocked in `register` (registered,
/// SUSPENDED) during the pause.
static REGISTERED_DURING_STOP: StdAtomicUsize = StdAtomicUsize::new(0);

/// Model d: while the main thread stops the world, one thread registers (and so starts
/// SUSPENDED if the stop is under way) and another, registered before the stop and ATTACHED,
/// unregisters (and so must count itself parked if the stop counted it).
fn model_d() {
    let opts = REAL;
    let world = Arc::new(World::new());
    let heap = Arc::new(Heap::new(2));
    let roster = Arc::new(Roster::new());
    let me = world.register("requester".into());
    // Registered (and attached) here, before the stop; its thread only unregisters.
    let leaving = world.register("unregisterer".into());
    roster.join(&leaving);
    let unregisterer = {
        let (world, heap, roster) = (world.clone(), heap.clone(), roster.clone());
        thread::spawn(move || {
            heap.mutate(0, &leaving, opts);
            roster.leave(&leaving);
            world.unregister(&leaving);
        })
    };
    let registerer = {
        let (world, heap, roster) = (world.clone(), heap.clone(), roster.clone());
        thread::spawn(move || {
            let ts = world.register("registerer".into());
            roster.join(&ts);
            heap.mutate(1, &ts, opts);
            roster.leave(&ts);
            world.unregister(&ts);
        })
    };
    {
        let stopped = world.stop(&me);
        heap.collect(&stopped);
        let listed = roster.assert_others_suspended(&me);
        // Registered threads not yet listed can only be blocked in `register`'s attach: the
        // registerer has no safepoint, so had it attached, the stop would have waited for it
        // to unregister.
        if world.thread_count() > 1 + listed.len() {
            REGISTERED_DURING_STOP.fetch_add(1, StdOrdering::Relaxed);
        }
        drop(stopped);
    }
    world.unregister(&me);
    unregisterer.join().unwrap();
    registerer.join().unwrap();
    assert_eq!(world.thread_count(), 0);
    assert_eq!(heap.value(0), 2);
    assert_eq!(heap.value(1), 2);
}

#[test]
fn a_requester_and_two_mutators_with_safepoints() {
    check("a (requester + 2 mutators, safepoint)", || model_a(REAL));
}

#[test]
fn b_requester_races_detach_and_reattach() {
    check("b (requester + detach/attach mutator)", || model_b(REAL));
}

#[test]
fn c_two_requesters_and_a_mutator() {
    check("c (2 requesters + mutator)", model_c);
    let n = WAITER_SUSPENDED.load(StdOrdering::Relaxed);
    println!("loom model c: the waiting requester was seen SUSPENDED in {n} executions");
    assert!(n > 0, "model c never suspended a waiting requester");
}

#[test]
fn d_register_and_unregister_during_a_stop() {
    check("d (register + unregister during a stop)", model_d);
    let n = REGISTERED_DURING_STOP.load(StdOrdering::Relaxed);
    println!("loom model d: a thread was registered SUSPENDED during the pause in {n} executions");
    assert!(n > 0, "model d never registered a thread during a stop");
}

/// Runs `model` with `bug` planted and state checks off, at the preemption bound CI uses
/// whatever the environment says (the planted bugs need a bound of 2 or more); asserts that loom
/// fails it and returns loom's message.
fn expect_failure(name: &str, model: fn(Opts), bug: PlantedBug) -> String {
    let opts = Opts {
        bug,
        check_states: false,
    };
    let msg = caught(&format!("{name} with {bug:?} planted"), move || model(opts));
    // The state checks are off, so in release builds only the heap cells can catch the bug.
    // Debug builds also have `stw.rs`'s debug assertions ("ftgc: ..."), which may fire first.
    assert!(
        msg.contains("Causality violation") || (cfg!(debug_assertions) && msg.contains("ftgc:")),
        "{name}: the model failed, but not on the heap cells: {msg:?}"
    );
    msg
}

#[test]
fn planted_racy_attach_is_caught() {
    expect_failure("b with a racy attach", model_b, PlantedBug::RacyAttach);
}

#[test]
fn planted_racy_attach_is_caught_by_model_a() {
    expect_failure("a with a racy attach", model_a, PlantedBug::RacyAttach);
}

#[test]
fn planted_skipped_countdown_is_caught() {
    expect_failure(
        "a without the countdown wait",
        model_a,
        PlantedBug::SkipCountdown,
    );
}
