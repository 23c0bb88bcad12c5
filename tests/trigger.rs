//! The allocation-count trigger. Alone in its binary: it changes the global threshold.

mod common;

use std::sync::Mutex;

use common::{Drops, Node, ring};
use ftgc::{DEFAULT_THRESHOLD, Mutator};

/// Serialises the tests of this binary (they share the collector's settings).
static SETTINGS: Mutex<()> = Mutex::new(());

#[test]
fn garbage_cycles_are_collected_without_an_explicit_collect() {
    let _g = SETTINGS.lock().unwrap();
    let c = ftgc::collector();
    c.set_threshold(DEFAULT_THRESHOLD);
    c.enable();
    let mut m = Mutator::new();
    let drops = Drops::new();
    let before = c.totals().collections;
    for _ in 0..20_000 {
        drop(ring(&mut m, 2, &drops)); // 40,000 objects of cyclic garbage
    }
    assert!(
        c.totals().collections > before,
        "the count trigger ran collections"
    );
    assert!(
        drops.get() >= 30_000,
        "most garbage was freed automatically: {}",
        drops.get()
    );
    assert_eq!(c.last_stats().unwrap().reason, ftgc::Reason::Allocations);
}

#[test]
fn disabled_or_zero_threshold_means_no_automatic_collection() {
    let _g = SETTINGS.lock().unwrap();
    let c = ftgc::collector();
    let mut m = Mutator::new();
    let drops = Drops::new();
    for setting in ["disabled", "threshold 0"] {
        match setting {
            "disabled" => {
                assert!(c.disable() || !c.is_enabled());
            }
            _ => {
                c.enable();
                c.set_threshold(0);
            }
        }
        let before = c.totals().collections;
        for _ in 0..10_000 {
            drop(ring(&mut m, 2, &drops));
        }
        assert_eq!(
            c.totals().collections,
            before,
            "{setting}: no automatic collection"
        );
    }
    assert_eq!(drops.get(), 0);
    c.set_threshold(DEFAULT_THRESHOLD);
    c.enable();
    assert!(c.is_enabled());
    assert_eq!(c.threshold(), DEFAULT_THRESHOLD);
    m.collect();
    assert_eq!(drops.get(), 40_000);
}

#[test]
fn big_live_heaps_raise_the_bar_to_a_quarter_of_the_survivors() {
    let _g = SETTINGS.lock().unwrap();
    let c = ftgc::collector();
    c.set_threshold(DEFAULT_THRESHOLD);
    c.enable();
    let mut m = Mutator::new();
    let drops = Drops::new();
    let live = ring(&mut m, 200_000, &drops);
    m.collect();
    assert!(c.long_lived() >= 200_000);
    // 20,000 new objects exceed the threshold (2,000) but not a quarter of the survivors
    // (50,000): no collection yet.
    let before = c.totals().collections;
    let mut kept = Vec::new();
    for i in 0..20_000 {
        kept.push(Node::new(&mut m, i, &drops));
    }
    assert_eq!(
        c.totals().collections,
        before,
        "amortised: no collection below long_lived/4"
    );
    assert!(
        c.count() >= 19_000,
        "the count includes this thread's pending batch"
    );
    // Past a quarter of the survivors, one runs.
    for i in 0..40_000 {
        kept.push(Node::new(&mut m, i, &drops));
    }
    assert!(c.totals().collections > before);
    drop((live, kept));
    m.collect();
}
