"""The Gaussian model: parameters in the INRIA/gsplat layout, initialisation from points, .ply I/O, rendering.

Stored parameters are pre-activation, as gsplat's trainers keep them: `means [N,3]`, `scales [N,3]`
(log), `quats [N,4]` (wxyz, unnormalised), `opacities [N]` (logit), `sh0 [N,1,3]`, `shN [N,K-1,3]`.
The .ply is the standard 3DGS one (x, y, z, nx, ny, nz, f_dc_*, f_rest_*, opacity, scale_*, rot_*),
readable by common splat viewers, and loads back bit-exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..fsutil import atomic_path
from .rasterizer import rasterization

SH_C0 = 0.28209479177387814
PARAM_NAMES = ("means", "scales", "quats", "opacities", "sh0", "shN")


def rgb_to_sh0(rgb: Tensor) -> Tensor:
    return (rgb - 0.5) / SH_C0


def sh0_to_rgb(sh0: Tensor) -> Tensor:
    return sh0 * SH_C0 + 0.5


def rotation_matrices(quats: Tensor) -> np.ndarray:
    """[N,3,3] float64: each Gaussian's axes as the columns (quaternions wxyz, unnormalised)."""
    from gsplat.utils import normalized_quat_to_rotmat

    return normalized_quat_to_rotmat(torch.nn.functional.normalize(quats, dim=-1)).numpy().astype(np.float64)


def init_from_points(points: np.ndarray, colors: np.ndarray, sh_degree: int = 3, opacity: float = 0.1,
                     scale_factor: float = 1.0) -> dict[str, Tensor]:
    """Gaussians at `points` with `colors` (0-1), isotropic scales from the mean distance to the 3 nearest
    neighbours (as the INRIA code and gsplat do), identity rotations, low opacity."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, np.float32)
    k = min(4, len(points))
    distances, _ = cKDTree(points).query(points, k=k)
    spacing = np.sqrt(np.mean(distances[:, 1:] ** 2, axis=1)) if k > 1 else np.ones(len(points))
    spacing = np.clip(spacing, 1e-4, None) * scale_factor
    n = len(points)
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1.0
    sh0 = rgb_to_sh0(torch.from_numpy(np.asarray(colors, np.float32)))[:, None, :]
    return {
        "means": torch.from_numpy(points),
        "scales": torch.from_numpy(np.log(spacing)).float()[:, None].repeat(1, 3),
        "quats": quats,
        "opacities": torch.full((n,), math.log(opacity / (1 - opacity))),
        "sh0": sh0,
        "shN": torch.zeros(n, (sh_degree + 1) ** 2 - 1, 3),
    }


def fill_color(params: dict[str, Tensor]) -> Tensor:
    """The colour shown where a view sees no Gaussian (space no training frame observed, such as what
    people hid in every frame): the opacity-weighted mean of the Gaussians' base colours. For unseen
    content the scene's mean colour is the least-squares guess; black holes are the worst one."""
    opacity = torch.sigmoid(params["opacities"]).reshape(-1, 1)
    return (opacity * sh0_to_rgb(params["sh0"][:, 0]).clamp(0, 1)).sum(0) / opacity.sum().clamp_min(1e-12)


def render(params: dict[str, Tensor], viewmats: Tensor, Ks: Tensor, width: int, height: int, sh_degree: int,
           render_mode: str = "RGB+ED", backgrounds: Tensor | None = None, **kwargs):
    """Rasterize the model: `(colors [C,H,W,D], alphas [C,H,W,1], meta)` (colors end with expected depth)."""
    colors = torch.cat([params["sh0"], params["shN"]], dim=1)
    return rasterization(
        params["means"], params["quats"], torch.exp(params["scales"]), torch.sigmoid(params["opacities"]), colors,
        viewmats, Ks, width, height, sh_degree=sh_degree, render_mode=render_mode, backgrounds=backgrounds, **kwargs,
    )


def _ply_fields(n_rest: int) -> list[str]:
    return (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
            + [f"f_rest_{i}" for i in range(3 * n_rest)]
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def save_ply(params: dict[str, Tensor], path: str | Path) -> Path:
    """Write the INRIA 3DGS .ply (f_rest ordered channel by channel, as the INRIA code writes it)."""
    from plyfile import PlyData, PlyElement

    p = {k: v.detach().cpu().float().numpy() for k, v in params.items()}
    n, n_rest = len(p["means"]), p["shN"].shape[1]
    columns = [p["means"], np.zeros_like(p["means"]), p["sh0"][:, 0, :],
               p["shN"].transpose(0, 2, 1).reshape(n, -1), p["opacities"][:, None], p["scales"], p["quats"]]
    data = np.concatenate(columns, axis=1).astype(np.float32)
    vertex = np.empty(n, dtype=[(name, "f4") for name in _ply_fields(n_rest)])
    for i, name in enumerate(vertex.dtype.names):
        vertex[name] = data[:, i]
    with atomic_path(path) as tmp:
        PlyData([PlyElement.describe(vertex, "vertex")]).write(str(tmp))
    return Path(path)


def load_ply(path: str | Path) -> dict[str, Tensor]:
    from plyfile import PlyData

    vertex = PlyData.read(str(path))["vertex"]
    names = vertex.data.dtype.names
    column = lambda name: np.asarray(vertex[name], np.float32)  # noqa: E731
    n_rest = sum(1 for name in names if name.startswith("f_rest_")) // 3
    n = vertex.count
    stack = lambda prefix, count: np.stack([column(f"{prefix}{i}") for i in range(count)], axis=1)  # noqa: E731
    rest = stack("f_rest_", 3 * n_rest).reshape(n, 3, n_rest).transpose(0, 2, 1) if n_rest else np.zeros((n, 0, 3))
    return {
        "means": torch.from_numpy(np.stack([column("x"), column("y"), column("z")], axis=1)),
        "scales": torch.from_numpy(stack("scale_", 3)),
        "quats": torch.from_numpy(stack("rot_", 4)),
        "opacities": torch.from_numpy(column("opacity")),
        "sh0": torch.from_numpy(stack("f_dc_", 3)[:, None, :]),
        "shN": torch.from_numpy(np.ascontiguousarray(rest, np.float32)),
    }


def sh_degree_of(params: dict[str, Tensor]) -> int:
    return int(round(math.sqrt(params["shN"].shape[1] + 1))) - 1


@torch.no_grad()
def render_views(params: dict, viewmats: torch.Tensor, Ks: torch.Tensor, width: int, height: int,
                 sh_degree: int | None = None, batch: int = 4) -> dict[str, torch.Tensor]:
    """RGB [N,H,W,3] (over the model's `fill_color` where no Gaussian covers a pixel), expected depth
    [N,H,W] and alpha [N,H,W] of the model from each camera."""
    degree = sh_degree_of(params) if sh_degree is None else sh_degree
    fill = fill_color(params)[None]
    out = {"rgb": [], "depth": [], "alpha": []}
    for i in range(0, len(viewmats), batch):
        n = len(viewmats[i:i + batch])
        colors, alphas, _ = render(params, viewmats[i:i + batch], Ks[i:i + batch], width, height, degree,
                                   backgrounds=fill.repeat(n, 1))
        out["rgb"].append(colors[..., :3].clamp(0, 1))
        out["depth"].append(colors[..., 3])
        out["alpha"].append(alphas[..., 0])
    return {k: torch.cat(v) for k, v in out.items()}
