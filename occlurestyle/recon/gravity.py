"""Which way is up in a registered capture (`colmap/gravity.json`): from the cameras where they turn,
from the room's vertical edges where they do not.

A handheld camera rolls little, so its x axis is nearly horizontal and up is the direction most
orthogonal to all of them (`cameras.camera_up`; on the sample rooms 0.05-0.07° from the truth, the lines
0.08-0.18°). That needs the camera to turn: one that keeps pointing one way (sam2_bedroom: the x axes'
singular values 1 : 0.02 : 0.003) pins up about one axis only, and there camera_up lay 22° from the up
of the room's edges (4.9° of it a roll the wall's stripes leave no doubt about). Then the frames'
vertical edges decide (wall corners, door and window frames, stripes): a straight segment a camera sees
spans a plane with the camera centre, and the plane of a vertical edge contains up. Each frame's
vertical direction is the one its near-vertical segments' planes share, off the people, refitted from
the image's own vertical to the segments within a narrowing angle (`frame_vertical`); the frames' are
joined in world axes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .. import media
from ..cameras import camera_up
from ..fsutil import write_json
from ..layout import RunLayout
from ..person_masks import read_masks

log = logging.getLogger(__name__)

TURNING = 0.1  # the cameras' x axes' second singular value over the first at which they tell up on their own
NEAR_VERTICAL = 20.0  # degrees from the image's vertical a segment may lean (a handheld camera rolls little)
MIN_LENGTH = 0.04  # of the image diagonal: a segment's shortest length
INLIER_ANGLE = 1.0  # degrees by which a vertical edge's plane may miss the frame's vertical direction
MIN_SEGMENTS = 8  # vertical segments a frame needs to count
MIN_FRAMES = 5  # frames with a vertical direction needed to trust the lines
FRAMES = 30  # frames looked at, evenly spread


@dataclass
class Gravity:
    up: np.ndarray  # unit vector, world coordinates
    source: str  # "cameras" or "lines"
    frames_with_lines: int = 0
    angle_to_cameras_deg: float = 0.0


def turning(viewmats: np.ndarray) -> float:
    """How much the cameras turn about up: the second singular value of their x axes over the first."""
    singular = np.linalg.svd(np.asarray(viewmats)[:, 0, :3], compute_uv=False)
    return float(singular[1] / singular[0]) if len(singular) > 1 else 0.0


def segment_planes(gray: np.ndarray, K: np.ndarray, person: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals [M,3] (camera axes) of the planes through the camera centre and each near-vertical
    straight segment of `gray` not on a person, and the segments' lengths [M] in pixels."""
    detector = cv2.createLineSegmentDetector()
    found = detector.detect(gray)[0]
    if found is None:
        return np.zeros((0, 3)), np.zeros(0)
    segments = found.reshape(-1, 4).astype(np.float64)
    dx, dy = segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1]
    length = np.hypot(dx, dy)
    lean = np.degrees(np.arctan2(np.abs(dx), np.abs(dy)))
    keep = (length >= MIN_LENGTH * np.hypot(*gray.shape)) & (lean <= NEAR_VERTICAL)
    if person is not None and person.any():
        middle = ((segments[:, :2] + segments[:, 2:]) / 2).astype(int)
        rows = middle[:, 1].clip(0, gray.shape[0] - 1)
        cols = middle[:, 0].clip(0, gray.shape[1] - 1)
        keep &= ~person[rows, cols]
    segments, length = segments[keep], length[keep]
    # LSD puts the origin at the centre of pixel (0, 0); K at its corner (cameras.py)
    inverse = np.linalg.inv(K)
    ends = [np.column_stack([segments[:, i:i + 2] + 0.5, np.ones(len(segments))]) @ inverse.T for i in (0, 2)]
    normals = np.cross(ends[0], ends[1])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return normals, length


def frame_vertical(normals: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A frame's vertical direction (camera axes, pointing down the image) and its inliers: starting from the
    image's own vertical, the direction the segments' planes share best, refitted to the segments within
    a narrowing angle of it (`INLIER_ANGLE` last). None with fewer than `MIN_SEGMENTS` agreeing."""
    direction = np.array([0.0, 1.0, 0.0])
    for angle in (12 * INLIER_ANGLE, 6 * INLIER_ANGLE, 3 * INLIER_ANGLE, 2 * INLIER_ANGLE, INLIER_ANGLE, INLIER_ANGLE):
        inliers = np.abs(normals @ direction) < np.sin(np.radians(angle))
        if inliers.sum() < MIN_SEGMENTS:
            return None
        scatter = (normals[inliers] * lengths[inliers, None]).T @ normals[inliers]
        direction = np.linalg.eigh(scatter)[1][:, 0]
        direction = direction if direction[1] >= 0 else -direction
    return direction, np.abs(normals @ direction) < np.sin(np.radians(INLIER_ANGLE))


def up_from_lines(planes: list[tuple[np.ndarray, np.ndarray]], viewmats: np.ndarray) -> tuple[np.ndarray, int] | None:
    """World up from the frames' segment planes (per frame: normals in camera axes, lengths), and how many
    frames had a vertical direction; None when fewer than `MIN_FRAMES` did. Each frame's agreeing
    segments weigh one frame in all, so a frame full of stripes does not outvote the rest."""
    joint = np.zeros((3, 3))
    counted = 0
    for (normals, lengths), viewmat in zip(planes, viewmats):
        found = frame_vertical(normals, lengths)
        if found is None:
            continue
        inliers = found[1]
        world = normals[inliers] @ viewmat[:3, :3]  # camera → world: Rᵀ n
        joint += (world * lengths[inliers, None]).T @ world / lengths[inliers].sum()
        counted += 1
    if counted < MIN_FRAMES:
        return None
    up = np.linalg.eigh(joint)[1][:, 0]
    mean_up = -np.asarray(viewmats)[:, 1, :3].mean(axis=0)
    return (up if up @ mean_up >= 0 else -up), counted


def up_from_frames(viewmats: np.ndarray, Ks: np.ndarray, frame: Callable[[int], tuple[np.ndarray, np.ndarray]],
                   frames: int = FRAMES) -> tuple[np.ndarray, int] | None:
    """`up_from_lines` of `frames` of the cameras' frames, evenly spread (`frame(i)`: frame i's grey image
    and person mask, bool)."""
    picks = np.unique(np.linspace(0, len(viewmats) - 1, min(frames, len(viewmats))).round().astype(int))
    planes = []
    for index in picks:
        gray, person = frame(index)
        planes.append(segment_planes(gray, Ks[index], person))
    return up_from_lines(planes, np.asarray(viewmats)[picks])


def estimate_gravity(viewmats: np.ndarray, Ks: np.ndarray, frame: Callable[[int], tuple[np.ndarray, np.ndarray]],
                     frames: int = FRAMES) -> Gravity:
    """Up for cameras `viewmats` [N,4,4]: their own answer where they turn (`TURNING`), else that of the
    vertical edges in their frames (`up_from_frames`)."""
    from_cameras = camera_up(viewmats)
    if turning(viewmats) >= TURNING:
        return Gravity(from_cameras, "cameras")
    found = up_from_frames(viewmats, Ks, frame, frames)
    if found is None:
        log.warning("the cameras hardly turn and the frames show too few vertical edges: up, taken from the "
                    "cameras, may be off by several degrees (walls, floor and flythroughs lean with it)")
        return Gravity(from_cameras, "cameras")
    up, counted = found
    angle = float(np.degrees(np.arccos(np.clip(up @ from_cameras, -1.0, 1.0))))
    log.info("the cameras hardly turn: up from the vertical edges of %d frames, %.1f° from the cameras' own", counted,
             angle)
    return Gravity(up, "lines", counted, angle)


def write_gravity(layout: RunLayout, names: list[str], Ks: np.ndarray, viewmats: np.ndarray) -> Gravity:
    """`colmap/gravity.json` for the registered frames `names` (their people from `masks/` when the run
    has them)."""

    def frame(index: int) -> tuple[np.ndarray, np.ndarray]:
        gray = cv2.cvtColor(media.read_image(layout.frames / names[index]), cv2.COLOR_RGB2GRAY)
        if not layout.masks.is_dir():  # registered without masks: nobody to leave out
            return gray, np.zeros(gray.shape, bool)
        return gray, read_masks(layout.root, [names[index]], gray.shape)[0]

    gravity = estimate_gravity(viewmats, Ks, frame)
    write_json(layout.gravity, {"up": [float(v) for v in gravity.up], "source": gravity.source,
                                "frames_with_lines": gravity.frames_with_lines,
                                "angle_to_cameras_deg": gravity.angle_to_cameras_deg, "frames": names})
    return gravity


def read_gravity(layout: RunLayout, names: list[str]) -> np.ndarray | None:
    """The registration's up, or None when it has none or it was found for other frames."""
    path: Path = layout.gravity
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.get("frames") != list(names):
        return None
    return np.asarray(data["up"], np.float64)
