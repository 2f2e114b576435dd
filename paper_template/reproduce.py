"""The template's table: its one row trained, calibrated on validation and scored on test."""

from __future__ import annotations

import os

import pandas as pd

from common.evaluation import score
from common.reproduce import Reproduction, provenance
from paper_template.paper import PAPER

__all__ = ["main"]


def main(quick: bool = False, out=None, data: str = "synthetic", rows=("ours",), resume: bool = False,
         verbose="auto", command: str | None = None, epochs: int | None = None, config=None, splits=None,
         overrides=None, data_root=None) -> dict:
    """Trains each row, scores the test split, prints and writes ``<out>/paper_template/table1.{md,csv}``."""
    from paper_template.train import train

    run = Reproduction(PAPER, data, quick=quick, out=out, config=config, overrides=overrides, epochs=epochs,
                       command=command, splits=splits, data_root=data_root)
    tr, va, te = run.splits
    records = []
    for row in rows:
        cfg = run.config.variant(row)
        pred = train(cfg, tr, va, os.path.join(run.out, "runs", row), resume=resume, verbose=verbose)
        sc = score([pred.predict(s.image) for s in te], te, [cfg.match_radius]).iloc[0]
        records.append({"Method": row, **{k: float(sc[k]) for k in ("Precision", "Recall", "F1")}})
    df = pd.DataFrame(records).set_index("Method")
    df.attrs["meta"] = provenance(run.config, tr, va, te, f"TP within {run.config.match_radius:g} px",
                                  "threshold and peak distance calibrated on val, scored on test", run.t0)
    run.publish(df, "table1", "Template Table 1 - cell detection")
    run.finish("Template")
    return {"table1": df}
