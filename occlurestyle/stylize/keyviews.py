"""Key views: stylized images of a few registered cameras, and the Gaussians' colours fitted to them.

What the viewer sees is a blend of overlapping Gaussians, so colours chosen per Gaussian do not give
the rendered distribution they were chosen for. The key views are stylized in 2D (by our per-region
transfer, or by any external stylizer: `export_key_views` writes the person-free views and their
depth for that), then the Gaussians' base colours are fitted to all of them in one optimisation
(geometry frozen), so the views cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import media
from ..errors import InputError
from ..fsutil import atomic_dir
from ..render.gaussians import render


def key_view_indices(n_cameras: int, count: int = 8) -> list[int]:
    """`count` cameras spread evenly along the path."""
    count = max(1, min(count, n_cameras))
    return sorted({int(round(i)) for i in np.linspace(0, n_cameras - 1, count)})


def fit_colors_to_views(params: dict, viewmats: torch.Tensor, Ks: torch.Tensor, width: int, height: int,
                        targets: torch.Tensor, weights: torch.Tensor, steps: int = 200, lr: float = 0.02,
                        progress: bool = False, seed: int = 0) -> dict:
    """Fit `sh0` (view-independent colour; `shN` is zeroed) so renders match `targets` [V,H,W,3] where
    `weights` [V,H,W] > 0. Geometry is frozen. Returns new parameters."""
    fitted = {k: v.detach().clone() for k, v in params.items()}
    fitted["shN"] = torch.zeros_like(fitted["shN"])
    sh0 = torch.nn.Parameter(fitted["sh0"].clone())
    optimizer = torch.optim.Adam([sh0], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(steps), desc="fit key views", disable=not progress):
        i = int(torch.randint(len(viewmats), (1,), generator=generator))
        colors, _, _ = render({**fitted, "sh0": sh0}, viewmats[i:i + 1], Ks[i:i + 1], width, height, 0,
                              render_mode="RGB")
        weight = weights[i][..., None]
        loss = ((colors[0] - targets[i]).abs() * weight).sum() / weight.sum().clamp_min(1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    fitted["sh0"] = sh0.detach()
    return fitted


def export_key_views(views: dict, names: list[str], viewmats: np.ndarray, Ks: np.ndarray, out: str | Path) -> Path:
    """Write person-free key views for an external 2D stylizer: NAME.png, NAME_depth.npy, cameras.json."""
    out = Path(out)
    with atomic_dir(out, overwrite=True) as tmp:
        for k, name in enumerate(names):
            stem = Path(name).stem
            media.write_image(tmp / f"{stem}.png", (views["rgb"][k].numpy() * 255 + 0.5).astype(np.uint8))
            np.save(tmp / f"{stem}_depth.npy", views["depth"][k].numpy().astype(np.float32))
        (tmp / "cameras.json").write_text(json.dumps({
            "description": "key views of the person-free background; stylize NAME.png with any 2D tool, keep "
                           "the name, and pass the folder back with --stylized-views",
            "views": [{"name": Path(n).stem, "K": Ks[k].tolist(), "viewmat": viewmats[k].tolist()}
                      for k, n in enumerate(names)]}, indent=2))
    return out


def read_stylized_views(folder: str | Path, names: list[str], width: int, height: int) -> dict[str, np.ndarray]:
    """Stylized key views from `folder`, matched to camera `names` by stem; resized if needed."""
    import cv2

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"stylized views folder {folder} does not exist")
    wanted = {Path(n).stem: n for n in names}
    found = {}
    for path in sorted(folder.iterdir()):
        if path.stem in wanted and path.suffix.lower() in media.IMAGE_EXTENSIONS:
            image = media.read_image(path)
            if image.shape[:2] != (height, width):
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            found[wanted[path.stem]] = image.astype(np.float32) / 255.0
    if not found:
        raise InputError(f"no image in {folder} is named like a registered frame (e.g. "
                         f"{next(iter(wanted))}.png); export them with `occlurestyle stylize --export-key-views`")
    return found
