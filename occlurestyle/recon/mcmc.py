"""gsplat's `MCMCStrategy` (3DGS as Markov chain Monte Carlo) on any device, with a short-budget schedule.

gsplat's strategy moves dead (near-transparent) Gaussians onto live ones, adds new ones in proportion
to opacity up to a fixed cap, and jitters low-opacity means with noise shaped by their covariance. Two
of its helpers run CUDA kernels: the relocation rule (Eq. 9 of the paper: the opacity and scale that N
copies of a Gaussian need so that, stacked, they draw what the one did) and the covariance used for the
noise. `relocation` is the first in torch, gsplat's own pure-torch `_quat_scale_to_covar_preci` the second;
`MCMC` swaps them in for CPU tensors
and otherwise is gsplat's strategy, except that it grows by `grow_rate` per refinement instead of a fixed
5%, so that a schedule of a few thousand steps still reaches its cap.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from gsplat.cuda._torch_impl import _quat_scale_to_covar_preci
from gsplat.strategy import MCMCStrategy
from torch import Tensor


def relocation(opacities: Tensor, scales: Tensor, ratios: Tensor, binoms: Tensor) -> tuple[Tensor, Tensor]:
    """Opacity and scales for each of `ratios` [N] copies of Gaussians with `opacities` [N] and `scales`
    [N, 3] (activated), so that the copies composited at one spot match the original: the same peak
    alpha, 1 - (1 - o')^n = o, and the same integral of alpha along a line through it (Eq. 9 of
    Kheradmand et al., computed as gsplat's CUDA kernel does). `binoms` is the binomial table of the
    strategy's state."""
    dtype = opacities.dtype
    opacities, binoms = opacities.double(), binoms.double()  # the alternating sum cancels heavily
    n_max = binoms.shape[0]
    n = ratios.clamp(1, n_max).long()
    new_opacities = 1.0 - (1.0 - opacities) ** (1.0 / n)
    # sum over i = 1..n and k = 0..i-1 of C(i-1, k) (-1)^k o'^(k+1) / sqrt(k+1), as a masked table sum
    i = torch.arange(1, n_max + 1, device=opacities.device)
    k = torch.arange(n_max, device=opacities.device)
    terms = binoms[i - 1][:, k] * (-1.0) ** k / torch.sqrt(k + 1.0)  # [i, k]
    terms = terms * (k[None, :] <= (i[:, None] - 1))
    powers = new_opacities[:, None] ** (k + 1.0)[None, :]  # [N, k]
    per_i = powers @ terms.T  # [N, i]
    denominator = (per_i * (i[None, :] <= n[:, None])).sum(-1)
    new_scales = (opacities / denominator)[:, None].to(dtype) * scales
    return new_opacities.to(dtype), new_scales


@contextlib.contextmanager
def _torch_kernels(on_cpu: bool):
    """gsplat's MCMC helpers with our torch kernels in place of the CUDA ones, for CPU tensors."""
    if not on_cpu:
        yield
        return
    from gsplat.strategy import ops

    saved = ops.compute_relocation, ops.quat_scale_to_covar_preci
    ops.compute_relocation, ops.quat_scale_to_covar_preci = relocation, _quat_scale_to_covar_preci
    try:
        yield
    finally:
        ops.compute_relocation, ops.quat_scale_to_covar_preci = saved


@dataclass
class MCMC(MCMCStrategy):
    """gsplat's `MCMCStrategy`, runnable on CPU tensors, growing by `grow_rate` per refinement (gsplat: 0.05)."""

    grow_rate: float = 0.05

    def step_post_backward(self, params, optimizers, state, step, info, lr) -> None:
        with _torch_kernels(params["means"].device.type == "cpu"):
            super().step_post_backward(params, optimizers, state, step, info, lr)

    @torch.no_grad()
    def _add_new_gs(self, params, optimizers, binoms) -> int:
        from gsplat.strategy.ops import sample_add

        current = len(params["means"])
        n_new = max(0, min(self.cap_max, int((1 + self.grow_rate) * current)) - current)
        if n_new > 0:
            sample_add(params=params, optimizers=optimizers, state={}, n=n_new, binoms=binoms,
                       min_opacity=self.min_opacity)
        return n_new
