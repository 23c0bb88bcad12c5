//! Peer: gc-arena 0.7 `Arena`.
//!
//! gc-arena is an incremental, tri-color mark-sweep collector over one arena. Its only root is
//! the arena's root object: `Gc` pointers are `Copy`, carry no count, and cannot leave an
//! `Arena::mutate` callback except by being stored under the root. It never collects inside
//! `mutate`; it collects only when asked, between `mutate` calls: `collect_debt` does the
//! amount of incremental work that the allocations since the last call earned (its default
//! `Pacing`), `finish_cycle` runs the cycle in progress to its end, or, when none is in
//! progress (phase `Sleeping`), a whole cycle: mark from the root, then sweep the whole arena.
//! 0.7 has no `collect_all`; `finish_cycle` from `Sleeping` is the full collection (the
//! timed collections assert that the phase is `Sleeping` before and after).
//!
//! # How each timed region maps onto it
//!
//! * The graph types mirror [`ours`](super::ours) field for field: ftgc's `OnceLock` and
//!   `Mutex<Vec<_>>` become gc-arena's `lock::OnceLock` and `RefLock<Vec<_>>`, mutated after
//!   allocation through `Gc::write` (the write barrier: a phase check, as no collection is
//!   ever in progress during a build) exactly where ftgc mutates them.
//!   `Tally` fields are `#[collect(require_static)]` (not traced; they are dropped with their
//!   object).
//! * **build**: one `mutate_root` call that builds the graph and stores it under the root,
//!   where ftgc keeps a handle. Automatic collection needs no disabling: none runs, as this
//!   code never calls `collect_debt` outside `churn`. Building in one call is what a user
//!   would do (splitting it would only add write barriers and, with `collect_debt` between
//!   calls, collections that ftgc's build does not run).
//! * **collect_live** / **collect_garbage** / rings' **collect**: one full collection
//!   (`finish_cycle` from `Sleeping`), destruction of the garbage included: the sweep drops each
//!   dead object in place, one by one (no recursion). For btree and biglists,
//!   **collect_garbage** (reported as "drop + collect") also times the `mutate_root` call that
//!   unroots the graph, as every subject's drop is timed there.
//! * **drop_root** / rings' **drop_handles**: a `mutate_root` call that removes the graph from
//!   the root (sets the `Option` to `None`, or takes and drops the `Vec` of ring heads). This is
//!   the one way to "drop the last handle" in an arena; like ftgc's drop it frees nothing.
//! * `churn`: one `mutate` per object (allocate it, read it, let it go), then
//!   `collect_debt` after each, as a user of the default pacing would after each step of
//!   work. `collect_debt` is called through `collect_debt_counting`, which does exactly what
//!   it does (with `cycle_debt`, one cycle at a time; a unit test checks the arena states match
//!   call for call) so that the finished cycles can be counted. Objects the pacing has not
//!   reached when the loop ends (a few hundred) are freed by a final `finish_cycle` plus one
//!   full collection, inside the timed region. Batching the allocations instead (10 to 10,000
//!   per `mutate` and `collect_debt`) measured 6 to 15% faster at full size, on a noisy
//!   machine: the per-object calls cost little.
//! * `btree`: the replaced records die during the build. ftgc frees them there, by reference
//!   counting; the arena needs a collection, so the build ends with one full collection,
//!   timed as part of the build, that frees them. `collect_live` is then, as for every
//!   subject, a collection of an entirely live heap (without it, it would free the 1,400,000
//!   replaced records too).
//! * `threads`: skipped, see [`GcArena::threads`].
//!
//! # Caveats
//!
//! gc-arena's unit of collection is the arena: a real program would have one long-lived arena
//! and the graphs here would share it with everything else it holds. Each workload gets a fresh
//! arena, whose only content is its graph, so a full collection here traces nothing else.

use gc_arena::arena::{CollectionPhase, Root};
use gc_arena::barrier::unlock;
use gc_arena::lock::{OnceLock, RefLock};
use gc_arena::{Arena, Collect, Gc, Rootable};

use crate::shape::{BTreePlan, BigListsPlan, record_fields};
use crate::subject::*;
use crate::tally::Tally;

/// gc-arena 0.7 `Arena`: explicit full collections (`finish_cycle`) for the timed
/// collections, the default pacing (`collect_debt` after each `mutate`) in `churn`.
pub struct GcArena;

/// One full collection: from `Sleeping` (no collection in progress, as in every workload but
/// `churn`, which never calls this while one is), `finish_cycle` marks from the root and
/// sweeps the whole arena, then sleeps again.
fn full_collection<R>(arena: &mut Arena<R>)
where
    R: for<'a> Rootable<'a>,
    for<'a> Root<'a, R>: Collect<'a>,
{
    assert_eq!(arena.collection_phase(), CollectionPhase::Sleeping);
    arena.finish_cycle();
    assert_eq!(arena.collection_phase(), CollectionPhase::Sleeping);
}

/// Exactly `arena.collect_debt()`, run as the steps that `Arena::cycle_debt` allows so that
/// the cycles it finishes can be counted into `cycles`.
///
/// `collect_debt` does nothing without debt; otherwise it works until the debt is paid, going
/// on into a new cycle when it finishes one with debt left, and stops after a cycle it ran from
/// start to end. `cycle_debt` is the same except that it returns at the end of every cycle, so
/// calling it again in exactly those cases reproduces `collect_debt`.
fn collect_debt_counting<R>(arena: &mut Arena<R>, cycles: &mut u64)
where
    R: for<'a> Rootable<'a>,
    for<'a> Root<'a, R>: Collect<'a>,
{
    loop {
        if arena.metrics().allocation_debt() <= 0.0 {
            return;
        }
        let started_asleep = arena.collection_phase() == CollectionPhase::Sleeping;
        arena.cycle_debt();
        if arena.collection_phase() != CollectionPhase::Sleeping {
            return; // Debt paid within a cycle.
        }
        *cycles += 1;
        if started_asleep {
            return; // A whole cycle in one call: `collect_debt` stops there.
        }
    }
}

#[derive(Collect)]
#[collect(no_drop)]
struct TreeNode<'gc> {
    parent: OnceLock<Gc<'gc, TreeNode<'gc>>>,
    children: RefLock<Vec<Gc<'gc, TreeNode<'gc>>>>,
    #[collect(require_static)]
    _tally: Tally,
}

#[derive(Collect)]
#[collect(no_drop)]
struct RingNode<'gc> {
    next: OnceLock<Gc<'gc, RingNode<'gc>>>,
    #[collect(require_static)]
    _tally: Tally,
}

#[derive(Collect)]
#[collect(no_drop)]
struct Small<'gc> {
    value: u64,
    next: Option<Gc<'gc, Small<'gc>>>,
    #[collect(require_static)]
    _tally: Tally,
}

/// A `gc_big_tree` record (see [`ours`](super::ours)).
#[derive(Collect)]
#[collect(no_drop)]
struct Record<'gc> {
    fields: [f64; 6],
    link: Option<Gc<'gc, Record<'gc>>>,
    #[collect(require_static)]
    _tally: Tally,
}

#[derive(Collect)]
#[collect(no_drop)]
struct BNode<'gc> {
    items: Vec<(u32, Gc<'gc, Record<'gc>>)>,
    children: Vec<Gc<'gc, BNode<'gc>>>,
    #[collect(require_static)]
    _tally: Tally,
}

#[derive(Collect)]
#[collect(no_drop)]
struct List<'gc> {
    items: RefLock<Vec<Gc<'gc, Item<'gc>>>>,
    #[collect(require_static)]
    _tally: Tally,
}

#[derive(Collect)]
#[collect(no_drop)]
struct Item<'gc> {
    list: Gc<'gc, List<'gc>>,
    #[collect(require_static)]
    _tally: Tally,
}

#[derive(Collect)]
#[collect(no_drop)]
struct Lists<'gc> {
    lists: Vec<Gc<'gc, List<'gc>>>,
}

impl Subject for GcArena {
    fn name(&self) -> &'static str {
        "gc-arena"
    }

    fn thread_safe(&self) -> bool {
        false
    }

    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        let mut arena = Arena::<Rootable![Option<Gc<'_, TreeNode<'_>>>]>::new(|_| None);
        let (_, build) = timed(|| {
            arena.mutate_root(|mc, root| {
                let mut nodes: Vec<Gc<TreeNode>> = Vec::with_capacity(p.nodes);
                for i in 0..p.nodes {
                    let node = Gc::new(
                        mc,
                        TreeNode {
                            parent: OnceLock::new(),
                            children: RefLock::new(Vec::with_capacity(p.branching)),
                            _tally: Tally::new(),
                        },
                    );
                    if i > 0 {
                        let parent = nodes[(i - 1) / p.branching];
                        let _ = unlock!(Gc::write(mc, node), TreeNode, parent).set(parent);
                        unlock!(Gc::write(mc, parent), TreeNode, children)
                            .borrow_mut()
                            .push(node);
                    }
                    nodes.push(node);
                }
                *root = Some(nodes[0]);
            })
        });
        let (_, collect_live) = timed(|| full_collection(&mut arena));
        let dropped_live = Tally::dropped();
        let (_, drop_root) = timed(|| arena.mutate_root(|_, root| *root = None));
        let (_, collect_garbage) = timed(|| full_collection(&mut arena));
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
        let mut arena = Arena::<Rootable![Vec<Gc<'_, RingNode<'_>>>]>::new(|_| Vec::new());
        let (_, build) = timed(|| {
            arena.mutate_root(|mc, handles| {
                let new_node = || {
                    Gc::new(
                        mc,
                        RingNode {
                            next: OnceLock::new(),
                            _tally: Tally::new(),
                        },
                    )
                };
                handles.reserve_exact(p.rings);
                for _ in 0..p.rings {
                    let first = new_node();
                    let mut last = first;
                    for _ in 1..p.ring_size {
                        let n = new_node();
                        let _ = unlock!(Gc::write(mc, last), RingNode, next).set(n);
                        last = n;
                    }
                    let _ = unlock!(Gc::write(mc, last), RingNode, next).set(first);
                    handles.push(first);
                }
            })
        });
        let (_, drop_handles) =
            timed(|| arena.mutate_root(|_, handles| drop(std::mem::take(handles))));
        let (_, collect) = timed(|| full_collection(&mut arena));
        Ok(RingsResult {
            build,
            drop_handles,
            collect,
            destroy: None,
            dropped: Tally::dropped(),
        })
    }

    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        let mut arena = Arena::<Rootable![()]>::new(|_| ());
        let mut cycles = 0;
        let (_, time) = timed(|| {
            for i in 0..p.objects {
                arena.mutate(|mc, _| {
                    let s = Gc::new(
                        mc,
                        Small {
                            value: i as u64,
                            next: None,
                            _tally: Tally::new(),
                        },
                    );
                    std::hint::black_box(s.value);
                });
                collect_debt_counting(&mut arena, &mut cycles);
            }
            // The objects that the pacing has not reached yet: end the cycle in progress, if
            // any, then run a full one.
            arena.finish_cycle();
            full_collection(&mut arena);
        });
        Ok(ChurnResult {
            time,
            collections: Some(cycles),
            dropped: Tally::dropped(),
        })
    }

    /// Skipped: an arena is a single-threaded heap.
    fn threads(&self, _p: &ThreadsParams) -> Result<ThreadsResult, Skip> {
        Err(Skip(
            "single-threaded: an Arena and its Gc pointers are !Send and !Sync, and it collects \
             only between `mutate` calls on its own thread",
        ))
    }

    fn btree(&self, p: &BTreeParams) -> Result<LiveGraphResult, Skip> {
        let plan = BTreePlan::new(p.records, 0x5eed);
        let mut arena = Arena::<Rootable![Option<Gc<'_, BNode<'_>>>]>::new(|_| None);
        let (_, build) = timed(|| {
            arena.mutate_root(|mc, root| {
                *root = Some(plan.build(
                    &mut (),
                    |_, key| {
                        Gc::new(
                            mc,
                            Record {
                                fields: record_fields(key),
                                link: None,
                                _tally: Tally::new(),
                            },
                        )
                    },
                    |_, items, children| {
                        Gc::new(
                            mc,
                            BNode {
                                items,
                                children,
                                _tally: Tally::new(),
                            },
                        )
                    },
                ));
            });
            // Free the replaced records (see the module doc).
            full_collection(&mut arena);
        });
        let live = plan.live_objects();
        live_graph(
            arena,
            build,
            (live, live, plan.replace_order.len()),
            full_collection,
            |a| {
                a.mutate_root(|_, root| *root = None);
                full_collection(a);
            },
        )
    }

    fn biglists(&self, p: &BigListsParams) -> Result<LiveGraphResult, Skip> {
        let plan = BigListsPlan::new(p.lists, p.list_len, 0xb16);
        let mut arena = Arena::<Rootable![Option<Gc<'_, Lists<'_>>>]>::new(|_| None);
        let (_, build) = timed(|| {
            arena.mutate_root(|mc, root| {
                let lists: Vec<Gc<List>> = (0..p.lists)
                    .map(|_| {
                        Gc::new(
                            mc,
                            List {
                                items: RefLock::new(Vec::with_capacity(p.list_len)),
                                _tally: Tally::new(),
                            },
                        )
                    })
                    .collect();
                for (&list, targets) in lists.iter().zip(&plan.targets) {
                    for &t in targets {
                        let item = Gc::new(
                            mc,
                            Item {
                                list: lists[t as usize],
                                _tally: Tally::new(),
                            },
                        );
                        unlock!(Gc::write(mc, list), List, items)
                            .borrow_mut()
                            .push(item);
                    }
                }
                *root = Some(Gc::new(mc, Lists { lists }));
            })
        });
        live_graph(
            arena,
            build,
            (plan.objects() + 1, plan.objects(), 0),
            full_collection,
            |a| {
                a.mutate_root(|_, root| *root = None);
                full_collection(a);
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::exclusive;
    use gc_arena::Mutation;

    /// Keeps every third object alive for a while, so that cycles have work to do, and now and
    /// then allocates a burst, so that a call can finish a cycle with debt left over.
    fn step<'gc>(mc: &Mutation<'gc>, root: &mut Vec<Gc<'gc, Small<'gc>>>, i: u64) {
        if i % 997 == 0 {
            for _ in 0..20_000 {
                Gc::new(
                    mc,
                    Small {
                        value: i,
                        next: None,
                        _tally: Tally::new(),
                    },
                );
            }
        }
        let s = Gc::new(
            mc,
            Small {
                value: i,
                next: root.last().copied(),
                _tally: Tally::new(),
            },
        );
        if i % 3 == 0 {
            root.push(s);
        }
        if root.len() > 5_000 {
            root.drain(..2_500);
        }
    }

    /// `collect_debt_counting` leaves the arena exactly as `collect_debt` would, step by step.
    #[test]
    fn counted_collect_debt_is_collect_debt() {
        exclusive(|| {
            let mut plain = Arena::<Rootable![Vec<Gc<'_, Small<'_>>>]>::new(|_| Vec::new());
            let mut counted = Arena::<Rootable![Vec<Gc<'_, Small<'_>>>]>::new(|_| Vec::new());
            let mut cycles = 0;
            for i in 0..200_000u64 {
                plain.mutate_root(|mc, root| step(mc, root, i));
                counted.mutate_root(|mc, root| step(mc, root, i));
                plain.collect_debt();
                collect_debt_counting(&mut counted, &mut cycles);
                assert_eq!(plain.collection_phase(), counted.collection_phase());
                let (p, c) = (plain.metrics(), counted.metrics());
                assert_eq!(p.total_gc_count(), c.total_gc_count());
                assert_eq!(p.allocation_debt(), c.allocation_debt());
            }
            assert!(cycles > 10, "{cycles} cycles");
        });
    }
}
