//! With the `log` feature, collections are reported as `log` records (debug level) and
//! warnings without a handler go to `log` (warn level). Run by `.ci/run` with
//! `--features log`; empty otherwise.
#![cfg(feature = "log")]

mod common;

use std::sync::{Mutex, mpsc};

use common::{Drops, ring};
use ftgc::Mutator;

static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());
/// Woken by the first warning record: the late thread of the test below.
static WAKE: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "ftgc" {
            let line = record.args().to_string();
            RECORDS.lock().unwrap().push((record.level(), line));
            if record.level() == log::Level::Warn {
                if let Some(wake) = WAKE.lock().unwrap().take() {
                    let _ = wake.send(());
                }
            }
        }
    }
    fn flush(&self) {}
}

#[test]
fn collections_and_warnings_are_logged() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let mut m = Mutator::new();
    let drops = Drops::new();
    drop(ring(&mut m, 4, &drops));
    m.collect();

    // A late thread: with no handler installed, the warning is a `log` record, which wakes it.
    ftgc::collector().set_stop_warning(std::time::Duration::from_millis(20));
    let (wake, woken) = mpsc::channel();
    *WAKE.lock().unwrap() = Some(wake);
    let (ready, is_ready) = mpsc::channel();
    let late = std::thread::Builder::new()
        .name("late-for-log".into())
        .spawn(move || {
            let mut tm = Mutator::new();
            ready.send(()).unwrap();
            // Blocking while attached: the fault. The deadline turns a missing warning into a
            // failure (the thread's mutator unregisters, so the stop completes) instead of a hang.
            woken
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("no warning record woke this thread");
            tm.safepoint();
        })
        .unwrap();
    m.detached(|| is_ready.recv().unwrap());
    m.collect();
    m.detached(|| late.join().unwrap());

    let records = RECORDS.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|(level, line)| *level == log::Level::Warn
                && line.contains("late-for-log")
                && line.contains("safepoint")),
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .any(|(level, line)| *level == log::Level::Debug
                && line.contains("(Manual)")
                && line.contains("4 collected")),
        "{records:?}"
    );
}
