//! The `roots` workload (ftgc only): what known roots (mark-alive) and the prefetch buffer buy
//! on three live graphs of about 3,000,000 objects each: the tree with back-edges, the
//! `gc_big` lists and the `gc_big_tree` B-tree of the comparison workloads.
//!
//! Each graph is built once; then, alternating within each repeat, it is collected:
//! without a registered root (the whole graph goes through the refcount phases) or with its
//! root registered (`Root`), each with the prefetch buffer off or on.

use std::fmt::Write as _;

use ftgc::{Gc, Mutator, Root, Trace};

use crate::run::{Sizes, Stat, stat};
use crate::shape::{BTreePlan, BigListsPlan};
use crate::subjects::ours::{build_biglists, build_btree, build_tree};

const MODES: [(&str, bool, bool); 4] = [
    ("no roots", false, false),
    ("no roots + prefetch", false, true),
    ("roots", true, false),
    ("roots + prefetch", true, true),
];

/// Collects `root`'s graph in every mode, `repeats` times; returns the ns per object of each
/// mode's pauses, and the number of objects.
fn measure<T: Trace + Send + Sync + 'static>(
    m: &mut Mutator,
    root: &Gc<T>,
    repeats: usize,
) -> (Vec<Stat>, usize) {
    let c = ftgc::collector();
    let mut samples = vec![Vec::new(); MODES.len()];
    let mut objects = 0;
    m.collect(); // settle: the first collection after a build also sizes the walk vector
    for _ in 0..repeats {
        for (i, &(_, rooted, prefetch)) in MODES.iter().enumerate() {
            c.set_prefetch_threshold(if prefetch { 0 } else { usize::MAX });
            let registered = rooted.then(|| Root::new(root.clone()));
            let stats = m.collect();
            drop(registered);
            assert_eq!(stats.collected, 0, "a live graph lost objects");
            objects = stats.objects;
            samples[i].push(Some(stats.pause.as_secs_f64() * 1e9 / stats.objects as f64));
        }
    }
    c.set_prefetch_threshold(ftgc::DEFAULT_PREFETCH_THRESHOLD);
    (
        samples.iter().map(|s| stat(s).expect("measured")).collect(),
        objects,
    )
}

fn row(out: &mut String, shape: &str, (s, objects): (Vec<Stat>, usize)) {
    let med = |i: usize| s[i].median;
    let _ = writeln!(
        out,
        "| {shape} | {objects} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
        s[0],
        s[1],
        s[2],
        s[3],
        med(2) / med(0),
        med(3) / med(2),
        med(1) / med(0),
    );
}

/// Runs the workload; returns its Markdown table.
pub fn run(sizes: &Sizes, repeats: usize) -> String {
    let mut out = format!(
        "### roots — mark-alive and prefetch on live graphs (ftgc only)\n\n\
         Pause per object (ns), median (min–max) of {repeats} collections per mode, modes \
         alternating; ratios of medians.\n\n\
         | graph | objects | no roots | no roots + prefetch | roots | roots + prefetch | roots / no roots | prefetch / no prefetch (rooted) | prefetch / no prefetch (no roots) |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    );
    let was = ftgc::collector().disable();
    // One worker: this workload measures what roots and prefetch do per thread (the `scaling`
    // workload measures workers).
    ftgc::collector().set_workers(1);
    let mut m = Mutator::new();
    {
        let root = build_tree(&mut m, &sizes.tree);
        row(
            &mut out,
            "tree with back-edges",
            measure(&mut m, &root, repeats),
        );
    }
    {
        let plan = BigListsPlan::new(sizes.biglists.lists, sizes.biglists.list_len, 0xb16);
        let root = build_biglists(&mut m, &plan);
        row(
            &mut out,
            "big lists (gc_big)",
            measure(&mut m, &root, repeats),
        );
    }
    {
        let plan = BTreePlan::new(sizes.btree.records, 0x5eed);
        let root = build_btree(&mut m, &plan);
        row(
            &mut out,
            "B-tree of records (gc_big_tree)",
            measure(&mut m, &root, repeats),
        );
    }
    m.collect();
    ftgc::collector().set_workers(0);
    if was {
        ftgc::collector().enable();
    }
    out
}
