//! The allocation-count trigger. Alone in its binary: it changes the global threshold.

mod common;

use common::{Drops, Node, ring, serial};
use ftgc::{DEFAULT_THRESHOLD, MemoryProbe, Mutator, OsProbe, Reason, TriggerConfig, TriggerMode};

#[test]
fn garbage_cycles_are_collected_without_an_explicit_collect() {
    let _g = serial();
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
    assert_ne!(c.last_stats().unwrap().reason, ftgc::Reason::Manual);
}

#[test]
fn disabled_or_zero_threshold_means_no_automatic_collection() {
    let _g = serial();
    let c = ftgc::collector();
    let mut m = Mutator::new();
    let drops = Drops::new();
    for setting in ["disabled", "threshold 0"] {
        match setting {
            "disabled" => {
                c.enable();
                assert!(c.disable(), "disable reports that collection was on");
                assert!(!c.disable() && !c.is_enabled());
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
    let _g = serial();
    let c = ftgc::collector();
    c.set_threshold(DEFAULT_THRESHOLD);
    c.enable();
    // The count rule alone: under the memory rule, 60,000 small objects are well under 10 % of
    // this process's memory, and the collection would (rightly) be deferred.
    c.set_trigger(TriggerConfig {
        mode: TriggerMode::Count,
        ..TriggerConfig::default()
    });
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
    c.set_trigger(TriggerConfig::default());
    drop((live, kept));
    m.collect();
}

/// A probe that reports a fixed reading (or fails).
struct FixedProbe(Option<u64>);

impl MemoryProbe for FixedProbe {
    fn process_memory(&self) -> Option<u64> {
        self.0
    }
}

/// Runs `f` with the given trigger and probe (after one collection, so that the probe's reading
/// is the baseline), restoring the defaults afterwards.
fn with_trigger(
    m: &mut Mutator,
    config: TriggerConfig,
    probe: Option<u64>,
    f: impl FnOnce(&mut Mutator),
) {
    let c = ftgc::collector();
    c.set_threshold(DEFAULT_THRESHOLD);
    c.enable();
    c.set_trigger(config);
    c.set_memory_probe(Box::new(FixedProbe(probe)));
    m.collect();
    f(m);
    c.set_trigger(TriggerConfig::default());
    c.set_memory_probe(Box::new(OsProbe));
}

/// Makes `pairs` two-node garbage cycles; returns the largest number of garbage objects that
/// were ever waiting (allocated, not yet freed) and the reasons of the collections that ran.
fn garbage_loop(m: &mut Mutator, pairs: usize) -> (usize, Vec<Reason>) {
    let c = ftgc::collector();
    let drops = Drops::new();
    let mut worst = 0;
    let mut reasons = Vec::new();
    let mut seen = c.totals().collections;
    for i in 0..pairs {
        drop(ring(m, 2, &drops));
        worst = worst.max(2 * (i + 1) - drops.get());
        let now = c.totals().collections;
        if now != seen {
            seen = now;
            reasons.push(c.last_stats().unwrap().reason);
        }
    }
    m.collect();
    assert_eq!(drops.get(), 2 * pairs);
    (worst, reasons)
}

#[test]
fn count_only_mode_collects_by_count() {
    let _g = serial();
    let mut m = Mutator::new();
    let config = TriggerConfig {
        mode: TriggerMode::Count,
        ..TriggerConfig::default()
    };
    with_trigger(&mut m, config, Some(1 << 30), |m| {
        let (_, reasons) = garbage_loop(m, 20_000);
        assert!(!reasons.is_empty());
        assert!(
            reasons.iter().all(|&r| r == Reason::Allocations),
            "{reasons:?}"
        );
    });
}

#[test]
fn flat_memory_defers_but_garbage_cycles_are_still_collected_in_bounded_time() {
    // gh-148937: freed pages are reused by new garbage, so process memory stays flat. The
    // memory rule defers, and the GC heap's own growth (or the deferral cap) still forces
    // collections, so waiting garbage stays bounded.
    let _g = serial();
    let mut m = Mutator::new();
    let before = ftgc::collector().totals().deferrals;
    with_trigger(&mut m, TriggerConfig::default(), Some(100 << 20), |m| {
        let (worst, reasons) = garbage_loop(m, 200_000);
        assert!(
            ftgc::collector().totals().deferrals > before,
            "flat memory deferred some"
        );
        assert!(reasons.len() >= 3, "collections still ran: {reasons:?}");
        assert!(
            reasons
                .iter()
                .all(|&r| matches!(r, Reason::HeapGrowth | Reason::DeferralCap)),
            "{reasons:?}"
        );
        assert!(
            worst <= 100_000,
            "waiting garbage bounded: at most {worst} objects"
        );
    });
}

#[test]
fn a_failing_probe_collects() {
    let _g = serial();
    let mut m = Mutator::new();
    with_trigger(&mut m, TriggerConfig::default(), None, |m| {
        let (_, reasons) = garbage_loop(m, 20_000);
        assert!(reasons.contains(&Reason::ProbeFailed), "{reasons:?}");
    });
}
