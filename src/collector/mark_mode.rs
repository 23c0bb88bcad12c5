//! Choosing how a big heap is marked: depth-first, or through the prefetch buffer.
//!
//! Which one is faster depends on how the heap lies in memory and on the machine, not on its
//! size alone. On the benchmark machine the buffer marks a B-tree whose records are scattered
//! in 0.8× the time of depth-first, but a tree or lists laid out in allocation order in
//! 1.05–1.5× (`docs/benchmarks.md`, "roots"): there the hardware prefetcher already brings
//! each object's children, which sit next to each other, while the ring only reorders the
//! work, and every back-edge goes through it.
//!
//! So, above a non-zero [`Collector::set_prefetch_threshold`] (0 forces the buffer, unmeasured),
//! the collector measures: it marks once in
//! each mode, then keeps the one with the lower cost per object, and measures the other again
//! every [`RECHECK_EVERY`] passes (the heap's layout drifts as the program runs). A cost is
//! the lower of the mode's last two samples (noise on a shared machine only adds time), and
//! counts only for a heap within a factor of two of the one it was measured on, and for the
//! same number of workers. A sample more than [`CHANGED`] times above or below its mode's
//! cost means that the heap is no longer the one measured (a program moves to another phase,
//! or a benchmark to another graph of the same size): both modes are measured afresh.
//!
//! [`Collector::set_prefetch_threshold`]: crate::Collector::set_prefetch_threshold

use std::time::Duration;

/// With both modes measured, the one not chosen is measured again once every this many passes.
pub(super) const RECHECK_EVERY: u32 = 8;

/// A sample this many times above or below its mode's cost starts the measuring over.
const CHANGED: f64 = 2.0;

/// At most this many worker counts are remembered (the oldest is forgotten).
const TEAMS: usize = 8;

/// The marking costs measured so far, by number of workers. Used under the collection lock.
pub(super) struct MarkModes {
    teams: Vec<Costs>,
}

/// What was measured with one number of workers.
struct Costs {
    workers: usize,
    /// The last two samples of each mode, newest first: `[depth-first, prefetch]`.
    samples: [[Option<Sample>; 2]; 2],
    /// Passes since the mode not chosen was last measured.
    since_recheck: u32,
}

/// One pass's marking cost.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Objects the pass's marking phases went over (alive ones and candidates).
    objects: usize,
    ns_per_object: f64,
}

impl MarkModes {
    pub(super) const fn new() -> MarkModes {
        MarkModes { teams: Vec::new() }
    }

    /// Whether a pass with `workers` over a heap of about `objects` should mark through the
    /// prefetch buffer.
    pub(super) fn choose(&mut self, workers: usize, objects: usize) -> bool {
        let costs = self.costs(workers);
        let [depth_first, prefetch] = [0, 1].map(|mode| costs.cost(mode, objects));
        match (depth_first, prefetch) {
            // Unmeasured: the buffer first (CPython's choice for big heaps), then depth-first.
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(depth_first), Some(prefetch)) => {
                let best = prefetch < depth_first;
                costs.since_recheck += 1;
                if costs.since_recheck >= RECHECK_EVERY {
                    costs.since_recheck = 0;
                    !best
                } else {
                    best
                }
            }
        }
    }

    /// Records a pass's marking: `objects` gone over in `time` (both marking phases), with
    /// `workers`, through the buffer or not.
    pub(super) fn record(
        &mut self,
        workers: usize,
        prefetch: bool,
        objects: usize,
        time: Duration,
    ) {
        if objects == 0 {
            return;
        }
        let sample = Sample {
            objects,
            ns_per_object: time.as_nanos() as f64 / objects as f64,
        };
        let costs = self.costs(workers);
        let mode = usize::from(prefetch);
        if let Some(cost) = costs.cost(mode, objects) {
            let ratio = sample.ns_per_object / cost;
            if !(1.0 / CHANGED..=CHANGED).contains(&ratio) {
                // Another heap: nothing measured so far applies to it.
                costs.samples = [[None; 2]; 2];
                costs.since_recheck = 0;
                return;
            }
        }
        let samples = &mut costs.samples[mode];
        *samples = [Some(sample), samples[0]];
    }

    /// The entry for `workers`, made if missing.
    fn costs(&mut self, workers: usize) -> &mut Costs {
        let i = match self.teams.iter().position(|c| c.workers == workers) {
            Some(i) => i,
            None => {
                if self.teams.len() == TEAMS {
                    self.teams.remove(0);
                }
                self.teams.push(Costs {
                    workers,
                    samples: [[None; 2]; 2],
                    since_recheck: 0,
                });
                self.teams.len() - 1
            }
        };
        &mut self.teams[i]
    }
}

impl Costs {
    /// The cost of `mode` on a heap of about `objects`: the lower of its samples taken on a
    /// heap within a factor of two of it; `None` if there is none.
    fn cost(&self, mode: usize, objects: usize) -> Option<f64> {
        let comparable = |s: &Sample| objects <= 2 * s.objects && s.objects <= 2 * objects;
        self.samples[mode]
            .iter()
            .flatten()
            .filter(|s| comparable(s))
            .map(|s| s.ns_per_object)
            .reduce(f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 1_000_000;

    fn ns(ns_per_object: u64) -> Duration {
        Duration::from_nanos(ns_per_object * N as u64)
    }

    /// Runs `passes` passes of 1 worker over `N` objects, each mode costing what `cost` says;
    /// returns the modes chosen.
    fn run(modes: &mut MarkModes, passes: usize, cost: impl Fn(bool) -> u64) -> Vec<bool> {
        (0..passes)
            .map(|_| {
                let prefetch = modes.choose(1, N);
                modes.record(1, prefetch, N, ns(cost(prefetch)));
                prefetch
            })
            .collect()
    }

    #[test]
    fn measures_both_then_keeps_the_faster_and_rechecks_the_other() {
        let mut modes = MarkModes::new();
        let chosen = run(&mut modes, 2 + 2 * RECHECK_EVERY as usize, |p| {
            if p { 16 } else { 9 }
        });
        let mut expected = vec![true, false];
        for _ in 0..2 {
            expected.extend([false; RECHECK_EVERY as usize - 1]);
            expected.push(true); // the recheck
        }
        assert_eq!(chosen, expected);

        let mut modes = MarkModes::new();
        let chosen = run(&mut modes, 4, |p| if p { 8 } else { 12 });
        assert_eq!(chosen, [true, false, true, true]);
    }

    #[test]
    fn follows_a_drift_of_the_costs() {
        // The mode chosen grows slower: after two slow samples the other is chosen.
        let mut modes = MarkModes::new();
        run(&mut modes, 2, |p| if p { 16 } else { 9 });
        let chosen = run(&mut modes, 4, |p| if p { 16 } else { 17 });
        assert_eq!(chosen, [false, false, true, true]);

        // The mode not chosen grows faster: found at the next recheck.
        let mut modes = MarkModes::new();
        run(&mut modes, 2, |p| if p { 16 } else { 9 });
        let chosen = run(&mut modes, RECHECK_EVERY as usize + 2, |p| {
            if p { 8 } else { 9 }
        });
        let recheck = RECHECK_EVERY as usize - 1;
        assert_eq!(chosen[..recheck], [false; RECHECK_EVERY as usize - 1]);
        assert_eq!(chosen[recheck..], [true; 3]);
    }

    #[test]
    fn a_heap_that_changes_character_is_measured_afresh() {
        let mut modes = MarkModes::new();
        run(&mut modes, 3, |p| if p { 16 } else { 9 });
        // Depth-first suddenly costs more than twice as much: both modes are measured again,
        // and the buffer, now the faster, is kept.
        let chosen = run(&mut modes, 5, |p| if p { 7 } else { 30 });
        assert_eq!(chosen, [false, true, false, true, true]);
    }

    #[test]
    fn one_slow_sample_does_not_flip_the_choice() {
        let mut modes = MarkModes::new();
        run(&mut modes, 3, |p| if p { 16 } else { 9 });
        // Interference makes one depth-first pass slower (by less than `CHANGED`); the
        // previous sample still counts.
        modes.record(1, false, N, ns(17));
        assert!(!modes.choose(1, N));
    }

    #[test]
    fn samples_count_only_for_a_similar_heap_and_the_same_workers() {
        let mut modes = MarkModes::new();
        run(&mut modes, 2, |p| if p { 16 } else { 9 });
        assert!(!modes.choose(1, N));
        // A heap four times as big, or 2 workers: measured afresh, the buffer first.
        assert!(modes.choose(1, 4 * N));
        assert!(modes.choose(2, N));
        // The 1-worker costs are still there.
        assert!(!modes.choose(1, N));
    }

    #[test]
    fn remembers_a_bounded_number_of_worker_counts() {
        let mut modes = MarkModes::new();
        for workers in 1..=3 * TEAMS {
            modes.record(workers, true, N, ns(1));
        }
        assert_eq!(modes.teams.len(), TEAMS);
    }
}
