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

from ..cameras import camera_center, project
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
        count = np.zeros(len(world), int)
        if viewer is not None:
            towards = world - viewer
            towards /= np.maximum(np.linalg.norm(towards, axis=1, keepdims=True), 1e-12)
        for viewmat, K, own_depth, centre in zip(self.viewmats, self.Ks, self.depths, self.centres):
            with np.errstate(divide="ignore", invalid="ignore"):
                uv, z = project(world, K, viewmat)
            inside = (z > 1e-3) & (uv[:, 0] >= 0) & (uv[:, 0] < self.width) & (uv[:, 1] >= 0) & (uv[:, 1] < self.height)
            own = np.full(len(world), np.inf)
            own[inside] = own_depth[uv[inside, 1].astype(int), uv[inside, 0].astype(int)]
            seen = inside & (np.abs(own - z) <= self.tolerance * z)
            if viewer is not None:
                along = world[seen] - centre
                cosine = (along * towards[seen]).sum(1) / np.maximum(np.linalg.norm(along, axis=1), 1e-12)
                seen[seen] = cosine >= self.min_cosine
            count += seen
        return count

    def coverage(self, viewmats: np.ndarray, Ks: np.ndarray) -> np.ndarray:
        """Each view's share of pixels whose surface `min_views` training cameras saw."""
        total = self.width * self.height
        return np.array([np.count_nonzero(counts >= self.min_views) / total
                         for _, counts in self.surface(viewmats, Ks)])
