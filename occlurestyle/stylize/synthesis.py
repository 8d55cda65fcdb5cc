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
    search = _OverlapSearch(sample, valid, block)
    for i in range(rows):
        for j in range(cols):
            y, x = i * step, j * step
            if i == 0 and j == 0:
                sy, sx = search.origins[rng.integers(len(search.origins))]
                out[:block, :block] = sample[sy:sy + block, sx:sx + block]
                continue
            target = out[y:y + block, x:x + block]
            origins, cost = search.costs(target, overlap, top=i > 0, left=j > 0)
            near = origins[cost <= cost.min() * (1 + tolerance) + 1e-6]
            sy, sx = near[rng.integers(len(near))]
            chosen = sample[sy:sy + block, sx:sx + block]
            keep_new = _seam_mask(target, chosen, overlap, top=i > 0, left=j > 0)
            out[y:y + block, x:x + block] = np.where(keep_new[..., None], chosen, target)
    return out[:height, :width]


COARSE_FROM = 16  # blocks this big or larger are sought at half resolution first...
COARSE_ABOVE = 4096  # ...in a sample with more block positions than this
COARSE_KEPT = 48  # the best positions at half resolution, each then tried at and around its full-size place


class _OverlapSearch:
    """Where in the sample a block's overlap with what is already laid differs least: the sum of
    squared differences at the valid block positions. OpenCV's masked template match over the whole
    sample, or for a large sample and large blocks coarse to fine: every position at half resolution (a
    quarter of the positions and of the pixels), then the best few exactly at full resolution with the
    positions around each, in a third of the time."""

    def __init__(self, sample: np.ndarray, valid: np.ndarray, block: int):
        self.sample, self.valid, self.block = sample, valid, block
        self.origins = np.argwhere(valid)
        h, w = sample.shape[:2]
        self.coarse = block >= COARSE_FROM and min(h, w) >= 4 * block and len(self.origins) > COARSE_ABOVE
        if self.coarse:
            self.windows = np.lib.stride_tricks.sliding_window_view(sample, (block, block), axis=(0, 1))
            self.small = cv2.resize(sample, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            self.small_block = block // 2
            rows, cols = h // 2 - self.small_block + 1, w // 2 - self.small_block + 1
            self.small_valid = valid[:2 * rows:2, :2 * cols:2]
            self.around = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])

    def costs(self, target: np.ndarray, overlap: int, top: bool, left: bool) -> tuple[np.ndarray, np.ndarray]:
        """(origins [n,2], the overlap's cost at each [n]) for the block `target` [block,block,3]."""
        mask = _overlap_mask(self.block, overlap, top, left)
        if not self.coarse:
            return self.origins, _masked_sqdiff(self.sample, target, mask)[self.valid]
        origins = self._coarse_candidates(target, mask)
        return origins, self.exact(target, overlap, top, left, origins)

    def exact(self, target: np.ndarray, overlap: int, top: bool, left: bool, origins: np.ndarray) -> np.ndarray:
        """The sum of squared differences over the overlap (`_overlap_mask`) at each of `origins` [n,2]."""
        ys, xs = origins[:, 0], origins[:, 1]
        strips = [(slice(0, overlap), slice(None))] if top else []
        if left:  # the left columns below the top strip
            strips.append((slice(overlap if top else 0, None), slice(0, overlap)))
        cost = np.zeros(len(origins), np.float32)
        for rows, cols in strips:
            blocks = self.windows[ys, xs, :, rows, cols]  # [n,3,r,c]
            cost += ((blocks - target[rows, cols].transpose(2, 0, 1)[None]) ** 2).sum((1, 2, 3))
        return cost

    def _coarse_candidates(self, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """[n,2] full-resolution origins worth an exact look."""
        b = self.small_block
        small_target = cv2.resize(target, (b, b), interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(mask.astype(np.float32), (b, b), interpolation=cv2.INTER_AREA) > 0.5
        rows, cols = self.small_valid.shape
        cost = _masked_sqdiff(self.small, small_target, small_mask)[:rows, :cols]
        cost = np.where(self.small_valid, cost, np.inf).ravel()
        kept = min(COARSE_KEPT, int(np.isfinite(cost).sum()))
        if kept == 0:
            return self.origins
        best = np.argpartition(cost, kept - 1)[:kept]
        origins = 2 * np.stack(np.unravel_index(best, (rows, cols)), 1)
        origins = (origins[:, None, :] + self.around[None]).reshape(-1, 2)
        origins = np.unique(np.clip(origins, 0, np.array(self.valid.shape) - 1), axis=0)
        origins = origins[self.valid[origins[:, 0], origins[:, 1]]]
        return origins if len(origins) else self.origins


def _masked_sqdiff(sample: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sum of squared differences over `mask` of `target` at every position of `sample`."""
    weights = np.repeat(mask[..., None].astype(np.float32), 3, 2)
    cost = cv2.matchTemplate(sample, target, cv2.TM_SQDIFF, mask=weights)
    # masked SQDIFF comes out of an FFT: clip its rounding below zero, and no NaN
    return np.where(np.isfinite(cost), np.maximum(cost, 0), np.inf)


def _overlap_mask(block: int, overlap: int, top: bool, left: bool) -> np.ndarray:
    """[block,block] bool: the part of a block laid over what is already there."""
    mask = np.zeros((block, block), bool)
    mask[:overlap] = top
    mask[:, :overlap] |= left
    return mask


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
