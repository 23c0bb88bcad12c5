//! Running workloads: repeats in alternation between subjects, per-run peak RSS, verification,
//! and the metrics each workload reports.

use std::io::Write;
use std::time::Duration;

use crate::subject::*;
use crate::tally;

/// The workloads, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// [`TreeParams`].
    Tree,
    /// [`RingsParams`].
    Rings,
    /// [`ChurnParams`].
    Churn,
    /// [`ThreadsParams`].
    Threads,
    /// [`BTreeParams`].
    BTree,
    /// [`BigListsParams`].
    BigLists,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 6] = [
        Workload::Tree,
        Workload::Rings,
        Workload::Churn,
        Workload::Threads,
        Workload::BTree,
        Workload::BigLists,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Tree => "tree",
            Workload::Rings => "rings",
            Workload::Churn => "churn",
            Workload::Threads => "threads",
            Workload::BTree => "btree",
            Workload::BigLists => "biglists",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }
}

/// Sizes of every workload.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// tree.
    pub tree: TreeParams,
    /// rings.
    pub rings: RingsParams,
    /// churn.
    pub churn: ChurnParams,
    /// threads.
    pub threads: ThreadsParams,
    /// btree.
    pub btree: BTreeParams,
    /// biglists.
    pub biglists: BigListsParams,
}

impl Sizes {
    /// The defaults: big enough not to fit in cache.
    pub fn full() -> Sizes {
        Sizes {
            tree: TreeParams {
                nodes: 3_000_000,
                branching: 5,
            },
            rings: RingsParams {
                rings: 250_000,
                ring_size: 4,
            },
            churn: ChurnParams {
                objects: 10_000_000,
            },
            threads: ThreadsParams {
                threads: 2,
                pairs: 500_000,
                collect_every: 10_000,
            },
            // 2,800,000 records + about 120,000 nodes: about 3M objects, as gc_big_tree.
            btree: BTreeParams { records: 2_800_000 },
            // 3,000 lists + 3,000,000 items.
            biglists: BigListsParams {
                lists: 3_000,
                list_len: 1_000,
            },
        }
    }

    /// Every size divided by `k` (for a quick look; `--quick` uses 10).
    pub fn divided(k: usize) -> Sizes {
        let mut s = Sizes::full();
        s.tree.nodes /= k;
        s.rings.rings /= k;
        s.churn.objects /= k;
        s.threads.pairs /= k;
        s.btree.records /= k;
        s.biglists.lists /= k;
        s
    }

    /// A one-line description of a workload's size.
    pub fn describe(&self, w: Workload) -> String {
        match w {
            Workload::Tree => format!(
                "{} nodes, branching {}, child→parent back-edges",
                self.tree.nodes, self.tree.branching
            ),
            Workload::Rings => format!(
                "{} rings of {} ({} objects)",
                self.rings.rings,
                self.rings.ring_size,
                self.rings.rings * self.rings.ring_size
            ),
            Workload::Churn => format!("{} small acyclic objects", self.churn.objects),
            Workload::Threads => format!(
                "{} threads × {} cyclic pairs",
                self.threads.threads, self.threads.pairs
            ),
            Workload::BTree => format!("B-tree of {} records", self.btree.records),
            Workload::BigLists => format!(
                "{} lists × {} items",
                self.biglists.lists, self.biglists.list_len
            ),
        }
    }
}

/// One metric of one run: `None` where it does not apply to the subject.
pub type Value = Option<f64>;

/// Metric names and units of a workload, in table order.
pub fn metrics(w: Workload) -> &'static [(&'static str, &'static str)] {
    match w {
        Workload::Tree => &[
            ("build", "ms"),
            ("live collect", "ms"),
            ("live", "ns/obj"),
            ("drop root", "ms"),
            ("garbage collect", "ms"),
            ("garbage", "ns/obj"),
        ],
        Workload::Rings => &[
            ("build", "ms"),
            ("collect", "ms"),
            ("collect", "ns/obj"),
            ("of which destroy", "ns/obj"),
        ],
        Workload::Churn => &[("total", "ms"), ("per object", "ns"), ("collections", "")],
        Workload::Threads => &[
            ("wall", "ms"),
            ("mutator", "ms"),
            ("collections", ""),
            ("reclaimed in run", "%"),
        ],
        Workload::BTree | Workload::BigLists => &[
            ("objects", ""),
            ("build", "ms"),
            ("live collect", "ms"),
            ("live", "ns/obj"),
            ("drop + collect", "ms"),
        ],
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e9 / n.max(1) as f64
}

/// Runs one workload once on one subject: its metric values, or why it was skipped. A result
/// that fails verification is an `Err` with the reason.
pub fn run_once(
    s: &dyn Subject,
    w: Workload,
    sizes: &Sizes,
) -> Result<Result<Vec<Value>, Skip>, String> {
    let name = s.name();
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{name}: {what}"))
        }
    };
    let nonzero = |d: Duration| (d > Duration::ZERO).then_some(ms(d));
    Ok(match w {
        Workload::Tree => {
            let p = &sizes.tree;
            match tally::exclusive(|| s.tree(p)) {
                Err(skip) => Err(skip),
                Ok(r) => {
                    check(
                        r.dropped_live == 0,
                        format!("{} nodes dropped by the live collection", r.dropped_live),
                    )?;
                    check(
                        r.dropped == p.nodes,
                        format!("{} of {} nodes dropped", r.dropped, p.nodes),
                    )?;
                    let gc = r.collect_live > Duration::ZERO;
                    Ok(vec![
                        Some(ms(r.build)),
                        nonzero(r.collect_live),
                        gc.then(|| per(r.collect_live, p.nodes)),
                        Some(ms(r.drop_root)),
                        nonzero(r.collect_garbage),
                        gc.then(|| per(r.collect_garbage, p.nodes)),
                    ])
                }
            }
        }
        Workload::Rings => {
            let p = &sizes.rings;
            let n = p.rings * p.ring_size;
            match tally::exclusive(|| s.rings(p)) {
                Err(skip) => Err(skip),
                Ok(r) => {
                    check(
                        r.dropped == n,
                        format!("{} of {n} objects dropped", r.dropped),
                    )?;
                    Ok(vec![
                        Some(ms(r.build)),
                        Some(ms(r.collect)),
                        Some(per(r.collect, n)),
                        r.destroy.map(|d| per(d, n)),
                    ])
                }
            }
        }
        Workload::Churn => {
            let p = &sizes.churn;
            match tally::exclusive(|| s.churn(p)) {
                Err(skip) => Err(skip),
                Ok(r) => {
                    check(
                        r.dropped == p.objects,
                        format!("{} of {} dropped", r.dropped, p.objects),
                    )?;
                    Ok(vec![
                        Some(ms(r.time)),
                        Some(per(r.time, p.objects)),
                        r.collections.map(|c| c as f64),
                    ])
                }
            }
        }
        Workload::Threads => {
            let p = &sizes.threads;
            let n = 2 * p.threads * p.pairs;
            match tally::exclusive(|| s.threads(p)) {
                Err(skip) => Err(skip),
                Ok(r) => {
                    check(
                        r.dropped == n,
                        format!("{} of {n} objects dropped", r.dropped),
                    )?;
                    Ok(vec![
                        Some(ms(r.wall)),
                        Some(ms(r.mutator)),
                        r.collections.map(|c| c as f64),
                        Some(100.0 * r.dropped_during_run as f64 / n as f64),
                    ])
                }
            }
        }
        Workload::BTree | Workload::BigLists => {
            let r = if w == Workload::BTree {
                tally::exclusive(|| s.btree(&sizes.btree))
            } else {
                tally::exclusive(|| s.biglists(&sizes.biglists))
            };
            match r {
                Err(skip) => Err(skip),
                Ok(r) => {
                    check(
                        r.dropped_live == 0,
                        format!("{} dropped by the live collection", r.dropped_live),
                    )?;
                    check(
                        r.dropped == r.expected,
                        format!("{} of {} dropped", r.dropped, r.expected),
                    )?;
                    Ok(vec![
                        Some(r.objects as f64),
                        Some(ms(r.build)),
                        Some(ms(r.collect_live)),
                        Some(per(r.collect_live, r.objects)),
                        Some(ms(r.collect_garbage)),
                    ])
                }
            }
        }
    })
}

/// A subject's results on one workload over all repeats.
#[derive(Clone, Debug)]
pub struct Row {
    /// Subject name.
    pub subject: &'static str,
    /// Whether the subject is thread-safe.
    pub thread_safe: bool,
    /// `samples[metric][repeat]`.
    pub samples: Vec<Vec<Value>>,
    /// Peak RSS of each run, MiB (Linux only).
    pub peak_rss: Vec<f64>,
    /// Why the subject skipped the workload.
    pub skip: Option<&'static str>,
    /// Verification failures.
    pub failures: Vec<String>,
}

/// Summary statistics of one metric.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    /// Median.
    pub median: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// `median (min–max)`: with a precision (`{:.1}`), every number to that many digits; without,
/// each with the digits that [`fmt_num`] gives it.
impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match f.precision() {
            Some(p) => write!(f, "{:.p$} ({:.p$}–{:.p$})", self.median, self.min, self.max),
            None => write!(
                f,
                "{} ({}–{})",
                fmt_num(self.median),
                fmt_num(self.min),
                fmt_num(self.max)
            ),
        }
    }
}

/// A number with three significant digits or so (none after the point from 100 up).
pub fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Median, min and max of the present values, if any.
pub fn stat(values: &[Value]) -> Option<Stat> {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Stat {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    })
}

/// Returns the memory mimalloc keeps from earlier runs to the OS, then resets the kernel's
/// peak-RSS mark (Linux: `VmHWM`), so each run reports its own peak as well as one process
/// allows (pages retained by other heaps still count: read it as an upper bound).
pub fn reset_peak_rss() {
    // SAFETY: `mi_collect` has no preconditions.
    unsafe { libmimalloc_sys::mi_collect(true) };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS since the last reset, in MiB (Linux only).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs `w` `repeats` times on every subject, alternating subjects within each repeat, with a
/// progress line on stderr.
pub fn run_workload(
    subjects: &[Box<dyn Subject>],
    w: Workload,
    sizes: &Sizes,
    repeats: usize,
) -> Vec<Row> {
    let mut rows: Vec<Row> = subjects
        .iter()
        .map(|s| Row {
            subject: s.name(),
            thread_safe: s.thread_safe(),
            samples: vec![Vec::new(); metrics(w).len()],
            peak_rss: Vec::new(),
            skip: None,
            failures: Vec::new(),
        })
        .collect();
    let total = repeats * subjects.len();
    let mut done = 0;
    for _ in 0..repeats {
        for (s, row) in subjects.iter().zip(&mut rows) {
            done += 1;
            if row.skip.is_some() {
                continue;
            }
            let bar = "#".repeat(done * 20 / total);
            eprint!(
                "\r  [{bar:<20}] {} {done}/{total}: {:<16}",
                w.name(),
                s.name()
            );
            let _ = std::io::stderr().flush();
            reset_peak_rss();
            match run_once(s.as_ref(), w, sizes) {
                Ok(Ok(values)) => {
                    for (m, v) in values.into_iter().enumerate() {
                        row.samples[m].push(v);
                    }
                    if let Some(rss) = peak_rss_mib() {
                        row.peak_rss.push(rss);
                    }
                }
                Ok(Err(Skip(reason))) => row.skip = Some(reason),
                Err(failure) => row.failures.push(failure),
            }
        }
    }
    eprint!("\r{:70}\r", "");
    rows
}
