//! Four mutator threads share and mutate one graph while another thread collects in a loop;
//! a shadow model checks that no live object is ever freed and that every garbage object is
//! freed exactly once.
//!
//! * Every node carries a unique id; its destructor records the id in a ledger (a second
//!   record of the same id is a double free).
//! * During the run, every node a mutator reaches by following edges from the shared roots is
//!   checked: intact (magic word) and not recorded as dropped.
//! * Periodically, and at the end, all threads meet at a checkpoint: the checker computes the
//!   set of ids reachable from the roots, collects, and then requires, for every id ever
//!   allocated, "dropped" exactly when "not reachable".
//!
//! Runs for `FTGC_STRESS_SECS` seconds (default 10). Alone in its binary so that its
//! continuous collections don't stretch the other tests.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use ftgc::{Gc, Mutator, Trace};

const MUTATORS: usize = 4;
const ROOTS: usize = 64;
const MAX_EDGES: usize = 6;
const MAGIC: u64 = 0x5eed_f00d_cafe_babe;
const CHUNK: usize = 1 << 16;

/// Per-id drop records: 0 = never dropped, 1 = dropped once.
struct Ledger {
    chunks: Vec<OnceLock<Box<[AtomicU8]>>>,
    next_id: AtomicU64,
    double_drops: AtomicUsize,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            chunks: (0..4096).map(|_| OnceLock::new()).collect(),
            next_id: AtomicU64::new(0),
            double_drops: AtomicUsize::new(0),
        }
    }
    fn slot(&self, id: u64) -> &AtomicU8 {
        let id = id as usize;
        let chunk =
            self.chunks[id / CHUNK].get_or_init(|| (0..CHUNK).map(|_| AtomicU8::new(0)).collect());
        &chunk[id % CHUNK]
    }
    fn new_id(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.slot(id); // make the chunk exist before the value can die
        id
    }
    fn dropped(&self, id: u64) -> bool {
        self.slot(id).load(Ordering::SeqCst) != 0
    }
    fn record_drop(&self, id: u64) {
        if self.slot(id).swap(1, Ordering::SeqCst) != 0 {
            self.double_drops.fetch_add(1, Ordering::SeqCst);
        }
    }
}

static LEDGER: OnceLock<Ledger> = OnceLock::new();

fn ledger() -> &'static Ledger {
    LEDGER.get_or_init(Ledger::new)
}

struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        ledger().record_drop(self.0);
    }
}

#[derive(Trace)]
struct Node {
    id: u64,
    magic: u64,
    edges: Mutex<Vec<Gc<Node>>>,
    #[trace(skip)]
    _guard: Guard,
}

fn new_node(m: &mut Mutator) -> Gc<Node> {
    let id = ledger().new_id();
    Gc::new(
        m,
        Node {
            id,
            magic: MAGIC,
            edges: Mutex::new(Vec::new()),
            _guard: Guard(id),
        },
    )
}

/// Checks a node a mutator reached from the roots: it must be live.
fn check_live(m: &Mutator, n: &Gc<Node>) {
    let node = n.get(m);
    assert_eq!(node.magic, MAGIC, "node {} corrupted", node.id);
    assert!(
        !ledger().dropped(node.id),
        "node {} reached from the roots but its value was dropped",
        node.id
    );
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Shared {
    roots: Vec<Mutex<Option<Gc<Node>>>>,
    checkpoint: AtomicBool,
    done: AtomicBool,
    meet: Barrier,
    resume: Barrier,
    ops: AtomicU64,
}

impl Shared {
    fn root(&self, rng: &mut Rng) -> Option<Gc<Node>> {
        self.roots[rng.below(ROOTS)].lock().unwrap().clone()
    }
}

/// Follows up to `steps` random edges from `start`, checking each node.
fn wander(m: &Mutator, rng: &mut Rng, start: Gc<Node>, steps: usize) -> Gc<Node> {
    let mut cur = start;
    check_live(m, &cur);
    for _ in 0..steps {
        let next = {
            let edges = cur.get(m).edges.lock().unwrap();
            if edges.is_empty() {
                break;
            }
            edges[rng.below(edges.len())].clone()
        };
        check_live(m, &next);
        cur = next;
    }
    cur
}

fn mutator(shared: Arc<Shared>, holder: mpsc::Sender<Msg>, seed: u64) {
    let mut m = Mutator::new();
    let mut rng = Rng(seed);
    let mut ops = 0u64;
    loop {
        if shared.checkpoint.load(Ordering::SeqCst) {
            m.detached(|| shared.meet.wait());
            m.detached(|| shared.resume.wait());
            if shared.done.load(Ordering::SeqCst) {
                break;
            }
        }
        ops += 1;
        match rng.below(100) {
            // Allocate into a root slot (dropping what was there) ...
            0..=4 => {
                let n = new_node(&mut m);
                *shared.roots[rng.below(ROOTS)].lock().unwrap() = Some(n);
            }
            // ... or hang a new node off a reachable one, often with a back edge (a cycle).
            5..=34 => {
                let Some(r) = shared.root(&mut rng) else {
                    continue;
                };
                let at = wander(&m, &mut rng, r, 3);
                let n = new_node(&mut m);
                if rng.below(2) == 0 {
                    n.get(&m).edges.lock().unwrap().push(at.clone());
                }
                let mut edges = at.get(&m).edges.lock().unwrap();
                if edges.len() >= MAX_EDGES {
                    let i = rng.below(edges.len());
                    edges[i] = n;
                } else {
                    edges.push(n);
                }
            }
            // Link two reachable nodes.
            35..=49 => {
                let (Some(a), Some(b)) = (shared.root(&mut rng), shared.root(&mut rng)) else {
                    continue;
                };
                let a = wander(&m, &mut rng, a, 2);
                let b = wander(&m, &mut rng, b, 2);
                let mut edges = a.get(&m).edges.lock().unwrap();
                if edges.len() < MAX_EDGES {
                    edges.push(b);
                }
            }
            // Unlink an edge.
            50..=57 => {
                let Some(a) = shared.root(&mut rng) else {
                    continue;
                };
                let a = wander(&m, &mut rng, a, 3);
                let removed = {
                    let mut edges = a.get(&m).edges.lock().unwrap();
                    if edges.is_empty() {
                        None
                    } else {
                        let i = rng.below(edges.len());
                        Some(edges.swap_remove(i))
                    }
                };
                drop(removed);
            }
            // Swap the edge lists of two nodes through their Mutex fields.
            58..=70 => {
                let (Some(a), Some(b)) = (shared.root(&mut rng), shared.root(&mut rng)) else {
                    continue;
                };
                let a = wander(&m, &mut rng, a, 2);
                let b = wander(&m, &mut rng, b, 2);
                if Gc::ptr_eq(&a, &b) {
                    continue;
                }
                let taken = std::mem::take(&mut *a.get(&m).edges.lock().unwrap());
                let other = std::mem::replace(&mut *b.get(&m).edges.lock().unwrap(), taken);
                *a.get(&m).edges.lock().unwrap() = other;
            }
            // Read-only walk.
            71..=86 => {
                if let Some(r) = shared.root(&mut rng) {
                    wander(&m, &mut rng, r, 12);
                }
            }
            // Hand a handle to the non-mutator holder thread.
            87..=93 => {
                if let Some(r) = shared.root(&mut rng) {
                    let n = wander(&m, &mut rng, r, 2);
                    let _ = holder.send(Msg::Hold(n));
                }
            }
            // Clear a root.
            94..=94 => {
                let old = shared.roots[rng.below(ROOTS)].lock().unwrap().take();
                drop(old);
            }
            // Weak references and a detached section.
            95.. => {
                if let Some(r) = shared.root(&mut rng) {
                    let w = Gc::downgrade(&r);
                    drop(r);
                    m.detached(std::thread::yield_now);
                    if let Some(n) = w.upgrade(&m) {
                        check_live(&m, &n);
                    }
                }
            }
        }
        m.safepoint();
    }
    shared.ops.fetch_add(ops, Ordering::Relaxed);
}

enum Msg {
    Hold(Gc<Node>),
    Flush(mpsc::Sender<()>),
}

/// A thread that is never a mutator: it owns handles for a while, then drops them.
fn holder(rx: mpsc::Receiver<Msg>) {
    let mut held = std::collections::VecDeque::new();
    for msg in rx {
        match msg {
            Msg::Hold(n) => {
                held.push_back(n);
                if held.len() > 32 {
                    held.pop_front();
                }
            }
            Msg::Flush(ack) => {
                held.clear();
                ack.send(()).unwrap();
            }
        }
    }
}

/// All threads are at the checkpoint: the roots are the only references left.
fn verify(m: &mut Mutator, shared: &Shared, holder: &mpsc::Sender<Msg>) -> (usize, usize) {
    let (ack, acked) = mpsc::channel();
    holder.send(Msg::Flush(ack)).unwrap();
    m.detached(|| acked.recv().unwrap());

    let mut live = HashSet::new();
    let mut stack: Vec<Gc<Node>> = shared
        .roots
        .iter()
        .filter_map(|r| r.lock().unwrap().clone())
        .collect();
    while let Some(n) = stack.pop() {
        check_live(m, &n);
        if live.insert(n.get(m).id) {
            stack.extend(n.get(m).edges.lock().unwrap().iter().cloned());
        }
    }
    m.collect();
    let l = ledger();
    let allocated = l.next_id.load(Ordering::SeqCst);
    for id in 0..allocated {
        let dropped = l.dropped(id);
        if live.contains(&id) {
            assert!(!dropped, "live node {id} was dropped");
        } else {
            assert!(dropped, "garbage node {id} was not freed by the collection");
        }
    }
    assert_eq!(
        l.double_drops.load(Ordering::SeqCst),
        0,
        "a value was dropped twice"
    );
    (live.len(), allocated as usize)
}

#[test]
fn four_mutators_and_a_collector_against_a_shadow_model() {
    let secs: u64 = std::env::var("FTGC_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let shared = Arc::new(Shared {
        roots: (0..ROOTS).map(|_| Mutex::new(None)).collect(),
        checkpoint: AtomicBool::new(false),
        done: AtomicBool::new(false),
        meet: Barrier::new(MUTATORS + 1),
        resume: Barrier::new(MUTATORS + 1),
        ops: AtomicU64::new(0),
    });
    let (to_holder, holder_rx) = mpsc::channel();
    let holder_thread = std::thread::spawn(move || holder(holder_rx));
    let threads: Vec<_> = (0..MUTATORS)
        .map(|i| {
            let shared = shared.clone();
            let tx = to_holder.clone();
            std::thread::Builder::new()
                .name(format!("stress-mutator-{i}"))
                .spawn(move || mutator(shared, tx, 0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1)))
                .unwrap()
        })
        .collect();

    // This thread is the collector and the checker.
    let mut m = Mutator::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut collections = 0u64;
    let mut checkpoints = 0;
    let mut next_checkpoint = start + Duration::from_secs(2);
    loop {
        m.collect();
        collections += 1;
        let now = Instant::now();
        let last = now >= deadline;
        if last || now >= next_checkpoint {
            shared.checkpoint.store(true, Ordering::SeqCst);
            m.detached(|| shared.meet.wait());
            shared.checkpoint.store(false, Ordering::SeqCst);
            if last {
                shared.done.store(true, Ordering::SeqCst);
            }
            let (live, allocated) = verify(&mut m, &shared, &to_holder);
            checkpoints += 1;
            println!(
                "checkpoint {checkpoints} at {:.1?}: {allocated} nodes allocated, {live} live",
                start.elapsed()
            );
            if last {
                for r in &shared.roots {
                    r.lock().unwrap().take();
                }
                let (live, allocated) = verify(&mut m, &shared, &to_holder);
                assert_eq!(live, 0);
                println!("final: all {allocated} nodes freed exactly once");
            }
            m.detached(|| shared.resume.wait());
            if last {
                break;
            }
            next_checkpoint = Instant::now() + Duration::from_secs(2);
        }
    }
    for t in threads {
        m.detached(|| t.join().unwrap());
    }
    drop(to_holder);
    m.detached(|| holder_thread.join().unwrap());
    let ops = shared.ops.load(Ordering::Relaxed);
    println!(
        "{secs} s: {ops} mutator operations ({:.0}/s), {collections} collections, {checkpoints} checkpoints",
        ops as f64 / start.elapsed().as_secs_f64()
    );
    assert!(collections > 1 && checkpoints >= 2);
}
