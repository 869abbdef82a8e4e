//! Benchmarks of account-core (filled in by the benchmark work).
fn main() {}
