"""``python -m paper_template``: the same command line as ``cellrepro paper_template``."""

import sys

from common.cli import paper_main

if __name__ == "__main__":
    sys.exit(paper_main("paper_template"))
