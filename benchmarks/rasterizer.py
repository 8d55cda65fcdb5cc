"""Rasterizer benchmark: gsplat's image-fitting workload and a realistic room render, on the CPU backend.

1. `examples/image_fitting.py` of gsplat: N random Gaussians (means in [-1,1]^3, raw scales in
   [0,1], random unit quats, opacity sigmoid(1)), a camera 8 units away with a 90° field of view,
   Adam (lr 0.01) on one 256×256 image; ms per forward, backward and optimiser step, N = 10k, 100k.
2. Where the time of one 100k step goes, stage by stage (projection, sort, binning, compositing).
3. 640×480 forward renders of 200k Gaussians sampled from the living room's surfaces along its
   camera path: frames per second.

Usage: python benchmarks/rasterizer.py [--json] [--iters 20]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numba
import numpy as np
import torch

from occlurestyle.render import _blend, _projection
from occlurestyle.render.rasterizer import rasterization


def image_fitting_workload(n: int, size: int = 256, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    means = 2 * (torch.rand(n, 3, generator=g) - 0.5)
    scales = torch.rand(n, 3, generator=g)
    rgbs = torch.rand(n, 3, generator=g)
    u, v, w = (torch.rand(n, 1, generator=g) for _ in range(3))
    quats = torch.cat([torch.sqrt(1 - u) * torch.sin(2 * math.pi * v), torch.sqrt(1 - u) * torch.cos(2 * math.pi * v),
                       torch.sqrt(u) * torch.sin(2 * math.pi * w), torch.sqrt(u) * torch.cos(2 * math.pi * w)], -1)
    opacities = torch.ones(n)
    viewmat = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 8], [0, 0, 0, 1]])[None]
    focal = 0.5 * size / math.tan(0.5 * math.pi / 2)
    K = torch.tensor([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])[None]
    gt = torch.ones(size, size, 3)
    gt[: size // 2, : size // 2] = torch.tensor([1.0, 0.0, 0.0])
    gt[size // 2:, size // 2:] = torch.tensor([0.0, 0.0, 1.0])
    params = [t.requires_grad_() for t in (means, quats, scales, opacities, rgbs)]
    return params, viewmat, K, gt


def bench_image_fitting(n: int, iters: int) -> dict:
    params, viewmat, K, gt = image_fitting_workload(n)
    means, quats, scales, opacities, rgbs = params
    optimizer = torch.optim.Adam([rgbs, means, scales, opacities, quats], 0.01)
    times = {"forward": [], "backward": [], "optimizer": []}
    for it in range(iters + 3):
        t0 = time.perf_counter()
        out, _, _ = rasterization(means, quats / quats.norm(dim=-1, keepdim=True), scales, torch.sigmoid(opacities),
                              torch.sigmoid(rgbs), viewmat, K, gt.shape[1], gt.shape[0])
        loss = torch.nn.functional.mse_loss(out[0], gt)
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        if it >= 3:  # the first calls compile or load the kernels
            times["forward"].append(t1 - t0)
            times["backward"].append(t2 - t1)
            times["optimizer"].append(t3 - t2)
    ms = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    ms["forward_backward"] = ms["forward"] + ms["backward"]
    ms["step"] = ms["forward_backward"] + ms["optimizer"]
    return {k: round(v, 1) for k, v in ms.items()}


def stage_profile(means, quats, scales, opacities, rgb, viewmat, K, width, height, repeats: int = 5) -> dict:
    """Milliseconds per stage of one forward+backward (activated parameters, one camera)."""
    n = len(means)
    m = means.detach().numpy()
    q = (quats / quats.norm(dim=-1, keepdim=True)).detach().numpy()
    s = scales.detach().numpy()
    o = opacities.detach().numpy()
    colors = np.zeros((n, 4), np.float32)
    colors[:, :3] = rgb.detach().numpy()
    vm, k = viewmat.double().numpy(), K.double().numpy()
    means2d, depths = np.zeros((n, 2), np.float32), np.zeros(n, np.float32)
    conics, radii = np.zeros((n, 3), np.float32), np.zeros((n, 2), np.int32)
    packed = np.empty((n, _blend.N_PARAMS), np.float32)
    chunks = numba.get_num_threads()
    tiles_x, tiles_y = -(-width // _blend.TILE), -(-height // _blend.TILE)
    out = {
        "colors": np.zeros((height, width, 4), np.float32), "T": np.ones((height, width), np.float32),
        "last": np.full((height, width), -1, np.int32),
    }
    state: dict = {}

    def project():
        _projection.project_forward(m, q, s, o, vm, k, width, height, 0.3, 0.01, 1e10, means2d, depths, conics,
                                    radii)

    def pack():
        _blend.pack_params(means2d, conics, o, radii, packed)
        state["valid"] = np.flatnonzero(packed[:, _blend.P_YMAX] > 0).astype(np.int32)

    def sort():
        state["order"] = _blend.depth_order(state["valid"], depths)

    def binning():
        state["offsets"], state["ids"] = _blend.bin_gaussians(state["order"], packed, tiles_x, tiles_y, chunks)

    def composite_forward():
        _blend.composite_forward(state["offsets"], state["ids"], packed, colors, np.zeros(4, np.float32), width,
                                     height, tiles_x, chunks, out["colors"], out["T"], out["last"])

    v_colors = np.random.default_rng(0).random((height, width, 4)).astype(np.float32)

    def composite_backward():
        grads = np.zeros((chunks, n, _blend.N_GRADS), np.float32)
        _blend.composite_backward(state["offsets"], state["ids"], packed, colors, np.zeros(4, np.float32), width,
                                      height, tiles_x, chunks, out["T"], out["last"], v_colors,
                                      np.zeros((height, width), np.float32), False, grads)
        grads.sum(axis=0)

    def project_backward():
        zeros = lambda shape: np.zeros(shape, np.float32)  # noqa: E731
        _projection.project_backward(m, q, s, vm, k, width, height, 0.3, radii, means2d, depths, conics,
                                     zeros((n, 3)), zeros((n, 4)), zeros((n, 3)))

    stages = [("projection", project), ("pack", pack), ("depth sort", sort), ("binning", binning),
              ("composite forward", composite_forward), ("composite backward", composite_backward),
              ("projection backward", project_backward)]
    result = {}
    for name, fn in stages:
        fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        result[name] = round(1000 * (time.perf_counter() - start) / repeats, 1)
    result["intersections"] = int(len(state["ids"]))
    return result


def room_gaussians(count: int = 200_000, seed: int = 0):
    """Flat Gaussians on the living room's surfaces (a stand-in for a reconstructed room)."""
    from occlurestyle.cameras import rotmat_to_qvec
    from occlurestyle.scenes.generate import SampleScene, SceneConfig
    from occlurestyle.scenes.surface import sample_surface

    scene = SampleScene("living_room", SceneConfig(width=640, height=480))
    samples = sample_surface(scene, count, seed)
    normals = samples["normals"]
    helper = np.where(np.abs(normals[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    t1 = np.cross(normals, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(normals, t1)
    rotations = np.stack([t1, t2, normals], axis=2)
    quats = np.array([rotmat_to_qvec(r) for r in rotations])
    spacing = samples["spacing"]
    scales = np.tile([0.7 * spacing, 0.7 * spacing, 0.05 * spacing], (count, 1))
    tensors = [torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in
               (samples["points"], quats, scales, np.full(count, 0.9), samples["colors"])]
    viewmats = torch.from_numpy(np.stack(scene.viewmats).astype(np.float32))
    K = torch.from_numpy(scene.K.astype(np.float32))
    return tensors, viewmats, K


def bench_room_render(count: int = 200_000, views: int = 10) -> dict:
    params, viewmats, K = room_gaussians(count)
    picks = np.linspace(0, len(viewmats) - 1, views).astype(int)
    with torch.no_grad():
        rasterization(*params, viewmats[:1], K[None], 640, 480)
        start = time.perf_counter()
        for i in picks:
            _, alphas, _ = rasterization(*params, viewmats[i:i + 1], K[None], 640, 480)
        seconds = (time.perf_counter() - start) / views
    return {"gaussians": count, "width": 640, "height": 480, "ms_per_frame": round(1000 * seconds, 1),
            "frames_per_second": round(1.0 / seconds, 1), "mean_alpha": round(float(alphas.mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(max(1, numba.get_num_threads()))
    result = {
        "threads": numba.get_num_threads(),
        "image_fitting_256": {f"N={n}": bench_image_fitting(n, args.iters) for n in (10_000, 100_000)},
        "room_render_640x480": bench_room_render(),
    }
    params, viewmat, K, _ = image_fitting_workload(100_000)
    result["stages_ms_fitting_100k"] = stage_profile(params[0], params[1], params[2], torch.sigmoid(params[3]),
                                                     torch.sigmoid(params[4]), viewmat[0], K[0], 256, 256)
    room, viewmats, K = room_gaussians()
    result["stages_ms_room_200k"] = stage_profile(*room, viewmats[45], K, 640, 480)
    if args.json:
        print(json.dumps(result))
        return
    print(f"threads: {result['threads']}")
    for name, r in result["image_fitting_256"].items():
        print(f"image fitting 256x256 {name}: forward {r['forward']} ms, backward {r['backward']} ms, "
              f"optimizer {r['optimizer']} ms; forward+backward {r['forward_backward']} ms, step {r['step']} ms")
    for key, label in (("stages_ms_fitting_100k", "image fitting, 100k"), ("stages_ms_room_200k", "room, 200k")):
        print(f"where the time goes, {label} (ms, backward stages only matter for training): " +
              ", ".join(f"{k} {v}" for k, v in result[key].items()))
    r = result["room_render_640x480"]
    print(f"room render 640x480, {r['gaussians']} Gaussians: {r['ms_per_frame']} ms/frame = "
          f"{r['frames_per_second']} frames/s (mean alpha {r['mean_alpha']})")


if __name__ == "__main__":
    main()
