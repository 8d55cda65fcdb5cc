"""The `mask` stage: person masks for every frame of a run, `masks/NNNNNN.png` (255 = person).

Maskers, chosen by name: `people` (the default: BlazePose models from a registry wheel, every person
as an instance), `auto` (weight-free motion cue), `file` (a folder of masks from any tool) and `sam`
(the people masker's people re-segmented by Segment Anything from a local folder). All go through
the same clean-up. `people` and `sam` also write
`instances/NNNNNN.png` (8-bit person ids, 0 = nobody, stable over time) and `mattes/NNNNNN.png` (soft
alpha 0..255, undilated).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from ..errors import InputError
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from ..scenes import io
from .postprocess import clean_masks

log = logging.getLogger(__name__)

MASKERS = ("people", "auto", "file", "sam")
INSTANCE_MASKERS = ("people", "sam")  # the maskers that find each person (instances/, mattes/)
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


@dataclass
class MaskOptions:
    masker: str = "people"
    mask_dir: str | None = None  # file: the folder of masks
    sam_model: str | None = None  # sam: a local folder with a transformers SAM model (config.json, weights)
    dilate: int = 3  # pixels
    fill_holes: bool = True
    min_blob: float = 0.0005  # fraction of the image; smaller blobs are dropped
    temporal: bool = True  # 3-frame temporal median
    auto: dict = field(default_factory=dict)  # AutoMaskOptions overrides
    people: dict = field(default_factory=dict)  # PeopleMaskOptions overrides
    models_dir: str | None = None  # people: the folder holding its model files (default: the cache)


def make_masks(run_dir: str | Path, options: MaskOptions | None = None, progress: bool = True) -> Path:
    """Write `RUN/masks/` (replacing it only when every mask is ready) and `masks.json`; returns masks/.
    Maskers hand their masks over one at a time, so memory does not grow with the clip."""
    options = options or MaskOptions()
    layout = RunLayout(run_dir)
    frames = layout.frame_paths()
    first = io.read_image(frames[0])
    height, width = first.shape[:2]
    coverage: dict[str, float] = {}
    people: dict[int, int] = {}  # the people masker's person ids -> frames they were found in
    with contextlib.ExitStack() as stack:
        masks_tmp = stack.enter_context(atomic_dir(layout.masks, overwrite=True))
        raw = _raw_masks(options, layout, frames, (width, height), people, stack, progress)
        masks = clean_masks(raw, options.dilate, options.fill_holes, options.min_blob, options.temporal,
                            trusted=options.masker in INSTANCE_MASKERS)
        for frame, mask in zip(tqdm(frames, desc="mask: writing", unit="frame", disable=not progress), masks):
            io.write_image(masks_tmp / f"{frame.stem}.png", mask.astype(np.uint8) * 255)
            coverage[frame.stem] = float(mask.mean())
        if len(coverage) != len(frames):
            raise InputError(f"the {options.masker} masker gave {len(coverage)} masks for {len(frames)} frames")
    info = {"options": asdict(options), "coverage": coverage}
    if options.masker in INSTANCE_MASKERS:
        info["people"] = {str(person): {"frames": count} for person, count in sorted(people.items())}
    else:  # instances and mattes of an earlier people run would no longer match the masks
        for folder in (layout.instances, layout.mattes):
            if folder.is_dir():
                shutil.rmtree(folder)
    write_json(layout.root / "masks.json", info)
    return layout.masks


def _raw_masks(options: MaskOptions, layout: RunLayout, frames: list[Path], size: tuple[int, int],
               people: dict[int, int], stack: contextlib.ExitStack, progress: bool) -> Iterator[np.ndarray]:
    if options.masker == "file":
        if not options.mask_dir:
            raise InputError("the file masker needs a folder of masks: pass --mask-dir DIR")
        from .file_masker import read_mask_folder

        return read_mask_folder(options.mask_dir, frames, layout.source_names(), size, layout.source_size())
    if options.masker == "auto":
        from .auto_masker import AutoMaskOptions, auto_masks

        return auto_masks(frames, layout.fps(), AutoMaskOptions(**options.auto), progress)
    if options.masker in INSTANCE_MASKERS:
        from .people_masker import PeopleMaskOptions, people_frames

        people_options = PeopleMaskOptions(**{"models_dir": options.models_dir, **options.people})
        if options.masker == "sam":  # the models load now: a missing file fails before any frame
            from .sam_masker import sam_frames

            found = sam_frames(frames, options.sam_model, people_options, progress)
        else:
            found = people_frames(frames, people_options, progress)
        instances_tmp = stack.enter_context(atomic_dir(layout.instances, overwrite=True))
        mattes_tmp = stack.enter_context(atomic_dir(layout.mattes, overwrite=True))

        def unions() -> Iterator[np.ndarray]:
            for frame, result in zip(frames, found):
                io.write_image(instances_tmp / f"{frame.stem}.png", result.instances)
                io.write_image(mattes_tmp / f"{frame.stem}.png", result.matte)
                for person in result.ids:
                    people[person] = people.get(person, 0) + 1
                yield result.mask

        return unions()
    raise InputError(f"unknown masker {options.masker!r}; choose one of {', '.join(MASKERS)}")


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
