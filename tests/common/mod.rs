//! Shared test fixtures: a graph node that counts its drops, the lock that serialises a
//! binary's tests, and panic messages.
#![allow(dead_code)]

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ftgc::{Gc, Mutator, Trace};

/// Counts drops of the objects that carry it; each test makes its own.
#[derive(Clone, Default)]
pub struct Drops(Arc<AtomicUsize>);

impl Drops {
    pub fn new() -> Drops {
        Drops::default()
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
}

/// Increments its counter when dropped.
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A node with any number of outgoing edges.
#[derive(Trace)]
pub struct Node {
    pub id: usize,
    pub edges: Mutex<Vec<Gc<Node>>>,
    #[trace(skip)]
    pub token: DropToken,
}

impl Node {
    pub fn new(m: &mut Mutator, id: usize, drops: &Drops) -> Gc<Node> {
        Gc::new(
            m,
            Node {
                id,
                edges: Mutex::new(Vec::new()),
                token: drops.token(),
            },
        )
    }

    pub fn link(m: &Mutator, from: &Gc<Node>, to: &Gc<Node>) {
        from.get(m).edges.lock().unwrap().push(to.clone());
    }
}

/// A ring of `n` nodes (node i → node i+1 mod n); returns the nodes.
pub fn ring(m: &mut Mutator, n: usize, drops: &Drops) -> Vec<Gc<Node>> {
    let nodes: Vec<_> = (0..n).map(|i| Node::new(m, i, drops)).collect();
    for i in 0..n {
        Node::link(m, &nodes[i], &nodes[(i + 1) % n]);
    }
    nodes
}

/// Serialises the tests of one binary that change process-wide settings or count what every
/// collection frees (each test binary compiles its own copy of this module: one lock each).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The message of a panic's payload (`&str` or `String`; empty otherwise).
pub fn panic_message(err: &(dyn Any + Send)) -> String {
    err.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
