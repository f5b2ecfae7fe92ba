"""PyPI mirror client: syncs an upstream PyPI into a static tree that nginx and pip serve."""

__version__ = "0.1.0"
