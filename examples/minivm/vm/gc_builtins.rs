//! The `gc-` builtins: the collector's API as a Lisp program sees it, after Python's `gc`
//! module.
//!
//! | builtin                | does                                                        |
//! |------------------------|-------------------------------------------------------------|
//! | `(gc-collect)`         | a full collection; returns the number of objects collected; |
//! |                        | then runs the thunks of the guards it finalized             |
//! | `(make-guard f x)`     | a guard holding `x` that runs `(f)` once found garbage       |
//! | `(gc-enable)`          | turns automatic collection on                               |
//! | `(gc-disable)`         | turns it off; returns whether it was on                     |
//! | `(gc-enabled?)`        | whether it is on                                            |
//! | `(gc-threshold)`       | the allocation threshold                                    |
//! | `(gc-set-threshold n)` | sets it (0 turns automatic collection off)                  |
//! | `(gc-count)`           | net new objects since the last collection                   |
//! | `(gc-stats)`           | the last collection's statistics, a dict (`()` before any)  |
//! | `(gc-totals)`          | totals over every collection, a dict                        |
//! | `(gc-freeze)`          | freezes every live object; returns how many                 |
//! | `(gc-unfreeze)`        | unfreezes them; returns how many                            |
//! | `(gc-freeze-count)`    | the number of frozen objects                                |
//! | `(gc-workers)`         | threads a collection's pause runs on                        |
//! | `(gc-set-workers n)`   | sets them (0: one per core)                                 |
//! | `(gc-object-count)`    | tracked objects in the heap (`gc.get_objects()`'s length)   |
//! | `(gc-referrer-count x)`| tracked objects that reference `x` (`gc.get_referrers`)     |
//! | `(gc-referent-count x)`| tracked objects `x` references (`gc.get_referents`)         |
//! | `(gc-tracked? x)`      | whether the collector tracks `x` (`gc.is_tracked`)          |
//! | `(gc-watch)`           | registers a collection callback (`gc.callbacks`), once      |
//! | `(gc-watched)`         | collections the callback has seen stop, and objects freed   |
//! | `(gc-saveall b)`       | keep garbage instead of freeing it (`gc.DEBUG_SAVEALL`)     |
//! | `(gc-take-garbage)`    | lets go of the kept garbage; returns how many objects       |
//!
//! Durations are floats, in milliseconds.

use std::time::Duration;

use std::sync::{Mutex, OnceLock, PoisonError};

use ftgc::{CallbackId, CollectionPhase, Gc, GcAny, GcMutex, Reason, collector};

use super::builtins::{Arity::Exact, Builtin, as_count, b, int, new_dict};
use super::eval::apply;
use super::value::{Guard, PENDING, Value};
use super::{Error, R, Vm};

/// The table, bound at startup with the others.
pub static GC: &[Builtin] = &[
    b("gc-collect", Exact(0), |vm, _| {
        let collected = vm.m.collect().collected;
        // The finalizers queued their guards' thunks; run them now, on this VM thread.
        let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(PoisonError::into_inner));
        for thunk in pending {
            apply(vm, &thunk, &[])?;
        }
        Ok(int(collected))
    }),
    b("make-guard", Exact(2), |vm, a| {
        let guard = Guard {
            thunk: a[0].clone(),
            payload: GcMutex::new(a[1].clone()),
        };
        Ok(Value::Guard(Gc::new_finalized(&mut vm.m, guard)))
    }),
    b("gc-enable", Exact(0), |_, _| {
        collector().enable();
        Ok(Value::Nil)
    }),
    b("gc-disable", Exact(0), |_, _| {
        Ok(Value::Bool(collector().disable()))
    }),
    b("gc-enabled?", Exact(0), |_, _| {
        Ok(Value::Bool(collector().is_enabled()))
    }),
    b("gc-threshold", Exact(0), |_, _| {
        Ok(int(collector().threshold()))
    }),
    b("gc-set-threshold", Exact(1), |_, a| {
        collector().set_threshold(as_count(&a[0])?);
        Ok(Value::Nil)
    }),
    b("gc-count", Exact(0), |_, _| Ok(int(collector().count()))),
    b("gc-stats", Exact(0), stats),
    b("gc-totals", Exact(0), totals),
    b("gc-freeze", Exact(0), |vm, _| Ok(int(vm.m.freeze()))),
    b("gc-unfreeze", Exact(0), |vm, _| Ok(int(vm.m.unfreeze()))),
    b("gc-freeze-count", Exact(0), |vm, _| {
        Ok(int(vm.m.freeze_count()))
    }),
    b("gc-workers", Exact(0), |_, _| {
        Ok(int(collector().workers()))
    }),
    b("gc-set-workers", Exact(1), |_, a| {
        collector().set_workers(as_count(&a[0])?);
        Ok(Value::Nil)
    }),
    b("gc-object-count", Exact(0), |vm, _| {
        Ok(int(vm.m.objects().len()))
    }),
    b("gc-referrer-count", Exact(1), |vm, a| {
        let target = handle(&a[0], "gc-referrer-count")?;
        Ok(int(vm.m.referrers(&[target]).len()))
    }),
    b("gc-referent-count", Exact(1), |vm, a| {
        let target = handle(&a[0], "gc-referent-count")?;
        Ok(int(vm.m.referents(&target).len()))
    }),
    b("gc-tracked?", Exact(1), |_, a| {
        Ok(Value::Bool(
            handle(&a[0], "gc-tracked?").is_ok_and(|h| h.is_tracked()),
        ))
    }),
    b("gc-watch", Exact(0), |_, _| {
        WATCH.get_or_init(|| {
            collector().add_callback(|phase, stats| {
                if phase == CollectionPhase::Stop {
                    let mut seen = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.0 += 1;
                    seen.1 += stats.collected;
                }
            })
        });
        Ok(Value::Nil)
    }),
    b("gc-watched", Exact(0), |vm, _| {
        let (collections, collected) = *WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = vec![
            ("collections", int(collections)),
            ("collected", int(collected)),
        ];
        Ok(new_dict(vm, entries))
    }),
    b("gc-saveall", Exact(1), |_, a| {
        collector().set_debug_saveall(!matches!(a[0], Value::Nil | Value::Bool(false)));
        Ok(Value::Nil)
    }),
    b("gc-take-garbage", Exact(0), |_, _| {
        Ok(int(collector().take_garbage().len()))
    }),
];

/// The callback `(gc-watch)` registered, if it did.
static WATCH: OnceLock<CallbackId> = OnceLock::new();
/// What it saw: collections stopped, objects they freed.
static WATCHED: Mutex<(usize, usize)> = Mutex::new((0, 0));

/// A heap value as a type-erased handle, for the introspection builtins.
fn handle(v: &Value, builtin: &str) -> R<GcAny> {
    Ok(match v {
        Value::Sym(g) => GcAny::from(g.clone()),
        Value::Str(g) => GcAny::from(g.clone()),
        Value::Pair(g) => GcAny::from(g.clone()),
        Value::Vector(g) => GcAny::from(g.clone()),
        Value::Dict(g) => GcAny::from(g.clone()),
        Value::Closure(g) => GcAny::from(g.clone()),
        Value::Thread(g) => GcAny::from(g.clone()),
        Value::Guard(g) => GcAny::from(g.clone()),
        other => {
            return Err(Error::new(format!(
                "{builtin}: a {} is not a heap object",
                other.type_name()
            )));
        }
    })
}

fn ms(d: Duration) -> Value {
    Value::Float(d.as_secs_f64() * 1e3)
}

/// `(gc-stats)`: the last collection's [`ftgc::CollectionStats`], as a dict keyed by symbols.
fn stats(vm: &mut Vm, _: &[Value]) -> R<Value> {
    let Some(s) = collector().last_stats() else {
        return Ok(Value::Nil);
    };
    let reason = match s.reason {
        Reason::Manual => "manual",
        Reason::Allocations => "allocations",
        Reason::MemoryGrowth => "memory-growth",
        Reason::DeferralCap => "deferral-cap",
        Reason::HeapGrowth => "heap-growth",
        Reason::ProbeFailed => "probe-failed",
        Reason::OutOfMemory => "out-of-memory",
    };
    let reason = Value::Sym(vm.intern(reason));
    let entries = vec![
        ("reason", reason),
        ("objects", int(s.objects)),
        ("alive", int(s.alive)),
        ("candidates", int(s.candidates)),
        ("collected", int(s.collected)),
        ("uncollectable", int(s.uncollectable)),
        ("finalized", int(s.finalized)),
        ("passes", int(s.passes)),
        ("workers", int(s.workers)),
        ("prefetch", Value::Bool(s.prefetch)),
        ("stop-ms", ms(s.stop_time)),
        ("pause-ms", ms(s.pause)),
        ("walk-ms", ms(s.walk)),
        ("mark-alive-ms", ms(s.mark_alive)),
        ("update-refs-ms", ms(s.update_refs)),
        ("mark-reachable-ms", ms(s.mark_reachable)),
        ("scan-ms", ms(s.scan)),
        ("destroy-ms", ms(s.destroy)),
        ("total-ms", ms(s.total)),
    ];
    Ok(new_dict(vm, entries))
}

/// `(gc-totals)`: [`ftgc::Totals`], as a dict keyed by symbols.
fn totals(vm: &mut Vm, _: &[Value]) -> R<Value> {
    let t = collector().totals();
    let entries = vec![
        ("collections", int(t.collections)),
        ("collected", int(t.collected)),
        ("pause-ms", ms(t.pause)),
        ("max-pause-ms", ms(t.max_pause)),
        ("deferrals", int(t.deferrals)),
    ];
    Ok(new_dict(vm, entries))
}
