//! The compiler: [`Sexp`] to [`Expr`], with every variable resolved.
//!
//! A local variable becomes a `(depth, slot)` address: `depth` frames up the chain, then a
//! slot of that frame. A frame holds a lambda's parameters followed by its body's internal
//! `define`s (found before the body is compiled, so that local functions can call each other),
//! or a `let`'s variables. Any other name is global and resolves to its [`Global`] cell.
//!
//! Special forms: `quote`, `if`, `define`, `set!`, `lambda`, `let`, `let*`, `begin`, `and`,
//! `or`, `when`, `unless`, `cond`, `while`. Their names are reserved.

use ftgc::Gc;

use super::reader::Sexp;
use super::value::{Global, Value};
use super::{Error, R, Vm};

/// Compiled code. Trees of it are immortal once compiled (see the module docs of `vm`).
pub enum Expr {
    /// A constant.
    Const(Value),
    /// A local variable's value.
    Local {
        /// Frames to go up.
        depth: u32,
        /// Slot in that frame.
        slot: u32,
    },
    /// A global variable's value.
    Global(Gc<Global>),
    /// `set!` (or an internal `define`) of a local variable.
    SetLocal {
        /// Frames to go up.
        depth: u32,
        /// Slot in that frame.
        slot: u32,
        /// The new value.
        value: Box<Expr>,
    },
    /// `define` (or `set!`, which needs the global bound) of a global variable.
    SetGlobal {
        /// The cell.
        cell: Gc<Global>,
        /// The new value.
        value: Box<Expr>,
        /// A definition, rather than an assignment.
        define: bool,
    },
    /// `(if test then else)`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `(and ...)`, at least one operand.
    And(Box<[Expr]>),
    /// `(or ...)`, at least one operand.
    Or(Box<[Expr]>),
    /// A sequence, at least one expression; the value of the last.
    Seq(Box<[Expr]>),
    /// A `lambda`: makes a closure over the current frame.
    Lambda(&'static Lambda),
    /// A `let`: the initial values, then the body in a new frame shaped by the lambda.
    Let(&'static Lambda, Box<[Expr]>),
    /// `(while test body)`.
    While(Box<Expr>, Box<Expr>),
    /// A call: the function and the arguments.
    Call(Box<Expr>, Box<[Expr]>),
}

/// A compiled `lambda` (or `let` body).
pub struct Lambda {
    /// The name it was defined under, for messages.
    pub name: Option<Box<str>>,
    /// Number of required parameters.
    pub params: usize,
    /// Whether further arguments are collected in a list (in slot `params`).
    pub rest: bool,
    /// Its frame's slots: the parameters, the rest list, the internal definitions.
    pub slots: Box<[SlotKind]>,
    /// The body.
    pub body: Expr,
}

/// How a frame slot is stored (see [`Slot`](super::value::Slot)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// A parameter never assigned: read without a lock.
    Fixed,
    /// An internal definition never assigned: written once, read without a lock.
    Once,
    /// Assigned by `set!` (or defined twice, or a parameter that is also defined): a cell.
    Cell,
}

/// The variables of one frame, during compilation.
struct Scope<'a> {
    names: Vec<String>,
    parent: Option<&'a Scope<'a>>,
}

/// Where a name lives.
enum Place {
    Local(u32, u32),
    Global(Gc<Global>),
}

/// Compiles a top-level form: `define`s in it bind globals.
pub fn compile_toplevel(vm: &mut Vm, form: &Sexp) -> R<Expr> {
    Compiler { vm }.expr(form, None)
}

/// Names of the special forms (reserved: they cannot be variables).
const SPECIAL: &[&str] = &[
    "quote", "if", "define", "set!", "lambda", "let", "let*", "begin", "and", "or", "when",
    "unless", "cond", "while",
];

struct Compiler<'v> {
    vm: &'v mut Vm,
}

fn err<T>(message: impl Into<String>) -> R<T> {
    Err(Error::new(message))
}

fn leak(lambda: Lambda) -> &'static Lambda {
    Box::leak(Box::new(lambda))
}

/// The symbol's name, or an error naming `what` was expected.
fn name<'s>(s: &'s Sexp, what: &str) -> R<&'s str> {
    match s {
        Sexp::Sym(name) if !SPECIAL.contains(&name.as_str()) => Ok(name),
        Sexp::Sym(name) => err(format!("`{name}` is reserved and cannot be {what}")),
        _ => err(format!("expected a name for {what}")),
    }
}

impl Compiler<'_> {
    fn expr(&mut self, s: &Sexp, scope: Option<&Scope>) -> R<Expr> {
        match s {
            Sexp::Int(i) => Ok(Expr::Const(Value::Int(*i))),
            Sexp::Float(f) => Ok(Expr::Const(Value::Float(*f))),
            Sexp::Bool(b) => Ok(Expr::Const(Value::Bool(*b))),
            Sexp::Str(text) => Ok(Expr::Const(self.vm.string(text.as_str()))),
            Sexp::Sym(sym) if sym == "nil" => Ok(Expr::Const(Value::Nil)),
            Sexp::Sym(_) => Ok(match self.resolve(name(s, "a variable")?, scope) {
                Place::Local(depth, slot) => Expr::Local { depth, slot },
                Place::Global(cell) => Expr::Global(cell),
            }),
            Sexp::List(items, Some(_)) if !items.is_empty() => err("a dotted list is not code"),
            Sexp::List(items, _) => match items.split_first() {
                None => Ok(Expr::Const(Value::Nil)),
                Some((Sexp::Sym(head), args)) if SPECIAL.contains(&head.as_str()) => {
                    self.special(head, args, scope)
                }
                Some((f, args)) => Ok(Expr::Call(
                    Box::new(self.expr(f, scope)?),
                    self.exprs(args, scope)?,
                )),
            },
        }
    }

    fn exprs(&mut self, forms: &[Sexp], scope: Option<&Scope>) -> R<Box<[Expr]>> {
        forms.iter().map(|f| self.expr(f, scope)).collect()
    }

    /// A sequence (`()` when empty).
    fn seq(&mut self, forms: &[Sexp], scope: Option<&Scope>) -> R<Expr> {
        let mut exprs = self.exprs(forms, scope)?.into_vec();
        Ok(match exprs.len() {
            0 => Expr::Const(Value::Nil),
            1 => exprs.pop().expect("one expression"),
            _ => Expr::Seq(exprs.into_boxed_slice()),
        })
    }

    fn resolve(&mut self, name: &str, scope: Option<&Scope>) -> Place {
        let mut depth = 0;
        let mut scope = scope;
        while let Some(s) = scope {
            if let Some(slot) = s.names.iter().rposition(|n| n == name) {
                return Place::Local(depth, slot as u32);
            }
            depth += 1;
            scope = s.parent;
        }
        Place::Global(self.vm.global_cell(name))
    }

    fn special(&mut self, head: &str, args: &[Sexp], scope: Option<&Scope>) -> R<Expr> {
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                err(format!("`{head}` takes {n} operands, got {}", args.len()))
            }
        };
        match head {
            "quote" => {
                arity(1)?;
                Ok(Expr::Const(self.datum(&args[0])))
            }
            "if" => {
                if !(2..=3).contains(&args.len()) {
                    return err("`if` takes a test, a consequent and an optional alternative");
                }
                let otherwise = match args.get(2) {
                    Some(e) => self.expr(e, scope)?,
                    None => Expr::Const(Value::Nil),
                };
                Ok(Expr::If(
                    Box::new(self.expr(&args[0], scope)?),
                    Box::new(self.expr(&args[1], scope)?),
                    Box::new(otherwise),
                ))
            }
            "define" => self.define(args, scope),
            "set!" => {
                arity(2)?;
                let value = Box::new(self.expr(&args[1], scope)?);
                Ok(match self.resolve(name(&args[0], "assigned")?, scope) {
                    Place::Local(depth, slot) => Expr::SetLocal { depth, slot, value },
                    Place::Global(cell) => Expr::SetGlobal {
                        cell,
                        value,
                        define: false,
                    },
                })
            }
            "lambda" => match args.split_first() {
                Some((params, body)) => {
                    Ok(Expr::Lambda(leak(self.lambda(None, params, body, scope)?)))
                }
                None => err("`lambda` needs parameters"),
            },
            "let" | "let*" => {
                let Some((Sexp::List(bindings, None), body)) = args.split_first() else {
                    return err(format!("`{head}` needs a list of bindings"));
                };
                if head == "let*" && bindings.len() > 1 {
                    // (let* (b1 b2 ...) body) = (let (b1) (let* (b2 ...) body))
                    let inner = Sexp::List(
                        [
                            vec![
                                Sexp::Sym("let*".into()),
                                Sexp::List(bindings[1..].to_vec(), None),
                            ],
                            body.to_vec(),
                        ]
                        .concat(),
                        None,
                    );
                    return self.let_(&bindings[..1], std::slice::from_ref(&inner), scope);
                }
                self.let_(bindings, body, scope)
            }
            "begin" => self.seq(args, scope),
            "and" | "or" => {
                let exprs = self.exprs(args, scope)?;
                Ok(match (exprs.len(), head) {
                    (0, "and") => Expr::Const(Value::Bool(true)),
                    (0, _) => Expr::Const(Value::Bool(false)),
                    (_, "and") => Expr::And(exprs),
                    _ => Expr::Or(exprs),
                })
            }
            "when" | "unless" => {
                let Some((test, body)) = args.split_first() else {
                    return err(format!("`{head}` needs a test"));
                };
                let test = Box::new(self.expr(test, scope)?);
                let (then, otherwise) = (self.seq(body, scope)?, Expr::Const(Value::Nil));
                Ok(if head == "when" {
                    Expr::If(test, Box::new(then), Box::new(otherwise))
                } else {
                    Expr::If(test, Box::new(otherwise), Box::new(then))
                })
            }
            "cond" => self.cond(args, scope),
            "while" => match args.split_first() {
                Some((test, body)) => Ok(Expr::While(
                    Box::new(self.expr(test, scope)?),
                    Box::new(self.seq(body, scope)?),
                )),
                None => err("`while` needs a test"),
            },
            _ => unreachable!("every special form is handled"),
        }
    }

    /// `(define name value)` or `(define (name . params) body...)`.
    fn define(&mut self, args: &[Sexp], scope: Option<&Scope>) -> R<Expr> {
        let (target, value) = match args {
            [Sexp::List(sig, tail), body @ ..] if !sig.is_empty() && !body.is_empty() => {
                let target = name(&sig[0], "defined")?;
                let params = Sexp::List(sig[1..].to_vec(), tail.clone());
                let lambda = self.lambda(Some(target), &params, body, scope)?;
                (target, Expr::Lambda(leak(lambda)))
            }
            [target, value] => {
                let target = name(target, "defined")?;
                let value = match value {
                    // Name the lambda after the variable, for messages.
                    Sexp::List(items, None)
                        if items.len() >= 2 && items[0] == Sexp::Sym("lambda".into()) =>
                    {
                        let lambda = self.lambda(Some(target), &items[1], &items[2..], scope)?;
                        Expr::Lambda(leak(lambda))
                    }
                    _ => self.expr(value, scope)?,
                };
                (target, value)
            }
            _ => return err("bad `define`"),
        };
        let value = Box::new(value);
        match (scope, self.resolve(target, scope)) {
            (None, Place::Global(cell)) => Ok(Expr::SetGlobal {
                cell,
                value,
                define: true,
            }),
            (Some(_), Place::Local(0, slot)) => Ok(Expr::SetLocal {
                depth: 0,
                slot,
                value,
            }),
            _ => err(format!(
                "`define` of `{target}` must be at top level or directly in a body"
            )),
        }
    }

    /// A lambda with parameter list `params` (a list, a dotted list or a single rest name).
    fn lambda(
        &mut self,
        name_: Option<&str>,
        params: &Sexp,
        body: &[Sexp],
        scope: Option<&Scope>,
    ) -> R<Lambda> {
        let (required, rest): (&[Sexp], Option<&Sexp>) = match params {
            Sexp::List(items, tail) => (items, tail.as_deref()),
            rest @ Sexp::Sym(_) => (&[], Some(rest)),
            _ => return err("bad parameter list"),
        };
        let mut names = Vec::new();
        for p in required.iter().chain(rest) {
            names.push(name(p, "a parameter")?.to_string());
        }
        self.frame(name_, names, required.len(), rest.is_some(), body, scope)
    }

    /// A frame's code: `names` are its first slots (`params` of them required, then the rest
    /// list if `rest`), followed by the body's internal definitions.
    fn frame(
        &mut self,
        name_: Option<&str>,
        mut names: Vec<String>,
        params: usize,
        rest: bool,
        body: &[Sexp],
        scope: Option<&Scope>,
    ) -> R<Lambda> {
        // Which slots need a lock: any name that `set!` assigns anywhere in the body (nested
        // lambdas included, and shadowing ignored: a harmless over-approximation).
        let mut assigned = Vec::new();
        collect_assigned(body, &mut assigned);
        let kind = |name: &String, otherwise| {
            if assigned.contains(name) {
                SlotKind::Cell
            } else {
                otherwise
            }
        };
        let mut slots: Vec<SlotKind> = names.iter().map(|n| kind(n, SlotKind::Fixed)).collect();
        let mut defines = Vec::new();
        collect_defines(body, &mut defines);
        for name in defines {
            match names.iter().position(|n| *n == name) {
                // Defined twice, or a parameter redefined: written more than once.
                Some(i) => slots[i] = SlotKind::Cell,
                None => {
                    slots.push(kind(&name, SlotKind::Once));
                    names.push(name);
                }
            }
        }
        let inner = Scope {
            names,
            parent: scope,
        };
        let body = self.seq(body, Some(&inner))?;
        Ok(Lambda {
            name: name_.map(Into::into),
            params,
            rest,
            slots: slots.into_boxed_slice(),
            body,
        })
    }

    /// `(let ((name value) ...) body...)`: the values in the current scope, the body in a new
    /// frame.
    fn let_(&mut self, bindings: &[Sexp], body: &[Sexp], scope: Option<&Scope>) -> R<Expr> {
        let mut names = Vec::new();
        let mut inits = Vec::new();
        for binding in bindings {
            let Sexp::List(pair, None) = binding else {
                return err("a `let` binding is `(name value)`");
            };
            let [target, value] = pair.as_slice() else {
                return err("a `let` binding is `(name value)`");
            };
            names.push(name(target, "bound")?.to_string());
            inits.push(self.expr(value, scope)?);
        }
        let n = names.len();
        let code = self.frame(None, names, n, false, body, scope)?;
        Ok(Expr::Let(leak(code), inits.into_boxed_slice()))
    }

    /// `(cond (test body...) ... (else body...))` as nested `if`s.
    fn cond(&mut self, clauses: &[Sexp], scope: Option<&Scope>) -> R<Expr> {
        let Some((first, rest)) = clauses.split_first() else {
            return Ok(Expr::Const(Value::Nil));
        };
        let Sexp::List(clause, None) = first else {
            return err("a `cond` clause is `(test body...)`");
        };
        match clause.split_first() {
            Some((Sexp::Sym(e), body)) if e == "else" => self.seq(body, scope),
            Some((test, body)) => {
                let test = self.expr(test, scope)?;
                let then = if body.is_empty() {
                    // (cond (x) ...) yields x itself; rare enough to evaluate it twice.
                    self.expr(&clause[0], scope)?
                } else {
                    self.seq(body, scope)?
                };
                Ok(Expr::If(
                    Box::new(test),
                    Box::new(then),
                    Box::new(self.cond(rest, scope)?),
                ))
            }
            None => err("empty `cond` clause"),
        }
    }

    /// The value of a quoted datum.
    fn datum(&mut self, s: &Sexp) -> Value {
        match s {
            Sexp::Int(i) => Value::Int(*i),
            Sexp::Float(f) => Value::Float(*f),
            Sexp::Bool(b) => Value::Bool(*b),
            Sexp::Str(text) => self.vm.string(text.as_str()),
            Sexp::Sym(name) if name == "nil" => Value::Nil,
            Sexp::Sym(name) => Value::Sym(self.vm.intern(name)),
            Sexp::List(items, tail) => {
                let mut list = match tail {
                    Some(tail) => self.datum(tail),
                    None => Value::Nil,
                };
                for item in items.iter().rev() {
                    let item = self.datum(item);
                    list = super::value::cons(&mut self.vm.m, item, list);
                }
                list
            }
        }
    }
}

/// Adds the names that `define` forms in `body` (directly, or inside `begin`) bind, once per
/// `define`.
fn collect_defines(body: &[Sexp], names: &mut Vec<String>) {
    for form in body {
        let Sexp::List(items, None) = form else {
            continue;
        };
        match items.as_slice() {
            [Sexp::Sym(head), target, ..] if head == "define" => {
                let target = match target {
                    Sexp::List(sig, _) => sig.first(),
                    other => Some(other),
                };
                if let Some(Sexp::Sym(name)) = target {
                    names.push(name.clone());
                }
            }
            [Sexp::Sym(head), rest @ ..] if head == "begin" => collect_defines(rest, names),
            _ => {}
        }
    }
}

/// Adds the names that `set!` forms anywhere in `forms` assign.
fn collect_assigned(forms: &[Sexp], names: &mut Vec<String>) {
    for form in forms {
        if let Sexp::List(items, _) = form {
            if let [Sexp::Sym(head), Sexp::Sym(name), ..] = items.as_slice() {
                if head == "set!" && !names.contains(name) {
                    names.push(name.clone());
                }
            }
            collect_assigned(items, names);
        }
    }
}
