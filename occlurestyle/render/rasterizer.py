"""`rasterization()`: the one entry point for rendering Gaussians, mirroring `gsplat.rasterization`.

Backends: "cpu" (numba kernels in `_projection` and `_blend`, with hand-written backward passes
wrapped in autograd Functions) and "cuda" (gsplat's own rasterizer). "auto" picks gsplat when the
tensors live on a CUDA device. Both return `(colors [C,H,W,D], alphas [C,H,W,1], meta)` with the meta
keys gsplat's densification strategies read (`means2d` with its `.grad`, `radii [C,N,2]`, `width`,
`height`, `n_cameras`, `gaussian_ids`, ...).
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import numba
import numpy as np
import torch
from torch import Tensor

from . import _blend, _projection

RenderMode = Literal["RGB", "D", "ED", "RGB+D", "RGB+ED"]
RENDER_MODES = ("RGB", "D", "ED", "RGB+D", "RGB+ED")


def rasterization(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    *,
    sh_degree: Optional[int] = None,
    backgrounds: Optional[Tensor] = None,
    render_mode: RenderMode = "RGB",
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    backend: Literal["auto", "cpu", "cuda"] = "auto",
    absgrad: bool = False,
    tile_size: int = 16,
) -> tuple[Tensor, Tensor, dict]:
    """Render N Gaussians into C cameras.

    means [N,3], quats [N,4] (wxyz, normalised inside), scales [N,3] and opacities [N] (activated),
    colors [N,D] or [C,N,D] (or SH coefficients [N,K,3] with `sh_degree`), viewmats [C,4,4]
    world→camera, Ks [C,3,3]. Render modes: "RGB", "D" (accumulated z-depth), "ED" (expected depth,
    D divided by alpha), and "RGB+D"/"RGB+ED" with depth as the last channel.
    """
    if render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
    if backend == "auto":
        backend = "cuda" if means.is_cuda else "cpu"
    if backend == "cuda":
        import gsplat

        return gsplat.rasterization(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, sh_degree=sh_degree,
            backgrounds=backgrounds, render_mode=render_mode, packed=False, absgrad=absgrad,
            tile_size=tile_size,
        )
    if backend != "cpu":
        raise ValueError(f"backend must be 'auto', 'cpu' or 'cuda', got {backend!r}")
    if tile_size != _blend.TILE:
        raise ValueError(f"the CPU backend uses {_blend.TILE}x{_blend.TILE} tiles")
    return _rasterize_cpu(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree,
                          backgrounds, render_mode, near_plane, far_plane, eps2d, absgrad)


def _rasterize_cpu(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree,
                   backgrounds, render_mode, near_plane, far_plane, eps2d, absgrad):
    N = means.shape[0]
    C = viewmats.shape[0]
    _check_shapes(means, quats, scales, opacities, viewmats, Ks, N, C)
    radii, means2d, depths, conics = _Project.apply(
        means, quats, scales, opacities, viewmats, Ks, width, height, eps2d, near_plane, far_plane
    )
    meta = {
        "batch_ids": None, "camera_ids": None, "gaussian_ids": None,
        "radii": radii, "means2d": means2d, "depths": depths, "conics": conics,
        "opacities": None, "width": width, "height": height, "tile_size": _blend.TILE,
        "tile_width": math.ceil(width / _blend.TILE), "tile_height": math.ceil(height / _blend.TILE),
        "n_batches": 1, "n_cameras": C,
    }
    if sh_degree is None:
        if colors.dim() == 2:
            colors = colors[None].expand(C, N, colors.shape[-1])
        elif colors.dim() != 3 or colors.shape[:2] != (C, N):
            raise ValueError(f"colors must be [N,D] or [C,N,D], got {tuple(colors.shape)}")
    else:
        colors = _sh_colors(means, colors, viewmats, sh_degree, radii, C, N)
    opacities_c = opacities[None].expand(C, N)
    meta["opacities"] = opacities_c

    if render_mode in ("RGB+D", "RGB+ED"):
        colors = torch.cat([colors, depths[..., None]], dim=-1)
        if backgrounds is not None:
            backgrounds = torch.cat([backgrounds, backgrounds.new_zeros(C, 1)], dim=-1)
    elif render_mode in ("D", "ED"):
        colors = depths[..., None]
        if backgrounds is not None:
            backgrounds = backgrounds.new_zeros(C, 1)
    if backgrounds is None:
        backgrounds = colors.new_zeros(C, colors.shape[-1])

    render_colors, render_alphas = _Composite.apply(
        means2d, conics, colors.contiguous(), opacities_c, backgrounds, radii, depths, width, height, absgrad
    )
    if render_mode in ("ED", "RGB+ED"):
        render_colors = torch.cat(
            [render_colors[..., :-1], render_colors[..., -1:] / render_alphas.clamp(min=1e-10)], dim=-1
        )
    return render_colors, render_alphas, meta


def _check_shapes(means, quats, scales, opacities, viewmats, Ks, N, C):
    expected = {"means": (means, (N, 3)), "quats": (quats, (N, 4)), "scales": (scales, (N, 3)),
                "opacities": (opacities, (N,)), "viewmats": (viewmats, (C, 4, 4)), "Ks": (Ks, (C, 3, 3))}
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")


def _sh_colors(means, coeffs, viewmats, sh_degree, radii, C, N):
    """View-dependent colours from SH coefficients [N,K,3] or [C,N,K,3], with gsplat's pure-torch SH."""
    from gsplat.cuda._torch_impl import _spherical_harmonics

    if coeffs.dim() == 3:
        coeffs = coeffs[None].expand(C, *coeffs.shape)
    if (sh_degree + 1) ** 2 > coeffs.shape[-2]:
        raise ValueError(f"sh_degree {sh_degree} needs {(sh_degree + 1) ** 2} coefficients, got {coeffs.shape[-2]}")
    campos = torch.linalg.inv(viewmats)[:, :3, 3]
    dirs = means[None] - campos[:, None]
    colors = _spherical_harmonics(sh_degree, dirs, coeffs[..., : (sh_degree + 1) ** 2, :])
    return torch.clamp_min(colors + 0.5, 0.0)  # the INRIA convention gsplat follows


def _np(t: Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, quats, scales, opacities, viewmats, Ks, width, height, eps2d, near, far):
        N, C = means.shape[0], viewmats.shape[0]
        m, q, s, o = (_np(x.float()) for x in (means, quats, scales, opacities))
        vm, k = _np(viewmats.double()), _np(Ks.double())
        means2d = np.zeros((C, N, 2), np.float32)
        depths = np.zeros((C, N), np.float32)
        conics = np.zeros((C, N, 3), np.float32)
        radii = np.zeros((C, N, 2), np.int32)
        for c in range(C):
            _projection.project_forward(m, q, s, o, vm[c], k[c], width, height, eps2d, near, far,
                                        means2d[c], depths[c], conics[c], radii[c])
        ctx.save_for_backward(means, quats, scales, viewmats, Ks)
        ctx.radii = radii
        ctx.settings = (width, height, eps2d)
        radii_t = torch.from_numpy(radii)
        ctx.mark_non_differentiable(radii_t)
        return radii_t, torch.from_numpy(means2d), torch.from_numpy(depths), torch.from_numpy(conics)

    @staticmethod
    def backward(ctx, _v_radii, v_means2d, v_depths, v_conics):
        means, quats, scales, viewmats, Ks = ctx.saved_tensors
        width, height, eps2d = ctx.settings
        N, C = means.shape[0], viewmats.shape[0]
        m, q, s = (_np(x.float()) for x in (means, quats, scales))
        vm, k = _np(viewmats.double()), _np(Ks.double())
        zeros = lambda shape: np.zeros(shape, np.float32)  # noqa: E731
        vm2 = _np(v_means2d.float()) if v_means2d is not None else zeros((C, N, 2))
        vd = _np(v_depths.float()) if v_depths is not None else zeros((C, N))
        vc = _np(v_conics.float()) if v_conics is not None else zeros((C, N, 3))
        v_means, v_quats, v_scales = zeros((N, 3)), zeros((N, 4)), zeros((N, 3))
        for c in range(C):
            _projection.project_backward(m, q, s, vm[c], k[c], width, height, eps2d, ctx.radii[c],
                                         vm2[c], vd[c], vc[c], v_means, v_quats, v_scales)
        to = lambda a, like: torch.from_numpy(a).to(like.dtype)  # noqa: E731
        return (to(v_means, means), to(v_quats, quats), to(v_scales, scales),
                None, None, None, None, None, None, None, None)


class _Composite(torch.autograd.Function):
    """Tile binning and compositing of projected Gaussians; colours are processed 4 channels at a time."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, backgrounds, radii, depths, width, height, absgrad):
        C, N = means2d.shape[:2]
        D = colors.shape[-1]
        tiles_x, tiles_y = math.ceil(width / _blend.TILE), math.ceil(height / _blend.TILE)
        n_chunks = max(1, numba.get_num_threads())
        n_groups = -(-D // _blend.CHANNELS)
        out_colors = np.zeros((C, height, width, n_groups * _blend.CHANNELS), np.float32)
        out_T = np.ones((C, height, width), np.float32)
        out_last = np.full((C, height, width), -1, np.int32)
        radii_np = radii.numpy()
        saved = []
        for c in range(C):
            params = np.empty((N, _blend.N_PARAMS), np.float32)
            _blend.pack_params(_np(means2d[c].float()), _np(conics[c].float()), _np(opacities[c].float()),
                                   radii_np[c], params)
            valid = np.flatnonzero(params[:, _blend.P_YMAX] > 0).astype(np.int32)
            order = _blend.depth_order(valid, _np(depths[c].float()))
            offsets, ids = _blend.bin_gaussians(order, params, tiles_x, tiles_y, n_chunks)
            col = _channel_groups(_np(colors[c].float()), n_groups)
            bg = _channel_groups(_np(backgrounds[c].float())[None], n_groups)[:, 0]
            for k in range(n_groups):
                # each group re-walks the lists; T and the last contributor come out the same each time
                _blend.composite_forward(offsets, ids, params, col[k], bg[k], width, height, tiles_x,
                                             n_chunks, out_colors[c, ..., 4 * k:4 * k + 4], out_T[c], out_last[c])
            saved.append((offsets, ids, params, col, bg))
        ctx.saved = saved
        ctx.out_T, ctx.out_last = out_T, out_last
        ctx.settings = (width, height, tiles_x, n_chunks, absgrad, N, D, n_groups)
        ctx.dtypes = (means2d.dtype, conics.dtype, colors.dtype, opacities.dtype, backgrounds.dtype)
        ctx.save_for_backward(means2d)
        return torch.from_numpy(out_colors[..., :D]), torch.from_numpy(1.0 - out_T)[..., None]

    @staticmethod
    def backward(ctx, v_render_colors, v_render_alphas):
        width, height, tiles_x, n_chunks, absgrad, N, D, n_groups = ctx.settings
        C = len(ctx.saved)
        G = _blend
        v_means2d = np.zeros((C, N, 2), np.float32)
        v_conics = np.zeros((C, N, 3), np.float32)
        v_colors = np.zeros((C, N, n_groups * G.CHANNELS), np.float32)
        v_opacities = np.zeros((C, N), np.float32)
        v_abs = np.zeros((C, N, 2), np.float32)
        v_bg = np.zeros((C, D), np.float32)
        vrc = _np(v_render_colors.float())
        vra = _np(v_render_alphas.float())[..., 0]
        no_alpha_grad = np.zeros_like(vra[0])
        for c in range(C):
            offsets, ids, params, col, bg = ctx.saved[c]
            v_groups = _channel_groups(vrc[c].reshape(-1, D), n_groups).reshape(n_groups, height, width, G.CHANNELS)
            grads = np.zeros((n_chunks, N, G.N_GRADS), np.float32)
            for k in range(n_groups):
                # the alpha-output gradient enters once; every group adds its colour terms
                _blend.composite_backward(offsets, ids, params, col[k], bg[k], width, height, tiles_x,
                                              n_chunks, ctx.out_T[c], ctx.out_last[c], v_groups[k],
                                              vra[c] if k == 0 else no_alpha_grad, absgrad, grads)
                v_colors[c, :, 4 * k:4 * k + 4] = grads[:, :, G.G_COLOR:].sum(axis=0)
                grads[:, :, G.G_COLOR:] = 0.0
            total = grads.sum(axis=0)
            v_means2d[c] = total[:, G.P_MX:G.P_MY + 1]
            v_conics[c] = total[:, G.P_A:G.P_C + 1]
            v_opacities[c] = total[:, G.P_OP]
            v_abs[c] = total[:, G.G_ABS_X:G.G_ABS_Y + 1]
            v_bg[c] = np.einsum("hwd,hw->d", vrc[c], ctx.out_T[c])
        if absgrad:
            (means2d,) = ctx.saved_tensors
            means2d.absgrad = torch.from_numpy(v_abs)
        d_m, d_c, d_col, d_op, d_bg = ctx.dtypes
        return (torch.from_numpy(v_means2d).to(d_m), torch.from_numpy(v_conics).to(d_c),
                torch.from_numpy(np.ascontiguousarray(v_colors[..., :D])).to(d_col),
                torch.from_numpy(v_opacities).to(d_op), torch.from_numpy(v_bg).to(d_bg),
                None, None, None, None, None)


def _channel_groups(values: np.ndarray, n_groups: int) -> np.ndarray:
    """[M, D] → [n_groups, M, 4], zero-padded, contiguous per group."""
    M, D = values.shape
    out = np.zeros((n_groups, M, _blend.CHANNELS), np.float32)
    for k in range(n_groups):
        chunk = values[:, 4 * k:4 * k + 4]
        out[k, :, :chunk.shape[1]] = chunk
    return out
