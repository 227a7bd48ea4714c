"""Benchmarks for consistency-monitor: `python -m bench <name>`; results go to BENCHMARKS.md."""
