"""``python -m awarenet``: the same command line as ``cellrepro awarenet``."""

import sys

from common.cli import paper_main

if __name__ == "__main__":
    sys.exit(paper_main("awarenet"))
