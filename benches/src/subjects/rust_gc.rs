//! Peer: gc 0.5 (rust-gc) `Gc` + `GcCell`.

use crate::subject::Subject;

/// gc 0.5 (rust-gc) `Gc` + `GcCell`.
pub struct RustGc;

impl Subject for RustGc {
    fn name(&self) -> &'static str {
        "gc"
    }

    fn thread_safe(&self) -> bool {
        false
    }
}
