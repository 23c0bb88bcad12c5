//! Peer: gcmodule 0.3 `ThreadedCc` in a `ThreadedObjectSpace`.
//!
//! gcmodule is reference counting plus CPython 3.8's cycle detection (copy the reference counts,
//! subtract internal references, revive what is reachable from the rest, drop the remainder)
//! over a doubly linked list of every *tracked* object of an object space. The thread-safe flavour
//! is a `ThreadedObjectSpace`: its objects are `ThreadedCc<T>`, created by
//! `ThreadedObjectSpace::create`, and read through `ThreadedCc::borrow`, a guard that holds the
//! space's collector lock (a `parking_lot` `RwLock`, read side) so no collection runs meanwhile.
//!
//! What this subject does, workload by workload:
//! * Automatic collection: a `ThreadedObjectSpace` never collects by itself (gcmodule has no
//!   trigger at all; only `collect_cycles` collects), so there is nothing to disable in tree,
//!   rings, btree and biglists, and churn reports 0 collections. In threads each mutator thread
//!   calls `collect_cycles` every `collect_every` pairs, as the workload prescribes for subjects
//!   without automatic triggers; `collections` counts those calls.
//! * One `ThreadedObjectSpace` per run, created first so that it is dropped last (its list head
//!   must outlive every object in it: objects unlink themselves from their neighbours when
//!   freed).
//! * `Trace` is implemented by hand for every recursive type (`TreeNode`, `RingNode`, `Small`,
//!   `Pair`, `Record`, `BNode`, `List`, `Item`): gcmodule's derive computes `is_type_tracked`
//!   from the field types, which recurses forever on a type that contains a `ThreadedCc` of
//!   itself (a stack overflow at the first `create`); gcmodule's docs prescribe a manual `Trace`
//!   whose `is_type_tracked` returns `true` for such types. `Lists` (not recursive) uses the
//!   derive. The `Tally` field is simply not traced.
//! * Interior mutability: std `Mutex` (gcmodule implements `Trace` for it; a locked `Mutex` is
//!   skipped by the trace, so its referents stay alive) for the tree's children, the pairs and
//!   the big lists. gcmodule has no `Trace` for `OnceLock`, so the tree's parent and the rings'
//!   next links are `OnceLock`s traced by the hand-written `Trace` impls (set once, before any
//!   collection can see them; the same layout as ftgc's subject).
//!
//! Surprising or unfair points, to read the numbers right:
//! * Every tracked object is on one linked list guarded by one `parking_lot` mutex: each
//!   `create` and each free of a tracked object takes that global lock (in threads, both
//!   mutators contend on it), and every dereference takes the collector lock's read side.
//! * btree's graph is acyclic: dropping its root frees it all by reference counting inside that
//!   (untimed) `drop`, so its garbage collection finds nothing left.
//! * `Small` (churn) and `Record` (btree) can hold a handle to their own type, so by gcmodule's
//!   rules they are tracked (linked-list header and global lock), as a Python object would be.
//! * A collection walks the whole list of the space (every tracked object, live or not)
//!   several times, allocates a `Box<dyn GcClone>` per unreachable object before dropping them, and
//!   revives reachable objects recursively (the recursion stayed shallow enough here: full-size
//!   biglists ran on a 1 MiB main-thread stack).
//! * **Peer bug, worked around in threads:** two `collect_cycles` calls on one space from two
//!   threads can overlap: the first releases the space's locks before it drops the values of
//!   its garbage, and until those objects are freed they stay on the list, where the second
//!   collection traces their already dropped values, finds them unreachable again and takes
//!   them too. The first then fails its own check, `bug: unexpected ref-count after dropping
//!   cycles` (`left: 2, right: 1`), a panic in a mutator thread (2 runs in 20 of the small test
//!   failed so; on a release build it also reads dropped values). So the threads workload
//!   serialises its explicit collections with a `Mutex` around `collect_cycles` (100 calls in a
//!   full run, so the cost is negligible; a thread that wants to collect while the other does
//!   waits, as it would mostly wait for the space's collector lock anyway). With it, 100 runs of
//!   the small test and every full-size run verified.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gcmodule::{ThreadedCc, ThreadedObjectSpace, Trace, Tracer};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// gcmodule 0.3 `ThreadedCc` in a `ThreadedObjectSpace` (explicit collections only).
pub struct GcModule;

type Cc<T> = ThreadedCc<T>;

struct TreeNode {
    parent: OnceLock<Cc<TreeNode>>,
    children: Mutex<Vec<Cc<TreeNode>>>,
    _tally: Tally,
}

impl Trace for TreeNode {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(p) = self.parent.get() {
            p.trace(tracer);
        }
        self.children.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

struct RingNode {
    next: OnceLock<Cc<RingNode>>,
    _tally: Tally,
}

impl Trace for RingNode {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(n) = self.next.get() {
            n.trace(tracer);
        }
    }

    fn is_type_tracked() -> bool {
        true
    }
}

struct Small {
    value: u64,
    next: Option<Cc<Small>>,
    _tally: Tally,
}

impl Trace for Small {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

struct Pair {
    other: Mutex<Option<Cc<Pair>>>,
    _tally: Tally,
}

impl Trace for Pair {
    fn trace(&self, tracer: &mut Tracer) {
        self.other.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

/// A `gc_big_tree` record: six floats, and a slot that could hold a handle.
struct Record {
    #[expect(
        dead_code,
        reason = "payload only: written, never read (as in the other subjects)"
    )]
    fields: [f64; 6],
    link: Option<Cc<Record>>,
    _tally: Tally,
}

impl Trace for Record {
    fn trace(&self, tracer: &mut Tracer) {
        self.link.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

struct BNode {
    items: Vec<(u32, Cc<Record>)>,
    children: Vec<Cc<BNode>>,
    _tally: Tally,
}

impl Trace for BNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.items.trace(tracer);
        self.children.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

struct List {
    items: Mutex<Vec<Cc<Item>>>,
    _tally: Tally,
}

impl Trace for List {
    fn trace(&self, tracer: &mut Tracer) {
        self.items.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

struct Item {
    list: Cc<List>,
    _tally: Tally,
}

impl Trace for Item {
    fn trace(&self, tracer: &mut Tracer) {
        self.list.trace(tracer);
    }

    fn is_type_tracked() -> bool {
        true
    }
}

#[derive(Trace)]
struct Lists {
    lists: Vec<Cc<List>>,
}

impl Subject for GcModule {
    fn name(&self) -> &'static str {
        "gcmodule"
    }

    fn thread_safe(&self) -> bool {
        true
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        let space = ThreadedObjectSpace::default();
        let (root, build) = timed(|| {
            let mut nodes: Vec<Cc<TreeNode>> = Vec::with_capacity(p.nodes);
            for i in 0..p.nodes {
                let node = space.create(TreeNode {
                    parent: OnceLock::new(),
                    children: Mutex::new(Vec::with_capacity(p.branching)),
                    _tally: Tally::new(),
                });
                if i > 0 {
                    let parent = &nodes[(i - 1) / p.branching];
                    let _ = node.borrow().parent.set(parent.clone());
                    parent.borrow().children.lock().unwrap().push(node.clone());
                }
                nodes.push(node);
            }
            nodes.swap_remove(0)
        });
        let (_, collect_live) = timed(|| space.collect_cycles());
        let dropped_live = Tally::dropped();
        let (_, drop_root) = timed(|| drop(root));
        let (_, collect_garbage) = timed(|| space.collect_cycles());
        Ok(TreeResult {
            build,
            collect_live,
            dropped_live,
            drop_root,
            collect_garbage,
            dropped: Tally::dropped(),
        })
    }

    fn rings(&self, p: &RingsParams) -> Result<RingsResult, Skip> {
        let space = ThreadedObjectSpace::default();
        let node = || {
            space.create(RingNode {
                next: OnceLock::new(),
                _tally: Tally::new(),
            })
        };
        let (handles, build) = timed(|| {
            let mut handles = Vec::with_capacity(p.rings);
            for _ in 0..p.rings {
                let first = node();
                let mut last = first.clone();
                for _ in 1..p.ring_size {
                    let n = node();
                    let _ = last.borrow().next.set(n.clone());
                    last = n;
                }
                let _ = last.borrow().next.set(first.clone());
                handles.push(first);
            }
            handles
        });
        let (_, drop_handles) = timed(|| drop(handles));
        let (_, collect) = timed(|| space.collect_cycles());
        Ok(RingsResult {
            build,
            drop_handles,
            collect,
            destroy: None,
            dropped: Tally::dropped(),
        })
    }

    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        let space = ThreadedObjectSpace::default();
        let (_, time) = timed(|| {
            for i in 0..p.objects {
                let s = space.create(Small {
                    value: i as u64,
                    next: None,
                    _tally: Tally::new(),
                });
                std::hint::black_box(s.borrow().value);
            }
        });
        Ok(ChurnResult {
            time,
            // gcmodule never collects by itself.
            collections: Some(0),
            dropped: Tally::dropped(),
        })
    }

    fn threads(&self, p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        let space = ThreadedObjectSpace::default();
        // Serialises the collections (see the module doc: two overlapping `collect_cycles`
        // calls on one space can take the same objects twice).
        let collecting = Mutex::new(());
        let start = Instant::now();
        let (mutator, collections): (Duration, u64) = std::thread::scope(|s| {
            let handles: Vec<_> = (0..p.threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut collections = 0u64;
                        let t = Instant::now();
                        for i in 0..p.pairs {
                            let a = space.create(Pair {
                                other: Mutex::new(None),
                                _tally: Tally::new(),
                            });
                            let b = space.create(Pair {
                                other: Mutex::new(Some(a.clone())),
                                _tally: Tally::new(),
                            });
                            *a.borrow().other.lock().unwrap() = Some(b);
                            drop(a);
                            if (i + 1) % p.collect_every.max(1) == 0 {
                                let _one_at_a_time = collecting.lock().unwrap();
                                space.collect_cycles();
                                collections += 1;
                            }
                        }
                        (t.elapsed(), collections)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold((Duration::ZERO, 0), |(d, n), (e, m)| (d + e, n + m))
        });
        let wall = start.elapsed();
        let dropped_during_run = Tally::dropped();
        space.collect_cycles();
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
        let space = ThreadedObjectSpace::default();
        let (root, build) = timed(|| {
            plan.build(
                &mut (),
                |_, key| {
                    space.create(Record {
                        fields: record_fields(key),
                        link: None,
                        _tally: Tally::new(),
                    })
                },
                |_, items, children| {
                    space.create(BNode {
                        items,
                        children,
                        _tally: Tally::new(),
                    })
                },
            )
        });
        let live = plan.live_objects();
        live_graph(
            &space,
            build,
            (live, live, plan.replace_order.len()),
            |s| {
                s.collect_cycles();
            },
            move |s| {
                drop(root);
                s.collect_cycles();
            },
        )
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        let space = ThreadedObjectSpace::default();
        let (root, build) = timed(|| {
            let lists: Vec<Cc<List>> = (0..p.lists)
                .map(|_| {
                    space.create(List {
                        items: Mutex::new(Vec::with_capacity(p.list_len)),
                        _tally: Tally::new(),
                    })
                })
                .collect();
            for (list, targets) in lists.iter().zip(&plan.targets) {
                for &t in targets {
                    let item = space.create(Item {
                        list: lists[t as usize].clone(),
                        _tally: Tally::new(),
                    });
                    list.borrow().items.lock().unwrap().push(item);
                }
            }
            space.create(Lists { lists })
        });
        live_graph(
            &space,
            build,
            (plan.objects() + 1, plan.objects(), 0),
            |s| {
                s.collect_cycles();
            },
            move |s| {
                drop(root);
                s.collect_cycles();
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::exclusive;

    #[test]
    fn threads_collect_every_collect_every_pairs() {
        let p = ThreadsParams {
            threads: 2,
            pairs: 5_000,
            collect_every: 1000,
        };
        let r = exclusive(|| GcModule.threads(&p)).unwrap();
        assert_eq!(r.collections, Some(10));
    }
}
