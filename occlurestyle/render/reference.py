"""A dense, pure-torch rasterizer: the ground truth the fast backends are tested against.

Every Gaussian is evaluated at every pixel, in depth order, with the same rules as the tile kernels
(alpha = min(0.999, o·exp(-σ)), skipped below 1/255, a pixel stops before the Gaussian that would take
its transmittance to 1e-4). Projection is gsplat's pure-torch `_fully_fused_projection`. Gradients
come from torch autograd. Memory is O(N·H·W): for small test scenes only.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

ALPHA_MAX, ALPHA_MIN, T_MIN = 0.999, 1.0 / 255.0, 1e-4


def rasterize_reference(
    means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor,
    viewmats: Tensor, Ks: Tensor, width: int, height: int, *, sh_degree: Optional[int] = None,
    backgrounds: Optional[Tensor] = None, render_mode: str = "RGB", near_plane: float = 0.01,
    far_plane: float = 1e10, eps2d: float = 0.3,
) -> tuple[Tensor, Tensor]:
    """`(colors [C,H,W,D], alphas [C,H,W,1])` with the same arguments as `rasterization()`."""
    from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci, _spherical_harmonics

    C, N = viewmats.shape[0], means.shape[0]
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    _, means2d, depths, conics, _ = _fully_fused_projection(
        means, covars, viewmats, Ks, width, height, eps2d=eps2d, near_plane=near_plane, far_plane=far_plane
    )
    if sh_degree is not None:
        coeffs = colors if colors.dim() == 4 else colors[None].expand(C, *colors.shape)
        campos = torch.linalg.inv(viewmats)[:, :3, 3]
        dirs = means[None] - campos[:, None]
        colors = torch.clamp_min(_spherical_harmonics(sh_degree, dirs, coeffs[..., : (sh_degree + 1) ** 2, :]) + 0.5, 0)
    elif colors.dim() == 2:
        colors = colors[None].expand(C, N, colors.shape[-1])
    if render_mode in ("RGB+D", "RGB+ED"):
        colors = torch.cat([colors, depths[..., None]], -1)
        if backgrounds is not None:
            backgrounds = torch.cat([backgrounds, backgrounds.new_zeros(C, 1)], -1)
    elif render_mode in ("D", "ED"):
        colors = depths[..., None]
        backgrounds = None

    ys, xs = torch.meshgrid(torch.arange(height, dtype=means.dtype) + 0.5,
                            torch.arange(width, dtype=means.dtype) + 0.5, indexing="ij")
    pix = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1)  # [P, 2]
    out_colors, out_alphas = [], []
    for c in range(C):
        det = conics[c, :, 0] * conics[c, :, 2] - conics[c, :, 1] ** 2
        keep = (depths[c] > near_plane) & (depths[c] < far_plane) & (det > 0)
        idx = torch.nonzero(keep)[:, 0]
        idx = idx[torch.argsort(depths[c, idx].detach(), stable=True)]
        delta = means2d[c, idx][:, None, :] - pix[None]  # [G, P, 2]
        a, b, cc = conics[c, idx, 0:1], conics[c, idx, 1:2], conics[c, idx, 2:3]
        sigma = 0.5 * (a * delta[..., 0] ** 2 + cc * delta[..., 1] ** 2) + b * delta[..., 0] * delta[..., 1]
        alpha = torch.clamp_max(opacities[idx, None] * torch.exp(-sigma), ALPHA_MAX)
        alpha = alpha * ((sigma >= 0) & (alpha >= ALPHA_MIN)).to(alpha.dtype)
        T_incl = torch.cumprod(1.0 - alpha, dim=0)
        T_excl = torch.cat([torch.ones_like(T_incl[:1]), T_incl[:-1]], 0)
        included = (T_incl > T_MIN).to(alpha.dtype)  # a prefix per pixel: transmittance only falls
        weights = alpha * T_excl * included
        rendered = weights.T @ colors[c, idx]  # [P, D]
        T_final = 1.0 - weights.sum(0)  # = product of (1 - alpha) over the included Gaussians
        if backgrounds is not None:
            rendered = rendered + T_final[:, None] * backgrounds[c]
        out_colors.append(rendered.reshape(height, width, -1))
        out_alphas.append((1.0 - T_final).reshape(height, width, 1))
    render_colors, render_alphas = torch.stack(out_colors), torch.stack(out_alphas)
    if render_mode in ("ED", "RGB+ED"):
        render_colors = torch.cat(
            [render_colors[..., :-1], render_colors[..., -1:] / render_alphas.clamp(min=1e-10)], -1
        )
    return render_colors, render_alphas
