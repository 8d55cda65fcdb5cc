"""Materials laid out in 3D: each scene region's surface coordinates in metres, a texture synthesised
for it from its style region's material, and the room's own shading over it.

- `scene_scale`: metres per scene unit, from how high the cameras are above the floor (a handheld
  camera is `materials.CAMERA_HEIGHT` up), so a tile of the style is a tile in the scene;
- `Chart`: a floor's, ceiling's or wall's surface coordinates on its plane (v along gravity on walls).
  Objects take no material: a sofa's look is its parts (a yellow frame, teal cushions), which a
  stationary texture laid triplanar over it turned into a patchwork (tried on the demo: its colour
  distance to the style's sofa went from 2.3 to 20); they keep their form and take the colours;
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

from ..cameras import camera_center, project
from .correspond import role
from .materials import CAMERA_HEIGHT, Material, azimuth
from .synthesis import largest_block, quilt
from .transfer import masked_blur

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


def finest_texel(points: np.ndarray, metres: float, viewmats: np.ndarray, Ks: np.ndarray, width: int,
                 height: int) -> float:
    """Metres: half the smallest footprint a camera's pixel has on `points` (scene units) it sees, the
    finest texel any view can show (Nyquist); 0 when no camera sees them."""
    points = points[:: max(1, len(points) // 2000)]
    footprints = []
    for viewmat, K in zip(viewmats, Ks):
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels, z = project(points, K, viewmat)
        seen = (z > 1e-6) & (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
        if seen.any():
            footprints.append(z[seen] * metres / K[0, 0])
    if not footprints:
        return 0.0
    return 0.5 * float(np.percentile(np.concatenate(footprints), 1))


@dataclass
class Chart:
    """Surface coordinates of one flat region, in metres: `axes` rows are its in-plane u and v axes and
    its normal, `origin` its centre."""
    origin: np.ndarray
    axes: np.ndarray
    metres: float  # per scene unit

    @classmethod
    def fit(cls, points: np.ndarray, up: np.ndarray, metres: float, kind: str,
            along: np.ndarray | None = None) -> "Chart":
        """`kind` (`correspond.role`): a floor or ceiling is the plane facing up with v along `along` (a
        wall's direction, so boards and tiles run square to the walls) or else the region's longer
        side, a wall the vertical plane across its thinnest direction (however thick its Gaussians), v
        along gravity."""
        origin = points.mean(0)
        centred = points - origin
        _, _, axes = np.linalg.svd(centred[:: max(1, len(centred) // 5000)], full_matrices=False)
        if kind in ("floor", "ceiling"):
            v_axis = axes[0] if along is None else np.asarray(along, np.float64)
            normal, v_axis = up, v_axis - (v_axis @ up) * up
        else:
            normal = axes[2] - (axes[2] @ up) * up
            normal = normal / max(float(np.linalg.norm(normal)), 1e-9)
            v_axis = up - (up @ normal) * normal
        v_axis = v_axis / max(float(np.linalg.norm(v_axis)), 1e-9)
        return cls(origin, np.stack([np.cross(normal, v_axis), v_axis, normal]), metres)

    def uv(self, points: np.ndarray) -> np.ndarray:
        """[N,2] metres; v grows downwards on walls, like image rows."""
        local = (points - self.origin) @ self.axes.T * self.metres
        return np.stack([local[:, 0], -local[:, 1]], 1)


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
                   seed: int = 0, finest: float = 0.0) -> "RegionTexture":
        """A texture covering the chart coordinates `uv` (the region's points), quilted from `material`
        at its physical size × `scale`, in texels no finer than `finest` metres (what the cameras can
        show: `finest_texel`) nor more than `MAX_TEXTURE_SIDE` a side."""
        lo, hi = np.percentile(uv, 0.5, axis=0), np.percentile(uv, 99.5, axis=0)
        texel = material.texel * scale
        texel = max(texel, finest, float((hi - lo).max()) / MAX_TEXTURE_SIDE)
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
        # remap's maps must have fewer than 32767 rows: lay the points out as rows of 1024
        count, width = len(uv), 1024
        rows = max(1, -(-count // width))
        maps = [np.pad((coords[:, k] * (size - 1)).astype(np.float32), (0, rows * width - count)).reshape(rows, width)
                for k, size in ((0, w), (1, h))]
        sampled = cv2.remap(self.texture, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return sampled.reshape(-1, 3)[:count]


class ViewGeometry:
    """One camera's pixels in the world: their rays, and surface points from a rendered depth map."""

    def __init__(self, depth: np.ndarray, viewmat: np.ndarray, K: np.ndarray):
        h, w = depth.shape
        xs, ys = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        self.centre = camera_center(viewmat)
        self.rays = (np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(K).T) @ viewmat[:3, :3]  # world
        self.points = self.centre + self.rays * depth[..., None]

    def surface(self, chart: Chart, where: np.ndarray) -> np.ndarray:
        """Chart coordinates of the pixels `where` (bool [H,W]): where each pixel's ray meets the chart's
        plane (exact, where the rendered depth is noisy), else its rendered surface point."""
        points, rays, normal = self.points[where], self.rays[where], chart.axes[2]
        facing = rays @ normal
        distance = ((chart.origin - self.centre) @ normal) / np.where(np.abs(facing) > 1e-6, facing, np.nan)
        hits = np.isfinite(distance) & (distance > 0)
        points = np.where(hits[:, None], self.centre + rays * np.nan_to_num(distance)[:, None], points)
        return chart.uv(points)


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
    light = luminance(view).astype(np.float32)
    low = masked_blur(light, region, sigma)
    mean = float(light[region].mean()) if region.any() else 1.0
    return low / max(mean, 1e-6)


def shade(albedo: np.ndarray, shading: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """sRGB albedo [N,3] lit by `shading` [N] (relative light, 1 = average) to the power `amount`."""
    return _srgb(_linear(albedo) * np.maximum(shading, 0)[:, None] ** amount).astype(np.float32)
