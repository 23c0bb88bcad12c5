//! The benchmark harness.
//!
//! ```text
//! cargo run --release -p ftgc-benches -- [all | WORKLOAD...] [--compare] [--only NAMES]
//!     [--repeat N] [--quick] [--json PATH] [--svg PATH] [--md PATH]
//! ```
//!
//! Workloads: tree, rings, churn, threads, btree, biglists, roots, trigger, pause, scaling
//! (`--workers 1,2,4` picks its worker counts). Without `--compare` only
//! ftgc runs (as `ftgc`, and as `ftgc+root` with the graph's root registered on the live-graph
//! workloads); with it, every peer crate and floor runs too, alternating within each repeat.
//! Tables go to stdout (Markdown); `--md`, `--json` and `--svg` also write them to files. `all`
//! writes them to `docs/bench-results.md`, `docs/bench-results.json` and `docs/bench-chart.svg`
//! unless paths are given.

use std::process::ExitCode;
use std::time::Instant;

use ftgc_benches::alloc::MiMalloc;
use ftgc_benches::report::{self, WorkloadReport};
use ftgc_benches::run::{Sizes, Workload, run_workload};
use ftgc_benches::{pause, roots, scaling, subjects, triggers};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const USAGE: &str = "usage: ftgc-benches [all | tree rings churn threads btree biglists roots trigger pause scaling] \
[--workers 1,2,..] [--compare] [--only a,b] [--repeat N] [--quick] [--json PATH] [--svg PATH] [--md PATH]";

struct Options {
    workloads: Vec<Workload>,
    pause: bool,
    roots: bool,
    trigger: bool,
    scaling: bool,
    workers: Vec<usize>,
    compare: bool,
    only: Option<Vec<String>>,
    repeats: usize,
    sizes: Sizes,
    json: Option<String>,
    svg: Option<String>,
    md: Option<String>,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        workloads: Vec::new(),
        pause: false,
        roots: false,
        trigger: false,
        scaling: false,
        workers: scaling::default_workers(),
        compare: false,
        only: None,
        repeats: 3,
        sizes: Sizes::full(),
        json: None,
        svg: None,
        md: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "all" => {
                o.workloads = Workload::ALL.to_vec();
                o.pause = true;
                o.roots = true;
                o.trigger = true;
                o.scaling = true;
            }
            "pause" => o.pause = true,
            "roots" => o.roots = true,
            "scaling" => o.scaling = true,
            "--workers" => {
                let v = value("--workers")?;
                o.workers = v
                    .split(',')
                    .map(|w| w.parse().map_err(|_| format!("bad worker count `{w}`")))
                    .collect::<Result<_, _>>()?;
                if o.workers.first() != Some(&1) {
                    return Err("--workers must start with 1 (the reference)".into());
                }
            }
            "trigger" => o.trigger = true,
            "--compare" => o.compare = true,
            "--quick" => o.sizes = Sizes::divided(10),
            "--only" => o.only = Some(value("--only")?.split(',').map(str::to_owned).collect()),
            "--repeat" => {
                o.repeats = value("--repeat")?
                    .parse()
                    .map_err(|_| "--repeat needs a number".to_string())?;
            }
            "--json" => o.json = Some(value("--json")?),
            "--svg" => o.svg = Some(value("--svg")?),
            "--md" => o.md = Some(value("--md")?),
            "-h" | "--help" => return Err(USAGE.into()),
            w => match Workload::parse(w) {
                Some(w) if !o.workloads.contains(&w) => o.workloads.push(w),
                Some(_) => {}
                None => return Err(format!("unknown argument `{w}`\n{USAGE}")),
            },
        }
    }
    if o.workloads.is_empty() && !o.pause && !o.roots && !o.trigger && !o.scaling {
        return Err(USAGE.into());
    }
    // A full run (`all`) writes its report where docs/benchmarks.md links to it, unless told
    // otherwise.
    if o.workloads.len() == Workload::ALL.len() && o.pause {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/");
        o.md.get_or_insert_with(|| format!("{docs}bench-results.md"));
        o.json
            .get_or_insert_with(|| format!("{docs}bench-results.json"));
        o.svg
            .get_or_insert_with(|| format!("{docs}bench-chart.svg"));
    }
    o.repeats = o.repeats.max(1);
    Ok(o)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut subjects = subjects::all();
    if !o.compare {
        subjects.retain(|s| s.name().starts_with("ftgc"));
    }
    if let Some(only) = &o.only {
        subjects.retain(|s| only.iter().any(|n| n == s.name()));
    }
    let start = Instant::now();
    let mut md = format!(
        "Machine: {}. Global allocator for every subject: mimalloc v3 (plain `mi_malloc` below \
         16-byte alignment). Command: `cargo run --release -p ftgc-benches -- {}`\n\n",
        machine(),
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let mut reports = Vec::new();
    let mut failed = false;
    for &w in &o.workloads {
        let rows = run_workload(&subjects, w, &o.sizes, o.repeats);
        failed |= rows.iter().any(|r| !r.failures.is_empty());
        let r = WorkloadReport {
            workload: w,
            description: o.sizes.describe(w),
            rows,
        };
        let t = report::table(&r, o.repeats);
        println!("{t}");
        md.push_str(&t);
        md.push('\n');
        reports.push(r);
    }
    if o.roots {
        let t = roots::run(&o.sizes, o.repeats.max(5));
        println!("{t}");
        md.push_str(&t);
        md.push('\n');
    }
    if o.scaling {
        let t = scaling::run(&o.sizes, &o.workers, o.repeats.max(5));
        println!("{t}");
        md.push_str(&t);
        md.push('\n');
    }
    if o.trigger {
        let t = triggers::run(o.sizes.churn.objects * 3 / 16, o.repeats.max(5));
        println!("{t}");
        md.push_str(&t);
        md.push('\n');
    }
    if o.pause {
        let t = pause::run(o.sizes.tree.nodes / 10, o.repeats);
        println!("{t}");
        md.push_str(&t);
        md.push('\n');
    }
    if o.compare {
        let t = report::targets(&reports);
        println!("{t}");
        md.push_str(&t);
    }
    let elapsed = format!("\nWhole run: {:.0} s.\n", start.elapsed().as_secs_f64());
    println!("{elapsed}");
    md.push_str(&elapsed);
    let write = |path: &Option<String>, text: String| {
        if let Some(p) = path {
            match std::fs::write(p, text) {
                Ok(()) => eprintln!("wrote {p}"),
                Err(e) => eprintln!("cannot write {p}: {e}"),
            }
        }
    };
    write(&o.md, md);
    write(&o.json, report::json(&reports, &o.sizes, o.repeats));
    write(&o.svg, report::svg(&reports));
    if failed {
        eprintln!("VERIFICATION FAILED: see the tables above");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
