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
  pixels, which is what depth order and the mattes decide together; and, when the style is labelled
  with the scene's region names (a sample scene's own exemplar), the texture distance: per true region,
  people left out, the sliced Wasserstein distance of small mean-removed CIELAB patches of the output to
  those of the style's region of the same name (`eval.style.TexturePatches`; every third frame), and
  the shading kept: the correlation of each output's low-frequency lightness within each true region
  with the input's (`eval.style.RegionShading`).
Runtime per stage comes from the manifest and the baselines' own timings. One pass over the frames,
holding the last `max(gaps)` of each method (the warping error's) and a bounded sample of each region's
pixels (the style distance's): memory does not grow with the clip.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .. import media
from ..errors import InputError
from ..fsutil import write_json
from ..layout import RunLayout
from ..occlusion.depth_order import person_alpha
from ..occlusion.file_masker import match_mask_files, read_mask_file
from ..occlusion.people import read_people
from ..person_masks import read_masks
from ..pipeline import RunConfig
from ..recon.registration_files import read_run_cameras
from ..render.gaussians import load_ply
from ..stylize.regions import SceneRegions, render_labels
from ..stylize.style_regions import load_style
from .background import ground_truth, true_cameras
from .baselines import KINDS, run_baseline
from .flythrough import flythrough_coverage
from .metrics import BackgroundScores, Leakage, SequenceIoU, pose_errors
from .style import RegionSamples, RegionShading, TexturePatches, at_focal, sample_style_distances
from .temporal import WarpingErrors

LABELS = {"input": "input video (reference)", "ours": "OccluReStyle3D (ours)",
          "inpaint": "inpaint-then-stylize", "naive": "naive 2D (people stylized)"}


def find_scene(layout: RunLayout) -> Path | None:
    """The sample scene a run was made from (its ground truth), if the run's video is one."""
    config = layout.root / "config.json"
    if not config.is_file():
        return None
    scene = Path(RunConfig.load(config).video).parent
    return scene if (scene / "cameras.json").is_file() and (scene / "background").is_dir() else None


def evaluate_run(run_dir: str | Path, scene_dir: str | Path | None = None, baselines: bool = True,
                 gaps=(1, 7), progress: bool = True, true_masks: str | Path | None = None) -> dict:
    """Measure the run (and its baselines, run first when missing); merge into `metrics.json`.
    `true_masks`: a folder of true person masks of a real clip (matched as the file masker matches), for
    the leakage figure where there is no sample scene."""
    layout = RunLayout(run_dir)
    final = layout.renders / "final"
    if not final.is_dir():
        raise InputError(f"{layout.root} has no composited frames (renders/final); run `occlurestyle run` first")
    config = RunConfig.load(layout.root / "config.json")
    cameras = read_run_cameras(layout)
    names, shape = cameras.names, (cameras.height, cameras.width)
    for kind in KINDS:
        if baselines and not (layout.root / "baselines" / kind / "frames").is_dir():
            run_baseline(layout.root, kind, config.style, config.stylize.style_labels, progress=progress)
    folders = {"ours": final, **{kind: layout.root / "baselines" / kind / "frames" for kind in KINDS
                                 if (layout.root / "baselines" / kind / "frames").is_dir()}}
    scene = Path(scene_dir) if scene_dir else find_scene(layout)
    source = layout.source_names()
    stems = [source.get(Path(n).stem, Path(n).stem) for n in names]
    true_mask_files = None
    if scene is None and true_masks is not None:
        true_mask_files = match_mask_files(true_masks, [layout.frames / n for n in names], source)
    backgrounds = {}
    if scene is not None:
        backgrounds["ours"] = layout.renders / "background"
        if (layout.root / "baselines" / "inpaint" / "inpainted").is_dir():
            backgrounds["inpaint"] = layout.root / "baselines" / "inpaint" / "inpainted"
    for folder in (*folders.values(), *backgrounds.values()):
        _check_folder(folder, names)
    style = _StyleMeasure.start(layout, config, cameras)
    texture = _TextureMeasure.start(scene, config, float(cameras.Ks[0][0, 0]))

    warp = WarpingErrors(gaps)
    leak = {method: Leakage() for method in folders}
    recovered = {method: BackgroundScores() for method in backgrounds}
    visible = SequenceIoU()
    for index, name in enumerate(tqdm(names, desc="eval", unit="frame", disable=not progress)):
        stem = Path(name).stem
        frame = media.read_image(layout.frames / name)
        person = read_masks(layout.root, [name], shape)[0]
        outputs = {method: media.read_image(folder / f"{stem}.png") for method, folder in folders.items()}
        warp.add(frame, person, {"input": frame, **outputs})
        true_people = None
        if scene is not None:
            truths, people = ground_truth(scene, [stems[index]], shape)
            true_people = people[0]
            visible.add(_shown_people(layout, name) > 0.5, true_people)
            for method, folder in backgrounds.items():
                render = media.read_image(folder / f"{stem}.png").astype(np.float32) / 255.0
                recovered[method].add(render, truths[0], true_people)
        elif true_mask_files is not None:
            true_people = read_mask_file(true_mask_files[index], (cameras.width, cameras.height), layout.source_size())
        if true_people is not None:
            for method, output in outputs.items():
                leak[method].add(output, frame, true_people)
        if texture is not None and index % TEXTURE_EVERY == 0:
            texture.add(stems[index], shape, true_people, {"input": frame, **outputs})
        if style is not None:
            style.add(index, person, {"input": frame, **outputs})

    per_frame, methods = {}, {}
    for method in ("input", *folders):
        errors = warp.errors.get(method, {gap: [] for gap in gaps})
        per_frame[method] = {str(gap): errors[gap] for gap in gaps}
        methods[method] = {f"warping_error_gap{gap}": _mean(errors[gap]) for gap in gaps}
        if method in leak and (scene is not None or true_mask_files is not None):
            methods[method].update(leak[method].result())
    if style is not None:
        style.write_into(methods)
    if texture is not None:
        texture.write_into(methods)
    pose = None
    if scene is not None:
        methods["ours"].update({f"visible_person_{k}": v for k, v in visible.result().items()})
        for method, scores in recovered.items():
            methods[method].update({f"background_{k}": v for k, v in {**scores.psnr(), **scores.ssim()}.items()})
        pose = pose_errors({f"{stem}.png": v for stem, v in zip(stems, cameras.viewmats)}, true_cameras(scene)[3])

    metrics_path = layout.root / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics.update({
        "methods": methods, "labels": {m: LABELS[m] for m in methods}, "gaps": list(gaps),
        "scene": str(scene) if scene else None, "pose": pose, "runtime": _runtime(layout),
        "per_frame_warping_error": per_frame,
        "flythrough": flythrough_coverage(layout, config.train.holdout_every),
    })
    write_json(metrics_path, _finite(metrics))
    return metrics


def _shown_people(layout: RunLayout, name: str) -> np.ndarray:
    """The alpha with which the composite showed the run's person layer of frame `name` (depth-tested
    against the stylized background along the original path)."""
    layer, person_depth = read_people(layout.people, name)
    background_depth = np.load(layout.renders / "original" / f"{Path(name).stem}_depth.npy")
    return person_alpha(layer, person_depth, background_depth)


def _check_folder(folder: Path, names: list[str]) -> None:
    missing = [n for n in names if not (folder / f"{Path(n).stem}.png").is_file()]
    if missing:
        raise InputError(f"{folder} lacks {missing[0]} (and {len(missing) - 1} more); re-run the stage that writes it")


class _StyleMeasure:
    """Per-region style distance of each method's output (people excluded), on the stylized model's
    regions rendered at each camera as the frames go by, from a bounded sample of each region's pixels."""

    def __init__(self, params: dict, regions, matches: list[dict], style, cameras):
        self.params, self.regions, self.matches, self.style, self.cameras = params, regions, matches, style, cameras
        self.samples = RegionSamples()

    @classmethod
    def start(cls, layout: RunLayout, config: RunConfig, cameras) -> "_StyleMeasure | None":
        regions_path, matches_path = layout.stylize / "scene_regions.json", layout.stylize / "matches.json"
        if not (regions_path.is_file() and matches_path.is_file() and config.style):
            return None
        return cls(load_ply(layout.background_ply), SceneRegions.load(regions_path),
                   json.loads(matches_path.read_text())["matches"],
                   load_style(config.style, config.stylize.style_labels), cameras)

    def add(self, index: int, person: np.ndarray, images: dict[str, np.ndarray]) -> None:
        """Frame `index`'s images (the input and each method's output, uint8), its person mask left out."""
        c = self.cameras
        labels = render_labels(self.params, self.regions.labels, len(self.regions.names),
                               c.viewmats[index:index + 1], c.Ks[index:index + 1], c.width, c.height)[0]
        labels[person] = -1
        self.samples.add(labels, {method: image.astype(np.float32) / 255.0 for method, image in images.items()})

    def write_into(self, methods: dict) -> None:
        for method in methods:
            if method == "input":
                continue
            distances = sample_style_distances(self.samples, "input", method, self.regions.names, self.matches,
                                               self.style)
            if "overall" in distances:
                methods[method]["style_distance"] = distances["overall"]["after"]
                methods[method]["style_distance_input"] = distances["overall"]["before"]
                methods[method]["style_distance_by_region"] = {k: v["after"] for k, v in distances.items()
                                                               if k != "overall"}


TEXTURE_EVERY = 3  # frames apart that the texture figure samples (neighbours add little but time)


class _TextureMeasure:
    """The texture figure of a sample scene restyled from a labelled style: per true scene region (people
    left out), the patch distance of each method's output to the style's region of the same name; and
    the shading figure (`RegionShading`: the input's low-frequency lightness kept)."""

    def __init__(self, scene: Path, names: dict[int, str], style):
        self.scene, self.names, self.style = scene, names, style
        self.patches = TexturePatches()
        self.shading = RegionShading()

    @classmethod
    def start(cls, scene: Path | None, config: RunConfig, focal: float) -> "_TextureMeasure | None":
        """`focal`: the run's cameras' (the style is compared at their angular resolution when its labels
        carry its own camera, as the sample scenes' exemplars do)."""
        if scene is None or not config.stylize.style_labels or not (scene / "semantics.json").is_file():
            return None
        names = {c["id"]: c["name"] for c in json.loads((scene / "semantics.json").read_text())["classes"]}
        style = at_focal(load_style(config.style, config.stylize.style_labels), focal,
                         _style_focal(config.stylize.style_labels))
        if not set(names.values()) & set(style.names):
            return None  # a style labelled with other names: no region to compare with
        return cls(scene, names, style)

    def add(self, stem: str, shape: tuple[int, int], people: np.ndarray, images: dict[str, np.ndarray]) -> None:
        semantics = media.read_gray(self.scene / "semantics" / f"{stem}.png")
        if semantics.shape != tuple(shape):
            semantics = cv2.resize(semantics, shape[::-1], interpolation=cv2.INTER_NEAREST)
        images = {name: image.astype(np.float32) / 255.0 for name, image in images.items()}
        self.patches.add(semantics, self.names, people, images)
        self.shading.add(semantics, self.names, people, images)

    def write_into(self, methods: dict) -> None:
        for method, distance in self.patches.distances(self.style).items():
            if method in methods:
                methods[method]["texture_distance"] = distance["overall"]
                methods[method]["texture_distance_by_region"] = distance["by_region"]
        by_region = self.shading.by_region()
        for method, correlation in self.shading.correlations().items():
            if method in methods:
                methods[method]["shading_correlation"] = correlation
                methods[method]["shading_by_region"] = by_region.get(method, {})


def _style_focal(labels: str) -> float | None:
    """The focal length of the style's camera, when its labels' .json records it."""
    names = Path(labels).with_suffix(".json")
    if Path(labels).suffix == ".pth" or not names.is_file():
        return None
    camera = json.loads(names.read_text()).get("camera")
    return float(camera["K"][0][0]) if camera else None


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


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
