//! Benchmark harness (the benchmark-suite issue fills it in).
fn main() {
    println!("ftgc-benches: no workloads yet");
}
