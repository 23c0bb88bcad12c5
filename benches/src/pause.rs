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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// With `mutators` ∈ {1, 2, 4} threads each churning a small cyclic graph (and a live heap of
/// `live` objects), runs 50 × `repeats` collections from the main thread; reports the stop
/// time (request → all parked) and the pause, p50 / p99 / max.
pub fn run(live: usize, repeats: usize) -> String {
    let mut out = format!(
        "### pause — stop-the-world latency with busy mutators (ftgc only)\n\n\
         Live heap of {live} objects; each mutator allocates and drops two-object cycles in a \
         loop (every allocation is a safepoint); the main thread collects {} times.\n\n\
         | mutators | stop p50 (µs) | stop p99 (µs) | stop max (µs) | pause p50 (ms) | pause p99 (ms) | pause max (ms) |\n\
         |---|---|---|---|---|---|---|\n",
        50 * repeats
    );
    let was = ftgc::collector().disable();
    let mut m = Mutator::new();
    let mut keep = Vec::with_capacity(live);
    for _ in 0..live {
        keep.push(Gc::new(
            &mut m,
            Node {
                next: Mutex::new(None),
            },
        ));
    }
    for mutators in [1usize, 2, 4] {
        let stop = AtomicBool::new(false);
        let (mut stops, mut pauses) = (Vec::new(), Vec::new());
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..mutators)
                .map(|_| {
                    s.spawn(|| {
                        let m = &mut Mutator::new();
                        while !stop.load(Ordering::Relaxed) {
                            let a = Gc::new(
                                m,
                                Node {
                                    next: Mutex::new(None),
                                },
                            );
                            let b = Gc::new(
                                m,
                                Node {
                                    next: Mutex::new(Some(a.clone())),
                                },
                            );
                            *a.get(m).next.lock().unwrap() = Some(b);
                        }
                    })
                })
                .collect();
            // Wait (detached) until every worker has registered, then collect.
            while ftgc::collector().mutators() < mutators + 1 {
                m.detached(std::thread::yield_now);
            }
            for _ in 0..50 * repeats {
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
    if was {
        ftgc::collector().enable();
    }
    let _ = writeln!(out);
    out
}
