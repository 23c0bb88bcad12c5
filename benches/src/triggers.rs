//! The `trigger` workload (ftgc only): what the memory-aware trigger costs and saves.
//!
//! * **list-append** (CPython's `list_append_perf_test` shape, gh-132917): append 1,875,000
//!   small objects, each holding a handle, to one growing list; total time and collections
//!   with the collector disabled, count-only and memory-aware, alternating.
//! * **flat garbage** (the gh-148937 shape): keep making garbage cycles while the live heap
//!   stays flat (a live set of 100,000 objects plus 2,000,000 pairs of garbage); peak RSS with
//!   count-only and memory-aware triggering. mimalloc reuses the freed pages, so RSS does not
//!   grow with the garbage: a rule driven by RSS alone would defer without bound.
//!
//! Peak RSS comes from the kernel's high-water mark, reset before each run. A warm-up run comes
//! first (the first run of a process pays for first-touching its pages), and the order of the
//! modes rotates from one repeat to the next.

use std::fmt::Write as _;
use std::time::Instant;

use ftgc::{Gc, GcMutex, Mutator, Trace, TriggerConfig, TriggerMode};

use crate::run::{Stat, peak_rss_mib, reset_peak_rss, stat};

/// Holds only a handle to a leaf (a string): never part of a cycle, so an untracked leaf
/// object itself, as CPython untracks a tuple of strings.
#[derive(Trace)]
struct Item {
    value: u64,
    name: Gc<String>,
}

/// The same, with a field that could hold a handle to another item (always `None` here): a
/// tracked object, which every collection walks.
#[derive(Trace)]
struct TrackedItem {
    value: u64,
    name: Gc<String>,
    next: Option<Gc<TrackedItem>>,
}

/// A list-append item.
trait Appended: Trace + Send + Sync + 'static {
    fn new(value: u64, name: Gc<String>) -> Self;
    fn value(&self) -> u64;
}

impl Appended for Item {
    fn new(value: u64, name: Gc<String>) -> Self {
        Item { value, name }
    }
    fn value(&self) -> u64 {
        self.value
    }
}

impl Appended for TrackedItem {
    fn new(value: u64, name: Gc<String>) -> Self {
        TrackedItem {
            value,
            name,
            next: None,
        }
    }
    fn value(&self) -> u64 {
        self.value
    }
}

#[derive(Trace)]
struct Pair {
    other: GcMutex<Option<Gc<Pair>>>,
    payload: [u64; 8],
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Disabled,
    Count,
    Memory,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Disabled => "disabled",
            Mode::Count => "count-only",
            Mode::Memory => "memory-aware",
        }
    }

    fn apply(self) {
        let c = ftgc::collector();
        match self {
            Mode::Disabled => {
                c.disable();
            }
            Mode::Count | Mode::Memory => {
                c.enable();
                c.set_trigger(TriggerConfig {
                    mode: if self == Mode::Count {
                        TriggerMode::Count
                    } else {
                        TriggerMode::Memory
                    },
                    ..TriggerConfig::default()
                });
            }
        }
    }
}

/// One list-append run: (seconds, collections, deferrals).
fn list_append<I: Appended>(m: &mut Mutator, n: usize) -> (f64, u64, u64) {
    let c = ftgc::collector();
    m.collect();
    let (c0, d0) = (c.totals().collections, c.totals().deferrals);
    let t = Instant::now();
    let name = Gc::new(m, "item".to_string());
    let list = Gc::new(m, GcMutex::new(Vec::new()));
    for i in 0..n {
        let item = Gc::new(m, I::new(i as u64, name.clone()));
        list.get(m).lock().push(item);
    }
    let secs = t.elapsed().as_secs_f64();
    let (c1, d1) = (c.totals().collections, c.totals().deferrals);
    std::hint::black_box(list.get(m).lock()[n / 2].get(m).value());
    drop(list);
    (secs, c1 - c0, d1 - d0)
}

/// One flat-garbage run: (peak RSS MiB, collections, deferrals).
fn flat_garbage(m: &mut Mutator, live: usize, pairs: usize) -> (f64, u64, u64) {
    let c = ftgc::collector();
    m.collect();
    reset_peak_rss();
    let (c0, d0) = (c.totals().collections, c.totals().deferrals);
    let keep: Vec<_> = (0..live)
        .map(|_| {
            Gc::new(
                m,
                Pair {
                    other: GcMutex::new(None),
                    payload: [0; 8],
                },
            )
        })
        .collect();
    for _ in 0..pairs {
        let a = Gc::new(
            m,
            Pair {
                other: GcMutex::new(None),
                payload: [1; 8],
            },
        );
        let b = Gc::new(
            m,
            Pair {
                other: GcMutex::new(Some(a.clone())),
                payload: [2; 8],
            },
        );
        *a.get(m).other.lock() = Some(b);
    }
    let peak = peak_rss_mib().unwrap_or(f64::NAN);
    let (c1, d1) = (c.totals().collections, c.totals().deferrals);
    drop(keep);
    m.collect();
    (peak, c1 - c0, d1 - d0)
}

fn fmt(s: Option<Stat>, digits: usize) -> String {
    s.map_or("—".into(), |s| format!("{s:.digits$}"))
}

/// Runs both parts; returns the Markdown report.
pub fn run(items: usize, repeats: usize) -> String {
    let c = ftgc::collector();
    let saved = (c.is_enabled(), c.trigger());
    let mut m = Mutator::new();
    let modes = [Mode::Disabled, Mode::Count, Mode::Memory];
    // [item kind][mode]: untracked items, then tracked ones.
    let mut append: Vec<Vec<Vec<(f64, u64, u64)>>> = vec![vec![Vec::new(); 3]; 2];
    let mut garbage: Vec<Vec<(f64, u64, u64)>> = vec![Vec::new(); 2];
    // Warm-up: the first run of a process pays for first-touching its pages.
    Mode::Disabled.apply();
    list_append::<Item>(&mut m, items);
    // The order of the modes rotates from one repeat to the next, so none always runs first.
    for r in 0..repeats {
        for k in 0..modes.len() {
            let i = (k + r) % modes.len();
            modes[i].apply();
            append[0][i].push(list_append::<Item>(&mut m, items));
            append[1][i].push(list_append::<TrackedItem>(&mut m, items));
        }
        for k in 0..2 {
            let i = (k + r) % 2;
            [Mode::Count, Mode::Memory][i].apply();
            garbage[i].push(flat_garbage(&mut m, 100_000, 2_000_000));
        }
    }
    if saved.0 {
        c.enable()
    } else {
        c.disable();
    }
    c.set_trigger(saved.1);

    let col = |v: &[(f64, u64, u64)], k: usize| -> Vec<Option<f64>> {
        v.iter()
            .map(|t| Some([t.0, t.1 as f64, t.2 as f64][k]))
            .collect()
    };
    let mut out = String::from("### trigger — memory-aware triggering (ftgc only)\n");
    let kinds = [
        "items that hold only a handle to a string: untracked leaves, as CPython's tuples of strings",
        "items with a field that could hold another item's handle: tracked, walked by every collection",
    ];
    for (kind, runs) in kinds.iter().zip(&append) {
        let _ = write!(
            out,
            "\n**list-append**: {items} {kind}, appended to one list; median (min–max) of {repeats} runs, modes alternating.\n\n\
             | trigger | time (ms) | collections | deferrals | time / disabled |\n|---|---|---|---|---|\n"
        );
        let base = stat(&col(&runs[0], 0)).map_or(f64::NAN, |s| s.median);
        for (i, mode) in modes.iter().enumerate() {
            let t = stat(&col(&runs[i], 0)).map(|s| Stat {
                median: s.median * 1e3,
                min: s.min * 1e3,
                max: s.max * 1e3,
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | **{:.2}×** |",
                mode.name(),
                fmt(t, 1),
                fmt(stat(&col(&runs[i], 1)), 0),
                fmt(stat(&col(&runs[i], 2)), 0),
                t.map_or(f64::NAN, |s| s.median / 1e3 / base)
            );
        }
    }
    let _ = write!(
        out,
        "\n**flat garbage** (gh-148937): 100,000 live objects, then 2,000,000 garbage cycles of two; peak RSS.\n\n\
         | trigger | peak RSS (MiB) | collections | deferrals |\n|---|---|---|---|\n"
    );
    for (i, mode) in [Mode::Count, Mode::Memory].iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            mode.name(),
            fmt(stat(&col(&garbage[i], 0)), 1),
            fmt(stat(&col(&garbage[i], 1)), 0),
            fmt(stat(&col(&garbage[i], 2)), 0),
        );
    }
    let ratio = stat(&col(&garbage[1], 0)).map_or(f64::NAN, |s| s.median)
        / stat(&col(&garbage[0], 0)).map_or(f64::NAN, |s| s.median);
    let _ = writeln!(
        out,
        "\nPeak RSS memory-aware / count-only: **{ratio:.2}×** (target ≤ 1.5×)."
    );
    out
}
