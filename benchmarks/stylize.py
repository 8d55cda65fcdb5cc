"""Stylization benchmark on trained sample-scene runs (made by benchmarks/train.py).

Styles: the scene's own style exemplar (same room re-skinned, with labels: floor must get floor) and
the paintings in ../shared/data/styles/ (automatic style regions). Figures, at cameras that were not
key views: per scene region, the sliced Wasserstein distance of its rendered colours to its matched
style region (reduction vs the unstylized model, pooled over regions); correlation of luminance
gradients between stylized and original renders (structure kept); labelling accuracy of the
weight-free scene regions against the scene's semantics; seconds. `--strip PATH` writes a
before/after image.

Usage: python benchmarks/stylize.py [--json] [--runs out/bench_train] [--strip docs/stylize_strip.jpg]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from occlurestyle import media
from occlurestyle.eval.style import label_accuracy, region_style_distances
from occlurestyle.layout import RunLayout
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.render.gaussians import load_ply, render_views
from occlurestyle.scenes.generate import write_style_exemplar
from occlurestyle.stages.stylize import StylizeOptions, stylize
from occlurestyle.stylize.regions import SceneRegions, render_labels
from occlurestyle.stylize.style_regions import load_style
from occlurestyle.stylize.transfer import structure_correlation

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def evaluate(run: Path, scene: Path, style: Path, labels: Path | None, **options) -> tuple[dict, np.ndarray]:
    start = time.perf_counter()
    stylize(run, StylizeOptions(style=str(style), style_labels=str(labels) if labels else None, **options))
    seconds = time.perf_counter() - start
    cameras = read_run_cameras(RunLayout(run))
    info = json.loads((run / "stylize" / "matches.json").read_text())
    picks = [i for i in range(0, len(cameras.names), 6) if cameras.names[i] not in info["key_views"]]
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    original = load_ply(run / "splat" / "background.ply")
    before = render_views(original, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    after = render_views(load_ply(run / "splat" / "stylized.ply"), viewmats, Ks, cameras.width,
                         cameras.height)["rgb"].numpy()
    regions = SceneRegions.load(run / "stylize" / "scene_regions.json")
    label_maps = render_labels(original, regions.labels, len(regions.names), cameras.viewmats[picks],
                               cameras.Ks[picks], cameras.width, cameras.height)
    distances = region_style_distances(before, after, label_maps, regions.names, info["matches"],
                                       load_style(style, labels))
    figures = {
        "seconds": round(seconds, 1), "views": len(picks),
        "swd_reduction_overall": distances["overall"]["reduction"],
        "swd_reduction_floor": distances.get("floor", {}).get("reduction"),
        "softening": info.get("softening"), "kept_on_key_views": info.get("structure_kept"),
        "structure_correlation": round(float(np.mean([structure_correlation(b, a) for b, a in zip(before, after)])),
                                       3),
        "matches": {m["scene"]: m["style"] for m in info["matches"]},
    }
    semantics = np.stack([media.read_gray(scene / "semantics" / f"{Path(cameras.names[i]).stem}.png") for i in picks])
    classes = {c["id"]: c["name"] for c in json.loads((scene / "semantics.json").read_text())["classes"]}
    figures["labels"] = {k: round(v, 3) for k, v in label_accuracy(label_maps, regions.names, semantics,
                                                                   classes).items()}
    return figures, np.concatenate([before[len(picks) // 2], after[len(picks) // 2]], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--runs", type=Path, default=Path("out/bench_train"))
    parser.add_argument("--strip", type=Path, default=None, help="write a before/after image here")
    args = parser.parse_args()
    results, rows = {}, []
    for name in ("living_room", "office"):
        run, scene = args.runs / f"{name}_true_masks", args.runs / "scenes" / name
        if not (run / "splat" / "background.ply").is_file():
            print(f"skipping {name}: no trained run in {run} (run benchmarks/train.py first)")
            continue
        if not (scene / "style" / "style.png").is_file():
            write_style_exemplar(name, scene / "style")
        styles = [("own_exemplar", scene / "style" / "style.png", scene / "style" / "labels.png", {}),
                  ("own_exemplar_texture", scene / "style" / "style.png", scene / "style" / "labels.png",
                   {"method": "texture"})]
        styles += [(p.stem, p, None, {}) for p in sorted((DATA / "styles").glob("*.jpg"))]
        for style_name, style, labels, options in styles:
            if not style.is_file():
                continue
            figures, strip = evaluate(run, scene, style, labels, **options)
            results[f"{name}/{style_name}"] = figures
            rows.append(strip)
            if not args.json:
                print(f"{name}/{style_name}: {figures}", flush=True)
    if args.strip and rows:
        media.write_image(args.strip, (np.concatenate(rows[:4], axis=0) * 255).astype(np.uint8))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
