"""The `mask` stage: person masks for every frame of a run, `masks/NNNNNN.png` (255 = person).

Maskers, chosen by name: `auto` (weight-free, the default), `file` (a folder of masks from any tool)
and `sam` (segment-anything with a local checkpoint). All go through the same clean-up.
"""

from __future__ import annotations

import logging
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import InputError
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from ..scenes import io
from .postprocess import clean_masks

log = logging.getLogger(__name__)

MASKERS = ("auto", "file", "sam")


@dataclass
class MaskOptions:
    masker: str = "auto"
    mask_dir: str | None = None  # file: the folder of masks
    sam_checkpoint: str | None = None  # sam: local checkpoint file
    sam_model: str = "vit_b"
    boxes: list | None = None  # sam: person boxes [x0, y0, x1, y1] in the first frame (default: detected)
    dilate: int = 3  # pixels
    fill_holes: bool = True
    min_blob: float = 0.0005  # fraction of the image; smaller blobs are dropped
    temporal: bool = True  # 3-frame temporal median
    auto: dict = field(default_factory=dict)  # AutoMaskOptions overrides


def make_masks(run_dir: str | Path, options: MaskOptions | None = None, progress: bool = True) -> Path:
    """Write `RUN/masks/` (replacing it only when every mask is ready) and `masks.json`; returns masks/.
    Maskers hand their masks over one at a time, so memory does not grow with the clip (`sam` excepted)."""
    options = options or MaskOptions()
    layout = RunLayout(run_dir)
    frames = layout.frame_paths()
    first = io.read_image(frames[0])
    height, width = first.shape[:2]
    if options.masker == "file":
        if not options.mask_dir:
            raise InputError("the file masker needs a folder of masks: pass --mask-dir DIR")
        from .file_masker import read_mask_folder

        raw = read_mask_folder(options.mask_dir, frames, layout.source_names(), (width, height), layout.source_size())
    elif options.masker == "sam":
        from .sam_masker import sam_masks

        raw = sam_masks(frames, options.sam_checkpoint, options.sam_model, options.boxes, progress)
    elif options.masker == "auto":
        from .auto_masker import AutoMaskOptions, auto_masks

        raw = auto_masks(frames, layout.fps(), AutoMaskOptions(**options.auto), progress)
    else:
        raise InputError(f"unknown masker {options.masker!r}; choose one of {', '.join(MASKERS)}")
    masks = clean_masks(raw, options.dilate, options.fill_holes, options.min_blob, options.temporal)
    coverage = {}
    with atomic_dir(layout.masks, overwrite=True) as tmp:
        for frame, mask in zip(tqdm(frames, desc="mask: writing", unit="frame", disable=not progress), masks):
            io.write_image(tmp / f"{frame.stem}.png", mask.astype(np.uint8) * 255)
            coverage[frame.stem] = float(mask.mean())
        if len(coverage) != len(frames):
            raise InputError(f"the {options.masker} masker gave {len(coverage)} masks for {len(frames)} frames")
    write_json(layout.root / "masks.json", {"options": asdict(options), "coverage": coverage})
    return layout.masks


def read_masks(run_dir: str | Path, names: list[str], shape: tuple[int, int], undilated: bool = False
               ) -> list[np.ndarray]:
    """The run's person masks for frames `names` as bool arrays (empty where a frame has none).

    `undilated=True` takes back the safety margin the masks stage grew them by (see masks.json): the
    person's own pixels, as the compositing and the leakage figure want them."""
    from .people import undo_dilation

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
        mask = io.read_gray(path) > 0 if path.is_file() else np.zeros(shape, bool)
        if mask.shape != tuple(shape):
            raise InputError(f"{path} is {mask.shape[1]}x{mask.shape[0]}, the frames are {shape[1]}x{shape[0]}; "
                             "re-run the masks stage")
        masks.append(undo_dilation(mask, dilated))
    return masks
