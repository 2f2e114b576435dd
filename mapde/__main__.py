"""``python -m mapde reproduce|train|predict|evaluate`` (the shared CLI plus MapDe's flags)."""

from __future__ import annotations

import sys

from common.paper_cli import PaperCLI
from mapde import TITLE
from mapde.config import TABLE1_ROWS

_ROW_OF_MODEL = {"mapde": "Proposed", "micronet": "Micro-Net-Peak", "sccnn": "SCCNN"}


def _configure(cfg, args):
    cfg = cfg.variant(_ROW_OF_MODEL[args.model])
    return cfg.with_overrides(per_class=True) if args.per_class else cfg


def _add_train(p):
    p.add_argument("--model", default="mapde", choices=tuple(_ROW_OF_MODEL),
                   help="the network: MapDe, Micro-Net regression (Micro-Net-Peak) or the SC-CNN baseline")
    p.add_argument("--per-class", action="store_true", help="one mapped channel per cell type")


def _add_detect(p):
    p.add_argument("--method", choices=("deconv", "peak", "feat"), default=None,
                   help="cell location method (default: the run's, deconv for MapDe, peak otherwise)")
    p.add_argument("--deconv-input", choices=("raw", "label_estimate"), default=None,
                   help="what deconv deconvolves (default: the run's config; raw is the paper's)")
    p.add_argument("--threshold", type=float, default=None, help="default: the run's calibrated threshold")
    p.add_argument("--min-distance", type=int, default=None, help="peak distance (default: the run's calibrated one)")


def _detect_kwargs(args):
    keys = {"method": args.method, "deconv_input": args.deconv_input, "threshold": args.threshold,
            "min_distance": args.min_distance}
    return {k: v for k, v in keys.items() if v is not None}


CLI = PaperCLI(
    name="mapde", title=TITLE, rows=TABLE1_ROWS, synthetic="he", config_class="MapDeConfig", configure=_configure,
    add_arguments={"train": _add_train, "predict": _add_detect, "evaluate": _add_detect},
    detect_kwargs=_detect_kwargs, default_radius=6.0)
main = CLI.main

if __name__ == "__main__":
    sys.exit(main())
