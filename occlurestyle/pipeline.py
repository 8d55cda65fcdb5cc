"""The stage graph over a run folder: frames → masks → register → depth → train → stylize → people →
render → composite, with a manifest so a re-run skips what is done. `depth` runs only with a depth
model (`depth_model`); otherwise it does nothing.

`run/manifest.json` records, per stage, a hash of the options it depends on chained with the hashes of
the stages before it, its time, and when it finished. A re-run skips a stage whose hash is unchanged;
a changed option re-runs the stage it affects and every stage after it; an interrupted run resumes at
the first unfinished stage (training also resumes inside its stage from its checkpoint). Inputs are
checked before any stage starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError
from .fsutil import write_json
from .layout import RunLayout

log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    video: str
    style: str
    style_labels: str | None = None
    masker: str = "people"
    mask_dir: str | None = None
    sam_model: str | None = None  # sam masker: a local transformers SAM folder
    models_dir: str | None = None  # people masker: its model files (checked by content, so not in a stage hash)
    stride: int = 1
    max_side: int = 640
    max_frames: int | None = None
    check_motion: bool = True  # refuse a static or only turning camera in the frames stage (scenes/motion.py)
    train_steps: int = 4000
    max_gaussians: int = 80_000
    holdout_every: int = 0  # >0: every n-th frame is left out of training, for evaluation (benchmarks/real.py)
    appearance: bool = False  # per-frame exposure and white balance (recon/appearance.py)
    person_depth_dir: str | None = None  # depth maps of the frames from any depth tool (recon/free_space.py)
    depth_model: str | None = None  # or a local depth-estimation model that makes them (occlusion/depth_model.py)
    strength: float = 1.0
    texture: bool = False
    keep_structure: float = 0.82
    harmonization: float = 0.0
    shadow: float = 0.35
    flythrough: str = "auto"  # a path kind of render/planning.py, sized to stay inside what was filmed


# stage name → the options it depends on
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("frames", ("video", "stride", "max_side", "max_frames", "check_motion")),
    ("masks", ("masker", "mask_dir", "sam_model")),
    ("register", ()),
    ("depth", ("depth_model",)),
    ("train", ("train_steps", "max_gaussians", "holdout_every", "person_depth_dir", "appearance")),
    ("stylize", ("style", "style_labels", "strength", "texture", "keep_structure")),
    ("people", ()),
    ("render", ("flythrough",)),
    ("composite", ("harmonization", "shadow")),
]


def stage_outputs(layout: RunLayout, config: RunConfig) -> dict[str, tuple[Path, ...]]:
    """What each stage leaves behind: a stage the manifest calls done runs again if one is missing."""
    return {
        "frames": (layout.frames_info,),
        "masks": (layout.root / "masks.json",),
        "register": (layout.sparse, layout.transforms),
        "depth": (layout.depth_maps / "depth.json",) if config.depth_model else (),
        "train": (layout.background_ply,),
        "stylize": (layout.stylized_ply, layout.stylize / "scene_regions.json"),
        "people": (layout.people / "depth.json",),
        "render": (layout.renders / "original", layout.renders / "flythrough" / "path.json"),
        "composite": (layout.root / "final.mp4", layout.root / "flythrough.mp4"),
    }


def check_inputs(config: RunConfig) -> None:
    """Fail before any work on a missing or unreadable video or style image, or an unknown option."""
    from .render.planning import KINDS
    from .scenes import io

    if config.flythrough not in KINDS:
        raise InputError(f"unknown flythrough {config.flythrough!r}; choose one of {', '.join(KINDS)}")

    video = Path(config.video)
    if not video.exists():
        raise InputError(f"input video {video} does not exist")
    if video.is_file():
        io.video_info(video)  # raises a one-line InputError on unreadable files
    style = Path(config.style)
    if not style.is_file():
        raise InputError(f"style image {style} does not exist; pass an image with --style")
    io.read_image(style)
    if config.style_labels and not Path(config.style_labels).is_file():
        raise InputError(f"style labels {config.style_labels} do not exist")
    from .occlusion.masks import INSTANCE_MASKERS, MASKERS
    if config.masker not in MASKERS:
        raise InputError(f"unknown masker {config.masker!r}; choose one of {', '.join(MASKERS)}")
    if config.masker == "file" and not (config.mask_dir and Path(config.mask_dir).is_dir()):
        raise InputError("the file masker needs --mask-dir pointing to a folder of masks")
    if config.person_depth_dir and config.depth_model:
        raise InputError("pass either depth maps (--person-depth-dir) or a depth model (--depth-model), not both")
    if config.depth_model:
        from .occlusion.depth_model import check_model_dir

        check_model_dir(config.depth_model)
    if config.person_depth_dir and not Path(config.person_depth_dir).is_dir():
        raise InputError(f"depth folder {config.person_depth_dir} does not exist; pass the folder holding one "
                         "depth map per frame")
    if config.masker == "sam":
        from .occlusion.sam_masker import check_sam_dir

        check_sam_dir(config.sam_model)
    if config.masker in INSTANCE_MASKERS:
        from .models import model_paths

        model_paths(folder=config.models_dir)  # fetched now (or a one-line error), not after the frames stage


def stage_hashes(config: RunConfig) -> dict[str, str]:
    values, chained, out = asdict(config), "", {}
    for name, keys in STAGES:
        payload = json.dumps({k: values[k] for k in keys}, sort_keys=True) + chained
        chained = hashlib.sha256(payload.encode()).hexdigest()[:16]
        out[name] = chained
    return out


def run_pipeline(config: RunConfig, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] = print) -> dict:
    """Run (or resume) every stage into `out`; returns the manifest."""
    check_inputs(config)
    layout = RunLayout(out)
    layout.root.mkdir(parents=True, exist_ok=True)
    manifest_path = layout.root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"stages": {}}
    write_json(layout.root / "config.json", asdict(config))
    hashes = stage_hashes(config)
    outputs = stage_outputs(layout, config)
    stale = False
    for name, _ in STAGES:
        done = manifest["stages"].get(name)
        if not stale and done and done.get("hash") == hashes[name]:
            missing = [path for path in outputs[name] if not path.exists()]
            if not missing:
                log(f"[{name}] done already ({done['seconds']:.1f} s), skipped")
                continue
            log(f"[{name}] {missing[0].relative_to(layout.root)} is missing: running it again")
        stale = True  # this stage and every later one run again
        log(f"[{name}] running")
        start = time.perf_counter()
        STAGE_FUNCTIONS[name](layout, config, progress)
        seconds = time.perf_counter() - start
        manifest["stages"][name] = {"hash": hashes[name], "seconds": round(seconds, 2),
                                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_json(manifest_path, manifest)
        log(f"[{name}] {seconds:.1f} s")
    return manifest


def _frames(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .scenes.capture import extract_frames

    extract_frames(config.video, layout.root, stride=config.stride, max_side=config.max_side,
                   max_frames=config.max_frames, check_motion=config.check_motion, progress=progress)


def _masks(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .occlusion.masks import MaskOptions, make_masks

    make_masks(layout.root, MaskOptions(masker=config.masker, mask_dir=config.mask_dir, sam_model=config.sam_model,
                                        models_dir=config.models_dir), progress=progress)


def _register(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .recon.colmap import register

    register(layout.root, progress=progress)


def _depth(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    if config.depth_model:
        from .occlusion.depth_model import estimate_depths

        estimate_depths(layout.root, config.depth_model, progress=progress)


def _train(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .recon.trainer import TrainOptions, train

    depth_maps = config.person_depth_dir or (str(layout.depth_maps) if config.depth_model else "")
    train(layout.root, TrainOptions(steps=config.train_steps, max_gaussians=config.max_gaussians,
                                    holdout_every=config.holdout_every, person_depth_dir=depth_maps,
                                    appearance=config.appearance),
          progress=progress)


def _stylize(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .stylize.pipeline import stylize

    stylize(layout.root, config.style, config.style_labels, config.strength, texture=config.texture,
            keep_structure=config.keep_structure, progress=progress)


def _people(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    """Two passes over the frames, one frame in memory at a time: the person records (depth needs every
    frame's, for tracking and smoothing), then each frame's layer and depth map."""
    from .occlusion.masks import read_masks
    from .occlusion.people import person_layer, person_records, write_people
    from .recon.appearance import apply_appearance, read_appearance
    from .recon.exports import read_run_cameras
    from .recon.gaussians import load_ply
    from .scenes import io
    from .stylize.regions import SceneRegions

    cameras = read_run_cameras(layout)
    shape = (cameras.height, cameras.width)
    floor = None
    regions_path = layout.stylize / "scene_regions.json"
    if regions_path.is_file():
        regions = SceneRegions.load(regions_path)
        if "floor" in regions.names:
            means = load_ply(layout.background_ply)["means"].numpy()
            heights = means[regions.labels == regions.names.index("floor")] @ regions.up
            floor = (regions.up, -float(np.median(heights)))  # level, at the layer's middle
    if floor is None:
        log.warning("no floor among the scene regions: each person's depth comes from the background around their "
                    "feet, and new views place them less well")
    depth_paths = _render_depths(layout, cameras)
    appearance = read_appearance(layout.appearance)

    def mask(index: int) -> np.ndarray:
        name = cameras.names[index]
        found = read_masks(layout.root, [name], shape, undilated=True)[0]
        if config.masker != "file":  # a masker's masks spill, lag or miss limbs; the background model corrects them
            from .occlusion.matte import refine_with_background

            render = io.read_image(layout.renders / "background" / f"{Path(name).stem}.png") / 255.0
            render = apply_appearance(render, appearance.get(name))  # as the frame was exposed
            found = refine_with_background(found, io.read_image(layout.frames / name) / 255.0, render)
        return found

    packed = [np.packbits(mask(i)) for i in range(len(cameras.names))]  # 1 bit a pixel

    def unpacked(index: int) -> np.ndarray:
        return np.unpackbits(packed[index], count=shape[0] * shape[1]).reshape(shape).astype(bool)

    def instances(index: int) -> np.ndarray | None:
        """The masker's person ids (a people or sam run), so people who overlap are placed one by one."""
        path = layout.instances / f"{Path(cameras.names[index]).stem}.png"
        return io.read_gray(path) if path.is_file() else None

    records = person_records((unpacked(i) for i in range(len(packed))), cameras.Ks, cameras.viewmats, floor,
                             (np.load(p) for p in depth_paths), instances=(instances(i) for i in range(len(packed))))
    layers = (person_layer(io.read_image(layout.frames / name), unpacked(i), records[i], np.load(depth_paths[i]),
                           instances=instances(i))
              for i, name in enumerate(cameras.names))
    write_people(layout.people, cameras.names, layers, records, progress=progress)


def _render_depths(layout: RunLayout, cameras) -> list[Path]:
    """The unstylized background model at every registered camera, into renders/background (its depth
    places the people; its colours are what harmonization compares with). Rendered whenever the people
    stage runs, so a retrained model never leaves stale renders behind."""
    from .render.video import render_path

    folder = layout.renders / "background"
    render_path(layout.background_ply, cameras.viewmats, cameras.Ks, cameras.width, cameras.height, folder,
                cameras.names)
    return [folder / f"{Path(n).stem}_depth.npy" for n in cameras.names]


def _render(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .recon.exports import read_run_cameras
    from .recon.gaussians import load_ply
    from .recon.trainer import training_indices
    from .render.coverage import SeenSurface
    from .render.planning import plan_flythrough
    from .render.video import render_path

    cameras = read_run_cameras(layout)
    render_path(layout.stylized_ply, cameras.viewmats, cameras.Ks, cameras.width, cameras.height,
                layout.renders / "original", cameras.names, progress=progress)
    trained = training_indices(len(cameras.names), config.holdout_every)
    scale = min(1.0, max(0.25, 160 / cameras.width))  # plan on views 160 px wide or more
    seen = SeenSurface(load_ply(layout.background_ply), cameras.viewmats[trained], cameras.Ks[trained],
                       cameras.width, cameras.height, scale=scale)
    planned = plan_flythrough(config.flythrough, cameras.viewmats, cameras.Ks[0], seen)
    Ks = np.repeat(cameras.Ks[:1], len(planned.viewmats), axis=0)
    render_path(layout.stylized_ply, planned.viewmats, Ks, cameras.width, cameras.height,
                layout.renders / "flythrough", cameras.names[:len(planned.viewmats)], progress=progress)
    write_json(layout.renders / "flythrough" / "path.json",
               {"requested": config.flythrough, **planned.summary(), "viewmats": planned.viewmats.tolist(),
                "Ks": Ks.tolist()})


def _composite(layout: RunLayout, config: RunConfig, progress: bool) -> None:
    from .occlusion.compose_run import composite_run

    metrics = composite_run(layout, config.harmonization, config.shadow, progress=progress)
    write_json(layout.root / "metrics.json", metrics)


STAGE_FUNCTIONS: dict[str, Callable] = {
    "frames": _frames, "masks": _masks, "register": _register, "depth": _depth, "train": _train, "stylize": _stylize,
    "people": _people, "render": _render, "composite": _composite,
}
