"""Style regions: which pixels of the style image are its floor, walls, sofa...

Three sources, in order of preference:
- a label image with its names (`--style-labels labels.png` + `labels.json` next to it, as the sample
  scenes write: `{"classes": [{"id": 1, "name": "floor"}, ...]}`);
- ReStyle3D's `seg_dict.pth` (`{'pred_tgt': (id map, [{'id': ..., 'label': ...}])}`), so the same
  inputs work in both tools;
- without labels, a weight-free segmentation: k-means on colour plus position (superpixel-like
  regions that follow colour), named by a layout prior (floor low, ceiling high, walls between).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import media
from ..errors import InputError
from .transfer import rgb_to_lab


@dataclass
class StyleRegions:
    image: np.ndarray  # [H,W,3] float RGB 0-1
    labels: np.ndarray  # [H,W] int, index into names; -1 = none
    names: list[str]
    source: str  # "labels", "seg_dict" or "auto"

    def colors(self, name: str | None = None) -> np.ndarray:
        """The style's pixels [M,3] of region `name` (all labelled pixels when None)."""
        mask = self.labels >= 0 if name is None else self.labels == self.names.index(name)
        return self.image[mask]

    def masks(self) -> dict[str, np.ndarray]:
        """Each region's pixels, [H,W] bool, by name."""
        return {name: self.labels == i for i, name in enumerate(self.names)}


def load_style(style: str | Path, labels: str | Path | None = None, auto_regions: int = 6) -> StyleRegions:
    style = Path(style)
    if not style.is_file():
        raise InputError(f"style image {style} does not exist")
    image = media.read_image(style).astype(np.float32) / 255.0
    if labels is None:
        return auto_style_regions(image, auto_regions)
    labels = Path(labels)
    if not labels.is_file():
        raise InputError(f"style label file {labels} does not exist")
    if labels.suffix == ".pth":
        id_map, classes, source = *_read_seg_dict(labels), "seg_dict"
    else:
        names_file = labels.with_suffix(".json")
        if not names_file.is_file():
            raise InputError(f"{labels} needs its names in {names_file} "
                             '({"classes": [{"id": 1, "name": "floor"}, ...]})')
        id_map = media.read_gray(labels) if labels.suffix != ".npy" else np.load(labels)
        classes = {int(c["id"]): str(c["name"]) for c in json.loads(names_file.read_text())["classes"]}
        source = "labels"
    if id_map.shape[:2] != image.shape[:2]:
        id_map = cv2.resize(id_map.astype(np.int32).astype(np.float32), (image.shape[1], image.shape[0]),
                            interpolation=cv2.INTER_NEAREST).astype(np.int64)
    names = sorted({name for i, name in classes.items() if (id_map == i).any()})
    index = np.full(id_map.shape, -1, np.int64)
    for i, name in classes.items():
        if name in names:
            index[id_map == i] = names.index(name)
    return StyleRegions(image, index, names, source)


def _read_seg_dict(path: Path) -> tuple[np.ndarray, dict[int, str]]:
    import torch

    data = torch.load(path, map_location="cpu", weights_only=False)
    try:
        id_map, segments = data["pred_tgt"]
        classes = {int(s["id"]): str(s["label"]) for s in segments}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is not a ReStyle3D seg_dict.pth ({{'pred_tgt': (id map, segments)}}): {exc}")
    id_map = id_map.cpu().numpy() if hasattr(id_map, "cpu") else np.asarray(id_map)
    return id_map.astype(np.int64), classes


def auto_style_regions(image: np.ndarray, regions: int = 6, seed: int = 0) -> StyleRegions:
    """Segment a style image without weights and name the segments by where they sit."""
    height, width = image.shape[:2]
    scale = min(1.0, 160 / max(height, width))
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    lab = rgb_to_lab(small)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    features = np.concatenate([lab.reshape(-1, 3), (60.0 * yy / h).reshape(-1, 1),
                               (20.0 * xx / w).reshape(-1, 1)], axis=1).astype(np.float32)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.5)
    _, assignment, _ = cv2.kmeans(features, regions, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    segments = cv2.medianBlur(assignment.reshape(h, w).astype(np.uint8), 5)
    segments = cv2.resize(segments, (width, height), interpolation=cv2.INTER_NEAREST).astype(np.int64)
    # layout prior: segments lying almost entirely in the bottom part are floor (a checker floor is
    # two segments), in the top part ceiling; else the lowest / highest segment if it sits low / high
    rows = np.broadcast_to((np.arange(height)[:, None] + 0.5) / height, segments.shape)
    stats = []
    for k in range(regions):
        mask = segments == k
        if mask.any():
            r = rows[mask]
            stats.append((k, float(r.mean()), float(mask.mean()), float((r > 0.6).mean()), float((r < 0.3).mean())))
    names_by_segment: dict[int, str] = {}
    for k, _, _, bottom, top in stats:
        if bottom > 0.8:
            names_by_segment[k] = "floor"
        elif top > 0.8:
            names_by_segment[k] = "ceiling"
    by_height = sorted(stats, key=lambda s: s[1])
    if "floor" not in names_by_segment.values() and by_height and by_height[-1][1] > 0.55:
        names_by_segment[by_height[-1][0]] = "floor"
    if "ceiling" not in names_by_segment.values() and len(by_height) > 1 and by_height[0][1] < 0.3:
        names_by_segment.setdefault(by_height[0][0], "ceiling")
    walls = objects = 0
    for k, _, area, _, _ in sorted(stats, key=lambda s: -s[2]):
        if k in names_by_segment:
            continue
        if area > 0.08:
            names_by_segment[k] = f"wall_{walls}"
            walls += 1
        else:
            names_by_segment[k] = f"object_{objects}"
            objects += 1
    names = sorted(set(names_by_segment.values()))
    lookup = np.array([names.index(names_by_segment[k]) if k in names_by_segment else -1 for k in range(regions)])
    return StyleRegions(image, lookup[segments], names, "auto")
