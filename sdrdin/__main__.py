"""``python -m sdrdin reproduce|train|predict|evaluate`` (the shared CLI plus S-DRDIN's flags)."""

from __future__ import annotations

import sys

from common.paper_cli import PaperCLI
from sdrdin import TITLE
from sdrdin.config import VARIANTS


def _add_train(p):
    p.add_argument("--row", default="S-DRDIN", choices=list(VARIANTS),
                   help="the table row whose pipeline to train (DRDIN-detection and DRDIN-classification both "
                        "train the DRDIN pair; U-Net trains one U-Net per task)")


def _add_detect(p):
    p.add_argument("--threshold", type=float, default=None,
                   help="detection probability threshold (default: the run's calibrated one)")


CLI = PaperCLI(
    name="sdrdin", title=TITLE, rows=tuple(VARIANTS), synthetic="mihc6", config_class="SDRDINConfig",
    configure=lambda cfg, args: cfg.variant(args.row),
    add_arguments={"train": _add_train, "predict": _add_detect, "evaluate": _add_detect},
    detect_kwargs=lambda args: {} if args.threshold is None else {"threshold": args.threshold}, default_radius=10.0)
main = CLI.main

if __name__ == "__main__":
    sys.exit(main())
