//! The harness shared by the loom models: run a model with the environment's bounds and
//! report its iteration count.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::time::Instant;

use loom::model::Builder;

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set (the value `.ci/run` sets).
pub const DEFAULT_PREEMPTIONS: usize = 3;

/// Runs `model` under loom with the environment's bounds (preemptions defaulting to
/// [`DEFAULT_PREEMPTIONS`]), prints its iteration count and time, and returns the count.
/// If loom fails the model, prints the iteration it failed in and lets the panic go on.
pub fn check(name: &str, model: impl Fn() + Send + Sync + 'static) -> usize {
    check_bounded(name, None, model)
}

/// [`check`], with the preemption bound set to `bound` whatever the environment says.
pub fn check_bounded(
    name: &str,
    bound: Option<usize>,
    model: impl Fn() + Send + Sync + 'static,
) -> usize {
    /// Prints the line for `name` when dropped, by a return or by loom's panic.
    struct Report<'a> {
        name: &'a str,
        bound: Option<usize>,
        start: Instant,
        iterations: std::sync::Arc<StdAtomicUsize>,
    }
    impl Drop for Report<'_> {
        fn drop(&mut self) {
            let n = self.iterations.load(StdOrdering::Relaxed);
            let outcome = if std::thread::panicking() {
                format!("FAILED in iteration {n}")
            } else {
                format!("{n} iterations")
            };
            println!(
                "loom model {}: {outcome} in {:.2?} (preemption bound {:?})",
                self.name,
                self.start.elapsed(),
                self.bound
            );
        }
    }

    let mut builder = Builder::new();
    // Spinning workers (the termination models) take long paths: loom's default of 1,000
    // branches cuts off legitimate executions of three of them.
    builder.max_branches = builder.max_branches.max(20_000);
    builder.preemption_bound = bound
        .or(builder.preemption_bound)
        .or(Some(DEFAULT_PREEMPTIONS));
    let report = Report {
        name,
        bound: builder.preemption_bound,
        start: Instant::now(),
        iterations: std::sync::Arc::new(StdAtomicUsize::new(0)),
    };
    let counter = report.iterations.clone();
    builder.check(move || {
        counter.fetch_add(1, StdOrdering::Relaxed);
        model();
    });
    report.iterations.load(StdOrdering::Relaxed)
}

/// Runs `model`, in which the caller planted a bug, at the bound CI uses (whatever the
/// environment says); asserts that loom fails it and returns its message for the caller to
/// check.
pub fn caught(name: &str, model: impl Fn() + Send + Sync + 'static) -> String {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_bounded(name, Some(DEFAULT_PREEMPTIONS), model)
    }));
    let payload = match result {
        Ok(n) => panic!("loom explored {n} executions of {name} and found nothing"),
        Err(p) => p,
    };
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    println!("loom model {name}: caught as expected: {msg}");
    msg
}

/// [`caught`], asserting that the message contains `expected`.
pub fn expect_caught(name: &str, expected: &str, model: impl Fn() + Send + Sync + 'static) {
    let msg = caught(name, model);
    assert!(
        msg.contains(expected),
        "{name}: failed, but not with {expected:?}: {msg:?}"
    );
}
