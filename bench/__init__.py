"""Benchmarks of our mirror client against bandersnatch 8.2.0 (``python -m bench``, see README.md)."""
