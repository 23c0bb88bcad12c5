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

/// ftgc first, then the peers, then the floors.
pub fn all() -> Vec<Box<dyn Subject>> {
    vec![
        Box::new(ours::Ftgc),
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
