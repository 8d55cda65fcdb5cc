"""What the training cameras saw of a background model, and how much of a new view shows it.

A pixel of a view is covered when the surface it shows was seen by at least `min_views` training
cameras: it projects inside their frame, in front of them, their own depth render there agrees
within `tolerance` (so it was not hidden from them), and they looked at it from within `max_angle` of
the view's own direction. Two cameras that saw a surface from nearly one place do not fix where it
is: sam2_bedroom's camera mostly turns where it stands, its overexposed window was fitted as splats
hanging in front of the bed, right from the filmed views only, and an orbit of 32° (or 24°) showed
them as a white smear over the pillows; with rays within 10° its orbit is held to 16°, which shows
none, while the DAVIS clips' and the demo's paths are unchanged. Empty space (alpha below 0.5) is
never covered.
Flythrough planning keeps its paths where coverage is high; benchmarks/real.py reports it.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from .. import _numba_setup  # noqa: F401  (threading layer)
from ..cameras import camera_center
from .gaussians import render_views


def render_depths(params: dict, viewmats: np.ndarray, Ks: np.ndarray, width: int,
                  height: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth and alpha renders of the model from each camera, [N, height, width] each."""
    views = render_views(params, torch.as_tensor(np.asarray(viewmats), dtype=torch.float32),
                         torch.as_tensor(np.asarray(Ks), dtype=torch.float32), width, height)
    return views["depth"].numpy(), views["alpha"].numpy()


def scaled(Ks: np.ndarray, scale: float) -> np.ndarray:
    """Intrinsics of the same cameras at `scale` times the image size."""
    out = np.array(Ks, np.float64)
    out[..., :2, :] *= scale
    return out


class SeenSurface:
    """Depth renders of `params` from the training cameras, at `scale` times the frame size, and the
    coverage of other views measured against them."""

    def __init__(self, params: dict, viewmats: np.ndarray, Ks: np.ndarray, width: int, height: int,
                 scale: float = 1.0, tolerance: float = 0.05, min_views: int = 2, max_angle: float = 10.0):
        self.params, self.scale, self.tolerance, self.min_views = params, scale, tolerance, min_views
        self.min_cosine = float(np.cos(np.radians(max_angle)))
        self.width, self.height = max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)
        self.viewmats, self.frame_Ks = np.asarray(viewmats, np.float64), np.asarray(Ks, np.float64)
        self.Ks = scaled(Ks, scale)
        self.centres = camera_center(self.viewmats)
        self.depths, self.alphas = render_depths(params, self.viewmats, self.Ks, self.width, self.height)

    def render(self, viewmats: np.ndarray, Ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Depth and alpha of other views (full-size `Ks`) at this surface's scale."""
        return render_depths(self.params, viewmats, scaled(Ks, self.scale), self.width, self.height)

    def surface(self, viewmats: np.ndarray, Ks: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per view (full-size `Ks`): the world points of its solid pixels and how many training
        cameras saw each; pixels of empty space are left out (they count as unseen)."""
        depths, alphas = self.render(viewmats, Ks)
        Ks = scaled(Ks, self.scale)
        v, u = np.mgrid[0:self.height, 0:self.width] + 0.5
        out = []
        for depth, alpha, viewmat, K in zip(depths, alphas, np.asarray(viewmats, np.float64), Ks):
            solid = alpha > 0.5
            z = depth[solid].astype(np.float64)
            rays = np.stack([(u[solid] - K[0, 2]) / K[0, 0], (v[solid] - K[1, 2]) / K[1, 1], np.ones_like(z)], -1)
            world = (rays * z[:, None] - viewmat[:3, 3]) @ viewmat[:3, :3]  # R^T (x - t)
            out.append((world, self.seen_counts(world, camera_center(viewmat))))
        return out

    def seen_counts(self, world: np.ndarray, viewer: np.ndarray | None = None) -> np.ndarray:
        """How many training cameras saw each world point (unhidden, inside their frame; with `viewer`, a
        camera centre, only those that looked at it from within `max_angle` of the viewer's direction)."""
        world = np.ascontiguousarray(world, np.float64).reshape(-1, 3)
        viewer = np.full(3, np.nan) if viewer is None else np.asarray(viewer, np.float64)
        focal = np.stack([self.Ks[:, 0, 0], self.Ks[:, 1, 1], self.Ks[:, 0, 2], self.Ks[:, 1, 2]], 1)
        return _seen_counts(world, viewer, self.viewmats, focal, self.depths, self.centres,
                            self.tolerance, self.min_cosine)

    def coverage(self, viewmats: np.ndarray, Ks: np.ndarray) -> np.ndarray:
        """Each view's share of pixels whose surface `min_views` training cameras saw."""
        total = self.width * self.height
        return np.array([np.count_nonzero(counts >= self.min_views) / total
                         for _, counts in self.surface(viewmats, Ks)])


@njit(parallel=True, error_model="numpy", cache=True)
def _seen_counts(world, viewer, viewmats, focal, depths, centres, tolerance, min_cosine):  # pragma: no cover
    # one pass per point over the cameras (the planner asks ~150 views x 100 cameras per flythrough: a
    # numpy loop over the cameras spent 25 s of sam2_bedroom's render stage in temporaries)
    height, width = depths.shape[1], depths.shape[2]
    check_angle = not np.isnan(viewer[0])
    count = np.zeros(len(world), np.int64)
    for i in prange(len(world)):
        px, py, pz = world[i, 0], world[i, 1], world[i, 2]
        tx, ty, tz = px - viewer[0], py - viewer[1], pz - viewer[2]
        towards = max(np.sqrt(tx * tx + ty * ty + tz * tz), 1e-12)
        n = 0
        for c in range(len(viewmats)):
            m = viewmats[c]
            z = m[2, 0] * px + m[2, 1] * py + m[2, 2] * pz + m[2, 3]
            if not z > 1e-3:
                continue
            u = (m[0, 0] * px + m[0, 1] * py + m[0, 2] * pz + m[0, 3]) / z * focal[c, 0] + focal[c, 2]
            v = (m[1, 0] * px + m[1, 1] * py + m[1, 2] * pz + m[1, 3]) / z * focal[c, 1] + focal[c, 3]
            if not (0.0 <= u < width and 0.0 <= v < height):
                continue
            if not abs(depths[c, int(v), int(u)] - z) <= tolerance * z:
                continue
            if check_angle:
                ax, ay, az = px - centres[c, 0], py - centres[c, 1], pz - centres[c, 2]
                along = max(np.sqrt(ax * ax + ay * ay + az * az), 1e-12)
                if (ax * tx + ay * ty + az * tz) / towards / along < min_cosine:
                    continue
            n += 1
        count[i] = n
    return count
