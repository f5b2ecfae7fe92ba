"""Helpers shared by the test suites (tree checks, nginx, mirror configs)."""
