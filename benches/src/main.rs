//! ftgc benchmark harness.
//!
//! ```text
//! cargo run --release -p ftgc-benches -- churn [--objects N] [--rounds R]
//! ```
//!
//! Only the `churn` workload exists so far; the benchmark-suite issue adds the big-graph
//! workloads, the peer crates and the report.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use ftgc::{Gc, Mutator, Trace};

/// A small traced object (it could hold a handle, so it lives in the GC heap).
#[derive(Trace)]
struct Cell {
    next: Option<Gc<Cell>>,
    value: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Allocates and drops `n` small objects, one at a time, for each kind; prints ns per
/// allocate+drop pair, median over `rounds` interleaved rounds, and the ratio to `Arc`.
fn churn(n: u64, rounds: usize) {
    let mut m = Mutator::new();
    let (mut arc, mut leaf, mut traced) = (Vec::new(), Vec::new(), Vec::new());
    let per = |t: Instant| t.elapsed().as_nanos() as f64 / n as f64;
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..n {
            black_box(Arc::new((i, 0u64)));
        }
        arc.push(per(t));
        let t = Instant::now();
        for i in 0..n {
            black_box(Gc::new(&mut m, (i, 0u64)));
        }
        leaf.push(per(t));
        let t = Instant::now();
        for i in 0..n {
            black_box(Gc::new(
                &mut m,
                Cell {
                    next: None,
                    value: i,
                },
            ));
        }
        traced.push(per(t));
    }
    let (arc, leaf, traced) = (median(arc), median(leaf), median(traced));
    println!("churn: {n} allocate+drop pairs per kind, median of {rounds} rounds");
    println!("  Arc<(u64, u64)>        {arc:6.1} ns   1.00x");
    println!(
        "  Gc<(u64, u64)> (leaf)  {leaf:6.1} ns   {:.2}x",
        leaf / arc
    );
    println!(
        "  Gc<Cell> (traced)      {traced:6.1} ns   {:.2}x",
        traced / arc
    );
    println!(
        "  collections run: {}",
        ftgc::collector().totals().collections
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("churn") => {
            churn(
                value("--objects", 10_000_000),
                value("--rounds", 5) as usize,
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: ftgc-benches churn [--objects N] [--rounds R]");
            ExitCode::from(2)
        }
    }
}
