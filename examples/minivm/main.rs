//! `minivm`: a small multi-threaded Lisp embedding `ftgc`, the collector's test of what a
//! language runtime needs from it.
//!
//! Every Lisp object (pairs, vectors, dictionaries, strings, symbols, closures, frames, global
//! cells) is a `Gc` object; programs start VM threads with `spawn`, each an OS thread with its
//! own `Mutator`, and share objects freely between them. The `gc-` builtins expose the
//! collector's API (`(gc-collect)`, `(gc-disable)`, `(gc-stats)`, `(gc-freeze)`, ...). See
//! `vm/mod.rs` for the design and `programs/` for examples:
//!
//! ```text
//! cargo run --release --example minivm -- examples/minivm/programs/hello.lisp
//! cargo run --release --example minivm -- examples/minivm/programs/binary_trees.lisp 18 2
//! cargo run --release --example minivm -- examples/minivm/programs/cycles.lisp
//! ```
//!
//! The program's output goes to standard output; at exit the collector's totals (collections,
//! objects collected, total and longest pause), the last collection, the wall time and the
//! peak RSS go to standard error.

mod vm;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../common/rss.rs"]
mod rss;
use rss::peak_rss;

const USAGE: &str = "usage: minivm FILE [ARGS...]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next().filter(|a| a != "-h" && a != "--help") else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let source = match std::fs::read_to_string(&file) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("minivm: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out: vm::Output = Arc::new(Mutex::new(std::io::stdout()));
    let start = Instant::now();
    let result = vm::run(&source, &file, args.collect(), out);
    let wall = start.elapsed();
    if let Err(e) = &result {
        eprintln!("minivm: error: {e}");
    }
    print_stats(wall);
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The collector's figures, the wall time and the peak RSS, on standard error.
fn print_stats(wall: Duration) {
    let c = ftgc::collector();
    let t = c.totals();
    eprintln!(
        "gc: {} collections, {} objects collected, pause total {}, max {}",
        t.collections,
        t.collected,
        ms(t.pause),
        ms(t.max_pause)
    );
    if let Some(s) = c.last_stats() {
        eprintln!(
            "gc: last collection ({:?}): {} objects walked, {} alive from roots, {} candidates, \
             {} collected, pause {} on {} workers",
            s.reason,
            s.objects,
            s.alive,
            s.candidates,
            s.collected,
            ms(s.pause),
            s.workers
        );
    }
    let rss = peak_rss().map_or("n/a".to_string(), |b| {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    });
    eprintln!("minivm: wall {:.3} s, peak RSS {rss}", wall.as_secs_f64());
}
