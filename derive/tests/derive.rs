//! Compiles and runs derived impls against a stand-in `ftgc` crate (this test crate itself,
//! under the name `ftgc`) whose `Trace` and `Tracer` traits have the same shape as the real
//! ones. `deny(warnings)` makes any warning in the generated code fail the build, and clippy on
//! `--all-targets` checks the generated code as well.
#![deny(warnings)]
#![allow(missing_docs, dead_code)]

extern crate self as ftgc;

use std::marker::PhantomData;

use ftgc_derive::Trace;

/// Same shape as `ftgc::Trace`.
///
/// # Safety
///
/// Stand-in: implementing it guards no memory here (ftgc's `Trace` has the real contract).
pub unsafe trait Trace {
    const NEEDS_TRACE: bool = true;
    const HOLDS_HANDLES: bool = true;

    fn trace<V: Tracer>(&self, tracer: &mut V);

    #[doc(hidden)]
    #[inline]
    fn trace_slice<V: Tracer>(slice: &[Self], tracer: &mut V)
    where
        Self: Sized,
    {
        if Self::NEEDS_TRACE {
            for item in slice {
                item.trace(tracer);
            }
        }
    }
}

/// Same shape as `ftgc::Tracer` (sealed there; here it just records edges).
pub trait Tracer {
    fn edge(&mut self, id: u32);
}

/// Records every reported handle.
#[derive(Default)]
struct Log(Vec<u32>);

impl Tracer for Log {
    fn edge(&mut self, id: u32) {
        self.0.push(id);
    }
}

/// A stand-in handle that reports its id.
struct Gc<T: ?Sized> {
    id: u32,
    _marker: PhantomData<Box<T>>,
}

fn gc<T>(id: u32) -> Gc<T> {
    Gc {
        id,
        _marker: PhantomData,
    }
}

// SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
unsafe impl<T: ?Sized> Trace for Gc<T> {
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        tracer.edge(self.id);
    }
}

macro_rules! leaf {
    ($($t:ty),*) => {$(
        // SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
        unsafe impl Trace for $t {
            const NEEDS_TRACE: bool = false;
            const HOLDS_HANDLES: bool = false;
            fn trace<V: Tracer>(&self, _: &mut V) {}
        }
    )*};
}
leaf!(u8, u32, String);

// SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
unsafe impl<T: Trace> Trace for Vec<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        T::trace_slice(self, tracer);
    }
}

// SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        (**self).trace(tracer);
    }
}

// SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
unsafe impl<T: Trace> Trace for Option<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        if let Some(t) = self {
            t.trace(tracer);
        }
    }
}

// SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
unsafe impl<T: Trace + ?Sized> Trace for &T {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        (**self).trace(tracer);
    }
}

// SAFETY: the stand-in trait guards no memory; these impls only record edges for the tests
// (unlike ftgc's, `&T` traces through and `Gc` keeps the default constants).
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    const HOLDS_HANDLES: bool = T::HOLDS_HANDLES;
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        T::trace_slice(self, tracer);
    }
}

fn edges<T: Trace>(value: &T) -> Vec<u32> {
    let mut log = Log::default();
    value.trace(&mut log);
    log.0
}

/// A type without a `Trace` impl, only usable in skipped fields.
struct Opaque;

#[derive(Trace)]
struct Named {
    a: Gc<u8>,
    #[trace(skip)]
    opaque: Opaque,
    b: Vec<Gc<String>>,
}

#[derive(Trace)]
struct Tuple(#[trace(skip)] Opaque, Gc<u8>, #[trace(skip)] Opaque);

#[derive(Trace)]
struct Unit;

#[derive(Trace)]
struct EmptyBraces {}

#[derive(Trace)]
struct AllSkipped(#[trace(skip)] Opaque, #[trace(skip)] Gc<u8>);

#[derive(Trace)]
struct Leafy {
    n: u32,
    s: String,
}

#[derive(Trace)]
enum Never {}

#[derive(Trace)]
enum Color {
    Red,
    Green = 7,
}

#[derive(Trace)]
enum Expr<T> {
    Lit(Gc<T>),
    Add(Box<Expr<T>>, Box<Expr<T>>),
    Name(#[trace(skip)] String),
}

#[derive(Trace)]
enum Mixed {
    Unit,
    Named {
        x: Gc<u8>,
        #[trace(skip)]
        y: Opaque,
        z: Gc<u16>,
    },
    AllSkipped {
        #[trace(skip)]
        y: Opaque,
    },
    Tuple(#[trace(skip)] Opaque, Gc<u8>),
    Single(u32),
}

/// `Self`-recursion through `Option<Gc<..>>` (per-field bounds would overflow here).
#[derive(Trace)]
struct Node {
    next: Option<Gc<Node>>,
    kids: Vec<Self>,
}

/// Mutual recursion: `not_leaf` on one side breaks the constant cycle.
#[derive(Trace)]
#[trace(not_leaf)]
struct A {
    b: Vec<B>,
}

#[derive(Trace)]
struct B {
    a: Option<Box<A>>,
    n: u32,
    g: Gc<u8>,
}

/// Lifetimes, bounds, defaults, const parameters and a where clause.
#[derive(Trace)]
struct Generic<'a, T: ?Sized, U = u8, const N: usize = 2>
where
    U: Copy,
{
    t: &'a T,
    u: [U; N],
}

/// User names that look like the generated ones.
#[derive(Trace)]
#[allow(non_camel_case_types)]
struct Clash<__V> {
    __f0: Gc<u8>,
    __tracer: __V,
    __f1: Gc<u8>,
}

/// Raw identifiers.
#[derive(Trace)]
struct Raw {
    r#type: Gc<u8>,
}

#[test]
fn structs() {
    let named = Named {
        a: gc(1),
        opaque: Opaque,
        b: vec![gc(2), gc(3)],
    };
    assert_eq!(edges(&named), [1, 2, 3]);
    const { assert!(Named::NEEDS_TRACE) };

    assert_eq!(edges(&Tuple(Opaque, gc(4), Opaque)), [4]);
    const { assert!(Tuple::NEEDS_TRACE) };

    assert_eq!(edges(&Unit), [] as [u32; 0]);
    assert_eq!(edges(&EmptyBraces {}), [] as [u32; 0]);
    assert_eq!(edges(&AllSkipped(Opaque, gc(5))), [] as [u32; 0]);
    const { assert!(!Unit::NEEDS_TRACE && !EmptyBraces::NEEDS_TRACE) };
    const { assert!(!AllSkipped::NEEDS_TRACE) };

    let leafy = Leafy {
        n: 1,
        s: String::new(),
    };
    assert_eq!(edges(&leafy), [] as [u32; 0]);
    const { assert!(!Leafy::NEEDS_TRACE && !Leafy::HOLDS_HANDLES) };
}

#[test]
fn enums() {
    const { assert!(!Never::NEEDS_TRACE && !Color::NEEDS_TRACE) };
    assert_eq!(edges(&Color::Red), [] as [u32; 0]);
    assert_eq!(edges(&Color::Green), [] as [u32; 0]);

    const { assert!(Expr::<u8>::NEEDS_TRACE) };
    let e = Expr::Add(
        Box::new(Expr::Lit(gc::<u8>(1))),
        Box::new(Expr::Add(
            Box::new(Expr::Name("x".into())),
            Box::new(Expr::Lit(gc(2))),
        )),
    );
    assert_eq!(edges(&e), [1, 2]);

    const { assert!(Mixed::NEEDS_TRACE) };
    let m = Mixed::Named {
        x: gc(1),
        y: Opaque,
        z: gc(2),
    };
    assert_eq!(edges(&m), [1, 2]);
    assert_eq!(edges(&Mixed::Tuple(Opaque, gc(3))), [3]);
    assert_eq!(edges(&Mixed::AllSkipped { y: Opaque }), [] as [u32; 0]);
    assert_eq!(edges(&Mixed::Unit), [] as [u32; 0]);
    assert_eq!(edges(&Mixed::Single(9)), [] as [u32; 0]);
}

#[test]
fn recursion() {
    const { assert!(Node::NEEDS_TRACE && A::NEEDS_TRACE && B::NEEDS_TRACE) };
    const { assert!(Node::HOLDS_HANDLES && A::HOLDS_HANDLES && B::HOLDS_HANDLES) };
    let node = Node {
        next: Some(gc(1)),
        kids: vec![Node {
            next: Some(gc(2)),
            kids: vec![],
        }],
    };
    assert_eq!(edges(&node), [1, 2]);
    let inner = A {
        b: vec![B {
            a: None,
            n: 1,
            g: gc(4),
        }],
    };
    let a = A {
        b: vec![B {
            a: Some(Box::new(inner)),
            n: 0,
            g: gc(3),
        }],
    };
    assert_eq!(
        edges(&a),
        [4, 3],
        "through the mutual recursion, in field order"
    );
}

#[test]
fn generics_and_names() {
    let t = gc::<u8>(7);
    let g: Generic<'_, Gc<u8>> = Generic { t: &t, u: [1, 2] };
    assert_eq!(edges(&g), [7]);
    const { assert!(Generic::<'static, Gc<u8>>::NEEDS_TRACE) };
    const { assert!(!Generic::<'static, u8, u8, 4>::NEEDS_TRACE) };

    let c = Clash {
        __f0: gc(1),
        __tracer: gc::<u8>(2),
        __f1: gc(3),
    };
    assert_eq!(edges(&c), [1, 2, 3]);

    assert_eq!(edges(&Raw { r#type: gc(5) }), [5]);
}
