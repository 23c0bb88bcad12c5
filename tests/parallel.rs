//! Parallel collection frees exactly what sequential collection frees.
//!
//! Each test builds the same random graph once per worker count (1, the sequential reference
//! path, then 2, 4 and 8), drops some handles, collects, and records which nodes were
//! destroyed. The set must equal what a depth-first search over the graph's plan says is
//! unreachable from the handles kept, for every worker count. Graphs: sparse random graphs
//! with and without registered roots, many small garbage cycles, and `gc_big`-like big lists;
//! each with the prefetch buffer off and on. The graphs span many heap segments, so workers
//! share every phase and steal marking work. One more test pairs collections on 1, 2 and 4
//! workers (prefetch on) to check that a collection without garbage leaves the next exact.
//!
//! One test at a time (a lock): the worker count is process-wide.

mod common;

use std::collections::HashSet;
use std::sync::Mutex;

use common::serial;

use ftgc::{Gc, GcMutex, Mutator, Root, Trace};

/// The destroyed nodes' ids, in drop order.
static DESTROYED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

struct Record(usize);

impl Drop for Record {
    fn drop(&mut self) {
        DESTROYED.lock().unwrap().push(self.0);
    }
}

#[derive(Trace)]
struct Node {
    edges: GcMutex<Vec<Gc<Node>>>,
    #[trace(skip)]
    _record: Record,
}

/// A graph to build: edges by index, and which nodes keep a handle (some as registered roots).
struct Plan {
    edges: Vec<Vec<usize>>,
    kept: Vec<usize>,
    rooted: Vec<usize>,
}

impl Plan {
    /// Whether each node is reachable from `from`.
    fn reached<'a>(&self, from: impl IntoIterator<Item = &'a usize>) -> Vec<bool> {
        let mut seen = vec![false; self.edges.len()];
        let mut stack: Vec<usize> = from.into_iter().copied().collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&self.edges[i]);
            }
        }
        seen
    }

    /// The nodes no kept handle reaches.
    fn unreachable(&self) -> HashSet<usize> {
        let seen = self.reached(self.kept.iter().chain(&self.rooted));
        (0..self.edges.len()).filter(|&i| !seen[i]).collect()
    }

    /// The nodes with 32 references or more (edges, kept handles and roots) that no root
    /// reaches (those are marked alive before the walk, which does not list them).
    fn hot_nodes(&self) -> usize {
        let alive = self.reached(&self.rooted);
        let mut refs = vec![0; self.edges.len()];
        for &i in self
            .edges
            .iter()
            .flatten()
            .chain(&self.kept)
            .chain(&self.rooted)
        {
            refs[i] += 1;
        }
        (0..refs.len())
            .filter(|&i| refs[i] >= 32 && !alive[i])
            .count()
    }
}

/// xorshift64*, so that every worker count builds the same graph.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn random_graph(nodes: usize, max_edges: usize, kept: usize, rooted: usize, seed: u64) -> Plan {
    let mut rng = Rng(seed);
    Plan {
        edges: (0..nodes)
            .map(|_| {
                (0..rng.below(max_edges + 1))
                    .map(|_| rng.below(nodes))
                    .collect()
            })
            .collect(),
        kept: (0..kept).map(|_| rng.below(nodes)).collect(),
        rooted: (0..rooted).map(|_| rng.below(nodes)).collect(),
    }
}

/// `rings` rings of 2 to 9 nodes; every third ring has one node kept.
fn garbage_cycles(rings: usize, seed: u64) -> Plan {
    let mut rng = Rng(seed);
    let (mut edges, mut kept) = (Vec::new(), Vec::new());
    for r in 0..rings {
        let start = edges.len();
        let len = 2 + rng.below(8);
        for i in 0..len {
            edges.push(vec![start + (i + 1) % len]);
        }
        if r % 3 == 0 {
            kept.push(start + rng.below(len));
        }
    }
    Plan {
        edges,
        kept,
        rooted: Vec::new(),
    }
}

/// `gc_big`-like: `lists` list nodes, each with `len` item nodes that point back to a random
/// list of the same half; in the first half, a few lists are kept and one is a registered
/// root; the second half is one big garbage tangle.
fn big_lists(lists: usize, len: usize, seed: u64) -> Plan {
    let mut rng = Rng(seed);
    let half = lists / 2;
    let mut edges = vec![Vec::new(); lists];
    for l in 0..lists {
        let base = if l < half { 0 } else { half };
        for _ in 0..len {
            let item = edges.len();
            edges.push(vec![base + rng.below(half)]);
            edges[l].push(item);
        }
    }
    Plan {
        edges,
        kept: (0..3).map(|_| rng.below(half)).collect(),
        rooted: vec![rng.below(half)],
    }
}

/// Builds `plan`, keeps its kept and rooted handles, collects with `workers` workers, and
/// returns the set of destroyed nodes (after dropping everything, the rest are collected too:
/// the function checks that every node was destroyed exactly once). With `before`, a
/// collection on that many workers runs first, while every node still has a handle: it must
/// find no garbage (and so skips its scan, leaving the candidates' scratch words behind).
fn destroyed_with(
    plan: &Plan,
    workers: usize,
    prefetch: bool,
    before: Option<usize>,
) -> HashSet<usize> {
    let c = ftgc::collector();
    let mut m = Mutator::new();
    m.collect(); // nothing of an earlier graph is left
    DESTROYED.lock().unwrap().clear();
    let nodes: Vec<Gc<Node>> = (0..plan.edges.len())
        .map(|i| {
            Gc::new(
                &mut m,
                Node {
                    edges: GcMutex::new(Vec::new()),
                    _record: Record(i),
                },
            )
        })
        .collect();
    for (from, targets) in nodes.iter().zip(&plan.edges) {
        let mut edges = from.get(&m).edges.lock();
        edges.extend(targets.iter().map(|&t| nodes[t].clone()));
    }
    let kept: Vec<Gc<Node>> = plan.kept.iter().map(|&i| nodes[i].clone()).collect();
    let roots: Vec<Root<Node>> = plan
        .rooted
        .iter()
        .map(|&i| Root::new(nodes[i].clone()))
        .collect();
    c.set_prefetch_threshold(if prefetch { 0 } else { usize::MAX });
    if let Some(before) = before {
        c.set_workers(before);
        let stats = m.collect();
        assert_eq!(stats.collected, 0, "{before} workers, every node held");
        assert_eq!(stats.candidates + stats.alive, nodes.len());
        assert!(DESTROYED.lock().unwrap().is_empty());
    }
    drop(nodes);

    c.set_workers(workers);
    let stats = m.collect();
    assert_eq!(stats.workers, workers);
    assert_eq!(stats.prefetch, prefetch);
    // A parallel walk makes the nodes with 32 references or more hot: their subtractions are
    // counted by each worker apart.
    let hot = if workers > 1 { plan.hot_nodes() } else { 0 };
    assert_eq!(stats.hot, hot, "hot candidates, {workers} workers");
    let destroyed: HashSet<usize> = DESTROYED.lock().unwrap().iter().copied().collect();

    drop(kept);
    drop(roots);
    m.collect();
    let all = DESTROYED.lock().unwrap();
    assert_eq!(
        all.len(),
        plan.edges.len(),
        "every node destroyed exactly once"
    );
    assert_eq!(all.iter().copied().collect::<HashSet<_>>().len(), all.len());
    c.set_workers(0);
    c.set_prefetch_threshold(ftgc::DEFAULT_PREFETCH_THRESHOLD);
    destroyed
}

fn same_for_every_worker_count(name: &str, plan: &Plan) {
    let expected = plan.unreachable();
    assert!(!expected.is_empty() && expected.len() < plan.edges.len());
    for prefetch in [false, true] {
        for workers in [1, 2, 4, 8] {
            let got = destroyed_with(plan, workers, prefetch, None);
            assert!(
                got == expected,
                "{name}, {workers} workers, prefetch {prefetch}: {} destroyed, {} expected, \
                 {} wrongly, {} missed",
                got.len(),
                expected.len(),
                got.difference(&expected).count(),
                expected.difference(&got).count(),
            );
        }
    }
}

#[test]
fn random_graphs_without_roots() {
    let _s = serial();
    let plan = random_graph(60_000, 3, 40, 0, 1);
    same_for_every_worker_count("random graph, no roots", &plan);
}

#[test]
fn random_graphs_with_roots() {
    let _s = serial();
    let plan = random_graph(60_000, 2, 20, 20, 2);
    same_for_every_worker_count("random graph, roots", &plan);
}

#[test]
fn garbage_cycles_are_found_by_every_worker_count() {
    let _s = serial();
    let plan = garbage_cycles(12_000, 3);
    same_for_every_worker_count("garbage cycles", &plan);
}

#[test]
fn big_lists_are_split_between_workers() {
    let _s = serial();
    let plan = big_lists(300, 200, 4);
    // The first half is reached from its root, so marked alive and never listed.
    assert_eq!(
        plan.hot_nodes(),
        150,
        "every list of the second half is hot"
    );
    same_for_every_worker_count("big lists", &plan);
}

/// A collection that finds no garbage skips its scan and leaves its candidates' scratch words
/// as they are: the next one, on one worker or several, must still free exactly the garbage.
/// (On one worker, the walk must then read every header to reset them.)
#[test]
fn a_collection_without_garbage_leaves_the_next_one_exact() {
    let _s = serial();
    // No roots: they would make the walk read every header anyway.
    let plan = random_graph(20_000, 3, 20, 0, 5);
    let expected = plan.unreachable();
    for before in [1, 2, 4] {
        for workers in [1, 2, 4] {
            let got = destroyed_with(&plan, workers, true, Some(before));
            assert!(
                got == expected,
                "{before} then {workers} workers: {} destroyed, {} expected",
                got.len(),
                expected.len(),
            );
        }
    }
}
