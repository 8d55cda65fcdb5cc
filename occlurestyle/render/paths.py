"""Camera paths: world→camera 4×4 matrices (OpenCV axes) for rendering, pure geometry.

Every path is built from the registered cameras and a few numbers, so a planner can try sizes:
- `original`: the registered cameras, optionally smoothed (positions by a moving average, rotations by
  averaging quaternions over the same window);
- `orbit`: an arc `arc_deg` wide around the point the cameras look at, through the middle camera;
- `dolly`: from the middle camera towards that point, `reach` of the way there;
- `spline`: a Catmull-Rom spline through `keys` frames of the smoothed path, looking where they looked;
- `fixed`: the middle camera held while time runs.
`render/planning.py` chooses the sizes that keep a path inside what the cameras saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from ..cameras import camera_center, camera_up, look_at, pose_to_viewmat
from ..errors import InputError

PATHS = ("original", "orbit", "dolly", "spline", "fixed")


def smooth_path(viewmats: np.ndarray, window: int = 9) -> np.ndarray:
    """Moving-average positions and rotations over `window` frames (a stabilized original path)."""
    if window <= 1 or len(viewmats) < 3:
        return viewmats.copy()
    centres = camera_center(viewmats)
    rotations = Rotation.from_matrix(np.transpose(viewmats[:, :3, :3], (0, 2, 1)))
    half = window // 2
    out = []
    for i in range(len(viewmats)):
        lo, hi = max(0, i - half), min(len(viewmats), i + half + 1)
        out.append(pose_to_viewmat(rotations[lo:hi].mean().as_matrix(), centres[lo:hi].mean(0)))
    return np.array(out)


def rays_target(viewmats: np.ndarray) -> np.ndarray:
    """The least-squares closest point to all the cameras' viewing axes (a guess of what they look at
    when no depth is known; poor when the axes are nearly parallel)."""
    centres, forwards = camera_center(viewmats), viewmats[:, 2, :3]
    projectors = np.eye(3)[None] - forwards[:, :, None] * forwards[:, None, :]
    return np.linalg.lstsq(projectors.sum(0), np.einsum("nij,nj->i", projectors, centres), rcond=None)[0]


@dataclass(frozen=True)
class Capture:
    """The registered cameras seen as a whole: where they stood, which way is up, what they looked at."""

    viewmats: np.ndarray
    target: np.ndarray
    up: np.ndarray

    @classmethod
    def of(cls, viewmats: np.ndarray, target: np.ndarray | None = None, up: np.ndarray | None = None) -> "Capture":
        viewmats = np.asarray(viewmats, np.float64)
        up = camera_up(viewmats) if up is None else np.asarray(up, np.float64)
        target = rays_target(viewmats) if target is None else np.asarray(target, np.float64)
        return cls(viewmats, target, up / np.linalg.norm(up))

    @property
    def centres(self) -> np.ndarray:
        return camera_center(self.viewmats)

    @property
    def middle(self) -> int:
        """The camera nearest the middle of where the cameras stood."""
        centres = self.centres
        return int(np.argmin(np.linalg.norm(centres - np.median(centres, axis=0), axis=1)))


def orbit_path(capture: Capture, frames: int, arc_deg: float) -> np.ndarray:
    """An arc `arc_deg` wide around the target about `up`, through the middle camera (its distance and
    height), looking at the target; the arc's middle is the middle camera's place."""
    offset = capture.centres[capture.middle] - capture.target
    height = float(offset @ capture.up)
    horizontal = offset - height * capture.up
    radius = max(float(np.linalg.norm(horizontal)), 1e-6)
    start = horizontal / radius
    side = np.cross(capture.up, start)
    half = np.radians(arc_deg) / 2
    return np.array([look_at(capture.target + radius * (np.cos(a) * start + np.sin(a) * side) + height * capture.up,
                             capture.target, capture.up)
                     for a in np.linspace(-half, half, frames)])


def dolly_path(capture: Capture, frames: int, reach: float) -> np.ndarray:
    """From the middle camera straight towards the target, `reach` (0..1) of the way, looking at it."""
    start = capture.centres[capture.middle]
    direction = capture.target - start
    return np.array([look_at(start + t * reach * direction, capture.target, capture.up)
                     for t in np.linspace(0.0, 1.0, frames)])


def spline_path(capture: Capture, frames: int, keys: int | list[int] = 4, smooth: int = 9) -> np.ndarray:
    """A Catmull-Rom spline through `keys` frames (a count spread evenly, or the frame indices) of the
    smoothed camera path, turning as those frames turned (slerp)."""
    n = len(capture.viewmats)
    indices = list(np.linspace(0, n - 1, keys).round().astype(int)) if isinstance(keys, int) else list(keys)
    if len(indices) < 2 or max(indices) >= n or min(indices) < 0:
        raise InputError(f"spline keyframes {indices} must be at least 2 frame indices below {n}")
    smoothed = smooth_path(capture.viewmats, smooth)
    points = camera_center(smoothed[indices])
    rotations = Rotation.from_matrix(np.transpose(smoothed[indices, :3, :3], (0, 2, 1)))
    times = np.linspace(0, len(indices) - 1, frames)
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    path = []
    for t, rotation in zip(times, Slerp(np.arange(len(indices)), rotations)(times)):
        k = min(int(t), len(indices) - 2)
        u = t - k
        p0, p1, p2, p3 = padded[k:k + 4]
        centre = 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
                        + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)
        path.append(pose_to_viewmat(rotation.as_matrix(), centre))
    return np.array(path)


def camera_path(kind: str, viewmats: np.ndarray, frames: int | None = None, capture: Capture | None = None,
                keyframes: list[int] | None = None, smooth: int = 0, arc_deg: float = 40.0,
                reach: float = 0.4) -> np.ndarray:
    """A path of `frames` world→camera matrices (default: as many as the registered cameras) with the
    given sizes; `capture` carries a better target than the viewing axes' crossing when one is known."""
    viewmats = np.asarray(viewmats, np.float64)
    frames = frames or len(viewmats)
    if kind not in PATHS:
        raise InputError(f"unknown camera path {kind!r}; choose one of {', '.join(PATHS)}")
    if kind == "original":
        return smooth_path(viewmats, smooth) if smooth else viewmats.copy()
    capture = capture or Capture.of(viewmats)
    if kind == "fixed":
        return np.repeat(viewmats[capture.middle][None], frames, axis=0)
    if kind == "orbit":
        return orbit_path(capture, frames, arc_deg)
    if kind == "dolly":
        return dolly_path(capture, frames, reach)
    return spline_path(capture, frames, keyframes or 4)
