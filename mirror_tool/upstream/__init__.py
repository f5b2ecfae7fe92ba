"""Talking to the upstream and nothing else: PyPI's protocols in, `records` out (client.py).

Every request goes through the one HTTP layer, `mirror_tool.net`; parse.py turns answers into
records; nothing here touches the mirror tree.
"""
