//! A panicking destructor neither leaks nor corrupts: the rest is freed, then the panic resumes
//! on the thread that was destroying.
//!
//! Alone in its binary: the panicking garbage would surface in whichever test collects first.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use common::{DropToken, Drops, panic_message};
use ftgc::{Gc, Mutator, Trace};

struct Bomb(bool);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 {
            panic!("boom from a destructor");
        }
    }
}

#[derive(Trace)]
struct Node {
    next: Mutex<Option<Gc<Node>>>,
    #[trace(skip)]
    _bomb: Bomb,
    #[trace(skip)]
    _token: DropToken,
}

fn node(m: &mut Mutator, drops: &Drops, bomb: bool, next: Option<Gc<Node>>) -> Gc<Node> {
    Gc::new(
        m,
        Node {
            next: Mutex::new(next),
            _bomb: Bomb(bomb),
            _token: drops.token(),
        },
    )
}

#[test]
fn a_panicking_destructor_during_collection_and_during_release() {
    let mut m = Mutator::new();

    // 1. Garbage cycle of 4 with two bombs: collected; every value dropped; first panic resumed.
    let drops = Drops::new();
    let nodes: Vec<_> = (0..4)
        .map(|i| node(&mut m, &drops, i == 1 || i == 2, None))
        .collect();
    for i in 0..4 {
        *nodes[i].get(&m).next.lock().unwrap() = Some(nodes[(i + 1) % 4].clone());
    }
    let weak: Vec<_> = nodes.iter().map(Gc::downgrade).collect();
    drop(nodes);
    let err = catch_unwind(AssertUnwindSafe(|| m.collect())).expect_err("panic resumes");
    assert_eq!(panic_message(&*err), "boom from a destructor");
    assert_eq!(
        drops.get(),
        4,
        "every garbage value was dropped despite the panics"
    );
    assert!(weak.iter().all(|w| w.upgrade(&m).is_none()));

    // The collector is usable afterwards.
    let drops2 = Drops::new();
    let a = node(&mut m, &drops2, false, None);
    *a.get(&m).next.lock().unwrap() = Some(a.clone());
    drop(a);
    m.collect();
    assert_eq!(drops2.get(), 1);

    // 2. Reference-count release of a chain whose middle panics: the rest is still freed.
    let drops3 = Drops::new();
    let c = node(&mut m, &drops3, false, None);
    let b = node(&mut m, &drops3, true, Some(c));
    let a = node(&mut m, &drops3, false, Some(b));
    let err = catch_unwind(AssertUnwindSafe(|| drop(a))).expect_err("panic resumes");
    assert_eq!(panic_message(&*err), "boom from a destructor");
    assert_eq!(drops3.get(), 3, "a, b and c were all dropped");
}
