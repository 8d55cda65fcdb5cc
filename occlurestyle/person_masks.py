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

    `undilated=True` gives the person's own pixels, as the compositing wants them: a user's masks as
    given (`mattes/`, when masks.json says they are exact), else the masks without the safety margin the
    masks stage grew them by (its hole filling and temporal fill stay: they keep style off the people)."""
    layout = RunLayout(run_dir)
    info = _masks_info(layout) if undilated else {}
    dilated = info.get("options", {}).get("dilate", 0)
    as_given = undilated and _exact(info)
    masks = []
    missing = [name for name in names if not (layout.masks / f"{Path(name).stem}.png").is_file()]
    if missing:
        log.warning("no person mask for %d of %d frames (first %s): nobody is masked there", len(missing),
                    len(names), missing[0])
    for name in names:
        given = layout.mattes / f"{Path(name).stem}.png"
        if as_given and given.is_file():
            masks.append(_sized(media.read_gray(given) >= 128, given, shape))
            continue
        path = layout.masks / f"{Path(name).stem}.png"
        mask = _sized(media.read_gray(path) > 0, path, shape) if path.is_file() else np.zeros(shape, bool)
        masks.append(undo_dilation(mask, dilated))
    return masks


def masks_are_exact(run_dir: str | Path) -> bool:
    """Whether the run's masks are a user's, taken as true: shown as given, never corrected (masks.json's
    `exact`; runs made before it say so by their `file` masker). False without masks.json."""
    return _exact(_masks_info(RunLayout(run_dir)))


def _exact(info: dict) -> bool:
    return bool(info.get("exact", info.get("options", {}).get("masker") == "file"))


def _masks_info(layout: RunLayout) -> dict:
    return json.loads(layout.masks_info.read_text()) if layout.masks_info.is_file() else {}


def _sized(mask: np.ndarray, path: Path, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape != tuple(shape):
        raise InputError(f"{path} is {mask.shape[1]}x{mask.shape[0]}, the frames are {shape[1]}x{shape[0]}; "
                         "re-run the masks stage")
    return mask


def undo_dilation(mask: np.ndarray, dilate_px: int) -> np.ndarray:
    """The person mask without the safety margin the masks stage added (it keeps edges out of
    registration and training; composited, it would show a halo of unstylized background)."""
    if dilate_px <= 0 or not mask.any():
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
    return cv2.erode(mask.astype(np.uint8), kernel) > 0
