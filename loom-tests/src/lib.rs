//! Loom models of ftgc's concurrency protocols; see the tests.
