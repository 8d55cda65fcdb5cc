"""Temporal consistency: optical flow on the input video and the warping error of Lai et al. (ECCV 2018).

The flow is computed once on the ORIGINAL frames (OpenCV DIS), so every method's output is judged
against the same motion: the error between output frame t and output frame t-gap warped to t along
that flow, over pixels that are visible in both frames (forward-backward consistency check of
Sundaram et al.) and are background in both (person masks excluded). A method that keeps the room
still where the input room is still scores low; flicker and sliding textures score high.

Where a sample scene gives the truth, `true_flow` takes the place of the estimated flow: its depth and
cameras say where each pixel's surface point lies in the other frame, so fine texture the input lacks
(where DIS can only guess the motion) is not counted as error.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
from tqdm import tqdm

from ..cameras import project


def dis_flow(source: np.ndarray, target: np.ndarray, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
             ) -> np.ndarray:
    """Dense flow [H,W,2] taking pixel x of `source` to x + flow in `target` (RGB uint8 images)."""
    dis = cv2.DISOpticalFlow_create(preset)
    return dis.calc(cv2.cvtColor(source, cv2.COLOR_RGB2GRAY), cv2.cvtColor(target, cv2.COLOR_RGB2GRAY), None)


def consistent_flow(forward: np.ndarray, backward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps (x + forward) [H,W,2] and the pixels whose forward flow the backward flow undoes:
    |F(x) + B(x + F(x))|² < 0.01 (|F|² + |B(x + F)|²) + 0.5, and x + F(x) inside the image."""
    h, w = forward.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = gx + forward[..., 0], gy + forward[..., 1]
    back = cv2.remap(backward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = ((forward + back) ** 2).sum(-1)
    bound = 0.01 * ((forward ** 2).sum(-1) + (back ** 2).sum(-1)) + 0.5
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return np.stack([map_x, map_y], -1), (round_trip < bound) & inside


def true_flow(depth: np.ndarray, viewmat: np.ndarray, other_depth: np.ndarray, other_viewmat: np.ndarray,
              K: np.ndarray, tolerance: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """What `consistent_flow` gives, from a sample scene's truth instead of estimated flow: sampling maps
    [H,W,2] taking each pixel of a frame (its true z-depth [H,W], world→camera `viewmat`) to where its
    surface point lies in another frame, and the pixels whose point that frame sees unhidden (inside it,
    its own depth there within `tolerance` of the point's). A 3D-consistent texture warps exactly along
    it, however fine, where DIS flow on the input smears fine texture into the error."""
    h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w]
    rays = np.linalg.inv(K) @ np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(h * w)])
    world = viewmat[:3, :3].T @ (rays * depth.ravel() - viewmat[:3, 3:4])
    with np.errstate(divide="ignore", invalid="ignore"):
        uv, z = project(world.T, K, other_viewmat)
    maps = (uv - 0.5).reshape(h, w, 2).astype(np.float32)
    u, v = np.floor(uv[:, 0]), np.floor(uv[:, 1])
    valid = np.isfinite(depth.ravel()) & (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    there = other_depth[v[valid].astype(int), u[valid].astype(int)]
    valid[valid] = np.abs(there - z[valid]) < tolerance * z[valid]
    return maps, valid.reshape(h, w)


def warping_error(current: np.ndarray, before: np.ndarray, maps: np.ndarray, valid: np.ndarray) -> float:
    """Mean over `valid` pixels of the squared difference (0-1, averaged over channels) between `current`
    and `before` warped to it by sampling `maps` (nan where no pixel is valid)."""
    current, before = _float(current), _float(before)
    warped = cv2.remap(before, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    n = valid.sum()
    return float(((current - warped) ** 2).mean(-1)[valid].sum() / n) if n else float("nan")


class WarpingErrors:
    """The warping error of several methods' outputs, fed one frame at a time (`add`): the flow between
    input frames t-gap and t is computed once for all methods, and only the last `max(gaps)` frames of
    the input, the masks and each method are held. `errors[method][gap]` lists, per frame t from t = gap
    on, the mean over valid pixels of the squared RGB difference (0-1 images, averaged over channels)
    between output t and output t-gap warped to t (nan where no pixel is valid)."""

    def __init__(self, gaps=(1, 7)):
        self.gaps = tuple(gaps)
        self._recent: deque = deque(maxlen=max(self.gaps))  # (input, mask, outputs) of the frames before t
        self.errors: dict[str, dict[int, list[float]]] = {}

    def add(self, frame: np.ndarray, mask: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
        """Frame t of the input (RGB uint8), its person mask (bool) and each method's output frame t."""
        mask = np.asarray(mask, bool)
        outputs = {method: _float(image) for method, image in outputs.items()}
        for gap in self.gaps:
            if gap > len(self._recent):
                continue
            before, before_mask, before_outputs = self._recent[-gap]
            maps, valid = consistent_flow(dis_flow(frame, before), dis_flow(before, frame))
            person_there = cv2.remap(before_mask.astype(np.float32), maps[..., 0], maps[..., 1],
                                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) > 0
            valid &= ~mask & ~person_there
            for method, current in outputs.items():
                error = warping_error(current, before_outputs[method], maps, valid)
                self.errors.setdefault(method, {g: [] for g in self.gaps})[gap].append(error)
        self._recent.append((frame, mask, outputs))


class WarpingError:
    """The warping error of output clips against one input clip held in memory (`frames` [T,H,W,3]
    uint8, `masks` [T,H,W] bool person pixels, excluded); `__call__` scores an output clip."""

    def __init__(self, frames: np.ndarray, masks: np.ndarray, gaps=(1, 7), progress: bool = False):
        self.frames, self.masks, self.gaps, self.progress = frames, np.asarray(masks, bool), tuple(gaps), progress

    def __call__(self, outputs) -> dict[int, list[float]]:
        """Per gap, per frame t (from t = gap on): see `WarpingErrors`. `outputs` is indexable by frame:
        uint8 or float images."""
        errors = WarpingErrors(self.gaps)
        for t in tqdm(range(len(self.frames)), desc="warping error", disable=not self.progress):
            errors.add(self.frames[t], self.masks[t], {"output": outputs[t]})
        return errors.errors.get("output", {gap: [] for gap in self.gaps})


def _float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
