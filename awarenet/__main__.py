"""``python -m awarenet reproduce|train|predict|evaluate`` (the shared CLI plus AwareNet's flags)."""

from __future__ import annotations

import sys

from awarenet import TITLE
from awarenet.config import TABLE2_ROWS
from common.paper_cli import PaperCLI


def _add_train(p):
    p.add_argument("--row", default="ExpWeightType1", choices=list(TABLE2_ROWS), help="the Table 2 row to train")
    p.add_argument("--classifier", action="store_true", help="also train the section 3.4 cell classifier")


def _add_detect(p):
    p.add_argument("--threshold", type=float, default=None,
                   help="probability threshold (default: the run's calibrated one)")
    p.add_argument("--classifier-model", default=None,
                   help="a classifier .keras file (default: <run>/classifier/model.keras when present)")


CLI = PaperCLI(
    name="awarenet", title=TITLE, rows=TABLE2_ROWS, synthetic="mihc", config_class="AwareNetConfig",
    configure=lambda cfg, args: cfg.variant(args.row),
    add_arguments={"train": _add_train, "predict": _add_detect, "evaluate": _add_detect},
    train_kwargs=lambda args: {"classifier": args.classifier},
    load_kwargs=lambda args: {"classifier": args.classifier_model},
    detect_kwargs=lambda args: {} if args.threshold is None else {"threshold": args.threshold}, default_radius=10.0)
main = CLI.main

if __name__ == "__main__":
    sys.exit(main())
