//! No-GC floors: `Box`, `Rc` and `Arc` on the workloads they can run at all.
//!
//! They cannot collect cycles, so on `tree` they build the same tree with `Weak` back-edges
//! (acyclic): the "collection" is the drop of the root, the cost of freeing without any
//! collector. `rings` has no floor (a ring of strong handles never dies). `churn` is the
//! floor the issue targets (`Arc`).

use std::cell::RefCell;
use std::rc::{Rc, Weak as RcWeak};
use std::sync::{Arc, Mutex, Weak as ArcWeak};

use crate::subject::*;
use crate::tally::Tally;

/// `Box<T>`: churn only (a box has one owner; no sharing, no cycles).
pub struct BoxFloor;
/// `Rc<T>`, single-threaded reference counting.
pub struct RcFloor;
/// `Arc<T>`, thread-safe reference counting.
pub struct ArcFloor;

struct Small {
    value: u64,
    _tally: Tally,
}

macro_rules! churn_with {
    ($p:expr, $new:expr) => {{
        let (_, time) = timed(|| {
            for i in 0..$p.objects {
                let s = $new(Small {
                    value: i as u64,
                    _tally: Tally::new(),
                });
                std::hint::black_box(s.value);
            }
        });
        Ok(ChurnResult {
            time,
            collections: None,
            dropped: Tally::dropped(),
        })
    }};
}

/// Why a floor skips the cyclic or multi-owner workloads.
const NO_COLLECTOR: Skip = Skip("no collector: a floor cannot free cycles");

/// The workloads no floor runs.
macro_rules! floor_skips {
    () => {
        fn rings(&self, _: &RingsParams) -> Result<RingsResult, Skip> {
            Err(NO_COLLECTOR)
        }
        fn threads(&self, _: &ThreadsParams) -> Result<ThreadsResult, Skip> {
            Err(NO_COLLECTOR)
        }
        fn btree(&self, _: &BTreeParams) -> Result<LiveGraphResult, Skip> {
            Err(Skip("floors run churn and the acyclic tree only"))
        }
        fn biglists(&self, _: &BigListsParams) -> Result<LiveGraphResult, Skip> {
            Err(NO_COLLECTOR)
        }
    };
}

impl Subject for BoxFloor {
    fn name(&self) -> &'static str {
        "Box"
    }
    fn thread_safe(&self) -> bool {
        true
    }
    fn tree(&self, _: &TreeParams) -> Result<TreeResult, Skip> {
        Err(Skip(
            "a Box has one owner: no back-edges, not even weak ones",
        ))
    }
    floor_skips!();
    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        churn_with!(p, Box::new)
    }
}

/// A reference-counting floor: churn, and the tree with weak back-edges (acyclic), whose
/// "collection" is the drop of the root.
macro_rules! rc_floor {
    ($floor:ident, $name:literal, $thread_safe:literal, $node:ident, $ptr:ident, $weak:ident,
     $cell:ident, |$c:ident| $borrow:expr) => {
        struct $node {
            _parent: $weak<$node>,
            children: $cell<Vec<$ptr<$node>>>,
            _tally: Tally,
        }

        impl Subject for $floor {
            fn name(&self) -> &'static str {
                $name
            }
            fn thread_safe(&self) -> bool {
                $thread_safe
            }
            floor_skips!();
            fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
                churn_with!(p, $ptr::new)
            }
            fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
                let (root, build) = timed(|| {
                    let mut nodes: Vec<$ptr<$node>> = Vec::with_capacity(p.nodes);
                    for i in 0..p.nodes {
                        let parent = if i > 0 {
                            $ptr::downgrade(&nodes[(i - 1) / p.branching])
                        } else {
                            $weak::new()
                        };
                        let node = $ptr::new($node {
                            _parent: parent,
                            children: $cell::new(Vec::with_capacity(p.branching)),
                            _tally: Tally::new(),
                        });
                        if i > 0 {
                            let $c = &nodes[(i - 1) / p.branching].children;
                            $borrow.push(node.clone());
                        }
                        nodes.push(node);
                    }
                    nodes.swap_remove(0)
                });
                let (_, drop_root) = timed(|| drop(root));
                Ok(TreeResult {
                    build,
                    drop_root,
                    dropped: Tally::dropped(),
                    ..TreeResult::default()
                })
            }
        }
    };
}

rc_floor!(RcFloor, "Rc", false, RcNode, Rc, RcWeak, RefCell, |c| c
    .borrow_mut());
rc_floor!(ArcFloor, "Arc", true, ArcNode, Arc, ArcWeak, Mutex, |c| c
    .lock()
    .unwrap());
