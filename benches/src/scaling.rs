//! The `scaling` workload (ftgc only): how the pause shrinks with the collector's worker
//! threads, on the three live graphs of about 3,000,000 objects of the `roots` workload (the
//! tree with back-edges, the `gc_big` lists, the `gc_big_tree` B-tree), collected without a
//! registered root so that every phase sees the whole graph.
//!
//! Each graph is built once; then, within each repeat, it is collected once per worker count,
//! in an order that rotates from repeat to repeat. The pool for a count is started (and its
//! threads are running) before the pause that uses it.
//!
//! After the graphs, the same command measures the machine's ceiling ([`ceiling`]): a streaming
//! read and a chase of dependent random loads, split among the same numbers of threads, which
//! say how much a second core can give memory-bound work here.

use std::fmt::Write as _;

use ftgc::{Gc, Mutator, Trace};

use crate::run::{Sizes, Stat, stat};
use crate::shape::{BTreePlan, BigListsPlan};
use crate::subjects::ours::{build_biglists, build_btree, build_tree};

/// The worker counts measured by default: 1, 2, then powers of two up to the machine's cores.
pub fn default_workers() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut w = vec![1];
    let mut n = 2;
    while n <= cores.max(2) {
        w.push(n);
        n *= 2;
    }
    w
}

struct Measured {
    objects: usize,
    /// Per worker count: pause per object (ns).
    pause: Vec<Stat>,
    /// Per worker count: median ns per object of walk, update_refs, mark_reachable, scan.
    phases: Vec<[f64; 4]>,
}

/// Collects the graph behind `_root` (held, not registered) once per worker count and repeat.
fn measure<T: Trace + Send + Sync + 'static>(
    m: &mut Mutator,
    _root: &Gc<T>,
    workers: &[usize],
    repeats: usize,
) -> Measured {
    let c = ftgc::collector();
    let mut pause = vec![Vec::new(); workers.len()];
    let mut phases = vec![Vec::new(); workers.len()];
    let mut objects = 0;
    m.collect(); // settle
    for r in 0..repeats {
        for k in 0..workers.len() {
            let i = (k + r) % workers.len();
            c.set_workers(workers[i]);
            let s = m.collect();
            assert_eq!(s.collected, 0, "a live graph lost objects");
            assert_eq!(s.workers, workers[i]);
            objects = s.objects;
            let per = |d: std::time::Duration| d.as_secs_f64() * 1e9 / s.objects as f64;
            pause[i].push(Some(per(s.pause)));
            phases[i].push([
                per(s.walk),
                per(s.update_refs),
                per(s.mark_reachable),
                per(s.scan),
            ]);
        }
    }
    c.set_workers(0);
    Measured {
        objects,
        pause: pause.iter().map(|s| stat(s).expect("measured")).collect(),
        phases: phases
            .iter()
            .map(|p| {
                let mut out = [0.0; 4];
                for (j, o) in out.iter_mut().enumerate() {
                    let values: Vec<_> = p.iter().map(|x| Some(x[j])).collect();
                    *o = stat(&values).expect("measured").median;
                }
                out
            })
            .collect(),
    }
}

fn rows(out: &mut String, phases_out: &mut String, shape: &str, workers: &[usize], m: &Measured) {
    let _ = write!(out, "| {shape} | {} |", m.objects);
    stat_cells(out, &m.pause);
    for (i, &w) in workers.iter().enumerate() {
        let p = m.phases[i];
        let _ = writeln!(
            phases_out,
            "| {shape} | {w} | {:.1} | {:.1} | {:.1} | {:.1} |",
            p[0], p[1], p[2], p[3]
        );
    }
}

/// Runs the workload with the given worker counts (the first should be 1, the reference);
/// returns its Markdown tables.
pub fn run(sizes: &Sizes, workers: &[usize], repeats: usize) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = format!(
        "### scaling — pause vs collector workers, live graphs without roots (ftgc only)\n\n\
         Pause per object (ns), median (min–max) of {repeats} collections per worker count, \
         counts alternating; speed-up = median with 1 worker / median with n. {cores} cores.\n\n\
         | graph | objects |"
    );
    count_header(&mut out, workers, "worker", 2);
    let mut phases = String::from(
        "\nPhases, median ns per object: \n\n\
         | graph | workers | walk | update_refs | mark_reachable | scan |\n|---|---|---|---|---|---|\n",
    );
    let was = ftgc::collector().disable();
    let mut m = Mutator::new();
    {
        let root = build_tree(&mut m, &sizes.tree);
        let r = measure(&mut m, &root, workers, repeats);
        rows(&mut out, &mut phases, "tree with back-edges", workers, &r);
    }
    {
        let plan = BigListsPlan::new(sizes.biglists.lists, sizes.biglists.list_len, 0xb16);
        let root = build_biglists(&mut m, &plan);
        let r = measure(&mut m, &root, workers, repeats);
        rows(&mut out, &mut phases, "big lists (gc_big)", workers, &r);
    }
    {
        let plan = BTreePlan::new(sizes.btree.records, 0x5eed);
        let root = build_btree(&mut m, &plan);
        let r = measure(&mut m, &root, workers, repeats);
        rows(
            &mut out,
            &mut phases,
            "B-tree of records (gc_big_tree)",
            workers,
            &r,
        );
    }
    m.collect();
    if was {
        ftgc::collector().enable();
    }
    out.push_str(&phases);
    out.push_str(&ceiling(sizes.tree.nodes, workers, repeats));
    out
}

/// What the machine itself gives `n` threads on memory-bound work, measured in the same run:
/// a streaming read (as the walk and scan do through the headers) and chains of dependent
/// random loads (as marking does where the prefetcher cannot help), each over about as much
/// memory as the graphs (`objects` × 64 bytes, and × 16), split evenly among the threads.
fn ceiling(objects: usize, workers: &[usize], repeats: usize) -> String {
    // Streaming: one u64 per 64-byte line is read, so the time is the memory traffic.
    let words = objects * 8;
    let data: Vec<u64> = (0..words as u64).collect();
    // Chasing: a single random cycle through `next`, walked from n starts spread over the
    // array (not necessarily far apart along the cycle, so two walks may overlap).
    let len = objects * 4;
    let next = random_cycle(len);
    let mut stream = vec![Vec::new(); workers.len()];
    let mut chase = vec![Vec::new(); workers.len()];
    for r in 0..repeats {
        for k in 0..workers.len() {
            let i = (k + r) % workers.len();
            let n = workers[i];
            let part = words.div_ceil(n);
            stream[i].push(Some(on_threads(n, |c| {
                let part = &data[(c * part).min(words)..((c + 1) * part).min(words)];
                part.iter().step_by(8).fold(0, |a, &x| a ^ x)
            })));
            let steps = len / 4 / n;
            chase[i].push(Some(on_threads(n, |c| {
                let mut at = (c * len / n) as u32;
                for _ in 0..steps {
                    at = next[at as usize];
                }
                u64::from(at)
            })));
        }
    }
    let mut out = format!(
        "\nThe machine's ceiling, same run: a streaming read of {} MiB and {} dependent random \
         loads over {} MiB, split among n threads; ms, median (min–max) of {repeats}; \
         speed-up = median with 1 thread / median with n.\n\n| probe |",
        (words * 8) >> 20,
        len / 4,
        (len * 4) >> 20,
    );
    count_header(&mut out, workers, "thread", 1);
    for (name, samples) in [("streaming read", &stream), ("random chase", &chase)] {
        let stats: Vec<Stat> = samples.iter().map(|s| stat(s).expect("measured")).collect();
        let _ = write!(out, "| {name} |");
        stat_cells(&mut out, &stats);
    }
    out
}

/// Ends a table's header line after its `lead` leading columns: a column per count (`1
/// worker`, `2 workers`...), a speed-up column per count after the first; then the separator.
fn count_header(out: &mut String, workers: &[usize], unit: &str, lead: usize) {
    for w in workers {
        let _ = write!(out, " {w} {unit}{} |", if *w == 1 { "" } else { "s" });
    }
    for w in &workers[1..] {
        let _ = write!(out, " speed-up {w} |");
    }
    out.push_str("\n|");
    for _ in 0..lead + workers.len() * 2 - 1 {
        out.push_str("---|");
    }
    out.push('\n');
}

/// Ends a row: each count's median (min–max), then each speed-up against the first count.
fn stat_cells(out: &mut String, stats: &[Stat]) {
    for s in stats {
        let _ = write!(out, " {s:.1} |");
    }
    for s in &stats[1..] {
        let _ = write!(out, " {:.2}× |", stats[0].median / s.median);
    }
    out.push('\n');
}

/// Runs `f(0)`, ..., `f(n - 1)` on `n` threads at once; returns the milliseconds until all
/// are done (their results are combined and kept, so the work cannot be optimised away).
fn on_threads(n: usize, f: impl Fn(usize) -> u64 + Sync) -> f64 {
    let t = std::time::Instant::now();
    let f = &f;
    let all = std::thread::scope(|s| {
        let threads: Vec<_> = (0..n).map(|c| s.spawn(move || f(c))).collect();
        threads
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(0, |a, x| a ^ x)
    });
    std::hint::black_box(all);
    t.elapsed().as_secs_f64() * 1e3
}

/// A permutation of `0..len` that is one cycle (Sattolo's shuffle, xorshift-driven).
fn random_cycle(len: usize) -> Vec<u32> {
    let mut next: Vec<u32> = (0..len as u32).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..len).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        next.swap(i, (x % i as u64) as usize);
    }
    next
}
