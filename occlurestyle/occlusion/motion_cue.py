"""Where a frame moves against the camera: the `people` masker's proposals where its detector is silent.

The detector keys on a visible face; a person crouched, turned away or small in the frame goes
unseen by it, but rarely keeps still. Each frame is compared with a plate (`plates`): the median of
neighbours `gap` and 2 * `gap` frames away on either side, aligned to it by homographies. Pixels far
from the plate are moving (or off the homography: parallax at depth edges), unless they are the plate
darkened alike in every channel (a moving shadow: the pose model is confident of a person's shadow on
a wall); their connected regions large enough to hold a person are returned, largest first. They are
only proposals: the pose model decides whether a person is there. The cue works at a longest side of
`work_side` pixels: it only needs person-sized regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import media
from . import plates

FEATURES = 800  # ORB features a frame at the working size (matching 1500 costs three times as much)


@dataclass(frozen=True)
class MovingRegion:
    box: np.ndarray  # [x0, y0, x1, y1], frame pixels
    pixels: np.ndarray  # bool, frame-sized


class MotionCue:
    """Moving regions of each of `frames`, asked for in any order (neighbours are read and kept as needed)."""

    def __init__(self, frames: list[Path], gap: int = 4, threshold: float = 0.15, min_area: float = 0.002,
                 max_regions: int = 4, work_side: int = 320):
        self.frames, self.gap, self.threshold, self.work_side = frames, gap, threshold, work_side
        self.min_area, self.max_regions = min_area, max_regions
        self._images: dict[int, np.ndarray] = {}
        self._features: dict[int, tuple] = {}

    def _image(self, index: int, image: np.ndarray | None = None) -> np.ndarray:
        """Frame `index` as float 0..1 (`image`, its uint8 pixels, when the caller has read it already)."""
        if index not in self._images:
            image = media.read_image(self.frames[index]) if image is None else image
            scale = self.work_side / max(image.shape[:2])
            if scale < 1:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            self._images[index] = image.astype(np.float32) / 255.0
            self._features[index] = plates.orb_features(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), FEATURES)
        return self._images[index]

    def moving(self, index: int, image: np.ndarray | None = None) -> np.ndarray:
        """Bool map of the pixels of frame `index` that differ from its plate (False without one), at
        the working size (longest side `work_side`)."""
        for old in [i for i in self._images if i < index - 2 * self.gap]:
            del self._images[old], self._features[old]
        current = self._image(index, image)
        warped = []
        for offset in (-2 * self.gap, -self.gap, self.gap, 2 * self.gap):
            other = index + offset
            if not 0 <= other < len(self.frames):
                continue
            neighbour = self._image(other)
            H = plates.match_homography(self._features[index], self._features[other])
            if H is not None:
                warped.append(plates.warp_with_homography(neighbour, H))
        if len(warped) < 2:
            return np.zeros(current.shape[:2], bool)
        # >= 2 votes a pixel: one neighbour may show the person
        plate, _ = plates.median_plate(warped, with_spread=False)
        differs = plates.tolerant_difference(current, plate, radius=1) > self.threshold
        return differs & ~plates.shadow_like(current, plate)

    def regions(self, index: int, image: np.ndarray) -> tuple[np.ndarray, list[MovingRegion]]:
        """The moving map of frame `index` (its uint8 pixels `image`) and its regions of at least
        `min_area` of the frame, largest first, at most `max_regions`; all at the frame's size."""
        moving = self.moving(index, image)
        blobs = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        blobs = cv2.morphologyEx(blobs, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(blobs)
        height, width = image.shape[:2]
        up = width / moving.shape[1]

        def full(mask: np.ndarray) -> np.ndarray:
            return cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0

        order = sorted(range(1, count), key=lambda k: -stats[k, cv2.CC_STAT_AREA])
        regions = []
        for k in order[:self.max_regions]:
            x, y, w, h, area = stats[k]
            if area < self.min_area * moving.size:
                break
            regions.append(MovingRegion(np.array([x, y, x + w, y + h], float) * up, full(labels == k)))
        return full(moving), regions
