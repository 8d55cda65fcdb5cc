"""The `masks` stage: person masks for every frame of a run, `masks/NNNNNN.png` (255 = person).

Maskers, chosen by name (occlusion/maskers.py): `people` (the default: BlazePose models from a registry
wheel, every person as an instance), `auto` (weight-free motion cue), `file` (a folder of masks from any
tool) and `sam` (the people masker's people re-segmented by Segment Anything from a local folder). All
go through the same clean-up. Maskers that find each person also write `instances/NNNNNN.png` (8-bit
person ids, 0 = nobody, stable over time), `mattes/NNNNNN.png` (soft alpha 0..255, undilated) and, in
`masks.json`, the ids their pose model doubted in each frame (`doubted`: a person followed through doubt
may have drifted onto the furniture beside them; the people stage's correction judges those pixels).
The clean-up serves registration and training; a masker whose masks are exact (`file`: a user's) also
writes them as given to `mattes/` (0/255), and the compositor takes those (`masks.json`: `exact`).
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from .. import media
from ..errors import InputError
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from ..occlusion.maskers import MASKERS, masker
from ..occlusion.postprocess import clean_masks


@dataclass
class MaskOptions:
    masker: str = field(default="people", metadata={"help": "; ".join(f"{k}: {m.help}" for k, m in MASKERS.items())})
    mask_dir: str | None = field(default=None, metadata={"help": "file masker: a folder with one mask per frame"})
    sam_model: str | None = field(default=None, metadata={
        "help": "sam masker: a local folder with a transformers SAM model (e.g. facebook/sam-vit-base saved "
                "with save_pretrained)"})
    dilate: int = field(default=3, metadata={"help": "grow masks by this many pixels"})
    fill_holes: bool = field(default=True, metadata={
        "help": "fill holes inside each mask (for registration and training; a file masker's masks are composited "
                "as given)"})
    min_blob: float = field(default=0.0005, metadata={"help": "drop blobs smaller than this fraction of the image"})
    temporal: bool = field(default=True, metadata={"help": "3-frame temporal median"})
    auto: dict = field(default_factory=dict, metadata={"help": "auto masker: AutoMaskOptions overrides"})
    people: dict = field(default_factory=dict, metadata={"help": "people/sam maskers: PeopleMaskOptions overrides"})
    models_dir: str | None = field(default=None, metadata={
        "hash": False,  # checked by content
        "help": "people masker: a folder holding its model files (default: the cache `occlurestyle models fetch` "
                "fills)"})


Options = MaskOptions


def check(options: MaskOptions) -> None:
    """Cheap: the masker is known."""
    masker(options.masker)


def prepare(options: MaskOptions) -> None:
    """The masker's folders exist and its models are here (fetched now if need be), before any stage runs."""
    masker(options.masker).prepare(options)


def outputs(layout: RunLayout, options: MaskOptions) -> tuple[Path, ...]:
    return (layout.masks_info,)


def run(layout: RunLayout, options: MaskOptions, progress: bool = True) -> Path:
    return make_masks(layout.root, options, progress)


def make_masks(run_dir: str | Path, options: MaskOptions | None = None, progress: bool = True) -> Path:
    """Write `RUN/masks/` (replacing it only when every mask is ready) and `masks.json`; returns masks/.
    Maskers hand their masks over one at a time, so memory does not grow with the clip."""
    options = options or MaskOptions()
    layout = RunLayout(run_dir)
    frames = layout.frame_paths()
    coverage: dict[str, float] = {}
    people: dict[int, int] = {}  # the people masker's person ids -> frames they were found in
    doubted: dict[str, list[int]] = {}  # frame stem -> ids the people masker's pose model doubted there
    with contextlib.ExitStack() as stack:
        masks_tmp = stack.enter_context(atomic_dir(layout.masks, overwrite=True))
        raw = _raw_masks(options, layout, frames, people, doubted, stack, progress)
        masks = clean_masks(raw, options.dilate, options.fill_holes, options.min_blob, options.temporal,
                            trusted=masker(options.masker).instances)
        for frame, mask in zip(tqdm(frames, desc="mask: writing", unit="frame", disable=not progress), masks):
            media.write_image(masks_tmp / f"{frame.stem}.png", mask.astype(np.uint8) * 255)
            coverage[frame.stem] = float(mask.mean())
        if len(coverage) != len(frames):
            raise InputError(f"the {options.masker} masker gave {len(coverage)} masks for {len(frames)} frames")
    info = {"options": asdict(options), "exact": masker(options.masker).exact, "coverage": coverage}
    if masker(options.masker).instances:
        info["people"] = {str(person): {"frames": count} for person, count in sorted(people.items())}
        info["doubted"] = doubted
    else:  # instances (and mattes, unless just written) of an earlier people run would no longer match the masks
        stale = [layout.instances] if masker(options.masker).exact else [layout.instances, layout.mattes]
        for folder in stale:
            if folder.is_dir():
                shutil.rmtree(folder)
    write_json(layout.masks_info, info)
    return layout.masks


def _raw_masks(options: MaskOptions, layout: RunLayout, frames: list[Path], people: dict[int, int],
               doubted: dict[str, list[int]], stack: contextlib.ExitStack, progress: bool) -> Iterator[np.ndarray]:
    chosen = masker(options.masker)
    chosen.prepare(options)
    found = chosen.make(frames, layout, options, progress)  # instance maskers load their models now
    if chosen.exact:  # the clean-up (hole filling, median, dilation) is for training; the compositor takes these
        return _kept_as_mattes(frames, found, stack.enter_context(atomic_dir(layout.mattes, overwrite=True)))
    if not chosen.instances:
        return found
    instances_tmp = stack.enter_context(atomic_dir(layout.instances, overwrite=True))
    mattes_tmp = stack.enter_context(atomic_dir(layout.mattes, overwrite=True))

    def unions() -> Iterator[np.ndarray]:
        for frame, result in zip(frames, found):
            media.write_image(instances_tmp / f"{frame.stem}.png", result.instances)
            media.write_image(mattes_tmp / f"{frame.stem}.png", result.matte)
            for person in result.ids:
                people[person] = people.get(person, 0) + 1
            if result.doubted:
                doubted[frame.stem] = list(result.doubted)
            yield result.mask

    return unions()


def _kept_as_mattes(frames: list[Path], masks: Iterator[np.ndarray], mattes_tmp: Path) -> Iterator[np.ndarray]:
    for frame, mask in zip(frames, masks):
        media.write_image(mattes_tmp / f"{frame.stem}.png", np.asarray(mask, np.uint8) * 255)
        yield mask
