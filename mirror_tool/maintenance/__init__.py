"""Checking and editing a published tree: `verify` (inspect.py finds, repair.py re-downloads,
report.py tells; verify.py runs them) and `delete` (delete.py, also `verify --delete`)."""
