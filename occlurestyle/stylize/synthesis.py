"""Example-based texture synthesis: image quilting (Efros & Freeman 2001).

A texture of any size grown from a sample of a material: blocks of the sample are laid in raster
order, each chosen among those whose overlap with what is already laid differs least (sum of squared
differences, `cv2.matchTemplate` over every position of the sample), and joined along the cheapest
seam through the overlap (minimum-error boundary cut, dynamic programming). Only blocks lying wholly
inside the sample's region are taken, so an irregular region (a floor seen around furniture) can be
a sample. Neither scikit-image nor OpenCV ships a texture synthesis, hence this module.
"""

from __future__ import annotations

import cv2
import numpy as np


def quilt(sample: np.ndarray, shape: tuple[int, int], block: int = 32, overlap: int | None = None,
          region: np.ndarray | None = None, tolerance: float = 0.1, seed: int = 0) -> np.ndarray:
    """A texture [H,W,3] (float32, like `sample` [h,w,3]) of `shape` (H, W) quilted from `sample`'s
    `block`×`block` blocks that lie wholly inside `region` (bool [h,w]; default: all of it)."""
    sample = np.ascontiguousarray(sample, np.float32)
    height, width = shape
    overlap = overlap if overlap is not None else max(2, block // 6)
    valid = _block_origins(sample.shape[:2] if region is None else region, block)
    if not valid.any():
        raise ValueError(f"no {block}×{block} block fits inside the sample region")
    rng = np.random.default_rng(seed)
    step = block - overlap
    rows = max(1, int(np.ceil((height - overlap) / step)))
    cols = max(1, int(np.ceil((width - overlap) / step)))
    out = np.zeros((rows * step + overlap, cols * step + overlap, 3), np.float32)
    candidates = np.argwhere(valid)
    for i in range(rows):
        for j in range(cols):
            y, x = i * step, j * step
            if i == 0 and j == 0:
                sy, sx = candidates[rng.integers(len(candidates))]
                out[:block, :block] = sample[sy:sy + block, sx:sx + block]
                continue
            mask = np.zeros((block, block), np.float32)
            if i > 0:
                mask[:overlap] = 1
            if j > 0:
                mask[:, :overlap] = 1
            target = out[y:y + block, x:x + block]
            cost = cv2.matchTemplate(sample, target, cv2.TM_SQDIFF, mask=np.repeat(mask[..., None], 3, 2))
            # masked SQDIFF comes out of an FFT: clip its rounding below zero, and no NaN
            cost = np.where(valid & np.isfinite(cost), np.maximum(cost, 0), np.inf)
            best = cost.min()
            near = np.argwhere(cost <= best * (1 + tolerance) + 1e-6)
            sy, sx = near[rng.integers(len(near))]
            chosen = sample[sy:sy + block, sx:sx + block]
            keep_new = _seam_mask(target, chosen, overlap, top=i > 0, left=j > 0)
            out[y:y + block, x:x + block] = np.where(keep_new[..., None], chosen, target)
    return out[:height, :width]


def largest_block(region: np.ndarray) -> int:
    """Side of the largest square block lying wholly inside `region` (bool [h,w]), to within a pixel."""
    padded = np.pad(region.astype(np.uint8), 1)  # the image edge bounds a block like the region's edge
    return max(0, 2 * int(cv2.distanceTransform(padded, cv2.DIST_C, 3).max()) - 1)


def _block_origins(region: np.ndarray | tuple[int, int], block: int) -> np.ndarray:
    """[h-block+1, w-block+1] bool: where a block's top-left corner may be so the block lies inside."""
    if isinstance(region, tuple):
        h, w = region
        return np.ones((max(0, h - block + 1), max(0, w - block + 1)), bool)
    inside = region.astype(np.float32)
    # a block is inside when the count of region pixels under it is block²
    counts = cv2.boxFilter(inside, -1, (block, block), normalize=False, anchor=(0, 0),
                           borderType=cv2.BORDER_CONSTANT)
    h, w = region.shape
    return counts[:max(0, h - block + 1), :max(0, w - block + 1)] > block * block - 0.5


def _seam_mask(old: np.ndarray, new: np.ndarray, overlap: int, top: bool, left: bool) -> np.ndarray:
    """Where the new block replaces the old one: beyond the cheapest seams through the overlaps."""
    error = ((old - new) ** 2).sum(-1)
    keep = np.ones(error.shape, bool)
    if left:
        keep &= _vertical_cut(error[:, :overlap], error.shape[1])
    if top:
        keep &= _vertical_cut(error[:overlap, :].T, error.shape[0]).T
    return keep


def _vertical_cut(error: np.ndarray, width: int) -> np.ndarray:
    """[rows, width] bool: True right of the cheapest top-to-bottom path through `error` [rows, overlap]."""
    rows, overlap = error.shape
    total = error.astype(np.float64).copy()
    for r in range(1, rows):
        previous = total[r - 1]
        padded = np.concatenate([[np.inf], previous, [np.inf]])
        total[r] += np.minimum(np.minimum(padded[:-2], padded[1:-1]), padded[2:])
    path = np.empty(rows, int)
    path[-1] = int(np.argmin(total[-1]))
    for r in range(rows - 2, -1, -1):
        c = path[r + 1]
        lo, hi = max(0, c - 1), min(overlap, c + 2)
        path[r] = lo + int(np.argmin(total[r, lo:hi]))
    return np.arange(width)[None, :] >= path[:, None]
