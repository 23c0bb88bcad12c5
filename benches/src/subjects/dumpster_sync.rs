//! Peer: dumpster 2.1 `dumpster::sync::Gc`.
//!
//! dumpster is reference counting plus a cycle search that starts only from *dirty*
//! allocations: those whose handle was dropped while other handles remained. Each thread keeps
//! its dirty allocations in a thread-local dumpster (a hash map) and hands them to the global
//! "garbage truck" every 100,000 drops, at thread exit, or in [`collect`]. A collection builds
//! a hash-map graph of everything reachable from the truck's allocations (recursively), frees
//! what no outside reference reaches, and forgets the rest (they are searched again only once
//! dirty again).
//!
//! What this subject does, workload by workload:
//! * Automatic collection: dumpster collects from inside `Gc::drop` whenever its global
//!   *collect condition* says so (by default `n_gcs_dropped_since_last_collect >
//!   n_gcs_existing`). For tree, rings, btree and biglists the condition is replaced by one that
//!   never fires ([`set_collect_condition`]) for the whole workload, so only the timed explicit
//!   [`collect`]s run; the default condition is restored afterwards (dumpster has no getter for
//!   the current condition, so "restore" means "set [`default_collect_condition`]"). churn and
//!   threads run under a wrapper of [`default_collect_condition`] that returns the same answer
//!   and counts how often it said yes, which is how `collections` is reported.
//! * Interior mutability as dumpster's docs show: `OnceLock` for the tree's parent and the
//!   rings' next links, std `Mutex` for the tree's children, the pairs and the big lists
//!   (dumpster implements its `Trace` for both; a locked `Mutex` makes its owner count as
//!   reachable in that collection).
//! * `Tally`: dumpster's derive has no skip attribute, so this file implements dumpster's
//!   `TraceWith` for `Tally` as a leaf (an `unsafe impl`, the only unsafe code here).
//! * threads: dumpster triggers collections itself (inside a mutator's `Gc::drop`, on that
//!   thread, while the others keep running), so no explicit collection is made during the run;
//!   the final [`collect`] is made after every thread has exited (what is left in a thread's
//!   dumpster reaches the truck only at its exit).
//!
//! Surprising or unfair points, to read the numbers right:
//! * A collection only looks at dirty allocations. In biglists nothing is ever dropped while the
//!   graph is built (every handle is moved into the graph), so the live collection has nothing
//!   to search and is nearly free: it is not a full trace, unlike ftgc's. In tree the build drops
//!   its vector of 3,000,000 handles, every node becomes dirty, and the live collection does
//!   search the whole tree. In btree only the nodes become dirty (a record, which holds no `Gc`,
//!   is never marked dirty), but the search from the nodes reaches every record anyway.
//! * With the default condition, churn triggers a collection on almost every drop: the live
//!   `Gc` count is 0 after each drop, so "dropped since last collection > existing" holds at
//!   once (each such collection is cheap: the truck is empty).
//! * The default condition counts *handles*: a thread that builds garbage cycles creates more
//!   handles than it drops (threads: 3 created, 1 dropped per pair), so the condition never
//!   fires there. In a full threads run dumpster made 0 collections and reclaimed nothing before
//!   the final explicit [`collect`] (`dropped_during_run` = 0), which then took about 3.5 s for
//!   the 2,000,000 objects, outside the timed `wall`. No explicit collections were added: the
//!   workload gives them only to subjects without automatic triggers.
//! * The graph search and the marking are recursive (the recursion stayed shallow enough here:
//!   full-size biglists ran on a 1 MiB main-thread stack).
//! * btree's graph is acyclic: dropping its root frees it all by reference counting inside that
//!   (untimed) `drop`, so its garbage collection finds nothing left; biglists' graph is cyclic
//!   and is freed by the timed collection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use dumpster::sync::{CollectInfo, Gc, collect, default_collect_condition, set_collect_condition};
use dumpster::{Trace, TraceWith, Visitor};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// dumpster 2.1 `dumpster::sync::Gc`, with automatic collection off while graphs are built and
/// collected (tree, rings, btree, biglists), and dumpster's default trigger in churn and threads.
pub struct DumpsterSync;

// SAFETY: a `Tally` owns no `Gc` (it is a zero-sized token), so visiting nothing is its
// complete trace, and it has the tree-like ownership `TraceWith` requires.
unsafe impl<V: Visitor> TraceWith<V> for Tally {
    #[inline]
    fn accept(&self, _: &mut V) -> Result<(), ()> {
        Ok(())
    }
}

/// Automatic collections that dumpster's default condition triggered while counting.
static AUTO_COLLECTIONS: AtomicU64 = AtomicU64::new(0);

fn never(_: &CollectInfo) -> bool {
    false
}

/// dumpster's default condition, counted.
fn counted_default(info: &CollectInfo) -> bool {
    let yes = default_collect_condition(info);
    if yes {
        AUTO_COLLECTIONS.fetch_add(1, Ordering::Relaxed);
    }
    yes
}

/// Runs `f` with automatic collection off, then restores dumpster's default condition.
fn manual<R>(f: impl FnOnce() -> R) -> R {
    set_collect_condition(never);
    let r = f();
    set_collect_condition(default_collect_condition);
    r
}

/// Runs `f` under dumpster's default condition; returns the number of collections it triggered.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    set_collect_condition(counted_default);
    let before = AUTO_COLLECTIONS.load(Ordering::Relaxed);
    let r = f();
    let n = AUTO_COLLECTIONS.load(Ordering::Relaxed) - before;
    set_collect_condition(default_collect_condition);
    (r, n)
}

#[derive(Trace)]
struct TreeNode {
    parent: OnceLock<Gc<TreeNode>>,
    children: Mutex<Vec<Gc<TreeNode>>>,
    _tally: Tally,
}

#[derive(Trace)]
struct RingNode {
    next: OnceLock<Gc<RingNode>>,
    _tally: Tally,
}

#[derive(Trace)]
struct Small {
    value: u64,
    next: Option<Gc<Small>>,
    _tally: Tally,
}

#[derive(Trace)]
struct Pair {
    other: Mutex<Option<Gc<Pair>>>,
    _tally: Tally,
}

/// A `gc_big_tree` record: six floats, and a slot that could hold a handle.
#[derive(Trace)]
struct Record {
    fields: [f64; 6],
    link: Option<Gc<Record>>,
    _tally: Tally,
}

#[derive(Trace)]
struct BNode {
    items: Vec<(u32, Gc<Record>)>,
    children: Vec<Gc<BNode>>,
    _tally: Tally,
}

#[derive(Trace)]
struct List {
    items: Mutex<Vec<Gc<Item>>>,
    _tally: Tally,
}

#[derive(Trace)]
struct Item {
    list: Gc<List>,
    _tally: Tally,
}

#[derive(Trace)]
struct Lists {
    lists: Vec<Gc<List>>,
}

impl Subject for DumpsterSync {
    fn name(&self) -> &'static str {
        "dumpster"
    }

    fn thread_safe(&self) -> bool {
        true
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        manual(|| {
            let (root, build) = timed(|| {
                let mut nodes: Vec<Gc<TreeNode>> = Vec::with_capacity(p.nodes);
                for i in 0..p.nodes {
                    let node = Gc::new(TreeNode {
                        parent: OnceLock::new(),
                        children: Mutex::new(Vec::with_capacity(p.branching)),
                        _tally: Tally::new(),
                    });
                    if i > 0 {
                        let parent = &nodes[(i - 1) / p.branching];
                        let _ = node.parent.set(parent.clone());
                        parent.children.lock().unwrap().push(node.clone());
                    }
                    nodes.push(node);
                }
                nodes.swap_remove(0)
            });
            let (_, collect_live) = timed(collect);
            let dropped_live = Tally::dropped();
            let (_, drop_root) = timed(|| drop(root));
            let (_, collect_garbage) = timed(collect);
            Ok(TreeResult {
                build,
                collect_live,
                dropped_live,
                drop_root,
                collect_garbage,
                dropped: Tally::dropped(),
            })
        })
    }

    fn rings(&self, p: &RingsParams) -> Result<RingsResult, Skip> {
        manual(|| {
            let (handles, build) = timed(|| {
                let mut handles = Vec::with_capacity(p.rings);
                for _ in 0..p.rings {
                    let first = Gc::new(RingNode {
                        next: OnceLock::new(),
                        _tally: Tally::new(),
                    });
                    let mut last = first.clone();
                    for _ in 1..p.ring_size {
                        let n = Gc::new(RingNode {
                            next: OnceLock::new(),
                            _tally: Tally::new(),
                        });
                        let _ = last.next.set(n.clone());
                        last = n;
                    }
                    let _ = last.next.set(first.clone());
                    handles.push(first);
                }
                handles
            });
            let (_, drop_handles) = timed(|| drop(handles));
            let (_, collect) = timed(collect);
            Ok(RingsResult {
                build,
                drop_handles,
                collect,
                destroy: None,
                dropped: Tally::dropped(),
            })
        })
    }

    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        let ((_, time), collections) = counted(|| {
            timed(|| {
                for i in 0..p.objects {
                    let s = Gc::new(Small {
                        value: i as u64,
                        next: None,
                        _tally: Tally::new(),
                    });
                    std::hint::black_box(s.value);
                }
            })
        });
        Ok(ChurnResult {
            time,
            collections: Some(collections),
            dropped: Tally::dropped(),
        })
    }

    fn threads(&self, p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        let ((mutator, wall), collections) = counted(|| {
            let start = Instant::now();
            let mutator: Duration = std::thread::scope(|s| {
                let handles: Vec<_> = (0..p.threads)
                    .map(|_| {
                        s.spawn(|| {
                            let t = Instant::now();
                            for _ in 0..p.pairs {
                                let a = Gc::new(Pair {
                                    other: Mutex::new(None),
                                    _tally: Tally::new(),
                                });
                                let b = Gc::new(Pair {
                                    other: Mutex::new(Some(a.clone())),
                                    _tally: Tally::new(),
                                });
                                *a.other.lock().unwrap() = Some(b);
                            }
                            t.elapsed()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            (mutator, start.elapsed())
        });
        let dropped_during_run = Tally::dropped();
        collect();
        Ok(ThreadsResult {
            wall,
            mutator,
            collections: Some(collections),
            dropped_during_run,
            dropped: Tally::dropped(),
        })
    }

    fn btree(&self, p: &BTreeParams) -> Result<LiveGraphResult, Skip> {
        let plan = BTreePlan::new(p.records, 0x5eed);
        manual(|| {
            let (root, build) = timed(|| {
                plan.build(
                    &mut (),
                    |_, key| {
                        Gc::new(Record {
                            fields: record_fields(key),
                            link: None,
                            _tally: Tally::new(),
                        })
                    },
                    |_, items, children| {
                        Gc::new(BNode {
                            items,
                            children,
                            _tally: Tally::new(),
                        })
                    },
                )
            });
            let live = plan.live_objects();
            live_graph(
                (),
                build,
                (live, live, plan.replace_order.len()),
                |_| collect(),
                move |_| {
                    drop(root);
                    collect();
                },
            )
        })
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        manual(|| {
            let (root, build) = timed(|| {
                let lists: Vec<Gc<List>> = (0..p.lists)
                    .map(|_| {
                        Gc::new(List {
                            items: Mutex::new(Vec::with_capacity(p.list_len)),
                            _tally: Tally::new(),
                        })
                    })
                    .collect();
                for (list, targets) in lists.iter().zip(&plan.targets) {
                    for &t in targets {
                        let item = Gc::new(Item {
                            list: lists[t as usize].clone(),
                            _tally: Tally::new(),
                        });
                        list.items.lock().unwrap().push(item);
                    }
                }
                Gc::new(Lists { lists })
            });
            live_graph(
                (),
                build,
                (plan.objects() + 1, plan.objects(), 0),
                |_| collect(),
                move |_| {
                    drop(root);
                    collect();
                },
            )
        })
    }
}
