//! With the `log` feature, collections are reported as `log` records (debug level) and
//! warnings without a handler go to `log` (warn level). Run by `.ci/run` with
//! `--features log`; empty otherwise.
#![cfg(feature = "log")]

mod common;

use std::sync::Mutex;

use common::{Drops, ring};
use ftgc::Mutator;

static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "ftgc" {
            let line = record.args().to_string();
            RECORDS.lock().unwrap().push((record.level(), line));
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
    let records = RECORDS.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|(level, line)| *level == log::Level::Debug
                && line.contains("(Manual)")
                && line.contains("4 collected")),
        "{records:?}"
    );
}
