"""Reading back the masks stage's person masks (`masks/`, `masks.json`), for every later stage."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from . import media
from .errors import InputError
from .layout import RunLayout

log = logging.getLogger(__name__)


def read_masks(run_dir: str | Path, names: list[str], shape: tuple[int, int], undilated: bool = False
               ) -> list[np.ndarray]:
    """The run's person masks for frames `names` as bool arrays (empty where a frame has none).

    `undilated=True` takes back the safety margin the masks stage grew them by (see masks.json): the
    person's own pixels, as the compositing and the leakage figure want them."""
    layout = RunLayout(run_dir)
    info = layout.root / "masks.json"
    dilated = json.loads(info.read_text())["options"].get("dilate", 0) if undilated and info.is_file() else 0
    masks = []
    missing = [name for name in names if not (layout.masks / f"{Path(name).stem}.png").is_file()]
    if missing:
        log.warning("no person mask for %d of %d frames (first %s): nobody is masked there", len(missing),
                    len(names), missing[0])
    for name in names:
        path = layout.masks / f"{Path(name).stem}.png"
        mask = media.read_gray(path) > 0 if path.is_file() else np.zeros(shape, bool)
        if mask.shape != tuple(shape):
            raise InputError(f"{path} is {mask.shape[1]}x{mask.shape[0]}, the frames are {shape[1]}x{shape[0]}; "
                             "re-run the masks stage")
        masks.append(undo_dilation(mask, dilated))
    return masks


def undo_dilation(mask: np.ndarray, dilate_px: int) -> np.ndarray:
    """The person mask without the safety margin the masks stage added (it keeps edges out of
    registration and training; composited, it would show a halo of unstylized background)."""
    if dilate_px <= 0 or not mask.any():
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
    return cv2.erode(mask.astype(np.uint8), kernel) > 0
