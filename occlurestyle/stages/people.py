"""The `people` stage: each frame's people as an RGBA layer with a depth map (`people/NNNNNN.png`,
`people/depth.json`: per person track, box, depths, feet on the floor), placed by the background
model's depth, which is rendered at every camera into `renders/background/` first."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import media
from ..layout import RunLayout
from ..occlusion.matte import refine_with_background
from ..occlusion.people import floor_plane, person_layer, person_records, write_people
from ..person_masks import masks_are_exact, read_masks
from ..recon.appearance import apply_appearance, read_appearance
from ..recon.registration_files import CameraSet, read_run_cameras
from ..render.gaussians import load_ply
from ..render.video import render_path
from ..stylize.regions import SceneRegions

log = logging.getLogger(__name__)


@dataclass
class PeopleOptions:
    correct_masks: str = field(default="auto", metadata={
        "help": "correct the masks with the background model (where a frame matches its render nobody is "
                "there; where it does not, next to a person or as a large blob, someone is): on, off, or auto "
                "(on for every masker but file, whose masks are taken as true)"})


Options = PeopleOptions


def outputs(layout: RunLayout, options: PeopleOptions) -> tuple[Path, ...]:
    return (layout.people_records,)


def run(layout: RunLayout, options: PeopleOptions, progress: bool = True) -> Path:
    """Two passes over the frames, one frame in memory at a time: the person records (depth needs every
    frame's, for tracking and smoothing), then each frame's layer and depth map."""
    cameras = read_run_cameras(layout)
    shape = (cameras.height, cameras.width)
    floor = None
    if layout.scene_regions.is_file():
        floor = floor_plane(SceneRegions.load(layout.scene_regions), load_ply(layout.background_ply)["means"].numpy())
    if floor is None:
        log.warning("no floor among the scene regions: each person's depth comes from the background around their "
                    "feet, and new views place them less well")
    depth_paths = render_background(layout, cameras)
    appearance = read_appearance(layout.appearance)
    refine = _refines(layout, options)
    doubted = json.loads(layout.masks_info.read_text()).get("doubted", {}) if layout.masks_info.is_file() else {}

    def instances(index: int) -> np.ndarray | None:
        """The masker's person ids (a people or sam run), so people who overlap are placed one by one."""
        path = layout.instances / f"{Path(cameras.names[index]).stem}.png"
        return media.read_gray(path) if path.is_file() else None

    def mask(index: int) -> np.ndarray:
        name = cameras.names[index]
        found = read_masks(layout.root, [name], shape, undilated=True)[0]
        if refine:  # a masker's masks spill, lag, miss limbs or people; the background model corrects them
            render = media.read_image(layout.renders / "background" / f"{Path(name).stem}.png") / 255.0
            render = apply_appearance(render, appearance.get(name))  # as the frame was exposed
            found = refine_with_background(found, media.read_image(layout.frames / name) / 255.0, render,
                                           instances(index), doubted.get(Path(name).stem, ()))
        return found

    packed = [np.packbits(mask(i)) for i in range(len(cameras.names))]  # 1 bit a pixel

    def unpacked(index: int) -> np.ndarray:
        return np.unpackbits(packed[index], count=shape[0] * shape[1]).reshape(shape).astype(bool)

    records = person_records((unpacked(i) for i in range(len(packed))), cameras.Ks, cameras.viewmats, floor,
                             (np.load(p) for p in depth_paths), instances=(instances(i) for i in range(len(packed))))
    layers = (person_layer(media.read_image(layout.frames / name), unpacked(i), records[i], np.load(depth_paths[i]),
                           instances=instances(i))
              for i, name in enumerate(cameras.names))
    write_people(layout.people, cameras.names, layers, records, progress=progress)
    return layout.people


def _refines(layout: RunLayout, options: PeopleOptions) -> bool:
    if options.correct_masks != "auto":
        return options.correct_masks == "on"
    return not masks_are_exact(layout.root)


def render_background(layout: RunLayout, cameras: CameraSet) -> list[Path]:
    """The unstylized background model at every registered camera, into renders/background (its depth
    places the people; its colours are what harmonization compares with). Rendered whenever the people
    stage runs, so a retrained model never leaves stale renders behind."""
    folder = layout.renders / "background"
    render_path(layout.background_ply, cameras.viewmats, cameras.Ks, cameras.width, cameras.height, folder,
                cameras.names)
    return [folder / f"{Path(n).stem}_depth.npy" for n in cameras.names]
