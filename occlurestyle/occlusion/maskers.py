"""The maskers, by name. Each is a function from a run's frames to one result per frame, handed over
one at a time (a bool mask [H,W], or for maskers that find each person a `PeopleFrame`: union mask,
8-bit person ids, soft matte), plus a `prepare` that checks (or fetches) what it needs before any stage runs.

Adding a masker is one module with such a function and one line in `MASKERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import InputError
from ..layout import RunLayout


@dataclass(frozen=True)
class Masker:
    make: Callable[[list[Path], RunLayout, Any, bool], Iterator]  # (frames, layout, MaskOptions, progress)
    prepare: Callable[[Any], None]  # raises InputError on a missing model or folder (fetches), before any work
    instances: bool  # finds each person: results are PeopleFrames (instances/, mattes/ are written)
    help: str
    exact: bool = False  # its masks are the people's own pixels (a user's): kept in mattes/ as given


def _file_masks(frames, layout, options, progress):
    from .file_masker import read_mask_folder

    return read_mask_folder(options.mask_dir, frames, layout.source_names(), _size(frames), layout.source_size())


def _prepare_file(options) -> None:
    if not (options.mask_dir and Path(options.mask_dir).is_dir()):
        raise InputError("the file masker needs a folder of masks: pass --mask-dir DIR")


def _auto_masks(frames, layout, options, progress):
    from .auto_masker import AutoMaskOptions, auto_masks

    return auto_masks(frames, layout.fps(), AutoMaskOptions(**options.auto), progress)


def _people_options(options):
    from .people_masker import PeopleMaskOptions

    return PeopleMaskOptions(**{"models_dir": options.models_dir, **options.people})


def _people_masks(frames, layout, options, progress):
    from .people_masker import people_frames

    return people_frames(frames, _people_options(options), progress)


def _prepare_people(options) -> None:
    from ..models import model_paths

    model_paths(folder=options.models_dir)  # fetched now (or a one-line error), not after the frames stage


def _sam_masks(frames, layout, options, progress):
    from .sam_masker import sam_frames

    return sam_frames(frames, options.sam_model, _people_options(options), progress)


def _prepare_sam(options) -> None:
    from .sam_masker import check_sam_dir

    check_sam_dir(options.sam_model)
    _prepare_people(options)


def _size(frames: list[Path]) -> tuple[int, int]:
    from ..media import read_image

    height, width = read_image(frames[0]).shape[:2]
    return width, height


MASKERS: dict[str, Masker] = {
    "people": Masker(_people_masks, _prepare_people, True, "every person, BlazePose models fetched from PyPI"),
    "auto": Masker(_auto_masks, lambda options: None, False, "no weights: a motion cue"),
    "file": Masker(_file_masks, _prepare_file, False, "a folder of masks from any tool (--mask-dir)", exact=True),
    "sam": Masker(_sam_masks, _prepare_sam, True, "the people masker's people re-segmented by a local SAM (--sam-model)"),
}


def masker(name: str) -> Masker:
    if name not in MASKERS:
        raise InputError(f"unknown masker {name!r}; choose one of {', '.join(MASKERS)}")
    return MASKERS[name]
