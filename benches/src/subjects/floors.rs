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
    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        churn_with!(p, Box::new)
    }
}

struct RcNode {
    _parent: RcWeak<RcNode>,
    children: RefCell<Vec<Rc<RcNode>>>,
    _tally: Tally,
}

struct ArcNode {
    _parent: ArcWeak<ArcNode>,
    children: Mutex<Vec<Arc<ArcNode>>>,
    _tally: Tally,
}

impl Subject for RcFloor {
    fn name(&self) -> &'static str {
        "Rc"
    }
    fn thread_safe(&self) -> bool {
        false
    }
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
    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        churn_with!(p, Rc::new)
    }
    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        let (root, build) = timed(|| {
            let mut nodes: Vec<Rc<RcNode>> = Vec::with_capacity(p.nodes);
            for i in 0..p.nodes {
                let parent = if i > 0 {
                    Rc::downgrade(&nodes[(i - 1) / p.branching])
                } else {
                    RcWeak::new()
                };
                let node = Rc::new(RcNode {
                    _parent: parent,
                    children: RefCell::new(Vec::with_capacity(p.branching)),
                    _tally: Tally::new(),
                });
                if i > 0 {
                    nodes[(i - 1) / p.branching]
                        .children
                        .borrow_mut()
                        .push(node.clone());
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

impl Subject for ArcFloor {
    fn name(&self) -> &'static str {
        "Arc"
    }
    fn thread_safe(&self) -> bool {
        true
    }
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
    fn churn(&self, p: &ChurnParams) -> Result<ChurnResult, Skip> {
        churn_with!(p, Arc::new)
    }
    fn tree(&self, p: &TreeParams) -> Result<TreeResult, Skip> {
        let (root, build) = timed(|| {
            let mut nodes: Vec<Arc<ArcNode>> = Vec::with_capacity(p.nodes);
            for i in 0..p.nodes {
                let parent = if i > 0 {
                    Arc::downgrade(&nodes[(i - 1) / p.branching])
                } else {
                    ArcWeak::new()
                };
                let node = Arc::new(ArcNode {
                    _parent: parent,
                    children: Mutex::new(Vec::with_capacity(p.branching)),
                    _tally: Tally::new(),
                });
                if i > 0 {
                    nodes[(i - 1) / p.branching]
                        .children
                        .lock()
                        .unwrap()
                        .push(node.clone());
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
