//! Every collector under test.

pub mod arena;
pub mod bacon_rajan;
pub mod dumpster_sync;
pub mod floors;
pub mod gcmodule_sync;
pub mod ours;
pub mod rust_gc;
pub mod rustcc;

use crate::subject::Subject;

/// ftgc (without and with its roots registered) first, then the peers, then the floors.
pub fn all() -> Vec<Box<dyn Subject>> {
    vec![
        Box::new(ours::Ftgc { rooted: false }),
        Box::new(ours::Ftgc { rooted: true }),
        Box::new(dumpster_sync::DumpsterSync),
        Box::new(gcmodule_sync::GcModule),
        Box::new(rustcc::RustCc),
        Box::new(bacon_rajan::BaconRajan),
        Box::new(rust_gc::RustGc),
        Box::new(arena::GcArena),
        Box::new(floors::BoxFloor),
        Box::new(floors::RcFloor),
        Box::new(floors::ArcFloor),
    ]
}

#[cfg(test)]
mod tests {
    use crate::run::{Sizes, Workload, run_once};

    /// Every subject on every workload at a thousandth of the default sizes, through the
    /// harness's own verification (exact drop counts); a skip must give a real reason.
    #[test]
    fn every_subject_verifies_every_workload_at_small_size() {
        let sizes = Sizes::divided(1000);
        for s in super::all() {
            for w in Workload::ALL {
                match run_once(s.as_ref(), w, &sizes) {
                    Ok(Ok(_)) => {}
                    Ok(Err(skip)) => {
                        assert_ne!(skip.0, "not implemented", "{} {}", s.name(), w.name())
                    }
                    Err(failure) => panic!("{} {}: {failure}", w.name(), s.name()),
                }
            }
        }
    }
}
