"""Benchmarks of saasus_mw against the performance targets (issue 6); see docs/performance.md.

``python -m bench`` runs them all; ``python -m bench --smoke`` checks they work in a few seconds.
"""
