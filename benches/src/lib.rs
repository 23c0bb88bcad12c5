//! The ftgc benchmark suite: workloads on big object graphs, run on ftgc and on peer crates.
//!
//! * [`subject`]: the interface a collector under test implements (one method per workload);
//! * [`subjects`]: ftgc, the peer crates, and the no-GC floors;
//! * [`shape`]: the graph shapes, planned once so every subject builds the same graph;
//! * [`tally`]: drop counting, so each workload verifies its own result;
//! * [`alloc`]: the global allocator every subject shares.
//!
//! Run it with `cargo run --release -p ftgc-benches -- --help`.

pub mod alloc;
pub mod pause;
pub mod report;
pub mod roots;
pub mod run;
pub mod scaling;
pub mod shape;
pub mod subject;
pub mod subjects;
pub mod tally;
pub mod triggers;
