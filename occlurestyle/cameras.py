"""Camera conventions shared by every stage: OpenCV axes, world→camera 4×4 `viewmats`, 3×3 pixel `Ks`.

Pixel centres sit at half-integer coordinates (COLMAP and gsplat convention): the centre of pixel
(row i, column j) projects to (j + 0.5, i + 0.5). Also reads and writes COLMAP text models of cameras.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from .fsutil import write_text

log = logging.getLogger(__name__)


def intrinsics_from_fov(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """3×3 pinhole K with square pixels and the principal point at the image centre."""
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray, up: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """World→camera 4×4 for a camera at `eye` looking at `target` (OpenCV: +y down, +z forward)."""
    eye = np.asarray(eye, np.float64)
    forward = np.asarray(target, np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, np.float64))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return pose_to_viewmat(np.stack([right, down, forward], axis=1), eye)


def pose_to_viewmat(cam_to_world_rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
    rot = np.asarray(cam_to_world_rotation, np.float64)
    viewmat = np.eye(4)
    viewmat[:3, :3] = rot.T
    viewmat[:3, 3] = -rot.T @ np.asarray(position, np.float64)
    return viewmat


def camera_center(viewmats: np.ndarray) -> np.ndarray:
    """World position of a camera ([4,4] → [3]) or of several ([N,4,4] → [N,3]): -Rᵀt."""
    viewmats = np.asarray(viewmats, np.float64)
    return -np.einsum("...ji,...j->...i", viewmats[..., :3, :3], viewmats[..., :3, 3])


def camera_up(viewmats: np.ndarray) -> np.ndarray:
    """World up from the cameras [N,4,4]: handheld cameras pitch a lot but roll little, so their x axes
    are nearly horizontal and up is the direction most orthogonal to all of them (sign: the cameras'
    -y). Cameras that roll every way fall back to their mean -y axis."""
    viewmats = np.asarray(viewmats, np.float64)
    rights = viewmats[:, 0, :3]  # row 0 of R: the camera x axis in world coordinates
    mean_up = -viewmats[:, 1, :3].mean(axis=0)
    _, singular, axes = np.linalg.svd(rights, full_matrices=True)
    up = axes[-1]
    if len(rights) < 2 or singular[-1] > 0.2 * singular[0]:
        log.warning("the cameras roll too much to tell up from their x axes; up is their mean -y axis")
        up = mean_up
    if up @ mean_up < 0:
        up = -up
    return up / np.linalg.norm(up)


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (degrees) of the rotation between two rotation matrices (or the 3x3 blocks of viewmats)."""
    relative = np.asarray(a)[:3, :3] @ np.asarray(b)[:3, :3].T
    return float(np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1.0, 1.0))))


def pixel_rays(K: np.ndarray, viewmat: np.ndarray, width: int, height: int, offsets=((0.5, 0.5),)) -> np.ndarray:
    """World-space rays `[S, H, W, 6]` (origin, unit direction) through each pixel at sub-pixel `offsets`.

    A hit at distance t along a ray has camera depth t · (direction · camera forward axis).
    """
    rot_c2w = viewmat[:3, :3].T
    origin = camera_center(viewmat)
    jj, ii = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = np.empty((len(offsets), height, width, 6), np.float32)
    for s, (ox, oy) in enumerate(offsets):
        x = (jj + ox - K[0, 2]) / K[0, 0]
        y = (ii + oy - K[1, 2]) / K[1, 1]
        d_cam = np.stack([x, y, np.ones_like(x)], axis=-1)
        d_cam /= np.linalg.norm(d_cam, axis=-1, keepdims=True)
        rays[s, ..., :3] = origin
        rays[s, ..., 3:] = d_cam @ rot_c2w.T
    return rays


def project(points: np.ndarray, K: np.ndarray, viewmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates `[N, 2]` and camera depth `[N]` of world points."""
    cam = points @ viewmat[:3, :3].T + viewmat[:3, 3]
    z = cam[:, 2]
    uv = (cam[:, :2] / z[:, None]) * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
    return uv, z


def rotmat_to_qvec(R: np.ndarray) -> np.ndarray:
    """Rotation matrix → unit quaternion (w, x, y, z) with w ≥ 0."""
    R = np.asarray(R, np.float64)
    trace = np.trace(R)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = [(R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s]
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = [(R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = [(R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def qvec_to_rotmat(q: Sequence[float]) -> np.ndarray:
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def write_colmap_text(
    folder: str | Path,
    K: np.ndarray,
    width: int,
    height: int,
    names: Sequence[str],
    viewmats: Sequence[np.ndarray],
    points: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    observations: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """A COLMAP text model (cameras.txt, images.txt, points3D.txt) with one shared PINHOLE camera.
    `observations`, per image: pixel positions [M, 2] of `points` [M] (indices) seen in it, as tracks."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    write_text(
        folder / "cameras.txt",
        "# Camera list with one line of data per camera:\n"
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
        f"1 PINHOLE {width} {height} {fx:.10g} {fy:.10g} {cx:.10g} {cy:.10g}\n",
    )
    lines = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
    ]
    tracks: dict[int, list[str]] = {}
    for image_id, (name, viewmat) in enumerate(zip(names, viewmats), start=1):
        q = rotmat_to_qvec(viewmat[:3, :3])
        t = viewmat[:3, 3]
        lines.append(f"{image_id} " + " ".join(f"{v:.12g}" for v in (*q, *t)) + f" 1 {name}")
        seen = []
        if observations is not None:
            for index, ((x, y), point) in enumerate(zip(*observations[image_id - 1])):
                seen.append(f"{x:.6g} {y:.6g} {int(point) + 1}")
                tracks.setdefault(int(point), []).append(f"{image_id} {index}")
        lines.append(" ".join(seen))
    write_text(folder / "images.txt", "\n".join(lines) + "\n")
    point_lines = ["#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)"]
    if points is not None:
        rgb = np.zeros((len(points), 3), np.uint8) if colors is None else colors
        for pid, (p, c) in enumerate(zip(points, rgb), start=1):
            track = " ".join(tracks.get(pid - 1, []))
            point_lines.append(f"{pid} {p[0]:.8g} {p[1]:.8g} {p[2]:.8g} {int(c[0])} {int(c[1])} {int(c[2])} 0 {track}".rstrip())
    write_text(folder / "points3D.txt", "\n".join(point_lines) + "\n")
    return folder
