//! The minivm example's shipped programs, run through its interpreter (the example's `vm`
//! module tree, included here as a module) with small arguments: binary trees must print the
//! Benchmarks Game's check values on one and on two VM threads, and `cycles.lisp` must see
//! `(gc-collect)` reclaim exactly the closure cycles it dropped. A few short programs check
//! what the big ones rely on: deep recursion, values surviving collections that other VM
//! threads run, and errors.

use std::sync::{Arc, Mutex};

// The example's binary uses every part of the interpreter; these tests only part of it.
#[allow(dead_code)]
#[path = "../examples/minivm/vm/mod.rs"]
mod vm;

mod common;

// The programs share the process-wide collector, and `cycles.lisp` counts what each
// collection frees: one program at a time (`serial`).
use common::serial;

/// Runs `source` with `args`; returns its output, or its error.
fn run_source(name: &str, source: &str, args: &[&str]) -> Result<String, String> {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let out: vm::Output = buffer.clone();
    let args = args.iter().map(|a| a.to_string()).collect();
    let result = vm::run(source, name, args, out);
    let output = String::from_utf8(buffer.lock().unwrap().clone()).expect("UTF-8 output");
    result.map(|()| output).map_err(|e| e.to_string())
}

/// Runs the shipped program `file` with `args`; returns its output.
fn run_program(file: &str, args: &[&str]) -> String {
    let path = format!(
        "{}/examples/minivm/programs/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let source = std::fs::read_to_string(&path).expect("read the program");
    run_source(file, &source, args).unwrap_or_else(|e| panic!("{file} failed: {e}"))
}

/// The Benchmarks Game's output for binary trees of depth `n`: a tree of depth `d` has
/// `2^(d+1) - 1` nodes, and its check value is that count.
fn expected_binary_trees(n: u32) -> String {
    let nodes = |d: u32| (1u64 << (d + 1)) - 1;
    let (min, max) = (4, n.max(6));
    let mut out = format!(
        "stretch tree of depth {}\t check: {}\n",
        max + 1,
        nodes(max + 1)
    );
    for d in (min..=max).step_by(2) {
        let iterations = 1u64 << (max - d + min);
        out += &format!(
            "{iterations}\t trees of depth {d}\t check: {}\n",
            iterations * nodes(d)
        );
    }
    out + &format!("long lived tree of depth {max}\t check: {}\n", nodes(max))
}

#[test]
fn binary_trees_on_one_thread() {
    let _serial = serial();
    let out = run_program("binary_trees.lisp", &["6", "1"]);
    assert_eq!(out, expected_binary_trees(6));
}

#[test]
fn binary_trees_on_two_threads() {
    let _serial = serial();
    let out = run_program("binary_trees.lisp", &["6", "2"]);
    assert_eq!(out, expected_binary_trees(6));
    // Three threads do not divide the iterations evenly: the remainder must not be lost.
    let out = run_program("binary_trees.lisp", &["6", "3"]);
    assert_eq!(out, expected_binary_trees(6));
}

#[test]
fn cycles_are_reclaimed() {
    let _serial = serial();
    let out = run_program("cycles.lisp", &["300"]);
    let number_after = |line: &str, word: &str| -> u64 {
        let rest = &line[line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"))..];
        rest[word.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a number after {word} in {line}"))
    };
    let collections: Vec<(u64, Option<u64>)> = out
        .lines()
        .filter(|l| l.contains("collected "))
        .filter(|l| !l.starts_with("last collection"))
        .map(|l| {
            let expected = l.contains("expected").then(|| number_after(l, "("));
            (number_after(l, "collected "), expected)
        })
        .collect();
    assert_eq!(
        collections,
        vec![
            (6, None),          // a counter (2) and a parity table (4)
            (600, Some(600)),   // 300 counters
            (1200, Some(1200)), // 300 parity tables
            (540, Some(540)),   // 270 of 300 counters, the kept 30 survive
            (60, None),         // the 30 kept, once dropped
        ],
        "{out}"
    );
    assert!(out.contains("a counter counts: 3\n"), "{out}");
    assert!(out.contains("(even? 10) = #t, (odd? 7) = #t\n"), "{out}");
    assert!(out.contains("a kept counter still counts: 2\n"), "{out}");
    assert!(out.contains("referrers of a shared vector: 2 "), "{out}");
    assert!(out.contains("save-all kept 2 objects"), "{out}");
    assert!(
        out.contains("the holder references 1 object; tracked: #t, a string: #f\n"),
        "{out}"
    );
    let watched = out
        .lines()
        .find_map(|l| l.strip_prefix("the watch callback saw "))
        .and_then(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no watch line: {out}"));
    assert!(watched >= 1, "the callback saw the collection: {out}");
    assert!(
        out.contains("a guard in a dropped cycle: finalizer ran 1 time(s), 1 finalized, 2 freed in 2 passes\n"),
        "{out}"
    );
}

#[test]
fn hello_runs() {
    let _serial = serial();
    let out = run_program("hello.lisp", &[]);
    assert!(out.starts_with("hello from minivm\n"), "{out}");
    assert!(out.contains("sum 1..1000000 = 500000500000\n"), "{out}");
    assert!(out.contains("recursion depth 5000\n"), "{out}");
    assert!(out.contains("threads: 10 + 26\n"), "{out}");
}

#[test]
fn deep_recursion_and_its_limit() {
    let _serial = serial();
    let program = "(define (depth n) (if (= n 0) 0 (+ 1 (depth (- n 1)))))
                   (print (depth (string->number (car (command-line)))))";
    assert_eq!(run_source("deep", program, &["5000"]), Ok("5000\n".into()));
    let too_deep = (vm::MAX_DEPTH + 1).to_string();
    let err = run_source("deep", program, &[&too_deep]).unwrap_err();
    assert!(err.contains("recursion deeper than"), "{err}");
}

/// Values held only by frames, arguments being evaluated, and other threads' frames survive
/// collections that run in the middle of the computation, on this thread and on others.
#[test]
fn values_survive_collections_from_any_thread() {
    let _serial = serial();
    let program = "
        ;; A list of fresh vectors, built by non-tail recursion: the vectors made so far are
        ;; held by pending arguments and frames when the collections run.
        (define (build n)
          (if (= n 0)
              (begin (gc-collect) nil)
              (cons (vector n (str \"v\" n)) (build (- n 1)))))
        (define (sum lst)
          (if (null? lst) 0 (+ (vector-ref (car lst) 0) (sum (cdr lst)))))
        (define (worker n)
          (define (again k acc)
            (if (= k 0) acc (again (- k 1) (+ acc (sum (build n))))))
          (again 20 0))
        (define threads (list (spawn worker 200) (spawn worker 300)))
        (define mine (build 100))
        (gc-collect)
        (print (sum mine) \" \" (map join threads))";
    let out = run_source("survive", program, &[]).unwrap();
    // 1 + ... + n = n (n + 1) / 2, twenty times on each worker.
    assert_eq!(out, format!("5050 ({} {})\n", 20 * 20100, 20 * 45150));
}

#[test]
fn errors_name_the_line_and_function() {
    let _serial = serial();
    let err = run_source("bad", "(define x 1)\n(define (f) (car x))\n(f)", &[]).unwrap_err();
    assert_eq!(err, "bad:3: car: expected a pair, got integer (in f)");
    let err = run_source("bad", "(print y)", &[]).unwrap_err();
    assert_eq!(err, "bad:1: unbound variable `y`");
    let err = run_source("bad", "(join (spawn (lambda () (car 1))))", &[]).unwrap_err();
    assert!(err.starts_with("bad:1: join: in thread"), "{err}");
    let err = run_source("bad", "(print (", &[]).unwrap_err();
    assert!(err.contains("unclosed"), "{err}");
}
