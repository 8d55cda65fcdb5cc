"""Floaters: opaque splats hanging in space a camera looked through. A frame that observed a point the
registration triangulated saw nothing in front of it, so a Gaussian whose centre it sees on that
point's pixel at less than `margin` of its depth is in empty air (recon/free_space.py). Counted from
the frames training left out (`holdout_every`), so a trainer that removes what its own frames rule out
cannot define the figure away; with no held-out frames, from every frame."""

from __future__ import annotations

import numpy as np
import torch

from ..layout import RunLayout
from ..recon.free_space import in_free_space, keypoint_limits
from ..recon.registration_files import read_keypoint_depths, read_run_cameras
from ..recon.trainer import training_indices
from ..render.gaussians import load_ply


def count_floaters(layout: RunLayout, holdout_every: int = 0, margin: float = 0.5, radius: int = 1,
                   min_opacity: float = 0.5) -> dict:
    """Opaque Gaussians (opacity >= `min_opacity`) whose centre some judging frame sees within `radius`
    px of one of its keypoints, nearer than `margin` of its depth: how many, of how many opaque ones,
    and per thousand."""
    cameras = read_run_cameras(layout)
    trained = training_indices(len(cameras.names), holdout_every)
    judges = np.setdiff1d(np.arange(len(cameras.names)), trained)
    if len(judges) == 0:
        judges = trained
    keypoints = read_keypoint_depths(layout.sparse)
    params = load_ply(layout.background_ply)
    opaque = torch.sigmoid(params["opacities"]) >= min_opacity
    shape = (cameras.height, cameras.width)
    limits = keypoint_limits([keypoints[cameras.names[i]] for i in judges], shape, margin, radius)
    found = in_free_space(params["means"][opaque], torch.tensor(cameras.viewmats[judges], dtype=torch.float32),
                          torch.tensor(cameras.Ks[judges], dtype=torch.float32), limits, shape)
    floaters, total = int((found > 0).sum()), int(opaque.sum())
    return {"floaters": floaters, "opaque_splats": total, "judging_frames": int(len(judges)),
            "floaters_per_mille": round(1000.0 * floaters / max(total, 1), 2)}
