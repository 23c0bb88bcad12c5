//! The minivm interpreter: a small, dynamically typed Lisp whose values live in the `ftgc`
//! heap and whose programs may run on several OS threads at once.
//!
//! * [`reader`] turns source text into plain Rust trees ([`reader::Sexp`]); nothing is
//!   allocated in the GC heap until the compiler needs a symbol or a quoted constant.
//! * [`compile`] resolves every variable to a frame slot or a global cell and produces an
//!   [`compile::Expr`] tree. Compiled code is immortal (leaked), as code is in most VMs
//!   without code unloading: calling a closure then copies a `&'static` pointer instead of
//!   counting a reference that every thread running the same function would write.
//! * [`eval`] walks those trees, with proper tail calls; [`builtins`] and [`gc_builtins`] are
//!   the tables of built-in functions.
//! * [`value`] defines the values: numbers, nil and booleans are immediate, everything else
//!   is a `Gc` object; mutable objects (vectors, dictionaries, frames, global cells) keep
//!   their contents in a [`GcMutex`].
//!
//! Each VM thread ([`Vm`]) owns a [`Mutator`] and a VM stack kept in a GC object and
//! registered as a known [`Root`], as is the global environment ([`Interp::globals`]).
//! Evaluation polls a safepoint at every call and at every loop back-edge, and runs blocking
//! builtins (joining a thread, sleeping, writing output) detached.

pub mod builtins;
pub mod compile;
pub mod eval;
pub mod gc_builtins;
pub mod reader;
pub mod value;

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ftgc::{Gc, GcMutex, Mutator, Root, Trace};

use value::{Env, Global, Symbol, Value};

/// Stack size of every VM thread. Evaluation recurses natively (a few hundred bytes of Rust
/// stack per level of Lisp recursion that is not a tail call); the pages are only touched as
/// deep as a program goes.
pub const VM_STACK_SIZE: usize = 512 << 20;

/// Deepest non-tail Lisp recursion allowed: an error beyond it, well before the Rust stack
/// ([`VM_STACK_SIZE`]) runs out. A level takes about 0.8 KiB of stack in release builds and
/// 6 KiB in debug builds.
pub const MAX_DEPTH: usize = if cfg!(debug_assertions) {
    20_000
} else {
    100_000
};

/// Where `display` and `print` write: shared by every VM thread of a program.
pub type Output = Arc<Mutex<dyn Write + Send>>;

/// A Lisp error. Boxed: results travel up every level of evaluation, and a one-word error
/// keeps `R<Value>` two words, returned in registers.
#[derive(Clone, Debug)]
pub struct Error(Box<ErrorInfo>);

/// What an [`Error`] says.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    /// What went wrong.
    pub message: String,
    /// The named function whose body raised it, if any.
    pub function: Option<&'static str>,
}

impl Error {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Error {
        Error(Box::new(ErrorInfo {
            message: message.into(),
            function: None,
        }))
    }
}

impl std::ops::Deref for Error {
    type Target = ErrorInfo;
    fn deref(&self) -> &ErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorInfo {
        &mut self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.function {
            Some(name) => write!(f, "{} (in {name})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The result of evaluation.
pub type R<T> = Result<T, Error>;

/// The global environment: the symbol table and the global cells, by name. Registered as a
/// known root ([`Interp::globals`]), so everything bound globally is marked alive at the start
/// of a collection instead of taking part in the cycle search.
#[derive(Trace)]
pub struct Globals {
    symbols: GcMutex<HashMap<Box<str>, Gc<Symbol>>>,
    cells: GcMutex<HashMap<Box<str>, Gc<Global>>>,
}

/// What every VM thread of one program run shares.
pub struct Interp {
    /// The global environment, a known root for as long as the program runs.
    pub globals: Root<Globals>,
    /// Bumped after every write of a global cell. VM threads cache global values (reading a
    /// cell's `GcMutex` from every thread at every call would make its cache line bounce
    /// between cores) and drop their cache when the epoch moves.
    epoch: AtomicU64,
    /// Index of the next global cell, its slot in the per-thread caches.
    next_global: AtomicUsize,
    /// Number of the next spawned thread (for its name).
    next_thread: AtomicUsize,
    /// Program output.
    out: Output,
    /// The program's command-line arguments (after the file name).
    args: Vec<String>,
}

impl Interp {
    /// A fresh global environment, with every builtin bound.
    fn new(m: &mut Mutator, args: Vec<String>, out: Output) -> Interp {
        let globals = Globals {
            symbols: GcMutex::new(HashMap::new()),
            cells: GcMutex::new(HashMap::new()),
        };
        Interp {
            globals: Root::new(Gc::new(m, globals)),
            epoch: AtomicU64::new(0),
            next_global: AtomicUsize::new(0),
            next_thread: AtomicUsize::new(1),
            out,
            args,
        }
    }
}

/// One VM thread: its mutator, its VM stack and its caches.
///
/// Fields drop in declaration order: every handle goes before the [`Mutator`], so that objects
/// freed by the drops are destroyed at once on this still-attached thread.
pub struct Vm {
    /// Shared state.
    pub interp: Arc<Interp>,
    /// The VM stack: the frame of every call in progress on this thread, innermost last. A GC
    /// object registered as a known root, so that a collection marks every live frame (and
    /// all it reaches) alive before its cycle search.
    frames: Root<GcMutex<Vec<Gc<Env>>>>,
    /// Arguments being evaluated, before they move into the callee's frame or reach a
    /// builtin. Plain Rust: its handles count as references from outside the heap, which keeps
    /// their objects alive just as well, and pushing through a `GcMutex` would cost two atomic
    /// read-modify-writes per argument.
    args: Vec<Value>,
    /// This thread's copies of global values, by cell index; valid while `cache_epoch` equals
    /// [`Interp::epoch`].
    cache: Vec<Option<Value>>,
    cache_epoch: u64,
    /// Lisp calls in progress on this thread that are not tail calls.
    depth: usize,
    /// This thread's registration with the collector.
    pub m: Mutator,
}

impl Vm {
    /// A VM thread for the calling OS thread, which becomes a mutator with `m`.
    fn with_mutator(interp: Arc<Interp>, mut m: Mutator) -> Vm {
        let frames = Root::new(Gc::new(&mut m, GcMutex::new(Vec::new())));
        Vm {
            interp,
            frames,
            args: Vec::new(),
            cache: Vec::new(),
            cache_epoch: u64::MAX,
            depth: 0,
            m,
        }
    }

    /// A VM thread sharing `interp`, for a thread spawned by a program.
    pub fn new(interp: Arc<Interp>) -> Vm {
        Vm::with_mutator(interp, Mutator::new())
    }

    /// The interned symbol called `name`.
    pub fn intern(&mut self, name: &str) -> Gc<Symbol> {
        if let Some(sym) = self.interp.globals.get(&self.m).symbols.lock().get(name) {
            return sym.clone();
        }
        // Allocate with no lock held: allocation is a safepoint.
        let sym = Gc::new(&mut self.m, Symbol { name: name.into() });
        let globals = self.interp.globals.get(&self.m);
        let mut symbols = globals.symbols.lock();
        symbols.entry(name.into()).or_insert(sym).clone()
    }

    /// The global cell called `name`, created unbound if it does not exist yet.
    pub fn global_cell(&mut self, name: &str) -> Gc<Global> {
        if let Some(cell) = self.interp.globals.get(&self.m).cells.lock().get(name) {
            return cell.clone();
        }
        let cell = Global {
            name: name.into(),
            index: self.interp.next_global.fetch_add(1, Ordering::Relaxed),
            value: GcMutex::new(None),
        };
        let cell = Gc::new(&mut self.m, cell);
        let globals = self.interp.globals.get(&self.m);
        let mut cells = globals.cells.lock();
        cells.entry(name.into()).or_insert(cell).clone()
    }

    /// Binds global `name` to `value`.
    pub fn define_global(&mut self, name: &str, value: Value) {
        let cell = self.global_cell(name);
        self.set_global(&cell, value);
    }

    /// Stores `value` in a global cell and invalidates every thread's cache of globals.
    fn set_global(&mut self, cell: &Gc<Global>, value: Value) {
        let old = cell.get(&self.m).value.lock().replace(value);
        // Ordering: Release, paired with the Acquire load in `with_global`: a thread that sees
        // the new epoch and refills its cache locks the cell after this store, so it reads the
        // new value (the cell's lock orders the value itself).
        self.interp.epoch.fetch_add(1, Ordering::Release);
        drop(old); // with no lock held: it may free objects
    }

    /// Runs `f` on the value of a global cell, read through this thread's cache.
    fn with_global<T>(&mut self, cell: &Gc<Global>, f: impl FnOnce(&Value, &Mutator) -> T) -> R<T> {
        // Ordering: Acquire, see `set_global`.
        let epoch = self.interp.epoch.load(Ordering::Acquire);
        if epoch != self.cache_epoch {
            self.cache.clear();
            self.cache_epoch = epoch;
        }
        let global = cell.get(&self.m);
        let i = global.index;
        if self.cache.len() <= i {
            self.cache.resize(i + 1, None);
        }
        if self.cache[i].is_none() {
            match &*global.value.lock() {
                Some(v) => self.cache[i] = Some(v.clone()),
                None => return Err(Error::new(format!("unbound variable `{}`", global.name))),
            }
        }
        match &self.cache[i] {
            Some(v) => Ok(f(v, &self.m)),
            None => unreachable!("the cache entry was just filled"),
        }
    }

    /// A proper list of `items`.
    pub fn list(&mut self, items: Vec<Value>) -> Value {
        let mut list = Value::Nil;
        for item in items.into_iter().rev() {
            list = value::cons(&mut self.m, item, list);
        }
        list
    }

    /// A string value.
    pub fn string(&mut self, text: impl Into<String>) -> Value {
        Value::Str(Gc::new(&mut self.m, text.into()))
    }

    /// Writes `text` to the program's output, detached (the sink's lock and the write may
    /// block).
    pub fn write_out(&mut self, text: &str) -> R<()> {
        let out = self.interp.out.clone();
        self.m
            .detached(|| {
                let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
                out.write_all(text.as_bytes())?;
                out.flush()
            })
            .map_err(|e| Error::new(format!("output: {e}")))
    }
}

/// Runs the program `source` (named `name` in messages) with command-line arguments `args`,
/// writing its output to `out`.
///
/// The program's main VM thread is a new OS thread with a [`VM_STACK_SIZE`] stack; this call
/// waits for it. Call it from a thread that is not a [`Mutator`] (it would hold up every
/// collection while it waits). Threads the program spawned and never joined may outlive the
/// call.
pub fn run(source: &str, name: &str, args: Vec<String>, out: Output) -> R<()> {
    let forms = reader::read_all(source).map_err(|e| Error::new(format!("{name}: {e}")))?;
    let name = name.to_string();
    let main = std::thread::Builder::new()
        .name("minivm-main".into())
        .stack_size(VM_STACK_SIZE)
        .spawn(move || {
            let mut m = Mutator::new();
            let interp = Arc::new(Interp::new(&mut m, args, out));
            let mut vm = Vm::with_mutator(interp, m);
            for table in builtins::TABLES {
                for builtin in *table {
                    vm.define_global(builtin.name, Value::Builtin(builtin));
                }
            }
            for form in &forms {
                let at = |mut e: Error| {
                    e.message = format!("{name}:{}: {}", form.line, e.message);
                    e
                };
                let code = compile::compile_toplevel(&mut vm, &form.sexp).map_err(at)?;
                let code: &'static compile::Expr = Box::leak(Box::new(code));
                eval::eval(&mut vm, code, None).map_err(at)?;
            }
            Ok(())
        })
        .map_err(|e| Error::new(format!("cannot start the VM thread: {e}")))?;
    main.join()
        .unwrap_or_else(|_| Err(Error::new("the VM thread panicked")))
}
