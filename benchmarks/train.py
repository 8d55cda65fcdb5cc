"""Static-background training benchmark: how well the background behind people is recovered.

Sample scenes at default size (320x240, 90 frames): the scene's lossless frames (PNG; `--video` decodes
them from its H.264 video instead, whose compression alone caps RGB fidelity near 29 dB), masks (true
or `auto`), pycolmap registration, then training with the default options. Every registered
camera is rendered and compared with the true person-free frames: PSNR over all pixels and over
the pixels a person hid in that frame ("disoccluded"), those also split by how many other frames saw
that background point (`disoccluded_by_views`: share and PSNR). ../shared/data/davis_parkour (no ground truth
behind the runner): every 8th frame held out, PSNR on the held-out frames' background pixels.

`--refine-cameras` trains with camera refinement; `--true-cameras` also trains each sample scene on
its true cameras (the registration's points moved onto them by a similarity fitted to the camera
poses): the ceiling better cameras could reach. `--depth-weight 0` trains without the keypoint depth
term; `--seed` changes the training's random draws (outcomes move by ~0.5 dB between seeds).
`--person-depth` removes splats in front of people while training (recon/free_space.py), with the
scenes' true depth handed over as a depth tool would write it (disparity, unknown scale and offset).

Usage: python benchmarks/train.py [--json] [--out DIR] [--steps N] [--masks true,auto] [--no-davis]
                                  [--refine-cameras] [--true-cameras] [--depth-weight W] [--seed S]
                                  [--strategy default|mcmc] [--max-gaussians N] [--person-depth]
                                  [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import DATA, masked_run, sample_scene  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle import media
from occlurestyle.eval.background import evaluate_background
from occlurestyle.eval.metrics import align_sim3, psnr
from occlurestyle.layout import RunLayout
from occlurestyle.recon.colmap import register
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.recon.trainer import TrainOptions, train, training_indices
from occlurestyle.render.gaussians import load_ply, render_views
from occlurestyle.stages.frames import extract_frames
from occlurestyle.stages.masks import MaskOptions, make_masks


def option_value(setting: str) -> tuple[str, object]:
    """`NAME=VALUE` as a TrainOptions field and its value, converted to the field's type."""
    name, _, text = setting.partition("=")
    fields = {f.name: f for f in dataclasses.fields(TrainOptions)}
    if name not in fields:
        raise SystemExit(f"--set {setting}: TrainOptions has no field {name!r}")
    kind = type(getattr(TrainOptions(), name))
    return name, (text.lower() in ("1", "true", "yes")) if kind is bool else kind(text)


def train_and_time(run: Path, options: TrainOptions) -> dict:
    shutil.rmtree(run / "splat", ignore_errors=True)
    start = time.perf_counter()
    train(run, options, progress=False)
    info = json.loads((run / "splat" / "train.json").read_text())
    refined = info["refined_mask_fraction"]  # None unless training refined the masks (off by default)
    return {"train_s": round(time.perf_counter() - start, 1), "gaussians": info["gaussians"],
            "peak_memory_mb": round(info["peak_memory_mb"]),
            "refined_mask_fraction": None if refined is None else round(refined, 4)}


def true_camera_run(run: Path, scene: Path, out: Path) -> Path:
    """A copy of a registered run whose cameras are the scene's true ones (points moved onto them)."""
    import pycolmap  # after numpy/cv2 (see recon/colmap.py)
    from plyfile import PlyData, PlyElement

    from occlurestyle.recon.registration_files import read_cameras

    shutil.rmtree(out, ignore_errors=True)
    for folder in ("frames", "masks"):
        shutil.copytree(run / folder, out / folder)
    estimated = read_cameras(run / "colmap" / "sparse" / "0")
    truth = pycolmap.Reconstruction()
    truth.read_text(str(scene / "colmap_gt"))
    (out / "colmap" / "sparse" / "0").mkdir(parents=True)
    truth.write_text(str(out / "colmap" / "sparse" / "0"))
    true_cameras = read_cameras(out / "colmap" / "sparse" / "0")
    true_viewmats = [true_cameras.viewmats[true_cameras.index(n)] for n in estimated.names]
    scale, rotation, offset = align_sim3(dict(zip(estimated.names, estimated.viewmats)),
                                         dict(zip(estimated.names, true_viewmats)))
    vertex = PlyData.read(str(run / "colmap" / "points.ply"))["vertex"]
    points = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1) @ (scale * rotation).T + offset
    data = np.array(vertex.data)
    for i, axis in enumerate("xyz"):
        data[axis] = points[:, i]
    PlyData([PlyElement.describe(data, "vertex")]).write(str(out / "colmap" / "points.ply"))
    return out


def true_disparity(scene: Path, run: Path) -> Path:
    """The scene's true depth (people included) written as a monocular depth tool would: disparity in
    arbitrary units and offset, `run/person_depth_true/<stem>.npy`."""
    folder = run / "person_depth_true"
    folder.mkdir(exist_ok=True)
    for path in sorted((scene / "depth").glob("*.npy")):
        np.save(folder / path.name, (3.7 / np.load(path) + 0.2).astype(np.float32))
    return folder


def heldout_psnr(run: Path, holdout_every: int) -> dict:
    """PSNR of renders at held-out cameras against those frames, over their non-person pixels."""
    layout = RunLayout(run)
    cameras = read_run_cameras(layout)
    held = np.setdiff1d(np.arange(len(cameras.names)), training_indices(len(cameras.names), holdout_every))
    params = load_ply(layout.splat / "background.ply")
    views = render_views(params, torch.tensor(cameras.viewmats[held], dtype=torch.float32),
                         torch.tensor(cameras.Ks[held], dtype=torch.float32), cameras.width, cameras.height)
    total = count = 0.0
    for k, i in enumerate(held):
        stem = Path(cameras.names[i]).stem
        frame = media.read_image(layout.frames / cameras.names[i]).astype(np.float32) / 255.0
        person = media.read_gray(layout.masks / f"{stem}.png") > 0
        sq = ((views["rgb"][k].numpy() - frame) ** 2).mean(-1)[~person]
        total, count = total + sq.sum(), count + sq.size
    return {"heldout_frames": int(len(held)), "heldout_background_psnr": round(psnr(total / count), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/bench_train"))
    parser.add_argument("--steps", type=int, default=TrainOptions.steps)
    parser.add_argument("--masks", default="true,auto", help="comma-separated: true, auto")
    parser.add_argument("--scenes", default="living_room,office")
    parser.add_argument("--no-davis", action="store_true")
    parser.add_argument("--video", action="store_true", help="start from the scene's video.mp4")
    parser.add_argument("--refine-cameras", action="store_true", help="refine the cameras while training")
    parser.add_argument("--true-cameras", action="store_true",
                        help="also train on the scenes' true cameras (no keypoints there: no depth term)")
    parser.add_argument("--depth-weight", type=float, default=TrainOptions.depth_weight,
                        help="weight of the keypoint depth term (0: off)")
    parser.add_argument("--seed", type=int, default=TrainOptions.seed)
    parser.add_argument("--strategy", default=TrainOptions.strategy, help="densification: default or mcmc")
    parser.add_argument("--max-gaussians", type=int, default=TrainOptions.max_gaussians,
                        help="cap on the Gaussians (0: training's own, 30 per step from 80,000 to 120,000)")
    parser.add_argument("--person-depth", action="store_true",
                        help="carve free space in front of people, with the sample scenes' true depth given as a "
                             "depth tool's output (disparity up to an unknown affine map)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="any other TrainOptions field, e.g. --set free_space_margin=0.9 --set grow_grad2d=0.0004")
    args = parser.parse_args()
    options = TrainOptions(steps=args.steps, refine_cameras=args.refine_cameras, depth_weight=args.depth_weight,
                           seed=args.seed, strategy=args.strategy, max_gaussians=args.max_gaussians,
                           **dict(option_value(setting) for setting in args.set))
    results = {}
    for name in args.scenes.split(","):
        scene = sample_scene(args.out, name)
        for masks in args.masks.split(","):
            run = args.out / f"{name}_{masks}_masks{'_video' if args.video else ''}"
            if not (run / "colmap" / "sparse" / "0").is_dir():
                masked_run(scene, run, masks, "video.mp4" if args.video else "frames")
                register(run, progress=False)
            runs = {f"{name}/{masks}_masks": run}
            if args.true_cameras:
                runs[f"{name}/{masks}_masks/true_cameras"] = true_camera_run(run, scene, Path(f"{run}_true_cameras"))
            for label, folder in runs.items():
                figures = train_and_time(folder, replace(options, person_depth_dir=str(
                    true_disparity(scene, folder))) if args.person_depth else options)
                figures.update({k: round(v, 2) if isinstance(v, float) else v
                                for k, v in evaluate_background(folder, scene, by_views=True, depth=True).items()})
                results[label] = figures
                if not args.json:
                    print(f"{label}: {figures}", flush=True)
    davis = DATA / "davis_parkour"
    if not args.no_davis and davis.exists():
        run = args.out / "davis_parkour"
        if not (run / "colmap" / "sparse" / "0").is_dir():
            extract_frames(davis / "frames", run, max_side=854, progress=False)
            make_masks(run, MaskOptions(masker="file", mask_dir=str(davis / "masks")), progress=False)
            register(run, progress=False)
        figures = train_and_time(run, replace(options, resolution=480, holdout_every=8))
        figures.update(heldout_psnr(run, 8))
        results["davis_parkour"] = figures
        if not args.json:
            print(f"davis_parkour: {figures}", flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
