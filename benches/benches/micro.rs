//! Micro benchmarks of ftgc's hot paths, with criterion:
//!
//! ```text
//! cargo bench -p ftgc-benches --bench micro
//! ```
//!
//! allocation (+ drop), clone, drop of a non-last handle, `get`, a safepoint poll, and the
//! same operations on `Arc` for scale.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ftgc::{Gc, Mutator, Trace};
use ftgc_benches::alloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Trace)]
struct Cell {
    value: u64,
    next: Option<Gc<Cell>>,
}

fn micro(c: &mut Criterion) {
    let mut m = Mutator::new();
    let mut g = c.benchmark_group("ftgc");
    g.bench_function("alloc+drop (traced)", |b| {
        b.iter(|| {
            Gc::new(
                &mut m,
                Cell {
                    value: 1,
                    next: None,
                },
            )
        })
    });
    g.bench_function("alloc+drop (leaf)", |b| b.iter(|| Gc::new(&mut m, 1u64)));
    let h = Gc::new(
        &mut m,
        Cell {
            value: 1,
            next: None,
        },
    );
    g.bench_function("clone+drop", |b| b.iter(|| black_box(h.clone())));
    g.bench_function("get", |b| b.iter(|| black_box(black_box(&h).get(&m).value)));
    g.bench_function("safepoint", |b| b.iter(|| m.safepoint()));
    g.finish();

    let mut g = c.benchmark_group("Arc");
    g.bench_function("alloc+drop", |b| b.iter(|| Arc::new((1u64, 0u64))));
    let a = Arc::new((1u64, 0u64));
    g.bench_function("clone+drop", |b| b.iter(|| black_box(a.clone())));
    g.bench_function("deref", |b| b.iter(|| black_box(black_box(&a).0)));
    g.finish();
}

criterion_group!(benches, micro);
criterion_main!(benches);
