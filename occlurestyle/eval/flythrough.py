"""How much of a run's flythrough shows what the cameras saw: its coverage at the frames' full size
(render/coverage.py), next to the same figure for real views of the capture (the held-out cameras of a
run trained with `holdout_every`, else the training cameras themselves) so the figure can be read."""

from __future__ import annotations

import json

import numpy as np

from ..layout import RunLayout
from ..recon.registration_files import read_run_cameras
from ..recon.trainer import training_indices
from ..render.coverage import SeenSurface
from ..render.gaussians import load_ply


def flythrough_coverage(layout: RunLayout, holdout_every: int = 0, every: int = 5) -> dict:
    """The flythrough's kind, sizes and coverage (every `every`-th frame), and the filmed views' coverage."""
    cameras = read_run_cameras(layout)
    trained = training_indices(len(cameras.names), holdout_every)
    held = np.setdiff1d(np.arange(len(cameras.names)), trained)
    filmed = held if len(held) else trained[::every]
    seen = SeenSurface(load_ply(layout.background_ply), cameras.viewmats[trained], cameras.Ks[trained],
                       cameras.width, cameras.height)
    path = json.loads((layout.renders / "flythrough" / "path.json").read_text())
    viewmats, Ks = np.array(path["viewmats"])[::every], np.array(path["Ks"])[::every]
    return {"flythrough": path["kind"], "flythrough_size": path.get("size", {}),
            "flythrough_coverage": round(float(seen.coverage(viewmats, Ks).mean()), 3),
            ("heldout_coverage" if len(held) else "filmed_coverage"):
                round(float(seen.coverage(cameras.viewmats[filmed], cameras.Ks[filmed]).mean()), 3)}
