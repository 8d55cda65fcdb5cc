"""Temporal consistency: optical flow on the input video and the warping error of Lai et al. (ECCV 2018).

The flow is computed once on the ORIGINAL frames (OpenCV DIS), so every method's output is judged
against the same motion: the error between output frame t and output frame t-gap warped to t along
that flow, over pixels that are visible in both frames (forward-backward consistency check of
Sundaram et al.) and are background in both (person masks excluded). A method that keeps the room
still where the input room is still scores low; flicker and sliding textures score high.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm


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


@dataclass
class _Pair:
    t: int
    source: int
    maps: np.ndarray  # [H,W,2] where each pixel of frame t is found in frame `source`
    valid: np.ndarray  # [H,W] bool


class WarpingError:
    """Flows of the input clip at the given frame gaps, computed once; `__call__` scores an output clip.

    `frames` [T,H,W,3] uint8 input; `masks` [T,H,W] bool person pixels (excluded)."""

    def __init__(self, frames: np.ndarray, masks: np.ndarray, gaps=(1, 7), progress: bool = False):
        self.gaps = tuple(gaps)
        self.pairs: dict[int, list[_Pair]] = {}
        masks = np.asarray(masks, bool)
        todo = [(gap, t) for gap in self.gaps for t in range(gap, len(frames))]
        for gap, t in tqdm(todo, desc="warping error: flow", disable=not progress):
            forward = dis_flow(frames[t], frames[t - gap])
            backward = dis_flow(frames[t - gap], frames[t])
            maps, valid = consistent_flow(forward, backward)
            person_there = cv2.remap(masks[t - gap].astype(np.float32), maps[..., 0], maps[..., 1],
                                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) > 0
            valid &= ~masks[t] & ~person_there
            self.pairs.setdefault(gap, []).append(_Pair(t, t - gap, maps, valid))

    def __call__(self, outputs) -> dict[int, list[float]]:
        """Per gap, per frame t (from t = gap on): mean over valid pixels of the squared RGB difference
        (0-1 images, averaged over channels) between output t and output t-gap warped to t.
        `outputs` is indexable by frame: uint8 or float images."""
        result = {}
        for gap, pairs in self.pairs.items():
            errors = []
            for pair in pairs:
                current = _float(outputs[pair.t])
                warped = cv2.remap(_float(outputs[pair.source]), pair.maps[..., 0], pair.maps[..., 1],
                                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                n = pair.valid.sum()
                errors.append(float(((current - warped) ** 2).mean(-1)[pair.valid].sum() / n) if n else float("nan"))
            result[gap] = errors
        return result


def _float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
