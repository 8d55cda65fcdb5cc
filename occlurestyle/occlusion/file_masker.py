"""The `file` masker: person masks made by any tool, one image per frame, matched by frame name.

Accepts 0/255, 0/1 and palette or colour PNGs (DAVIS style): any non-zero pixel is a person. Masks
at the source video's resolution are scaled to the run's frames; any other size is an error.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..scenes.io import IMAGE_EXTENSIONS, read_gray


def read_mask_folder(folder: str | Path, frames: list[Path], source_names: dict[str, str],
                     size: tuple[int, int], source_size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Boolean masks for `frames` (size = (width, height)) from `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"mask folder not found: {folder}; pass the folder holding one mask image per frame")
    by_stem = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
    masks = []
    for frame in frames:
        candidates = [frame.stem, source_names.get(frame.stem)]
        path = next((by_stem[c] for c in candidates if c in by_stem), None)
        if path is None:
            names = " or ".join(f"{c}.png" for c in candidates if c)
            raise InputError(f"no mask for frame {frame.name} in {folder} (looked for {names}); "
                             "every frame needs a mask")
        mask = read_gray(path) > 0
        h, w = mask.shape
        if (w, h) != tuple(size):
            if source_size is not None and (w, h) == tuple(source_size):
                mask = cv2.resize(mask.astype(np.uint8), tuple(size), interpolation=cv2.INTER_NEAREST) > 0
            else:
                raise InputError(f"mask {path} is {w}x{h} but the frames are {size[0]}x{size[1]}; "
                                 "masks must match the frames (or the source video) in size")
        masks.append(mask)
    return masks
