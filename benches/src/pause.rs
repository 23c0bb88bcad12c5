//! The `pause` workload (ftgc only): how long the world takes to stop with mutators busy, and
//! how long each pause lasts, as distributions.
//!
//! The peers have no stop-the-world pause to measure: the single-threaded ones collect on the
//! only thread, and the thread-safe peers (dumpster, gcmodule) collect without parking the
//! other threads.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ftgc::{Gc, Mutator, Trace};

#[derive(Trace)]
struct Node {
    next: Mutex<Option<Gc<Node>>>,
}

fn node(m: &mut Mutator, next: Option<Gc<Node>>) -> Gc<Node> {
    Gc::new(
        m,
        Node {
            next: Mutex::new(next),
        },
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A busy mutator: about a microsecond of arithmetic between safepoint polls, and a garbage
/// cycle every 64 polls (bounded garbage, collected by the default trigger too).
fn busy(stop: &AtomicBool) {
    let m = &mut Mutator::new();
    let (mut x, mut i) = (1u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        }
        std::hint::black_box(x);
        m.safepoint();
        i += 1;
        if i % 64 == 0 {
            let a = node(m, None);
            let b = node(m, Some(a.clone()));
            *a.get(m).next.lock().unwrap() = Some(b);
        }
    }
}

/// With 1, 2 and 4 busy mutators (and a live heap of `live` objects), collects 50 × `repeats`
/// times from the main thread; reports the stop time (request → all parked) and the pause,
/// p50 / p99 / max.
pub fn run(live: usize, repeats: usize) -> String {
    let collections = 50 * repeats;
    let mut out = format!(
        "### pause — stop-the-world latency with busy mutators (ftgc only)\n\n\
         Live heap of {live} objects; each mutator computes for about a microsecond between \
         safepoint polls and drops a two-object cycle every 64 polls; the main thread collects \
         {collections} times per row.\n\n\
         | mutators | stop p50 (µs) | stop p99 (µs) | stop max (µs) | pause p50 (ms) | pause p99 (ms) | pause max (ms) |\n\
         |---|---|---|---|---|---|---|\n"
    );
    let mut m = Mutator::new();
    let keep: Vec<_> = (0..live).map(|_| node(&mut m, None)).collect();
    let others = ftgc::collector().mutators();
    for mutators in [1usize, 2, 4] {
        let stop = AtomicBool::new(false);
        let (mut stops, mut pauses) = (Vec::new(), Vec::new());
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..mutators).map(|_| s.spawn(|| busy(&stop))).collect();
            // Wait (detached) until every worker has registered, then collect.
            while ftgc::collector().mutators() < others + mutators {
                m.detached(std::thread::yield_now);
            }
            for _ in 0..collections {
                let st = m.collect();
                stops.push(st.stop_time);
                pauses.push(st.pause);
            }
            stop.store(true, Ordering::Relaxed);
            m.detached(|| workers.into_iter().for_each(|w| w.join().unwrap()));
        });
        stops.sort();
        pauses.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let _ = writeln!(
            out,
            "| {mutators} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            us(percentile(&stops, 0.5)),
            us(percentile(&stops, 0.99)),
            us(*stops.last().unwrap()),
            ms(percentile(&pauses, 0.5)),
            ms(percentile(&pauses, 0.99)),
            ms(*pauses.last().unwrap()),
        );
    }
    drop(keep);
    m.collect();
    out
}
