"""The batch's units of work, each a plain function of paths and options that any worker process can
run: one stage into a run folder, a style's run folder branched off its capture's shared one, and the
evaluation of a finished run. Each returns a small dict of what it did."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from ..fsutil import atomic_dir, remove_temporaries
from ..pipeline import STAGES, RunConfig, run_pipeline

# Stages before stylize do not depend on the style: they run once per capture (BATCH/CAPTURE/shared) and
# every style's run folder starts as hard links to their outputs. The people stage comes after stylize
# (it reads the scene regions stylize finds) and is cheap, so it runs per style.
SHARED = tuple(list(STAGES)[:list(STAGES).index("stylize")])
PER_STYLE = tuple(name for name in STAGES if name not in SHARED)


def _manifest(run: Path) -> dict:
    path = run / "manifest.json"
    return json.loads(path.read_text()).get("stages", {}) if path.is_file() else {}


def _use_cores(cores: int) -> None:
    """A task's threads: as many as the cores it asked for (Ray runs several tasks side by side)."""
    import numba
    import torch

    torch.set_num_threads(cores)
    numba.set_num_threads(max(1, min(cores, numba.config.NUMBA_NUM_THREADS)))


def run_stage(config: dict, run: str, stage: str, cores: int) -> dict:
    """Run one stage of `config` into `run` unless it is done already; every stage before it must be."""
    _use_cores(cores)
    if Path(run).is_dir():
        remove_temporaries(run)  # of a task killed here before (the stages of a run folder run one at a time)
    before = _manifest(Path(run)).get(stage, {}).get("runs", 0)
    run_pipeline(RunConfig.from_dict(config), run, progress=False, log=lambda _: None, only=[stage])
    entry = _manifest(Path(run))[stage]
    return {"ran": entry.get("runs", 0) != before, "seconds": entry["seconds"]}


def branch(shared: str, run: str, cores: int = 1) -> dict:
    """`run` as hard links to the outputs of the capture's `shared` run folder (copies where the file
    system has no hard links): every stage writes through a temporary file and a rename, so the style's
    stages never change a shared file. Kept as it is when it already holds the shared stages as they are."""
    shared_stages, run_stages = _manifest(Path(shared)), _manifest(Path(run))
    if Path(run).is_dir() and all(run_stages.get(name, {}).get("hash") == shared_stages[name]["hash"]
                                  for name in SHARED):
        return {"ran": False, "seconds": 0.0}
    with atomic_dir(run, overwrite=True) as tmp:
        shutil.copytree(shared, tmp, copy_function=_link, dirs_exist_ok=True)
    return {"ran": True, "seconds": 0.0}


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def evaluate(run: str, cores: int) -> dict:
    """The run against the 2D baselines (metrics.json, report.html) unless done already; its key figures."""
    from ..eval.evaluate import evaluate_run
    from ..eval.report import write_report

    _use_cores(cores)
    remove_temporaries(run)
    layout_metrics, report = Path(run) / "metrics.json", Path(run) / "report.html"
    final = Path(run) / "final.mp4"
    ran = not (layout_metrics.is_file() and report.is_file()
               and layout_metrics.stat().st_mtime >= final.stat().st_mtime)
    start = time.perf_counter()
    if ran:
        write_report(run, evaluate_run(run, progress=False))
    metrics = json.loads(layout_metrics.read_text())
    ours = metrics.get("methods", {}).get("ours", {})
    inpaint = metrics.get("methods", {}).get("inpaint", {})
    return {"ran": ran, "seconds": round(time.perf_counter() - start, 2),
            "metrics": {"warping_error_gap1": ours.get("warping_error_gap1"),
                        "inpaint_warping_error_gap1": inpaint.get("warping_error_gap1"),
                        "leakage": ours.get("leakage"), "style_distance": ours.get("style_distance")}}
