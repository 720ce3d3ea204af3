"""Benchmarks: our engine against huey 3.5.x on the same private Redis server.

Run everything with ``bash benchmarks/run.sh`` (installs the ``bench`` extra, then
``python -m benchmarks.suite``); ``python -m benchmarks.suite --smoke`` is the
tiny version CI runs (``tests/meta/test_benchmarks_smoke.py``).
"""
