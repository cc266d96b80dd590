"""Benchmarks: `python -m benchmarks [area ...]` runs `bench_<area>.py` modules and
regenerates `benchmarks/report.md`. Speed is measured here, never asserted in tests."""
