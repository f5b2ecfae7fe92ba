"""`pypi-mirror-run`: the one command cron runs around the mirror client.

One run takes the mirror lock, syncs incrementally under a time limit, sends PURGE for the CDN
URLs of projects whose served serial was stale, re-syncs just those projects with backoff,
remembers per-project retries across runs and writes Prometheus textfile metrics. The contract
(config keys, exit codes, file formats) is `docs/design.md`.
"""
