"""Materials laid out in 3D: each scene region's surface coordinates in metres, a texture synthesised
for it from its style region's material, and the room's own shading over it.

- `scene_scale`: metres per scene unit, from how high the cameras are above the floor (a handheld
  camera is `materials.CAMERA_HEIGHT` up), so a tile of the style is a tile in the scene;
- `Chart`: a region's surface coordinates: its plane for a flat region (floor, wall, ceiling: one chart,
  v along gravity on walls); for objects, per point the two principal axes of the region most
  orthogonal to the point's normal (triplanar: no stretching on any face);
- `RegionTexture`: a texture quilted from the material (`synthesis.quilt`) covering the region's chart
  at the material's physical size (× the user's `scale`), mirrored beyond it;
- `shade`: the albedo times the room's low-frequency lightness relative to the region's mean, in
  linear light, so shadows and light falloff survive while the old texture goes.

Per-Gaussian colours alone blur a fine pattern (a Gaussian is larger than a tile's edge), so the
stylize stage also textures the key views per pixel (each pixel's surface point from the rendered
depth) and fits the Gaussians to them, all views in one optimisation: every view agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..cameras import camera_center
from .correspond import role
from .materials import CAMERA_HEIGHT, Material, azimuth
from .synthesis import largest_block, quilt

MAX_TEXTURE_SIDE = 1024  # texels a side of a region's synthesised texture


def scene_scale(points: np.ndarray, labels: np.ndarray, names: list[str], up: np.ndarray,
                viewmats: np.ndarray) -> tuple[float, str]:
    """Metres per scene unit and how it was found: cameras `CAMERA_HEIGHT` above the floor region."""
    centres = camera_center(viewmats) @ up
    floors = [i for i, n in enumerate(names) if role(n) == "floor"]
    floor = np.isin(labels, floors)
    if floor.sum() >= 50:
        height = float(np.median(centres) - np.median(points[floor] @ up))
        if height > 1e-6:
            return CAMERA_HEIGHT / height, f"cameras {CAMERA_HEIGHT} m above the floor"
    # no floor: the cameras' median distance to the scene taken as 2.5 m
    spread = float(np.median(np.linalg.norm(points[:: max(1, len(points) // 20000)][:, None]
                                            - camera_center(viewmats)[None, ::max(1, len(viewmats) // 20)], axis=-1)))
    return 2.5 / max(spread, 1e-9), "the scene 2.5 m from the cameras (no floor seen)"


@dataclass
class Chart:
    """Surface coordinates of one region, in metres: `axes` rows are the region's principal axes (the
    last its normal when `planar`), `origin` its centre."""
    origin: np.ndarray
    axes: np.ndarray
    planar: bool
    metres: float  # per scene unit

    @classmethod
    def fit(cls, points: np.ndarray, up: np.ndarray, metres: float, kind: str = "object") -> "Chart":
        """`kind` (`correspond.role`): a floor or ceiling is the plane facing up, a wall a vertical plane
        (however thick its Gaussians); an object is planar only if it is flat."""
        origin = points.mean(0)
        centred = points - origin
        _, _, axes = np.linalg.svd(centred[:: max(1, len(centred) // 5000)], full_matrices=False)
        spread = np.sqrt(np.mean((centred @ axes.T) ** 2, axis=0))
        if kind in ("floor", "ceiling"):
            normal = up
        elif kind == "wall":
            normal = axes[2] - (axes[2] @ up) * up
            normal = normal / max(float(np.linalg.norm(normal)), 1e-9)
        elif spread[2] >= 0.15 * spread[1]:
            return cls(origin, axes, False, metres)
        else:
            normal = axes[2]
        v_axis = up - (up @ normal) * normal
        if np.linalg.norm(v_axis) < 0.3:  # horizontal: along the region's longer side
            v_axis = axes[0] - (axes[0] @ normal) * normal
        v_axis = v_axis / np.linalg.norm(v_axis)
        return cls(origin, np.stack([np.cross(normal, v_axis), v_axis, normal]), True, metres)

    def uv(self, points: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
        """[N,2] metres; v grows downwards on walls, like image rows."""
        local = (points - self.origin) @ self.axes.T * self.metres
        if self.planar:
            return np.stack([local[:, 0], -local[:, 1]], 1)
        facing = np.abs(normals @ self.axes.T).argmax(1)
        uv = np.empty((len(points), 2))
        for k, (a, b) in {0: (1, 2), 1: (0, 2), 2: (0, 1)}.items():
            pick = facing == k
            uv[pick] = local[pick][:, [a, b]]
        return uv


def wall_azimuth(chart: Chart, points: np.ndarray, viewmats: np.ndarray, up: np.ndarray) -> float:
    """`materials.azimuth` of a wall region for the cameras `viewmats` (their mean forward direction),
    its normal pointing away from them."""
    centres = camera_center(viewmats)
    normal = chart.axes[2] if ((points.mean(0) - centres.mean(0)) @ chart.axes[2]) > 0 else -chart.axes[2]
    forward = np.asarray(viewmats)[:, 2, :3].mean(0)  # row 2 of R: each camera's z axis in the world
    return azimuth(normal, forward, up)


@dataclass
class RegionTexture:
    chart: Chart
    texture: np.ndarray  # [H,W,3] RGB 0-1
    texel: float  # metres per texel
    corner: np.ndarray  # uv (metres) of texel (0, 0)

    @classmethod
    def synthesize(cls, material: Material, chart: Chart, uv: np.ndarray, scale: float = 1.0,
                   seed: int = 0) -> "RegionTexture":
        """A texture covering the chart coordinates `uv` (the region's points), quilted from `material`
        at its physical size × `scale`."""
        lo, hi = np.percentile(uv, 0.5, axis=0), np.percentile(uv, 99.5, axis=0)
        texel = material.texel * scale
        texel = max(texel, float((hi - lo).max()) / MAX_TEXTURE_SIDE)
        sample, valid = material.sample, material.mask
        if texel > material.texel * 1.01:  # coarser than the sample: shrink it to the texture's texels
            factor = material.texel / texel
            size = (max(1, round(sample.shape[1] * factor)), max(1, round(sample.shape[0] * factor)))
            sample = cv2.resize(sample, size, interpolation=cv2.INTER_AREA)
            valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        fits = largest_block(valid)
        block = int(np.clip(0.6 * fits, 8, 48))
        shape = (int((hi - lo)[1] / texel) + 2, int((hi - lo)[0] / texel) + 2)
        if fits < 8:  # too small a sample at this scale for a block: its mean colour
            texture = np.broadcast_to(sample[valid].mean(0) if valid.any() else sample.mean((0, 1)),
                                      (*shape, 3)).copy()
        else:
            texture = quilt(sample, shape, block=block, region=valid, seed=seed)
        return cls(chart, texture, texel, lo)

    def colors(self, uv: np.ndarray) -> np.ndarray:
        """Bilinear texture colours [N,3] at chart coordinates `uv` (metres), mirrored beyond its edge."""
        h, w = self.texture.shape[:2]
        coords = (uv - self.corner) / self.texel / np.array([w - 1, h - 1])
        coords = np.abs(((coords + 1) % 2) - 1)  # mirror repeat into [0, 1]
        map_x = (coords[:, 0] * (w - 1)).astype(np.float32).reshape(-1, 1)
        map_y = (coords[:, 1] * (h - 1)).astype(np.float32).reshape(-1, 1)
        return cv2.remap(self.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).reshape(-1, 3)


def gaussian_normals(quats: torch.Tensor, log_scales: torch.Tensor) -> np.ndarray:
    """Each Gaussian's shortest axis: the normal of the surface it lies on."""
    q = torch.nn.functional.normalize(quats, dim=-1)
    w, x, y, z = q.unbind(-1)
    rotation = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(-1, 3, 3)
    shortest = log_scales.argmin(-1)
    return rotation[torch.arange(len(q)), :, shortest].numpy()


class ViewGeometry:
    """One camera's pixels in the world: their rays, and surface points from a rendered depth map."""

    def __init__(self, depth: np.ndarray, viewmat: np.ndarray, K: np.ndarray):
        h, w = depth.shape
        xs, ys = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        rotation = viewmat[:3, :3]
        self.centre = camera_center(viewmat)
        self.rays = (np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(K).T) @ rotation  # world, z=1
        # the rendered depth is noisy where Gaussians blend: smooth it before taking normals from it
        smooth = cv2.medianBlur(depth.astype(np.float32), 5)
        self.points = self.centre + self.rays * smooth[..., None]
        normals = np.cross(np.gradient(self.points, axis=1), np.gradient(self.points, axis=0))
        self.normals = normals / (np.linalg.norm(normals, axis=-1, keepdims=True) + 1e-12)

    def surface(self, chart: Chart, where: np.ndarray) -> np.ndarray:
        """Chart coordinates of the pixels `where` (bool [H,W]): where the pixel's ray meets the chart's
        plane for a flat region (exact: no depth noise), else of the rendered surface point."""
        points = self.points[where]
        if chart.planar:
            rays, normal = self.rays[where], chart.axes[2]
            facing = rays @ normal
            distance = ((chart.origin - self.centre) @ normal) / np.where(np.abs(facing) > 1e-6, facing, np.nan)
            hits = np.isfinite(distance) & (distance > 0)
            points = np.where(hits[:, None], self.centre + rays * np.nan_to_num(distance)[:, None], points)
        return chart.uv(points, self.normals[where])


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Linear-light luminance of sRGB colours [..., 3] in 0-1."""
    return _linear(rgb) @ np.array([0.2126, 0.7152, 0.0722])


def region_shading(view: np.ndarray, region: np.ndarray, sigma: float) -> np.ndarray:
    """[H,W] the view's low-frequency luminance over `region` (a blur of `sigma` px that does not mix in
    other regions) relative to the region's mean: 1 = the region's average light."""
    weight = region.astype(np.float32)
    light = luminance(view).astype(np.float32)
    low = cv2.GaussianBlur(light * weight, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-6)
    mean = float(light[region].mean()) if region.any() else 1.0
    return low / max(mean, 1e-6)


def shade(albedo: np.ndarray, shading: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """sRGB albedo [N,3] lit by `shading` [N] (relative light, 1 = average) to the power `amount`."""
    return _srgb(_linear(albedo) * np.maximum(shading, 0)[:, None] ** amount).astype(np.float32)
