"""The `auto` masker: people found without any network weights, as what moves against the static scene.

1. A quick structure-from-motion pass (pycolmap, working resolution, no masks) gives camera poses
   and points seen consistently over many frames: the static scene. Without it (too little camera
   motion), neighbouring frames are aligned by homographies instead.
2. Each frame is compared with its background plate (`plates`): the median of neighbours up to a
   second away, warped into it. A person differs from the plate because in most neighbours they
   stood elsewhere.
3. The difference is segmented: hysteresis thresholds (a strong core grows into its weakly
   different surroundings), closing, hole filling, and GrabCut to snap the outline to the person's
   colours. The shared clean-up (temporal median, dilation) follows in the `mask` stage.

Limits: a person standing still for the whole window looks static and is missed; moving shadows
are found with the person. The static reconstruction later marks what it cannot explain.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from .. import media
from . import plates

log = logging.getLogger(__name__)

NOISE_FLOOR = 0.03  # colour difference (0-1) that is noise even where all warped neighbours agree
DEPTH_NEIGHBOURS = 3  # depth hypotheses from the k nearest static points (besides interpolation)
SELECT_BY_SPREAD = True
SHADOW_WEIGHT = 0.25  # evidence kept where a pixel is the plate uniformly darkened (a moving shadow)


@dataclass
class AutoMaskOptions:
    working_side: int = 320  # plates and segmentation run at this size
    sfm_side: int = 640  # the quick SfM runs at this size (more points: better depth for the plates)
    # temporal offsets (seconds, both directions) of the neighbours that vote for the plate
    offsets_s: tuple = (0.13, 0.27, 0.4, 0.6, 0.8, 1.0)
    # evidence is colour difference / (spread of the warped neighbours + NOISE_FLOOR)
    strong: float = 2.0  # evidence that starts a person region
    weak: float = 0.8  # evidence a region may grow through
    min_region: float = 0.001  # fraction of the image a region's strong core must cover
    grabcut: bool = False  # measured: GrabCut lowers IoU by 0.05-0.1 on the sample scenes (grows into look-alike furniture)
    seed: int = 0
    timings: dict = field(default_factory=dict)


def auto_masks(frames: list[Path], fps: float, options: AutoMaskOptions | None = None,
               progress: bool = True) -> Iterator[np.ndarray]:
    """Boolean person masks (full frame size) for `frames`, a clip at `fps` frames per second, one at a
    time: each frame is compared with neighbours up to `max(offsets_s)` away, and only those are held."""
    options = options or AutoMaskOptions()
    height, width = media.read_image(frames[0]).shape[:2]
    geometry = static_geometry(frames, options, progress)
    offsets = sorted({max(1, round(s * fps)) for s in options.offsets_s})
    offsets = [-o for o in reversed(offsets)] + offsets
    window = _Window(frames, options.working_side, reach=offsets[-1])
    if geometry is not None:  # intrinsics of the SfM images → of the working images
        geometry.K = np.diag([window.size[0] / geometry.size[0]] * 2 + [1.0]) @ geometry.K
    for t in tqdm(range(len(frames)), desc="mask: auto", unit="frame", disable=not progress):
        evidence = frame_evidence(t, window, geometry, offsets)
        mask = segment(window.image(t), evidence, options)
        yield cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR) > 0


class _Window:
    """The frames at the working size (uint8, float 0-1 and grey), read when first asked for and dropped
    once the clip has moved `reach` frames past them."""

    def __init__(self, frames: list[Path], working_side: int, reach: int):
        self.frames, self.working_side, self.reach = frames, working_side, reach
        self._kept: dict[int, tuple] = {}
        self.size = self.image(0).shape[1::-1]  # (width, height)

    def __len__(self) -> int:
        return len(self.frames)

    def _get(self, index: int) -> tuple:
        if index not in self._kept:
            for old in [i for i in self._kept if i < index - self.reach]:
                del self._kept[old]
            image = media.resize_max_side(media.read_image(self.frames[index]), self.working_side)
            self._kept[index] = (image, image.astype(np.float32) / 255.0, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        return self._kept[index]

    def image(self, index: int) -> np.ndarray:
        return self._get(index)[0]

    def work(self, index: int) -> np.ndarray:
        return self._get(index)[1]

    def gray(self, index: int) -> np.ndarray:
        return self._get(index)[2]


def frame_evidence(t: int, window: _Window, geometry: plates.StaticGeometry | None, offsets: list[int]) -> np.ndarray:
    """How much frame t differs from its background plate, in units of the plate's own uncertainty.

    With poses, a plate is made for each depth hypothesis and each pixel keeps the better one; the
    difference is divided by the spread of the warped neighbours (plus a noise floor), so edges where
    the warps disagree count for little and a person in front of a well-agreed background counts a lot.
    Pixels that are just the plate darkened (moving shadows) count for a quarter.
    """
    current = window.work(t)
    height, width = current.shape[:2]
    neighbours = [t + o for o in offsets if 0 <= t + o < len(window)]
    candidates = []
    if geometry is not None and t in geometry.viewmats:
        registered = [s for s in neighbours if s in geometry.viewmats]
        for depth in plates.depth_hypotheses(geometry, t, width, height):
            warped = [plates.warp_with_depth(window.work(s), depth, geometry.K, geometry.viewmats[t],
                                             geometry.viewmats[s]) for s in registered]
            if warped:
                candidates.append(plates.median_plate(warped))
    if not candidates:
        warped = []
        for s in neighbours:
            H = plates.estimate_homography(window.gray(t), window.gray(s))
            if H is not None:
                warped.append(plates.warp_with_homography(window.work(s), H))
        if not warped:
            return np.zeros((height, width), np.float32)
        candidates.append(plates.median_plate(warped))
    # Each pixel keeps its smallest evidence over the depth hypotheses. (Measured alternative: choosing
    # the hypothesis whose warps agree best, with 3 nearest-point depths, scored 0.86/0.77 IoU on the
    # sample rooms but 0.45 on davis_parkour, against 0.83/0.72/0.51 for this rule.)
    evidence = []
    for plate, spread in candidates:
        score = plates.tolerant_difference(current, plate) / (spread + NOISE_FLOOR)
        score[plates.shadow_like(current, plate)] *= SHADOW_WEIGHT
        evidence.append(score)
    return np.min(evidence, axis=0)


def static_geometry(frames: list[Path], options: AutoMaskOptions, progress: bool) -> plates.StaticGeometry | None:
    """Poses and consistently seen points from a quick SfM of the frames (at `sfm_side`), or None."""
    import pycolmap

    from ..recon.colmap import RegistrationOptions, run_sfm

    pycolmap.logging.minloglevel = 2
    with tempfile.TemporaryDirectory(prefix="occlurestyle-automask-") as tmp:
        tmp = Path(tmp)
        names = []
        for index, frame in enumerate(frames):
            names.append(f"{index:06d}.png")
            image = media.resize_max_side(media.read_image(frame), options.sfm_side)
            media.write_image(tmp / "images" / names[-1], image)
        size = image.shape[1::-1]
        sfm_options = RegistrationOptions(max_num_features=2048, overlap=8, seed=options.seed)
        try:
            reconstructions = run_sfm(tmp / "images", names, tmp / "database.db", tmp / "models", None, sfm_options,
                                      progress)
        except Exception as exc:  # registration problems only cost the better plates; homographies remain
            log.warning("auto masker: the quick SfM failed (%s); background plates from homographies instead", exc)
            return None
        options.timings.update({f"sfm_{k}": v for k, v in sfm_options.timings.items()})
    best = max(reconstructions.values(), key=lambda r: r.num_reg_images(), default=None)
    if best is None or best.num_reg_images() < 0.5 * len(frames):
        log.warning("auto masker: the quick SfM registered %d of %d frames; background plates from homographies "
                    "instead", 0 if best is None else best.num_reg_images(), len(frames))
        return None
    viewmats = {}
    for image in best.images.values():
        viewmat = np.eye(4)
        viewmat[:3] = image.cam_from_world().matrix()
        viewmats[int(image.name[:6])] = viewmat
    points = []
    for point in best.points3D.values():
        ids = [el.image_id for el in point.track.elements]
        # seen from many frames spread over time, and well explained: the static scene, not a person
        if point.track.length() >= 4 and max(ids) - min(ids) >= 8 and point.error < 1.0:
            points.append(point.xyz)
    if len(points) < 50:
        log.warning("auto masker: only %d static points from the quick SfM; background plates from homographies "
                    "instead", len(points))
        return None
    K = best.cameras[next(iter(best.cameras))].calibration_matrix()
    return plates.StaticGeometry(K=K, viewmats=viewmats, points=np.array(points), size=size)


def segment(image: np.ndarray, evidence: np.ndarray, options: AutoMaskOptions) -> np.ndarray:
    """Person mask of one (working-size) frame from its plate difference."""
    height, width = evidence.shape
    strong = cv2.morphologyEx((evidence > options.strong).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    weak = evidence > options.weak
    labels, count = ndimage.label(weak, structure=np.ones((3, 3)))
    if count == 0:
        return np.zeros_like(weak)
    core = np.bincount(labels.ravel(), weights=strong.ravel(), minlength=count + 1)
    keep = core >= options.min_region * weak.size
    keep[0] = False
    region = keep[labels]
    if not region.any():
        return region
    radius = max(2, round(0.015 * max(height, width)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    region = ndimage.binary_fill_holes(cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0)
    if options.grabcut:
        region = _grabcut(image, region, (strong > 0) & region)
    return region


def _grabcut(image: np.ndarray, region: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Refine each region with GrabCut inside its (enlarged) bounding box."""
    height, width = region.shape
    out = np.zeros_like(region)
    labels, count = ndimage.label(region)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        ys, xs = box
        pad_y, pad_x = max(4, (ys.stop - ys.start) // 5), max(4, (xs.stop - xs.start) // 5)
        y0, y1 = max(0, ys.start - pad_y), min(height, ys.stop + pad_y)
        x0, x1 = max(0, xs.start - pad_x), min(width, xs.stop + pad_x)
        blob = labels[y0:y1, x0:x1] == index
        init = np.full(blob.shape, cv2.GC_PR_BGD, np.uint8)
        init[blob] = cv2.GC_PR_FGD
        sure = cv2.erode((core[y0:y1, x0:x1] & blob).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        init[sure] = cv2.GC_FGD
        if not (init == cv2.GC_PR_BGD).any() or blob.all():
            out[y0:y1, x0:x1] |= blob
            continue
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # GrabCut's k-means starts from OpenCV's global generator: same input, same mask
        try:
            cv2.grabCut(np.ascontiguousarray(image[y0:y1, x0:x1]), init, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
        except cv2.error:  # degenerate colour models (e.g. a flat region): keep the region as found
            out[y0:y1, x0:x1] |= blob
            continue
        out[y0:y1, x0:x1] |= (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    return out
