"""`occlurestyle eval RUN`: the run's output against the 2D baselines, by the same measures, into
`metrics.json` (and the report, `eval.report`).

Per method (ours = `renders/final`, the composited frames along the original path; the baselines of
`eval.baselines`; the input itself as the floor of what the flow measure can tell):
- temporal warping error at frame gaps 1 and 7 (`eval.temporal`), mean and per frame;
- leakage: change of the people against the input (`metrics.leakage`), on their TRUE pixels (a sample
  scene's masks, or `true_masks` for a real clip): a person the masker missed was stylized, and counts
  (measured on the run's own masks it would be 0 by construction for ours and say nothing);
- style distance: per scene region (rendered labels of the stylized model, people excluded), the
  sliced Wasserstein distance of the output's colours to the matched style region's;
- with a sample scene's ground truth: the recovered background (ours: `renders/background`, the
  person-free model before stylization; inpaint-then-stylize: its inpainted frames) against the true
  person-free frames, PSNR and SSIM over all pixels and over the pixels people hid; pose error; and
  for ours the visible-person IoU: the people as composited (alpha > 0.5) against their true visible
  pixels, which is what depth order and the mattes decide together.
Runtime per stage comes from the manifest and the baselines' own timings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fsutil import write_json
from ..layout import RunLayout
from ..occlusion.composite import person_alpha
from ..occlusion.file_masker import read_mask_folder
from ..occlusion.masks import read_masks
from ..occlusion.people import read_people
from ..scenes import io
from .background import ground_truth, true_cameras
from .baselines import KINDS, run_baseline
from .metrics import background_psnr, background_ssim, leakage, pose_errors, sequence_mask_iou
from .temporal import WarpingError

LABELS = {"input": "input video (reference)", "ours": "OccluReStyle3D (ours)",
          "inpaint": "inpaint-then-stylize", "naive": "naive 2D (people stylized)"}


def find_scene(layout: RunLayout) -> Path | None:
    """The sample scene a run was made from (its ground truth), if the run's video is one."""
    config = layout.root / "config.json"
    if not config.is_file():
        return None
    scene = Path(json.loads(config.read_text())["video"]).parent
    return scene if (scene / "cameras.json").is_file() and (scene / "background").is_dir() else None


def evaluate_run(run_dir: str | Path, scene_dir: str | Path | None = None, baselines: bool = True,
                 gaps=(1, 7), progress: bool = True, true_masks: str | Path | None = None) -> dict:
    """Measure the run (and its baselines, run first when missing); merge into `metrics.json`.
    `true_masks`: a folder of true person masks of a real clip (matched as the file masker matches), for
    the leakage figure where there is no sample scene."""
    from ..recon.exports import read_run_cameras

    layout = RunLayout(run_dir)
    final = layout.renders / "final"
    if not final.is_dir():
        raise InputError(f"{layout.root} has no composited frames (renders/final); run `occlurestyle run` first")
    config = json.loads((layout.root / "config.json").read_text())
    cameras = read_run_cameras(layout)
    names, shape = cameras.names, (cameras.height, cameras.width)
    for kind in KINDS:
        if baselines and not (layout.root / "baselines" / kind / "frames").is_dir():
            run_baseline(layout.root, kind, config["style"], config.get("style_labels"), progress=progress)

    inputs = [io.read_image(layout.frames / n) for n in names]
    outputs = {"input": inputs, "ours": _read_folder(final, names)}
    for kind in KINDS:
        folder = layout.root / "baselines" / kind / "frames"
        if folder.is_dir():
            outputs[kind] = _read_folder(folder, names)
    masks = read_masks(layout.root, names, shape)
    scene = Path(scene_dir) if scene_dir else find_scene(layout)
    truths = true_people = None
    if scene is not None:
        source = layout.source_names()
        truths, true_people = ground_truth(scene, [source.get(Path(n).stem, Path(n).stem) for n in names], shape)
    elif true_masks is not None:
        size = (cameras.width, cameras.height)
        true_people = read_mask_folder(true_masks, [layout.frames / n for n in names], layout.source_names(), size,
                                       layout.source_size())

    warp = WarpingError(np.stack(inputs), np.stack(masks), gaps, progress=progress)
    per_frame, methods = {}, {}
    for method, frames in outputs.items():
        errors = warp(frames)
        per_frame[method] = {str(gap): errors[gap] for gap in gaps}
        row = {f"warping_error_gap{gap}": _mean(errors[gap]) for gap in gaps}
        if method != "input" and true_people is not None:
            row.update(leakage(frames, inputs, true_people))
        methods[method] = row
    _style_distances(layout, config, cameras, inputs, outputs, masks, methods)

    pose = None
    if scene is not None:
        shown = _shown_people(layout, names)
        methods["ours"].update({f"visible_person_{k}": v for k, v in
                                sequence_mask_iou((a > 0.5, t) for a, t in zip(shown, true_people)).items()})
        backgrounds = {"ours": _read_folder(layout.renders / "background", names)}
        inpainted = layout.root / "baselines" / "inpaint" / "inpainted"
        if inpainted.is_dir():
            backgrounds["inpaint"] = _read_folder(inpainted, names)
        for method, frames in backgrounds.items():
            recovered = [f.astype(np.float32) / 255.0 for f in frames]
            scores = {**background_psnr(recovered, truths, true_people),
                      **background_ssim(recovered, truths, true_people)}
            methods[method].update({f"background_{k}": v for k, v in scores.items()})
        truth = true_cameras(scene)[3]
        estimated = {f"{source.get(Path(n).stem, Path(n).stem)}.png": v for n, v in zip(names, cameras.viewmats)}
        pose = pose_errors(estimated, truth)

    metrics_path = layout.root / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics.update({
        "methods": methods, "labels": {m: LABELS[m] for m in methods}, "gaps": list(gaps),
        "scene": str(scene) if scene else None, "pose": pose, "runtime": _runtime(layout),
        "per_frame_warping_error": per_frame,
    })
    write_json(metrics_path, _finite(metrics))
    return metrics


def _shown_people(layout: RunLayout, names: list[str]) -> list[np.ndarray]:
    """Per frame, the alpha with which the composite showed the run's person layer (depth-tested
    against the stylized background along the original path)."""
    shown = []
    for name in names:
        layer, person_depth = read_people(layout.people, name)
        background_depth = np.load(layout.renders / "original" / f"{Path(name).stem}_depth.npy")
        shown.append(person_alpha(layer, person_depth, background_depth))
    return shown


def _read_folder(folder: Path, names: list[str]) -> list[np.ndarray]:
    missing = [n for n in names if not (folder / f"{Path(n).stem}.png").is_file()]
    if missing:
        raise InputError(f"{folder} lacks {missing[0]} (and {len(missing) - 1} more); re-run the stage that writes it")
    return [io.read_image(folder / f"{Path(n).stem}.png") for n in names]


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _style_distances(layout, config, cameras, inputs, outputs, masks, methods) -> None:
    """Per-region style distance of each method's output (people excluded), on the stylized model's
    regions rendered at every camera."""
    from ..recon.gaussians import load_ply
    from ..stylize.regions import SceneRegions, render_labels
    from ..stylize.style_regions import load_style
    from .style import region_style_distances

    regions_path, matches_path = layout.stylize / "scene_regions.json", layout.stylize / "matches.json"
    if not (regions_path.is_file() and matches_path.is_file() and config.get("style")):
        return
    regions = SceneRegions.load(regions_path)
    labels = render_labels(load_ply(layout.background_ply), regions.labels, len(regions.names), cameras.viewmats,
                           cameras.Ks, cameras.width, cameras.height)
    labels[np.stack(masks)] = -1
    style = load_style(config["style"], config.get("style_labels"))
    matches = json.loads(matches_path.read_text())["matches"]
    before = np.stack(inputs).astype(np.float32) / 255.0
    for method, frames in outputs.items():
        if method == "input":
            continue
        after = np.stack(frames).astype(np.float32) / 255.0
        distances = region_style_distances(before, after, labels, regions.names, matches, style)
        if "overall" in distances:
            methods[method]["style_distance"] = distances["overall"]["after"]
            methods[method]["style_distance_input"] = distances["overall"]["before"]
            methods[method]["style_distance_by_region"] = {k: v["after"] for k, v in distances.items()
                                                           if k != "overall"}


def _runtime(layout: RunLayout) -> dict:
    """Seconds per stage of the run, and of each baseline's own steps."""
    manifest = layout.root / "manifest.json"
    stages = json.loads(manifest.read_text())["stages"] if manifest.is_file() else {}
    result = {"ours": {name: stage["seconds"] for name, stage in stages.items()}}
    for kind in KINDS:
        info = layout.root / "baselines" / kind / "baseline.json"
        if info.is_file():
            shared = {k: result["ours"][k] for k in ("frames", "masks") if k in result["ours"]}
            result[kind] = {**shared, **json.loads(info.read_text())["seconds"]}
    for times in result.values():
        times["total"] = round(sum(times.values()), 2)
    return result


def _finite(value):
    """NaN/inf → None, so metrics.json stays valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
