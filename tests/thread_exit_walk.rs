//! Threads that allocate, hand their objects to a survivor and exit, again and again, while
//! another thread walks the heap in a loop: mimalloc's thread teardown must never touch a
//! GC-heap page during a walk (`heap::release_thread_pages`). Without that, this crashed
//! (SIGSEGV in mimalloc's free-list collection) within seconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ftgc::{Gc, GcMutex, Mutator, Trace};

#[derive(Trace)]
struct Node {
    next: GcMutex<Option<Gc<Node>>>,
    payload: [u64; 4],
}

#[test]
fn exiting_threads_never_race_a_heap_walk() {
    let secs: u64 = std::env::var("FTGC_EXIT_WALK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // A corrupted free list can make the walk loop forever: fail instead of hanging.
    let (finished, watchdog) = std::sync::mpsc::channel::<()>();
    let limit = Duration::from_secs(secs * 4 + 20);
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watchdog.recv_timeout(limit) {
            eprintln!("thread_exit_walk: not done after {limit:?}: a heap walk is stuck");
            std::process::abort();
        }
    });
    let done = Arc::new(AtomicBool::new(false));
    // Objects that outlive their allocating threads: their pages stay in use.
    let kept: Arc<Mutex<Vec<Gc<Node>>>> = Arc::default();
    let spawner_exits = Arc::new(AtomicU64::new(0));
    let spawner = {
        let (done, kept, exits) = (done.clone(), kept.clone(), spawner_exits.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let threads: Vec<_> = (0..4)
                    .map(|t| {
                        let kept = kept.clone();
                        std::thread::spawn(move || {
                            let mut m = Mutator::new();
                            let mut mine = Vec::new();
                            for i in 0..200u64 {
                                let n = Gc::new(
                                    &mut m,
                                    Node {
                                        next: GcMutex::new(None),
                                        payload: [i; 4],
                                    },
                                );
                                if i % 3 == t % 3 {
                                    mine.push(n); // some die at once, freeing into the page
                                }
                            }
                            let mut k = kept.lock().unwrap();
                            k.extend(mine);
                            let len = k.len();
                            if len > 20_000 {
                                k.drain(..len / 2);
                            }
                            // Exits: the Mutator goes, then mimalloc's thread teardown runs.
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                    exits.fetch_add(1, Ordering::Relaxed);
                }
            }
            exits.load(Ordering::Relaxed)
        })
    };
    let mut m = Mutator::new();
    let start = Instant::now();
    let mut collections = 0u64;
    // Until the time is up and enough happened (a slow machine runs longer; the watchdog
    // bounds it).
    while start.elapsed() < Duration::from_secs(secs)
        || collections <= 100
        || spawner_exits.load(Ordering::Relaxed) <= 100
    {
        m.collect();
        collections += 1;
    }
    done.store(true, Ordering::Relaxed);
    let exits = m.detached(|| spawner.join().unwrap());
    let objects = m.collect().objects;
    // The loop above ran past 100 exits and 100 collections; what this test checks is that
    // none of them crashed or corrupted the heap.
    println!("{secs} s: {exits} thread exits, {collections} collections, {objects} objects left");
    drop(kept);
    let _ = finished.send(());
}
