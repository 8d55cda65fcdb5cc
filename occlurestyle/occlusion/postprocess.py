"""Clean-up shared by every masker: temporal smoothing, small-blob removal, hole filling, dilation."""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np
from scipy import ndimage


def clean_masks(masks: Iterable[np.ndarray], dilate_px: int = 3, fill_holes: bool = True,
                min_blob_fraction: float = 0.0005, temporal: bool = True, trusted: bool = False) -> Iterator[np.ndarray]:
    """Boolean person masks after, in order: a 3-frame temporal median (drops one-frame flicker,
    fills one-frame gaps), removal of blobs smaller than `min_blob_fraction` of the image, filling of
    enclosed holes, and dilation by `dilate_px` pixels (so person edges and motion blur stay out of
    the background). `trusted` masks (a learned masker's) only gain pixels: the median fills their
    one-frame gaps but never drops what was found (a fast limb is in one frame only), nor do small
    blobs go. Reads and yields one mask at a time (three in memory)."""
    raw = (np.asarray(m, bool) for m in masks)
    if temporal:
        raw = _temporal_median(raw, keep_current=trusted)
    for mask in raw:
        if min_blob_fraction > 0 and not trusted and mask.any():
            labels, count = ndimage.label(mask)
            sizes = np.bincount(labels.ravel(), minlength=count + 1)
            keep = sizes >= min_blob_fraction * mask.size
            keep[0] = False
            mask = keep[labels]
        if fill_holes and mask.any():
            mask = ndimage.binary_fill_holes(mask)
        if dilate_px > 0 and mask.any():
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
            mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0
        yield mask


def _temporal_median(masks: Iterable[np.ndarray], keep_current: bool = False) -> Iterator[np.ndarray]:
    """Each mask voted with its neighbours (the first and last frame count twice: they are kept as they
    are); with `keep_current`, the vote only adds to the mask."""
    stream = iter(masks)
    current = next(stream, None)
    if current is None:
        return
    before = current = np.asarray(current, bool)
    for after in stream:
        after = np.asarray(after, bool)
        voted = (before.astype(np.uint8) + current + after) >= 2
        yield voted | current if keep_current else voted
        before, current = current, after
    yield (before.astype(np.uint8) + current + current) >= 2
