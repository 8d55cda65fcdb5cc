"""How well the static background was recovered: renders of the trained model at every registered
camera against the sample scene's person-free frames (all pixels, and the pixels people hid), and
the hidden pixels' PSNR split by how many other frames saw that background point, and the rendered
depth's error against the scene's true depth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import media
from ..cameras import project
from ..errors import InputError
from ..layout import RunLayout
from ..recon.registration_files import read_run_cameras
from ..render.gaussians import load_ply, render_views
from .metrics import align_sim3, background_psnr, psnr

# how many other frames saw a hidden pixel's background point: the buckets of `by_views`
VIEW_BUCKETS = ((0, 0), (1, 2), (3, 10), (11, 30), (31, None))


def evaluate_background(run_dir: str | Path, scene_dir: str | Path, ply: str | Path | None = None,
                        names: list[str] | None = None, by_views: bool = False, depth: bool = False) -> dict:
    """PSNR of the run's background model against `scene_dir/background/` (sample scenes only).

    Frames of the run are matched to the scene's by name (the run's frames are the scene's frames).
    `by_views` adds `disoccluded_by_views`: per bucket of `VIEW_BUCKETS`, the hidden pixels' share and PSNR.
    `depth` adds `depth_error`: see `depth_error`."""
    layout = RunLayout(run_dir)
    scene_dir = Path(scene_dir)
    cameras = read_run_cameras(layout)
    params = load_ply(ply or layout.splat / "background.ply")
    picks = [i for i, n in enumerate(cameras.names) if names is None or n in names]
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    views = render_views(params, viewmats, Ks, cameras.width, cameras.height)
    renders = views["rgb"].numpy()
    stems = [Path(cameras.names[i]).stem for i in picks]
    truths, hidden = ground_truth(scene_dir, stems, (cameras.height, cameras.width))
    result = background_psnr(renders, truths, hidden)
    if by_views:
        counts = hidden_views(scene_dir)
        counts = [cv2.resize(counts[s], (cameras.width, cameras.height), interpolation=cv2.INTER_NEAREST)
                  for s in stems]
        result["disoccluded_by_views"] = psnr_by_views(renders, truths, counts)
    if depth:
        result["depth_error"] = depth_error(views["depth"].numpy(), views["alpha"].numpy(),
                                            dict(zip(stems, cameras.viewmats[picks])), scene_dir)
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
        truth = media.read_image(path)
        mask = media.read_gray(scene_dir / "masks" / f"{stem}.png") > 0
        if truth.shape[:2] != tuple(shape):
            truth = cv2.resize(truth, shape[::-1], interpolation=cv2.INTER_AREA)
            mask = media.resize_mask(mask, shape[::-1])
        truths.append(truth.astype(np.float32) / 255.0)
        hidden.append(mask)
    return truths, hidden


def true_cameras(scene_dir: str | Path) -> tuple[np.ndarray, int, int, dict[str, np.ndarray]]:
    """A sample scene's true cameras (`cameras.json`): K, width, height and world→camera viewmats by frame name."""
    cameras = json.loads((Path(scene_dir) / "cameras.json").read_text())
    viewmats = {f["name"]: np.array(f["viewmat"], np.float64) for f in cameras["frames"]}
    return np.array(cameras["K"], np.float64), cameras["width"], cameras["height"], viewmats


def hidden_views(scene_dir: str | Path, depth_tolerance: float = 0.02) -> dict[str, np.ndarray]:
    """For each frame of a sample scene (by stem): how many other frames see, unhidden, the background
    point behind each pixel people hide in it (int [H,W], -1 where nothing is hidden). Uses the scene's
    true cameras and person-free depth: a point is seen in another frame if it projects inside it, in
    front of or on that frame's background surface (within `depth_tolerance` of its depth) and outside
    its person mask."""
    scene_dir = Path(scene_dir)
    K, width, height, by_name = true_cameras(scene_dir)
    stems = [Path(n).stem for n in by_name]
    viewmats = list(by_name.values())
    depths = [np.load(scene_dir / "background_depth" / f"{s}.npy") for s in stems]
    masks = [media.read_gray(scene_dir / "masks" / f"{s}.png") > 0 for s in stems]
    counts = {}
    for i, stem in enumerate(stems):
        ys, xs = np.nonzero(masks[i])
        rays = np.linalg.inv(K) @ np.stack([xs + 0.5, ys + 0.5, np.ones(len(xs))])
        world = viewmats[i][:3, :3].T @ (rays * depths[i][ys, xs] - viewmats[i][:3, 3:4])
        seen = np.zeros(len(xs), np.int32)
        for j in range(len(stems)):
            if j == i:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                uv, z = project(world.T, K, viewmats[j])
                u, v = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)
            inside = (z > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
            u, v = u[inside], v[inside]
            inside[inside] = (np.abs(depths[j][v, u] - z[inside]) < depth_tolerance * z[inside]) & ~masks[j][v, u]
            seen += inside
        count = np.full((height, width), -1, np.int32)
        count[ys, xs] = seen
        counts[stem] = count
    return counts


def depth_error(depths: np.ndarray, alphas: np.ndarray, viewmats: dict[str, np.ndarray],
                scene_dir: str | Path) -> dict:
    """Relative error of rendered expected depths [N, H, W] (frames `viewmats`, by stem, in order) against the
    scene's person-free depth, the run's scale brought to the scene's by the similarity between its
    cameras and the true ones: median and 90th percentile over the pixels the render covers (alpha > 0.5).
    What depth-ordered compositing of people relies on."""
    scene_dir = Path(scene_dir)
    truth = {Path(name).stem: viewmat for name, viewmat in true_cameras(scene_dir)[3].items()}
    scale = align_sim3(viewmats, truth)[0]
    errors = []
    for depth, alpha, stem in zip(depths, alphas, viewmats):
        true_depth = np.load(scene_dir / "background_depth" / f"{stem}.npy")
        if true_depth.shape != depth.shape:
            true_depth = cv2.resize(true_depth, depth.shape[::-1], interpolation=cv2.INTER_NEAREST)
        covered = (alpha > 0.5) & (true_depth > 0)
        errors.append(np.abs(scale * depth[covered] / true_depth[covered] - 1))
    errors = np.concatenate(errors)
    return {"median": round(float(np.median(errors)), 4), "p90": round(float(np.quantile(errors, 0.9)), 4)}


def psnr_by_views(renders: list[np.ndarray], truths: list[np.ndarray], counts: list[np.ndarray]) -> dict:
    """Hidden pixels' share and PSNR per bucket of `VIEW_BUCKETS` (counts from `hidden_views`)."""
    squared = [((np.asarray(r, np.float64) - np.asarray(t, np.float64)) ** 2).mean(axis=-1)
               for r, t in zip(renders, truths)]
    total = sum(int((c >= 0).sum()) for c in counts)
    result = {}
    for low, high in VIEW_BUCKETS:
        picked = [(c >= low) & (c <= (high if high is not None else np.iinfo(np.int32).max)) for c in counts]
        n = sum(int(p.sum()) for p in picked)
        label = f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
        error = sum(float(sq[p].sum()) for sq, p in zip(squared, picked))
        result[label] = {"share": round(n / max(total, 1), 4), "psnr": round(psnr(error / n), 2) if n else None}
    return result
