//! Finalizers with CPython's PEP 442 semantics: called once, before anything in their garbage
//! is destroyed, with weak references already cleared; a finalizer may resurrect objects, and
//! then nothing it made reachable is freed.

mod common;

use std::sync::{Arc, Mutex};

use common::{DropToken, Drops, panic_message, serial};
use ftgc::{Finalize, Gc, GcMutex, Mutator, Trace, Weak};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Record what the finalizer sees.
    Record,
    /// Store a handle to itself in `SAVED`.
    Resurrect,
    /// Panic.
    Panic,
}

/// What a finalizer saw: its own id, the id through `next`, the fixture's drop count, and
/// whether its weak reference was dead.
type Seen = (usize, Option<usize>, usize, bool);
type Log = Arc<Mutex<Vec<Seen>>>;

/// Handles finalizers stored (resurrected objects).
static SAVED: Mutex<Vec<Gc<Fin>>> = Mutex::new(Vec::new());

#[derive(Trace)]
struct Fin {
    id: usize,
    next: GcMutex<Option<Gc<Fin>>>,
    #[trace(skip)]
    _token: DropToken,
    #[trace(skip)]
    mode: Mode,
    /// What the finalizer saw: (own id, id and drop count seen through `next`, weak dead).
    #[trace(skip)]
    log: Log,
    #[trace(skip)]
    drops: Drops,
    #[trace(skip)]
    weak: Mutex<Option<Weak<Fin>>>,
}

impl Finalize for Fin {
    fn finalize(this: &Gc<Self>, m: &mut Mutator) {
        // It may allocate.
        let scratch = Gc::new(m, 1u64);
        let me = this.get(m);
        let next = me.next.lock().as_ref().map(|n| n.get(m).id);
        let weak_dead = me
            .weak
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|w| w.upgrade(m).is_none());
        me.log
            .lock()
            .unwrap()
            .push((me.id, next, me.drops.get(), weak_dead));
        drop(scratch);
        match me.mode {
            Mode::Record => {}
            Mode::Resurrect => SAVED.lock().unwrap().push(this.clone()),
            Mode::Panic => panic!("finalizer bomb"),
        }
    }
}

struct Fixture {
    drops: Drops,
    log: Log,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            drops: Drops::new(),
            log: Arc::default(),
        }
    }

    fn fin(&self, m: &mut Mutator, id: usize, mode: Mode) -> Gc<Fin> {
        let f = Gc::new_finalized(
            m,
            Fin {
                id,
                next: GcMutex::new(None),
                _token: self.drops.token(),
                mode,
                log: self.log.clone(),
                drops: self.drops.clone(),
                weak: Mutex::new(None),
            },
        );
        *f.get(m).weak.lock().unwrap() = Some(Gc::downgrade(&f));
        f
    }

    fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

/// a → b → a.
fn pair(m: &mut Mutator, f: &Fixture, a: Mode, b: Mode) -> (Gc<Fin>, Gc<Fin>) {
    let x = f.fin(m, 1, a);
    let y = f.fin(m, 2, b);
    *x.get(m).next.lock() = Some(y.clone());
    *y.get(m).next.lock() = Some(x.clone());
    (x, y)
}

#[test]
fn a_finalizer_runs_once_before_its_cycle_is_destroyed() {
    let _s = serial();
    let mut m = Mutator::new();
    let f = Fixture::new();
    let (x, y) = pair(&mut m, &f, Mode::Record, Mode::Record);
    let weak = Gc::downgrade(&x);
    drop((x, y));
    let stats = m.collect();
    let mut log = f.log();
    log.sort_by_key(|e| e.0);
    assert_eq!(
        log,
        [(1, Some(2), 0, true), (2, Some(1), 0, true)],
        "each finalizer ran once, saw its neighbour intact, nothing dropped yet, weak refs \
         cleared"
    );
    assert!(stats.finalized >= 2 && stats.passes >= 2, "{stats:?}");
    assert!(ftgc::collector().totals().finalized >= 2);
    assert_eq!(f.drops.get(), 2, "then the second pass destroyed the cycle");
    assert!(weak.upgrade(&m).is_none());
    m.collect();
    assert_eq!(f.log().len(), 2, "never again");
}

#[test]
fn a_resurrected_object_and_what_it_reaches_are_not_freed_and_not_finalized_twice() {
    let _s = serial();
    let mut m = Mutator::new();
    let f = Fixture::new();
    let (x, y) = pair(&mut m, &f, Mode::Resurrect, Mode::Record);
    drop((x, y));
    m.collect();
    assert_eq!(f.log().len(), 2);
    assert_eq!(
        f.drops.get(),
        0,
        "the finalizer made the cycle reachable again"
    );
    let saved = SAVED.lock().unwrap().pop().expect("resurrected");
    assert_eq!(saved.get(&m).id, 1);
    let next = saved
        .get(&m)
        .next
        .lock()
        .clone()
        .expect("its neighbour is intact");
    assert_eq!(next.get(&m).id, 2);
    assert!(Gc::is_finalized(&saved) && Gc::is_finalized(&next));
    assert!(
        Gc::downgrade(&saved).upgrade(&m).is_some(),
        "new weak refs work"
    );
    drop((saved, next));
    m.collect();
    assert_eq!(f.drops.get(), 2, "dead again: destroyed");
    assert_eq!(
        f.log().len(),
        2,
        "without running the finalizers a second time"
    );
}

#[test]
fn a_panicking_finalizer_does_not_stop_the_collection() {
    let _s = serial();
    let mut m = Mutator::new();
    let f = Fixture::new();
    let (x, y) = pair(&mut m, &f, Mode::Panic, Mode::Record);
    drop((x, y));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.collect()))
        .expect_err("the finalizer's panic resumes");
    assert_eq!(panic_message(&*err), "finalizer bomb");
    assert_eq!(f.log().len(), 2, "the other finalizer ran too");
    assert_eq!(f.drops.get(), 2, "and the cycle was destroyed");
}

#[test]
fn no_finalizer_runs_when_the_count_reaches_zero() {
    let _s = serial();
    let mut m = Mutator::new();
    let f = Fixture::new();
    let x = f.fin(&mut m, 1, Mode::Record);
    assert!(!Gc::is_finalized(&x));
    drop(x);
    assert_eq!(f.drops.get(), 1, "count reached zero: dropped at once");
    assert!(
        f.log().is_empty(),
        "finalizers are for garbage the collector finds"
    );
}
