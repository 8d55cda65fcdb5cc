"""Person masks drawn for looking at: each person tinted in their id's colour."""

from __future__ import annotations

import numpy as np

PERSON_COLOURS = np.array([[230, 60, 60], [60, 200, 60], [70, 110, 240], [240, 200, 40], [200, 70, 220],
                           [40, 210, 220], [250, 140, 40], [140, 90, 40]], np.float32)


def tint_people(image: np.ndarray, mask: np.ndarray | None, instances: np.ndarray | None = None) -> np.ndarray:
    """`image` (uint8 RGB) with each person tinted in their id's colour (PERSON_COLOURS, in turn), and
    mask pixels of no instance (or all of them, without instances) in the first colour, for looking at."""
    tinted = image.astype(np.float32)
    ids = np.zeros(image.shape[:2], int) if instances is None else instances.astype(int)
    colour = PERSON_COLOURS[(ids - 1) % len(PERSON_COLOURS)]
    if mask is not None:
        colour[(ids == 0) & mask] = PERSON_COLOURS[0]
    shown = (ids > 0) | (mask if mask is not None else False)
    return np.where(shown[..., None], 0.45 * tinted + 0.55 * colour, tinted).astype(np.uint8)
