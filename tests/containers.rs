//! Every std container's `Trace` impl reports its handles: a cycle through each one is found
//! (a container that forgot its handles would leak the cycle), and the derive works on enums
//! and generic types of the real crate. Also: a lock leaked while held cannot block a
//! collection.

mod common;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::sync::{Mutex, OnceLock, RwLock};

use common::{DropToken, Drops};
use ftgc::{Gc, GcMutex, Mutator, Trace};

/// Declares a node type `$name` whose handles sit inside a `$ty` (which names `$name`), builds
/// a ⇄ b through it, drops both, collects, and checks that both were freed.
macro_rules! cycle_through {
    ($m:expr, $name:ident, $ty:ty, $wrap:expr) => {{
        #[derive(Trace)]
        struct $name {
            slot: Mutex<Option<$ty>>,
            #[trace(skip)]
            _token: DropToken,
        }
        let wrap: fn(Gc<$name>) -> $ty = $wrap;
        let drops = Drops::new();
        let a = Gc::new(
            $m,
            $name {
                slot: Mutex::new(None),
                _token: drops.token(),
            },
        );
        let b = Gc::new(
            $m,
            $name {
                slot: Mutex::new(None),
                _token: drops.token(),
            },
        );
        *a.get($m).slot.lock().unwrap() = Some(wrap(b.clone()));
        *b.get($m).slot.lock().unwrap() = Some(wrap(a.clone()));
        drop((a, b));
        $m.collect();
        assert_eq!(
            drops.get(),
            2,
            "cycle through {} not collected",
            stringify!($ty)
        );
    }};
}

#[test]
fn cycles_through_every_container_are_collected() {
    let m = &mut Mutator::new();
    cycle_through!(m, V, Vec<Gc<V>>, |g| vec![g]);
    cycle_through!(m, D, VecDeque<Gc<D>>, |g| VecDeque::from([g]));
    cycle_through!(m, L, LinkedList<Gc<L>>, |g| LinkedList::from([g]));
    cycle_through!(m, B, Box<Gc<B>>, Box::new);
    cycle_through!(m, S, Box<[Gc<S>]>, |g| vec![g].into_boxed_slice());
    cycle_through!(m, A, [Gc<A>; 2], |g| [g.clone(), g]);
    cycle_through!(m, T, (u8, Gc<T>, String), |g| (1, g, String::new()));
    cycle_through!(m, R, Result<Gc<R>, String>, Ok);
    cycle_through!(m, Hm, HashMap<u32, Gc<Hm>>, |g| HashMap::from([(1, g)]));
    cycle_through!(m, Hk, HashMap<Gc<Hk>, u32>, |g| HashMap::from([(g, 1)]));
    cycle_through!(m, Bm, BTreeMap<u32, Gc<Bm>>, |g| BTreeMap::from([(1, g)]));
    cycle_through!(m, Hs, HashSet<Gc<Hs>>, |g| HashSet::from([g]));
    cycle_through!(m, Bs, BTreeSet<Gc<Bs>>, |g| BTreeSet::from([g]));
    cycle_through!(m, Bh, BinaryHeap<Gc<Bh>>, |g| BinaryHeap::from([g]));
    cycle_through!(m, Rw, RwLock<Gc<Rw>>, RwLock::new);
    cycle_through!(m, Ol, OnceLock<Gc<Ol>>, OnceLock::from);
    cycle_through!(m, Gm, ftgc::GcMutex<Gc<Gm>>, ftgc::GcMutex::new);
}

#[allow(dead_code)]
#[derive(Trace)]
enum Expr<T: Trace + Send + Sync + 'static> {
    Lit(Gc<T>),
    Add(Box<Expr<T>>, Box<Expr<T>>),
    Name(#[trace(skip)] String),
    Nothing,
}

#[derive(Trace)]
struct Env<T: Trace + Send + Sync + 'static> {
    body: Mutex<Expr<Env<T>>>,
    extra: Option<T>,
    #[trace(skip)]
    _token: DropToken,
}

#[test]
fn derived_enums_and_generics_trace_every_variant() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    const { assert!(<Expr<u32> as Trace>::NEEDS_TRACE) };
    const { assert!(!<(u32, String) as Trace>::NEEDS_TRACE) };
    let env = Gc::new(
        &mut m,
        Env::<u32> {
            body: Mutex::new(Expr::Nothing),
            extra: Some(1),
            _token: drops.token(),
        },
    );
    // The cycle runs through a nested variant: Add(Name, Add(Lit(env), Nothing)).
    *env.get(&m).body.lock().unwrap() = Expr::Add(
        Box::new(Expr::Name("x".into())),
        // (Name's string is never read: it only has to be skipped by the derived impl.)
        Box::new(Expr::Add(
            Box::new(Expr::Lit(env.clone())),
            Box::new(Expr::Nothing),
        )),
    );
    drop(env);
    m.collect();
    assert_eq!(drops.get(), 1);
}

#[derive(Trace)]
struct Locked {
    edge: Mutex<Option<Gc<Locked>>>,
    #[trace(skip)]
    _token: DropToken,
}

#[test]
fn a_lock_leaked_while_held_never_blocks_a_collection() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let a = Gc::new(
        &mut m,
        Locked {
            edge: Mutex::new(None),
            _token: drops.token(),
        },
    );
    *a.get(&m).edge.lock().unwrap() = Some(a.clone());
    std::mem::forget(a.get(&m).edge.lock().unwrap()); // held forever
    drop(a);
    // The collector cannot look inside: the self-cycle is kept (a leak, never a hang or a
    // wrong free), consistently in every pass.
    m.collect();
    m.collect();
    assert_eq!(drops.get(), 0);
}

#[derive(Trace)]
struct GcLocked {
    edge: ftgc::GcMutex<Option<Gc<GcLocked>>>,
    #[trace(skip)]
    _token: DropToken,
}

#[test]
fn a_gc_mutex_is_traced_without_locking_even_with_a_leaked_guard() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let a = Gc::new(
        &mut m,
        GcLocked {
            edge: ftgc::GcMutex::new(None),
            _token: drops.token(),
        },
    );
    *a.get(&m).edge.lock() = Some(a.clone());
    assert!(a.get(&m).edge.try_lock().is_some(), "unlocked again");
    std::mem::forget(a.get(&m).edge.lock()); // held forever; the guard can never be used again
    assert!(a.get(&m).edge.try_lock().is_none());
    drop(a);
    // The collector reads the contents directly: the self-cycle is found and freed.
    m.collect();
    assert_eq!(drops.get(), 1);
}

/// Holds handles, but only to leaf values: it can never be part of a cycle.
#[derive(Trace)]
struct Item {
    value: u64,
    name: Gc<String>,
    tags: Vec<Gc<Vec<u8>>>,
}

/// Mutually recursive through `Gc`: tracked.
#[derive(Trace)]
struct Left {
    right: GcMutex<Option<Gc<Right>>>,
}

#[derive(Trace)]
struct Right {
    left: Option<Gc<Left>>,
    name: Gc<String>,
}

#[test]
fn objects_holding_only_leaf_handles_are_untracked_leaves() {
    const { assert!(!<Item as Trace>::NEEDS_TRACE && <Item as Trace>::HOLDS_HANDLES) };
    const { assert!(<Left as Trace>::NEEDS_TRACE && <Right as Trace>::NEEDS_TRACE) };
    let mut m = Mutator::new();
    let name = Gc::new(&mut m, "item".to_string());
    let tag = Gc::new(&mut m, vec![1u8]);
    let item = Gc::new(
        &mut m,
        Item {
            value: 1,
            name: name.clone(),
            tags: vec![tag],
        },
    );
    assert!(
        !Gc::is_tracked(&item),
        "CPython untracks tuples of atomic objects likewise"
    );
    // A list of such items is one tracked object whose elements the collector never visits.
    let list = Gc::new(&mut m, GcMutex::new(vec![item.clone(); 1000]));
    assert!(Gc::is_tracked(&list));
    assert!(
        m.referents(&ftgc::GcAny::from(list.clone())).is_empty(),
        "untracked items are not reported"
    );
    drop((list, item));
    assert_eq!(Gc::strong_count(&name), 1, "the items died with the list");

    // Mutually recursive types stay tracked, and their cycles are collected.
    let name = Gc::new(&mut m, "right".to_string());
    let left = Gc::new(
        &mut m,
        Left {
            right: GcMutex::new(None),
        },
    );
    let right = Gc::new(
        &mut m,
        Right {
            left: Some(left.clone()),
            name: name.clone(),
        },
    );
    *left.get(&m).right.lock() = Some(right);
    assert!(Gc::is_tracked(&left));
    drop(left);
    m.collect();
    assert_eq!(
        Gc::strong_count(&name),
        1,
        "the Left/Right cycle was collected"
    );
}
