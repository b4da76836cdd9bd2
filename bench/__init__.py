"""The benchmark harness: every scenario measured beside the ceiling of the machine it runs on.

`python -m bench` (or `python -m bench --quick` for a smoke run) starts the server as it is
deployed (`activity-server serve --workers 2`, logging at info) on a scratch database, drives it
from a load generator in its own process, measures each ceiling in the same run, and writes
`bench/results/latest.json` and `bench/results/latest.md`. See README.md, "Benchmarks".
"""
