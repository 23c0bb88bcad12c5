//! Peer: gc-arena 0.7 `Arena`.

use crate::subject::Subject;

/// gc-arena 0.7 `Arena`.
pub struct GcArena;

impl Subject for GcArena {
    fn name(&self) -> &'static str {
        "gc-arena"
    }

    fn thread_safe(&self) -> bool {
        false
    }
}
