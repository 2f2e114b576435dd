"""``python -m yolo_transfer reproduce|train|predict|evaluate`` (the shared CLI plus YOLO's flags)."""

from __future__ import annotations

import sys

from common.paper_cli import PaperCLI
from yolo_transfer import TITLE
from yolo_transfer.config import ROWS


def _add_train(p):
    p.add_argument("--row", default="transfer", choices=list(ROWS),
                   help="scratch: every module from random weights; transfer: the paper's three stages")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="a Darknet .weights file (yolov3.weights or darknet53.conv.74) replacing the source stages "
                        "it covers (transfer row)")


def _add_reproduce(p):
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="a Darknet .weights file replacing the transfer row's source stages")


def _add_detect(p):
    p.add_argument("--threshold", type=float, default=None,
                   help="box score threshold (default: the run's calibrated one)")


CLI = PaperCLI(
    name="yolo_transfer", title=TITLE, rows=ROWS, synthetic="blood", config_class="YoloConfig",
    configure=lambda cfg, args: cfg.variant(args.row),
    add_arguments={"train": _add_train, "reproduce": _add_reproduce, "predict": _add_detect,
                   "evaluate": _add_detect},
    train_kwargs=lambda args: {"data_root": args.data_root},
    detect_kwargs=lambda args: {} if args.threshold is None else {"threshold": args.threshold},
    default_radius=10.0, scorer="score_split", split_loader="load_split",
    path_flags=("weights",))
main = CLI.main

if __name__ == "__main__":
    sys.exit(main())
