//! Peer: gcmodule 0.3 `ThreadedCc` in a `ThreadedObjectSpace`.

use crate::subject::Subject;

/// gcmodule 0.3 `ThreadedCc` in a `ThreadedObjectSpace`.
pub struct GcModule;

impl Subject for GcModule {
    fn name(&self) -> &'static str {
        "gcmodule"
    }

    fn thread_safe(&self) -> bool {
        true
    }
}
