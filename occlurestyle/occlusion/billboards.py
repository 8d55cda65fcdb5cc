"""People on new camera paths: camera-facing billboards standing at their 3D floor position.

Each person of a source frame is cut out (RGBA, their box), stood upright on the floor at the point
their feet touched it, scaled to their height in the world, turned to face the new camera, and drawn
with a perspective warp; their depth is the billboard's, so the scene occludes them where it is nearer.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..cameras import camera_center


def billboard_layer(layer: np.ndarray, record: dict, viewmat: np.ndarray, K: np.ndarray, up: np.ndarray,
                    width: int, height: int) -> tuple[np.ndarray, np.ndarray] | None:
    """RGBA [H,W,4] and depth [H,W] (inf where empty) of one person's billboard in a new camera."""
    if record.get("foot_world") is None:
        return None
    x0, y0, x1, y1 = record["box"]
    crop = layer[y0:y1 + 1, x0:x1 + 1]
    if crop.size == 0:
        return None
    foot = np.asarray(record["foot_world"])
    person_height = record["height_world"]
    person_width = person_height * crop.shape[1] / crop.shape[0]
    centre = camera_center(viewmat)
    to_camera = centre - foot
    to_camera -= (to_camera @ up) * up
    if np.linalg.norm(to_camera) < 1e-9:
        return None
    right = np.cross(up, to_camera / np.linalg.norm(to_camera))
    right /= np.linalg.norm(right)
    # the foot point sits at the bottom centre of the cut-out (where the lowest mask pixels were)
    foot_u = (record["foot_pixel"][0] - x0) / max(x1 - x0 + 1, 1)
    corners = np.array([
        foot - foot_u * person_width * right + person_height * up,
        foot + (1 - foot_u) * person_width * right + person_height * up,
        foot + (1 - foot_u) * person_width * right,
        foot - foot_u * person_width * right,
    ])
    camera = corners @ viewmat[:3, :3].T + viewmat[:3, 3]
    if (camera[:, 2] <= 1e-3).any():
        return None
    pixels = (camera @ K.T)[:, :2] / camera[:, 2:3]
    source = np.float32([[0, 0], [crop.shape[1], 0], [crop.shape[1], crop.shape[0]], [0, crop.shape[0]]])
    warp = cv2.getPerspectiveTransform(source, pixels.astype(np.float32))
    rgba = cv2.warpPerspective(crop, warp, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    depth = np.full((height, width), np.inf, np.float32)
    foot_camera = viewmat[:3, :3] @ foot + viewmat[:3, 3]
    depth[rgba[..., 3] > 0.01] = foot_camera[2]
    return rgba.astype(np.float32), depth


def people_on_new_view(layer: np.ndarray, records: list[dict], viewmat: np.ndarray, K: np.ndarray, up: np.ndarray,
                       width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """All people of one source frame as billboards in a new camera, far ones first (painter's order)."""
    out = np.zeros((height, width, 4), np.float32)
    depth = np.full((height, width), np.inf, np.float32)
    drawn = [b for b in (billboard_layer(layer, r, viewmat, K, up, width, height) for r in records) if b is not None]
    for rgba, d in sorted(drawn, key=lambda b: -np.min(b[1])):
        a = rgba[..., 3:4]
        out[..., :3] = a * rgba[..., :3] + (1 - a) * out[..., :3]
        out[..., 3:4] = a + (1 - a) * out[..., 3:4]
        depth = np.minimum(depth, d)
    return out, depth
