//! The evaluator: walks [`Expr`] trees, with proper tail calls.
//!
//! [`step`] evaluates an expression in tail position: a call to a closure there is not made
//! but returned, as [`Step::Enter`], to the loop of [`run`], which runs the callee's body in
//! place of the caller's. Only calls in other positions recurse on the Rust stack.
//!
//! The frame of every body being run is on the thread's VM stack (a rooted GC object): pushed
//! when [`run`] starts, replaced at each tail call, popped when it returns.
//!
//! Every call polls a safepoint before it enters the callee, and `while` polls one per
//! iteration; tail-call loops go through calls, so every loop of a program polls. No
//! reference from `Gc::get` lives across either: they borrow the [`Vm`]'s mutator, which the
//! safepoint needs mutably, so the borrow checker rejects any that would.

use std::sync::OnceLock;

use ftgc::{Gc, GcMutex, Mutator};

use super::builtins::Builtin;
use super::compile::{Expr, Lambda, SlotKind};
use super::value::{Closure, Env, Slot, Value};
use super::{Error, MAX_DEPTH, R, Vm};

/// The outcome of an expression in tail position.
pub enum Step {
    /// Its value.
    Value(Value),
    /// Run this body in this (new) frame; its value is the expression's.
    Enter(&'static Lambda, Gc<Env>),
}

/// What a call calls.
enum Callee {
    Builtin(&'static Builtin),
    Closure(&'static Lambda, Option<Gc<Env>>),
}

impl Callee {
    /// The callee `f` stands for (borrowed: a closure read from a global is called without
    /// counting a reference to it).
    fn of(f: &Value, m: &Mutator) -> R<Callee> {
        match f {
            Value::Builtin(b) => Ok(Callee::Builtin(b)),
            Value::Closure(c) => {
                let c: &Closure = c.get(m);
                Ok(Callee::Closure(c.code, c.env.clone()))
            }
            other => Err(Error::new(format!(
                "cannot call a {} (not a procedure)",
                other.type_name()
            ))),
        }
    }
}

/// Evaluates `expr` in frame `env` (`None` at top level).
pub fn eval(vm: &mut Vm, expr: &Expr, env: Option<&Gc<Env>>) -> R<Value> {
    match step(vm, expr, env)? {
        Step::Value(v) => Ok(v),
        Step::Enter(code, frame) => run(vm, code, frame),
    }
}

/// Runs `code`'s body in `frame`, and the bodies of the tail calls it makes.
pub fn run(vm: &mut Vm, mut code: &'static Lambda, mut frame: Gc<Env>) -> R<Value> {
    if vm.depth >= MAX_DEPTH {
        return Err(Error::new(format!(
            "recursion deeper than {MAX_DEPTH} calls"
        )));
    }
    vm.depth += 1;
    vm.frames.get(&vm.m).lock().push(frame.clone());
    let result = loop {
        match step(vm, &code.body, Some(&frame)) {
            Ok(Step::Value(v)) => break Ok(v),
            Ok(Step::Enter(callee, callee_frame)) => {
                code = callee;
                let top = vm
                    .frames
                    .get(&vm.m)
                    .lock()
                    .last_mut()
                    .map(|top| std::mem::replace(top, callee_frame.clone()));
                drop(top); // after the lock: it may free objects
                frame = callee_frame;
            }
            Err(mut e) => {
                if e.function.is_none() {
                    e.function = code.name.as_deref();
                }
                break Err(e);
            }
        }
    };
    let top = vm.frames.get(&vm.m).lock().pop();
    drop(top);
    vm.depth -= 1;
    result
}

/// Calls `f` with `args` (for builtins that call back into Lisp, and for spawned threads).
pub fn apply(vm: &mut Vm, f: &Value, args: &[Value]) -> R<Value> {
    vm.m.safepoint();
    let callee = Callee::of(f, &vm.m)?;
    let base = vm.args.len();
    vm.args.extend_from_slice(args);
    match callee {
        Callee::Builtin(b) => vm.call_builtin(b, base),
        Callee::Closure(code, env) => {
            let frame = vm.frame(code, env, base)?;
            run(vm, code, frame)
        }
    }
}

/// Evaluates `expr`, in tail position.
fn step(vm: &mut Vm, expr: &Expr, env: Option<&Gc<Env>>) -> R<Step> {
    let value = match expr {
        Expr::Const(v) => v.clone(),
        Expr::Local { depth, slot } => match &up(&vm.m, env, *depth).slots[*slot as usize] {
            Slot::Fixed(v) => v.clone(),
            Slot::Once(v) => match v.get() {
                Some(v) => v.clone(),
                None => return Err(Error::new("a local definition used before it ran")),
            },
            Slot::Cell(v) => v.lock().clone(),
        },
        Expr::Global(cell) => vm.with_global(cell, |v, _| v.clone())?,
        Expr::SetLocal { depth, slot, value } => {
            let value = eval(vm, value, env)?;
            match &up(&vm.m, env, *depth).slots[*slot as usize] {
                Slot::Cell(cell) => {
                    let old = std::mem::replace(&mut *cell.lock(), value);
                    drop(old); // after the lock: it may free objects
                }
                Slot::Once(once) => once
                    .set(value)
                    .map_err(|_| Error::new("a local definition ran twice"))?,
                Slot::Fixed(_) => unreachable!("the compiler makes assigned slots cells"),
            }
            Value::Nil
        }
        Expr::SetGlobal {
            cell,
            value,
            define,
        } => {
            let value = eval(vm, value, env)?;
            if !define && cell.get(&vm.m).value.lock().is_none() {
                let name = &cell.get(&vm.m).name;
                return Err(Error::new(format!("`set!` of unbound variable `{name}`")));
            }
            vm.set_global(cell, value);
            Value::Nil
        }
        Expr::If(test, then, otherwise) => {
            let branch = if eval(vm, test, env)?.truthy() {
                then
            } else {
                otherwise
            };
            return step(vm, branch, env);
        }
        Expr::And(exprs) | Expr::Or(exprs) => {
            let and = matches!(expr, Expr::And(_));
            let (last, init) = exprs.split_last().expect("the compiler emits an operand");
            for e in init {
                let v = eval(vm, e, env)?;
                if v.truthy() != and {
                    return Ok(Step::Value(v));
                }
            }
            return step(vm, last, env);
        }
        Expr::Seq(exprs) => {
            let (last, init) = exprs
                .split_last()
                .expect("the compiler emits an expression");
            for e in init {
                eval(vm, e, env)?;
            }
            return step(vm, last, env);
        }
        Expr::Lambda(code) => {
            let closure = Closure {
                code,
                env: env.cloned(),
            };
            Value::Closure(Gc::new(&mut vm.m, closure))
        }
        Expr::Let(code, inits) => {
            let base = vm.eval_args(inits, env)?;
            let frame = vm.frame(code, env.cloned(), base)?;
            return Ok(Step::Enter(code, frame));
        }
        Expr::While(test, body) => {
            loop {
                vm.m.safepoint(); // the loop's back-edge
                if !eval(vm, test, env)?.truthy() {
                    break;
                }
                eval(vm, body, env)?;
            }
            Value::Nil
        }
        Expr::Call(f, args) => return call(vm, f, args, env),
    };
    Ok(Step::Value(value))
}

/// The frame `depth` levels up from `env`.
#[inline]
fn up<'a>(m: &'a Mutator, env: Option<&'a Gc<Env>>, depth: u32) -> &'a Env {
    let mut frame = env
        .expect("the compiler emits locals only inside frames")
        .get(m);
    for _ in 0..depth {
        frame = frame
            .parent
            .as_ref()
            .expect("the compiler counts frames")
            .get(m);
    }
    frame
}

/// A call, in tail position: a builtin runs now, a closure is entered by the caller's loop.
fn call(vm: &mut Vm, f: &Expr, args: &[Expr], env: Option<&Gc<Env>>) -> R<Step> {
    vm.m.safepoint();
    let callee = match f {
        Expr::Global(cell) => vm.with_global(cell, Callee::of)??,
        // Borrowed in place, as globals are: no count of the closure changes.
        Expr::Local { depth, slot } => match &up(&vm.m, env, *depth).slots[*slot as usize] {
            Slot::Fixed(v) => Callee::of(v, &vm.m)?,
            Slot::Once(v) => match v.get() {
                Some(v) => Callee::of(v, &vm.m)?,
                None => return Err(Error::new("a local definition used before it ran")),
            },
            Slot::Cell(v) => Callee::of(&v.lock(), &vm.m)?,
        },
        f => {
            let f = eval(vm, f, env)?;
            Callee::of(&f, &vm.m)?
        }
    };
    let base = vm.eval_args(args, env)?;
    match callee {
        Callee::Builtin(b) => Ok(Step::Value(vm.call_builtin(b, base)?)),
        Callee::Closure(code, closure_env) => {
            Ok(Step::Enter(code, vm.frame(code, closure_env, base)?))
        }
    }
}

impl Vm {
    /// Evaluates `args` onto the argument stack; returns its height below them.
    fn eval_args(&mut self, args: &[Expr], env: Option<&Gc<Env>>) -> R<usize> {
        let base = self.args.len();
        for arg in args {
            match eval(self, arg, env) {
                Ok(v) => self.args.push(v),
                Err(e) => {
                    self.args.truncate(base);
                    return Err(e);
                }
            }
        }
        Ok(base)
    }

    /// A new frame for `code`, whose arguments are on the argument stack above `base`
    /// (popped).
    fn frame(&mut self, code: &Lambda, parent: Option<Gc<Env>>, base: usize) -> R<Gc<Env>> {
        let n = self.args.len() - base;
        if n < code.params || (n > code.params && !code.rest) {
            self.args.truncate(base);
            let name = code.name.as_deref().unwrap_or("procedure");
            let at_least = if code.rest { "at least " } else { "" };
            return Err(Error::new(format!(
                "{name}: expected {at_least}{} arguments, got {n}",
                code.params
            )));
        }
        let rest = code.rest.then(|| {
            let rest: Vec<Value> = self.args.drain(base + code.params..).collect();
            self.list(rest)
        });
        let mut slots = Vec::with_capacity(code.slots.len());
        let params = self.args.drain(base..).chain(rest);
        for (kind, v) in code.slots.iter().zip(params) {
            slots.push(match kind {
                SlotKind::Fixed => Slot::Fixed(v),
                _ => Slot::Cell(GcMutex::new(v)),
            });
        }
        for kind in &code.slots[slots.len()..] {
            slots.push(match kind {
                SlotKind::Once => Slot::Once(OnceLock::new()),
                _ => Slot::Cell(GcMutex::new(Value::Nil)),
            });
        }
        let env = Env {
            slots: slots.into_boxed_slice(),
            parent,
        };
        Ok(Gc::new(&mut self.m, env))
    }

    /// Calls builtin `b` with the arguments on the argument stack above `base` (popped).
    fn call_builtin(&mut self, b: &'static Builtin, base: usize) -> R<Value> {
        // The builtin borrows its arguments in place while it has the VM: the stack is moved
        // out meanwhile (builtins that call back into Lisp start a new one).
        let mut args = std::mem::take(&mut self.args);
        let result = match b.check_arity(args.len() - base) {
            Ok(()) => (b.f)(self, &args[base..]),
            Err(e) => Err(e),
        };
        args.truncate(base);
        self.args = args;
        result.map_err(|mut e| {
            // Errors of Lisp code a builtin called (`map`'s function) already say where.
            if e.function.is_none() {
                e.message = format!("{}: {}", b.name, e.message);
            }
            e
        })
    }
}
