//! Allocation failure: `Gc::try_new` collects and retries, then hands the value back with
//! nothing left in the heap; `Gc::new` ends in `handle_alloc_error` (print and abort).
//!
//! The failure is real, not simulated: each scenario runs in a child process of this test
//! binary whose mimalloc may not take memory from the OS beyond one small arena reserved at
//! start-up (`MIMALLOC_DISALLOW_OS_ALLOC`, `MIMALLOC_RESERVE_OS_MEMORY`; mimalloc reads them
//! once, so only a fresh process can have them). The rest of the process allocates through the
//! system allocator and is unaffected.

mod common;

use std::process::{Command, Output};

use common::{DropToken, Drops};

use ftgc::{Gc, GcMutex, Mutator, Reason, Trace};

/// Runs the ignored test `name` of this binary in a child process with a 64 MiB GC memory cap.
fn run_child(name: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MIMALLOC_DISALLOW_OS_ALLOC", "1")
        .env("MIMALLOC_RESERVE_OS_MEMORY", "64MiB")
        .output()
        .expect("spawn the child test process")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    payload: [u64; 120],
    #[trace(skip)]
    _counted: DropToken,
    next: GcMutex<Option<Gc<Node>>>,
}

// The error hands the ~1 KiB value back by design.
#[allow(clippy::result_large_err)]
fn node(m: &mut Mutator, tag: u64, drops: &Drops) -> Result<Gc<Node>, ftgc::AllocError<Node>> {
    Gc::try_new(
        m,
        Node {
            payload: [tag; 120],
            _counted: drops.token(),
            next: GcMutex::new(None),
        },
    )
}

/// More than 64 MiB of ~1 KiB objects: reaching it means the cap did not take effect.
const CAP: usize = 1 << 17;

#[test]
fn try_new_collects_before_failing_then_returns_the_value_untouched() {
    let out = run_child("child_try_new");
    assert!(out.status.success(), "child failed: {}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("child_try_new: ok"),
        "child did not finish: {}",
        describe(&out)
    );
}

#[test]
#[ignore = "run in a child process by try_new_collects_before_failing_then_returns_the_value_untouched"]
fn child_try_new() {
    let mut m = Mutator::new();
    let c = ftgc::collector();
    let drops = Drops::new();

    // 1. Fill the capped memory with garbage cycles while automatic collection is off: the
    //    allocation that finds no memory must collect them and succeed.
    c.disable();
    let mut pairs = 0;
    loop {
        let a = node(&mut m, 1, &drops).expect("garbage is collected before an allocation fails");
        let b = node(&mut m, 2, &drops).expect("garbage is collected before an allocation fails");
        *a.get(&m).next.lock() = Some(b.clone());
        *b.get(&m).next.lock() = Some(a);
        pairs += 1;
        if let Some(s) = c.last_stats().filter(|s| s.reason == Reason::OutOfMemory) {
            assert!(
                s.collected > 0,
                "the out-of-memory collection freed nothing"
            );
            break;
        }
        assert!(pairs < CAP, "the memory cap did not take effect");
    }
    println!("out-of-memory collection after {pairs} garbage pairs");

    // 2. Fill it with live objects: the first failure hands the value back, undropped.
    let mut live = Vec::new();
    let err = loop {
        match node(&mut m, 7, &drops) {
            Ok(n) => live.push(n),
            Err(e) => break e,
        }
        assert!(live.len() < CAP, "the memory cap did not take effect");
    };
    let message = err.to_string();
    assert!(
        message.contains("out of memory") && message.contains("Node"),
        "unclear message: {message}"
    );
    assert!(err.layout().size() >= size_of::<Node>());
    let dropped_before = drops.get();
    let value = err.into_inner();
    assert_eq!(value.payload, [7; 120], "the value came back intact");
    assert_eq!(drops.get(), dropped_before, "and undropped");
    drop(value);
    assert_eq!(drops.get(), dropped_before + 1);

    // 3. Nothing half-built is left: the heap holds exactly the live objects.
    let stats = m.collect();
    assert_eq!(
        stats.objects,
        live.len(),
        "the heap walk finds exactly the live objects after a failed allocation"
    );
    assert_eq!(stats.collected, 0);
    for n in &live {
        assert_eq!(n.get(&m).payload[0], 7);
    }

    // 4. Freed memory is allocatable again, in the GC heap and the leaf heap.
    live.truncate(live.len() / 2);
    node(&mut m, 8, &drops).expect("memory freed by dropping objects is reused");
    let mut leaves = Vec::new();
    let leaf_err = loop {
        match Gc::try_new(&mut m, [9u64; 128]) {
            Ok(l) => leaves.push(l),
            Err(e) => break e,
        }
        assert!(leaves.len() < CAP, "the memory cap did not take effect");
    };
    assert_eq!(leaf_err.into_inner(), [9u64; 128]);
    drop(leaves);
    Gc::try_new(&mut m, [9u64; 128]).expect("leaf memory is reused");
    c.enable();
    println!(
        "child_try_new: ok ({} live objects at the failure)",
        stats.objects
    );
}

#[test]
fn new_ends_in_handle_alloc_error() {
    let out = run_child("child_new");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "child survived: {}", describe(&out));
    assert!(
        stderr.contains("memory allocation of") && stderr.contains("failed"),
        "handle_alloc_error's message is missing: {}",
        describe(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("child_new: survived"),
        "{}",
        describe(&out)
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "aborted (SIGABRT): {}",
            describe(&out)
        );
    }
}

#[test]
#[ignore = "run in a child process by new_ends_in_handle_alloc_error"]
fn child_new() {
    let mut m = Mutator::new();
    let drops = Drops::new();
    let mut live = Vec::new();
    for _ in 0..CAP {
        live.push(Gc::new(
            &mut m,
            Node {
                payload: [3; 120],
                _counted: drops.token(),
                next: GcMutex::new(None),
            },
        ));
    }
    println!("child_new: survived {} allocations", live.len());
}
