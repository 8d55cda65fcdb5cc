"""Camera paths: world→camera 4×4 matrices (OpenCV axes) for rendering.

- `original`: the registered cameras, optionally smoothed (positions by a moving average, rotations by
  averaging quaternions over the same window);
- `orbit`: around the scene centre the cameras look at, at their mean height;
- `dolly`: forward along the mean viewing direction from the first camera;
- `spline`: a Catmull-Rom spline through chosen frames' positions, looking where those frames looked;
- `fixed`: one camera held while time runs.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from ..errors import InputError

PATHS = ("original", "orbit", "dolly", "spline", "fixed")


def _centres(viewmats: np.ndarray) -> np.ndarray:
    return np.einsum("nji,nj->ni", viewmats[:, :3, :3], -viewmats[:, :3, 3])


def _viewmat(rotation_c2w: np.ndarray, centre: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation_c2w.T
    out[:3, 3] = -rotation_c2w.T @ centre
    return out


def look_at(centre: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World→camera matrix of a camera at `centre` looking at `target` (OpenCV: x right, y down, z forward)."""
    forward = target - centre
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    return _viewmat(np.stack([right, down, forward], axis=1), centre)


def smooth_path(viewmats: np.ndarray, window: int = 9) -> np.ndarray:
    """Moving-average positions and rotations over `window` frames (a stabilized original path)."""
    if window <= 1 or len(viewmats) < 3:
        return viewmats.copy()
    centres = _centres(viewmats)
    rotations = Rotation.from_matrix(np.transpose(viewmats[:, :3, :3], (0, 2, 1)))
    half = window // 2
    out = []
    for i in range(len(viewmats)):
        lo, hi = max(0, i - half), min(len(viewmats), i + half + 1)
        out.append(_viewmat(rotations[lo:hi].mean().as_matrix(), centres[lo:hi].mean(0)))
    return np.array(out)


def camera_path(kind: str, viewmats: np.ndarray, frames: int | None = None, up: np.ndarray | None = None,
                keyframes: list[int] | None = None, smooth: int = 0) -> np.ndarray:
    """A path of `frames` world→camera matrices (default: as many as the registered cameras)."""
    viewmats = np.asarray(viewmats, np.float64)
    frames = frames or len(viewmats)
    centres = _centres(viewmats)
    forwards = viewmats[:, 2, :3]  # camera z axis in world coordinates
    if up is None:
        up = -viewmats[:, 1, :3].mean(0)
    up = up / np.linalg.norm(up)
    if kind == "original":
        return smooth_path(viewmats, smooth) if smooth else viewmats.copy()
    if kind == "fixed":
        return np.repeat(viewmats[len(viewmats) // 2][None], frames, axis=0)
    # the point the cameras look at: least-squares closest point to all viewing rays
    eye = np.eye(3)
    projectors = eye[None] - forwards[:, :, None] * forwards[:, None, :]
    target = np.linalg.lstsq(projectors.sum(0), np.einsum("nij,nj->i", projectors, centres), rcond=None)[0]
    if kind == "orbit":
        offset = centres.mean(0) - target
        offset -= (offset @ up) * up
        radius = max(np.linalg.norm(offset), 1e-3)
        start = offset / radius
        side = np.cross(up, start)
        height = (centres.mean(0) - target) @ up
        path = []
        for angle in np.linspace(-0.35, 0.35, frames):  # a ±20° arc: stays inside what was filmed
            centre = target + radius * (np.cos(angle) * start + np.sin(angle) * side) + height * up
            path.append(look_at(centre, target, up))
        return np.array(path)
    if kind == "dolly":
        direction = target - centres[0]
        return np.array([look_at(centres[0] + t * 0.4 * direction, target, up)
                         for t in np.linspace(0.0, 1.0, frames)])
    if kind == "spline":
        keys = keyframes or list(np.linspace(0, len(viewmats) - 1, 4).round().astype(int))
        if len(keys) < 2 or max(keys) >= len(viewmats) or min(keys) < 0:
            raise InputError(f"spline keyframes {keys} must be at least 2 frame indices below {len(viewmats)}")
        points = centres[keys]
        rotations = Rotation.from_matrix(np.transpose(viewmats[keys, :3, :3], (0, 2, 1)))
        times = np.linspace(0, len(keys) - 1, frames)
        slerp = Slerp(np.arange(len(keys)), rotations)
        padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
        path = []
        for t, rotation in zip(times, slerp(times)):
            k = min(int(t), len(keys) - 2)
            u = t - k
            p0, p1, p2, p3 = padded[k:k + 4]
            centre = 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
                            + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)
            path.append(_viewmat(rotation.as_matrix(), centre))
        return np.array(path)
    raise InputError(f"unknown camera path {kind!r}; choose one of {', '.join(PATHS)}")
