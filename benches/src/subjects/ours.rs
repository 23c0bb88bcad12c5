//! ftgc itself.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ftgc::{Gc, GcMutex, Mutator, Root, Trace};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// ftgc, with automatic collection disabled while graphs are built (the timed collections are
/// the explicit ones) except in `churn` and `threads`, which use the default trigger. Mutable
/// edges use [`GcMutex`], ftgc's interior mutability for GC objects (the collector traces it
/// without locking), as each peer uses the cell its documentation recommends.
///
/// With `rooted`, the live-graph workloads (`tree`, `btree`, `biglists`) register the graph's
/// root as a [`Root`], as an embedder registers its long-lived roots (and as gc-arena knows
/// its arena's root): the collector marks the graph alive and skips it in the cycle search.
/// The other workloads have no long-lived root, so that subject skips them.
pub struct Ftgc {
    /// Register the live graphs' roots.
    pub rooted: bool,
}

/// Why `ftgc+root` skips a workload.
const NO_ROOT: Skip = Skip("no long-lived root to register: the same run as ftgc");

fn collections() -> u64 {
    ftgc::collector().totals().collections
}

/// Runs `f` with automatic collection off.
fn manual<R>(f: impl FnOnce() -> R) -> R {
    let was = ftgc::collector().disable();
    let r = f();
    if was {
        ftgc::collector().enable();
    }
    r
}

#[derive(Trace)]
struct TreeNode {
    parent: OnceLock<Gc<TreeNode>>,
    children: GcMutex<Vec<Gc<TreeNode>>>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct RingNode {
    next: OnceLock<Gc<RingNode>>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct Small {
    value: u64,
    next: Option<Gc<Small>>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct Pair {
    other: GcMutex<Option<Gc<Pair>>>,
    #[trace(skip)]
    _tally: Tally,
}

/// A `gc_big_tree` record: six floats, and a slot that could hold a handle (as a Python
/// object's attributes could), so it is a GC object.
#[derive(Trace)]
struct Record {
    fields: [f64; 6],
    link: Option<Gc<Record>>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct BNode {
    items: Vec<(u32, Gc<Record>)>,
    children: Vec<Gc<BNode>>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct List {
    items: GcMutex<Vec<Gc<Item>>>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct Item {
    list: Gc<List>,
    #[trace(skip)]
    _tally: Tally,
}

#[derive(Trace)]
struct Lists {
    lists: Vec<Gc<List>>,
}

impl Subject for Ftgc {
    fn name(&self) -> &'static str {
        if self.rooted { "ftgc+root" } else { "ftgc" }
    }

    fn thread_safe(&self) -> bool {
        true
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        let m = &mut Mutator::new();
        manual(|| {
            let (root, build) = timed(|| build_tree(m, p));
            let root = self.register(root);
            let (_, collect_live) = timed(|| m.collect());
            let dropped_live = Tally::dropped();
            let (_, drop_root) = timed(|| drop(root));
            let (_, collect_garbage) = timed(|| m.collect());
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
        if self.rooted {
            return Err(NO_ROOT);
        }
        let m = &mut Mutator::new();
        manual(|| {
            let (handles, build) = timed(|| {
                let mut handles = Vec::with_capacity(p.rings);
                for _ in 0..p.rings {
                    let first = Gc::new(
                        m,
                        RingNode {
                            next: OnceLock::new(),
                            _tally: Tally::new(),
                        },
                    );
                    let mut last = first.clone();
                    for _ in 1..p.ring_size {
                        let n = Gc::new(
                            m,
                            RingNode {
                                next: OnceLock::new(),
                                _tally: Tally::new(),
                            },
                        );
                        let _ = last.get(m).next.set(n.clone());
                        last = n;
                    }
                    let _ = last.get(m).next.set(first.clone());
                    handles.push(first);
                }
                handles
            });
            let (_, drop_handles) = timed(|| drop(handles));
            let (stats, collect) = timed(|| m.collect());
            Ok(RingsResult {
                build,
                drop_handles,
                collect,
                destroy: Some(stats.destroy),
                dropped: Tally::dropped(),
            })
        })
    }

    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        if self.rooted {
            return Err(NO_ROOT);
        }
        let m = &mut Mutator::new();
        let before = collections();
        let (_, time) = timed(|| {
            for i in 0..p.objects {
                let s = Gc::new(
                    m,
                    Small {
                        value: i as u64,
                        next: None,
                        _tally: Tally::new(),
                    },
                );
                std::hint::black_box(s.get(m).value);
            }
        });
        Ok(ChurnResult {
            time,
            collections: Some(collections() - before),
            dropped: Tally::dropped(),
        })
    }

    fn threads(&self, p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        if self.rooted {
            return Err(NO_ROOT);
        }
        let m = &mut Mutator::new();
        let before = collections();
        let start = Instant::now();
        let mutator: Duration = m.detached(|| {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..p.threads)
                    .map(|_| {
                        s.spawn(|| {
                            let m = &mut Mutator::new();
                            let t = Instant::now();
                            for _ in 0..p.pairs {
                                let a = Gc::new(
                                    m,
                                    Pair {
                                        other: GcMutex::new(None),
                                        _tally: Tally::new(),
                                    },
                                );
                                let b = Gc::new(
                                    m,
                                    Pair {
                                        other: GcMutex::new(Some(a.clone())),
                                        _tally: Tally::new(),
                                    },
                                );
                                *a.get(m).other.lock() = Some(b);
                            }
                            t.elapsed()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            })
        });
        let wall = start.elapsed();
        let collections = collections() - before;
        let dropped_during_run = Tally::dropped();
        m.collect();
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
        let m = &mut Mutator::new();
        manual(|| {
            let (root, build) = timed(|| build_btree(m, &plan));
            let root = self.register(root);
            let live = plan.live_objects();
            live_graph(
                m,
                build,
                (live, live, plan.replace_order.len()),
                |m| {
                    m.collect();
                },
                move |m| {
                    drop(root);
                    m.collect();
                },
            )
        })
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        let m = &mut Mutator::new();
        manual(|| {
            let (root, build) = timed(|| build_biglists(m, &plan));
            let root = self.register(root);
            live_graph(
                m,
                build,
                (plan.objects() + 1, plan.objects(), 0),
                |m| {
                    m.collect();
                },
                move |m| {
                    drop(root);
                    m.collect();
                },
            )
        })
    }
}

impl Ftgc {
    /// A live graph's root handle, also registered as a [`Root`] if the subject is `rooted`;
    /// dropping the pair lets the graph go.
    fn register<T>(&self, root: Gc<T>) -> (Option<Root<T>>, Gc<T>) {
        (self.rooted.then(|| Root::new(root.clone())), root)
    }
}

/// The tree workload's graph; returns its root (the only handle left).
pub fn build_tree(m: &mut Mutator, p: &TreeParams) -> Gc<impl Trace + Send + Sync + 'static> {
    let mut nodes: Vec<Gc<TreeNode>> = Vec::with_capacity(p.nodes);
    for i in 0..p.nodes {
        let node = Gc::new(
            m,
            TreeNode {
                parent: OnceLock::new(),
                children: GcMutex::new(Vec::with_capacity(p.branching)),
                _tally: Tally::new(),
            },
        );
        if i > 0 {
            let parent = &nodes[(i - 1) / p.branching];
            let _ = node.get(m).parent.set(parent.clone());
            parent.get(m).children.lock().push(node.clone());
        }
        nodes.push(node);
    }
    nodes.swap_remove(0)
}

/// The btree workload's graph; returns its root (the only handle left).
pub fn build_btree(m: &mut Mutator, plan: &BTreePlan) -> Gc<impl Trace + Send + Sync + 'static> {
    let record = |m: &mut Mutator, key: u32| {
        Gc::new(
            m,
            Record {
                fields: record_fields(key),
                link: None,
                _tally: Tally::new(),
            },
        )
    };
    plan.build(m, record, |m, items, children| {
        Gc::new(
            m,
            BNode {
                items,
                children,
                _tally: Tally::new(),
            },
        )
    })
}

/// The biglists workload's graph; returns its root (the only handle left).
pub fn build_biglists(
    m: &mut Mutator,
    plan: &BigListsPlan,
) -> Gc<impl Trace + Send + Sync + 'static> {
    let lists: Vec<Gc<List>> = (0..plan.targets.len())
        .map(|i| {
            Gc::new(
                m,
                List {
                    items: GcMutex::new(Vec::with_capacity(plan.targets[i].len())),
                    _tally: Tally::new(),
                },
            )
        })
        .collect();
    for (list, targets) in lists.iter().zip(&plan.targets) {
        for &t in targets {
            let item = Gc::new(
                m,
                Item {
                    list: lists[t as usize].clone(),
                    _tally: Tally::new(),
                },
            );
            list.get(m).items.lock().push(item);
        }
    }
    Gc::new(m, Lists { lists })
}
