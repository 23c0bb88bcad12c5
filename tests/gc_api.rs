//! The gc-module surface on `Collector` and `Mutator`: introspection (objects, referents,
//! referrers, is_tracked), type-erased handles, collection callbacks, and the save-all debug
//! mode.
//!
//! Alone in its binary, and its tests serialised: callbacks and save-all are process-wide.

mod common;

use std::sync::{Arc, Mutex};

use common::{Drops, Node, panic_message, ring, serial};
use ftgc::{CollectionPhase, Gc, GcAny, Mutator, Reason, Trace};

#[test]
fn objects_referents_and_referrers_see_the_graph() {
    let _s = serial();
    let mut m = Mutator::new();
    let drops = Drops::new();
    let a = Node::new(&mut m, 1, &drops);
    let b = Node::new(&mut m, 2, &drops);
    let c = Node::new(&mut m, 3, &drops);
    Node::link(&m, &a, &b);
    Node::link(&m, &a, &c);
    Node::link(&m, &a, &b); // held twice
    Node::link(&m, &c, &b);
    let leaf = Gc::new(&mut m, 5u64);
    assert!(Gc::is_tracked(&a) && !Gc::is_tracked(&leaf));

    let all = m.objects();
    for n in [&a, &b, &c] {
        let any = GcAny::from(n.clone());
        assert!(all.contains(&any), "objects() lists node {}", n.get(&m).id);
        assert!(any.is_tracked() && any.is::<Node>() && !any.is::<u64>());
        assert!(any.type_name().ends_with("Node"));
    }
    drop(all);

    let ids = |m: &Mutator, v: Vec<GcAny>| -> Vec<usize> {
        v.into_iter()
            .map(|o| o.downcast::<Node>().expect("a Node").get(m).id)
            .collect()
    };
    let referents = m.referents(&GcAny::from(a.clone()));
    assert_eq!(
        ids(&m, referents),
        [2, 3, 2],
        "in report order, duplicates kept"
    );
    let referrers = m.referrers(&[GcAny::from(b.clone())]);
    let mut referrers = ids(&m, referrers);
    referrers.sort();
    assert_eq!(referrers, [1, 3]);
    assert!(m.referrers(&[GcAny::from(a.clone())]).is_empty());

    // A wrong downcast hands the handle back; handles keep their objects alive.
    let any = GcAny::from(c.clone());
    let any = any.downcast::<u64>().expect_err("not a u64");
    drop((a, c));
    m.collect();
    assert_eq!(
        drops.get(),
        1,
        "only a died: c is held by the GcAny, b by c"
    );
    drop(any);
    assert_eq!(drops.get(), 2);
    drop(b);
    assert_eq!(drops.get(), 3);
}

#[test]
fn callbacks_see_start_and_stop_and_can_be_removed() {
    let _s = serial();
    let mut m = Mutator::new();
    let c = ftgc::collector();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let id = c.add_callback(move |phase, stats| {
        log.lock()
            .unwrap()
            .push((phase, stats.reason, stats.collected));
    });
    let drops = Drops::new();
    drop(ring(&mut m, 4, &drops));
    m.collect();
    let got = seen.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            (CollectionPhase::Start, Reason::Manual, 0),
            (CollectionPhase::Stop, Reason::Manual, 4)
        ]
    );
    assert!(c.remove_callback(id));
    assert!(!c.remove_callback(id));
    m.collect();
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "a removed callback is not called"
    );
}

#[test]
fn a_panicking_callback_does_not_stop_the_collection() {
    let _s = serial();
    let mut m = Mutator::new();
    let c = ftgc::collector();
    let id = c.add_callback(|phase, _| {
        if phase == CollectionPhase::Start {
            panic!("callback bomb");
        }
    });
    let drops = Drops::new();
    drop(ring(&mut m, 3, &drops));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.collect()))
        .expect_err("the callback's panic resumes");
    assert_eq!(panic_message(&*err), "callback bomb");
    assert_eq!(drops.get(), 3, "the collection still freed the garbage");
    c.remove_callback(id);
}

#[test]
fn saveall_keeps_garbage_intact_for_the_embedder() {
    let _s = serial();
    let mut m = Mutator::new();
    let c = ftgc::collector();
    let drops = Drops::new();
    c.set_debug_saveall(true);
    let weak = Gc::downgrade(&ring(&mut m, 3, &drops)[0]);
    let stats = m.collect();
    c.set_debug_saveall(false);
    assert_eq!(
        (stats.uncollectable, stats.collected),
        (3, 0),
        "found, kept"
    );
    assert_eq!(drops.get(), 0, "but not destroyed");
    let garbage = c.take_garbage();
    assert_eq!(garbage.len(), 3);
    let first = weak
        .upgrade(&m)
        .expect("kept garbage is intact, weak refs included");
    assert!(garbage.contains(&GcAny::from(first.clone())));
    let mut ids: Vec<usize> = garbage
        .iter()
        .map(|g| g.clone().downcast::<Node>().unwrap().get(&m).id)
        .collect();
    ids.sort();
    assert_eq!(ids, [0, 1, 2]);
    drop((garbage, first));
    assert!(c.take_garbage().is_empty(), "taken once");
    m.collect();
    assert_eq!(
        drops.get(),
        3,
        "once let go, the cycle is collected normally"
    );
}

#[test]
fn weak_callbacks_run_once_when_the_object_dies() {
    let _s = serial();
    let mut m = Mutator::new();
    let drops = Drops::new();
    let calls = Arc::new(Mutex::new(Vec::new()));

    // Death by count: on this thread, after the value is gone.
    let lone = Node::new(&mut m, 7, &drops);
    let (log, d) = (calls.clone(), drops.clone());
    let weak =
        Gc::downgrade_with_callback(&lone, move || log.lock().unwrap().push(("lone", d.get())));
    drop(weak); // the callback belongs to the object, not to this Weak
    drop(lone);
    assert_eq!(*calls.lock().unwrap(), [("lone", 1)]);

    // Found garbage: after the world restarts, before the destructors.
    let cycle = ring(&mut m, 3, &drops);
    let (log, d) = (calls.clone(), drops.clone());
    let weak = Gc::downgrade_with_callback(&cycle[1], move || {
        log.lock().unwrap().push(("cycle", d.get()));
    });
    drop(cycle);
    m.collect();
    assert_eq!(*calls.lock().unwrap(), [("lone", 1), ("cycle", 1)]);
    assert_eq!(drops.get(), 4);
    assert!(weak.upgrade(&m).is_none());
    m.collect();
    assert_eq!(calls.lock().unwrap().len(), 2, "once");
}

/// Keeps its neighbour's handle alive past a collection, from its destructor.
#[derive(Trace)]
struct Keeper {
    next: ftgc::GcMutex<Option<Gc<Keeper>>>,
    child: Gc<Node>,
}

static KEPT: Mutex<Vec<Gc<Keeper>>> = Mutex::new(Vec::new());
static KEPT_WEAK: Mutex<Vec<ftgc::Weak<Keeper>>> = Mutex::new(Vec::new());

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(n) = self.next.get_mut().take() {
            // A weak reference made from a destroyed object's handle is dead from the start.
            KEPT_WEAK.lock().unwrap().push(Gc::downgrade(&n));
            KEPT.lock().unwrap().push(n);
        }
    }
}

#[test]
fn a_destroyed_object_references_nothing() {
    let _s = serial();
    let mut m = Mutator::new();
    let drops = Drops::new();
    let keeper = |m: &mut Mutator, id| {
        let child = Node::new(m, id, &drops);
        Gc::new(
            m,
            Keeper {
                next: ftgc::GcMutex::new(None),
                child,
            },
        )
    };
    let a = keeper(&mut m, 1);
    let b = keeper(&mut m, 2);
    *a.get(&m).next.lock() = Some(b.clone());
    *b.get(&m).next.lock() = Some(a.clone());
    drop((a, b));
    m.collect();
    let kept = std::mem::take(&mut *KEPT.lock().unwrap());
    assert_eq!(kept.len(), 2, "the destructors kept each other's handles");
    for k in &kept {
        // The value is gone: nothing to trace (and reading it would panic).
        assert!(m.referents(&GcAny::from(k.clone())).is_empty());
    }
    for w in std::mem::take(&mut *KEPT_WEAK.lock().unwrap()) {
        assert!(w.is_dead() && w.upgrade(&m).is_none());
    }
    drop(kept);
    assert_eq!(drops.get(), 2);
}
