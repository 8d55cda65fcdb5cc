"""Colour-distribution transfer for one region pair, in CIELAB.

Sliced optimal transport (iterative 1-D quantile matching along random directions, Pitié et al.)
moves the scene region's colour distribution onto the style region's; the lightness of the result
is then chosen by `lightness`: a monotone or linear map of the scene's own lightness, or the
transport's own.

In images (the key views), `soften_lightness` then keeps the scene's structure: each region's
lightness change is pulled towards the scene-wide change (`contrast` < 1: two regions the style
lights very differently do not get a new hard edge between them) and blurred, so the style's
light/dark balance arrives at low frequency while the scene's own edges, texture and shading stay as
they were. Chroma is the transfer's, untouched.
"""

from __future__ import annotations

import cv2
import numpy as np


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """[..., 3] RGB in [0, 1] → CIELAB (L 0-100, a/b about ±100)."""
    rgb = np.clip(np.asarray(rgb, np.float32), 0, 1)
    return cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(rgb.shape)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    lab = np.asarray(lab, np.float32)
    return np.clip(cv2.cvtColor(lab.reshape(-1, 1, 3), cv2.COLOR_LAB2RGB).reshape(lab.shape), 0, 1)


def masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of `values` [H,W] that takes only the pixels of `mask` (normalised convolution):
    a region's light or change, not mixed with its neighbours'."""
    weight = mask.astype(np.float32)
    blurred = cv2.GaussianBlur(np.asarray(values, np.float32) * weight, (0, 0), sigma)
    return blurred / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-6)


DETAIL_SIGMA = 2.0  # pixels: what a blur this wide removes is a region's fine texture


def detail_contrast(images: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The spread of the fine texture (each CIELAB channel minus its masked blur) over the pixels of
    `mask` in `images` [(V,)H,W,3] RGB 0-1, per channel [L, a, b]: a plank top several units in L, a
    plain white table ~0. The spread is robust (1.4826 × the median absolute deviation): a surface's
    few edges (a table's lit top against its shaded front) are no texture. None when the mask holds
    too few pixels."""
    images, mask = np.asarray(images).reshape(-1, *images.shape[-3:]), np.asarray(mask).reshape(-1, *mask.shape[-2:])
    residuals = []
    for image, here in zip(images, mask):
        if here.sum() < 10:
            continue
        lab = rgb_to_lab(image)
        inner = cv2.erode(here.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # edges are no texture
        residuals.append(np.stack([(lab[..., c] - masked_blur(lab[..., c], here, DETAIL_SIGMA))[inner]
                                   for c in range(3)], axis=-1))
    residuals = np.concatenate(residuals) if residuals else np.zeros((0, 3))
    if len(residuals) < 10:
        return None
    return 1.4826 * np.median(np.abs(residuals - np.median(residuals, axis=0)), axis=0)


def scale_detail(images: np.ndarray, mask: np.ndarray, factor, parts: np.ndarray | None = None) -> np.ndarray:
    """`images` [V,H,W,3] with the fine texture inside `mask` [V,H,W] scaled by `factor` (one for each
    CIELAB channel, or one for all), around its masked blur, so the region's colour and light stay. The
    blur is 3× the one that measures the texture: around the finer one, what lies between the two scales
    (a plank's edge) would stay. With `parts` (each masked pixel's colour part [n], in `mask`'s order)
    each part is blurred on its own: a table's thin legs keep their colour and shape under its top."""
    factor = np.broadcast_to(np.asarray(factor, np.float32), (3,))
    out = images.copy()
    part_of = np.full(mask.shape, -1)
    part_of[mask] = 0 if parts is None else parts
    for k in range(len(images)):
        if not mask[k].any():
            continue
        lab = rgb_to_lab(images[k])
        for part in np.unique(part_of[k][part_of[k] >= 0]):
            here = part_of[k] == part
            low = np.stack([masked_blur(lab[..., c], here, 3 * DETAIL_SIGMA) for c in range(3)], axis=-1)
            out[k][here] = lab_to_rgb(low[here] + factor * (lab[here] - low[here]))
    return out


def _match_quantiles(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Values of `source` replaced by the `target` values of the same rank (1-D optimal transport)."""
    order = np.argsort(source, kind="stable")
    # interpolating at increasing ranks lets np.interp walk the target instead of searching it
    values = np.interp((np.arange(len(source)) + 0.5) / len(source), (np.arange(len(target)) + 0.5) / len(target),
                       np.sort(target))
    matched = np.empty(len(source))
    matched[order] = values
    return matched


def sliced_ot(source: np.ndarray, target: np.ndarray, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """Move points `source` [N,D] so their distribution matches `target` [M,D]."""
    rng = np.random.default_rng(seed)
    moved = np.array(source, np.float64)
    target = np.asarray(target, np.float64)
    dims = moved.shape[1]
    for _ in range(iterations):
        basis, _ = np.linalg.qr(rng.normal(size=(dims, dims)))  # a random orthonormal basis
        projected_source, projected_target = moved @ basis, target @ basis
        for axis in range(dims):
            matched = _match_quantiles(projected_source[:, axis], projected_target[:, axis])
            moved += np.outer(matched - projected_source[:, axis], basis[:, axis])
            projected_source = moved @ basis
    return moved


def transfer_colors(colors: np.ndarray, style_colors: np.ndarray, lightness: str = "linear",
                    iterations: int = 30, max_samples: int = 20000, seed: int = 0) -> np.ndarray:
    """Scene colours [N,3] (RGB 0-1) restyled to the distribution of `style_colors` [M,3].

    `lightness`: "rank" maps the scene's lightness monotonically onto the style's histogram (order kept,
    the style's light/dark balance reached); "linear" matches only its mean and spread (gradients kept
    proportional); "transport" leaves it to the 3-D transport (closest in distribution, structure lost)."""
    rng = np.random.default_rng(seed)
    if len(style_colors) > max_samples:
        style_colors = style_colors[rng.choice(len(style_colors), max_samples, replace=False)]
    lab = rgb_to_lab(colors)
    style_lab = rgb_to_lab(style_colors)
    moved = sliced_ot(lab, style_lab, iterations, seed)
    if lightness == "rank":
        moved[:, 0] = _match_quantiles(lab[:, 0], style_lab[:, 0])
    elif lightness == "linear":
        spread = max(float(lab[:, 0].std()), 1e-3)
        moved[:, 0] = (lab[:, 0] - lab[:, 0].mean()) * (style_lab[:, 0].std() / spread) + style_lab[:, 0].mean()
    elif lightness != "transport":
        raise ValueError(f"lightness must be rank, linear or transport, not {lightness!r}")
    return lab_to_rgb(moved)


def soften_lightness(original: np.ndarray, stylized: np.ndarray, labels: np.ndarray, contrast: float,
                     sigma: float) -> np.ndarray:
    """`stylized` images [V,H,W,3] (RGB 0-1) with their lightness made the `original`'s plus a smooth
    change: per region of `labels` [V,H,W] (-1: no region, left as stylized), the mean change is moved
    towards the mean over all regions by a factor `contrast` (1 keeps it), then the change is blurred
    by a Gaussian of `sigma` pixels normalised over the labelled pixels."""
    before, after = rgb_to_lab(original), rgb_to_lab(stylized)
    valid = labels >= 0
    change = np.where(valid, after[..., 0] - before[..., 0], 0).astype(np.float32)
    if valid.any() and contrast != 1:
        overall = change[valid].mean()
        for region in np.unique(labels[valid]):
            here = labels == region
            change[here] -= (1 - contrast) * (change[here].mean() - overall)
    if sigma > 0:
        for k in range(len(change)):
            change[k] = masked_blur(change[k], valid[k], sigma)
    after[..., 0] = np.where(valid, before[..., 0] + change, after[..., 0])
    return lab_to_rgb(after)


def structure_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of the luminance gradient magnitudes of two RGB images [H,W,3] (0-1)."""
    def gradient(image):
        gray = cv2.cvtColor(np.asarray(image, np.float32), cv2.COLOR_RGB2GRAY)
        return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)).ravel()

    return float(np.corrcoef(gradient(a), gradient(b))[0, 1])


PART_CHROMA_GAP = 15.0  # CIELAB a*b* distance between two clusters' centres that makes them two parts
PART_MIN_SHARE = 0.08  # ... when the smaller holds at least this share of the colours


def colour_parts(lab: np.ndarray, seed: int = 0, max_samples: int = 20000) -> np.ndarray | None:
    """Two parts of an object's colours `lab` [N,3] (a sofa's frame and cushions) by k-means on a*b*: the
    part of each colour [N] (0: the larger), or None when its colours are one part."""
    if len(lab) < 50:
        return None
    rng = np.random.default_rng(seed)
    chroma = np.ascontiguousarray(lab[:, 1:], np.float32)
    sample = chroma[rng.choice(len(chroma), max_samples, replace=False)] if len(chroma) > max_samples else chroma
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.1)
    _, _, centres = cv2.kmeans(sample, 2, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    part = np.argmin(((chroma[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    shares = np.bincount(part, minlength=2) / len(part)
    if np.linalg.norm(centres[0] - centres[1]) < PART_CHROMA_GAP or shares.min() < PART_MIN_SHARE:
        return None
    return part if shares[0] >= shares[1] else 1 - part


def transfer_colors_by_parts(colors: np.ndarray, style_colors: np.ndarray, lightness: str = "linear",
                             seed: int = 0, parts: np.ndarray | None = None) -> np.ndarray:
    """`transfer_colors` part to part when both sides have two colour parts (`colour_parts`; `parts`:
    `colors`' own, if the caller has them already), the larger to the larger (a sofa's frame to the
    style sofa's frame, its cushions to the cushions), else whole."""
    ours = colour_parts(rgb_to_lab(colors), seed) if parts is None else parts
    theirs = colour_parts(rgb_to_lab(style_colors), seed)
    if ours is None or theirs is None:
        return transfer_colors(colors, style_colors, lightness=lightness, seed=seed)
    out = np.empty_like(np.asarray(colors, np.float32))
    for k in range(2):
        out[ours == k] = transfer_colors(colors[ours == k], style_colors[theirs == k], lightness=lightness,
                                         seed=seed + k)
    return out
