//! Known roots (mark-alive), frozen objects, and the prefetch buffer. Alone in its binary: it
//! changes the collector's prefetch threshold.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::serial;
use ftgc::{Gc, GcMutex, Mutator, Root, Trace, Tracer};

/// Records which node ids were dropped.
#[derive(Clone, Default)]
struct Freed(Arc<Mutex<HashSet<usize>>>);

impl Freed {
    fn get(&self) -> HashSet<usize> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct Tag(usize, Freed);

impl Drop for Tag {
    fn drop(&mut self) {
        assert!(
            self.1.0.lock().unwrap().insert(self.0),
            "node {} dropped twice",
            self.0
        );
    }
}

/// Counts every call of `trace` on a `Node`, to see what the collector scans.
static TRACED: AtomicUsize = AtomicUsize::new(0);

struct Node {
    edges: GcMutex<Vec<Gc<Node>>>,
    tag: Tag,
}

// SAFETY: reports exactly the handles in `edges` (counting calls is not a mutation of the
// value).
unsafe impl Trace for Node {
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        TRACED.fetch_add(1, Ordering::Relaxed);
        self.edges.trace(tracer);
    }
}

fn node(m: &mut Mutator, id: usize, freed: &Freed) -> Gc<Node> {
    Gc::new(
        m,
        Node {
            edges: GcMutex::new(Vec::new()),
            tag: Tag(id, freed.clone()),
        },
    )
}

fn link(m: &Mutator, a: &Gc<Node>, b: &Gc<Node>) {
    a.get(m).edges.lock().push(b.clone());
}

/// A ring of `n` nodes with ids from `first`; returns its nodes.
fn ring(m: &mut Mutator, first: usize, n: usize, freed: &Freed) -> Vec<Gc<Node>> {
    let nodes: Vec<_> = (0..n).map(|i| node(m, first + i, freed)).collect();
    for i in 0..n {
        link(m, &nodes[i], &nodes[(i + 1) % n]);
    }
    nodes
}

#[test]
fn roots_mark_their_graphs_alive() {
    let _g = serial();
    let mut m = Mutator::new();
    let freed = Freed::default();
    let nodes = ring(&mut m, 0, 1000, &freed);
    let root = Root::new(nodes[0].clone());
    drop(nodes);
    let stats = m.collect();
    assert!(
        stats.alive >= 1000,
        "the rooted ring is marked alive: {stats:?}"
    );
    assert_eq!(freed.count(), 0);
    // The handle is still a plain handle: unrooted and dropped, the ring is garbage.
    drop(root.into_inner());
    m.collect();
    assert_eq!(freed.count(), 1000);
}

/// An alive mark lasts one collection: the next one, whether it has roots or not and on one
/// worker or several, treats an object it does not reach from a root as a candidate again, and
/// collects it at once if it is garbage.
#[test]
fn an_alive_mark_lasts_one_collection() {
    let _g = serial();
    let c = ftgc::collector();
    for workers in [1, 2] {
        c.set_workers(workers);
        let mut m = Mutator::new();
        let freed = Freed::default();
        let root = Root::new(ring(&mut m, 0, 1000, &freed).swap_remove(0));
        let stats = m.collect();
        assert!(stats.alive >= 1000, "{workers} worker(s): {stats:?}");
        // Another root keeps the registry non-empty: the next collection marks from it, and
        // must not take the ring's old marks for its own.
        let other = Root::new(node(&mut m, 1000, &freed));
        drop(root);
        let stats = m.collect();
        assert_eq!(
            stats.alive, 1,
            "{workers} worker(s): only `other` is alive: {stats:?}"
        );
        assert_eq!(
            freed.count(),
            1000,
            "{workers} worker(s): the ring is collected"
        );
        // No root at all: the collection still resets the marks its predecessor made.
        let root = Root::new(ring(&mut m, 2000, 1000, &freed).swap_remove(0));
        m.collect();
        drop((root, other));
        let stats = m.collect();
        assert_eq!(stats.alive, 0, "{workers} worker(s): {stats:?}");
        assert_eq!(
            freed.count(),
            2001,
            "{workers} worker(s): the ring is collected"
        );
    }
    c.set_workers(0);
}

#[test]
fn a_graph_whose_root_was_not_registered_still_survives() {
    let _g = serial();
    let mut m = Mutator::new();
    let freed = Freed::default();
    // One graph is rooted; the other is reachable only from a handle in non-GC memory that the
    // collector was never told about (an "unknown root").
    let rooted = ring(&mut m, 0, 100, &freed);
    let _root = Root::new(rooted[0].clone());
    let unknown: Arc<Mutex<Vec<Gc<Node>>>> = Arc::new(Mutex::new(Vec::new()));
    let hidden = ring(&mut m, 100, 100, &freed);
    unknown.lock().unwrap().push(hidden[0].clone());
    // The hidden ring also points into the rooted one, and the rooted one into the hidden one.
    link(&m, &hidden[5], &rooted[5]);
    link(&m, &rooted[7], &hidden[7]);
    drop((rooted, hidden));
    for _ in 0..3 {
        m.collect();
    }
    assert_eq!(
        freed.count(),
        0,
        "nothing reachable from an unknown root is freed"
    );
    let n = unknown.lock().unwrap()[0].clone();
    assert_eq!(n.get(&m).tag.0, 100);
}

#[test]
fn garbage_hanging_off_a_rooted_object_is_collected() {
    let _g = serial();
    let mut m = Mutator::new();
    let freed = Freed::default();
    let r = node(&mut m, 0, &freed);
    let root = Root::new(r);
    // A cycle that points *to* the rooted object but is not reachable *from* it.
    let cycle = ring(&mut m, 1, 10, &freed);
    link(&m, &cycle[3], &root);
    drop(cycle);
    let stats = m.collect();
    assert!(stats.collected >= 10);
    assert_eq!(freed.get(), (1..=10).collect());
    assert_eq!(root.get(&m).tag.0, 0, "the root is untouched");
}

#[test]
fn frozen_objects_are_neither_collected_nor_scanned() {
    let _g = serial();
    let mut m = Mutator::new();
    let freed = Freed::default();
    let garbage = ring(&mut m, 0, 50, &freed);
    let live = ring(&mut m, 50, 50, &freed);
    let frozen = m.freeze();
    assert!(frozen >= 100);
    assert!(m.freeze_count() >= 100);
    drop(garbage);
    TRACED.store(0, Ordering::SeqCst);
    m.collect();
    assert_eq!(freed.count(), 0, "frozen garbage is not collected");
    assert_eq!(
        TRACED.load(Ordering::SeqCst),
        0,
        "frozen objects are not scanned"
    );
    // Objects allocated after the freeze are collected as usual.
    drop(ring(&mut m, 100, 5, &freed));
    m.collect();
    assert_eq!(freed.count(), 5);
    assert!(m.unfreeze() >= 100);
    assert_eq!(m.freeze_count(), 0);
    m.collect();
    assert_eq!(freed.count(), 55, "unfrozen garbage is collected");
    assert_eq!(live[0].get(&m).tag.0, 50);
}

/// A random graph built from `seed`: `n` nodes, random edges (some nodes with more than 256,
/// so spans overflow the ring), some nodes rooted, some held by plain handles. Returns the ids
/// a correct collection must free, and those it freed.
fn random_graph_collection(
    seed: u64,
    n: usize,
    prefetch: bool,
) -> (HashSet<usize>, HashSet<usize>) {
    let mut x = seed;
    let mut rnd = |k: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % k as u64) as usize
    };
    let mut m = Mutator::new();
    let freed = Freed::default();
    let nodes: Vec<_> = (0..n).map(|i| node(&mut m, i, &freed)).collect();
    let mut edges = vec![Vec::new(); n];
    for (i, out) in edges.iter_mut().enumerate() {
        let k = if i % 97 == 0 { 300 } else { rnd(4) };
        for _ in 0..k {
            let j = rnd(n);
            out.push(j);
            link(&m, &nodes[i], &nodes[j]);
        }
    }
    let rooted: Vec<usize> = (0..n / 50).map(|_| rnd(n)).collect();
    let held: Vec<usize> = (0..n / 50).map(|_| rnd(n)).collect();
    let roots: Vec<_> = rooted
        .iter()
        .map(|&i| Root::new(nodes[i].clone()))
        .collect();
    let handles: Vec<_> = held.iter().map(|&i| nodes[i].clone()).collect();
    drop(nodes);
    // The expected survivors: everything reachable from a root or a held handle.
    let mut live = HashSet::new();
    let mut stack: Vec<usize> = rooted.iter().chain(&held).copied().collect();
    while let Some(i) = stack.pop() {
        if live.insert(i) {
            stack.extend(&edges[i]);
        }
    }
    let expected: HashSet<usize> = (0..n).filter(|i| !live.contains(i)).collect();
    let c = ftgc::collector();
    c.set_prefetch_threshold(if prefetch { 0 } else { usize::MAX });
    let stats = m.collect();
    assert_eq!(stats.prefetch, prefetch);
    let got = freed.get();
    drop((roots, handles));
    m.collect();
    assert_eq!(freed.count(), n, "everything is freed in the end");
    (expected, got)
}

#[test]
fn the_prefetch_buffer_changes_nothing_on_random_graphs() {
    let _g = serial();
    for seed in 1..=8u64 {
        let (expected, without) = random_graph_collection(seed * 7919, 3000, false);
        let (expected2, with) = random_graph_collection(seed * 7919, 3000, true);
        assert_eq!(expected, expected2, "same graph");
        assert_eq!(
            without, expected,
            "seed {seed}: depth-first marking frees exactly the garbage"
        );
        assert_eq!(
            with, expected,
            "seed {seed}: prefetch marking frees exactly the garbage"
        );
    }
    ftgc::collector().set_prefetch_threshold(ftgc::DEFAULT_PREFETCH_THRESHOLD);
}

#[test]
fn above_the_prefetch_threshold_the_collector_measures_both_modes() {
    let _g = serial();
    let m = &mut Mutator::new();
    let c = ftgc::collector();
    let freed = Freed::default();
    let mut rings = ring(m, 0, 2_000, &freed);
    // Modes a collection used, `n` collections in a row.
    let modes =
        |m: &mut Mutator, n: usize| -> Vec<bool> { (0..n).map(|_| m.collect().prefetch).collect() };
    // No other test in this binary collects with a threshold between 0 and the heap's size, so
    // no earlier sample exists; 3 and 5 workers also keep them apart from the default count.
    c.set_workers(3);
    c.set_prefetch_threshold(usize::MAX);
    assert_eq!(modes(m, 1), [false], "usize::MAX: never");
    c.set_prefetch_threshold(0);
    assert_eq!(modes(m, 3), [true; 3], "0: always, without measuring");
    c.set_prefetch_threshold(1_000);
    assert_eq!(
        modes(m, 2),
        [true, false],
        "over the threshold: the buffer is measured, then depth-first"
    );
    // Samples count for one number of workers, and a heap of about the same size.
    c.set_workers(5);
    assert_eq!(modes(m, 2), [true, false], "another number of workers");
    c.set_prefetch_threshold(usize::MAX);
    rings.extend(ring(m, 2_000, 8_000, &freed));
    m.collect(); // 10,000 survive
    c.set_prefetch_threshold(1_000);
    assert_eq!(modes(m, 2), [true, false], "a heap five times as big");
    c.set_prefetch_threshold(20_000);
    assert_eq!(
        modes(m, 1),
        [false],
        "a heap under the threshold: depth-first"
    );
    drop(rings);
    assert_eq!(m.collect().collected, 10_000);
    assert_eq!(freed.count(), 10_000);
    c.set_prefetch_threshold(ftgc::DEFAULT_PREFETCH_THRESHOLD);
    c.set_workers(0);
}
