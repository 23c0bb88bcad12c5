//! Peer: gc 0.5 (rust-gc) `Gc` + `GcCell`.
//!
//! rust-gc is a thread-local, non-incremental mark-sweep collector. Every `Gc` handle outside
//! the GC heap (on the stack, in a `Vec` on the stack...) is a *root*: it holds a root count on
//! its box. A collection marks from every box with a non-zero root count, by recursion through
//! `Trace::trace`, finalizes the unmarked boxes, marks again, and frees them.
//! [`gc::force_collect`] runs one such full collection; it is every timed collection here.
//!
//! # How each workload maps onto it
//!
//! * The graph types mirror [`ours`](super::ours): where ftgc mutates a field after allocation
//!   (`OnceLock` parent or ring link, `Mutex<Vec<_>>` children or items), this uses a `GcCell`
//!   and mutates it the same way, at the same point.
//! * Each workload runs on a **fresh thread** (8 MiB stack, as a Linux main thread has), so it
//!   starts from rust-gc's default thread-local state. Without it, the allocation threshold
//!   that a previous workload grew (rust-gc only ever raises it) would carry over: run on the
//!   thread that had just run `tree`, `churn` collected once in 10,000,000 objects (measured),
//!   instead of at every 3rd.
//! * **Automatic collection cannot be turned off** with the features this crate enables:
//!   `gc::configure` (to raise the threshold) needs the `unstable-config` feature. So during
//!   the builds of `tree`, `rings`, `btree` and `biglists`, rust-gc collects on its default
//!   trigger: whenever more than `threshold` bytes of `GcBox`es are allocated (100 bytes at
//!   first); after a collection that kept more than 70% of the threshold, the threshold becomes
//!   `allocated / 0.7`. So a heap that grows entirely live is collected at sizes growing by
//!   1/0.7 each time, which marks about `1 / (1 - 0.7)` ≈ 3.3 times the final heap over its
//!   build: the build times include that work (rust-gc's own pacing, but work that ftgc's
//!   builds, run with automatic collection off, do not do).
//! * `tree`: build, then `force_collect` (live), drop the root handle (it only decrements a
//!   root count), `force_collect` (frees the tree).
//! * `rings`: build, drop the `Vec` of handles (decrements root counts), `force_collect`.
//! * `churn`: allocate and drop one `Gc` at a time under the default trigger. A final
//!   `force_collect`, inside the timed region, frees the few objects allocated since the last
//!   automatic collection (fewer than the 100-byte threshold's worth), so that every object is
//!   dropped. Counting collections with `gc::stats` needs the `unstable-stats` feature, so
//!   `collections` counts the allocations after which the drop count rose (one atomic load per
//!   object): here exactly the automatic collections, as each frees at least one object and
//!   nothing else frees any. With 40-byte `GcBox`es and a live set that is always empty, the
//!   threshold stays at 100 bytes: a collection every 3rd allocation.
//! * `threads`: skipped, see [`RustGc::threads`].
//! * `btree`: the replaced records die during the build. ftgc frees them there, by reference
//!   counting; here the automatic collections free some of them, and the build ends with one
//!   `force_collect` (timed as part of the build) that frees the rest, so that `collect_live`
//!   is, as for every subject, a collection of an entirely live heap.
//! * `biglists`: items are created in list order, as in ftgc, but each list's items are
//!   gathered in a `Vec` and stored into the list's `GcCell` in one borrow, instead of one
//!   borrow per item. A `GcCell` in the heap re-roots its whole content on `borrow_mut` and
//!   unroots it again when the borrow ends, so pushing items one at a time costs O(length) per
//!   push, O(length²) per list: a cost any rust-gc user would avoid this way (measured at full
//!   size: 4.5 s to build one item at a time, about 0.1 s this way). The graph is the same.
//!
//! # Recursion
//!
//! Marking recurses through the object graph (`trace_inner` → `Trace::trace` → `trace_inner`),
//! so its stack depth is the depth of the depth-first search of the heap. In `biglists` this
//! search runs from list to item to list, and can be thousands of lists deep: at the default
//! size (3,000 lists), the workload overflowed a 64 KiB thread stack and ran in 128 KiB, far
//! within the 8 MiB given here; the depth grows linearly with the number of lists. Freeing
//! does not recurse (the sweep frees boxes one by one from a list).
//!
//! # Caveats
//!
//! `Gc` is `!Send` and its heap thread-local: objects cannot be shared between threads.
//!
//! `gc_derive` 0.5 (through an old `synstructure`) wraps its impls in `const _: () = { ... }`
//! blocks, which today's rustc flags with `non_local_definitions`: allowed in this module.

#![allow(non_local_definitions)]

use gc::{Finalize, Gc, GcCell, Trace, force_collect};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// gc 0.5 (rust-gc) `Gc` + `GcCell`, each workload on a fresh thread with the default
/// (unconfigurable) collection trigger.
pub struct RustGc;

/// Stack of the thread each workload runs on: what a Linux main thread gets by default.
const STACK: usize = 8 << 20;

/// Runs `f` on a fresh thread: a fresh rust-gc heap, with its default threshold.
fn fresh<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("rust-gc".into())
            .stack_size(STACK)
            .spawn_scoped(s, f)
            .expect("spawn a workload thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

#[derive(Trace, Finalize)]
struct TreeNode {
    parent: GcCell<Option<Gc<TreeNode>>>,
    children: GcCell<Vec<Gc<TreeNode>>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct RingNode {
    next: GcCell<Option<Gc<RingNode>>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct Small {
    value: u64,
    next: Option<Gc<Small>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

/// A `gc_big_tree` record (see [`ours`](super::ours)).
#[derive(Trace, Finalize)]
struct Record {
    fields: [f64; 6],
    link: Option<Gc<Record>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct BNode {
    items: Vec<(u32, Gc<Record>)>,
    children: Vec<Gc<BNode>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct List {
    items: GcCell<Vec<Gc<Item>>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct Item {
    list: Gc<List>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct Lists {
    lists: Vec<Gc<List>>,
}

impl Subject for RustGc {
    fn name(&self) -> &'static str {
        "gc"
    }

    fn thread_safe(&self) -> bool {
        false
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        fresh(|| {
            let (root, build) = timed(|| {
                let mut nodes: Vec<Gc<TreeNode>> = Vec::with_capacity(p.nodes);
                for i in 0..p.nodes {
                    let node = Gc::new(TreeNode {
                        parent: GcCell::new(None),
                        children: GcCell::new(Vec::with_capacity(p.branching)),
                        _tally: Tally::new(),
                    });
                    if i > 0 {
                        let parent = &nodes[(i - 1) / p.branching];
                        *node.parent.borrow_mut() = Some(parent.clone());
                        parent.children.borrow_mut().push(node.clone());
                    }
                    nodes.push(node);
                }
                nodes.swap_remove(0)
            });
            let (_, collect_live) = timed(force_collect);
            let dropped_live = Tally::dropped();
            let (_, drop_root) = timed(|| drop(root));
            let (_, collect_garbage) = timed(force_collect);
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
        fresh(|| {
            let new_node = || {
                Gc::new(RingNode {
                    next: GcCell::new(None),
                    _tally: Tally::new(),
                })
            };
            let (handles, build) = timed(|| {
                let mut handles = Vec::with_capacity(p.rings);
                for _ in 0..p.rings {
                    let first = new_node();
                    let mut last = first.clone();
                    for _ in 1..p.ring_size {
                        let n = new_node();
                        *last.next.borrow_mut() = Some(n.clone());
                        last = n;
                    }
                    *last.next.borrow_mut() = Some(first.clone());
                    handles.push(first);
                }
                handles
            });
            let (_, drop_handles) = timed(|| drop(handles));
            let (_, collect) = timed(force_collect);
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
        fresh(|| {
            let mut collections = 0;
            let (_, time) = timed(|| {
                let mut dropped = Tally::dropped();
                for i in 0..p.objects {
                    let s = Gc::new(Small {
                        value: i as u64,
                        next: None,
                        _tally: Tally::new(),
                    });
                    std::hint::black_box(s.value);
                    // Only a collection (run by `Gc::new` when the threshold is crossed) drops
                    // objects here, and each one drops some: count them this way.
                    if Tally::dropped() != dropped {
                        dropped = Tally::dropped();
                        collections += 1;
                    }
                }
                // The objects allocated since the last automatic collection.
                force_collect();
            });
            Ok(ChurnResult {
                time,
                collections: Some(collections),
                dropped: Tally::dropped(),
            })
        })
    }

    /// Skipped: rust-gc's heap is thread-local and `Gc` is `!Send`.
    fn threads(&self, _p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        Err(Skip(
            "single-threaded: rust-gc's heap and collector are thread-local and `Gc` is !Send, \
             so no object can be shared with or collected alongside another thread",
        ))
    }

    fn btree(&self, p: &BTreeParams) -> Result<LiveGraphResult, Skip> {
        let plan = BTreePlan::new(p.records, 0x5eed);
        fresh(|| {
            let (root, build) = timed(|| {
                let root = plan.build(
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
                );
                // Free the replaced records that the automatic collections left (see the
                // module doc).
                force_collect();
                root
            });
            let live = plan.live_objects();
            live_graph(
                (),
                build,
                (live, live, plan.replace_order.len()),
                |_| force_collect(),
                move |_| {
                    drop(root);
                    force_collect();
                },
            )
        })
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        fresh(|| {
            let (root, build) = timed(|| {
                let lists: Vec<Gc<List>> = (0..p.lists)
                    .map(|_| {
                        Gc::new(List {
                            items: GcCell::new(Vec::new()),
                            _tally: Tally::new(),
                        })
                    })
                    .collect();
                for (list, targets) in lists.iter().zip(&plan.targets) {
                    // One borrow per list, not per item: see the module doc.
                    let mut items = Vec::with_capacity(p.list_len);
                    for &t in targets {
                        items.push(Gc::new(Item {
                            list: lists[t as usize].clone(),
                            _tally: Tally::new(),
                        }));
                    }
                    *list.items.borrow_mut() = items;
                }
                Gc::new(Lists { lists })
            });
            live_graph(
                (),
                build,
                (plan.objects() + 1, plan.objects(), 0),
                |_| force_collect(),
                move |_| {
                    drop(root);
                    force_collect();
                },
            )
        })
    }
}
