"""Soft contact shadows: the darkening of the floor right under each person's feet.

The background is rendered person-free, so without them the people float over the restyled floor.
For each person whose feet were seen on the floor (`people/depth.json`: foot position, height), every
pixel's camera ray is met with the floor plane through the feet; the floor there is darkened by a
Gaussian of the distance to the feet (a width proportional to the person's height), but only where
that floor point is what the camera sees (the rendered depth is not nearer), so a table between the
camera and the feet keeps its colour. Works for any camera: the original path and new ones alike.
"""

from __future__ import annotations

import numpy as np

from ..cameras import camera_center

RADIUS = 0.12  # of the person's height: the shadow's standard deviation on the floor
OCCLUDED_MARGIN = 0.05  # relative depth by which the scene must be nearer to hide the shadow


def contact_shading(records: list[dict], viewmat: np.ndarray, K: np.ndarray, up: np.ndarray,
                    background_depth: np.ndarray, strength: float) -> np.ndarray:
    """Multiplier [H,W] in [1 - strength, 1] for the background of one view (1 where no shadow)."""
    height, width = background_depth.shape
    shading = np.ones((height, width), np.float32)
    people = [r for r in records if r.get("feet_on_floor") and r.get("foot_world") is not None and r.get("height_world")]
    if strength <= 0 or not people:
        return shading
    R = viewmat[:3, :3]
    centre = camera_center(viewmat)
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1) @ R  # world, camera z = 1
    towards_floor = rays @ up
    for record in people:
        foot = np.asarray(record["foot_world"], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = ((foot - centre) @ up) / towards_floor  # camera z of the floor point on each ray
        seen = np.isfinite(z) & (z > 0) & ~(background_depth < z * (1 - OCCLUDED_MARGIN))
        floor_points = centre + np.where(seen, z, 0.0)[..., None] * rays
        distance = np.linalg.norm(floor_points - foot, axis=-1) / (RADIUS * record["height_world"])
        darkening = strength * np.exp(-0.5 * distance**2) * seen
        shading *= (1.0 - darkening).astype(np.float32)
    return shading
