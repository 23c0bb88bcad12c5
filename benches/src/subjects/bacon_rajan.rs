//! Peer: bacon_rajan_cc 0.4 `Cc`.
//!
//! bacon_rajan_cc (0.4.0) is a single-threaded reference-counting cycle collector after Bacon
//! and Rajan's synchronous algorithm: `Cc<T>` is `!Send`, and its buffer of *possible roots* is
//! thread-local. Values whose count drops to zero are dropped at once, as with `Rc`; a `Cc`
//! dropped with a count still above zero colours its object purple and pushes it into the
//! buffer. `collect_cycles()` examines only the buffered objects that are still purple (nothing
//! has cloned them since) and what is reachable from them: trial deletion (`mark_gray`), then
//! `scan` / `scan_black` to restore what is externally referenced, then it frees what is left
//! white.
//!
//! # What was done, and why
//!
//! * Every workload builds the same graph as [`ours`](super::ours), in the same order, with the
//!   same timed regions; mutable edges are `RefCell`s, as bacon_rajan_cc's documentation does
//!   it. The crate has no derive: every `Trace` impl is written by hand and simply does not
//!   trace the [`Tally`] field (nor the record's floats: the crate has no `Trace` for arrays).
//!   No `unsafe` is needed.
//! * Automatic collection: bacon_rajan_cc has none. The only collections are explicit
//!   `collect_cycles()` calls, so there is nothing to disable in `tree`, `rings`, `btree` and
//!   `biglists`, and `churn` reports 0 collections (exactly: nothing else can start one). In
//!   `churn` every object dies by reference counting and is never buffered.
//! * `threads` is skipped: `Cc` cannot cross threads.
//!
//! # What a collection scans in each workload
//!
//! The collector scans only from purple buffered objects, so the work of a "collection" depends
//! on which objects had a count decremented (and were not cloned afterwards) since the last one:
//!
//! * `tree`: the build keeps every node in a `Vec` of handles (as ftgc's build does) and drops
//!   it at the end of the timed build, so every node but the root (2,999,999 at the default
//!   size) is a purple possible root when `collect_live` runs: trial deletion walks the whole
//!   live tree, and `scan_black` walks it again from the root to restore the counts. Dropping
//!   the root buffers it; `collect_garbage` walks the whole garbage tree (mark, scan, collect).
//! * `rings`: every ring node had a count decremented during the build or by `drop_handles`, so
//!   all of them (1,000,000) are buffered and traced.
//! * `btree`: dropping the build's vectors of record and node handles buffers every record and
//!   every node (2,930,983 objects at the default size), so `collect_live` walks the whole live
//!   graph (trial deletion turns the records white, `scan_black` from the root restores them).
//!   The B-tree is acyclic (records hold no handle, nodes no parent): dropping the root frees the
//!   whole graph by reference counting, recursively (the depth is the tree's height), and the
//!   collection after it finds an empty buffer. `collect_garbage` times both, as the interface
//!   asks.
//! * `biglists`: the build's vector of list handles is moved into the root, and every item
//!   handle is cloned from a list handle; no count is ever decremented, so the buffer is
//!   **empty** when `collect_live` runs and that collection does nothing (its time is the cost
//!   of a call, not of a scan). This is what the algorithm gives for free: it does not look at a
//!   live graph nobody touched since the last collection. Dropping the root frees the `Lists`
//!   object by reference counting, which buffers the 3,000 lists; the collection after it (timed
//!   with the drop in `collect_garbage`) walks the whole graph from them.
//!
//! # Unfair or surprising
//!
//! * The collector is recursive: `mark_gray`, `scan`, `scan_black` and `collect_white` recurse
//!   once per edge along a depth-first path, through a `dyn` tracer closure and the `Trace`
//!   impls. In `tree`, `rings` and `btree` the paths are short (at most about twice the height),
//!   but in `biglists` the graph is random and the depth-first path runs through almost every
//!   list and one item between each two (about 6,000 levels at the default size). Measured at
//!   3,000 × 1,000: it needs between 256 and 512 KiB of stack, so it fits in the main thread
//!   (8 MiB) and in a spawned thread's default 2 MiB; but the depth grows with the number of
//!   lists, and a few times more lists would overflow a 2 MiB thread. The graph is not changed
//!   to hide this.
//! * A buffered object whose count drops to zero is dropped at once but its memory is freed
//!   only by the next collection (`mark_roots`).

use std::cell::RefCell;

use bacon_rajan_cc::{Cc, Trace, Tracer, collect_cycles};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// bacon_rajan_cc 0.4 `Cc` (it has no automatic collection: the timed collections are the
/// explicit ones).
pub struct BaconRajan;

struct TreeNode {
    parent: RefCell<Option<Cc<TreeNode>>>,
    children: RefCell<Vec<Cc<TreeNode>>>,
    _tally: Tally,
}

impl Trace for TreeNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.parent.trace(tracer);
        self.children.trace(tracer);
    }
}

struct RingNode {
    next: RefCell<Option<Cc<RingNode>>>,
    _tally: Tally,
}

impl Trace for RingNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
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
}

/// A `gc_big_tree` record: six floats, and a slot that could hold a handle (as a Python
/// object's attributes could), so it is a GC object.
struct Record {
    #[expect(
        dead_code,
        reason = "the payload is allocated, never read, as in CPython's"
    )]
    fields: [f64; 6],
    link: Option<Cc<Record>>,
    _tally: Tally,
}

impl Trace for Record {
    fn trace(&self, tracer: &mut Tracer) {
        self.link.trace(tracer);
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
}

struct List {
    items: RefCell<Vec<Cc<Item>>>,
    _tally: Tally,
}

impl Trace for List {
    fn trace(&self, tracer: &mut Tracer) {
        self.items.trace(tracer);
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
}

struct Lists {
    lists: Vec<Cc<List>>,
}

impl Trace for Lists {
    fn trace(&self, tracer: &mut Tracer) {
        self.lists.trace(tracer);
    }
}

impl Subject for BaconRajan {
    fn name(&self) -> &'static str {
        "bacon_rajan_cc"
    }

    fn thread_safe(&self) -> bool {
        false
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        let (root, build) = timed(|| {
            let mut nodes: Vec<Cc<TreeNode>> = Vec::with_capacity(p.nodes);
            for i in 0..p.nodes {
                let node = Cc::new(TreeNode {
                    parent: RefCell::new(None),
                    children: RefCell::new(Vec::with_capacity(p.branching)),
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
        let (_, collect_live) = timed(collect_cycles);
        let dropped_live = Tally::dropped();
        let (_, drop_root) = timed(|| drop(root));
        let (_, collect_garbage) = timed(collect_cycles);
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
        let (handles, build) = timed(|| {
            let mut handles = Vec::with_capacity(p.rings);
            for _ in 0..p.rings {
                let first = Cc::new(RingNode {
                    next: RefCell::new(None),
                    _tally: Tally::new(),
                });
                let mut last = first.clone();
                for _ in 1..p.ring_size {
                    let n = Cc::new(RingNode {
                        next: RefCell::new(None),
                        _tally: Tally::new(),
                    });
                    *last.next.borrow_mut() = Some(n.clone());
                    last = n;
                }
                *last.next.borrow_mut() = Some(first.clone());
                handles.push(first);
            }
            handles
        });
        let (_, drop_handles) = timed(|| drop(handles));
        let (_, collect) = timed(collect_cycles);
        Ok(RingsResult {
            build,
            drop_handles,
            collect,
            destroy: None,
            dropped: Tally::dropped(),
        })
    }

    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        let (_, time) = timed(|| {
            for i in 0..p.objects {
                let s = Cc::new(Small {
                    value: i as u64,
                    next: None,
                    _tally: Tally::new(),
                });
                std::hint::black_box(s.value);
            }
        });
        Ok(ChurnResult {
            time,
            // No automatic collection exists, and the loop calls none.
            collections: Some(0),
            dropped: Tally::dropped(),
        })
    }

    fn threads(&self, _p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        Err(Skip(
            "bacon_rajan_cc's Cc is !Send and !Sync: each thread has its own roots buffer",
        ))
    }

    fn btree(&self, p: &BTreeParams) -> Result<LiveGraphResult, Skip> {
        let plan = BTreePlan::new(p.records, 0x5eed);
        let (root, build) = timed(|| {
            plan.build(
                &mut (),
                |_, key| {
                    Cc::new(Record {
                        fields: record_fields(key),
                        link: None,
                        _tally: Tally::new(),
                    })
                },
                |_, items, children| {
                    Cc::new(BNode {
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
            |_| collect_cycles(),
            move |_| {
                drop(root);
                collect_cycles();
            },
        )
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        let (root, build) = timed(|| {
            let lists: Vec<Cc<List>> = (0..p.lists)
                .map(|_| {
                    Cc::new(List {
                        items: RefCell::new(Vec::with_capacity(p.list_len)),
                        _tally: Tally::new(),
                    })
                })
                .collect();
            for (list, targets) in lists.iter().zip(&plan.targets) {
                for &t in targets {
                    let item = Cc::new(Item {
                        list: lists[t as usize].clone(),
                        _tally: Tally::new(),
                    });
                    list.items.borrow_mut().push(item);
                }
            }
            Cc::new(Lists { lists })
        });
        live_graph(
            (),
            build,
            (plan.objects() + 1, plan.objects(), 0),
            |_| collect_cycles(),
            move |_| {
                drop(root);
                collect_cycles();
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::exclusive;

    #[test]
    fn no_possible_roots_are_left_buffered() {
        let p = BigListsParams {
            lists: 50,
            list_len: 100,
        };
        exclusive(|| BaconRajan.biglists(&p)).unwrap();
        assert_eq!(bacon_rajan_cc::number_of_roots_buffered(), 0);
    }
}
