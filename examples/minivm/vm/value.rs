//! Values and the objects behind them.
//!
//! A [`Value`] is two words: numbers, nil and booleans are immediate, everything else is a
//! [`Gc`] handle. Pairs and strings are immutable; vectors, dictionaries, frames and global
//! cells hold their contents in a [`GcMutex`], which the collector traces without locking.
//! Symbols and strings can hold no handle, so they live in ftgc's leaf heap and cost a
//! collection nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use ftgc::{Gc, GcMutex, Mutator, Trace};

use super::builtins::Builtin;
use super::compile::Lambda;
use super::{Error, R};

/// A Lisp value.
#[derive(Clone, Trace)]
pub enum Value {
    /// The empty list, also false.
    Nil,
    /// `#t` or `#f`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// An interned symbol: equal symbols are the same object.
    Sym(Gc<Symbol>),
    /// An immutable string.
    Str(Gc<String>),
    /// An immutable pair.
    Pair(Gc<Pair>),
    /// A mutable vector.
    Vector(Gc<Vector>),
    /// A mutable hash table.
    Dict(Gc<Dict>),
    /// A function written in Lisp.
    Closure(Gc<Closure>),
    /// A function of the builtin tables.
    Builtin(&'static Builtin),
    /// A VM thread started by `spawn`.
    Thread(Gc<ThreadObj>),
    /// A guard: runs its thunk once the collector finds it garbage (`make-guard`).
    Guard(Gc<Guard>),
}

/// A guard's thunk, handed over by the guard's finalizer, waiting for a VM thread to run it
/// (`gc-collect` does, after collecting).
pub static PENDING: Mutex<Vec<Value>> = Mutex::new(Vec::new());

/// An object with a finalizer (ftgc's `Finalize`, CPython's `__del__`): when a collection
/// finds it garbage, the finalizer queues its thunk on [`PENDING`]. The finalizer runs on the
/// collecting thread inside the collection, where Lisp code cannot run, hence the queue.
#[derive(Trace)]
pub struct Guard {
    /// What to run.
    pub thunk: Value,
    /// Whatever the program keeps with it (typically the cycle it guards).
    pub payload: GcMutex<Value>,
}

impl ftgc::Finalize for Guard {
    fn finalize(this: &Gc<Self>, m: &mut Mutator) {
        let thunk = this.get(m).thunk.clone();
        PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(thunk);
    }
}

/// An interned symbol (see [`Vm::intern`](super::Vm::intern)).
#[derive(Trace)]
pub struct Symbol {
    /// Its name.
    pub name: Box<str>,
}

/// A pair (a cons cell).
#[derive(Trace)]
pub struct Pair {
    /// The first element.
    pub car: Value,
    /// The rest.
    pub cdr: Value,
}

/// A vector's elements.
pub type Vector = GcMutex<Vec<Value>>;

/// A dictionary's entries.
pub type Dict = GcMutex<HashMap<Key, Value>>;

/// A dictionary key: the values that can be hashed (strings by content, symbols by identity).
#[derive(Clone, PartialEq, Eq, Hash, Trace)]
pub enum Key {
    /// `()`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A symbol.
    Sym(Gc<Symbol>),
    /// A string's text.
    Str(Box<str>),
}

/// A closure: compiled code and the frame it was created in.
#[derive(Trace)]
pub struct Closure {
    /// The code: immortal, so calls never count references to it.
    pub code: &'static Lambda,
    /// The enclosing frame (`None` at top level).
    pub env: Option<Gc<Env>>,
}

/// A frame: the parameters and local definitions of one call (or one `let`), by slot.
#[derive(Trace)]
pub struct Env {
    /// The slots, shaped by the code's [`SlotKind`](super::compile::SlotKind)s.
    pub slots: Box<[Slot]>,
    /// The enclosing frame.
    pub parent: Option<Gc<Env>>,
}

/// One variable of a frame. Only a variable that is assigned needs a lock: the compiler sees
/// which are, and reading a `GcMutex` costs two atomic read-modify-writes, about half the
/// cost of a call when every variable had one.
#[derive(Trace)]
pub enum Slot {
    /// A parameter that is never assigned.
    Fixed(Value),
    /// An internal definition that is never assigned: set once, by its `define`.
    Once(OnceLock<Value>),
    /// A variable that `set!` assigns.
    Cell(GcMutex<Value>),
}

/// A global variable's cell. The compiler resolves each global name to its cell once.
#[derive(Trace)]
pub struct Global {
    /// Its name.
    pub name: Box<str>,
    /// Its slot in the VM threads' caches of global values.
    pub index: usize,
    /// Its value; `None` while unbound.
    pub value: GcMutex<Option<Value>>,
}

/// A VM thread started by `spawn`: its OS thread, until `join` takes it.
#[derive(Trace)]
pub struct ThreadObj {
    /// The thread's result comes back through its join handle.
    #[trace(skip)]
    pub handle: Mutex<Option<JoinHandle<Result<Value, Error>>>>,
    /// Its number, for printing.
    pub id: usize,
}

/// A new pair.
pub fn cons(m: &mut Mutator, car: Value, cdr: Value) -> Value {
    Value::Pair(Gc::new(m, Pair { car, cdr }))
}

impl Value {
    /// Whether the value counts as true: everything but `#f` and `()`.
    #[inline]
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Sym(_) => "symbol",
            Value::Str(_) => "string",
            Value::Pair(_) => "pair",
            Value::Vector(_) => "vector",
            Value::Dict(_) => "dict",
            Value::Closure(_) | Value::Builtin(_) => "procedure",
            Value::Thread(_) => "thread",
            Value::Guard(_) => "guard",
        }
    }

    /// The object's address for a heap value; `None` for an immediate one.
    fn address(&self) -> Option<*const ()> {
        Some(match self {
            Value::Sym(g) => Gc::as_ptr(g),
            Value::Str(g) => Gc::as_ptr(g),
            Value::Pair(g) => Gc::as_ptr(g),
            Value::Vector(g) => Gc::as_ptr(g),
            Value::Dict(g) => Gc::as_ptr(g),
            Value::Closure(g) => Gc::as_ptr(g),
            Value::Thread(g) => Gc::as_ptr(g),
            Value::Guard(g) => Gc::as_ptr(g),
            Value::Builtin(b) => *b as *const Builtin as *const (),
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) => return None,
        })
    }

    /// `eq?`: identity for objects, equality for immediates.
    pub fn is(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            _ => match (self.address(), other.address()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// `equal?`: structural equality of pairs, strings and vectors.
    pub fn equal(&self, other: &Value, m: &Mutator) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.get(m) == b.get(m),
            (Value::Pair(a), Value::Pair(b)) => {
                let (a, b) = (a.get(m), b.get(m));
                a.car.equal(&b.car, m) && a.cdr.equal(&b.cdr, m)
            }
            (Value::Vector(a), Value::Vector(b)) if !Gc::ptr_eq(a, b) => {
                // Copy one side out: both locks at once could deadlock with a thread comparing
                // the same vectors the other way round.
                let a: Vec<Value> = a.get(m).lock().clone();
                let b = b.get(m).lock();
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equal(y, m))
            }
            _ => self.is(other),
        }
    }

    /// The dictionary key for this value.
    pub fn key(&self, m: &Mutator) -> R<Key> {
        Ok(match self {
            Value::Nil => Key::Nil,
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Sym(s) => Key::Sym(s.clone()),
            Value::Str(s) => Key::Str(s.get(m).as_str().into()),
            other => {
                return Err(Error::new(format!(
                    "a {} cannot be a dict key",
                    other.type_name()
                )));
            }
        })
    }
}

impl Key {
    /// The key as a value (a string key becomes a new string).
    pub fn to_value(&self, m: &mut Mutator) -> Value {
        match self {
            Key::Nil => Value::Nil,
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Sym(s) => Value::Sym(s.clone()),
            Key::Str(s) => Value::Str(Gc::new(m, s.to_string())),
        }
    }
}

/// Nesting beyond which printing stops (vectors and dictionaries may contain themselves).
const MAX_PRINT_DEPTH: usize = 64;

/// Appends the printed form of `v` to `out`: strings as their text with `display`, quoted
/// with `write`.
pub fn print(m: &Mutator, v: &Value, write: bool, out: &mut String) {
    print_at(m, v, write, out, 0);
}

fn print_at(m: &Mutator, v: &Value, write: bool, out: &mut String, depth: usize) {
    if depth > MAX_PRINT_DEPTH {
        out.push_str("...");
        return;
    }
    match v {
        Value::Nil => out.push_str("()"),
        Value::Bool(b) => out.push_str(if *b { "#t" } else { "#f" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Sym(s) => out.push_str(&s.get(m).name),
        Value::Str(s) if write => {
            let _ = write!(out, "{:?}", s.get(m));
        }
        Value::Str(s) => out.push_str(s.get(m)),
        Value::Pair(p) => {
            out.push('(');
            let mut p = p.get(m);
            loop {
                print_at(m, &p.car, write, out, depth + 1);
                match &p.cdr {
                    Value::Nil => break,
                    Value::Pair(next) => {
                        out.push(' ');
                        p = next.get(m);
                    }
                    tail => {
                        out.push_str(" . ");
                        print_at(m, tail, write, out, depth + 1);
                        break;
                    }
                }
            }
            out.push(')');
        }
        Value::Vector(items) => {
            let items = items.get(m).lock().clone();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_at(m, item, write, out, depth + 1);
            }
            out.push(']');
        }
        Value::Dict(d) => {
            let entries: Vec<(Key, Value)> = d
                .get(m)
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // Sorted by printed key: hash order (and symbol addresses) differ between runs.
            let mut printed: Vec<(String, String)> = entries
                .iter()
                .map(|(k, v)| {
                    let mut ks = String::new();
                    print_key(m, k, &mut ks);
                    let mut vs = String::new();
                    print_at(m, v, write, &mut vs, depth + 1);
                    (ks, vs)
                })
                .collect();
            printed.sort();
            out.push('{');
            for (i, (k, v)) in printed.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k} {v}");
            }
            out.push('}');
        }
        Value::Closure(c) => match &c.get(m).code.name {
            Some(name) => {
                let _ = write!(out, "#<procedure {name}>");
            }
            None => out.push_str("#<procedure>"),
        },
        Value::Builtin(b) => {
            let _ = write!(out, "#<builtin {}>", b.name);
        }
        Value::Thread(t) => {
            let _ = write!(out, "#<thread {}>", t.get(m).id);
        }
        Value::Guard(_) => out.push_str("#<guard>"),
    }
}

fn print_key(m: &Mutator, k: &Key, out: &mut String) {
    match k {
        Key::Nil => out.push_str("()"),
        Key::Bool(b) => out.push_str(if *b { "#t" } else { "#f" }),
        Key::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Key::Sym(s) => out.push_str(&s.get(m).name),
        Key::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
    }
}
