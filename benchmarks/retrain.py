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

`--demo DIR` does the same for `make demo`'s output (DIR/run and its sample scene DIR/scene, whose truth
scores it: background PSNR behind the true people and over all pixels, as the report's), and `--seeds`
trains a copy at each seed given and prints their mean and spread. The demo's figure behind people is
mostly chance at one seed: the same masks and registration trained at seeds 0, 1 and 2 gave 19.12,
23.11 and 22.53 dB (docs/experiments.md, "Background reconstruction"; 23.63, 22.92 and 22.18 since the
correction's pruning), so a change is judged over seeds.

The run's own figures are those of the code that trained it; with no `--set` the copy is trained with
the run's options by today's code, the baseline a change is best compared with (even two trainings
of the same code can differ a little: numba's kernels compiled or loaded from its cache start
bit-different).

Usage: python benchmarks/retrain.py [--set KEY=VALUE ...] [--clips a,b] [--out DIR] [--seeds 0,1,2] [--json]
       (DIR: real.py's --out, default out/bench_real; e.g. --set max_gaussians=160000)
       python benchmarks/retrain.py --demo DIR [--set KEY=VALUE ...] [--seeds 0,1,2] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from common import print_figures  # noqa: E402  (benchmarks/ is the script folder)
from real import CLIPS, HOLDOUT_EVERY, heldout_scores, present_clips

from occlurestyle import media
from occlurestyle.eval.background import ground_truth
from occlurestyle.eval.floaters import count_floaters
from occlurestyle.eval.metrics import background_psnr
from occlurestyle.layout import RunLayout
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.recon.trainer import TrainOptions
from occlurestyle.stages import train as train_stage
from occlurestyle.stages.people import render_background

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


def trained_copy(run: Path, copy: RunLayout, options: TrainOptions) -> RunLayout:
    """`copy` of `run` (its frames, masks and registration) trained with `options`, unless done already."""
    if not copy.background_ply.is_file():
        prepare_copy(run, copy.root)
        print(f"training {copy.root} ...", flush=True)
        start = time.perf_counter()
        train_stage.run(copy, options, progress=False)
        print(f"retrained in {time.perf_counter() - start:.0f} s ({copy.root})", flush=True)
    return copy


def tag_of(changes: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(changes.items())) or "unchanged"


def seed_copy(out: Path, name: str, changes: dict, seed: int) -> RunLayout:
    """Where the copy of run `name` trained with `changes` at `seed` lives."""
    return RunLayout(out / "retrain" / f"{name}-{tag_of({**changes, 'seed': seed})}")


def over_seeds(figures: list[dict]) -> dict:
    """Each figure's mean ± standard deviation over the seeds' figures."""
    return {key: f"{np.mean([f[key] for f in figures]):.2f}±{np.std([f[key] for f in figures]):.2f}"
            for key in figures[0] if isinstance(figures[0][key], float)}


def retrain_clip(name: str, out: Path, changes: dict, seeds: list[int] | None) -> dict:
    run = out / name
    layout = RunLayout(run)
    if not layout.background_ply.is_file():
        raise SystemExit(f"{name}: no trained run in {run}; run `python benchmarks/real.py --clips {name} "
                         f"--out {out}` first")
    options = TrainOptions(**{**run_options(layout), **changes})
    if options.holdout_every != HOLDOUT_EVERY:
        raise SystemExit(f"--set holdout_every: the held-out frames are every {HOLDOUT_EVERY}th, as in real.py")
    if seeds is None:
        copy = trained_copy(run, RunLayout(out / "retrain" / f"{name}-{tag_of(changes)}"), options)
        return {"run": scores(name, layout), "retrained": scores(name, copy), "changes": tag_of(changes)}
    figures = [scores(name, trained_copy(run, seed_copy(out, name, changes, seed),
                                         dataclasses.replace(options, seed=seed))) for seed in seeds]
    return {"run": scores(name, layout), "retrained": over_seeds(figures), "changes": tag_of(changes)}


def demo_scores(layout: RunLayout, scene: Path) -> dict:
    """Background PSNR of the run's background renders against the scene's person-free frames, behind the
    true people and over all pixels, as the report's (`renders/background`, rendered if missing)."""
    cameras = read_run_cameras(layout)
    folder = layout.renders / "background"
    if not all((folder / f"{Path(name).stem}.png").is_file() for name in cameras.names):
        render_background(layout, cameras)
    stems = [Path(name).stem for name in cameras.names]
    renders = [media.read_image(folder / f"{stem}.png") for stem in stems]
    truths, hidden = ground_truth(scene, stems, renders[0].shape[:2])
    figures = background_psnr((render.astype(np.float32) / 255.0 for render in renders), truths, hidden)
    return {"psnr_behind_people": round(float(figures["psnr_disoccluded"]), 2),
            "psnr_all": round(float(figures["psnr_all"]), 2)}


def retrain_demo(folder: Path, changes: dict, seeds: list[int] | None) -> dict:
    run, scene = folder / "run", folder / "scene"
    layout = RunLayout(run)
    if not layout.background_ply.is_file() or not (scene / "background").is_dir():
        raise SystemExit(f"{folder}: expected `make demo`'s output (run/ trained, scene/ with its truth); "
                         f"run `make demo DEMO_OUT={folder}` first")
    options = TrainOptions(**{**run_options(layout), **changes})
    figures = [demo_scores(trained_copy(run, seed_copy(folder, "demo", changes, seed),
                                        dataclasses.replace(options, seed=seed)), scene)
               for seed in (seeds if seeds is not None else [options.seed])]
    return {"run": demo_scores(layout, scene), "retrained": over_seeds(figures) if seeds else figures[0],
            "by_seed": dict(zip(map(str, seeds or [options.seed]), figures)), "changes": tag_of(changes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                        help="a training option to change (TrainOptions' field names), repeatable; none: "
                             "the run's own options with today's code")
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--out", type=Path, default=Path("out/bench_real"), help="benchmarks/real.py's --out")
    parser.add_argument("--demo", type=Path, metavar="DIR", help="`make demo`'s output (DIR/run, DIR/scene) "
                        "instead of real.py's clips")
    parser.add_argument("--seeds", help="train a copy at each of these seeds (e.g. 0,1,2) and print the mean ± sd")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    changes = parse_changes(args.changes)
    if "seed" in changes and args.seeds:
        raise SystemExit("--set seed and --seeds: give one")
    seeds = [int(seed) for seed in args.seeds.split(",")] if args.seeds else None
    results = {}
    names = ["demo"] if args.demo else present_clips(args.clips)
    for name in names:
        results[name] = (retrain_demo(args.demo, changes, seeds) if args.demo
                         else retrain_clip(name, args.out, changes, seeds))
        if not args.json:
            for seed, figures in results[name].get("by_seed", {}).items():
                print_figures(f"{name} seed {seed}", figures)
            for which in ("run", "retrained"):
                print_figures(f"{name} {which}", results[name][which])
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
