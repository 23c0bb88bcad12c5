//! Workload shapes computed once, in plain Rust, so that every subject builds exactly the same
//! graph: a subject only materialises a plan with its own handle types.

/// A small deterministic generator (xorshift64*), so every subject sees the same shapes.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// The payload of the B-tree's record with `key`, the same in every subject.
pub fn record_fields(key: u32) -> [f64; 6] {
    let k = f64::from(key);
    [k, k + 0.1, k + 0.2, k + 0.3, k + 0.4, k + 0.5]
}

/// One node of a [`BTreePlan`].
#[derive(Clone, Debug, Default)]
pub struct PlanNode {
    /// Record keys held by this node, in order.
    pub keys: Vec<u32>,
    /// Child nodes (indices into [`BTreePlan::nodes`], always smaller than this node's own
    /// index); empty for a leaf.
    pub children: Vec<u32>,
}

/// The `gc_big_tree` shape (CPython's benchmark, `minimum_degree = 16`).
///
/// To materialise it:
/// 1. allocate one record per key of `insert_order`, in that order (keep them in a vector
///    indexed by key);
/// 2. for each key of `replace_order`, allocate a new record and replace the old one, which
///    dies (CPython deletes and re-inserts half of the keys; replacing the records scatters them
///    in memory the same way, without a B-tree deletion in every subject);
/// 3. build `nodes` in index order (children come first), each holding `(key, record)` items
///    and its children; the last node is the root;
/// 4. keep only the root.
#[derive(Clone, Debug)]
pub struct BTreePlan {
    /// Keys `0..records` in insertion order (shuffled).
    pub insert_order: Vec<u32>,
    /// Half of the keys, shuffled: their records are replaced.
    pub replace_order: Vec<u32>,
    /// The final tree, children before parents, root last.
    pub nodes: Vec<PlanNode>,
}

impl BTreePlan {
    /// Minimum degree: nodes hold 15 to 31 keys (the root at least 1).
    pub const MIN_DEGREE: usize = 16;

    /// Plans a tree of `records` records.
    pub fn new(records: usize, seed: u64) -> BTreePlan {
        let mut rng = Rng::new(seed);
        let mut insert_order: Vec<u32> = (0..records as u32).collect();
        rng.shuffle(&mut insert_order);
        let mut replace_order: Vec<u32> = (0..(records / 2) as u32).collect();
        rng.shuffle(&mut replace_order);

        // Insert into an index-based B-tree (CLRS insertion with pre-emptive splits).
        let t = Self::MIN_DEGREE;
        let mut nodes: Vec<PlanNode> = vec![PlanNode::default()];
        let mut root = 0usize;
        for &key in &insert_order {
            if nodes[root].keys.len() == 2 * t - 1 {
                let new_root = nodes.len();
                nodes.push(PlanNode {
                    keys: Vec::new(),
                    children: vec![root as u32],
                });
                split_child(&mut nodes, new_root, 0, t);
                root = new_root;
            }
            let mut x = root;
            loop {
                let pos = nodes[x].keys.partition_point(|&k| k < key);
                if nodes[x].children.is_empty() {
                    nodes[x].keys.insert(pos, key);
                    break;
                }
                let mut child = nodes[x].children[pos] as usize;
                if nodes[child].keys.len() == 2 * t - 1 {
                    split_child(&mut nodes, x, pos, t);
                    if key > nodes[x].keys[pos] {
                        child = nodes[x].children[pos + 1] as usize;
                    }
                }
                x = child;
            }
        }

        // Renumber children-first (post-order), root last.
        let mut order = Vec::with_capacity(nodes.len());
        let mut stack = vec![(root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                order.push(n);
            } else {
                stack.push((n, true));
                for &c in nodes[n].children.iter().rev() {
                    stack.push((c as usize, false));
                }
            }
        }
        let mut new_index = vec![0u32; nodes.len()];
        for (i, &n) in order.iter().enumerate() {
            new_index[n] = i as u32;
        }
        let planned = order
            .iter()
            .map(|&n| PlanNode {
                keys: nodes[n].keys.clone(),
                children: nodes[n]
                    .children
                    .iter()
                    .map(|&c| new_index[c as usize])
                    .collect(),
            })
            .collect();
        BTreePlan {
            insert_order,
            replace_order,
            nodes: planned,
        }
    }

    /// Materialises the plan (steps 1–3 above) and returns the root. `record(cx, key)`
    /// allocates a record; `node(cx, items, children)` allocates a node from its `(key,
    /// record)` items and its children, which are built first. A replaced record is dropped
    /// when its replacement is stored; the other handles are dropped on return.
    pub fn build<C: ?Sized, R: Clone, N: Clone>(
        &self,
        cx: &mut C,
        mut record: impl FnMut(&mut C, u32) -> R,
        mut node: impl FnMut(&mut C, Vec<(u32, R)>, Vec<N>) -> N,
    ) -> N {
        let mut records: Vec<Option<R>> = vec![None; self.insert_order.len()];
        for &k in self.insert_order.iter().chain(&self.replace_order) {
            records[k as usize] = Some(record(cx, k));
        }
        let mut built: Vec<N> = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            let items = n
                .keys
                .iter()
                .map(|&k| {
                    (
                        k,
                        records[k as usize].clone().expect("every key has a record"),
                    )
                })
                .collect();
            let children = n
                .children
                .iter()
                .map(|&c| built[c as usize].clone())
                .collect();
            let made = node(cx, items, children);
            built.push(made);
        }
        built.pop().expect("a plan has a root")
    }

    /// Objects a subject allocates that stay live: records plus nodes.
    pub fn live_objects(&self) -> usize {
        self.insert_order.len() + self.nodes.len()
    }
}

fn split_child(nodes: &mut Vec<PlanNode>, parent: usize, i: usize, t: usize) {
    let full = nodes[parent].children[i] as usize;
    let right_keys = nodes[full].keys.split_off(t);
    let median = nodes[full].keys.pop().expect("a full node has 2t-1 keys");
    let right_children = if nodes[full].children.is_empty() {
        Vec::new()
    } else {
        nodes[full].children.split_off(t)
    };
    let right = nodes.len();
    nodes.push(PlanNode {
        keys: right_keys,
        children: right_children,
    });
    nodes[parent].keys.insert(i, median);
    nodes[parent].children.insert(i + 1, right as u32);
}

/// The `gc_big` shape: `lists` lists; item `j` of list `i` points to list `targets[i][j]`.
#[derive(Clone, Debug)]
pub struct BigListsPlan {
    /// For each list, the list each of its items points to.
    pub targets: Vec<Vec<u32>>,
}

impl BigListsPlan {
    /// Plans `lists` lists of `list_len` items with random targets.
    pub fn new(lists: usize, list_len: usize, seed: u64) -> BigListsPlan {
        let mut rng = Rng::new(seed);
        BigListsPlan {
            targets: (0..lists)
                .map(|_| (0..list_len).map(|_| rng.below(lists) as u32).collect())
                .collect(),
        }
    }

    /// Objects a subject allocates: lists plus items.
    pub fn objects(&self) -> usize {
        self.targets.len() + self.targets.iter().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_btree_plan_holds_every_key_in_order_with_valid_node_sizes() {
        let plan = BTreePlan::new(100_000, 7);
        let mut keys = Vec::new();
        fn walk(
            plan: &BTreePlan,
            n: usize,
            out: &mut Vec<u32>,
            depth: usize,
            leaf_depth: &mut Option<usize>,
        ) {
            let node = &plan.nodes[n];
            if node.children.is_empty() {
                out.extend(&node.keys);
                assert_eq!(
                    *leaf_depth.get_or_insert(depth),
                    depth,
                    "all leaves at one depth"
                );
                return;
            }
            assert_eq!(node.children.len(), node.keys.len() + 1);
            for (i, &c) in node.children.iter().enumerate() {
                assert!((c as usize) < n, "children come first");
                walk(plan, c as usize, out, depth + 1, leaf_depth);
                if i < node.keys.len() {
                    out.push(node.keys[i]);
                }
            }
        }
        let root = plan.nodes.len() - 1;
        walk(&plan, root, &mut keys, 0, &mut None);
        assert_eq!(keys, (0..100_000).collect::<Vec<u32>>());
        for (i, n) in plan.nodes.iter().enumerate() {
            assert!(n.keys.len() < 2 * BTreePlan::MIN_DEGREE);
            if i != root {
                assert!(n.keys.len() >= BTreePlan::MIN_DEGREE - 1);
            }
        }
    }
}
