"""The `register` stage's body: pycolmap structure-from-motion of the run's frames, people masked out.

SIFT features are extracted only outside person masks (COLMAP-convention copies of `masks/`: named
`<image>.png`, 0 = ignore) on every core, matched sequentially (video) and mapped incrementally (or
globally) on one thread (repeatable), with one camera shared by all frames. The largest model is kept.
Writes `colmap/sparse/0`, and through `registration_files`, `transforms.json` and `colmap/points.ply`.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2  # noqa: F401

# numpy and cv2 must be loaded before pycolmap: with pycolmap loaded first, OpenCV's PNG writer
# double-frees inside zlib (seen with pycolmap 4.2 and opencv 5.0 wheels).
import numpy as np  # noqa: I001

from .. import media
from ..errors import OccluReStyleError
from ..fsutil import atomic_dir, write_json
from ..layout import MIN_FRAMES, RunLayout
from .gravity import write_gravity
from .registration_files import cameras_of, write_points_ply, write_transforms

PINHOLE_MODELS = ("SIMPLE_PINHOLE", "PINHOLE")


class RegistrationError(OccluReStyleError):
    """COLMAP could not register enough frames; the message lists likely causes."""


@dataclass
class RegistrationOptions:
    # pinhole models keep rendered views pixel-aligned with the original frames (no undistortion step)
    camera_model: str = field(default="SIMPLE_PINHOLE", metadata={"help": "SIMPLE_PINHOLE or PINHOLE"})
    max_num_features: int = field(default=4096, metadata={"help": "SIFT features per frame"})
    max_image_size: int = 1600
    overlap: int = field(default=10, metadata={
        "help": "sequential matching: each frame against the next this many frames"})
    # SIFT's detection threshold and the incremental mapper's outlier filter in pixels (COLMAP's defaults:
    # 0.0067 and 4 px). A lower threshold finds more features in small frames; a 1 px filter keeps wrong
    # matches out of bundle adjustment. On the sample scenes they cut the camera error from 0.24 to 0.03
    # degrees (living room) and from 0.075 to 0.025 (office), for 2-5x the registration time. The global
    # mapper ignores the filter (it uses its own angular thresholds).
    sift_peak_threshold: float = field(default=0.002, metadata={
        "help": "SIFT detection threshold (COLMAP's default 0.0067 finds fewer features in small frames)"})
    filter_max_reproj_error: float = field(default=1.0, metadata={
        "help": "incremental mapper's outlier filter in pixels (COLMAP's default 4.0 is faster, its cameras less "
                "accurate)"})
    # global bundle adjustment when the model has grown by this factor in frames or points since the
    # last: COLMAP's setting for video (its default is 1.1). Mapping took half the time with the same
    # camera error on both sample scenes (0.25% and 0.15% of the path's span, against their true
    # cameras); sam2_bedroom's about a third
    ba_global_ratio: float = 1.4
    loop_detection: bool = False
    vocab_tree: str | None = field(default=None, metadata={
        "help": "a local vocabulary tree file: turns on loop detection"})
    mapper: str = field(default="incremental", metadata={"help": "incremental or global (GLOMAP)"})
    use_masks: bool = field(default=True, metadata={"help": "honour masks/ (people masked out of the features)"})
    min_registered_fraction: float = 0.5
    # the incremental mapper refines the focal length while it builds the model. Where the camera mostly
    # turns (little parallax) a wrong early focal breaks the model up: it starts again (a second model) and
    # ends with tracks lost and cameras that do not agree with the frames. Mapping once more with the focal
    # fixed at what the first pass settled on mends that; the model with more frames, then more points, is
    # kept. davis_dance_twirl (restarted once): 4,437 -> 9,264 points, held-out PSNR 27.77 -> 28.49 dB.
    # Where the first pass made one model, as on the other clips, it is not run (sam2_bedroom and
    # davis_parkour mapped again that way made two models and fewer points; parkour 22.1 dB held out)
    refit_focal: bool = field(default=True, metadata={
        "help": "map again with the focal length fixed when the mapper had to start over (a model in pieces)"})
    seed: int = 0
    # matching and mapping: with two threads they gave other cameras from run to run
    threads: int = 1
    # feature extraction gives the same features on any number of threads once the images are in the database
    # (in name order, before extraction: extract_features); sam2_bedroom 19 -> 11 s on two cores
    extraction_threads: int = field(default=0, metadata={
        "help": "feature extraction threads (0: every core)", "hash": False})
    timings: dict = field(default_factory=dict, metadata={"hash": False})  # filled in by register()
    focal_refit: dict = field(default_factory=dict, metadata={"hash": False})  # filled in when it ran


def register(run_dir: str | Path, options: RegistrationOptions | None = None, progress: bool = True,
             verbose: bool = False) -> Path:
    """Run SfM on `RUN/frames` (honouring `RUN/masks`); returns the path of `colmap/sparse/0`."""
    import pycolmap

    options = options or RegistrationOptions()
    if options.camera_model not in PINHOLE_MODELS:
        raise OccluReStyleError(f"camera model {options.camera_model} is not supported; use one of {PINHOLE_MODELS}")
    if options.mapper not in ("incremental", "global"):
        raise OccluReStyleError(f"mapper must be 'incremental' or 'global', not {options.mapper!r}")
    layout = RunLayout(run_dir)
    frames = layout.frame_paths()
    if len(frames) < MIN_FRAMES:
        raise RegistrationError(
            f"only {len(frames)} frames in {layout.frames}; registration needs at least {MIN_FRAMES} "
            "(better 30 or more) frames of a moving camera; use a longer clip or a smaller --stride"
        )
    if options.loop_detection and not (options.vocab_tree and Path(options.vocab_tree).is_file()):
        raise OccluReStyleError(
            "loop detection needs a local vocabulary tree file (e.g. vocab_tree_flickr100K_words32K.bin from "
            "https://demuc.de/colmap/); pass its path with --vocab-tree"
        )
    pycolmap.logging.minloglevel = 0 if verbose else 2
    width, height = media.read_image(frames[0]).shape[1::-1]

    layout.colmap.mkdir(parents=True, exist_ok=True)
    mask_dir = _write_colmap_masks(layout, frames, width, height) if options.use_masks else None

    reconstructions = run_sfm(layout.frames, [f.name for f in frames], layout.colmap_database,
                              layout.colmap / "models", mask_dir, options, progress)
    best = max(reconstructions.values(), key=_size, default=None)
    registered = best.num_reg_images() if best is not None else 0
    if registered < options.min_registered_fraction * len(frames):
        raise RegistrationError(
            f"registration failed: only {registered} of {len(frames)} frames registered "
            f"({len(reconstructions)} model(s)). Likely causes: too little camera motion (a static or "
            "purely rotating camera gives no depth), textureless walls, motion blur, or too few frames; "
            "try a clip where the camera moves sideways, a smaller --stride, or more features"
        )
    with atomic_dir(layout.sparse, overwrite=True) as tmp:
        best.write(str(tmp))

    write_points_ply(best, layout.points_ply)
    write_transforms(layout, best)
    registered_cameras = cameras_of(best)
    gravity = write_gravity(layout, registered_cameras.names, registered_cameras.Ks, registered_cameras.viewmats)
    write_json(layout.colmap / "registration.json", {
        "registered": registered, "frames": len(frames), "points": best.num_points3D(),
        "mean_reprojection_error_px": best.compute_mean_reprojection_error(),
        "models": len(reconstructions),
        "options": {k: v for k, v in asdict(options).items() if k not in ("timings", "focal_refit")},
        "timings_s": options.timings, "focal_refit": options.focal_refit or None, "up_from": gravity.source,
    })
    return layout.sparse


def run_sfm(image_dir: Path, image_names: list[str], database: Path, models_dir: Path, mask_dir: Path | None,
            options: RegistrationOptions, progress: bool = True) -> dict:
    """Feature extraction, sequential matching and mapping; returns pycolmap's reconstructions."""
    import pycolmap

    pycolmap.set_random_seed(options.seed)
    timings = options.timings
    options.focal_refit.clear()  # options reused for another capture (batch) must not carry this one's report
    steps = _progress(progress, len(image_names))
    start = time.perf_counter()
    steps.set_description("register: extracting features")
    extract_features(image_dir, image_names, database, mask_dir, options)
    timings["extraction_s"] = time.perf_counter() - start

    start = time.perf_counter()
    steps.set_description("register: matching")
    pairing = pycolmap.SequentialPairingOptions()
    pairing.overlap = options.overlap
    pairing.quadratic_overlap = True
    if options.loop_detection:
        pairing.loop_detection = True
        pairing.vocab_tree_path = str(options.vocab_tree)
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = options.threads
    pycolmap.match_sequential(database, matching_options=matching, pairing_options=pairing,
                              device=pycolmap.Device.cpu)
    timings["matching_s"] = time.perf_counter() - start

    start = time.perf_counter()
    steps.set_description("register: mapping")
    with atomic_dir(models_dir, overwrite=True) as tmp_models:
        if options.mapper == "global":
            reconstructions = pycolmap.global_mapping(database, image_dir, tmp_models)
        else:
            mapper = pycolmap.IncrementalPipelineOptions()
            mapper.random_seed = options.seed
            mapper.num_threads = options.threads
            mapper.mapper.filter_max_reproj_error = options.filter_max_reproj_error
            mapper.ba_global_frames_ratio = mapper.ba_global_points_ratio = options.ba_global_ratio
            reconstructions = pycolmap.incremental_mapping(
                database, image_dir, tmp_models, options=mapper, next_image_callback=_counter(steps)
            )
            if options.refit_focal and len(reconstructions) > 1:
                steps.set_description("register: mapping again, focal fixed")
                reconstructions = _refit_focal(database, image_dir, tmp_models / "fixed_focal", mapper,
                                               reconstructions, options.focal_refit)
    shutil.rmtree(models_dir, ignore_errors=True)
    steps.close()
    timings["mapping_s"] = time.perf_counter() - start
    return reconstructions


def extract_features(image_dir: Path, image_names: list[str], database: Path, mask_dir: Path | None,
                     options: RegistrationOptions) -> None:
    """A new COLMAP database with the images (one shared camera) and their SIFT features outside the masks."""
    import pycolmap

    if database.exists():
        database.unlink()
    pycolmap.Database.open(database).close()
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = options.camera_model
    if mask_dir is not None:
        reader.mask_path = str(mask_dir)
    # images enter the database one by one in name order: extraction threads writing them as they finish
    # would number them in a different order from run to run, and the mapper's choices follow the numbers
    pycolmap.import_images(database, image_dir, camera_mode=pycolmap.CameraMode.SINGLE, image_names=image_names,
                           options=reader)
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.sift.max_num_features = options.max_num_features
    extraction.sift.peak_threshold = options.sift_peak_threshold
    extraction.max_image_size = options.max_image_size
    extraction.num_threads = options.extraction_threads or os.cpu_count() or 1
    pycolmap.extract_features(database, image_dir, image_names=image_names, camera_mode=pycolmap.CameraMode.SINGLE,
                              reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)


def _size(reconstruction) -> tuple[int, int]:
    """How a model ranks: registered frames, then points (the largest is the one kept)."""
    return reconstruction.num_reg_images(), reconstruction.num_points3D()


def _refit_focal(database: Path, image_dir: Path, out: Path, mapper, reconstructions: dict, report: dict) -> dict:
    """Map again with the shared camera fixed at the largest model's; the new models if their largest
    has more frames, or as many and more points, else `reconstructions`. `report` gets both sizes."""
    import pycolmap

    best = max(reconstructions.values(), key=_size)
    (camera,) = best.cameras.values()
    db = pycolmap.Database.open(database)
    try:
        (stored,) = db.read_all_cameras()
        stored.params, stored.has_prior_focal_length = camera.params, True
        db.update_camera(stored)
    finally:
        db.close()
    mapper.ba_refine_focal_length = False
    out.mkdir(parents=True, exist_ok=True)
    again = pycolmap.incremental_mapping(database, image_dir, out, options=mapper)
    best_again = max(again.values(), key=_size, default=None)
    kept = best_again is not None and _size(best_again) > _size(best)
    report.update({"focal_px": float(camera.params[0]), "models_before": len(reconstructions),
                   "frames_points_before": list(_size(best)),
                   "frames_points_after": list(_size(best_again)) if best_again is not None else None,
                   "kept": kept})
    return again if kept else reconstructions


def _write_colmap_masks(layout: RunLayout, frames: list[Path], width: int, height: int) -> Path | None:
    """COLMAP/nerfstudio masks (`<image name>.png`, 0 = ignore) from `masks/` (255 = person)."""
    if not layout.masks.is_dir():
        return None
    with atomic_dir(layout.colmap_masks, overwrite=True) as tmp:
        for frame in frames:
            if not layout.mask_path(frame).is_file():
                raise OccluReStyleError(
                    f"masks/ has no mask for frame {frame.name}; remake them with `occlurestyle mask {layout.root}` "
                    "or delete masks/ to register without masks"
                )
            person = media.read_gray(layout.mask_path(frame))
            if person.shape != (height, width):
                raise OccluReStyleError(
                    f"mask {layout.mask_path(frame)} is {person.shape[1]}x{person.shape[0]} but the frames are "
                    f"{width}x{height}; remake the masks with `occlurestyle mask {layout.root}`"
                )
            media.write_image(tmp / f"{frame.name}.png", np.where(person > 0, 0, 255).astype(np.uint8))
    return layout.colmap_masks


def _counter(bar):
    """A callback that advances `bar` by one, never past its total: the mapper calls it for every image it
    registers, including again after a failed start or for a second model (160 on a 70-frame clip)."""
    def step() -> None:
        if bar.n < bar.total:
            bar.update(1)

    return step


def _progress(enabled: bool, total: int):
    """One bar for the stage: the description names the step, mapping advances it per registered frame."""
    from tqdm import tqdm

    return tqdm(total=total, desc="register", unit="frame", disable=not enabled)
