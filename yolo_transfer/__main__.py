"""``python -m yolo_transfer``: the same command line as ``cellrepro yolo_transfer``."""

import sys

from common.cli import paper_main

if __name__ == "__main__":
    sys.exit(paper_main("yolo_transfer"))
