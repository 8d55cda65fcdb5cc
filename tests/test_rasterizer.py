"""The CPU rasterizer against a dense reference, finite differences, gsplat's projection and strategy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from occlurestyle.render.rasterizer import rasterization
from occlurestyle.render.reference import rasterize_reference

W, H = 40, 30


def random_scene(n=250, cameras=2, seed=0, dtype=torch.float32, sh_degree=None, opacity=(0.05, 0.95)):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=dtype) * 0.8
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.15 + 0.02
    opacities = torch.rand(n, generator=g, dtype=dtype) * (opacity[1] - opacity[0]) + opacity[0]
    if sh_degree is None:
        colors = torch.rand(n, 3, generator=g, dtype=dtype)
    else:
        colors = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=dtype) * 0.3
    viewmats = torch.eye(4, dtype=dtype)[None].repeat(cameras, 1, 1)
    viewmats[:, 2, 3] = 4.0
    for c in range(1, cameras):  # other cameras: shifted and turned a little
        angle = 0.15 * c
        viewmats[c, :3, :3] = torch.tensor([[math.cos(angle), 0, math.sin(angle)], [0, 1, 0],
                                            [-math.sin(angle), 0, math.cos(angle)]], dtype=dtype)
        viewmats[c, 0, 3] = 0.3 * c
    Ks = torch.tensor([[50.0, 0, W / 2], [0, 50.0, H / 2], [0, 0, 1]], dtype=dtype)[None].repeat(cameras, 1, 1)
    return [means, quats, scales, opacities, colors], viewmats, Ks


RENDER_MODES = ["RGB", "D", "ED", "RGB+D", "RGB+ED"]
SH_DEGREES = [None, 0, 1, 3]


@pytest.mark.parametrize("render_mode", RENDER_MODES)
@pytest.mark.parametrize("sh_degree", SH_DEGREES)
def test_forward_matches_dense_reference(render_mode, sh_degree):
    # a fixed seed per case (Python's hash() of strings changes per process): a float32 rounding
    # difference can flip a 1/255 or T<1e-4 threshold at a pixel for a rare random scene
    seed = 100 + 10 * RENDER_MODES.index(render_mode) + SH_DEGREES.index(sh_degree)
    params, viewmats, Ks = random_scene(sh_degree=sh_degree, seed=seed)
    backgrounds = torch.rand(2, 3, generator=torch.Generator().manual_seed(seed)) if render_mode != "D" else None
    kwargs = dict(sh_degree=sh_degree, backgrounds=backgrounds, render_mode=render_mode)
    ours, ours_alpha, meta = rasterization(*params, viewmats, Ks, W, H, **kwargs)
    ref, ref_alpha = rasterize_reference(*params, viewmats, Ks, W, H, **kwargs)
    assert ours.shape == ref.shape and ours_alpha.shape == (2, H, W, 1)
    depth_scale = 1.0 / 5.0 if "D" in render_mode else 1.0  # depths are ~4 units: compare relatively
    assert (ours - ref).abs().max().item() * depth_scale < 1e-4
    assert (ours_alpha - ref_alpha).abs().max().item() < 1e-4
    assert ours_alpha.max() > 0.5, "the scene is actually visible"
    assert meta["radii"].shape == (2, 250, 2) and meta["means2d"].shape == (2, 250, 2)


def test_large_and_dense_scene_matches_reference_including_early_termination():
    params, viewmats, Ks = random_scene(n=1500, cameras=1, seed=7, opacity=(0.5, 1.0))  # the alpha clamp is hit
    params[2] = params[2] * 4  # big, overlapping Gaussians
    ours, ours_alpha, _ = rasterization(*params, viewmats, Ks, W, H)
    ref, ref_alpha = rasterize_reference(*params, viewmats, Ks, W, H)
    # terminated pixels keep T just above 1e-4: many pixels near that show termination is exercised
    assert (ours_alpha > 0.999).float().mean() > 0.3
    assert (ours - ref).abs().max().item() < 1e-4


def test_alpha_clamp_and_exclusive_termination():
    """One opaque Gaussian gives alpha 0.999 at its centre; a second one behind it would take T below
    1e-4, so (as in gsplat) the pixel stops before it and keeps alpha 0.999."""
    means = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    quats = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0]])
    scales = torch.full((2, 3), 0.3)
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    viewmats = torch.eye(4)[None]
    viewmats[0, 2, 3] = 4.0
    Ks = torch.tensor([[50.0, 0, 20.5], [0, 50.0, 15.5], [0, 0, 1]])[None]  # centre on pixel (20, 15)
    for n in (1, 2):
        out, alpha, _ = rasterization(means[:n], quats[:n], scales[:n], torch.ones(n), colors[:n], viewmats, Ks, W, H)
        ref, ref_alpha = rasterize_reference(means[:n], quats[:n], scales[:n], torch.ones(n), colors[:n], viewmats, Ks, W, H)
        assert alpha[0, 15, 20, 0].item() == pytest.approx(0.999, abs=1e-6)
        assert out[0, 15, 20].tolist() == pytest.approx([0.999, 0.0, 0.0], abs=1e-6)
        assert (out - ref).abs().max() < 1e-5 and (alpha - ref_alpha).abs().max() < 1e-5
    assert out[0, 15, 25, 1] > 0, "away from the centre the second Gaussian does show"


def _grads(fn, params, weights, **kwargs):
    params = [p.detach().clone().requires_grad_() for p in params]
    colors, alphas = fn(*params, **kwargs)[:2]
    loss = (colors * weights[0]).sum() + (alphas * weights[1]).sum()
    loss.backward()
    return [p.grad for p in params]


@pytest.mark.parametrize("render_mode,sh_degree", [("RGB", None), ("RGB+ED", None), ("RGB", 2)])
def test_gradients_match_autograd_through_the_reference(render_mode, sh_degree):
    params, viewmats, Ks = random_scene(sh_degree=sh_degree, seed=3, opacity=(0.05, 1.0))
    channels = 4 if render_mode == "RGB+ED" else 3
    g = torch.Generator().manual_seed(1)
    weights = (torch.rand(2, H, W, channels, generator=g), torch.rand(2, H, W, 1, generator=g))
    kwargs = dict(viewmats=viewmats, Ks=Ks, width=W, height=H, render_mode=render_mode, sh_degree=sh_degree,
                  backgrounds=torch.rand(2, 3, generator=g))
    ours = _grads(rasterization, params, weights, **kwargs)
    ref = _grads(rasterize_reference, params, weights, **kwargs)
    for name, a, b in zip(["means", "quats", "scales", "opacities", "colors"], ours, ref):
        rel = ((a - b).norm() / b.norm()).item()
        assert rel < 1e-4, f"{name}: relative error {rel:.2e}"


def test_gradients_match_finite_differences_for_every_input():
    """Our hand-written gradients vs central differences of the (float64) dense reference."""
    params, viewmats, Ks = random_scene(n=30, cameras=1, seed=11, sh_degree=1)
    g = torch.Generator().manual_seed(2)
    weights = (torch.rand(1, H, W, 3, generator=g, dtype=torch.float64),
               torch.rand(1, H, W, 1, generator=g, dtype=torch.float64))
    ours = _grads(rasterization, params, (weights[0].float(), weights[1].float()), viewmats=viewmats, Ks=Ks,
                  width=W, height=H, sh_degree=1)
    p64 = [p.double() for p in params]

    def loss(values):
        colors, alphas = rasterize_reference(*values, viewmats.double(), Ks.double(), W, H, sh_degree=1)
        return ((colors * weights[0]).sum() + (alphas * weights[1]).sum()).item()

    rng = np.random.default_rng(0)
    h = 1e-6
    for index, name in enumerate(["means", "quats", "scales", "opacities", "colors"]):
        grad = ours[index]
        # test the coordinates with the largest gradients (where an error would show) plus a random one
        flat = grad.flatten().abs()
        picks = list(torch.topk(flat, 3).indices.numpy()) + [int(rng.integers(flat.numel()))]
        for pick in picks:
            plus = [v.clone() for v in p64]
            minus = [v.clone() for v in p64]
            plus[index].view(-1)[pick] += h
            minus[index].view(-1)[pick] -= h
            numeric = (loss(plus) - loss(minus)) / (2 * h)
            analytic = grad.flatten()[pick].item()
            assert abs(numeric - analytic) <= 2e-3 * max(1.0, abs(numeric)), (name, pick, numeric, analytic)


def test_the_alpha_clamp_is_gsplats():
    """The CPU backend clamps alpha where the installed gsplat does (its pure-torch and CUDA sources), so
    a model trained on either renders the same on the other."""
    import inspect
    import re
    from pathlib import Path

    import gsplat.cuda._torch_impl as gsplat_torch

    from occlurestyle.render import _blend, reference

    torch_clamps = re.findall(r"clamp_max\(\s*opacities\[[^\]]*\]\s*\*\s*torch\.exp\(-sigmas\),\s*([0-9.]+)\s*\)",
                              inspect.getsource(gsplat_torch))
    cuda_source = Path(gsplat_torch.__file__).parent / "csrc" / "RasterizeToPixels3DGSFwd.cu"
    cuda_clamps = re.findall(r"min\(([0-9.]+)f,\s*opac", cuda_source.read_text()) if cuda_source.is_file() else []
    assert torch_clamps, "gsplat's pure-torch rasterizer no longer reads as expected: check its alpha clamp"
    for clamp in torch_clamps + cuda_clamps:
        assert float(clamp) == pytest.approx(float(_blend.ALPHA_MAX)) == pytest.approx(reference.ALPHA_MAX)


def test_projection_matches_gsplat_pure_torch_projection():
    from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

    from occlurestyle.render.rasterizer import _Project

    params, viewmats, Ks = random_scene(n=400, cameras=2, seed=5)
    means, quats, scales, _, _ = [p.detach().double().requires_grad_() for p in params]
    opacities = torch.ones(400, dtype=torch.float64)  # full opacity: radii extents are (almost) gsplat's 3.33
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    radii_ref, means2d_ref, depths_ref, conics_ref, _ = _fully_fused_projection(
        means, covars, viewmats.double(), Ks.double(), W, H)
    radii, means2d, depths, conics = _Project.apply(means, quats, scales, opacities, viewmats, Ks, W, H, 0.3, 0.01, 1e10)
    visible = (radii_ref > 0).all(-1)
    assert visible.sum() > 300
    assert torch.equal((radii > 0).all(-1), visible)
    assert (radii.double()[visible] - radii_ref.double()[visible]).abs().max() <= 1  # extent 3.329 vs 3.33
    assert torch.allclose(means2d.double()[visible], means2d_ref[visible], rtol=1e-5, atol=1e-4)
    assert torch.allclose(depths.double(), depths_ref, rtol=1e-6)
    assert torch.allclose(conics.double()[visible], conics_ref[visible], rtol=1e-4, atol=1e-6)

    g = torch.Generator().manual_seed(0)
    w2, w_d, w_c = (torch.randn(t.shape, generator=g, dtype=torch.float64) for t in (means2d, depths, conics))
    mask = visible[..., None].double()
    ours = torch.autograd.grad(
        (means2d.double() * w2 * mask).sum() + (depths.double() * w_d * visible).sum()
        + (conics.double() * w_c * mask).sum(), [means, quats, scales])
    ref = torch.autograd.grad(
        (means2d_ref * w2 * mask).sum() + (depths_ref * w_d * visible).sum() + (conics_ref * w_c * mask).sum(),
        [means, quats, scales])
    for name, a, b in zip(["means", "quats", "scales"], ours, ref):
        rel = ((a - b).norm() / b.norm()).item()
        assert rel < 1e-4, f"{name}: relative error {rel:.2e}"


def test_opacity_aware_radii_shrink_for_transparent_gaussians():
    params, viewmats, Ks = random_scene(n=100, cameras=1, seed=9)
    params[3] = torch.full((100,), 0.9)
    _, _, opaque = rasterization(*params, viewmats, Ks, W, H)
    params[3] = torch.full((100,), 0.02)
    _, _, faint = rasterization(*params, viewmats, Ks, W, H)
    both = (opaque["radii"] > 0).all(-1) & (faint["radii"] > 0).all(-1)
    assert both.sum() > 50
    assert (faint["radii"][both] <= opaque["radii"][both]).all()
    assert (faint["radii"][both] < opaque["radii"][both]).any()
    params[3] = torch.full((100,), 0.002)  # below 1/255: never visible, culled
    _, alphas, culled = rasterization(*params, viewmats, Ks, W, H)
    assert (culled["radii"] == 0).all() and alphas.max() == 0


def test_absgrad_bounds_the_gradient_and_equals_it_for_one_pixel():
    params, viewmats, Ks = random_scene(n=50, cameras=1, seed=4)
    params = [p.requires_grad_() for p in params]
    colors, _, meta = rasterization(*params, viewmats, Ks, W, H, absgrad=True)
    meta["means2d"].retain_grad()
    colors.sum().backward()
    grad, absgrad = meta["means2d"].grad, meta["means2d"].absgrad
    assert (absgrad >= grad.abs() - 1e-6).all()
    assert (absgrad > grad.abs() + 1e-6).any(), "gradients of opposite sign partly cancel"
    # one pixel: nothing to cancel, absgrad is |grad|
    K1 = Ks.clone()
    K1[:, 0, 2], K1[:, 1, 2] = 0.5, 0.5
    params = [p.detach().requires_grad_() for p in params]
    colors, _, meta = rasterization(*params, viewmats, K1, 1, 1, absgrad=True)
    meta["means2d"].retain_grad()
    colors.sum().backward()
    assert torch.allclose(meta["means2d"].absgrad, meta["means2d"].grad.abs(), atol=1e-6)


def test_fitting_2000_gaussians_to_a_64px_image_beats_30db_in_300_steps():
    from occlurestyle.scenes.generate import SampleScene, SceneConfig

    torch.manual_seed(0)
    scene = SampleScene("living_room", SceneConfig(frames=1, width=64, height=64, people="capsule"))
    target = torch.from_numpy(scene.render(0)["rgb"])
    size, n = 64, 2000
    focal = 0.5 * size / math.tan(math.pi / 4)
    Ks = torch.tensor([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1.0]])[None]
    viewmats = torch.eye(4)[None]
    viewmats[0, 2, 3] = 8.0
    half = (size / 2) / focal * 8
    means = torch.cat([(torch.rand(n, 2) * 2 - 1) * half, (torch.rand(n, 1) - 0.5) * 0.5], 1).requires_grad_()
    log_scales = torch.full((n, 3), math.log(1.5 * 8 / focal)).requires_grad_()
    quats = torch.randn(n, 4).requires_grad_()
    opacity_logits = torch.zeros(n).requires_grad_()
    color_logits = torch.zeros(n, 3).requires_grad_()
    optimizer = torch.optim.Adam([
        {"params": [means], "lr": 0.01}, {"params": [log_scales], "lr": 0.02}, {"params": [quats], "lr": 0.01},
        {"params": [opacity_logits], "lr": 0.05}, {"params": [color_logits], "lr": 0.05},
    ])
    for _ in range(300):
        out, _, _ = rasterization(means, quats, log_scales.exp(), torch.sigmoid(opacity_logits),
                              torch.sigmoid(color_logits), viewmats, Ks, size, size)
        loss = ((out[0] - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    psnr = -10 * math.log10(loss.item())
    print(f"fitting PSNR after 300 steps: {psnr:.2f} dB")
    assert psnr > 30


def test_default_strategy_densifies_on_our_meta_exactly_as_predicted():
    from gsplat.strategy import DefaultStrategy

    torch.manual_seed(0)
    scene, viewmats, Ks = random_scene(n=300, cameras=1, seed=12)
    params = torch.nn.ParameterDict({
        "means": scene[0], "scales": torch.log(scene[2]), "quats": scene[1],
        "opacities": torch.logit(scene[3].clamp(0.05, 0.95)), "colors": torch.logit(scene[4].clamp(0.05, 0.95)),
    })
    with torch.no_grad():
        params["opacities"][:40] = -8.0  # nearly transparent: must be pruned
    optimizers = {k: torch.optim.Adam([v], lr=1e-3) for k, v in params.items()}
    strategy = DefaultStrategy(refine_start_iter=1, refine_every=2, grow_grad2d=2e-5, grow_scale3d=0.12,
                               verbose=False)
    strategy.check_sanity(params, optimizers)
    state = strategy.initialize_state(scene_scale=1.0)
    target = torch.rand(1, H, W, 3)
    grad_sum = torch.zeros(300)
    count = torch.zeros(300)
    for step in range(3):
        colors, _, meta = rasterization(params["means"], params["quats"], torch.exp(params["scales"]),
                                    torch.sigmoid(params["opacities"]), torch.sigmoid(params["colors"]),
                                    viewmats, Ks, W, H)
        strategy.step_pre_backward(params, optimizers, state, step, meta)
        ((colors - target) ** 2).mean().backward()
        # what the strategy will accumulate, computed independently from our means2d gradients
        visible = (meta["radii"][0] > 0).all(-1)
        g2d = meta["means2d"].grad[0] * torch.tensor([W / 2.0, H / 2.0])
        grad_sum[visible] += g2d[visible].norm(dim=-1)
        count[visible] += 1
        if step == 2:
            n_before = len(params["means"])
            high = grad_sum / count.clamp_min(1) > strategy.grow_grad2d
            small = torch.exp(params["scales"]).max(-1).values <= strategy.grow_scale3d
            dup, split = high & small, high & ~small
            low = torch.sigmoid(params["opacities"]) < strategy.prune_opa
            pruned = (low & ~split).sum() + (low & dup).sum() + 2 * (low & split).sum()
            expected = n_before + dup.sum() + split.sum() - pruned
            assert dup.sum() > 0 and split.sum() > 0 and pruned > 0, "the scene exercises all three rules"
        strategy.step_post_backward(params, optimizers, state, step, meta)
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad()
    assert len(params["means"]) == int(expected) != n_before
    assert all(len(v) == int(expected) for v in params.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the gsplat CUDA backend runs on GPU machines")
def test_cuda_backend_agrees_with_cpu_backend():
    params, viewmats, Ks = random_scene(seed=21)
    cpu, cpu_alpha, _ = rasterization(*params, viewmats, Ks, W, H, backend="cpu")
    cuda_params = [p.cuda() for p in params]
    gpu, gpu_alpha, meta = rasterization(*cuda_params, viewmats.cuda(), Ks.cuda(), W, H)
    assert meta["radii"].is_cuda
    assert (cpu - gpu.cpu()).abs().mean() < 1e-2


def test_bad_arguments_are_reported():
    params, viewmats, Ks = random_scene(n=10, cameras=1)
    with pytest.raises(ValueError, match="render_mode"):
        rasterization(*params, viewmats, Ks, W, H, render_mode="RGBD")
    with pytest.raises(ValueError, match="quats must have shape"):
        rasterization(params[0], params[1][:5], *params[2:], viewmats, Ks, W, H)
    with pytest.raises(ValueError, match="sh_degree 3 needs 16"):
        rasterization(*params[:4], torch.zeros(10, 4, 3), viewmats, Ks, W, H, sh_degree=3)


KERNEL_RUN = """
import sys, numpy as np, torch
from occlurestyle.recon.losses import photometric_loss
from occlurestyle.render.rasterizer import rasterization
g = torch.Generator().manual_seed(0)
n = 20000
means = torch.rand(n, 3, generator=g) * 2 - 1 + torch.tensor([0.0, 0.0, 4.0])
quats = torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1)
scales, opacities, colors = torch.rand(n, 3, generator=g) * 0.05, torch.rand(n, generator=g) * 0.9, torch.rand(n, 3, generator=g)
params = [t.requires_grad_() for t in (means, quats, scales, opacities, colors)]
K = torch.tensor([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])[None]
out, _, _ = rasterization(*params, torch.eye(4)[None], K, 160, 120, render_mode="RGB+ED")
target = torch.rand(1, 4, 120, 160, generator=g)
weight = (torch.rand(1, 1, 120, 160, generator=g) > 0.3).float()
photometric_loss(out.permute(0, 3, 1, 2), target, weight, 0.2).backward()
np.savez(sys.argv[1], out=out.detach().numpy(), **{f"grad{i}": p.grad.numpy() for i, p in enumerate(params)})
"""


def test_no_compiled_kernel_takes_the_fast_math_flags_that_made_cached_code_differ():
    """What the slow test below checks by compiling in one process and loading in another, read from
    the kernels' own options: never fastmath=True, never reassociation and contraction together."""
    import importlib
    from pathlib import Path

    from numba.core.registry import CPUDispatcher

    import occlurestyle

    package = Path(occlurestyle.__file__).parent
    modules = sorted(".".join(("occlurestyle", *path.relative_to(package).with_suffix("").parts))
                     for path in package.rglob("*.py") if "@njit" in path.read_text())
    kernels = {}
    for module in modules:  # every module that compiles kernels, so a new one cannot slip past
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, CPUDispatcher):
                kernels[f"{module}.{name}"] = value.targetoptions.get("fastmath")
    assert len(kernels) >= 15 and any(kernels.values()), kernels
    for name, flags in kernels.items():
        assert flags is not True and not {"reassoc", "contract"} <= set(flags or ()), (name, flags)


@pytest.mark.slow  # 80 s of compiling; the test above reads the options that matter
def test_a_process_that_compiles_the_kernels_computes_what_one_loading_them_from_the_cache_does(tmp_path):
    """numba's fastmath=True gave different bits in the two (and different trained models): see _numba_setup."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("compiled", "cached"):
        subprocess.run([sys.executable, "-c", KERNEL_RUN, str(tmp_path / f"{name}.npz")], env=env, check=True)
    assert any((tmp_path / "cache").rglob("*.nbc")), "the first process wrote numba's cache"
    compiled, cached = np.load(tmp_path / "compiled.npz"), np.load(tmp_path / "cached.npz")
    for key in compiled:
        assert np.array_equal(compiled[key], cached[key]), key
