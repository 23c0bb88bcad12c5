//! Peer: rust-cc 0.6 `Cc`.
//!
//! rust-cc (0.6.2, default features: `auto-collect`, `finalization`, `derive`, `std`) is a
//! single-threaded reference-counting cycle collector: `Cc<T>` is `!Send`, and its state (the
//! buffer of possible cycle roots, the configuration, the allocation counter) is thread-local.
//! Values whose count drops to zero are freed at once, as with `Rc`; a `Cc` dropped with a count
//! still above zero puts its object into the thread's *possible cycles* list (an intrusive
//! linked list), and `collect_cycles()` examines only that list and what is reachable from it
//! (trial counting, then tracing from the objects found externally referenced). Cloning a `Cc`
//! takes its object out of the list again (`mark_alive`).
//!
//! # What was done, and why
//!
//! * Every workload builds the same graph as [`ours`](super::ours), in the same order, with the
//!   same timed regions; mutable edges are `RefCell`s, as rust-cc's documentation does it
//!   (rust-cc traces a `RefCell` only if it can borrow it, which it always can here).
//! * [`Tally`] is a `#[rust_cc(ignore)]` field of the derived `Trace`, so no `unsafe` is needed.
//! * Automatic collection: rust-cc's `auto-collect` feature starts a collection from `Cc::new`
//!   when the bytes allocated through `Cc` exceed a threshold (100 bytes at first, doubled after
//!   each collection until above the live size, halved when far below). The feature cannot be
//!   turned off from here (it is a default feature of the dependency), but
//!   `rust_cc::config::config(|c| c.set_auto_collect(false))` turns it off at run time: `tree`,
//!   `rings`, `btree` and `biglists` run with it off (restored afterwards), like ftgc, so their
//!   only collections are the timed `collect_cycles()` calls. `churn` keeps the default trigger;
//!   its collection count is `rust_cc::state::executions_count()`. In `churn` every object dies
//!   by reference counting with one `Cc` live at a time, so the allocated bytes never exceed the
//!   100-byte threshold and no collection runs.
//! * `threads` is skipped: `Cc` cannot cross threads.
//!
//! # What a collection scans in each workload
//!
//! rust-cc scans only the possible-cycle list and what is reachable from it, so the work of a
//! "collection" depends on which objects had a count decremented since the last one:
//!
//! * `tree`: the build keeps every node in a `Vec` of handles (as ftgc's build does) and drops
//!   it at the end of the timed build, so every node but the root (2,999,999 at the default
//!   size) is in the list when `collect_live` runs: it traces the whole live tree (and finds it
//!   externally referenced through the root). Dropping the root buffers the root;
//!   `collect_garbage` traces the whole garbage tree from it.
//! * `rings`: every ring node had a count decremented during the build or by `drop_handles`, so
//!   all of them (1,000,000) are in the list and all are traced.
//! * `btree`: dropping the build's vectors of record and node handles buffers every record and
//!   every node (2,930,983 objects at the default size), so `collect_live` traces the whole live
//!   graph and finds it externally referenced through the root. The B-tree is acyclic (records
//!   hold no handle, nodes no parent): dropping the root frees the whole graph by reference
//!   counting, recursively (the depth is the tree's height), and the collection after it finds
//!   an empty list. `collect_garbage` times both, as the interface asks.
//! * `biglists`: the build's vector of list handles is moved into the root, and every item
//!   handle is cloned from a list handle; no count is ever decremented, so the possible-cycle
//!   list is **empty** when `collect_live` runs and that collection does nothing (its time is
//!   the cost of a call, not of a scan). This is what the algorithm gives for free: it does not
//!   look at a live graph nobody touched since the last collection. Dropping the root frees the
//!   `Lists` object by reference counting, which buffers the 3,000 lists; the collection after
//!   it (timed with the drop in `collect_garbage`) traces the whole graph from them.
//!
//! # Unfair or surprising
//!
//! * With the default `finalization` feature, a collection that finds garbage finalizes it and
//!   then puts it back into the possible-cycle list and runs the whole detection again (to catch
//!   objects a finalizer resurrected), so garbage is traced twice before it is freed, even
//!   though every finalizer here is empty.
//! * The reference count has 14 bits: an object can have at most 16,382 handles. `biglists`
//!   checks its plan and skips rather than panic when a list would have more.
//! * rust-cc's collector is iterative (intrusive lists and a queue), so deep graphs do not
//!   overflow the stack.

use std::cell::RefCell;

use rust_cc::{Cc, Finalize, Trace, collect_cycles};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// rust-cc 0.6 `Cc`, with automatic collection disabled while graphs are built (the timed
/// collections are the explicit ones) except in `churn`, which uses the default trigger.
pub struct RustCc;

/// Handles an object may have: rust-cc's reference count has 14 bits, the top value reserved.
const MAX_HANDLES: usize = (1 << 14) - 2;

fn collections() -> Option<u64> {
    rust_cc::state::executions_count().ok().map(|n| n as u64)
}

/// Runs `f` with automatic collection off.
fn manual<R>(f: impl FnOnce() -> R) -> R {
    let was = rust_cc::config::config(|c| {
        let was = c.auto_collect();
        c.set_auto_collect(false);
        was
    })
    .expect("rust-cc's configuration is accessible");
    let r = f();
    rust_cc::config::config(|c| c.set_auto_collect(was))
        .expect("rust-cc's configuration is accessible");
    r
}

#[derive(Trace, Finalize)]
struct TreeNode {
    parent: RefCell<Option<Cc<TreeNode>>>,
    children: RefCell<Vec<Cc<TreeNode>>>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct RingNode {
    next: RefCell<Option<Cc<RingNode>>>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct Small {
    value: u64,
    next: Option<Cc<Small>>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

/// A `gc_big_tree` record: six floats, and a slot that could hold a handle (as a Python
/// object's attributes could), so it is a GC object.
#[derive(Trace, Finalize)]
struct Record {
    fields: [f64; 6],
    link: Option<Cc<Record>>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct BNode {
    items: Vec<(u32, Cc<Record>)>,
    children: Vec<Cc<BNode>>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct List {
    items: RefCell<Vec<Cc<Item>>>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct Item {
    list: Cc<List>,
    #[rust_cc(ignore)]
    _tally: Tally,
}

#[derive(Trace, Finalize)]
struct Lists {
    lists: Vec<Cc<List>>,
}

impl Subject for RustCc {
    fn name(&self) -> &'static str {
        "rust-cc"
    }

    fn thread_safe(&self) -> bool {
        false
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        manual(|| {
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
        })
    }

    fn rings(&self, p: &RingsParams) -> Result<RingsResult, Skip> {
        manual(|| {
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
        })
    }

    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        let before = collections();
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
            collections: collections()
                .zip(before)
                .map(|(after, before)| after - before),
            dropped: Tally::dropped(),
        })
    }

    fn threads(&self, _p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        Err(Skip(
            "rust-cc's Cc is !Send and !Sync: each thread has its own heap and collector",
        ))
    }

    fn btree(&self, p: &BTreeParams) -> Result<LiveGraphResult, Skip> {
        let plan = BTreePlan::new(p.records, 0x5eed);
        manual(|| {
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
        })
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        let mut incoming = vec![0usize; p.lists];
        for &t in plan.targets.iter().flatten() {
            incoming[t as usize] += 1;
        }
        // Each list is held by the items pointing to it and by the root.
        if incoming.iter().any(|&n| n + 1 > MAX_HANDLES) {
            return Err(Skip(
                "a list would have more than 16,382 handles, rust-cc's reference count limit",
            ));
        }
        manual(|| {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::exclusive;

    #[test]
    fn automatic_collection_is_restored_after_a_build() {
        let p = TreeParams {
            nodes: 1000,
            branching: 5,
        };
        exclusive(|| RustCc.tree(&p)).unwrap();
        assert!(rust_cc::config::config(|c| c.auto_collect()).unwrap());
    }
}
