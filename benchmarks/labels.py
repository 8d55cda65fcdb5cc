"""Scene-labelling benchmark: the stylizer's labeller and region matching against the sample scenes' true
semantics, over the stylize stage's seeds.

The materials stylizer lays each style region's look on the scene region matched to it, so a wrong label
(the bookcase taken as wall, the plant named "shelf") shows as the wrong material however good the
transfer is, and a label that changes with the seed or with a retrained model shows as a different room
from run to run. For each trained run with truth (benchmarks/train.py's `<scene>_true_masks` runs, and
`make demo`'s run with its scene), each seed labels the Gaussians (`stages.stylize.scene_regions`) and matches
the regions to the scene's own exemplar (the room re-skinned, labelled with the truth's names:
`stylizers.style_and_matches`). The labels are rendered at every `--every`-th camera and each true
class's pixels (people left out) are scored:
- role right: the label is of the class's role (floor, ceiling, wall or object; a picture counts as its
  wall and a rug as the floor: `eval.style.label_accuracy`);
- paired right: the label's style partner has the class's own name (any wall for a wall, rug or floor
  for the rug).
Printed per run: both figures pooled over the pixels and their mean and standard deviation over the
seeds, and the paired-right share of each class (mean over the seeds).

Usage: python benchmarks/labels.py [--runs out/bench_train] [--demo out/demo] [--seeds 4] [--every 6] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from common import print_figures  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle import media
from occlurestyle.eval.style import label_accuracy
from occlurestyle.layout import RunLayout
from occlurestyle.person_masks import read_masks
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.render.gaussians import load_ply, sh0_to_rgb
from occlurestyle.scenes.generate import write_style_exemplar
from occlurestyle.stages.stylize import StylizeOptions, scene_regions
from occlurestyle.stylize.correspond import base_name, role
from occlurestyle.stylize.regions import render_labels
from occlurestyle.stylize.stylizers import Scene, style_and_matches


def runs_with_truth(bench_train: Path, demo: Path) -> list[tuple[str, Path, Path]]:
    """(name, run folder, scene folder) of every trained run whose scene has semantics."""
    found = [(name, bench_train / f"{name}_true_masks", bench_train / "scenes" / name)
             for name in ("living_room", "office")]
    found.append(("demo", demo / "run", demo / "scene"))
    return [(n, r, s) for n, r, s in found
            if (r / "splat" / "background.ply").is_file() and (s / "semantics.json").is_file()]


def right_partners(true_name: str) -> set[str]:
    """Base names of the style regions a true class should take its look from."""
    if role(true_name) == "wall":
        return {"wall"}
    return {"rug", "floor"} if true_name == "rug" else {base_name(true_name)}


def _kind_of_partner(style_name: str | None) -> str:
    if not style_name:
        return ""
    return "wall" if role(style_name) == "wall" else base_name(style_name)


def score_labelling(params: dict, cameras, picks: list[int], truths: list[np.ndarray], people: list[np.ndarray],
                    classes: dict[int, str], style: Path, style_labels: Path, seed: int) -> dict:
    """Paired-right and all pixel counts per true class, and the role-right share of all pixels, for one
    seed's labelling and matching."""
    colors = sh0_to_rgb(params["sh0"][:, 0]).numpy().clip(0, 1)
    regions = scene_regions(params, cameras, colors, seed)
    options = dataclasses.replace(StylizeOptions(style=str(style), style_labels=str(style_labels)), seed=seed)
    _, matches = style_and_matches(Scene(params, regions, colors, cameras, options, False))
    partner = {m["scene"]: _kind_of_partner(m["style"]) for m in matches}
    partner_base = np.array([partner.get(n, "") for n in regions.names] + [""])  # the last: nothing drawn (-1)
    rendered = render_labels(params, regions.labels, len(regions.names), cameras.viewmats[picks],
                             cameras.Ks[picks], cameras.width, cameras.height)
    counts: dict[str, list[int]] = {}
    role_right, scored = 0.0, 0
    for truth, person, labels in zip(truths, people, rendered):
        truth = np.where(person, 0, truth)  # 0: no class
        valid = int(np.isin(truth, list(classes)).sum())
        role_right += label_accuracy(labels, regions.names, truth, classes)["accuracy"] * valid
        scored += valid
        for class_id, name in classes.items():
            pixels = truth == class_id
            if not pixels.any():
                continue
            tally = counts.setdefault(name, [0, 0])
            tally[0] += int(np.count_nonzero(np.isin(partner_base[labels[pixels]], list(right_partners(name)))))
            tally[1] += int(pixels.sum())
    return {"classes": counts, "role_right": role_right / max(scored, 1)}


def benchmark_run(run: Path, scene: Path, seeds: int, every: int) -> dict:
    layout = RunLayout(run)
    params, cameras = load_ply(layout.background_ply), read_run_cameras(layout)
    style_folder = scene / "style"
    if not (style_folder / "labels.png").is_file():
        write_style_exemplar(json.loads((scene / "scene.json").read_text())["name"], style_folder)
    classes = {c["id"]: c["name"] for c in json.loads((scene / "semantics.json").read_text())["classes"]}
    picks = list(range(0, len(cameras.names), every))
    shape = (cameras.height, cameras.width)
    truths = [media.read_gray(scene / "semantics" / f"{Path(cameras.names[i]).stem}.png") for i in picks]
    if truths[0].shape != shape:
        raise SystemExit(f"{run}: frames are {shape[::-1]} but {scene}'s semantics {truths[0].shape[::-1]}")
    people = [m > 0 for m in read_masks(run, [cameras.names[i] for i in picks], shape)]
    per_seed = [score_labelling(params, cameras, picks, truths, people, classes, style_folder / "style.png",
                                style_folder / "labels.png", seed) for seed in range(seeds)]
    role_right = [seed["role_right"] for seed in per_seed]
    counts = [seed["classes"] for seed in per_seed]
    paired_right = [sum(c[0] for c in by.values()) / sum(c[1] for c in by.values()) for by in counts]
    names = sorted({n for by in counts for n in by})
    by_class = {n: round(float(np.mean([by[n][0] / by[n][1] for by in counts if n in by])), 2) for n in names}
    return {"role_right": round(float(np.mean(role_right)), 3), "role_right_sd": round(float(np.std(role_right)), 3),
            "paired_right": round(float(np.mean(paired_right)), 3),
            "paired_right_sd": round(float(np.std(paired_right)), 3),
            "paired_right_by_seed": [round(v, 3) for v in paired_right], "paired_right_by_class": by_class}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, default=Path("out/bench_train"), help="benchmarks/train.py's --out")
    parser.add_argument("--demo", type=Path, default=Path("out/demo"), help="`make demo`'s output folder")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--every", type=int, default=6, help="score every n-th camera")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = runs_with_truth(args.runs, args.demo)
    if not runs:
        raise SystemExit(f"no trained run with truth in {args.runs} or {args.demo}: run benchmarks/train.py "
                         "or `make demo` first")
    results = {}
    for name, run, scene in runs:
        results[name] = benchmark_run(run, scene, args.seeds, args.every)
        print_figures(name, results[name])
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
