"""Whether a clip's camera moves enough to reconstruct the room, told in seconds from the frames alone.

Registration needs parallax: a camera that stands still, or only turns on the spot, gives no depth, and
COLMAP then fails after minutes of masks and matching. Pairs of frames spread over the clip are matched
(SIFT, ratio test, the matches that fit one epipolar geometry: people walking are outliers to it) and
each pair says how far the scene moved (median displacement) and how much of that motion no turning of
the camera explains: the rays of the matches are aligned by the best pure rotation (Kabsch, over a range
of focal lengths, the best 70% of the matches) and what remains is the parallax, in pixels. Turning on
the spot leaves only the features' own noise (0.2-0.3 px on a rendered room); the real clips here leave
0.9 px (a bedroom filmed with a moderate pan) to 15 px.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from .errors import InputError

WORKING_SIDE = 480  # frames are compared at most this large; the thresholds are in its pixels
STATIC_PX = 2.0  # the scene moved less than this between every pair: the camera stands still
PARALLAX_PX = 0.5  # no pair has more parallax than this: the camera only turns


@dataclass
class MotionCheck:
    pairs: int  # frame pairs that could be matched
    displacement_px: float  # largest median displacement of the matches over the pairs
    parallax_px: float  # largest median parallax left once the best pure rotation is taken out

    @property
    def static(self) -> bool:
        return self.pairs > 0 and self.displacement_px < STATIC_PX

    @property
    def rotation_only(self) -> bool:
        return self.pairs > 0 and not self.static and self.parallax_px < PARALLAX_PX


def camera_motion(frame: Callable[[int], np.ndarray], n: int, pairs: int = 8) -> MotionCheck:
    """Measure the camera's motion over a clip of `n` frames (`frame(i)`: RGB uint8) from up to `pairs`
    frame pairs, each a quarter of the clip apart (at least one frame); reads at most 2 x `pairs` frames."""
    gap = max(1, n // 4)
    starts = np.unique(np.linspace(0, max(n - 1 - gap, 0), pairs).round().astype(int))
    sift = cv2.SIFT_create(nfeatures=2000)
    cache: dict[int, tuple] = {}

    def features(index: int):
        if index not in cache:
            gray = cv2.cvtColor(frame(index), cv2.COLOR_RGB2GRAY)
            scale = WORKING_SIDE / max(gray.shape)
            if scale < 1:
                gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cache[index] = (*sift.detectAndCompute(gray, None), gray.shape)
        return cache[index]

    displacement = parallax = 0.0
    measured = 0
    for start in starts:
        end = min(start + gap, n - 1)
        if end == start:
            continue
        (ka, da, shape), (kb, db, _) = features(start), features(end)
        if da is None or db is None or len(ka) < 30 or len(kb) < 30:
            continue
        candidates = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
        good = [m[0] for m in candidates if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
        if len(good) < 30:
            continue
        a = np.float64([ka[m.queryIdx].pt for m in good])
        b = np.float64([kb[m.trainIdx].pt for m in good])
        cv2.setRNGSeed(0)  # RANSAC draws from OpenCV's global generator
        _, on_epipolar = cv2.findFundamentalMat(a, b, cv2.FM_RANSAC, 1.0, 0.999)
        static = on_epipolar.ravel().astype(bool) if on_epipolar is not None else np.ones(len(a), bool)
        if static.sum() < 20:
            continue
        measured += 1
        displacement = max(displacement, float(np.median(np.linalg.norm(b[static] - a[static], axis=1))))
        parallax = max(parallax, rotation_parallax(a[static], b[static], shape))
    return MotionCheck(measured, float(displacement), float(parallax))


def rotation_parallax(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> float:
    """Median angle between the matched rays of pixels `a` and `b` [M,2] once the best pure rotation is
    taken out, in pixels (the angle times the focal length), minimised over plausible focal lengths."""
    height, width = shape
    centre = np.array([width / 2, height / 2])
    best = float("inf")
    for focal in np.array([0.5, 0.7, 0.9, 1.2, 1.6]) * max(width, height):
        ra, rb = (np.c_[(p - centre) / focal, np.ones(len(p))] for p in (a, b))
        ra /= np.linalg.norm(ra, axis=1, keepdims=True)
        rb /= np.linalg.norm(rb, axis=1, keepdims=True)
        keep = np.ones(len(ra), bool)
        for _ in range(3):
            u, _, vt = np.linalg.svd(rb[keep].T @ ra[keep])
            rotation = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
            angles = np.arccos(np.clip((ra @ rotation.T * rb).sum(1), -1.0, 1.0))
            keep = angles <= np.percentile(angles, 70)
        best = min(best, float(np.median(angles)) * focal)
    return best


def require_camera_motion(frame: Callable[[int], np.ndarray], n: int, source: str) -> MotionCheck:
    """`camera_motion`, or an InputError saying why the clip cannot be reconstructed and what to film."""
    check = camera_motion(frame, n)
    if check.pairs == 0:
        raise InputError(f"{source}: no two frames could be matched (too little texture, or too blurred) to "
                         "reconstruct the room; film a textured room with the camera moving sideways")
    if check.static:
        raise InputError(f"{source}: the camera does not move (the scene shifts {check.displacement_px:.1f} px at "
                         "most between frames a quarter of the clip apart), so the room cannot be reconstructed; "
                         "film while walking sideways through the room")
    if check.rotation_only:
        raise InputError(f"{source}: the camera only turns on the spot (once the turn is taken out, frames a "
                         f"quarter of the clip apart differ by {check.parallax_px:.2f} px at most: no parallax), so "
                         "the room's depth cannot be recovered; film while walking sideways, not panning from one "
                         "place")
    return check
