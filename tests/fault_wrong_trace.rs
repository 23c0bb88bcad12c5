//! A `Trace` impl that over-reports is caught before anything is freed.
//!
//! Alone in its binary: while the bad object exists, every collection in the process panics.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{Drops, Node, panic_message, ring};
use ftgc::{Gc, Mutator, Trace, Tracer};

/// Owns one handle but reports it twice: a contract violation.
struct OverReports {
    child: Gc<Node>,
}

// SAFETY: deliberately wrong (reports `child` twice) to test that the collector catches it.
unsafe impl Trace for OverReports {
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        self.child.trace(tracer);
        self.child.trace(tracer);
    }
}

#[test]
fn an_over_reporting_trace_impl_is_caught_and_nothing_is_freed() {
    // The sequential path, and the parallel one (where subtractions are combined and applied
    // later, so the message's tracing type is found by a search).
    for workers in [1, 2, 4] {
        ftgc::collector().set_workers(workers);
        caught_with_nothing_freed(workers);
        caught_on_a_hot_object(workers);
    }
}

/// An object with 40 references is *hot* in a parallel collection (each worker counts the
/// subtractions from it apart, and they are checked when added up): the over-report is caught
/// there too.
fn caught_on_a_hot_object(workers: usize) {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let child = Node::new(&mut m, 7, &drops);
    let holders: Vec<Gc<OverReports>> = (0..40)
        .map(|_| {
            Gc::new(
                &mut m,
                OverReports {
                    child: child.clone(),
                },
            )
        })
        .collect();
    drop(child);

    collect_is_caught(&mut m, &drops, &format!("{workers} workers, hot object"));
    drop(holders);
    assert_eq!(drops.get(), 1, "the child died with its last owner");
    m.collect();
}

fn caught_with_nothing_freed(workers: usize) {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let garbage = ring(&mut m, 5, &drops);
    drop(garbage); // real garbage: it must survive the abandoned collection
    let child = Node::new(&mut m, 99, &drops);
    let bad = Gc::new(&mut m, OverReports { child });

    collect_is_caught(&mut m, &drops, &format!("{workers} workers"));

    // The world restarted and the heap is intact: the objects are readable and, once the bad
    // object is gone, collections work and find the garbage left from before.
    assert_eq!(bad.get(&m).child.get(&m).id, 99);
    drop(bad);
    assert_eq!(drops.get(), 1, "the child died with its only owner");
    m.collect();
    assert_eq!(
        drops.get(),
        6,
        "the earlier garbage is collected by the next collection"
    );
}

/// Collects, which must panic with the over-report message naming both types, and free
/// nothing.
fn collect_is_caught(m: &mut Mutator, drops: &Drops, case: &str) {
    let err =
        catch_unwind(AssertUnwindSafe(|| m.collect())).expect_err("the collection must panic");
    let msg = format!("[{case}] {}", panic_message(&*err));
    assert!(
        msg.contains("Trace implementation reported more references"),
        "{msg}"
    );
    assert!(
        msg.contains("common::Node"),
        "names the over-reported type: {msg}"
    );
    assert!(
        msg.contains("OverReports"),
        "names the type being traced: {msg}"
    );
    assert_eq!(
        drops.get(),
        0,
        "nothing may be freed by an abandoned collection: {msg}"
    );
}
