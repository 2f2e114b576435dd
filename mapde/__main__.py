"""``python -m mapde``: the same command line as ``cellrepro mapde``."""

import sys

from common.cli import paper_main

if __name__ == "__main__":
    sys.exit(paper_main("mapde"))
