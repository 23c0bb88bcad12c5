//! Peer: bacon_rajan_cc 0.4 `Cc`.

use crate::subject::Subject;

/// bacon_rajan_cc 0.4 `Cc`.
pub struct BaconRajan;

impl Subject for BaconRajan {
    fn name(&self) -> &'static str {
        "bacon_rajan_cc"
    }

    fn thread_safe(&self) -> bool {
        false
    }
}
