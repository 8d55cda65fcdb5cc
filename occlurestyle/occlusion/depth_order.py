"""Depth-ordered compositing of the original people over a rendered (stylized) background.

A person pixel is shown where the person is nearer than the rendered background (expected depth), so
on a new camera path a person standing behind the table is hidden by the stylized table; the
transition is soft over a small relative depth band. (Along the original path the person layer is the
visible part of the person already, and the people stage keeps their depth in front of what they cover.) Optional lighting harmonization moves the
person's low-frequency colour by the change the stylization made to the background around them
(strength 0 = people untouched, pixel for pixel).
"""

from __future__ import annotations

import cv2
import numpy as np


def depth_visibility(person_depth: np.ndarray, background_depth: np.ndarray, band: float = 0.03) -> np.ndarray:
    """1 where the person is in front of the background, 0 behind, a ramp over ±band (relative depth)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = (background_depth - person_depth) / np.maximum(background_depth, 1e-6)
    visibility = np.clip(0.5 + relative / (2 * band), 0.0, 1.0)
    visibility[~np.isfinite(person_depth)] = 0.0
    visibility[np.isfinite(person_depth) & ~np.isfinite(background_depth)] = 1.0
    return visibility.astype(np.float32)


def person_alpha(layer: np.ndarray, person_depth: np.ndarray, background_depth: np.ndarray,
                 band: float = 0.03) -> np.ndarray:
    """How much of the person `layer` [H,W,4] shows over a background at `background_depth`."""
    return layer[..., 3] * depth_visibility(person_depth, background_depth, band)


def harmonize(person_rgb: np.ndarray, alpha: np.ndarray, original_background: np.ndarray,
              new_background: np.ndarray, strength: float, radius: int = 25) -> np.ndarray:
    """The person's colour times the (blurred) ratio new/original background around them, to `strength`."""
    if strength <= 0:
        return person_rgb
    weight = (1.0 - alpha).astype(np.float32)  # background pixels only
    size = (2 * radius + 1, 2 * radius + 1)
    norm = cv2.blur(weight, size)[..., None] + 1e-6
    before = cv2.blur(original_background * weight[..., None], size) / norm
    after = cv2.blur(new_background * weight[..., None], size) / norm
    gain = np.clip((after + 0.02) / (before + 0.02), 0.25, 4.0)
    return np.clip(person_rgb * gain**strength, 0.0, 1.0)


def composite(background: np.ndarray, background_depth: np.ndarray, layer: np.ndarray, person_depth: np.ndarray,
              band: float = 0.03, harmonization: float = 0.0, original_background: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Composite an RGBA person `layer` [H,W,4] (0-1) with `person_depth` [H,W] over `background` [H,W,3]
    with `background_depth` [H,W]. Returns the image and the final person alpha."""
    alpha = person_alpha(layer, person_depth, background_depth, band)
    person = layer[..., :3]
    if harmonization > 0 and original_background is not None:
        person = harmonize(person, layer[..., 3], original_background, background, harmonization)
    out = alpha[..., None] * person + (1.0 - alpha[..., None]) * background
    # where the person is fully shown, show the input pixel exactly (no resampling, no leakage)
    solid = alpha >= 1.0
    out[solid] = person[solid]
    return out.astype(np.float32), alpha
