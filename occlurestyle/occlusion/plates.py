"""Background plates: each frame's view of the static scene, without the people.

A plate is the per-pixel median of neighbouring frames warped into the frame: with camera poses and
a depth interpolated from static SfM points when they exist, otherwise with homographies. People
move, so most warped neighbours show the background where a person stands now; the median keeps it.
Where the depth is wrong the warp only misplaces texture, and textureless areas warp correctly with
any depth, so plates are forgiving exactly where flow is not.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator
from scipy.spatial import cKDTree


@dataclass
class StaticGeometry:
    """Poses of registered frames (index → world→camera 4×4), shared intrinsics and static points."""

    K: np.ndarray
    viewmats: dict[int, np.ndarray]
    points: np.ndarray  # [M, 3] world points seen consistently over many frames
    size: tuple[int, int] | None = None  # (width, height) of the images K is for


def _pixel_grid(width: int, height: int) -> np.ndarray:
    jj, ii = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return np.stack([jj.ravel(), ii.ravel()], axis=1)


def depth_hypotheses(geometry: StaticGeometry, t: int, width: int, height: int,
                     neighbours: int = 1) -> list[np.ndarray]:
    """Dense z-depths of frame t from the projected static points: linear interpolation (in inverse
    depth; right on smooth surfaces), then the depth of the 1st, 2nd, ... nearest point (piecewise
    constant; right up to object edges, where interpolation blends foreground and background, and on
    thin structures with few points). Empty if too few points are seen."""
    viewmat = geometry.viewmats[t]
    cam = geometry.points @ viewmat[:3, :3].T + viewmat[:3, 3]
    front = cam[:, 2] > 1e-3
    uvw = cam[front] @ geometry.K.T
    uv, z = uvw[:, :2] / uvw[:, 2:], cam[front, 2]
    near = (uv[:, 0] > -0.2 * width) & (uv[:, 0] < 1.2 * width) & (uv[:, 1] > -0.2 * height) & (uv[:, 1] < 1.2 * height)
    uv, z = uv[near], z[near]
    if len(z) < 10:
        return []
    grid = _pixel_grid(width, height)
    inverse = LinearNDInterpolator(uv, 1.0 / z)(grid)
    _, nearest = cKDTree(uv).query(grid, k=neighbours)
    nearest = nearest.reshape(len(grid), -1)
    holes = np.isnan(inverse)
    inverse[holes] = 1.0 / z[nearest[holes, 0]]
    hypotheses = [(1.0 / np.maximum(inverse, 1e-6)).reshape(height, width)]
    hypotheses += [z[nearest[:, k]].reshape(height, width) for k in range(nearest.shape[1])]
    return hypotheses


def warp_with_depth(source: np.ndarray, depth: np.ndarray, K: np.ndarray, view_t: np.ndarray,
                    view_s: np.ndarray) -> np.ndarray:
    """Frame s seen from frame t through t's depth; NaN where it falls outside frame s."""
    height, width = depth.shape
    rays = np.concatenate([_pixel_grid(width, height), np.ones((width * height, 1))], axis=1) @ np.linalg.inv(K).T
    relative = view_s[:3, :3] @ view_t[:3, :3].T
    offset = view_s[:3, 3] - relative @ view_t[:3, 3]
    p = (depth.reshape(-1, 1) * rays) @ relative.T @ K.T + K @ offset
    z = p[:, 2]
    uv = p[:, :2] / np.where(np.abs(z) < 1e-9, 1e-9, z)[:, None] - 0.5
    return _remap(source, uv, z > 0)


def orb_features(gray: np.ndarray, count: int = 1500) -> tuple[np.ndarray, np.ndarray | None]:
    """A frame's ORB keypoint positions (N, 2) and descriptors (at most `count`), for `match_homography`."""
    keypoints, descriptors = cv2.ORB_create(count).detectAndCompute(gray, None)
    return np.float32([k.pt for k in keypoints]).reshape(-1, 2), descriptors


def match_homography(features_t: tuple[np.ndarray, np.ndarray | None],
                     features_s: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray | None:
    """Homography taking frame t's pixels to frame s's, from their `orb_features` (RANSAC)."""
    (points_t, dt), (points_s, ds) = features_t, features_s
    if dt is None or ds is None or len(points_t) < 20 or len(points_s) < 20:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(dt, ds)
    if len(matches) < 20:
        return None
    a = points_t[[m.queryIdx for m in matches]]
    b = points_s[[m.trainIdx for m in matches]]
    # RANSAC draws from OpenCV's global generator: seeded per call, a frame's plate (hence its mask)
    # does not depend on what ran before it in the process
    cv2.setRNGSeed(0)
    H, inliers = cv2.findHomography(a, b, cv2.RANSAC, 3.0)
    return H if H is not None and inliers.sum() >= 15 else None


def estimate_homography(gray_t: np.ndarray, gray_s: np.ndarray) -> np.ndarray | None:
    """Homography taking frame t's pixels to frame s's (ORB features + RANSAC)."""
    return match_homography(orb_features(gray_t), orb_features(gray_s))


def warp_with_homography(source: np.ndarray, H: np.ndarray) -> np.ndarray:
    height, width = source.shape[:2]
    grid = _pixel_grid(width, height) - 0.5
    p = np.concatenate([grid, np.ones((len(grid), 1))], axis=1) @ H.T
    return _remap(source, p[:, :2] / p[:, 2:], p[:, 2] > 0)


def _remap(source: np.ndarray, uv: np.ndarray, in_front: np.ndarray) -> np.ndarray:
    height, width = source.shape[:2]
    map_x = uv[:, 0].reshape(height, width).astype(np.float32)
    map_y = uv[:, 1].reshape(height, width).astype(np.float32)
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outside = ((map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
               | ~in_front.reshape(height, width))
    warped = warped.astype(np.float32)
    warped[outside] = np.nan
    return warped


def median_plate(warped: list[np.ndarray], min_votes: int = 2,
                 with_spread: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-pixel median of the warped neighbours (NaN where fewer than `min_votes` see the pixel), and
    their spread: the median absolute deviation, large where the warps disagree (wrong depth); None
    unless `with_spread` (a second median, a third of the plate's cost)."""
    stack = np.stack(warped)
    votes = np.sum(~np.isnan(stack[..., 0]), axis=0)
    plate = nan_median(stack)
    spread = nan_median(channel_max(np.abs(stack - plate[None]))) if with_spread else None
    plate[votes < min_votes] = np.nan
    return plate, None if spread is None else np.nan_to_num(spread, nan=1.0)


def channel_max(image: np.ndarray) -> np.ndarray:
    """`image.max(axis=-1)` (NaN where any channel is), ~20x faster for 3 channels: numpy reduces a
    short last axis one pixel at a time."""
    return functools.reduce(np.maximum, (image[..., channel] for channel in range(image.shape[-1])))


def nan_median(stack: np.ndarray) -> np.ndarray:
    """np.nanmedian over axis 0, several times faster for the few neighbours of a plate: NaNs sort
    last, so the median of each pixel's n valid values sits at (n - 1) // 2 and n // 2."""
    ordered = np.sort(stack, axis=0)
    valid = np.sum(~np.isnan(ordered), axis=0)
    low = np.take_along_axis(ordered, np.maximum(valid - 1, 0)[None] // 2, axis=0)[0]
    high = np.take_along_axis(ordered, (valid // 2)[None].clip(max=len(stack) - 1), axis=0)[0]
    median = (low + high) / 2
    median[valid == 0] = np.nan
    return median


def tolerant_difference(frame: np.ndarray, plate: np.ndarray, radius: int = 1) -> np.ndarray:
    """Colour difference (max over channels) to the best-matching plate pixel within `radius`: the plate
    may be off by a pixel where the interpolated depth is slightly wrong. 0 where there is no plate."""
    height, width = frame.shape[:2]
    filled = np.nan_to_num(plate, nan=-10.0)
    pad = np.pad(filled, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    best = np.full((height, width), np.inf, np.float32)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            best = np.minimum(best, channel_max(np.abs(frame - pad[dy:dy + height, dx:dx + width])))
    best[np.isnan(plate).any(axis=2)] = 0.0
    return best


def _brightness_ratio(frame: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """Per channel, how much brighter the frame is than the plate (a near-black plate counts as 0.02)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return frame / np.maximum(plate, 0.02)


def shade_like(frame: np.ndarray, plate: np.ndarray, brightest: float = 0.95, darkest: float = 0.1,
               bluer: float = 0.03, spread: float = 0.35) -> np.ndarray:
    """Pixels that are the plate in shade: darker in every channel, evenly or least in blue and most in
    red (out of the direct light, lit by the sky or a window: a real shadow in sunlight turns bluer,
    which `shadow_like` does not allow). Looser than `shadow_like`: dark clothes often pass it too."""
    ratio = _brightness_ratio(frame, plate)
    red, green, blue = ratio[..., 0], ratio[..., 1], ratio[..., 2]
    top = np.maximum(np.maximum(red, green), blue)
    low = np.minimum(np.minimum(red, green), blue)
    return ((top < brightest) & (low > darkest) & (red <= green + bluer) & (green <= blue + bluer)
            & (top - low < spread * (red + green + blue) / 3))


def shadow_like(frame: np.ndarray, plate: np.ndarray, tolerance: float = 0.06,
                darkest: float = 0.1, lightest: float = 0.92) -> np.ndarray:
    """Pixels that are the plate darkened by about the same factor in every channel: a moving shadow
    (or a dimmed patch), not a person. NaN plate pixels are not shadows."""
    ratio = _brightness_ratio(frame, plate)
    mean = ratio.mean(axis=2)
    grey = channel_max(np.abs(ratio - mean[..., None])) < tolerance
    return grey & (mean > darkest) & (mean < lightest) & ~np.isnan(plate).any(axis=2)
