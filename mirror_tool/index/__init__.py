"""The simple pages (PEP 503/592/629/658/691/700/714): render.py writes them, read.py reads them.

Pages are the mirror's only record of what each project holds: the publisher reads a project's
previous page to know which files the new one drops, and maintenance reads every page to verify
or edit the tree. One renderer, one reader, so both sides agree on every attribute.
"""
