"""`python -m mirror_tool` is `pypi-mirror`."""

import sys

from mirror_tool.cli import main

sys.exit(main())
