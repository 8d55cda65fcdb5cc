"""The `file` masker: person masks made by any tool, one image per frame, matched to the frames by name
(the run's frame name or the source's), else by frame number (the source's): `00005.png` from DAVIS or
ProPainter, `mask_5.png` or `frame_000005.png` all match source frame 5.

Accepts 0/255, 0/1 and palette or colour PNGs (DAVIS style): any non-zero pixel is a person. Masks
at the source video's resolution are scaled to the run's frames; any other size is an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError
from ..media import IMAGE_EXTENSIONS, read_gray, resize_mask


def read_mask_folder(folder: str | Path, frames: list[Path], source_names: dict[str, str],
                     size: tuple[int, int], source_size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Boolean masks for `frames` (size = (width, height)) from `folder`, read one at a time; every frame's
    mask is found before the first is read (a missing one fails at once)."""
    paths = match_mask_files(folder, frames, source_names)
    return (read_mask_file(path, size, source_size) for path in paths)


def match_mask_files(folder: str | Path, frames: list[Path], source_names: dict[str, str]) -> list[Path]:
    """The mask file of each frame in `folder`, by name, else by the source frame's number."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"mask folder not found: {folder}; pass the folder holding one mask image per frame")
    by_stem = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
    by_number: dict[int, list[Path]] = {}
    for stem, path in by_stem.items():
        if _number(stem) is not None:
            by_number.setdefault(_number(stem), []).append(path)
    paths = []
    for frame in frames:
        source = source_names.get(frame.stem)
        candidates = [frame.stem, source]
        path = next((by_stem[c] for c in candidates if c in by_stem), None)
        number = _number(source if source is not None else frame.stem)
        if path is None and len(by_number.get(number, [])) == 1:
            path = by_number[number][0]
        if path is None:
            names = " or ".join(f"{c}.png" for c in candidates if c)
            clash = f"; several masks are numbered {number}" if len(by_number.get(number, [])) > 1 else ""
            raise InputError(f"no mask for frame {frame.name} in {folder} (looked for {names}, or one numbered "
                             f"{number}{clash}); every frame needs a mask")
        paths.append(path)
    return paths


def read_mask_file(path: Path, size: tuple[int, int], source_size: tuple[int, int] | None) -> np.ndarray:
    """One mask (bool) at the frames' `size` (width, height); one at the source's size is scaled to it."""
    mask = read_gray(path) > 0
    h, w = mask.shape
    if (w, h) != tuple(size):
        if source_size is not None and (w, h) == tuple(source_size):
            return resize_mask(mask, size)
        raise InputError(f"mask {path} is {w}x{h} but the frames are {size[0]}x{size[1]}; "
                         "masks must match the frames (or the source video) in size")
    return mask


def _number(stem: str | None) -> int | None:
    """The frame number in a file name: its last run of digits."""
    digits = re.findall(r"\d+", stem or "")
    return int(digits[-1]) if digits else None
