"""Benchmark tooling: seed a data set, drive load, explain the hot queries.

``python -m bench.seed``, ``python -m bench.load`` and ``python -m bench.explain``;
see ``bench/README.md`` for how they were run and what they measured.
"""
