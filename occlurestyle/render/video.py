"""Rendering a Gaussian model along a camera path to image and depth files, and to video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import media
from ..errors import InputError
from ..fsutil import atomic_dir
from .gaussians import load_ply, render_views


@torch.no_grad()
def render_path(ply: str | Path, viewmats: np.ndarray, Ks: np.ndarray, width: int, height: int,
                folder: str | Path, names: list[str], progress: bool = False, batch: int = 4) -> Path:
    """Write `folder/NAME.png` (RGB, over the model's `fill_color` where nothing is drawn) and
    `folder/NAME_depth.npy` (expected camera-z depth; inf where nothing is drawn) for each camera; the
    folder appears only when complete."""
    if not Path(ply).is_file():
        raise InputError(f"{ply} does not exist; run the stage that makes it first")
    params = load_ply(ply)
    viewmats = torch.as_tensor(np.asarray(viewmats), dtype=torch.float32)
    Ks = torch.as_tensor(np.asarray(Ks), dtype=torch.float32)
    with atomic_dir(folder, overwrite=True) as tmp:
        for start in tqdm(range(0, len(viewmats), batch), desc=f"render {Path(folder).name}", disable=not progress):
            views = render_views(params, viewmats[start:start + batch], Ks[start:start + batch], width, height,
                                 batch=batch)
            for k in range(len(views["rgb"])):
                stem = Path(names[start + k]).stem
                depth = np.where(views["alpha"][k].numpy() > 0.5, views["depth"][k].numpy(), np.inf).astype(np.float32)
                media.write_image(tmp / f"{stem}.png", views["rgb"][k].numpy())
                np.save(tmp / f"{stem}_depth.npy", depth)
    return Path(folder)
