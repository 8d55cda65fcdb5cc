"""How well the static background was recovered: renders of the trained model at every registered
camera against the sample scene's person-free frames (all pixels, and the pixels people hid)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..layout import RunLayout
from ..recon.exports import read_run_cameras
from ..recon.gaussians import load_ply
from ..recon.trainer import render_views
from ..scenes import io
from .metrics import background_psnr


def evaluate_background(run_dir: str | Path, scene_dir: str | Path, ply: str | Path | None = None,
                        names: list[str] | None = None) -> dict:
    """PSNR of the run's background model against `scene_dir/background/` (sample scenes only).

    Frames of the run are matched to the scene's by name (the run's frames are the scene's frames)."""
    layout = RunLayout(run_dir)
    scene_dir = Path(scene_dir)
    cameras = read_run_cameras(layout)
    params = load_ply(ply or layout.splat / "background.ply")
    picks = [i for i, n in enumerate(cameras.names) if names is None or n in names]
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    renders = render_views(params, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    truths, hidden = ground_truth(scene_dir, [Path(cameras.names[i]).stem for i in picks],
                                  (cameras.height, cameras.width))
    result = background_psnr(renders, truths, hidden)
    result["frames"] = len(picks)
    result["gaussians"] = int(params["means"].shape[0])
    return result


def ground_truth(scene_dir: str | Path, stems: list[str], shape: tuple[int, int]) -> tuple[list, list]:
    """A sample scene's person-free frames (float 0-1) and true person masks for frames `stems`,
    resized to `shape` (H, W) when the run's frames are smaller."""
    scene_dir = Path(scene_dir)
    truths, hidden = [], []
    for stem in stems:
        path = scene_dir / "background" / f"{stem}.png"
        if not path.is_file():
            raise InputError(f"ground truth {path} missing: is {scene_dir} the scene this run was made from?")
        truth = io.read_image(path)
        mask = io.read_gray(scene_dir / "masks" / f"{stem}.png") > 0
        if truth.shape[:2] != tuple(shape):
            truth = cv2.resize(truth, shape[::-1], interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        truths.append(truth.astype(np.float32) / 255.0)
        hidden.append(mask)
    return truths, hidden
