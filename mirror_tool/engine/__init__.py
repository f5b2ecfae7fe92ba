"""The sync engine: what changed (changefeed.py), one project's sync on a worker (sync.py,
workers.py), the one publisher of the tree (publisher.py), and the runs the CLIs call (run.py:
`run_mirror`, `run_sync`; checkpoint.py keeps one run's books)."""
