//! The main `ftgc` demo: a big tree full of cycles, built by several mutator threads, collected
//! while it is alive and again once it is garbage.
//!
//! Every node holds its children and a strong handle back to its parent, so each edge of the
//! tree is a two-object cycle: reference counting alone can never free any of it, only the
//! cycle collector can. The demo
//!
//! 1. builds a complete tree with branching 5 (3,000,000 nodes by default): the main thread
//!    builds the top levels, then worker threads, each with its own [`Mutator`], build the
//!    subtrees below and hand their roots back through `join` (which the main thread waits
//!    for inside [`Mutator::detached`], so it never blocks a collection);
//! 2. checks the tree's shape (every node reachable, every parent edge points back);
//! 3. collects while the tree is alive: nothing may be freed;
//! 4. drops the root and collects again: every node must be freed, exactly once.
//!
//! Automatic collection is disabled while the demo runs, so the two timed collections are the
//! only ones. Node destructors are counted by a static counter; the demo exits with a failure
//! status if a live node was dropped or a dead one was not. It prints each collection's
//! statistics (objects walked, candidates, collected, stop time, pause, time per phase,
//! nanoseconds per object) and the peak resident set size.
//!
//! Run it with
//!
//! ```text
//! cargo run --release --example big_tree
//! cargo run --release --example big_tree -- --nodes 1000000 --threads 4
//! ```

use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ftgc::{CollectionStats, Gc, Mutator, Trace};

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss;

/// Branching factor of the tree.
const BRANCHING: usize = 5;
/// Default number of nodes.
const DEFAULT_NODES: usize = 3_000_000;
/// Default number of worker (builder) threads.
const DEFAULT_THREADS: usize = 2;
/// The main thread builds levels until one has at least this many nodes per worker, so the
/// subtrees below can be shared out evenly.
const SUBTREES_PER_THREAD: usize = 64;

/// Node destructors run so far.
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts its own drops in [`DROPS`]: one per node.
struct DropCounter;

impl Drop for DropCounter {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A tree node. Nodes are numbered breadth-first: node `i` has children `5i + 1 ..= 5i + 5`
/// (those below the node count).
#[derive(Trace)]
struct Node {
    /// Breadth-first number (the payload).
    id: u64,
    /// Strong back-edge to the parent: makes every parent–child pair a cycle. Empty at the
    /// root.
    parent: OnceLock<Gc<Node>>,
    /// The children, set once they are built. Empty at the leaves.
    children: OnceLock<Vec<Gc<Node>>>,
    /// Not traced: only counts the node's destruction.
    #[trace(skip)]
    _drops: DropCounter,
}

impl Node {
    fn new(m: &mut Mutator, id: usize, parent: Option<&Gc<Node>>) -> Gc<Node> {
        let parent = match parent {
            Some(p) => OnceLock::from(p.clone()),
            None => OnceLock::new(),
        };
        Gc::new(
            m,
            Node {
                id: id as u64,
                parent,
                children: OnceLock::new(),
                _drops: DropCounter,
            },
        )
    }
}

/// Ids of the children of node `id` in a tree of `n` nodes.
fn child_ids(id: usize, n: usize) -> std::ops::Range<usize> {
    let first = id.saturating_mul(BRANCHING).saturating_add(1).min(n);
    let end = first.saturating_add(BRANCHING).min(n);
    first..end
}

/// Number of nodes in the subtree rooted at `id` (itself included) in a tree of `n` nodes.
fn subtree_size(id: usize, n: usize) -> usize {
    let (mut lo, mut hi) = (id, id);
    let mut total = 0;
    while lo < n {
        total += hi.min(n - 1) - lo + 1;
        lo = lo.saturating_mul(BRANCHING).saturating_add(1);
        hi = hi.saturating_mul(BRANCHING).saturating_add(BRANCHING);
    }
    total
}

/// Builds the children of `node` (id `id`) and, recursively, their subtrees. Returns how many
/// nodes it made.
fn build_below(m: &mut Mutator, node: &Gc<Node>, id: usize, n: usize) -> usize {
    let ids = child_ids(id, n);
    if ids.is_empty() {
        return 0;
    }
    let mut made = 0;
    let mut kids = Vec::with_capacity(ids.len());
    for kid_id in ids {
        let kid = Node::new(m, kid_id, Some(node));
        made += 1 + build_below(m, &kid, kid_id, n);
        kids.push(kid);
    }
    set_children(m, node, kids);
    made
}

fn set_children(m: &Mutator, node: &Gc<Node>, kids: Vec<Gc<Node>>) {
    if node.get(m).children.set(kids).is_err() {
        panic!("node {} got its children twice", node.get(m).id);
    }
}

/// A worker's share of the frontier: `(id, node)` pairs whose subtrees it builds.
type Work = Vec<(usize, Gc<Node>)>;

/// What one worker thread built: for each frontier node it was given, the roots of the
/// subtrees below it (the frontier node's children), plus its node count.
struct Built {
    subtrees: Vec<(Gc<Node>, Vec<Gc<Node>>)>,
    nodes: usize,
}

/// A worker thread: registers its own mutator and builds, for each frontier node, its
/// children's subtrees; the children are handed back to the main thread, which links them in.
fn worker(frontier: Work, n: usize) -> Built {
    let mut m = Mutator::new();
    let mut built = Built {
        subtrees: Vec::with_capacity(frontier.len()),
        nodes: 0,
    };
    for (id, parent) in frontier {
        let mut kids = Vec::with_capacity(BRANCHING);
        for kid_id in child_ids(id, n) {
            let kid = Node::new(&mut m, kid_id, Some(&parent));
            built.nodes += 1 + build_below(&mut m, &kid, kid_id, n);
            kids.push(kid);
        }
        built.subtrees.push((parent, kids));
    }
    built
}

/// Builds the tree of `n` nodes on the main thread and `threads` workers; returns the root and
/// how many nodes each thread made (main thread first).
fn build_tree(m: &mut Mutator, n: usize, threads: usize) -> (Gc<Node>, Vec<usize>) {
    // Top levels, on the main thread, breadth first.
    let root = Node::new(m, 0, None);
    let mut made_by_main = 1;
    let mut level = vec![(0, root.clone())];
    while level.len() < SUBTREES_PER_THREAD * threads {
        let mut next = Vec::with_capacity(level.len() * BRANCHING);
        for (id, node) in &level {
            let mut kids = Vec::with_capacity(BRANCHING);
            for kid_id in child_ids(*id, n) {
                let kid = Node::new(m, kid_id, Some(node));
                next.push((kid_id, kid.clone()));
                kids.push(kid);
            }
            if !kids.is_empty() {
                set_children(m, node, kids);
            }
        }
        if next.is_empty() {
            break; // the main thread built the whole (small) tree
        }
        made_by_main += next.len();
        level = next;
    }

    // Share the frontier's subtrees out: biggest first, each to the least loaded worker.
    let mut frontier: Vec<(usize, usize, Gc<Node>)> = level
        .into_iter()
        .filter(|(id, _)| !child_ids(*id, n).is_empty())
        .map(|(id, node)| (subtree_size(id, n) - 1, id, node))
        .collect();
    frontier.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut plans: Vec<(usize, Work)> = (0..threads).map(|_| (0, Vec::new())).collect();
    for (size, id, node) in frontier {
        let plan = plans
            .iter_mut()
            .min_by_key(|(load, _)| *load)
            .expect("at least one worker");
        plan.0 += size;
        plan.1.push((id, node));
    }

    // Build the subtrees on the workers; wait for them detached, so that a collection one of
    // them might start never waits for this thread.
    let results: Vec<Built> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .into_iter()
            .enumerate()
            .map(|(k, (_, work))| {
                std::thread::Builder::new()
                    .name(format!("builder-{k}"))
                    .spawn_scoped(s, move || worker(work, n))
                    .expect("spawn a builder thread")
            })
            .collect();
        m.detached(|| {
            handles
                .into_iter()
                .map(|h| h.join().expect("a builder thread panicked"))
                .collect()
        })
    });

    // Link the subtrees in.
    let mut per_thread = vec![made_by_main];
    for built in results {
        per_thread.push(built.nodes);
        for (parent, kids) in built.subtrees {
            set_children(m, &parent, kids);
        }
    }
    (root, per_thread)
}

/// Walks the tree from `root`: counts the nodes and checks every id and parent edge. Returns
/// the node count, or what is wrong.
fn check_tree(m: &Mutator, root: &Gc<Node>, n: usize) -> Result<usize, String> {
    let mut count = 0;
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        count += 1;
        let value = node.get(m);
        let id = value.id as usize;
        let kids: &[Gc<Node>] = value.children.get().map_or(&[], Vec::as_slice);
        if !child_ids(id, n).eq(kids.iter().map(|k| k.get(m).id as usize)) {
            return Err(format!("node {id} has the wrong children"));
        }
        for kid in kids {
            match kid.get(m).parent.get() {
                Some(p) if Gc::ptr_eq(p, &node) => {}
                _ => return Err(format!("node {id}'s child has no edge back to it")),
            }
            stack.push(kid.clone());
        }
    }
    if count == n {
        Ok(count)
    } else {
        Err(format!("{count} nodes reachable, expected {n}"))
    }
}

fn ms(d: Duration) -> String {
    format!("{:10.3} ms", d.as_secs_f64() * 1e3)
}

fn ns_per(d: Duration, objects: usize) -> String {
    if objects == 0 {
        "n/a".into()
    } else {
        format!("{:.1} ns/object", d.as_nanos() as f64 / objects as f64)
    }
}

fn print_stats(title: &str, s: &CollectionStats) {
    println!("\n{title}");
    println!("  objects walked   {:>12}", s.objects);
    println!("  candidates       {:>12}", s.candidates);
    println!("  collected        {:>12}", s.collected);
    println!("  stop time        {}", ms(s.stop_time));
    println!(
        "  pause            {}   ({})",
        ms(s.pause),
        ns_per(s.pause, s.objects)
    );
    println!("    walk           {}", ms(s.walk));
    println!("    update_refs    {}", ms(s.update_refs));
    println!("    mark_reachable {}", ms(s.mark_reachable));
    println!("    scan           {}", ms(s.scan));
    println!("  destroy          {}   (world running)", ms(s.destroy));
    println!(
        "  total            {}   ({})",
        ms(s.total),
        ns_per(s.total, s.objects)
    );
}

const USAGE: &str = "usage: big_tree [--nodes N] [--threads T]";

/// Parses `--nodes N` and `--threads T` (also `--nodes=N`).
fn parse_args() -> Result<(usize, usize), String> {
    let mut nodes = DEFAULT_NODES;
    let mut threads = DEFAULT_THREADS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg, None),
        };
        let target = match name.as_str() {
            "--nodes" => &mut nodes,
            "--threads" => &mut threads,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument `{name}`")),
        };
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("`{name}` needs a value"))?;
        *target = value
            .replace('_', "")
            .parse()
            .map_err(|e| format!("`{name} {value}`: {e}"))?;
    }
    if nodes < 2 {
        return Err("--nodes must be at least 2 (a lone root is no cycle)".into());
    }
    if threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok((nodes, threads))
}

fn main() -> ExitCode {
    let (n, threads) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("big_tree: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let collector = ftgc::collector();
    let was_enabled = collector.disable();
    let collections_before = collector.totals().collections;

    println!("ftgc big_tree: a tree of {n} nodes, branching {BRANCHING}, with a strong");
    println!("child -> parent edge on every node (the whole tree is cycles)");
    println!("automatic collection: disabled for the demo; only the two explicit collections run");
    println!(
        "object size: {} B header + {} B Node = {} B (before mimalloc size-class rounding)",
        ftgc::HEADER_SIZE,
        size_of::<Node>(),
        ftgc::HEADER_SIZE + size_of::<Node>()
    );

    let mut m = Mutator::new();
    let mut failures = Vec::new();

    // Build.
    let start = Instant::now();
    let (root, per_thread) = build_tree(&mut m, n, threads);
    let build = start.elapsed();
    println!("\nbuild");
    println!("  nodes            {n:>12}");
    println!("  threads          {threads:>12}   (worker mutators, plus main for the top levels)");
    println!(
        "  nodes by thread  {:>12}   (main) {}",
        per_thread[0],
        per_thread[1..]
            .iter()
            .enumerate()
            .map(|(k, c)| format!("{c} (builder-{k})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  build time       {}   ({})", ms(build), ns_per(build, n));

    let start = Instant::now();
    match check_tree(&m, &root, n) {
        Ok(count) => println!(
            "  check            {}   ({count} nodes reachable, every parent edge points back)",
            ms(start.elapsed())
        ),
        Err(e) => failures.push(format!("tree check: {e}")),
    }

    // Collect with the tree alive: nothing may be freed.
    let live = m.collect();
    print_stats("collection 1: tree alive (expect nothing collected)", &live);
    let drops = DROPS.load(Ordering::Relaxed);
    println!("  nodes dropped    {drops:>12}   (expected 0)");
    if drops != 0 {
        failures.push(format!("{drops} nodes of the live tree were dropped"));
    }
    if live.objects < n {
        failures.push(format!(
            "the walk saw {} objects, < {n} nodes",
            live.objects
        ));
    }

    // Drop the root: the tree is garbage, but every count is still above zero.
    drop(root);
    let drops = DROPS.load(Ordering::Relaxed);
    if drops != 0 {
        failures.push(format!(
            "{drops} nodes dropped by reference counting alone (the tree is cyclic)"
        ));
    }
    let dead = m.collect();
    print_stats(
        "collection 2: root dropped (expect every node collected)",
        &dead,
    );
    let drops = DROPS.load(Ordering::Relaxed);
    println!("  nodes dropped    {drops:>12}   (expected {n})");
    if drops != n {
        failures.push(format!("{drops} nodes dropped, expected exactly {n}"));
    }
    if dead.collected != n {
        failures.push(format!(
            "the collector reported {} collected, expected {n}",
            dead.collected
        ));
    }

    let collections = collector.totals().collections - collections_before;
    println!("\ncollections run    {collections:>12}   (2 explicit, no automatic ones)");
    if collections != 2 {
        failures.push(format!("{collections} collections ran, expected 2"));
    }
    println!("header size        {:>12} B", ftgc::HEADER_SIZE);
    match peak_rss() {
        Some(b) => println!(
            "peak RSS           {:>12.1} MiB   ({:.1} B/node)",
            b as f64 / (1024.0 * 1024.0),
            b as f64 / n as f64
        ),
        None => println!("peak RSS           {:>12}", "n/a"),
    }

    if was_enabled {
        collector.enable();
    }
    drop(m);

    if failures.is_empty() {
        println!(
            "\nOK: no live node was dropped; drops after the last collection = {n} = node count"
        );
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}
