"""Stylization benchmark: materials against the colour-only transfer, on trained sample-scene runs (made
by benchmarks/train.py) and, with --real, on a real capture's run.

Pairs: each sample scene (living_room, office) × each style (its own exemplar: the same room re-skinned,
labelled, so floor must get floor; the paintings in ../shared/data/styles, automatic regions): six
pairs, each restyled by `materials` (the default) and by `colour`. Figures, at the cameras that were
not key views (every 3rd):
- texture: per true region of the scene, the patch distance (7×7 mean-removed CIELAB patches, sliced
  Wasserstein: eval/style.py) of the render to its style region, pooled by pixels: for the exemplar the
  region of the same name, compared at the run's angular resolution (the exemplar's camera is known);
  for a painting the style region matched to the scene region that covers most of the true region.
  Also for the input (the true person-free frames) and, for the exemplar, for the truth: the room
  re-skinned, rendered by the scene generator at each camera: the best any method can do here;
- consistency: the warping error (gap 1) of the background renders along the original path (the first
  45 frames; flow from the true person-free frames), with the truth's for the exemplar; and the same
  along the scene's true flow (its depth and cameras: `warping_gap1_true_flow`, people's pixels left
  out, with the run's inpaint-then-stylize baseline when it has one), where fine texture the input
  lacks does not turn the estimated flow's errors into error;
- shading: correlation of the low-frequency lightness within each true region with the input's
  (eval/style.py RegionShading);
- colour: the style distance reduction of the colour-only figures (region colours to their style
  region's), and seconds.

`--real RUN [RUN ...]` (run folders of real clips, e.g. from benchmarks/real.py) restyles each from the
living room's exemplar both ways: texture and shading figures on the run's own scene regions, its people
left out by its masks (no truth there: indicative), and the warping error. `--strip PATH`: for the first
pair and each real run, input | colour | materials at one held-out camera.

`--seeds N` restyles each sample pair with the stylize stage's seeds 0..N-1 (labelling, texture synthesis,
colour transport and the key-view fit all draw from it) and prints the headline figures' mean and
standard deviation (`over_seeds`): one seed's figure moves by more than most changes of method do.

Usage: python benchmarks/stylize.py [--json] [--runs out/bench_train] [--real RUN ...] [--strip docs/stylize_strip.jpg]
                                   [--styles own_exemplar,mondrian,...] [--fit-steps N] [--seeds N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from occlurestyle import media
from occlurestyle.eval.background import true_cameras
from occlurestyle.eval.style import (
    RegionShading,
    TexturePatches,
    at_focal,
    region_style_distances,
)
from occlurestyle.eval.temporal import WarpingErrors, true_flow, warping_error
from occlurestyle.layout import RunLayout
from occlurestyle.person_masks import read_masks
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.render.gaussians import load_ply, render_views
from occlurestyle.scenes.generate import SampleScene, SceneConfig, write_style_exemplar
from occlurestyle.stages.stylize import StylizeOptions, stylize
from occlurestyle.stylize.regions import SceneRegions, render_labels
from occlurestyle.stylize.style_regions import load_style

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
METHODS = ("materials", "colour")
WARP_FRAMES = 45


def _render(params: dict, cameras, picks) -> np.ndarray:
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    return render_views(params, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()


def _partners(label_maps, regions, matches, semantics, classes) -> dict[str, str]:
    """True region name → the style region matched to the scene region covering most of it."""
    by_scene = {m["scene"]: m["style"] for m in matches}
    partners = {}
    for class_id, name in classes.items():
        covered = label_maps[semantics == class_id]
        covered = covered[covered >= 0]
        if len(covered):
            scene_region = regions.names[int(np.bincount(covered).argmax())]
            if by_scene.get(scene_region):
                partners[name] = by_scene[scene_region]
    return partners


def _style_focal(labels: Path | None) -> float | None:
    if labels is None:
        return None
    camera = json.loads(labels.with_suffix(".json").read_text()).get("camera")
    return float(camera["K"][0][0]) if camera else None


def evaluate_pair(run: Path, scene: Path | None, style: Path, labels: Path | None,
                  fit_steps: int | None = None, seed: int = 0) -> tuple[dict, list]:
    """Restyle `run` both ways (fitting key views `fit_steps` steps, by default each stylizer's own; the
    stylize stage's `seed`) and score it (on `scene`'s truth when given). Returns (figures, strip images:
    input, colour, materials at one held-out camera)."""
    cameras = read_run_cameras(RunLayout(run))
    original = load_ply(run / "splat" / "background.ply")
    stems = [Path(n).stem for n in cameras.names]
    styled, seconds, infos = {}, {}, {}
    for method in METHODS:
        start = time.perf_counter()
        stylize(run, StylizeOptions(style=str(style), style_labels=str(labels) if labels else None, method=method,
                                    scene_labels=str(run / "stylize" / "scene_regions.json")
                                    if method != METHODS[0] else None, fit_steps=fit_steps, seed=seed))
        seconds[method] = round(time.perf_counter() - start, 1)
        styled[method] = load_ply(run / "splat" / "stylized.ply")
        infos[method] = json.loads((run / "stylize" / "matches.json").read_text())
    key_views = set(infos[METHODS[0]]["key_views"])
    picks = [i for i in range(0, len(stems), 3) if cameras.names[i] not in key_views]
    regions = SceneRegions.load(run / "stylize" / "scene_regions.json")
    label_maps = render_labels(original, regions.labels, len(regions.names), cameras.viewmats[picks],
                               cameras.Ks[picks], cameras.width, cameras.height)
    before = _render(original, cameras, picks)
    after = {method: _render(params, cameras, picks) for method, params in styled.items()}
    style_regions = load_style(style, labels)
    figures = {"seconds": seconds, "views": len(picks)}
    if scene is not None:
        inputs = np.stack([media.read_image(scene / "background" / f"{stems[i]}.png") for i in picks]) / 255.0
        semantics = np.stack([media.read_gray(scene / "semantics" / f"{stems[i]}.png") for i in picks])
        classes = {c["id"]: c["name"] for c in json.loads((scene / "semantics.json").read_text())["classes"]}
        truth = _truth(scene, labels, [cameras.names[i] for i in picks])
        people = np.zeros(semantics.shape, bool)
    else:  # a real clip: its own scene regions stand in for the truth (indicative only), people left out
        inputs = np.stack([media.read_image(run / "frames" / cameras.names[i]) for i in picks]) / 255.0
        semantics, classes, truth = label_maps + 1, {i + 1: n for i, n in enumerate(regions.names)}, None
        people = np.stack(read_masks(run, [cameras.names[i] for i in picks], (cameras.height, cameras.width)))
    patches, shading = TexturePatches(), RegionShading()
    for k in range(len(picks)):
        images = {"input": inputs[k], **{m: after[m][k] for m in METHODS}}
        if truth is not None:
            images["truth"] = truth[k]
        patches.add(semantics[k], classes, people[k], images)
        shading.add(semantics[k], classes, people[k], images)
    if labels is not None and scene is not None:
        compared = at_focal(style_regions, float(cameras.Ks[0][0, 0]), _style_focal(labels))
        distances = patches.distances(compared)
    else:
        distances = {}
        for method in ("input", *METHODS):
            own = METHODS[0] if method == "input" else method
            partners = _partners(label_maps, regions, infos[own]["matches"], semantics, classes)
            distances[method] = patches.distances(style_regions, partners=partners).get(method, {})
    figures["texture"] = {name: d.get("overall") for name, d in distances.items()}
    figures["texture_by_region"] = {name: d.get("by_region") for name, d in distances.items()}
    figures["shading"] = shading.correlations()
    figures["shading_by_region"] = shading.by_region()
    figures["warping_gap1"], along_truth = _warping(run, scene, cameras, original, styled, labels)
    if along_truth:
        figures["warping_gap1_true_flow"] = along_truth
    colour_reduction = region_style_distances(before, after["colour"], label_maps, regions.names,
                                              infos["colour"]["matches"], style_regions)
    figures["colour_swd_reduction"] = colour_reduction["overall"]["reduction"]
    middle = len(picks) // 2
    return figures, [inputs[middle], after["colour"][middle], after["materials"][middle]]


def _truth(scene: Path, labels: Path | None, names: list[str]) -> np.ndarray | None:
    """The room re-skinned as its exemplar, rendered at the true cameras of frames `names`."""
    if labels is None:
        return None
    K, width, height, viewmats = true_cameras(scene)
    reskinned = SampleScene(scene.name, SceneConfig(frames=1, width=width, height=height), style=True)
    return np.stack([reskinned.render_view(viewmats[name], K, width, height)[0] for name in names])


def _warping(run: Path, scene: Path | None, cameras, original, styled, labels
             ) -> tuple[dict[str, float], dict[str, float] | None]:
    frames = list(range(min(WARP_FRAMES, len(cameras.names))))
    names = [cameras.names[i] for i in frames]
    renders = {method: _render(params, cameras, frames) for method, params in styled.items()}
    if scene is not None:
        inputs = [media.read_image(scene / "background" / n) for n in names]
        truth = _truth(scene, labels, names)
        if truth is not None:
            renders["truth"] = truth
    else:
        inputs = [media.read_image(run / "frames" / n) for n in names]
    renders["input"] = np.stack(inputs) / 255.0
    people = (np.zeros((len(names), *inputs[0].shape[:2]), bool) if scene is not None
              else np.stack(read_masks(run, names, inputs[0].shape[:2])))
    errors = WarpingErrors((1,))
    for k, frame in enumerate(inputs):
        errors.add(frame, people[k], {m: (r[k] * 255 + 0.5).astype(np.uint8) for m, r in renders.items()})
    figures = {m: float(f"{np.nanmean(e[1]):.2e}") for m, e in errors.errors.items()}
    if scene is None:
        return figures, None
    K, _, _, viewmats = true_cameras(scene)
    depths = [np.load(scene / "background_depth" / f"{Path(n).stem}.npy") for n in names]
    people = [media.read_gray(scene / "masks" / n) > 0 for n in names]
    inpainted = run / "baselines" / "inpaint" / "frames"  # its people pasted back: their pixels left out
    if inpainted.is_dir():
        renders["inpaint-then-stylize"] = np.stack([media.read_image(inpainted / n) for n in names]) / 255.0
    along_truth = {m: [] for m in renders}
    for k in range(1, len(names)):
        maps, valid = true_flow(depths[k], viewmats[names[k]], depths[k - 1], viewmats[names[k - 1]], K)
        valid &= ~people[k] & ~(cv2.remap(people[k - 1].astype(np.float32), maps[..., 0], maps[..., 1],
                                          cv2.INTER_LINEAR) > 0)
        for method, frames in renders.items():
            along_truth[method].append(warping_error(frames[k], frames[k - 1], maps, valid))
    return figures, {m: float(f"{np.nanmean(e):.2e}") for m, e in along_truth.items()}


def over_seeds(runs: list[dict]) -> dict:
    """Texture, shading and warping (true flow) of each method as "mean±sd/n" over `runs` (one figures dict
    each, from evaluate_pair with different seeds), and under `by_seed` the materials' value at each seed."""
    summary = {}
    for figure in ("texture", "shading", "warping_gap1_true_flow"):
        values = {}
        for run in runs:
            for method, value in (run.get(figure) or {}).items():
                if method in METHODS and value is not None:
                    values.setdefault(method, []).append(value)
        summary[figure] = {method: f"{np.mean(v):.4g}±{np.std(v):.2g}/{len(v)}" for method, v in values.items()}
        summary.setdefault("by_seed", {})[figure] = [float(f"{v:.4g}") for v in values.get(METHODS[0], [])]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--runs", type=Path, default=Path("out/bench_train"))
    parser.add_argument("--real", type=Path, nargs="+", default=[], help="real clips' run folders, restyled too")
    parser.add_argument("--strip", type=Path, default=None, help="write an input | colour | materials strip here")
    parser.add_argument("--fit-steps", type=int, default=None,
                        help="steps of each fit to the key views (the stylize stage's option; default: each "
                        "stylizer's own)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="also restyle with the stylize stage's seeds 1..N-1 and print the headline figures' "
                        "mean and standard deviation over the N")
    parser.add_argument("--styles", default=None, help="comma-separated style names to run (own_exemplar, "
                        "en_campo_gris, mondrian); default: all")
    args = parser.parse_args()
    results, strips = {}, []
    for name in ("living_room", "office"):
        run, scene = args.runs / f"{name}_true_masks", args.runs / "scenes" / name
        if not (run / "splat" / "background.ply").is_file():
            print(f"skipping {name}: no trained run in {run} (run benchmarks/train.py first)")
            continue
        if not (scene / "style" / "labels.json").is_file() or "camera" not in json.loads(
                (scene / "style" / "labels.json").read_text()):
            write_style_exemplar(name, scene / "style")
        styles = [("own_exemplar", scene / "style" / "style.png", scene / "style" / "labels.png")]
        styles += [(p.stem, p, None) for p in sorted((DATA / "styles").glob("*.jpg"))]
        wanted = set(args.styles.split(",")) if args.styles else None
        for style_name, style, labels in styles:
            if wanted is not None and style_name not in wanted:
                continue
            figures, strip = evaluate_pair(run, scene, style, labels, args.fit_steps)
            if args.seeds > 1:
                figures["over_seeds"] = over_seeds([figures] + [evaluate_pair(run, scene, style, labels, args.fit_steps,
                                                                              seed)[0]
                                                                for seed in range(1, args.seeds)])
            results[f"{name}/{style_name}"] = figures
            strips.append(strip)
            if not args.json:
                print(f"{name}/{style_name}: {json.dumps(figures)}", flush=True)
    real_strips = []
    exemplar = args.runs / "scenes" / "living_room" / "style"
    if args.real and not (exemplar / "labels.json").is_file():
        write_style_exemplar("living_room", exemplar)
    for real in args.real:
        figures, strip = evaluate_pair(real, None, exemplar / "style.png", exemplar / "labels.png", args.fit_steps)
        results[f"{real.name}/living_room_exemplar"] = figures
        real_strips.append(strip)
        if not args.json:
            print(f"{real.name}/living_room_exemplar: {json.dumps(figures)}", flush=True)
    if args.strip and (strips or real_strips):
        picked = strips[:1] + real_strips if real_strips else strips[:2]
        rows = [np.concatenate(s, axis=1) for s in picked]
        width = rows[0].shape[1]  # a real clip's frames are larger than a sample scene's: one width for all
        rows = [cv2.resize(r, (width, round(r.shape[0] * width / r.shape[1])), interpolation=cv2.INTER_AREA)
                for r in rows]
        media.write_image(args.strip, (np.concatenate(rows, axis=0) * 255 + 0.5).astype(np.uint8))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
