"""Entry point of ``python -m cnnviz``."""

import sys

from cnnviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
