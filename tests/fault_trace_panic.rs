//! A `Trace` impl that panics abandons the collection: the panic resumes on the collecting
//! thread with its own message, nothing is freed, the world runs again, and the next
//! collection (once the impl behaves) finds everything it should.
//!
//! Alone in its binary: while the bomb is armed, every collection in the process panics.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, Node, panic_message, ring};
use ftgc::{Gc, Mutator, Root, Trace, Tracer};

/// Trace calls left before the bomb goes off (0: disarmed).
static FUSE: AtomicUsize = AtomicUsize::new(0);

/// Holds a child and panics in its `trace` when the fuse burns down.
struct Bomb {
    child: Gc<Node>,
}

// SAFETY: reports its one handle exactly once; the panic is the fault under test.
unsafe impl Trace for Bomb {
    fn trace<V: Tracer>(&self, tracer: &mut V) {
        let fuse = FUSE.load(Ordering::SeqCst);
        if fuse == 1 {
            FUSE.store(0, Ordering::SeqCst);
            panic!("Bomb::trace went off");
        }
        if fuse > 1 {
            FUSE.store(fuse - 1, Ordering::SeqCst);
        }
        self.child.trace(tracer);
    }
}

#[test]
fn a_panicking_trace_impl_abandons_the_collection_and_frees_nothing() {
    // A live, unrooted bomb is traced twice per collection (subtracting its references, then
    // marking it reachable); a rooted one once (marking it alive). Each phase, on the
    // sequential path and on the parallel one.
    for workers in [1, 2, 4] {
        ftgc::collector().set_workers(workers);
        for (rooted, fuse) in [(false, 1), (false, 2), (true, 1)] {
            abandoned_then_recovered(workers, rooted, fuse);
        }
    }
}

fn abandoned_then_recovered(workers: usize, rooted: bool, fuse: usize) {
    let case = format!("[{workers} workers, rooted {rooted}, trace call {fuse}]");
    let mut m = Mutator::new();
    let drops = Drops::new();
    drop(ring(&mut m, 5, &drops)); // real garbage: it must survive the abandoned collection
    let child = Node::new(&mut m, 42, &drops);
    let bomb = Gc::new(&mut m, Bomb { child });
    let root = rooted.then(|| Root::new(bomb.clone()));

    FUSE.store(fuse, Ordering::SeqCst);
    let err = catch_unwind(AssertUnwindSafe(|| m.collect()))
        .expect_err("a collection whose Trace impl panics must panic");
    let msg = panic_message(&*err);
    assert_eq!(
        msg, "Bomb::trace went off",
        "{case} the impl's own panic resumes"
    );
    assert_eq!(FUSE.load(Ordering::SeqCst), 0, "{case} the bomb went off");
    assert_eq!(
        drops.get(),
        0,
        "{case} an abandoned collection frees nothing"
    );

    // The world runs, the heap is intact, and the next collection works.
    assert_eq!(bomb.get(&m).child.get(&m).id, 42, "{case}");
    let stats = m.collect();
    assert_eq!(
        stats.collected, 5,
        "{case} the earlier garbage is found next time"
    );
    assert_eq!(drops.get(), 5, "{case}");
    drop(root);
    drop(bomb);
    assert_eq!(drops.get(), 6, "{case} the child died with its only owner");
}
