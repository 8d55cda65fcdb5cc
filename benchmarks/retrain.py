"""Retraining benchmark: the background of `benchmarks/real.py`'s runs trained again with some training
options changed, on the same frames, registration and masks, and scored as real.py scores it.

A change to training is judged by the held-out figures it moves, but a whole `benchmarks/real.py` run
also re-runs the masks, the registration and everything after the training; this trains only. For each
clip it links the run's frames, masks (instances and mattes too) and registration into
`OUT/retrain/<clip>-<changes>/`, trains there with the run's own training options (its
`splat/train.json`) and the changes given, as the train stage does (the masks corrected halfway), and
prints, for the run and for the retrained copy: held-out background PSNR / SSIM (the same person
pixels for both: the run's masks and the clip's true masks), floaters, Gaussians and training seconds.
A copy already trained is scored again without training (delete its folder to train it again).

The run's own figures are those of the code that trained it; with no `--set` the copy is trained with
the run's options by today's code, the baseline a change is best compared with (even two trainings
of the same code can differ a little: numba's kernels compiled or loaded from its cache start
bit-different).

Usage: python benchmarks/retrain.py [--set KEY=VALUE ...] [--clips a,b] [--out DIR] [--json]
       (DIR: real.py's --out, default out/bench_real; e.g. --set max_gaussians=160000)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from common import print_figures  # noqa: E402  (benchmarks/ is the script folder)
from real import CLIPS, HOLDOUT_EVERY, heldout_scores, present_clips

from occlurestyle.eval.floaters import count_floaters
from occlurestyle.layout import RunLayout
from occlurestyle.recon.trainer import TrainOptions
from occlurestyle.stages import train as train_stage

LINKED = ("frames", "masks", "instances", "mattes", "colmap")  # what training reads and nothing writes
COPIED = ("frames.json", "masks.json", "transforms.json")


def parse_changes(pairs: list[str]) -> dict:
    """`KEY=VALUE` strings to TrainOptions fields of the field's own type."""
    fields = {f.name: f for f in dataclasses.fields(TrainOptions)}
    defaults = TrainOptions()
    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}")
        kind = type(getattr(defaults, key))
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise SystemExit(f"--set {pair!r}: {key} is true or false")
            changes[key] = value.lower() in ("true", "1")
        else:
            try:
                changes[key] = kind(value)
            except ValueError:
                raise SystemExit(f"--set {pair!r}: {key} takes a {kind.__name__}") from None
    return changes


def run_options(layout: RunLayout) -> dict:
    """The training options the run was trained with, less any the trainer no longer has."""
    saved = json.loads((layout.splat / "train.json").read_text())["options"]
    known = {f.name for f in dataclasses.fields(TrainOptions)}
    return {key: value for key, value in saved.items() if key in known}


def prepare_copy(run: Path, copy: Path) -> None:
    copy.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        if (run / name).exists() and not (copy / name).exists():
            (copy / name).symlink_to((run / name).resolve())
    for name in COPIED:
        if (run / name).is_file():
            (copy / name).write_bytes((run / name).read_bytes())


def scores(name: str, layout: RunLayout) -> dict:
    heldout, _ = heldout_scores(name, layout, CLIPS[name][2])
    floaters = count_floaters(layout, HOLDOUT_EVERY)
    trained = json.loads((layout.splat / "train.json").read_text())
    return {"heldout_psnr": heldout["heldout_psnr"], "heldout_ssim": heldout["heldout_ssim"],
            "floaters": floaters["floaters"], "gaussians": trained["gaussians"],
            "train_s": round(trained["seconds"], 1)}


def retrain_clip(name: str, out: Path, changes: dict) -> dict:
    run = out / name
    layout = RunLayout(run)
    if not layout.background_ply.is_file():
        raise SystemExit(f"{name}: no trained run in {run}; run `python benchmarks/real.py --clips {name} "
                         f"--out {out}` first")
    tag = ",".join(f"{key}={value}" for key, value in sorted(changes.items())) or "unchanged"
    copy = RunLayout(out / "retrain" / f"{name}-{tag}")
    options = TrainOptions(**{**run_options(layout), **changes})
    if options.holdout_every != HOLDOUT_EVERY:
        raise SystemExit(f"--set holdout_every: the held-out frames are every {HOLDOUT_EVERY}th, as in real.py")
    if not copy.background_ply.is_file():
        prepare_copy(run, copy.root)
        print(f"{name}: training {copy.root} ...", flush=True)
        start = time.perf_counter()
        train_stage.run(copy, options, progress=False)
        print(f"{name}: retrained in {time.perf_counter() - start:.0f} s ({copy.root})", flush=True)
    return {"run": scores(name, layout), "retrained": scores(name, copy), "changes": tag}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                        help="a training option to change (TrainOptions' field names), repeatable; none: "
                             "the run's own options with today's code")
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--out", type=Path, default=Path("out/bench_real"), help="benchmarks/real.py's --out")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    changes = parse_changes(args.changes)
    results = {}
    for name in present_clips(args.clips):
        results[name] = retrain_clip(name, args.out, changes)
        if not args.json:
            for which in ("run", "retrained"):
                print_figures(f"{name} {which}", results[name][which])
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
