"""The MCMC densification strategy on CPU tensors: the relocation rule's defining properties, the
covariance swapped in for the noise against a hand-built one, and one refinement step (dead Gaussians
moved, growth capped)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from occlurestyle.recon.mcmc import MCMC, relocation

BINOMS = MCMC().initialize_state()["binoms"]


@pytest.mark.parametrize("opacity,copies", [(0.3, 1), (0.9, 2), (0.05, 5), (0.99, 30), (0.999, 50)])
def test_relocated_copies_composite_to_the_original(opacity, copies):
    scales = torch.tensor([[0.5, 1.0, 2.0]])
    new_opacity, new_scales = relocation(torch.tensor([opacity]), scales, torch.tensor([copies]), BINOMS)
    # same peak: n copies stacked reach the original's alpha at the centre
    assert 1 - (1 - float(new_opacity)) ** copies == pytest.approx(opacity, rel=1e-5)
    # same integral of alpha along a line through the centre, for every axis
    x = torch.linspace(-40, 40, 400_001, dtype=torch.float64)
    for axis in range(3):
        sigma = float(new_scales[0, axis])
        stacked = 1 - (1 - float(new_opacity) * torch.exp(-x**2 / (2 * sigma**2))) ** copies
        expected = opacity * float(scales[0, axis]) * math.sqrt(2 * math.pi)
        assert float(torch.trapezoid(stacked, x)) == pytest.approx(expected, rel=1e-4)
    if copies == 1:
        assert torch.allclose(new_scales, scales)


def test_covariance_is_rotation_times_squared_scales():
    g = torch.Generator().manual_seed(0)
    quats = torch.randn(5, 4, generator=g)
    scales = torch.rand(5, 3, generator=g) + 0.1
    from gsplat.strategy import ops

    from occlurestyle.recon.mcmc import _torch_kernels

    with _torch_kernels(on_cpu=True):
        covars, _ = ops.quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    w, x, y, z = (quats / quats.norm(dim=-1, keepdim=True)).unbind(-1)
    rotation = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(5, 3, 3)
    expected = rotation @ torch.diag_embed(scales**2) @ rotation.transpose(1, 2)
    assert torch.allclose(covars, expected, atol=1e-6)


def _model(n: int, dead: int) -> tuple[torch.nn.ParameterDict, dict]:
    g = torch.Generator().manual_seed(1)
    opacities = torch.full((n,), 2.0)
    opacities[:dead] = -10.0  # sigmoid: 4.5e-5, below gsplat's 0.005
    params = torch.nn.ParameterDict({
        "means": torch.nn.Parameter(torch.randn(n, 3, generator=g)),
        "scales": torch.nn.Parameter(torch.full((n, 3), -2.0)),
        "quats": torch.nn.Parameter(torch.randn(n, 4, generator=g)),
        "opacities": torch.nn.Parameter(opacities),
        "sh0": torch.nn.Parameter(torch.rand(n, 1, 3, generator=g)),
    })
    optimizers = {k: torch.optim.Adam([{"params": v, "lr": 1e-3, "name": k}]) for k, v in params.items()}
    for name, optimizer in optimizers.items():  # one step, so that Adam holds state to be resized
        params[name].grad = torch.zeros_like(params[name])
        optimizer.step()
    return params, optimizers


def test_a_refinement_step_moves_dead_gaussians_and_grows_to_the_cap():
    torch.manual_seed(0)
    params, optimizers = _model(100, dead=20)
    strategy = MCMC(cap_max=130, refine_start_iter=0, refine_every=10, grow_rate=0.2)
    state = strategy.initialize_state()
    strategy.step_post_backward(params, optimizers, state, step=10, info={}, lr=1e-4)
    opacities = torch.sigmoid(params["opacities"]).detach()
    assert len(opacities) == 120  # 20% more
    assert opacities.min() >= strategy.min_opacity  # the dead ones now share a live one's place
    live = params["means"].detach()[20:100]
    moved = params["means"].detach()[:20]
    assert (moved[:, None] - live[None]).norm(dim=-1).min(dim=1).values.max() < 1e-6
    # Adam's state grew with the parameters
    assert optimizers["means"].state[params["means"]]["exp_avg"].shape == (120, 3)
    strategy.step_post_backward(params, optimizers, state, step=20, info={}, lr=1e-4)
    assert len(params["means"]) == 130  # capped


def test_noise_moves_only_near_transparent_gaussians():
    torch.manual_seed(0)
    params, optimizers = _model(50, dead=10)
    before = params["means"].detach().clone()
    MCMC(refine_start_iter=1000).step_post_backward(params, optimizers, {"binoms": BINOMS}, step=1, info={},
                                                    lr=1e-3)
    shift = (params["means"].detach() - before).norm(dim=-1).numpy()
    assert np.all(shift[:10] > 0) and np.all(shift[10:] < 1e-9)


def test_training_with_mcmc_fills_its_budget_and_recovers_the_background(tmp_path):
    import json

    from conftest import make_true_run

    from occlurestyle.recon.registration_files import read_cameras
    from occlurestyle.recon.trainer import TrainOptions, train
    from occlurestyle.render.gaussians import load_ply, render_views

    run, scene = make_true_run(tmp_path / "run", width=96, height=72, stride=3, points=1500)
    train(run, TrainOptions(steps=400, refine_every=20, strategy="mcmc", max_gaussians=3000,
                            checkpoint_every=10_000), progress=False)
    assert json.loads((run / "splat" / "train.json").read_text())["gaussians"] == 3000  # grown to the cap
    params = load_ply(run / "splat" / "background.ply")
    cameras = read_cameras(run / "colmap" / "sparse" / "0")
    views = render_views(params, torch.tensor(cameras.viewmats), torch.tensor(cameras.Ks), cameras.width,
                         cameras.height)
    errors = [((views["rgb"][k].numpy() - scene.render(int(name[:6]))["background"]) ** 2).mean()
              for k, name in enumerate(cameras.names)]
    assert -10 * np.log10(np.mean(errors)) > 19.0  # 13.1 dB as initialised; 20.6 measured
