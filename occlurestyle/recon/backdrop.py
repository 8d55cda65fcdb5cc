"""The distant backdrop: what the cameras saw beyond every registered point (the sky over an outdoor clip),
as a shell of Gaussians far out, learnt with the model.

Nothing in the registration says where the sky is, so training covers it with whatever Gaussians the
densification grows there: few, huge, at 20-100 times the cameras' extent, mixed with the tree tops
and poles beside them. On davis_parkour those smeared the trees and a lamp post over the sky of every
view, and what was left of the sky cost ~0.9 dB of the held-out figure (21.5 dB on the sky against
25.2 on the rest); which frames it spoiled changed with the registration. A surface at infinity looks
the same from every camera on the path, so a fixed shell at a radius far beyond the points holds it
without parallax: Gaussians on a Fibonacci sphere, one every `SPACING` degrees, in the directions most
views that see them look into the distance through, coloured from the frames, opaque, with only their
colour learnt; it lies behind everything, so where a view sees something nearer in that direction,
the model's Gaussians there hide it. "Into the distance" needs more than no point there: a room's plain
ceiling holds none either. What tells them apart is what surrounds the gap: tree tops and roofs far
beyond the view's nearer points around the sky, walls no further than the rest of the room around a
ceiling (`FAR`: the demo room and sam2_bedroom get no shell; counting empty directions alone, the
demo's ceiling corners and a plain wall would have had one).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from ..cameras import camera_center
from ..render.gaussians import rgb_to_sh0

SPACING = 1.5  # degrees between neighbouring shell Gaussians
RADIUS = 2.0  # the shell's radius, in multiples of the registered points' far extent (their 99.5th percentile)
CELL = 1 / 40  # of the frame's width: the grid in which a registered point vouches for a view direction
EMPTY = 0.6  # the share of the views that see a direction in which it must look into the distance
FAR = 2.5  # the points around the distance, in multiples of the depth of the view's nearer points
NEAR = 25  # percentile of the view's point depths: its nearer points
MIN_VIEWS = 2
MAX_VIEWS = 40  # cameras consulted (evenly along the clip)
OPACITY = 0.995


def fibonacci_directions(spacing_deg: float) -> np.ndarray:
    """Unit vectors [n,3] spread evenly over the sphere, neighbours ~`spacing_deg` apart."""
    n = max(8, int(round(4 * math.pi / math.radians(spacing_deg) ** 2)))
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    azimuth = math.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(azimuth), r * np.sin(azimuth), z], axis=1)


def _far_cells(points_cam: np.ndarray, K: np.ndarray, grid: tuple[int, int], cell: float) -> np.ndarray:
    """Cells [rows, cols] (bool) of a view through which it looks into the distance: no registered point
    in or next to the cell, and the nearest cell that holds one holds a point `FAR` times deeper than
    the view's nearer points (the `NEAR` percentile of their depths)."""
    z = points_cam[:, 2]
    front = z > 1e-6
    uv = points_cam[front, :2] / z[front, None] * K[[0, 1], [0, 1]] + K[:2, 2]
    col, row = (uv[:, 0] // cell).astype(int), (uv[:, 1] // cell).astype(int)
    inside = (col >= 0) & (col < grid[1]) & (row >= 0) & (row < grid[0])
    if not inside.any():
        return np.zeros(grid, bool)
    row, col, depth = row[inside], col[inside], z[front][inside]
    deepest = np.zeros(grid, np.float32)
    np.maximum.at(deepest, (row, col), depth)
    occupied = cv2.dilate((deepest > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    _, nearest = cv2.distanceTransformWithLabels((deepest == 0).astype(np.uint8), cv2.DIST_L2, 3,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    label_depth = np.zeros(nearest.max() + 1, np.float32)
    label_depth[nearest[deepest > 0]] = deepest[deepest > 0]
    return (occupied == 0) & (label_depth[nearest] >= FAR * np.percentile(depth, NEAR))


def shell_directions(points: np.ndarray, viewmats: np.ndarray, Ks: np.ndarray, size: tuple[int, int],
                     frames, person_masks, spacing_deg: float = SPACING) -> tuple[np.ndarray, np.ndarray, float]:
    """The shell's directions [m,3], their colours [m,3] (0-1: the mean of the frames' pixels there) and its
    radius. `frames(i)` / `person_masks(i)`: view i's image [H,W,3] (0-1) and person mask [H,W] (bool) at
    `size` (width, height); a person's pixels count neither as empty nor as full."""
    width, height = size
    centres = camera_center(viewmats)
    centre = centres.mean(0)
    reach = float(np.percentile(np.linalg.norm(points - centre, axis=1), 99.5)) if len(points) else 1.0
    extent = float(np.linalg.norm(centres - centre, axis=1).max())
    radius = RADIUS * max(reach, 10 * extent, 1e-3)
    directions = fibonacci_directions(spacing_deg)
    shell = centre + radius * directions
    cell = CELL * width
    grid = (int(math.ceil(height / cell)), int(math.ceil(width / cell)))
    empty = np.zeros(len(directions), int)
    full = np.zeros(len(directions), int)
    colour = np.zeros((len(directions), 3))
    views = np.unique(np.linspace(0, len(viewmats) - 1, min(MAX_VIEWS, len(viewmats))).round().astype(int))
    for i in views:
        R, t = viewmats[i][:3, :3], viewmats[i][:3, 3]
        far = _far_cells(points @ R.T + t, Ks[i], grid, cell)
        cam = shell @ R.T + t
        seen = cam[:, 2] > 1e-6
        uv = np.full((len(shell), 2), -1.0)
        uv[seen] = cam[seen, :2] / cam[seen, 2:3] * Ks[i][[0, 1], [0, 1]] + Ks[i][:2, 2]
        seen &= (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
        x, y = uv[seen, 0].astype(int), uv[seen, 1].astype(int)
        person = person_masks(i)[y, x]
        where = np.flatnonzero(seen)[~person]
        x, y = x[~person], y[~person]
        is_full = ~far[(y // cell).astype(int), (x // cell).astype(int)]
        full[where[is_full]] += 1
        empty[where[~is_full]] += 1
        colour[where[~is_full]] += frames(i)[y[~is_full], x[~is_full]]
    keep = (empty >= MIN_VIEWS) & (empty >= EMPTY * (empty + full))
    return directions[keep], colour[keep] / np.maximum(empty[keep], 1)[:, None], radius


class Backdrop:
    """The shell's Gaussians (fixed places and sizes, opaque), with their colour learnt (`sh0`)."""

    def __init__(self, directions: np.ndarray, colours: np.ndarray, radius: float, centre: np.ndarray,
                 spacing_deg: float = SPACING, device="cpu"):
        n = len(directions)
        sigma = radius * math.radians(spacing_deg) * 0.6  # neighbours' footprints overlap: no gaps
        self.means = torch.tensor(centre + radius * directions, dtype=torch.float32, device=device)
        self.scales = torch.full((n, 3), math.log(sigma), dtype=torch.float32, device=device)
        self.quats = torch.zeros(n, 4, device=device)
        self.quats[:, 0] = 1.0
        self.opacities = torch.full((n,), math.log(OPACITY / (1 - OPACITY)), device=device)
        self.sh0 = torch.nn.Parameter(rgb_to_sh0(torch.tensor(colours, dtype=torch.float32)).to(device)[:, None, :])

    def __len__(self) -> int:
        return len(self.means)

    def params(self, sh_degree: int) -> dict[str, torch.Tensor]:
        """The shell as a model's parameters (no view dependence: the sky looks the same from every camera)."""
        n = len(self)
        return {"means": self.means, "scales": self.scales, "quats": self.quats, "opacities": self.opacities,
                "sh0": self.sh0, "shN": self.sh0.new_zeros(n, (sh_degree + 1) ** 2 - 1, 3)}
