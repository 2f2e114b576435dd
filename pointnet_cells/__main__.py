"""``python -m pointnet_cells reproduce|train|predict|evaluate`` (the shared CLI plus this paper's flags)."""

from __future__ import annotations

import sys

from common.paper_cli import PaperCLI
from pointnet_cells import TITLE
from pointnet_cells.config import Q_VALUES, VARIANTS


def _add_reproduce(p):
    p.add_argument("--q-sweep", nargs="*", type=float, default=None, metavar="Q",
                   help=f"also train our model once per GCE exponent q for Fig. 3 (no values: "
                        f"{' '.join(f'{q:g}' for q in Q_VALUES)})")


def _reproduce_kwargs(args):
    if args.q_sweep is None:
        return {}
    return {"q_values": tuple(args.q_sweep) or Q_VALUES}


def _add_train(p):
    p.add_argument("--row", default="ours", choices=list(VARIANTS), help="the table row to train")
    p.add_argument("--vgg-weights", dest="vgg_weights", default=None,
                   help="Keras' ImageNet VGG16 no-top weights file (.h5); without it VGG16 starts from random weights")


def _add_detect(p):
    p.add_argument("--threshold", type=float, default=None,
                   help="detection threshold (p_obj, or the density map for Table 1's density rows; "
                        "default: the run's calibrated one)")


CLI = PaperCLI(
    name="pointnet_cells", title=TITLE, rows=tuple(VARIANTS), synthetic="pdl1", config_class="PointNetConfig",
    configure=lambda cfg, args: cfg.variant(args.row),
    add_arguments={"reproduce": _add_reproduce, "train": _add_train, "predict": _add_detect,
                   "evaluate": _add_detect},
    detect_kwargs=lambda args: {} if args.threshold is None else {"threshold": args.threshold}, default_radius=12.0,
    reproduce_kwargs=_reproduce_kwargs, path_flags=("vgg_weights",))
main = CLI.main

if __name__ == "__main__":
    sys.exit(main())
