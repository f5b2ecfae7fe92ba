"""Talking to the upstream and nothing else: PyPI's protocols in, `records` out (client.py).

transport.py holds the HTTP stacks (http11 for the hot path, `requests` for the PEP 691 index);
parse.py turns answers into records; nothing here touches the mirror tree.
"""
