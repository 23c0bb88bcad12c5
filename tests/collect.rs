//! Collection behaviour: garbage cycles are freed, live graphs are kept, references from
//! outside the heap (other threads, non-GC memory) are respected, weak references are cleared.

mod common;

use std::sync::{Arc, Mutex, mpsc};

use common::{Drops, Node, ring};
use ftgc::{Gc, Mutator, Root, Trace, Weak};

#[test]
fn cycles_of_1_2_4_and_1000_are_freed() {
    let mut m = Mutator::new();
    for n in [1, 2, 4, 1000] {
        let drops = Drops::new();
        let nodes = ring(&mut m, n, &drops);
        drop(nodes);
        assert_eq!(
            drops.get(),
            0,
            "a cycle of {n} must not be freed by counting alone"
        );
        m.collect();
        assert_eq!(
            drops.get(),
            n,
            "cycle of {n}: every node freed exactly once"
        );
    }
}

#[test]
fn live_cycles_are_kept() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let nodes = ring(&mut m, 100, &drops);
    // Extra chords make several overlapping cycles.
    for i in (0..100).step_by(7) {
        Node::link(&m, &nodes[i], &nodes[(i * 3) % 100]);
    }
    let keep = nodes[42].clone();
    drop(nodes);
    m.collect();
    m.collect();
    assert_eq!(
        drops.get(),
        0,
        "a cycle held by a handle on the stack is live"
    );
    // Walk the whole ring through the handle: every node is intact.
    let mut cur = keep.clone();
    let mut seen = 0;
    loop {
        let next = cur.get(&m).edges.lock().unwrap()[0].clone();
        seen += 1;
        cur = next;
        if Gc::ptr_eq(&cur, &keep) {
            break;
        }
    }
    assert_eq!(seen, 100);
    drop((cur, keep));
    m.collect();
    assert_eq!(drops.get(), 100);
}

#[test]
fn garbage_hanging_off_a_live_object_is_freed_once_unlinked() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let root = Node::new(&mut m, 0, &drops);
    let cycle = ring(&mut m, 10, &drops);
    Node::link(&m, &root, &cycle[0]);
    drop(cycle);
    m.collect();
    assert_eq!(drops.get(), 0, "reachable from a live root");
    root.get(&m).edges.lock().unwrap().clear();
    m.collect();
    assert_eq!(drops.get(), 10);
    drop(root);
    assert_eq!(drops.get(), 11, "acyclic garbage dies at once");
}

#[test]
fn a_handle_held_only_by_a_non_mutator_thread_keeps_its_object_alive() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let nodes = ring(&mut m, 3, &drops);
    let (to_holder, held) = mpsc::channel::<Gc<Node>>();
    let (release, released) = mpsc::channel::<()>();
    let (ack, acked) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        // Not a mutator: it may own handles but never reads through them.
        let h = held.recv().unwrap();
        ack.send(()).unwrap();
        released.recv().unwrap();
        drop(h);
    });
    to_holder.send(nodes[1].clone()).unwrap();
    drop(nodes);
    m.detached(|| acked.recv().unwrap());
    m.collect();
    m.collect();
    assert_eq!(
        drops.get(),
        0,
        "the other thread's handle counts as an outside reference"
    );
    release.send(()).unwrap();
    m.detached(|| holder.join().unwrap());
    m.collect();
    assert_eq!(drops.get(), 3);
}

/// Records the thread its destructor ran on. It can hold a handle, so it lives in the GC heap
/// (leaf objects may be freed on any thread).
#[derive(Trace)]
struct RecordsDropThread {
    _next: Option<Gc<RecordsDropThread>>,
    #[trace(skip)]
    on: Arc<Mutex<Option<std::thread::ThreadId>>>,
}

impl Drop for RecordsDropThread {
    fn drop(&mut self) {
        *self.on.lock().unwrap() = Some(std::thread::current().id());
    }
}

#[test]
fn a_last_handle_dropped_off_mutator_is_destroyed_by_a_mutator() {
    let mut m = Mutator::new();
    let on = Arc::new(Mutex::new(None));
    let obj = Gc::new(
        &mut m,
        RecordsDropThread {
            _next: None,
            on: on.clone(),
        },
    );
    let t = std::thread::spawn(move || {
        drop(obj);
        std::thread::current().id()
    });
    let dropper = m.detached(|| t.join().unwrap());
    // The non-mutator could not free a GC-heap block: it queued the object, which an attached
    // mutator's safepoint or any collection destroys (other tests in this binary may drain the
    // queue first, on their own mutator threads).
    m.safepoint();
    m.collect();
    let destroyed_on = on.lock().unwrap().expect("the queued object was destroyed");
    assert_ne!(
        destroyed_on, dropper,
        "the thread that dropped the last handle was not a mutator, yet it destroyed the object"
    );
}

#[test]
fn weak_references_are_cleared() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let nodes = ring(&mut m, 4, &drops);
    let w = Gc::downgrade(&nodes[2]);
    assert_eq!(w.upgrade(&m).map(|n| n.get(&m).id), Some(2));
    drop(nodes);
    m.collect();
    assert_eq!(drops.get(), 4);
    assert!(w.upgrade(&m).is_none(), "weak reference to garbage cleared");
    assert!(w.is_dead());

    // Acyclic: cleared when the last handle goes.
    let leaf = Gc::new(&mut m, String::from("leaf"));
    let wl = Gc::downgrade(&leaf);
    assert_eq!(
        wl.upgrade(&m).map(|g| g.get(&m).clone()),
        Some("leaf".to_string())
    );
    drop(leaf);
    assert!(wl.upgrade(&m).is_none());
}

#[derive(Trace)]
struct Link {
    next: Option<Gc<Link>>,
}

#[test]
fn dropping_a_ten_million_long_chain_does_not_overflow_the_stack() {
    let mut m = Mutator::new();
    let mut head = Gc::new(&mut m, Link { next: None });
    for _ in 1..10_000_000 {
        head = Gc::new(&mut m, Link { next: Some(head) });
    }
    // Recursive destruction would need ~10M frames; iterative destruction needs none.
    drop(head);
}

#[derive(Trace)]
struct Cyclic {
    next: Mutex<Option<Gc<Cyclic>>>,
}

#[test]
fn a_million_long_live_cycle_is_marked_without_recursion() {
    let mut m = Mutator::new();
    let first = Gc::new(
        &mut m,
        Cyclic {
            next: Mutex::new(None),
        },
    );
    let mut cur = first.clone();
    for _ in 0..1_000_000 {
        cur = Gc::new(
            &mut m,
            Cyclic {
                next: Mutex::new(Some(cur)),
            },
        );
    }
    *first.get(&m).next.lock().unwrap() = Some(cur);
    let weak = Gc::downgrade(&first);
    // Live: reachable from `first` on this stack; marking follows a 1M-long chain.
    let stats = m.collect();
    assert!(stats.objects > 1_000_000);
    assert!(weak.upgrade(&m).is_some());
    drop(first);
    m.collect();
    assert!(weak.upgrade(&m).is_none());
}

#[derive(Trace)]
struct Aligned {
    #[trace(skip)]
    bytes: Big,
    me: Mutex<Option<Gc<Aligned>>>,
}

#[repr(align(4096))]
struct Big([u8; 100]);

#[test]
fn over_aligned_values_are_aligned_and_walked() {
    let mut m = Mutator::new();
    let mut keep = Vec::new();
    for i in 0..100 {
        let a = Gc::new(
            &mut m,
            Aligned {
                bytes: Big([i as u8; 100]),
                me: Mutex::new(None),
            },
        );
        let addr = &a.get(&m).bytes as *const Big as usize;
        assert_eq!(addr % 4096, 0, "value aligned to its type's alignment");
        *a.get(&m).me.lock().unwrap() = Some(a.clone()); // self-cycle
        keep.push(a);
    }
    for (i, a) in keep.iter().enumerate() {
        assert_eq!(a.get(&m).bytes.0[99], i as u8);
    }
    let weak: Vec<_> = keep.iter().map(Gc::downgrade).collect();
    drop(keep);
    m.collect();
    assert!(
        weak.iter().all(|w| w.upgrade(&m).is_none()),
        "self-cycles of over-aligned objects found by the walk"
    );
}

#[test]
fn leaf_values_work_without_the_collector() {
    let mut m = Mutator::new();
    let s = Gc::new(&mut m, String::from("hello"));
    let t = s.clone();
    assert_eq!(Gc::strong_count(&s), 2);
    assert!(Gc::ptr_eq(&s, &t));
    assert_eq!(s, t, "identity equality");
    drop(t);
    assert_eq!(s.get(&m).len(), 5);
    assert!(format!("{s:?}").starts_with("Gc<alloc::string::String>"));
}

#[test]
fn collector_settings_and_stats() {
    let mut m = Mutator::new();
    let c = ftgc::collector();
    assert_eq!(ftgc::HEADER_SIZE, 16);
    let before = c.totals().collections;
    let stats = m.collect();
    assert!(c.totals().collections > before);
    assert!(stats.pause <= stats.total);
    assert!(stats.candidates <= stats.objects);
    assert!(c.last_stats().is_some());
    assert!(c.mutators() >= 1);
}

thread_local! {
    static STASH: std::cell::RefCell<Vec<Gc<Node>>> = const { std::cell::RefCell::new(Vec::new()) };
    static ROOTS: std::cell::RefCell<Vec<Root<Node>>> = const { std::cell::RefCell::new(Vec::new()) };
    static WEAKS: std::cell::RefCell<Vec<Weak<Node>>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[test]
fn a_thread_that_exits_holding_handles_weak_references_and_roots_loses_nothing() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let d = drops.clone();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut tm = Mutator::new();
        // Kept only in this thread's thread-local storage: a cycle, an acyclic node, a rooted
        // cycle, and weak references to its own nodes and to a node shared with the main
        // thread.
        let cycle = ring(&mut tm, 3, &d);
        let rooted = ring(&mut tm, 2, &d);
        let lone = Node::new(&mut tm, 10, &d);
        let shared = Node::new(&mut tm, 11, &d);
        tx.send((
            shared.clone(),
            Gc::downgrade(&lone),
            Gc::downgrade(&rooted[0]),
        ))
        .unwrap();
        WEAKS.with(|w| {
            w.borrow_mut()
                .extend([Gc::downgrade(&lone), Gc::downgrade(&shared)])
        });
        ROOTS.with(|r| r.borrow_mut().push(Root::new(rooted[0].clone())));
        STASH.with(|s| {
            s.borrow_mut()
                .extend(cycle.into_iter().chain(rooted).chain([lone, shared]))
        });
        // Exits with the Mutator dropped first (a local), then the thread-locals: those
        // handles die, and the root is unregistered, on a thread that is no longer a mutator.
    });
    // Blocking waits run detached: an attached thread blocked here would stall every
    // collection in the process.
    let (shared, weak_lone, weak_rooted) = m.detached(|| rx.recv().unwrap());
    m.detached(|| t.join().unwrap());
    m.collect();
    assert_eq!(
        drops.get(),
        6,
        "the lone node, the cycle and the formerly rooted cycle are freed; the shared node is \
         not"
    );
    assert!(weak_lone.upgrade(&m).is_none() && weak_lone.is_dead());
    assert!(
        weak_rooted.upgrade(&m).is_none(),
        "the root died with its thread"
    );
    assert_eq!(shared.get(&m).id, 11);
    drop(shared);
    assert_eq!(drops.get(), 7);
}
