//! The torture test: eight mutator threads churn one shared graph (allocating, linking into
//! cycles, unlinking, swapping edge lists, stashing handles as plain handles, registered roots
//! and weak references, handing handles to a thread that is not a mutator and back, sleeping
//! detached, collecting, exiting and being replaced) while the main thread collects in a loop
//! and, every 20,000 operations or more, checks a collection exactly against a shadow model.
//!
//! # The shadow model
//!
//! The test keeps its own records, never the collector's:
//!
//! * every node has a unique id; its destructor sets the id's bit in the drop ledger (a bit
//!   already set is a double drop);
//! * a shadow edge map, id → child ids in the order of the node's real edge list, changed in the
//!   same critical section as the real list (the node's edge lock is held while the shadow is
//!   updated), and a shadow of the 64 root slots, changed under the slot's lock;
//! * each handle kept across operations is stored with the id it was recorded under: in the
//!   mutator threads' stashes (plain handles, registered `Root`s, `Weak`s) and in the holder
//!   thread's inbox, shelf and outbox.
//!
//! # A checked collection
//!
//! The main thread closes the quiescence gate: mutators look at a flag between operations and
//! wait at the gate, detached, until it reopens; the main thread waits (detached) until every
//! counted mutator thread is there, joins the threads that exited meanwhile (so their
//! thread-local handles are gone), takes the holder's lock, computes the expected-live set by a
//! breadth-first search over the shadow from the recorded handles, collects, and checks:
//!
//! * **no live object freed**: every expected-live id is not in the ledger, and a walk of the
//!   real graph from the same handles reaches exactly the expected-live set, every node intact
//!   (magic word), every edge list equal to the shadow's;
//! * **every unreachable object freed by this collection**: every id allocated that is not
//!   expected live is in the ledger. This is the strict form: with every mutator quiescent and
//!   the exited threads joined, the objects whose last handle died off a mutator thread wait in
//!   the release queue, which the collection drains before it stops the world, and garbage
//!   cycles are all found by one collection. No legitimate lag remains;
//! * **dropped exactly once**: no double drop was recorded;
//! * **weak references**: every recorded `Weak` upgrades if and only if its id is live.
//!
//! Between checks the main thread collects without checking, or waits for the mutators to make
//! progress (a counter and a condition variable), so the allocation trigger (count rule,
//! threshold 1000) fires too. The worker count starts at the default (one per core), then
//! cycles over 1, 2 and 4, and the prefetch buffer is forced on, chosen by measuring and left to
//! its default (off at this size), so the sequential and parallel paths, both marking modes
//! and the choice between them are all exercised. The live graph is bounded (64 root slots, 6
//! edges a node; above 20,000 nodes not yet dropped, allocations turn into walks).
//!
//! Mutator threads live for a random number of operations, then exit and are replaced: their
//! stash dies while they are still mutators, after their `Mutator` is dropped, or in the
//! thread-local destructors at thread exit.
//!
//! At the end everything is dropped and collected, and every id ever allocated must have been
//! dropped exactly once.
//!
//! Usage: `cargo test --release --test torture -- --seconds 600 [--seed N] [--lifetime N]`
//! (default 30 s, a seed from the clock, thread lifetimes of about 2,000 to 102,000
//! operations; the interleaving of threads still differs from run to run). `--lifetime 2000`
//! makes threads exit about fifty times as often, the setting that found the race between
//! mimalloc's thread teardown and the heap walk (`heap::release_thread_pages`) in a minute. Other
//! arguments (`--nocapture`, filters) are ignored. Any failure panics, naming the node and what
//! went wrong, and aborts the process; a watchdog fails the run if the checker stops making
//! progress (a collection that never ends) instead of letting it hang.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ftgc::{
    DEFAULT_PREFETCH_THRESHOLD, Gc, GcMutex, GcMutexGuard, Mutator, Root, Trace, TriggerConfig,
    TriggerMode, Weak,
};

/// Mutator threads alive at any time (one replaces each that exits).
const MUTATORS: usize = 8;
/// Shared root slots.
const ROOTS: usize = 64;
/// Edges per node.
const MAX_EDGES: usize = 6;
const MAGIC: u64 = 0x5eed_f00d_cafe_babe;
/// Per-thread stash bounds: plain handles, registered roots, weak references.
const STASH_STRONG: usize = 8;
const STASH_ROOTS: usize = 3;
const STASH_WEAK: usize = 8;
/// Holder bounds: handles it keeps, and handles it offers back.
const HOLDER_SHELF: usize = 32;
const HOLDER_OUTBOX: usize = 16;
/// A check after at least this many mutator operations (and two unchecked collections).
const CHECK_OPS: u64 = 20_000;
/// Above this many nodes allocated and not yet dropped, allocations turn into walks: the live
/// graph stays bounded.
const LIVE_CAP: u64 = 20_000;
/// Allocation threshold of the count trigger.
const THRESHOLD: usize = 1000;
/// Seconds between progress lines.
const REPORT: u64 = 10;
/// How long a wait for the mutators may take before the test declares them stuck.
const STUCK: Duration = Duration::from_secs(120);
/// How long the checker may go without finishing a step (a collection, a wait, a check) before
/// the watchdog fails the run: a collection that never ends would otherwise hang it.
const WATCHDOG: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// The drop ledger: one bit per node id.

const CHUNK_WORDS: usize = 1 << 14; // 2^20 ids per chunk
const CHUNK_IDS: u64 = (CHUNK_WORDS * 64) as u64;
const CHUNKS: usize = 4096; // 2^32 ids in all

struct Ledger {
    chunks: Box<[OnceLock<Box<[AtomicU64]>>]>,
    next_id: AtomicU64,
    drops: AtomicU64,
    double_drops: Mutex<Vec<u64>>,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            next_id: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            double_drops: Mutex::new(Vec::new()),
        }
    }

    fn word(&self, id: u64) -> (&AtomicU64, u64) {
        let chunk = self.chunks[(id / CHUNK_IDS) as usize]
            .get_or_init(|| (0..CHUNK_WORDS).map(|_| AtomicU64::new(0)).collect());
        let bit = id % CHUNK_IDS;
        (&chunk[(bit / 64) as usize], 1 << (bit % 64))
    }

    fn new_id(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        assert!(
            id < CHUNKS as u64 * CHUNK_IDS,
            "the drop ledger is full ({id} ids)"
        );
        self.word(id); // the chunk exists before the value can die
        id
    }

    /// Ids allocated so far (all below this).
    fn allocated(&self) -> u64 {
        self.next_id.load(Ordering::SeqCst)
    }

    fn dropped(&self, id: u64) -> bool {
        let (word, bit) = self.word(id);
        word.load(Ordering::SeqCst) & bit != 0
    }

    fn record_drop(&self, id: u64) {
        let (word, bit) = self.word(id);
        if word.fetch_or(bit, Ordering::SeqCst) & bit != 0 {
            self.double_drops.lock().unwrap().push(id);
        } else {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn check_no_double_drop(&self, when: &str) {
        let doubles = self.double_drops.lock().unwrap();
        if let Some(id) = doubles.first() {
            panic!(
                "node {id} was dropped twice (found {when}; {} double drops in all: {:?})",
                doubles.len(),
                &doubles[..doubles.len().min(16)]
            );
        }
    }
}

static LEDGER: OnceLock<Ledger> = OnceLock::new();

fn ledger() -> &'static Ledger {
    LEDGER.get_or_init(Ledger::new)
}

/// Records its node's drop in the ledger.
struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        ledger().record_drop(self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The node.

/// A node's edge list: behind a `GcMutex` (traced by plain reads) for even ids, behind a
/// `std::sync::Mutex` (traced with `try_lock`) for odd ids, so both paths are exercised.
#[derive(Trace)]
enum Edges {
    Gc(GcMutex<Vec<Gc<Node>>>),
    Std(Mutex<Vec<Gc<Node>>>),
}

enum EdgesGuard<'a> {
    Gc(GcMutexGuard<'a, Vec<Gc<Node>>>),
    Std(MutexGuard<'a, Vec<Gc<Node>>>),
}

impl Deref for EdgesGuard<'_> {
    type Target = Vec<Gc<Node>>;
    fn deref(&self) -> &Vec<Gc<Node>> {
        match self {
            EdgesGuard::Gc(g) => g,
            EdgesGuard::Std(g) => g,
        }
    }
}

impl DerefMut for EdgesGuard<'_> {
    fn deref_mut(&mut self) -> &mut Vec<Gc<Node>> {
        match self {
            EdgesGuard::Gc(g) => &mut *g,
            EdgesGuard::Std(g) => &mut *g,
        }
    }
}

#[derive(Trace)]
struct Node {
    id: u64,
    magic: u64,
    edges: Edges,
    #[trace(skip)]
    _guard: Guard,
}

impl Node {
    fn edges(&self) -> EdgesGuard<'_> {
        match &self.edges {
            Edges::Gc(m) => EdgesGuard::Gc(m.lock()),
            Edges::Std(m) => EdgesGuard::Std(m.lock().unwrap()),
        }
    }
}

/// Allocates a node and gives it an (empty) entry in the shadow edge map.
fn new_node(m: &mut Mutator, shared: &Shared) -> (Gc<Node>, u64) {
    let id = ledger().new_id();
    let edges = if id % 2 == 0 {
        Edges::Gc(GcMutex::new(Vec::new()))
    } else {
        Edges::Std(Mutex::new(Vec::new()))
    };
    let n = Gc::new(
        m,
        Node {
            id,
            magic: MAGIC,
            edges,
            _guard: Guard(id),
        },
    );
    shared.shadow.lock().unwrap().edges.insert(id, Vec::new());
    (n, id)
}

/// Checks a node reached through a handle: intact and not dropped. Returns its id.
fn check_live(m: &Mutator, n: &Gc<Node>, how: std::fmt::Arguments<'_>) -> u64 {
    let node = n.get(m);
    assert_eq!(
        node.magic, MAGIC,
        "node {} ({how}) is corrupted: magic word {:#x}",
        node.id, node.magic
    );
    assert!(
        !ledger().dropped(node.id),
        "node {} ({how}) was reached through a live handle but its value was dropped",
        node.id
    );
    node.id
}

// ---------------------------------------------------------------------------------------------
// Randomness.

struct Rng(u64);

/// Pushes `item` if `v` holds fewer than `cap`, else puts it in place of a random entry and
/// returns that one (callers holding handles drop it after releasing their lock).
fn push_or_replace<T>(v: &mut Vec<T>, cap: usize, item: T, rng: &mut Rng) -> Option<T> {
    if v.len() < cap {
        v.push(item);
        None
    } else {
        let i = rng.below(v.len());
        Some(std::mem::replace(&mut v[i], item))
    }
}

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of mutator thread `n` (holder: `u64::MAX`, checker: `u64::MAX - 1`).
fn thread_seed(base: u64, n: u64) -> u64 {
    splitmix(base ^ splitmix(n))
}

thread_local! {
    /// This thread's seed, for the failure message.
    static SEED: Cell<Option<u64>> = const { Cell::new(None) };
}

// ---------------------------------------------------------------------------------------------
// Shared state.

/// The test's records of the graph.
struct Shadow {
    /// id → child ids, in the real edge list's order. Entries of nodes verified dead are
    /// removed at each check.
    edges: HashMap<u64, Vec<u64>>,
    /// The id held by each root slot.
    roots: [Option<u64>; ROOTS],
}

/// A mutator thread's handles kept across operations, each with the id it was recorded under.
/// The thread owns it (its stack or a thread-local owns the only `Arc`); the checker reaches it
/// through a `std::sync::Weak` only while the thread waits at the gate.
#[derive(Default)]
struct Stash {
    strong: Vec<(Gc<Node>, u64)>,
    roots: Vec<(Root<Node>, u64)>,
    weak: Vec<(Weak<Node>, u64)>,
}

thread_local! {
    /// Where some threads keep their stash, so that it dies after their `Mutator` is gone.
    static TLS_STASH: RefCell<Option<Arc<Mutex<Stash>>>> = const { RefCell::new(None) };
}

/// The quiescence gate.
struct Gate {
    /// Fast-path mirror of `GateState::closed`, read between operations.
    closing: AtomicBool,
    state: Mutex<GateState>,
    cv: Condvar,
}

struct GateState {
    closed: bool,
    /// Incremented at each reopening.
    epoch: u64,
    /// Mutator threads counted: spawned and not exiting.
    active: usize,
    /// Counted threads waiting at the closed gate (reset at each reopening).
    waiting: usize,
    /// Threads that left the count to exit; the checker joins them.
    exiting: Vec<u64>,
    handles: HashMap<u64, JoinHandle<()>>,
    stashes: HashMap<u64, std::sync::Weak<Mutex<Stash>>>,
}

impl Gate {
    /// A mutator between operations, found the gate closing: wait until it reopens. Called
    /// detached.
    fn wait(&self) {
        let mut g = self.state.lock().unwrap();
        if !g.closed {
            return;
        }
        g.waiting += 1;
        self.cv.notify_all();
        let epoch = g.epoch;
        while g.epoch == epoch {
            g = self.cv.wait(g).unwrap();
        }
    }

    fn reopen(&self) {
        let mut g = self.state.lock().unwrap();
        g.closed = false;
        self.closing.store(false, Ordering::SeqCst);
        g.epoch += 1;
        g.waiting = 0;
        self.cv.notify_all();
    }
}

/// The holder thread's handles (it is never a mutator). Every move, by it or by a mutator,
/// happens under this one lock, which the checker holds through a checked collection.
#[derive(Default)]
struct HolderState {
    /// Handed over by mutators, not yet taken by the holder.
    inbox: VecDeque<(Gc<Node>, u64)>,
    /// Kept by the holder.
    shelf: VecDeque<(Gc<Node>, u64)>,
    /// Offered back to the mutators.
    outbox: VecDeque<(Gc<Node>, u64)>,
    stop: bool,
    moves: u64,
}

struct Shared {
    slots: Vec<Mutex<Option<Gc<Node>>>>,
    shadow: Mutex<Shadow>,
    gate: Gate,
    holder: Mutex<HolderState>,
    holder_cv: Condvar,
    /// Mutator operations done.
    ops: AtomicU64,
    /// Notified every few hundred operations, for the checker's progress waits.
    progress: Mutex<()>,
    progress_cv: Condvar,
    /// Set before the gate reopens for the last time: mutators exit.
    done: AtomicBool,
    threads_started: AtomicU64,
    forced_collections: AtomicU64,
    base_seed: u64,
    /// Bumped by the checker after every step; `step` says which one it is in.
    heartbeat: AtomicU64,
    step: AtomicU64,
    /// Set when the run is over: the watchdog stops.
    finished: Mutex<bool>,
    finished_cv: Condvar,
}

/// What the checker is doing, for the watchdog's message.
const STEPS: [&str; 5] = [
    "starting",
    "an unchecked collection",
    "waiting for mutator progress",
    "a checked collection",
    "the final teardown and collection",
];

impl Shared {
    /// The checker finished a step and starts step `next`.
    fn beat(&self, next: usize) {
        self.step.store(next as u64, Ordering::SeqCst);
        self.heartbeat.fetch_add(1, Ordering::SeqCst);
    }
}

/// Fails the run when the checker is stuck (say, in a collection that never ends), instead of
/// letting it hang. Not a mutator; waits with a timeout, which is its purpose.
fn watchdog_main(shared: Arc<Shared>) {
    let mut last = shared.heartbeat.load(Ordering::SeqCst);
    let mut since = Instant::now();
    let mut finished = shared.finished.lock().unwrap();
    while !*finished {
        finished = shared
            .finished_cv
            .wait_timeout(finished, Duration::from_secs(1))
            .unwrap()
            .0;
        let now = shared.heartbeat.load(Ordering::SeqCst);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > WATCHDOG {
            let totals = ftgc::collector().totals();
            panic!(
                "watchdog: the checker has been in {} for {:?} without finishing it (a \
                 collection or a stop of the world that never ends?); {} collections so far, \
                 {} mutator operations",
                STEPS[shared.step.load(Ordering::SeqCst) as usize],
                since.elapsed(),
                totals.collections,
                shared.ops.load(Ordering::SeqCst)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutator threads.

/// How a thread's stash dies when the thread exits.
#[derive(Clone, Copy, Debug)]
enum ExitMode {
    /// Dropped on the thread while it is still a mutator.
    StashFirst,
    /// Dropped on the thread after its `Mutator` is gone.
    MutatorFirst,
    /// Kept in a thread-local: dropped by the thread-local destructors at thread exit, after the
    /// `Mutator` is gone.
    ThreadLocal,
}

/// Spawns a counted mutator thread. Called with the gate lock held.
fn spawn_mutator(shared: &Arc<Shared>, g: &mut GateState) {
    let n = shared.threads_started.fetch_add(1, Ordering::SeqCst);
    let seed = thread_seed(shared.base_seed, n);
    g.active += 1;
    let s = shared.clone();
    let handle = std::thread::Builder::new()
        .name(format!("torture-mutator-{n}"))
        .spawn(move || mutator_main(s, n, seed))
        .expect("spawn a mutator thread");
    g.handles.insert(n, handle);
}

fn mutator_main(shared: Arc<Shared>, n: u64, seed: u64) {
    SEED.with(|s| s.set(Some(seed)));
    let mut rng = Rng::new(seed);
    let mode = match rng.below(3) {
        0 => ExitMode::StashFirst,
        1 => ExitMode::MutatorFirst,
        _ => ExitMode::ThreadLocal,
    };
    // Lifetime in operations.
    let lifetime = LIFETIME.load(Ordering::Relaxed);
    let budget = lifetime / 50 + rng.below(lifetime as usize) as u64;
    let mut m = Mutator::new();
    let stash = Arc::new(Mutex::new(Stash::default()));
    if let ExitMode::ThreadLocal = mode {
        TLS_STASH.with(|t| *t.borrow_mut() = Some(stash.clone()));
    }
    m.detached(|| {
        let mut g = shared.gate.state.lock().unwrap();
        g.stashes.insert(n, Arc::downgrade(&stash));
    });
    let mut t = Worker {
        shared: &shared,
        stash: &stash,
        rng,
        n,
    };
    let mut ops = 0u64;
    loop {
        if shared.gate.closing.load(Ordering::SeqCst) {
            m.detached(|| shared.gate.wait());
        }
        if shared.done.load(Ordering::SeqCst) {
            break;
        }
        if ops >= budget {
            // Leave the count and spawn a replacement, unless the gate is closing (then wait
            // there first and try again).
            let left = m.detached(|| {
                let mut g = shared.gate.state.lock().unwrap();
                if g.closed {
                    return false;
                }
                spawn_mutator(&shared, &mut g);
                g.active -= 1;
                g.exiting.push(n);
                shared.gate.cv.notify_all();
                true
            });
            if left {
                break;
            }
            continue;
        }
        t.op(&mut m);
        ops += 1;
        shared.ops.fetch_add(1, Ordering::Relaxed);
        if ops % 256 == 0 {
            m.detached(|| {
                let _g = shared.progress.lock().unwrap();
                shared.progress_cv.notify_all();
            });
        }
        m.safepoint();
    }
    // Exit, possibly still owning stashed handles, roots and weak references.
    match mode {
        // With `ThreadLocal`, `drop(stash)` leaves the stash to the thread-local, which outlives
        // the mutator.
        ExitMode::StashFirst | ExitMode::ThreadLocal => {
            drop(stash);
            drop(m);
        }
        ExitMode::MutatorFirst => {
            drop(m);
            drop(stash);
        }
    }
}

/// A mutator thread's operations.
struct Worker<'a> {
    shared: &'a Shared,
    stash: &'a Mutex<Stash>,
    rng: Rng,
    n: u64,
}

impl Worker<'_> {
    fn op(&mut self, m: &mut Mutator) {
        let mut choice = self.rng.below(1000);
        let l = ledger();
        // Saturating: `drops` is read after `allocated`, so it may count nodes made since.
        if choice < 260
            && l.allocated()
                .saturating_sub(l.drops.load(Ordering::Relaxed))
                > LIVE_CAP
        {
            choice = 530; // a walk instead
        }
        match choice {
            0..40 => self.alloc_into_slot(m),
            40..260 => self.alloc_hanging(m),
            260..380 => self.link(m),
            380..460 => self.unlink(m),
            460..530 => self.swap_edges(m),
            530..650 => self.walk(m),
            650..700 => self.drop_something(),
            700..745 => self.hand_to_holder(m),
            745..785 => self.take_from_holder(m),
            785..855 => self.stash_something(m),
            855..900 => self.use_stash(m),
            900..940 => self.downgrade(m),
            940..980 => self.upgrade(m),
            980..999 => {
                let micros = self.rng.below(300) as u64;
                m.detached(|| std::thread::sleep(Duration::from_micros(micros)));
            }
            _ => {
                if self.rng.chance(5) {
                    m.collect();
                    self.shared
                        .forced_collections
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// A handle from a random root slot.
    fn slot_handle(&mut self, m: &Mutator) -> Option<Gc<Node>> {
        let i = self.rng.below(ROOTS);
        let n = self.shared.slots[i].lock().unwrap().clone()?;
        check_live(m, &n, format_args!("from root slot {i}"));
        Some(n)
    }

    /// A handle from this thread's stash (plain or rooted).
    fn stash_handle(&mut self, m: &Mutator) -> Option<Gc<Node>> {
        let (n, id) = {
            let s = self.stash.lock().unwrap();
            let k = s.strong.len() + s.roots.len();
            if k == 0 {
                return None;
            }
            let i = self.rng.below(k);
            if i < s.strong.len() {
                (s.strong[i].0.clone(), s.strong[i].1)
            } else {
                let (r, id) = &s.roots[i - s.strong.len()];
                ((**r).clone(), *id)
            }
        };
        let real = check_live(m, &n, format_args!("from a stash"));
        assert_eq!(
            real, id,
            "thread {}: stash entry recorded as node {id} holds node {real}",
            self.n
        );
        Some(n)
    }

    /// A random reachable node: from a slot or the stash, then a few random edges on.
    fn pick(&mut self, m: &Mutator) -> Option<Gc<Node>> {
        let start = if self.rng.chance(4) {
            self.stash_handle(m).or_else(|| self.slot_handle(m))
        } else {
            self.slot_handle(m)
        }?;
        let steps = self.rng.below(4);
        Some(self.wander(m, start, steps))
    }

    /// Follows up to `steps` random edges from `start`, checking each node.
    fn wander(&mut self, m: &Mutator, start: Gc<Node>, steps: usize) -> Gc<Node> {
        let mut cur = start;
        for _ in 0..steps {
            let next = {
                let edges = cur.get(m).edges();
                if edges.is_empty() {
                    break;
                }
                edges[self.rng.below(edges.len())].clone()
            };
            check_live(m, &next, format_args!("reached by a walk"));
            cur = next;
        }
        cur
    }

    /// Puts `n` (id `id`) into root slot `i`; returns the handle it displaced.
    fn set_slot(&self, i: usize, n: Option<(Gc<Node>, u64)>) -> Option<Gc<Node>> {
        let (gc, id) = match n {
            Some((g, id)) => (Some(g), Some(id)),
            None => (None, None),
        };
        let mut slot = self.shared.slots[i].lock().unwrap();
        let old = std::mem::replace(&mut *slot, gc);
        self.shared.shadow.lock().unwrap().roots[i] = id;
        old
    }

    /// Adds the edge `a → b`, replacing a random edge when `a` is full; returns the displaced
    /// handle.
    fn add_edge(&mut self, m: &Mutator, a: &Gc<Node>, b: Gc<Node>) -> Option<Gc<Node>> {
        let a = a.get(m);
        let bid = b.get(m).id;
        let mut edges = a.edges();
        let mut shadow = self.shared.shadow.lock().unwrap();
        let se = shadow.edges.get_mut(&a.id).unwrap_or_else(|| {
            panic!(
                "node {} is reachable but has no shadow entry (a check found it dead)",
                a.id
            )
        });
        assert_eq!(
            se.len(),
            edges.len(),
            "node {}: the shadow records {:?} as its edges, the real list has {} edges",
            a.id,
            se,
            edges.len()
        );
        if edges.len() < MAX_EDGES {
            edges.push(b);
            se.push(bid);
            None
        } else {
            let i = self.rng.below(edges.len());
            se[i] = bid;
            Some(std::mem::replace(&mut edges[i], b))
        }
    }

    fn alloc_into_slot(&mut self, m: &mut Mutator) {
        let (n, id) = new_node(m, self.shared);
        // Sometimes with an edge into the graph.
        if self.rng.chance(2) {
            if let Some(p) = self.pick(m) {
                let displaced = self.add_edge(m, &n, p);
                drop(displaced);
            }
        }
        let i = self.rng.below(ROOTS);
        let old = self.set_slot(i, Some((n, id)));
        drop(old);
    }

    /// A new node hung off a reachable one, often with a back edge: a cycle.
    fn alloc_hanging(&mut self, m: &mut Mutator) {
        let Some(at) = self.pick(m) else {
            return self.alloc_into_slot(m);
        };
        let (n, _) = new_node(m, self.shared);
        if self.rng.chance(2) {
            let none = self.add_edge(m, &n, at.clone());
            debug_assert!(none.is_none());
        }
        let displaced = self.add_edge(m, &at, n);
        drop(displaced);
    }

    fn link(&mut self, m: &mut Mutator) {
        let (Some(a), Some(b)) = (self.pick(m), self.pick(m)) else {
            return;
        };
        if a.get(m).edges().len() < MAX_EDGES || self.rng.chance(4) {
            let displaced = self.add_edge(m, &a, b);
            drop(displaced);
        }
    }

    fn unlink(&mut self, m: &mut Mutator) {
        let Some(a) = self.pick(m) else { return };
        let removed = {
            let node = a.get(m);
            let mut edges = node.edges();
            if edges.is_empty() {
                return;
            }
            let i = self.rng.below(edges.len());
            let mut shadow = self.shared.shadow.lock().unwrap();
            let se = shadow.edges.get_mut(&node.id).unwrap_or_else(|| {
                panic!(
                    "node {} is reachable but has no shadow entry (a check found it dead)",
                    node.id
                )
            });
            assert_eq!(
                se.len(),
                edges.len(),
                "node {}: the shadow records {:?} as its edges, the real list has {} edges",
                node.id,
                se,
                edges.len()
            );
            se.swap_remove(i);
            edges.swap_remove(i)
        };
        drop(removed);
    }

    /// Swaps the edge lists of two nodes, both locks held (taken in id order).
    fn swap_edges(&mut self, m: &mut Mutator) {
        let (Some(a), Some(b)) = (self.pick(m), self.pick(m)) else {
            return;
        };
        let (a, b) = (a.get(m), b.get(m));
        if a.id == b.id {
            return;
        }
        let (first, second) = if a.id < b.id { (a, b) } else { (b, a) };
        let mut e1 = first.edges();
        let mut e2 = second.edges();
        std::mem::swap(&mut *e1, &mut *e2);
        let mut shadow = self.shared.shadow.lock().unwrap();
        let s1 = shadow.edges.remove(&first.id).expect("shadow entry");
        let s2 = shadow.edges.remove(&second.id).expect("shadow entry");
        shadow.edges.insert(first.id, s2);
        shadow.edges.insert(second.id, s1);
    }

    fn walk(&mut self, m: &mut Mutator) {
        let start = if self.rng.chance(5) {
            self.stash_handle(m)
        } else {
            self.slot_handle(m)
        };
        if let Some(s) = start {
            let steps = 4 + self.rng.below(12);
            self.wander(m, s, steps);
        }
    }

    fn drop_something(&mut self) {
        match self.rng.below(4) {
            0 | 1 => {
                let i = self.rng.below(ROOTS);
                let old = self.set_slot(i, None);
                drop(old);
            }
            2 => {
                let mut s = self.stash.lock().unwrap();
                let dropped = if !s.strong.is_empty() && self.rng.chance(2) {
                    let i = self.rng.below(s.strong.len());
                    Some(s.strong.swap_remove(i).0)
                } else if !s.roots.is_empty() {
                    let i = self.rng.below(s.roots.len());
                    let (r, _) = s.roots.swap_remove(i);
                    // Sometimes unregister and keep the handle a moment; else drop the Root.
                    if self.rng.chance(2) {
                        Some(r.into_inner())
                    } else {
                        drop(s);
                        drop(r);
                        return;
                    }
                } else {
                    None
                };
                drop(s);
                drop(dropped);
            }
            _ => {
                let mut s = self.stash.lock().unwrap();
                if !s.weak.is_empty() {
                    let i = self.rng.below(s.weak.len());
                    s.weak.swap_remove(i);
                }
            }
        }
    }

    fn hand_to_holder(&mut self, m: &mut Mutator) {
        let Some(n) = self.pick(m) else { return };
        let id = n.get(m).id;
        let shared = self.shared;
        let refused = m.detached(move || {
            let mut h = shared.holder.lock().unwrap();
            if h.inbox.len() >= 64 {
                return Some(n);
            }
            h.inbox.push_back((n, id));
            shared.holder_cv.notify_one();
            None
        });
        drop(refused);
    }

    fn take_from_holder(&mut self, m: &mut Mutator) {
        let shared = self.shared;
        let Some((n, id)) = m.detached(|| shared.holder.lock().unwrap().outbox.pop_front()) else {
            return;
        };
        let real = check_live(m, &n, format_args!("taken back from the holder"));
        assert_eq!(
            real, id,
            "the holder recorded node {id} but handed back node {real}"
        );
        if self.rng.chance(2) {
            let i = self.rng.below(ROOTS);
            let old = self.set_slot(i, Some((n, id)));
            drop(old);
        } else {
            let displaced = self.stash_strong(n, id);
            drop(displaced);
        }
    }

    /// Stashes a plain handle, displacing a random one when full.
    fn stash_strong(&mut self, n: Gc<Node>, id: u64) -> Option<(Gc<Node>, u64)> {
        let mut s = self.stash.lock().unwrap();
        push_or_replace(&mut s.strong, STASH_STRONG, (n, id), &mut self.rng)
    }

    fn stash_something(&mut self, m: &mut Mutator) {
        let Some(n) = self.pick(m) else { return };
        let id = n.get(m).id;
        if self.rng.chance(3) {
            let root = Root::new(n);
            let displaced = {
                let mut s = self.stash.lock().unwrap();
                push_or_replace(&mut s.roots, STASH_ROOTS, (root, id), &mut self.rng)
            };
            drop(displaced);
        } else {
            let displaced = self.stash_strong(n, id);
            drop(displaced);
        }
    }

    /// Puts a stashed node somewhere in the shared graph.
    fn use_stash(&mut self, m: &mut Mutator) {
        let Some(n) = self.stash_handle(m) else {
            return;
        };
        let id = n.get(m).id;
        match self.rng.below(3) {
            0 => {
                let i = self.rng.below(ROOTS);
                let old = self.set_slot(i, Some((n, id)));
                drop(old);
            }
            1 => {
                if let Some(a) = self.pick(m) {
                    let displaced = self.add_edge(m, &a, n);
                    drop(displaced);
                }
            }
            _ => {
                if let Some(b) = self.pick(m) {
                    let displaced = self.add_edge(m, &n, b);
                    drop(displaced);
                }
            }
        }
    }

    fn downgrade(&mut self, m: &mut Mutator) {
        let Some(n) = self.pick(m) else { return };
        let id = n.get(m).id;
        let w = Gc::downgrade(&n);
        drop(n);
        let mut s = self.stash.lock().unwrap();
        push_or_replace(&mut s.weak, STASH_WEAK, (w, id), &mut self.rng);
    }

    fn upgrade(&mut self, m: &mut Mutator) {
        let (w, id) = {
            let s = self.stash.lock().unwrap();
            if s.weak.is_empty() {
                return;
            }
            let (w, id) = &s.weak[self.rng.below(s.weak.len())];
            (w.clone(), *id)
        };
        match w.upgrade(m) {
            Some(n) => {
                let real = check_live(m, &n, format_args!("from an upgraded weak reference"));
                assert_eq!(
                    real, id,
                    "a weak reference recorded for node {id} upgraded to node {real}"
                );
                if self.rng.chance(3) {
                    let displaced = self.stash_strong(n, id);
                    drop(displaced);
                }
            }
            None => {
                // A strong handle this thread holds keeps the node alive.
                let s = self.stash.lock().unwrap();
                let held =
                    s.strong.iter().any(|(_, i)| *i == id) || s.roots.iter().any(|(_, i)| *i == id);
                assert!(
                    !held,
                    "thread {} holds a strong handle to node {id}, but a weak reference to it \
                     failed to upgrade",
                    self.n
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The holder: never a mutator; owns handles for a while, drops some, hands some back.

fn holder_main(shared: Arc<Shared>, seed: u64) {
    SEED.with(|s| s.set(Some(seed)));
    let mut rng = Rng::new(seed);
    let mut h = shared.holder.lock().unwrap();
    loop {
        while h.inbox.is_empty() && !h.stop {
            h = shared.holder_cv.wait(h).unwrap();
        }
        if h.stop {
            break;
        }
        // Each move under the lock: receive ...
        let got = h.inbox.pop_front().expect("not empty");
        h.shelf.push_back(got);
        h.moves += 1;
        // ... drop ...
        if h.shelf.len() > HOLDER_SHELF || rng.chance(8) {
            let i = rng.below(h.shelf.len());
            let dropped = h.shelf.swap_remove_back(i);
            drop(dropped);
        }
        // ... hand back.
        if !h.shelf.is_empty() && rng.chance(2) {
            let i = rng.below(h.shelf.len());
            let back = h.shelf.swap_remove_back(i).expect("in range");
            if h.outbox.len() >= HOLDER_OUTBOX {
                h.outbox.pop_front();
            }
            h.outbox.push_back(back);
        }
        // Let the others in between moves.
        drop(h);
        h = shared.holder.lock().unwrap();
    }
    h.inbox.clear();
    h.shelf.clear();
    h.outbox.clear();
}

// ---------------------------------------------------------------------------------------------
// The checker.

/// Where an expected-live id came from, for failure messages.
#[derive(Clone, Copy)]
enum Source {
    Slot(usize),
    Stash(u64),
    StashRoot(u64),
    Holder,
    Edge(u64),
}

struct Checker {
    shared: Arc<Shared>,
    checks: u64,
    /// Ids live at the previous check (all other ids below `checked_below` were verified
    /// dropped).
    prev_live: Vec<u64>,
    checked_below: u64,
    max_live: usize,
    checker_collections: u64,
}

impl Checker {
    /// Closes the gate and waits until every counted mutator waits there; joins the threads
    /// that exited.
    fn quiesce(&mut self, m: &mut Mutator) {
        let gate = &self.shared.gate;
        let exited: Vec<(u64, JoinHandle<()>)> = m.detached(|| {
            let mut g = gate.state.lock().unwrap();
            g.closed = true;
            gate.closing.store(true, Ordering::SeqCst);
            let start = Instant::now();
            while g.waiting < g.active {
                g = gate.cv.wait_timeout(g, Duration::from_secs(1)).unwrap().0;
                assert!(
                    start.elapsed() < STUCK,
                    "quiescence gate: only {} of {} mutator threads arrived in {STUCK:?}",
                    g.waiting,
                    g.active
                );
            }
            assert_eq!(g.waiting, g.active, "more threads at the gate than counted");
            let exiting = std::mem::take(&mut g.exiting);
            exiting
                .into_iter()
                .map(|n| {
                    g.stashes.remove(&n);
                    let h = g.handles.remove(&n).expect("an exiting thread's handle");
                    (n, h)
                })
                .collect()
        });
        m.detached(|| {
            for (n, h) in exited {
                h.join()
                    .unwrap_or_else(|_| panic!("mutator thread {n} panicked"));
            }
        });
    }

    /// One checked collection, with the gate closed.
    fn check(&mut self, m: &mut Mutator) {
        self.quiesce(m);
        let shared = self.shared.clone();
        let holder = m.detached(|| shared.holder.lock().unwrap());
        let stashes: Vec<(u64, Arc<Mutex<Stash>>)> = {
            let g = shared.gate.state.lock().unwrap();
            let mut v: Vec<_> = g
                .stashes
                .iter()
                .map(|(&n, w)| {
                    let s = w.upgrade().unwrap_or_else(|| {
                        panic!("the stash of counted mutator thread {n} is gone")
                    });
                    (n, s)
                })
                .collect();
            v.sort_by_key(|(n, _)| *n);
            v
        };

        // The expected-live set, from the records alone.
        let mut sources: Vec<(u64, Source)> = Vec::new();
        {
            let shadow = shared.shadow.lock().unwrap();
            for (i, id) in shadow.roots.iter().enumerate() {
                if let Some(id) = id {
                    sources.push((*id, Source::Slot(i)));
                }
            }
        }
        for (n, s) in &stashes {
            let s = s.lock().unwrap();
            sources.extend(s.strong.iter().map(|(_, id)| (*id, Source::Stash(*n))));
            sources.extend(s.roots.iter().map(|(_, id)| (*id, Source::StashRoot(*n))));
        }
        for (_, id) in holder
            .inbox
            .iter()
            .chain(&holder.shelf)
            .chain(&holder.outbox)
        {
            sources.push((*id, Source::Holder));
        }
        let allocated = ledger().allocated();
        let mut parent: HashMap<u64, Source> = HashMap::new();
        {
            // Breadth first: the paths in failure messages are shortest.
            let shadow = shared.shadow.lock().unwrap();
            let mut queue = VecDeque::new();
            for &(id, src) in &sources {
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(id) {
                    e.insert(src);
                    queue.push_back(id);
                }
            }
            while let Some(id) = queue.pop_front() {
                let children = shadow.edges.get(&id).unwrap_or_else(|| {
                    panic!(
                        "node {id} is held ({}) but has no shadow entry: an earlier check found it \
                         dropped",
                        path(&parent, id)
                    )
                });
                for &c in children {
                    if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(c) {
                        e.insert(Source::Edge(id));
                        queue.push_back(c);
                    }
                }
            }
        }
        let live = parent;
        self.max_live = self.max_live.max(live.len());

        // The collection.
        self.checks += 1;
        let k = self.checks;
        let stats = m.collect();
        self.checker_collections += 1;

        // Exactly once.
        ledger().check_no_double_drop(&format!("after checked collection {k}"));
        // No live object freed.
        for (&id, _) in live.iter() {
            assert!(
                !ledger().dropped(id),
                "node {id} is live in the shadow model ({}) but was dropped (checked collection \
                 {k}: {stats:?})",
                path(&live, id)
            );
        }
        // Every unreachable object freed.
        let candidates = self
            .prev_live
            .iter()
            .copied()
            .chain(self.checked_below..allocated);
        for id in candidates {
            if !live.contains_key(&id) {
                assert!(
                    ledger().dropped(id),
                    "node {id} is unreachable in the shadow model but was not freed by checked \
                     collection {k} ({stats:?})"
                );
            }
        }

        // The real graph, walked from the same handles, is the shadow. (The shadow lock is taken
        // before slot and edge locks here, the reverse of the mutators' order: safe only
        // because every mutator waits at the gate.)
        let mut roots: Vec<(Gc<Node>, u64, String)> = Vec::new();
        {
            let shadow = shared.shadow.lock().unwrap();
            for (i, slot) in shared.slots.iter().enumerate() {
                let real = slot.lock().unwrap().clone();
                let real_id = real
                    .as_ref()
                    .map(|n| check_live(m, n, format_args!("in a root slot")));
                assert_eq!(
                    real_id, shadow.roots[i],
                    "root slot {i} holds node {real_id:?} but the shadow says {:?}",
                    shadow.roots[i]
                );
                if let (Some(n), Some(id)) = (real, real_id) {
                    roots.push((n, id, format!("root slot {i}")));
                }
            }
        }
        for (n, s) in &stashes {
            let s = s.lock().unwrap();
            for (g, id) in &s.strong {
                roots.push((g.clone(), *id, format!("thread {n}'s stash")));
            }
            for (r, id) in &s.roots {
                roots.push(((**r).clone(), *id, format!("thread {n}'s Root")));
            }
        }
        for (g, id) in holder
            .inbox
            .iter()
            .chain(&holder.shelf)
            .chain(&holder.outbox)
        {
            roots.push((g.clone(), *id, "the holder".to_string()));
        }
        let mut reached: HashSet<u64> = HashSet::new();
        let mut stack: Vec<Gc<Node>> = Vec::new();
        for (g, id, what) in roots {
            let real = check_live(m, &g, format_args!("{what}"));
            assert_eq!(real, id, "{what} recorded node {id} but holds node {real}");
            stack.push(g);
        }
        {
            let shadow = shared.shadow.lock().unwrap();
            while let Some(g) = stack.pop() {
                let id = g.get(m).id;
                if !reached.insert(id) {
                    continue;
                }
                let edges = g.get(m).edges();
                let real: Vec<u64> = edges
                    .iter()
                    .map(|c| check_live(m, c, format_args!("child of node {id}")))
                    .collect();
                let expected = shadow.edges.get(&id).map(Vec::as_slice).unwrap_or(&[]);
                assert_eq!(
                    real,
                    expected,
                    "node {id} ({}): real edges differ from the shadow's",
                    path(&live, id)
                );
                stack.extend(edges.iter().cloned());
            }
        }
        assert_eq!(
            reached.len(),
            live.len(),
            "the real graph reaches {} nodes, the shadow {}",
            reached.len(),
            live.len()
        );

        // Weak references: upgrade iff live.
        for (n, s) in &stashes {
            let s = s.lock().unwrap();
            for (w, id) in &s.weak {
                let up = w.upgrade(m);
                let is_live = live.contains_key(id);
                assert_eq!(
                    up.is_some(),
                    is_live,
                    "thread {n}'s weak reference to node {id}: upgrade {} but the node is {} \
                     (checked collection {k})",
                    if up.is_some() { "succeeded" } else { "failed" },
                    if is_live { "live" } else { "dead" }
                );
                if let Some(u) = up {
                    let real = check_live(m, &u, format_args!("upgraded by the checker"));
                    assert_eq!(real, *id, "weak reference to node {id} upgraded to {real}");
                } else {
                    assert!(
                        w.is_dead(),
                        "weak reference to dead node {id} is not cleared"
                    );
                }
            }
        }

        // Forget the dead; remember the live for the next check.
        shared
            .shadow
            .lock()
            .unwrap()
            .edges
            .retain(|id, _| live.contains_key(id));
        self.prev_live = live.into_keys().collect();
        self.checked_below = allocated;
        drop(stashes);
        drop(holder);
    }

    /// Waits (detached) until the mutators have done `target` operations.
    fn wait_for_progress(&self, m: &mut Mutator, target: u64) {
        let shared = &self.shared;
        m.detached(|| {
            let start = Instant::now();
            let mut g = shared.progress.lock().unwrap();
            while shared.ops.load(Ordering::SeqCst) < target {
                g = shared
                    .progress_cv
                    .wait_timeout(g, Duration::from_secs(1))
                    .unwrap()
                    .0;
                assert!(
                    start.elapsed() < STUCK,
                    "the mutators made no progress in {STUCK:?}"
                );
            }
        });
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Slot(i) => write!(f, "root slot {i}"),
            Source::Stash(n) => write!(f, "thread {n}'s stash"),
            Source::StashRoot(n) => write!(f, "thread {n}'s Root"),
            Source::Holder => write!(f, "the holder"),
            Source::Edge(p) => write!(f, "node {p}"),
        }
    }
}

/// The way the shadow reached `id`: its holder and the edges from there.
fn path(parent: &HashMap<u64, Source>, id: u64) -> String {
    let mut chain = vec![id.to_string()];
    let mut cur = id;
    for _ in 0..64 {
        match parent.get(&cur) {
            Some(Source::Edge(p)) => {
                chain.push(p.to_string());
                cur = *p;
            }
            Some(src) => {
                chain.reverse();
                return format!("held by {src}: {}", chain.join(" -> "));
            }
            None => return format!("not reached, {}", chain.join(" <- ")),
        }
    }
    chain.reverse();
    format!("... {}", chain.join(" -> "))
}

// ---------------------------------------------------------------------------------------------

struct Args {
    seconds: u64,
    seed: Option<u64>,
    /// Mutator threads live `lifetime / 50` operations plus up to `lifetime` more.
    lifetime: u64,
}

/// `--lifetime`, for the mutator threads.
static LIFETIME: AtomicU64 = AtomicU64::new(100_000);

fn parse_args() -> Args {
    let mut args = Args {
        seconds: 30,
        seed: None,
        lifetime: 100_000,
    };
    let parse = |flag: &str, v: Option<String>| -> u64 {
        let v = v.unwrap_or_else(|| panic!("{flag} needs a value"));
        let r = match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        };
        r.unwrap_or_else(|_| panic!("{flag}: not a number: {v}"))
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.split_once('=') {
            Some(("--seconds", v)) => args.seconds = parse("--seconds", Some(v.into())),
            Some(("--seed", v)) => args.seed = Some(parse("--seed", Some(v.into()))),
            _ if a == "--seconds" => args.seconds = parse("--seconds", it.next()),
            _ if a == "--seed" => args.seed = Some(parse("--seed", it.next())),
            Some(("--lifetime", v)) => args.lifetime = parse("--lifetime", Some(v.into())).max(1),
            _ if a == "--lifetime" => args.lifetime = parse("--lifetime", it.next()).max(1),
            _ => {} // cargo test's own arguments and filters
        }
    }
    args
}

fn main() {
    let args = parse_args();
    LIFETIME.store(args.lifetime, Ordering::Relaxed);
    let base_seed = args.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        splitmix(t ^ std::process::id() as u64)
    });
    // A failure on any thread fails the run at once, with the seeds.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        let thread = std::thread::current();
        let seed = SEED.try_with(Cell::get).ok().flatten();
        eprintln!(
            "torture: FAILED on thread {:?} (thread seed {}, run seed {base_seed:#x}; rerun with \
             `cargo test --release --test torture -- --seed {base_seed:#x}`; thread interleavings \
             differ from run to run)",
            thread.name().unwrap_or("?"),
            seed.map_or("-".to_string(), |s| format!("{s:#x}"))
        );
        std::process::abort();
    }));
    println!(
        "torture: {} s, {MUTATORS} mutator threads, run seed {base_seed:#x} (thread n's seed is \
         splitmix(seed ^ splitmix(n)))",
        args.seconds
    );

    let c = ftgc::collector();
    c.set_threshold(THRESHOLD);
    c.set_trigger(TriggerConfig {
        mode: TriggerMode::Count,
        ..TriggerConfig::default()
    });
    let totals_before = c.totals().collections;

    let shared = Arc::new(Shared {
        slots: (0..ROOTS).map(|_| Mutex::new(None)).collect(),
        shadow: Mutex::new(Shadow {
            edges: HashMap::new(),
            roots: [None; ROOTS],
        }),
        gate: Gate {
            closing: AtomicBool::new(false),
            state: Mutex::new(GateState {
                closed: false,
                epoch: 0,
                active: 0,
                waiting: 0,
                exiting: Vec::new(),
                handles: HashMap::new(),
                stashes: HashMap::new(),
            }),
            cv: Condvar::new(),
        },
        holder: Mutex::new(HolderState::default()),
        holder_cv: Condvar::new(),
        ops: AtomicU64::new(0),
        progress: Mutex::new(()),
        progress_cv: Condvar::new(),
        done: AtomicBool::new(false),
        threads_started: AtomicU64::new(0),
        forced_collections: AtomicU64::new(0),
        base_seed,
        heartbeat: AtomicU64::new(0),
        step: AtomicU64::new(0),
        finished: Mutex::new(false),
        finished_cv: Condvar::new(),
    });
    let watchdog = {
        let s = shared.clone();
        std::thread::Builder::new()
            .name("torture-watchdog".into())
            .spawn(move || watchdog_main(s))
            .expect("spawn the watchdog")
    };

    // The checker is a mutator too.
    SEED.with(|s| s.set(Some(thread_seed(base_seed, u64::MAX - 1))));
    let mut m = Mutator::new();
    let holder_thread = {
        let s = shared.clone();
        let seed = thread_seed(base_seed, u64::MAX);
        std::thread::Builder::new()
            .name("torture-holder".into())
            .spawn(move || holder_main(s, seed))
            .expect("spawn the holder")
    };
    m.detached(|| {
        let mut g = shared.gate.state.lock().unwrap();
        for _ in 0..MUTATORS {
            spawn_mutator(&shared, &mut g);
        }
    });

    let mut checker = Checker {
        shared: shared.clone(),
        checks: 0,
        prev_live: Vec::new(),
        checked_below: 0,
        max_live: 0,
        checker_collections: 0,
    };
    let mut rng = Rng::new(thread_seed(base_seed, u64::MAX - 1));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut next_report = start + Duration::from_secs(REPORT);
    let mut ops_at_check = 0u64;
    let mut unchecked = 0u64;
    let mut workers = 0usize;
    loop {
        let now = Instant::now();
        // Past the deadline, the run still waits for its second checked collection, so a
        // short or slow run checks something (the watchdog bounds the wait).
        if now >= deadline && checker.checks >= 2 {
            break;
        }
        let ops = shared.ops.load(Ordering::SeqCst);
        if ops >= ops_at_check + CHECK_OPS && unchecked >= 2 {
            shared.beat(3);
            checker.check(&mut m);
            // Vary the collector: workers 1, 2, 4 (every third check); the prefetch buffer
            // forced on, chosen by measuring (a threshold of 100, which the heap is over once
            // it has grown), or left to its default (a threshold it never reaches), in turn.
            if checker.checks % 3 == 0 {
                workers = [1, 2, 4][(checker.checks / 3 % 3) as usize];
                c.set_workers(workers);
            }
            let prefetch = ["on", "measured", "default"][(checker.checks % 3) as usize];
            c.set_prefetch_threshold(match prefetch {
                "on" => 0,
                "measured" => 100,
                _ => DEFAULT_PREFETCH_THRESHOLD,
            });
            shared.gate.reopen();
            ops_at_check = shared.ops.load(Ordering::SeqCst);
            unchecked = 0;
            if now >= next_report {
                next_report += Duration::from_secs(REPORT);
                println!(
                    "[{:>5.1} s] {ops} ops, {} checks, {} collections, {} mutator threads so \
                     far, {} live at the last check, workers {workers}, prefetch {}",
                    start.elapsed().as_secs_f64(),
                    checker.checks,
                    c.totals().collections - totals_before,
                    shared.threads_started.load(Ordering::SeqCst),
                    checker.prev_live.len(),
                    prefetch,
                );
            }
            continue;
        }
        if rng.chance(2) {
            let target = shared.ops.load(Ordering::SeqCst) + 2000;
            shared.beat(2);
            checker.wait_for_progress(&mut m, target);
        } else {
            shared.beat(1);
            m.collect();
            checker.checker_collections += 1;
            unchecked += 1;
        }
    }

    // The last check, then everything goes.
    shared.beat(3);
    checker.check(&mut m);
    shared.beat(4);
    let elapsed = start.elapsed();
    let ops = shared.ops.load(Ordering::SeqCst);
    shared.done.store(true, Ordering::SeqCst);
    shared.gate.reopen();
    let handles: Vec<(u64, JoinHandle<()>)> = m.detached(|| {
        let mut g = shared.gate.state.lock().unwrap();
        g.stashes.clear();
        g.handles.drain().collect()
    });
    m.detached(|| {
        for (n, h) in handles {
            h.join()
                .unwrap_or_else(|_| panic!("mutator thread {n} panicked"));
        }
    });
    for (i, slot) in shared.slots.iter().enumerate() {
        let old = slot.lock().unwrap().take();
        shared.shadow.lock().unwrap().roots[i] = None;
        drop(old);
    }
    m.detached(|| {
        shared.holder.lock().unwrap().stop = true;
        shared.holder_cv.notify_all();
        holder_thread.join().expect("the holder panicked");
    });
    let holder_moves = shared.holder.lock().unwrap().moves;
    m.collect();
    checker.checker_collections += 1;
    let l = ledger();
    l.check_no_double_drop("at the end");
    let allocated = l.allocated();
    for id in 0..allocated {
        assert!(
            l.dropped(id),
            "node {id} was never freed, after every handle was dropped and a final collection"
        );
    }
    assert_eq!(l.drops.load(Ordering::SeqCst), allocated);
    *shared.finished.lock().unwrap() = true;
    shared.finished_cv.notify_all();
    m.detached(|| watchdog.join().expect("the watchdog panicked"));

    let totals = c.totals();
    let collections = totals.collections - totals_before;
    let forced = shared.forced_collections.load(Ordering::SeqCst);
    println!(
        "torture: {:.1} s, {ops} mutator operations ({:.0}/s), {} checked collections, \
         {collections} collections in all ({} by the checker, {forced} forced by mutators, {} \
         triggered by allocation), max pause {:?}, {} mutator threads registered, {} holder \
         moves, max live nodes {}, {allocated} nodes allocated, all freed exactly once",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64(),
        checker.checks,
        checker.checker_collections,
        collections.saturating_sub(checker.checker_collections + forced),
        totals.max_pause,
        shared.threads_started.load(Ordering::SeqCst),
        holder_moves,
        checker.max_live,
    );
    assert!(checker.checks >= 2, "too few checks to mean anything");
}
