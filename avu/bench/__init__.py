"""Benchmarks that print one JSON object each (`avu bench ...`); ratios are measured side by side."""
