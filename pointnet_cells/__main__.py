"""``python -m pointnet_cells``: the same command line as ``cellrepro pointnet_cells``."""

import sys

from common.cli import paper_main

if __name__ == "__main__":
    sys.exit(paper_main("pointnet_cells"))
