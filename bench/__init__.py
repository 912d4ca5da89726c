"""Benchmarks: `make bench` (python -m bench) runs each one present; see bench/__main__.py."""
