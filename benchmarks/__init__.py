"""Benchmarks run against a real server: ``make bench`` (see README.md, "Benchmarks")."""
