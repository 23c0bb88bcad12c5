//! The builtin functions, in tables.
//!
//! A builtin is a name, an arity and a plain function of the VM and its arguments. Every
//! table in [`TABLES`] is bound into the global environment at startup, so adding a family of
//! builtins is adding a table (see `gc_builtins` for one). Builtins that block (joining a
//! thread, sleeping, writing output) run the blocking part in `m.detached(...)`, so that they
//! never hold up a collection.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use ftgc::{Gc, GcMutex, Mutator};

use super::eval::apply;
use super::value::{self, Dict, Pair, ThreadObj, Value, Vector};
use super::{Error, R, VM_STACK_SIZE, Vm};

/// A builtin function.
pub struct Builtin {
    /// Its global name.
    pub name: &'static str,
    /// The argument counts it accepts (checked before it is called).
    pub arity: Arity,
    /// The function.
    pub f: fn(&mut Vm, &[Value]) -> R<Value>,
}

/// The argument counts a builtin accepts.
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// This many or more.
    AtLeast(usize),
    /// Between these, inclusive.
    Range(usize, usize),
}

impl Builtin {
    /// Whether `n` arguments are acceptable.
    pub fn check_arity(&self, n: usize) -> R<()> {
        let ok = match self.arity {
            Arity::Exact(k) => n == k,
            Arity::AtLeast(k) => n >= k,
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
        };
        if ok {
            return Ok(());
        }
        let expected = match self.arity {
            Arity::Exact(k) => format!("{k}"),
            Arity::AtLeast(k) => format!("at least {k}"),
            Arity::Range(lo, hi) => format!("{lo} to {hi}"),
        };
        err(format!("expected {expected} arguments, got {n}"))
    }
}

/// Every table of builtins, bound at startup.
pub static TABLES: &[&[Builtin]] = &[
    NUMBERS,
    PREDICATES,
    LISTS,
    VECTORS,
    DICTS,
    STRINGS,
    SYSTEM,
    THREADS,
    super::gc_builtins::GC,
];

use Arity::{AtLeast, Exact, Range};

/// Shorthand for a table entry.
pub(super) const fn b(
    name: &'static str,
    arity: Arity,
    f: fn(&mut Vm, &[Value]) -> R<Value>,
) -> Builtin {
    Builtin { name, arity, f }
}

fn err<T>(message: impl Into<String>) -> R<T> {
    Err(Error::new(message))
}

fn type_error<T>(expected: &str, got: &Value) -> R<T> {
    err(format!("expected {expected}, got {}", got.type_name()))
}

/// An integer value from a count (saturating at `i64::MAX`).
pub fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

fn as_int(v: &Value) -> R<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => type_error("an integer", other),
    }
}

/// A non-negative integer, as a count or an index.
pub(super) fn as_count(v: &Value) -> R<usize> {
    usize::try_from(as_int(v)?).or_else(|_| err("expected a non-negative integer"))
}

fn as_pair<'a>(v: &'a Value, m: &'a Mutator) -> R<&'a Pair> {
    match v {
        Value::Pair(p) => Ok(p.get(m)),
        other => type_error("a pair", other),
    }
}

fn as_vector<'a>(v: &'a Value, m: &'a Mutator) -> R<&'a Vector> {
    match v {
        Value::Vector(items) => Ok(items.get(m)),
        other => type_error("a vector", other),
    }
}

fn as_dict<'a>(v: &'a Value, m: &'a Mutator) -> R<&'a Dict> {
    match v {
        Value::Dict(d) => Ok(d.get(m)),
        other => type_error("a dict", other),
    }
}

fn as_str<'a>(v: &'a Value, m: &'a Mutator) -> R<&'a str> {
    match v {
        Value::Str(s) => Ok(s.get(m)),
        other => type_error("a string", other),
    }
}

/// The elements of proper list `list`.
pub fn list_items(list: &Value, m: &Mutator) -> R<Vec<Value>> {
    let mut items = Vec::new();
    let mut cur = list;
    loop {
        match cur {
            Value::Nil => return Ok(items),
            Value::Pair(p) => {
                let p = p.get(m);
                items.push(p.car.clone());
                cur = &p.cdr;
            }
            _ => return err("expected a proper list"),
        }
    }
}

// ---- numbers ----------------------------------------------------------------------------

static NUMBERS: &[Builtin] = &[
    b("+", AtLeast(0), |_, a| {
        arith(a, 0, i64::checked_add, |x, y| x + y)
    }),
    b("*", AtLeast(0), |_, a| {
        arith(a, 1, i64::checked_mul, |x, y| x * y)
    }),
    b("-", AtLeast(1), |_, a| match a {
        [x] => arith(&[Value::Int(0), x.clone()], 0, i64::checked_sub, |x, y| {
            x - y
        }),
        _ => arith(a, 0, i64::checked_sub, |x, y| x - y),
    }),
    b("/", AtLeast(2), |_, a| {
        if a[1..].iter().any(|v| matches!(v, Value::Int(0))) {
            return err("division by zero");
        }
        let exact = |x: i64, y: i64| x.checked_rem(y).filter(|r| *r == 0).and(x.checked_div(y));
        match arith(a, 1, exact, |x, y| x / y) {
            Ok(v) => Ok(v),
            // Inexact division of integers: go through floats.
            Err(_) => arith(
                &a.iter()
                    .map(|v| Ok(Value::Float(as_f64(v)?)))
                    .collect::<R<Vec<_>>>()?,
                1,
                |_, _| None,
                |x, y| x / y,
            ),
        }
    }),
    b("quotient", Exact(2), |_, a| int_op(a, i64::checked_div)),
    b("remainder", Exact(2), |_, a| int_op(a, i64::checked_rem)),
    b("modulo", Exact(2), |_, a| {
        int_op(a, |x, y| {
            x.checked_rem(y).map(|r| {
                if r != 0 && (r < 0) != (y < 0) {
                    r + y
                } else {
                    r
                }
            })
        })
    }),
    b("=", AtLeast(1), |_, a| compare(a, |o| o.is_eq())),
    b("<", AtLeast(1), |_, a| compare(a, |o| o.is_lt())),
    b(">", AtLeast(1), |_, a| compare(a, |o| o.is_gt())),
    b("<=", AtLeast(1), |_, a| compare(a, |o| o.is_le())),
    b(">=", AtLeast(1), |_, a| compare(a, |o| o.is_ge())),
    b("min", AtLeast(1), |_, a| extremum(a, |o| o.is_lt())),
    b("max", AtLeast(1), |_, a| extremum(a, |o| o.is_gt())),
    b("abs", Exact(1), |_, a| match &a[0] {
        Value::Int(i) => i.checked_abs().map(Value::Int).ok_or_else(overflow),
        Value::Float(f) => Ok(Value::Float(f.abs())),
        other => type_error("a number", other),
    }),
];

fn overflow() -> Error {
    Error::new("integer overflow")
}

fn as_f64(v: &Value) -> R<f64> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        other => type_error("a number", other),
    }
}

/// Folds `args` with the integer operation while every operand is an integer, with the float
/// one from the first float on.
fn arith(
    args: &[Value],
    unit: i64,
    int_op: fn(i64, i64) -> Option<i64>,
    float_op: fn(f64, f64) -> f64,
) -> R<Value> {
    let (first, rest) = match args.split_first() {
        Some((first, rest)) => (first.clone(), rest),
        None => return Ok(Value::Int(unit)),
    };
    let mut acc = first;
    for v in rest {
        acc = match (&acc, v) {
            (Value::Int(x), Value::Int(y)) => Value::Int(int_op(*x, *y).ok_or_else(overflow)?),
            (x, y) => Value::Float(float_op(as_f64(x)?, as_f64(y)?)),
        };
    }
    as_f64(&acc)?; // a lone operand must be a number too
    Ok(acc)
}

fn int_op(args: &[Value], op: fn(i64, i64) -> Option<i64>) -> R<Value> {
    let (x, y) = (as_int(&args[0])?, as_int(&args[1])?);
    if y == 0 {
        return err("division by zero");
    }
    op(x, y).map(Value::Int).ok_or_else(overflow)
}

fn cmp(x: &Value, y: &Value) -> R<std::cmp::Ordering> {
    match (x, y) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        _ => as_f64(x)?
            .partial_cmp(&as_f64(y)?)
            .ok_or_else(|| Error::new("cannot compare NaN")),
    }
}

fn compare(args: &[Value], ok: fn(std::cmp::Ordering) -> bool) -> R<Value> {
    for w in args.windows(2) {
        if !ok(cmp(&w[0], &w[1])?) {
            return Ok(Value::Bool(false));
        }
    }
    as_f64(&args[0])?;
    Ok(Value::Bool(true))
}

fn extremum(args: &[Value], better: fn(std::cmp::Ordering) -> bool) -> R<Value> {
    let mut best = &args[0];
    for v in &args[1..] {
        if better(cmp(v, best)?) {
            best = v;
        }
    }
    as_f64(best)?;
    Ok(best.clone())
}

// ---- predicates and equality ------------------------------------------------------------

static PREDICATES: &[Builtin] = &[
    b("eq?", Exact(2), |_, a| Ok(Value::Bool(a[0].is(&a[1])))),
    b("equal?", Exact(2), |vm, a| {
        Ok(Value::Bool(a[0].equal(&a[1], &vm.m)))
    }),
    b("not", Exact(1), |_, a| Ok(Value::Bool(!a[0].truthy()))),
    b("null?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Nil)))
    }),
    b("pair?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Pair(_))))
    }),
    b("number?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Int(_) | Value::Float(_))))
    }),
    b("integer?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Int(_))))
    }),
    b("boolean?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Bool(_))))
    }),
    b("string?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Str(_))))
    }),
    b("symbol?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Sym(_))))
    }),
    b("vector?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Vector(_))))
    }),
    b("dict?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(a[0], Value::Dict(_))))
    }),
    b("procedure?", Exact(1), |_, a| {
        Ok(Value::Bool(matches!(
            a[0],
            Value::Closure(_) | Value::Builtin(_)
        )))
    }),
];

// ---- lists ------------------------------------------------------------------------------

static LISTS: &[Builtin] = &[
    b("cons", Exact(2), |vm, a| {
        Ok(value::cons(&mut vm.m, a[0].clone(), a[1].clone()))
    }),
    b("car", Exact(1), |vm, a| {
        Ok(as_pair(&a[0], &vm.m)?.car.clone())
    }),
    b("cdr", Exact(1), |vm, a| {
        Ok(as_pair(&a[0], &vm.m)?.cdr.clone())
    }),
    b("list", AtLeast(0), |vm, a| Ok(vm.list(a.to_vec()))),
    b("length", Exact(1), |vm, a| {
        Ok(int(list_items(&a[0], &vm.m)?.len()))
    }),
    b("list-ref", Exact(2), |vm, a| {
        let items = list_items(&a[0], &vm.m)?;
        items
            .get(as_count(&a[1])?)
            .cloned()
            .ok_or_else(|| Error::new("index out of range"))
    }),
    b("reverse", Exact(1), |vm, a| {
        let mut items = list_items(&a[0], &vm.m)?;
        items.reverse();
        Ok(vm.list(items))
    }),
    b("append", AtLeast(0), |vm, a| {
        let Some((last, init)) = a.split_last() else {
            return Ok(Value::Nil);
        };
        let mut items = Vec::new();
        for list in init {
            items.extend(list_items(list, &vm.m)?);
        }
        let mut result = last.clone();
        for item in items.into_iter().rev() {
            result = value::cons(&mut vm.m, item, result);
        }
        Ok(result)
    }),
    b("map", Exact(2), |vm, a| {
        let items = list_items(&a[1], &vm.m)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(apply(vm, &a[0], &[item])?);
        }
        Ok(vm.list(out))
    }),
    b("for-each", Exact(2), |vm, a| {
        for item in list_items(&a[1], &vm.m)? {
            apply(vm, &a[0], &[item])?;
        }
        Ok(Value::Nil)
    }),
    b("apply", AtLeast(2), |vm, a| {
        let (list, init) = a[1..].split_last().expect("arity checked");
        let mut args = init.to_vec();
        args.extend(list_items(list, &vm.m)?);
        apply(vm, &a[0], &args)
    }),
];

// ---- vectors ----------------------------------------------------------------------------

fn new_vector(vm: &mut Vm, items: Vec<Value>) -> Value {
    Value::Vector(Gc::new(&mut vm.m, GcMutex::new(items)))
}

static VECTORS: &[Builtin] = &[
    b("vector", AtLeast(0), |vm, a| Ok(new_vector(vm, a.to_vec()))),
    b("make-vector", Range(1, 2), |vm, a| {
        let fill = a.get(1).cloned().unwrap_or(Value::Nil);
        Ok(new_vector(vm, vec![fill; as_count(&a[0])?]))
    }),
    b("vector-length", Exact(1), |vm, a| {
        Ok(int(as_vector(&a[0], &vm.m)?.lock().len()))
    }),
    b("vector-ref", Exact(2), |vm, a| {
        let i = as_count(&a[1])?;
        let items = as_vector(&a[0], &vm.m)?.lock();
        items
            .get(i)
            .cloned()
            .ok_or_else(|| Error::new(format!("index {i} out of range")))
    }),
    b("vector-set!", Exact(3), |vm, a| {
        let i = as_count(&a[1])?;
        let mut items = as_vector(&a[0], &vm.m)?.lock();
        let slot = items
            .get_mut(i)
            .ok_or_else(|| Error::new(format!("index {i} out of range")))?;
        let old = std::mem::replace(slot, a[2].clone());
        drop(items);
        drop(old); // after the lock: it may free objects
        Ok(Value::Nil)
    }),
    b("vector-push!", Exact(2), |vm, a| {
        as_vector(&a[0], &vm.m)?.lock().push(a[1].clone());
        Ok(Value::Nil)
    }),
    b("vector->list", Exact(1), |vm, a| {
        let items = as_vector(&a[0], &vm.m)?.lock().clone();
        Ok(vm.list(items))
    }),
    b("list->vector", Exact(1), |vm, a| {
        let items = list_items(&a[0], &vm.m)?;
        Ok(new_vector(vm, items))
    }),
];

// ---- dictionaries -----------------------------------------------------------------------

/// A new dictionary of `entries` (for builtins that return records, such as `gc-stats`).
pub fn new_dict(vm: &mut Vm, entries: Vec<(&str, Value)>) -> Value {
    let mut map = HashMap::with_capacity(entries.len());
    for (name, v) in entries {
        map.insert(value::Key::Sym(vm.intern(name)), v);
    }
    Value::Dict(Gc::new(&mut vm.m, GcMutex::new(map)))
}

static DICTS: &[Builtin] = &[
    b("make-dict", Exact(0), |vm, _| {
        Ok(Value::Dict(Gc::new(
            &mut vm.m,
            GcMutex::new(HashMap::new()),
        )))
    }),
    b("dict-ref", Range(2, 3), |vm, a| {
        let key = a[1].key(&vm.m)?;
        let found = as_dict(&a[0], &vm.m)?.lock().get(&key).cloned();
        match (found, a.get(2)) {
            (Some(v), _) => Ok(v),
            (None, Some(default)) => Ok(default.clone()),
            (None, None) => {
                let mut k = String::new();
                value::print(&vm.m, &a[1], true, &mut k);
                err(format!("no key {k} in dict"))
            }
        }
    }),
    b("dict-set!", Exact(3), |vm, a| {
        let key = a[1].key(&vm.m)?;
        let old = as_dict(&a[0], &vm.m)?.lock().insert(key, a[2].clone());
        drop(old); // after the lock: it may free objects
        Ok(Value::Nil)
    }),
    b("dict-has?", Exact(2), |vm, a| {
        let key = a[1].key(&vm.m)?;
        Ok(Value::Bool(
            as_dict(&a[0], &vm.m)?.lock().contains_key(&key),
        ))
    }),
    b("dict-remove!", Exact(2), |vm, a| {
        let key = a[1].key(&vm.m)?;
        let old = as_dict(&a[0], &vm.m)?.lock().remove(&key);
        drop(old);
        Ok(Value::Nil)
    }),
    b("dict-count", Exact(1), |vm, a| {
        Ok(int(as_dict(&a[0], &vm.m)?.lock().len()))
    }),
    b("dict-keys", Exact(1), |vm, a| {
        let keys: Vec<value::Key> = as_dict(&a[0], &vm.m)?.lock().keys().cloned().collect();
        let keys = keys.iter().map(|k| k.to_value(&mut vm.m)).collect();
        Ok(vm.list(keys))
    }),
];

// ---- strings and output -----------------------------------------------------------------

/// The arguments displayed one after the other.
fn concat(vm: &Vm, args: &[Value]) -> String {
    let mut text = String::new();
    for v in args {
        value::print(&vm.m, v, false, &mut text);
    }
    text
}

static STRINGS: &[Builtin] = &[
    b("display", Exact(1), |vm, a| {
        let text = concat(vm, a);
        vm.write_out(&text).map(|()| Value::Nil)
    }),
    b("write", Exact(1), |vm, a| {
        let mut text = String::new();
        value::print(&vm.m, &a[0], true, &mut text);
        vm.write_out(&text).map(|()| Value::Nil)
    }),
    b("newline", Exact(0), |vm, _| {
        vm.write_out("\n").map(|()| Value::Nil)
    }),
    b("print", AtLeast(0), |vm, a| {
        let mut text = concat(vm, a);
        text.push('\n');
        vm.write_out(&text).map(|()| Value::Nil)
    }),
    b("str", AtLeast(0), |vm, a| {
        let text = concat(vm, a);
        Ok(vm.string(text))
    }),
    b("string-length", Exact(1), |vm, a| {
        Ok(int(as_str(&a[0], &vm.m)?.chars().count()))
    }),
    b("string->number", Exact(1), |vm, a| {
        let text = as_str(&a[0], &vm.m)?.trim();
        Ok(match (text.parse::<i64>(), text.parse::<f64>()) {
            (Ok(i), _) => Value::Int(i),
            (_, Ok(f)) => Value::Float(f),
            _ => Value::Bool(false),
        })
    }),
    b("number->string", Exact(1), |vm, a| {
        as_f64(&a[0])?;
        let text = concat(vm, a);
        Ok(vm.string(text))
    }),
    b("symbol->string", Exact(1), |vm, a| match &a[0] {
        Value::Sym(s) => {
            let name = s.get(&vm.m).name.to_string();
            Ok(vm.string(name))
        }
        other => type_error("a symbol", other),
    }),
    b("string->symbol", Exact(1), |vm, a| {
        let name = as_str(&a[0], &vm.m)?.to_string();
        Ok(Value::Sym(vm.intern(&name)))
    }),
];

// ---- system -----------------------------------------------------------------------------

/// When the first VM asked for the time.
static EPOCH: OnceLock<Instant> = OnceLock::new();

static SYSTEM: &[Builtin] = &[
    b("command-line", Exact(0), |vm, _| {
        let args = vm.interp.args.clone();
        let args = args.into_iter().map(|a| vm.string(a)).collect();
        Ok(vm.list(args))
    }),
    b("now-ms", Exact(0), |_, _| {
        let t = EPOCH.get_or_init(Instant::now).elapsed();
        Ok(Value::Float(t.as_secs_f64() * 1e3))
    }),
    b("error", AtLeast(0), |vm, a| err(concat(vm, a))),
];

// ---- threads ----------------------------------------------------------------------------

static THREADS: &[Builtin] = &[
    b("spawn", AtLeast(1), spawn),
    b("join", Exact(1), join),
    b("sleep", Exact(1), |vm, a| {
        let ms = as_f64(&a[0])?.max(0.0);
        vm.m.detached(|| std::thread::sleep(Duration::from_secs_f64(ms / 1e3)));
        Ok(Value::Nil)
    }),
];

/// `(spawn f arg...)`: calls `f` on a new VM thread (an OS thread with its own mutator and
/// VM stack) and returns the thread, for `join`.
fn spawn(vm: &mut Vm, a: &[Value]) -> R<Value> {
    let f = a[0].clone();
    if !matches!(f, Value::Closure(_) | Value::Builtin(_)) {
        return type_error("a procedure", &f);
    }
    let args = a[1..].to_vec();
    let interp = vm.interp.clone();
    let id = interp
        .next_thread
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let handle = std::thread::Builder::new()
        .name(format!("minivm-{id}"))
        .stack_size(VM_STACK_SIZE)
        .spawn(move || {
            let mut vm = Vm::new(interp);
            let result = apply(&mut vm, &f, &args);
            drop((f, args)); // while this thread is still a mutator
            result
        })
        .or_else(|e| err(format!("cannot start a thread: {e}")))?;
    let thread = ThreadObj {
        handle: Mutex::new(Some(handle)),
        id,
    };
    Ok(Value::Thread(Gc::new(&mut vm.m, thread)))
}

/// `(join thread)`: waits for the thread (detached) and returns its result; an error in the
/// thread is an error here.
fn join(vm: &mut Vm, a: &[Value]) -> R<Value> {
    let Value::Thread(t) = &a[0] else {
        return type_error("a thread", &a[0]);
    };
    let t = t.get(&vm.m);
    let id = t.id;
    let handle = t
        .handle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(handle) = handle else {
        return err(format!("thread {id} was already joined"));
    };
    match vm.m.detached(|| handle.join()) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => err(format!("in thread {id}: {e}")),
        Err(_) => err(format!("thread {id} panicked")),
    }
}
