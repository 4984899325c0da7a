"""needmap benchmarks: accuracy beside peer libraries (bench_accuracy), seeds on bank (bank_seeds) and a
Criteo-shaped data generator (make_criteo_like). Run from the repository root."""
