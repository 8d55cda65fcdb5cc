"""The texture step: the style region's texture laid onto the matching scene region, in 3D.

Colour-distribution transfer gives each Gaussian a colour of the right palette, but a pattern (a
checker floor, striped wallpaper) cannot come out of per-Gaussian colours chosen independently:
neighbouring Gaussians blend to grey. Here each scene region gets surface coordinates (its plane for
floor, ceiling and walls; the two main axes facing each Gaussian's normal for objects), the style
region's pixels become a texture tile (the region's bounding box, holes filled from the nearest region
pixel, mirrored at the edges), and every Gaussian takes the tile's colour at its coordinates. Because
the texture is anchored to the surface, all views agree by construction. The result keeps a share of
the scene's own lightness (`structure`) so its shading and detail survive.

Per-Gaussian colours alone blur a fine pattern (a Gaussian is bigger than a checker square), so the
stylize stage also textures the key views per pixel (the surface coordinates rendered like colours,
the tile sampled at each pixel) and fits the Gaussians to them, all views in one optimisation.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .transfer import lab_to_rgb, rgb_to_lab


def texture_tile(image: np.ndarray, mask: np.ndarray, max_side: int = 256) -> np.ndarray:
    """The region's bounding box of `image` [H,W,3], pixels outside the region filled from the nearest
    region pixel; downscaled to at most `max_side`."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop, inside = image[y0:y1, x0:x1].astype(np.float32), mask[y0:y1, x0:x1]
    if not inside.all():
        _, nearest = cv2.distanceTransformWithLabels((~inside).astype(np.uint8), cv2.DIST_L2, 5,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
        # label k is the k-th zero pixel (a region pixel) in row-major order
        flat = crop.reshape(-1, 3)
        sources = np.flatnonzero(inside.ravel())
        crop = flat[sources[nearest.ravel() - 1]].reshape(crop.shape)
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    return crop


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


def surface_coordinates(points: np.ndarray, normals: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[N,2] coordinates in [0,1]² spanning the region: its plane if flat, else per Gaussian the two
    principal axes most orthogonal to the Gaussian's normal (triplanar projection)."""
    centred = points - points.mean(0)
    _, _, axes = np.linalg.svd(centred[:: max(1, len(centred) // 5000)], full_matrices=False)
    spread = np.sqrt(np.mean((centred @ axes.T) ** 2, axis=0))
    if spread[2] < 0.15 * spread[1]:  # flat: one frame for the whole region, v along gravity if vertical
        normal = axes[2]
        v_axis = up - (up @ normal) * normal
        if np.linalg.norm(v_axis) < 0.3:  # horizontal region: any in-plane frame
            v_axis = axes[1]
        v_axis = v_axis / np.linalg.norm(v_axis)
        u_axis = np.cross(normal, v_axis)
        uv = np.stack([centred @ u_axis, -(centred @ v_axis)], 1)  # v grows downwards, like image rows
    else:
        local = centred @ axes.T
        facing = np.abs(normals @ axes.T).argmax(1)  # the principal axis each Gaussian faces
        uv = np.empty((len(points), 2))
        others = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
        for k, (a, b) in others.items():
            pick = facing == k
            uv[pick] = local[pick][:, [a, b]]
    lo, hi = np.percentile(uv, 1, axis=0), np.percentile(uv, 99, axis=0)
    return (uv - lo) / np.maximum(hi - lo, 1e-9)


def sample_tile(tile: np.ndarray, uv: np.ndarray, repeats: float = 1.0) -> np.ndarray:
    """Bilinear samples of `tile` at `uv` (×`repeats`, mirrored beyond the edges)."""
    h, w = tile.shape[:2]
    coords = uv * repeats
    coords = np.abs(((coords + 1) % 2) - 1)  # mirror repeat into [0, 1]
    map_x = (coords[:, 0] * (w - 1)).astype(np.float32).reshape(-1, 1)
    map_y = (coords[:, 1] * (h - 1)).astype(np.float32).reshape(-1, 1)
    return cv2.remap(tile, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).reshape(-1, 3)


def region_texture(points: np.ndarray, normals: np.ndarray, up: np.ndarray, style_image: np.ndarray,
                   style_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One region's surface coordinates [N,2] (per Gaussian) and the style region's texture tile."""
    return surface_coordinates(points, normals, up), texture_tile(style_image, style_mask)


def with_scene_lightness(texture: np.ndarray, scene_colors: np.ndarray, structure: float) -> np.ndarray:
    """Texture colours [N,3] whose lightness gains a share `structure` of the scene's own lightness
    variation (its shading and detail)."""
    lab_texture, lab_scene = rgb_to_lab(texture), rgb_to_lab(scene_colors)
    detail = lab_scene[:, 0] - lab_scene[:, 0].mean()
    lab_texture[:, 0] = np.clip(lab_texture[:, 0] + structure * detail, 0, 100)
    return lab_to_rgb(lab_texture)
