"""The experiment's report: stable vs canary, read from Prometheus, decided by the original design's matrix.

`python -m experiment --prometheus URL` (or `make experiment-report`) prints
it and draws it as a PNG; docs/monitoring.md explains every figure and rule.
"""
