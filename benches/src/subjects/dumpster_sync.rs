//! Peer: dumpster 2.1 `dumpster::sync::Gc`.

use crate::subject::Subject;

/// dumpster 2.1 `dumpster::sync::Gc`.
pub struct DumpsterSync;

impl Subject for DumpsterSync {
    fn name(&self) -> &'static str {
        "dumpster"
    }

    fn thread_safe(&self) -> bool {
        true
    }
}
