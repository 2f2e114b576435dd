"""A cohort of slides on dask.distributed: one task per slide, on a ``LocalCluster`` of worker processes
or on an existing cluster's scheduler, as Cellpose's distributed mode and TIAToolbox's engine use Dask.
The scheduling is Dask's; a slide that fails is reported in the summary and does not stop the others.

Each worker process loads the model once (:func:`slide_task` keeps it per process) and runs
:func:`common.slides.predict_slide`, which writes the slide's files and resumes an interrupted slide.
"""

from __future__ import annotations

import os
import time

__all__ = ["SUMMARY_COLUMNS", "run_cohort", "slide_task", "summary_row"]

SUMMARY_COLUMNS = ("slide", "status", "slide mpp", "model mpp", "tissue mm2", "cells", "seconds", "error")
_PREDICTORS: dict = {}   # per worker process: (paper, model, load options) -> predictor


def _predictor(paper_name: str, model: str, load_options: dict):
    key = (paper_name, os.path.abspath(model), tuple(sorted(load_options.items())))
    if key not in _PREDICTORS:
        from common import contract
        from common.logs import quiet_tensorflow

        quiet_tensorflow(1)
        _PREDICTORS[key] = contract.get(paper_name).load(model, **load_options)
    return _PREDICTORS[key]


def summary_row(path, result: dict | None = None, error: BaseException | str | None = None,
                seconds: float = 0.0) -> dict:
    """One row of the cohort summary: the slide's counts, or its failure in one line."""
    row = {"slide": os.path.basename(os.fspath(path)), "path": os.path.abspath(os.fspath(path))}
    if error is not None:
        text = " ".join(str(error).split()) or type(error).__name__
        row.update(status="failed", error=text, seconds=round(seconds, 1))
        return row
    result = dict(result or {})
    result.pop("files", None)
    row.update({k: v for k, v in result.items() if k != "slide"})
    row.setdefault("error", "")
    return row


def slide_task(paper_name: str, model: str, path: str, out: str, options: dict, load_options: dict | None = None):
    """One slide, in a worker: load (or reuse) the model, predict the slide, return its summary row;
    a failure becomes a row with ``status`` failed and the error in one line."""
    t0 = time.time()
    try:
        from common.slides import predict_slide

        pred = _predictor(paper_name, model, dict(load_options or {}))
        result = predict_slide(pred, path, out, **options)
        return summary_row(path, result)
    except Exception as exc:   # noqa: BLE001 - the cohort goes on; the summary says why this slide failed
        return summary_row(path, error=exc, seconds=time.time() - t0)


def run_cohort(paper_name: str, model: str, slides, out: str, options: dict, workers: int | None = None,
               scheduler: str | None = None, load_options: dict | None = None, progress: bool = False) -> list:
    """Runs every slide as a Dask task; returns one summary row per slide, in the order given.

    Args:
        paper_name: the paper whose predictor loads ``model``.
        model: a run folder (or preset) the workers load.
        slides: the slide files.
        out: the output folder (every worker writes there: a shared file system for a remote cluster).
        options: keyword arguments of :func:`common.slides.predict_slide` (``model_mpp`` ...).
        workers: worker processes of a ``LocalCluster`` (default: 1).
        scheduler: an existing scheduler's address (``tcp://host:8786``) instead of a local cluster.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    slides = [os.path.abspath(os.fspath(s)) for s in slides]
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(n_workers=max(1, int(workers or 1)), threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
    try:
        futures = {client.submit(slide_task, paper_name, os.path.abspath(model), s, os.path.abspath(out), options,
                                 load_options or {}, key=f"slide-{k}-{os.path.basename(s)}", pure=False): s
                   for k, s in enumerate(slides)}
        rows = {}
        from common.progress import progress_bar

        bar = progress_bar(total=len(futures), desc="cohort", unit="slide", enabled=progress)
        for fut in as_completed(futures):
            s = futures[fut]
            try:
                rows[s] = fut.result()
            except Exception as exc:   # noqa: BLE001 - a worker that died: this slide failed, the rest go on
                rows[s] = summary_row(s, error=exc)
            bar.update(1)
        bar.close()
        return [rows[s] for s in slides]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
