//! When to collect: CPython's count rule, optionally gated by process memory, with bounded
//! deferral.
//!
//! **Count rule** (always): a collection is due when the net number of new GC-heap objects
//! since the last collection exceeds the threshold (2000) and is at least a quarter of the
//! objects that survived it.
//!
//! **Memory rule** ([`TriggerMode::Memory`], CPython 3.14): when the count rule fires, read the
//! process memory (RSS + swap); collect only if it grew by more than `max(10 %, 128 KiB)` since
//! the end of the last collection, else *defer*. CPython 3.14 shipped this and main removed it
//! (gh-148937): mimalloc keeps freed pages, so after garbage is freed RSS stays flat while new
//! garbage cycles reuse the pages, and the rule defers until memory balloons. Here deferral is
//! bounded twice:
//!
//! * by a cap on deferred new objects (40 × threshold, CPython's);
//! * by the GC heap's own growth in bytes, which ftgc counts exactly (every GC-heap allocation
//!   and free): garbage cycles that reuse freed pages do not grow RSS but do grow the heap's
//!   live bytes until collected, so they are collected in bounded time.
//!
//! A probe that fails collects (never "never collect"). The probe is read only when the count
//! rule fires, never per allocation.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which rule decides that a collection is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TriggerMode {
    /// CPython's count rule alone.
    Count,
    /// The count rule, then the process-memory rule with bounded deferral (the default).
    #[default]
    Memory,
}

/// Reads the process's memory use.
pub trait MemoryProbe: Send + Sync {
    /// Resident set plus swap, in bytes; `None` if it cannot be read.
    fn process_memory(&self) -> Option<u64>;
}

/// The operating system's view: on Linux `VmRSS + VmSwap` from `/proc/self/status` (about
/// 11 µs; `mimalloc-v3-notes.md` §4); elsewhere [`SysinfoProbe`].
#[derive(Debug, Default)]
pub struct OsProbe;

impl MemoryProbe for OsProbe {
    #[cfg(target_os = "linux")]
    fn process_memory(&self) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        };
        Some((field("VmRSS:")? + field("VmSwap:").unwrap_or(0)) * 1024)
    }

    #[cfg(not(target_os = "linux"))]
    fn process_memory(&self) -> Option<u64> {
        SysinfoProbe::default().process_memory()
    }
}

/// The resident set as `sysinfo` reports it (any OS; the only source on macOS and Windows).
/// `sysinfo` has no per-process swap, so this is RSS alone; on Windows it adds the commit
/// charge beyond the working set when larger (`PrivateUsage`, the pagefile-backed part).
#[derive(Default)]
pub struct SysinfoProbe {
    system: std::sync::Mutex<Option<sysinfo::System>>,
}

impl std::fmt::Debug for SysinfoProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SysinfoProbe")
    }
}

impl MemoryProbe for SysinfoProbe {
    fn process_memory(&self) -> Option<u64> {
        use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
        let pid = sysinfo::get_current_pid().ok()?;
        let mut guard = self.system.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(System::new().ok()?); // sysinfo 0.40: `new` is fallible
        }
        let system = guard.as_mut()?;
        let kind = ProcessRefreshKind::nothing().with_memory().without_tasks();
        system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, kind);
        let p = system.process(pid)?;
        let rss = p.memory();
        Some(if cfg!(windows) {
            rss.max(p.virtual_memory())
        } else {
            rss
        })
    }
}

/// Tuning of the memory rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TriggerConfig {
    /// Which rule.
    pub mode: TriggerMode,
    /// Collect if process memory grew by more than this fraction since the last collection
    /// (CPython: 0.10)...
    pub memory_growth: f64,
    /// ...and by more than this many bytes (CPython: 128 KiB): the growth must exceed
    /// `max(memory_growth × last, memory_growth_min)`, CPython's `max(last_mem / 10, 128)`.
    pub memory_growth_min: u64,
    /// Collect anyway once this many new objects were deferred (CPython: 40 × threshold;
    /// 0 means 40 × the current threshold).
    pub deferred_cap: usize,
    /// Collect anyway once the GC heap grew by more than this fraction of its size after the
    /// last collection (and by at least `memory_growth_min` bytes).
    pub heap_growth: f64,
}

impl TriggerConfig {
    /// The defaults: memory-aware, CPython's bounds, deferral capped at a doubled GC heap.
    pub const DEFAULT: TriggerConfig = TriggerConfig {
        mode: TriggerMode::Memory,
        memory_growth: 0.10,
        memory_growth_min: 128 * 1024,
        deferred_cap: 0,
        heap_growth: 1.0,
    };
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig::DEFAULT
    }
}

/// Why a collection ran, or why none did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The count rule says no.
    NotDue,
    /// Due by count, deferred by the memory rule.
    Defer,
    /// Collect, for this reason.
    Collect(crate::Reason),
}

/// The inputs of one decision (a snapshot; pure data so the rule can be tested).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inputs {
    pub(crate) count: usize,
    pub(crate) threshold: usize,
    pub(crate) long_lived: usize,
    pub(crate) deferred: usize,
    /// Process memory after the last collection (`None`: unknown).
    pub(crate) last_memory: Option<u64>,
    /// GC-heap bytes now and after the last collection.
    pub(crate) heap_bytes: u64,
    pub(crate) heap_bytes_after_last: u64,
}

/// The rule. `probe` is called only when the count rule fires.
pub(crate) fn decide(
    c: &TriggerConfig,
    i: Inputs,
    probe: impl FnOnce() -> Option<u64>,
) -> Decision {
    use crate::Reason;
    if i.threshold == 0 || i.count <= i.threshold || i.count < i.long_lived / 4 {
        return Decision::NotDue;
    }
    if c.mode == TriggerMode::Count {
        return Decision::Collect(Reason::Allocations);
    }
    let cap = if c.deferred_cap == 0 {
        40 * i.threshold
    } else {
        c.deferred_cap
    };
    if i.deferred + i.count > cap {
        return Decision::Collect(Reason::DeferralCap);
    }
    let heap_growth = i.heap_bytes.saturating_sub(i.heap_bytes_after_last);
    if heap_growth > c.memory_growth_min
        && heap_growth as f64 > c.heap_growth * i.heap_bytes_after_last as f64
    {
        return Decision::Collect(Reason::HeapGrowth);
    }
    let Some(now) = probe() else {
        return Decision::Collect(Reason::ProbeFailed);
    };
    let Some(last) = i.last_memory else {
        return Decision::Collect(Reason::MemoryGrowth);
    };
    let growth = now.saturating_sub(last);
    if growth > c.memory_growth_min && growth as f64 > c.memory_growth * last as f64 {
        Decision::Collect(Reason::MemoryGrowth)
    } else {
        Decision::Defer
    }
}

/// Trigger state kept by the collector between decisions.
pub(crate) struct TriggerState {
    /// Process memory read after the last collection (`u64::MAX`: unknown).
    pub(crate) last_memory: AtomicU64,
    /// New objects deferred since the last collection.
    pub(crate) deferred: AtomicU64,
    /// GC-heap bytes after the last collection.
    pub(crate) heap_bytes_after_last: AtomicU64,
}

impl TriggerState {
    pub(crate) const fn new() -> TriggerState {
        TriggerState {
            last_memory: AtomicU64::new(u64::MAX),
            deferred: AtomicU64::new(0),
            heap_bytes_after_last: AtomicU64::new(0),
        }
    }

    pub(crate) fn last_memory(&self) -> Option<u64> {
        // Ordering (this struct): Relaxed; heuristics read and written under no lock.
        let v = self.last_memory.load(Ordering::Relaxed);
        (v != u64::MAX).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;

    fn inputs() -> Inputs {
        Inputs {
            count: 5000,
            threshold: 2000,
            long_lived: 10_000,
            deferred: 0,
            last_memory: Some(100 << 20),
            heap_bytes: 10 << 20,
            heap_bytes_after_last: 10 << 20,
        }
    }

    #[test]
    fn the_count_rule_comes_first() {
        let c = TriggerConfig::default();
        let i = Inputs {
            count: 1999,
            ..inputs()
        };
        assert_eq!(
            decide(&c, i, || panic!("probe read although not due")),
            Decision::NotDue
        );
        let i = Inputs {
            count: 3000,
            long_lived: 100_000,
            ..inputs()
        };
        assert_eq!(
            decide(&c, i, || panic!("probe read although not due")),
            Decision::NotDue
        );
        let count_only = TriggerConfig {
            mode: TriggerMode::Count,
            ..c
        };
        assert_eq!(
            decide(&count_only, inputs(), || None),
            Decision::Collect(Reason::Allocations)
        );
    }

    #[test]
    fn memory_growth_collects_and_flat_memory_defers() {
        let c = TriggerConfig::default();
        assert_eq!(
            decide(&c, inputs(), || Some(120 << 20)),
            Decision::Collect(Reason::MemoryGrowth)
        );
        assert_eq!(decide(&c, inputs(), || Some(100 << 20)), Decision::Defer);
        // The growth must exceed max(10 %, 128 KiB), CPython's `max(last_mem / 10, 128)`:
        // 256 KiB on 100 MiB is over the floor but under 10 %...
        assert_eq!(
            decide(&c, inputs(), || Some((100 << 20) + 256 * 1024)),
            Decision::Defer
        );
        // ...100 KiB on 512 KiB is over 10 % but under the floor...
        let small = Inputs {
            last_memory: Some(512 << 10),
            ..inputs()
        };
        assert_eq!(
            decide(&c, small, || Some((512 << 10) + 100 * 1024)),
            Decision::Defer
        );
        // ...and 256 KiB on 1 MiB is over both.
        let small = Inputs {
            last_memory: Some(1 << 20),
            ..inputs()
        };
        assert_eq!(
            decide(&c, small, || Some((1 << 20) + 256 * 1024)),
            Decision::Collect(Reason::MemoryGrowth)
        );
    }

    #[test]
    fn a_failing_probe_collects() {
        let c = TriggerConfig::default();
        assert_eq!(
            decide(&c, inputs(), || None),
            Decision::Collect(Reason::ProbeFailed)
        );
    }

    #[test]
    fn deferral_is_capped_by_deferred_objects() {
        let c = TriggerConfig::default();
        // (count must also pass the count rule: > threshold and >= long_lived / 4)
        let i = Inputs {
            deferred: 79_000,
            count: 3000,
            ..inputs()
        };
        assert_eq!(
            decide(&c, i, || Some(100 << 20)),
            Decision::Collect(Reason::DeferralCap)
        );
        let i = Inputs {
            deferred: 70_000,
            ..inputs()
        };
        assert_eq!(decide(&c, i, || Some(100 << 20)), Decision::Defer);
    }

    #[test]
    fn deferral_is_capped_by_the_gc_heaps_own_growth() {
        // gh-148937: RSS flat (freed pages reused by new garbage), but the GC heap doubled.
        let c = TriggerConfig::default();
        let i = Inputs {
            heap_bytes: 21 << 20,
            ..inputs()
        };
        assert_eq!(
            decide(&c, i, || Some(100 << 20)),
            Decision::Collect(Reason::HeapGrowth)
        );
        let i = Inputs {
            heap_bytes: 15 << 20,
            ..inputs()
        };
        assert_eq!(decide(&c, i, || Some(100 << 20)), Decision::Defer);
    }

    #[test]
    fn the_os_probe_reads_something_plausible() {
        let m = OsProbe
            .process_memory()
            .expect("readable on the test platform");
        assert!(m > 1 << 20 && m < 1 << 40, "{m}");
        let s = SysinfoProbe::default().process_memory().expect("readable");
        assert!(s > 1 << 20, "{s}");
    }
}
