//! Criterion benchmarks for flashnet live in `benches/`.
