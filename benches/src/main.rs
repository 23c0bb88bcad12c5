//! Placeholder while the runner is written.
use ftgc_benches::subjects;
fn main() {
    for s in subjects::all() {
        println!("{}", s.name());
    }
}
