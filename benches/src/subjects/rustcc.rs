//! Peer: rust-cc 0.6 `Cc`.

use crate::subject::Subject;

/// rust-cc 0.6 `Cc`.
pub struct RustCc;

impl Subject for RustCc {
    fn name(&self) -> &'static str {
        "rust-cc"
    }

    fn thread_safe(&self) -> bool {
        false
    }
}
