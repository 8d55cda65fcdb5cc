"""The `render` stage: the stylized room along the camera path (`renders/original/`) and along a new
path planned to stay inside what the cameras saw (`renders/flythrough/`, its `path.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fsutil import write_json
from ..layout import RunLayout
from ..recon.registration_files import read_run_cameras
from ..recon.trainer import training_indices
from ..render.coverage import SeenSurface
from ..render.gaussians import load_ply
from ..render.planning import KINDS, plan_flythrough
from ..render.video import render_path


@dataclass
class RenderOptions:
    flythrough: str = field(default="auto", metadata={
        "help": "new camera path: auto (of orbit, spline, dolly, the one that shows most of what was filmed), "
                "orbit, dolly, spline, fixed, original"})
    plan_width: int = field(default=160, metadata={"help": "paths are planned on views at least this wide (px)"})


Options = RenderOptions


def check(options: RenderOptions) -> None:
    if options.flythrough not in KINDS:
        raise InputError(f"unknown flythrough {options.flythrough!r}; choose one of {', '.join(KINDS)}")


def outputs(layout: RunLayout, options: RenderOptions) -> tuple[Path, ...]:
    return (layout.renders / "original", layout.renders / "flythrough" / "path.json")


def run(layout: RunLayout, options: RenderOptions, progress: bool = True) -> Path:
    cameras = read_run_cameras(layout)
    render_path(layout.stylized_ply, cameras.viewmats, cameras.Ks, cameras.width, cameras.height,
                layout.renders / "original", cameras.names, progress=progress)
    held_out = json.loads(layout.train_info.read_text())["options"].get("holdout_every", 0) \
        if layout.train_info.is_file() else 0
    trained = training_indices(len(cameras.names), held_out)  # a path is planned on what training saw
    scale = min(1.0, max(0.25, options.plan_width / cameras.width))
    seen = SeenSurface(load_ply(layout.background_ply), cameras.viewmats[trained], cameras.Ks[trained],
                       cameras.width, cameras.height, scale=scale)
    planned = plan_flythrough(options.flythrough, cameras.viewmats, cameras.Ks[0], seen, up=cameras.up)
    Ks = np.repeat(cameras.Ks[:1], len(planned.viewmats), axis=0)
    folder = layout.renders / "flythrough"
    render_path(layout.stylized_ply, planned.viewmats, Ks, cameras.width, cameras.height, folder,
                cameras.names[:len(planned.viewmats)], progress=progress)
    write_json(folder / "path.json", {"requested": options.flythrough, **planned.summary(),
                                      "viewmats": planned.viewmats.tolist(), "Ks": Ks.tolist()})
    return folder
