//! The interface every collector under test implements: one method per workload.
//!
//! A *subject* is one GC implementation (ftgc, a peer crate, or a no-GC floor such as `Rc`).
//! Each workload method builds the workload's object graph with that implementation, times the
//! parts named in its result, and reports how many values were dropped, counted by
//! [`Tally`](crate::tally::Tally) tokens embedded in the objects. The harness checks those
//! counts against the expected ones, so a fast wrong answer fails loudly.
//!
//! A subject that cannot run a workload returns [`Skip`] with the reason (printed in the
//! report). Methods default to `Skip("not implemented")`.

use std::time::{Duration, Instant};

use crate::tally::Tally;

/// Runs `f` and measures it.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// Why a subject does not run a workload.
#[derive(Clone, Debug)]
pub struct Skip(pub &'static str);

/// A tree of `nodes` nodes (breadth-first numbering, `branching` children per node) in which
/// every child also holds a strong handle to its parent: every edge is a two-object cycle.
#[derive(Clone, Debug)]
pub struct TreeParams {
    /// Number of nodes (3,000,000 by default).
    pub nodes: usize,
    /// Children per node (5).
    pub branching: usize,
}

/// What a tree run measured.
#[derive(Clone, Debug, Default)]
pub struct TreeResult {
    /// Building the whole tree.
    pub build: Duration,
    /// One full collection while the tree is live (nothing may be freed).
    pub collect_live: Duration,
    /// Values dropped by that live collection (must be 0).
    pub dropped_live: usize,
    /// Dropping the last handle to the root (reference counting alone frees nothing here).
    pub drop_root: Duration,
    /// The collection that frees the garbage tree, destruction included.
    pub collect_garbage: Duration,
    /// Values dropped by the end (must equal `nodes`).
    pub dropped: usize,
}

/// `rings` rings of `ring_size` objects each (object i → object i+1 mod size).
#[derive(Clone, Debug)]
pub struct RingsParams {
    /// Number of rings (250,000).
    pub rings: usize,
    /// Objects per ring (4).
    pub ring_size: usize,
}

/// What a rings run measured.
#[derive(Clone, Debug, Default)]
pub struct RingsResult {
    /// Building every ring.
    pub build: Duration,
    /// Dropping every outside handle.
    pub drop_handles: Duration,
    /// The collection that frees them all, destruction included.
    pub collect: Duration,
    /// Of `collect`, the time spent destroying the garbage once it was found (dropping the
    /// values and freeing the blocks), where the subject reports it apart.
    pub destroy: Option<Duration>,
    /// Values dropped by the end (must equal `rings * ring_size`).
    pub dropped: usize,
}

/// Allocate and drop `objects` small acyclic objects one at a time, with the subject's
/// default collection triggers.
#[derive(Clone, Debug)]
pub struct ChurnParams {
    /// Number of objects (10,000,000).
    pub objects: usize,
}

/// What a churn run measured.
#[derive(Clone, Debug, Default)]
pub struct ChurnResult {
    /// The whole loop.
    pub time: Duration,
    /// Collections that ran during it, if the subject can tell.
    pub collections: Option<u64>,
    /// Values dropped by the end (must equal `objects`).
    pub dropped: usize,
}

/// `threads` mutator threads, each building and dropping `pairs` two-object cycles while
/// collections run (automatic ones, plus one explicit collection per thread every
/// `collect_every` pairs, for subjects without automatic triggers).
#[derive(Clone, Debug)]
pub struct ThreadsParams {
    /// Mutator threads (2).
    pub threads: usize,
    /// Cyclic pairs per thread (500,000).
    pub pairs: usize,
    /// Explicit collection period, in pairs per thread.
    pub collect_every: usize,
}

/// What a threads run measured.
#[derive(Clone, Debug, Default)]
pub struct ThreadsResult {
    /// From the start of the threads to the last join.
    pub wall: Duration,
    /// Sum over threads of the time each spent in its loop.
    pub mutator: Duration,
    /// Collections that ran during the loops, if the subject can tell.
    pub collections: Option<u64>,
    /// Values dropped before the final collection (memory reclaimed during the run).
    pub dropped_during_run: usize,
    /// Values dropped by the end, after a final collection (must equal
    /// `2 * threads * pairs`).
    pub dropped: usize,
}

/// CPython's `gc_big_tree` shape: a B-tree (minimum degree 16) of `records` records keyed
/// by a shuffled range; then half of the keys are deleted and re-inserted with new records,
/// to scatter the graph in memory. Entirely live.
#[derive(Clone, Debug)]
pub struct BTreeParams {
    /// Number of records.
    pub records: usize,
}

/// CPython's `gc_big` shape: `lists` big lists of `list_len` small items each; every item
/// holds a handle to a random list (so the graph is full of cycles). Entirely live.
#[derive(Clone, Debug)]
pub struct BigListsParams {
    /// Number of lists.
    pub lists: usize,
    /// Items per list.
    pub list_len: usize,
}

/// What a run of a live-graph workload measured: btree and biglists (the tree, also a live
/// graph, has its own [`TreeResult`]).
#[derive(Clone, Debug, Default)]
pub struct LiveGraphResult {
    /// Building the graph.
    pub build: Duration,
    /// Objects in the graph (GC-managed allocations the subject made).
    pub objects: usize,
    /// One full collection while the graph is live.
    pub collect_live: Duration,
    /// Values dropped by that collection (must be 0).
    pub dropped_live: usize,
    /// Getting rid of the graph: dropping the root (or unrooting it) *plus* the full
    /// collection after it, destruction included. Reference-counting subjects free acyclic
    /// parts at the drop, tracing ones at the collection: the sum is the comparable cost.
    pub collect_garbage: Duration,
    /// Values dropped by the end (must equal the number of tallied values).
    pub dropped: usize,
    /// Tallied values created (records or items, as the subject chose).
    pub expected: usize,
}

/// The common tail of every subject's live-graph workloads: times one full collection with
/// the graph live, then `drop_and_collect` (drop or unroot the graph, then collect its
/// garbage: [`LiveGraphResult::collect_garbage`]), counting the drops after each. The graph
/// has `objects` objects, of which `tallied` carry a tally; `dropped_in_build` tallied values
/// died while it was built. `state` is whatever both steps need (a mutator, an arena, ...).
pub fn live_graph<S>(
    mut state: S,
    build: Duration,
    (objects, tallied, dropped_in_build): (usize, usize, usize),
    collect: impl FnOnce(&mut S),
    drop_and_collect: impl FnOnce(&mut S),
) -> Result<LiveGraphResult, Skip> {
    let (_, collect_live) = timed(|| collect(&mut state));
    let dropped_live = Tally::dropped() - dropped_in_build;
    let (_, collect_garbage) = timed(|| drop_and_collect(&mut state));
    Ok(LiveGraphResult {
        build,
        objects,
        collect_live,
        dropped_live,
        collect_garbage,
        dropped: Tally::dropped() - dropped_in_build,
        expected: tallied,
    })
}

/// One collector under test.
pub trait Subject {
    /// Short name for the report (`ftgc`, `dumpster`, `Rc`...).
    fn name(&self) -> &'static str;

    /// Whether its handles may be shared between threads.
    fn thread_safe(&self) -> bool;

    /// The tree workload.
    fn tree(&self, _p: &TreeParams) -> Result<TreeResult, Skip> {
        Err(Skip("not implemented"))
    }

    /// The rings workload.
    fn rings(&self, _p: &RingsParams) -> Result<RingsResult, Skip> {
        Err(Skip("not implemented"))
    }

    /// The churn workload.
    fn churn(&self, _p: &ChurnParams) -> Result<ChurnResult, Skip> {
        Err(Skip("not implemented"))
    }

    /// The threads workload.
    fn threads(&self, _p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        Err(Skip("not implemented"))
    }

    /// The btree workload.
    fn btree(&self, _p: &BTreeParams) -> Result<LiveGraphResult, Skip> {
        Err(Skip("not implemented"))
    }

    /// The biglists workload.
    fn biglists(&self, _p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        Err(Skip("not implemented"))
    }
}
