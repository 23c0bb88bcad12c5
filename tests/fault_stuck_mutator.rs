//! A mutator that does not reach a safepoint: the collection waits for it, warns after the
//! configured time naming the thread, and completes once the thread polls.
//!
//! Alone in its binary: it installs the process-wide warning handler.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftgc::{Gc, Mutator, Warning};

/// How long a late thread waits to be woken by the warning before it gives up and fails the
/// test (its mutator then unregisters, so the stop completes instead of hanging the run).
const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn a_late_mutator_is_named_in_a_warning_and_the_collection_completes_once_it_polls() {
    let c = ftgc::collector();
    let period = Duration::from_millis(50);
    c.set_stop_warning(period);

    // The handler records the warning and then wakes the late thread: the collection can only
    // complete after the warning was raised.
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let (wake, woken) = mpsc::channel::<()>();
    let seen = warnings.clone();
    let wake = Mutex::new(wake);
    c.set_warning_handler(Some(Box::new(move |w: &Warning| {
        seen.lock().unwrap().push(w.clone());
        let _ = wake.lock().unwrap().send(());
    })));

    let mut m = Mutator::new();
    let (ready, is_ready) = mpsc::channel();
    let late = std::thread::Builder::new()
        .name("never-safepoints".into())
        .spawn(move || {
            let mut tm = Mutator::new();
            let value = Gc::new(&mut tm, 7u64);
            ready.send(()).unwrap();
            // The fault: blocking while attached, with no safepoint and no `detached`.
            woken
                .recv_timeout(DEADLINE)
                .expect("no warning woke this thread: the stop never warned about it");
            let read = *value.get(&tm);
            tm.safepoint(); // parks here until the collection is over
            read
        })
        .unwrap();
    m.detached(|| is_ready.recv().unwrap());

    let stats = m.collect();
    assert!(
        stats.stop_time >= period,
        "the stop waited for the late thread: {:?}",
        stats.stop_time
    );
    let got = warnings.lock().unwrap().clone();
    let Some(Warning::SlowSafepoint { threads, waited }) = got.first().cloned() else {
        panic!("expected a SlowSafepoint warning, got {got:?}");
    };
    assert_eq!(waited, period);
    assert_eq!(
        threads.len(),
        1,
        "only the late thread is named: {threads:?}"
    );
    assert!(
        threads[0].starts_with("never-safepoints"),
        "the warning names the thread: {threads:?}"
    );
    let text = got[0].to_string();
    assert!(
        text.contains("never-safepoints") && text.contains("Mutator::safepoint"),
        "the message names the thread and the remedy: {text}"
    );

    assert_eq!(
        m.detached(|| late.join().unwrap()),
        7,
        "the late thread resumed"
    );
    // Collections run normally afterwards, with no new warning.
    let before = warnings.lock().unwrap().len();
    m.collect();
    assert_eq!(warnings.lock().unwrap().len(), before);

    // A handler that panics (after waking the late thread) does not leave the world stopped:
    // the panic is caught inside the stop, the collection completes, and the thread resumes.
    let (wake, woken) = mpsc::channel::<()>();
    let wake = Mutex::new(wake);
    c.set_warning_handler(Some(Box::new(move |_: &Warning| {
        let _ = wake.lock().unwrap().send(());
        panic!("warning handler bomb");
    })));
    let (ready, is_ready) = mpsc::channel();
    let late = std::thread::spawn(move || {
        let mut tm = Mutator::new();
        ready.send(()).unwrap();
        woken
            .recv_timeout(DEADLINE)
            .expect("the panicking handler never woke this thread");
        tm.safepoint();
        tm.safepoint(); // a second poll: the world really restarted
    });
    m.detached(|| is_ready.recv().unwrap());
    m.collect(); // returns: the world restarted although the handler panicked
    m.detached(|| late.join().unwrap()); // woken by the handler only

    m.collect();
    c.set_warning_handler(None);
}
