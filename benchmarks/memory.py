"""Memory benchmark: the peak resident memory of every stage on a long clip, which must stay bounded by the
model and a window of frames, not grow with the clip (issue: 1,800 frames at 640x480 under 6 GB).

The clip: the living room rendered at the given size (90 frames), played back and forth until it is
`--frames` long (no jump in the camera path), written as an H.264 video beside its ground truth (true
masks, person-free frames, cameras), so the evaluation measures everything it does on a sample scene. Stages as `occlurestyle run` chains them, in one process, each stage's peak taken
from the kernel (VmHWM, reset between stages through /proc/self/clear_refs), then the evaluation with
both 2D baselines the same way.

What is substituted, and why: the masks are the scene's true masks (the `file` masker), and the
registration is the scene's true cameras and surface points written as the COLMAP model, because the
`auto` masker's quick SfM and COLMAP's incremental mapper on 1,800 frames take hours on 2 cores. Their
memory is COLMAP's (its database is on disk); `--register colmap` runs the real registration (and
`--masker auto` the auto masker) to measure them on a shorter clip. Training runs `--train-steps`
(memory does not depend on the step count).

Usage: python benchmarks/memory.py [--frames 1800] [--size 640x480] [--train-steps 300] [--out DIR]
                                   [--masker file|auto] [--register true|colmap] [--no-eval] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from occlurestyle import media
from occlurestyle.cameras import write_colmap_text
from occlurestyle.eval.evaluate import evaluate_run
from occlurestyle.layout import RunLayout
from occlurestyle.pipeline import STAGES, RunConfig, run_pipeline
from occlurestyle.recon.registration_files import write_transforms
from occlurestyle.scenes.generate import SampleScene, SceneConfig, make_scene
from occlurestyle.scenes.surface import sample_surface


def peak_mb() -> float:
    """The process's peak resident memory since the last reset (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def looped_clip(scene_dir: Path, out: Path, frames: int) -> tuple[Path, list[int]]:
    """The scene's frames played back and forth to `frames` frames, as `out` made a sample scene of its own
    (video.mp4, and as ground truth, linked to the scene's: masks/, background/, cameras.json), and the
    scene frame each of its frames shows."""
    count = len(list((scene_dir / "frames").glob("*.png")))
    cycle = list(range(count)) + list(range(count - 2, 0, -1))
    order = [cycle[i % len(cycle)] for i in range(frames)]
    if not (out / "video.mp4").is_file():
        for folder in ("masks", "background"):
            (out / folder).mkdir(parents=True, exist_ok=True)
            for i, source in enumerate(order):
                (out / folder / f"{i:06d}.png").symlink_to((scene_dir / folder / f"{source:06d}.png").resolve())
        cameras = json.loads((scene_dir / "cameras.json").read_text())
        cameras["frames"] = [{**cameras["frames"][source], "name": f"{i:06d}.png"} for i, source in enumerate(order)]
        (out / "cameras.json").write_text(json.dumps(cameras))
        media.write_video(out / "video.mp4", (media.read_image(scene_dir / "frames" / f"{order[i]:06d}.png")
                                           for i in range(frames)), fps=30)
    return out / "video.mp4", order


def register_with_true_cameras(layout: RunLayout, scene: SampleScene, order: list[int], points: int = 20000) -> None:
    """The registration stage's outputs (COLMAP model, points.ply, transforms.json) from the scene's true
    cameras and surface points."""
    import pycolmap

    names = [p.name for p in layout.frame_paths()]
    surface = sample_surface(scene, points, seed=0)
    colors = (surface["colors"] * 255).astype(np.uint8)
    write_colmap_text(layout.sparse, scene.K, scene.config.width, scene.config.height, names,
                      [scene.viewmats[i] for i in order], surface["points"], colors)
    vertex = np.empty(len(colors), dtype=[(a, "f4") for a in "xyz"] + [(c, "u1") for c in ("red", "green", "blue")])
    for i, axis in enumerate("xyz"):
        vertex[axis] = surface["points"][:, i]
    for i, channel in enumerate(("red", "green", "blue")):
        vertex[channel] = colors[:, i]
    PlyData([PlyElement.describe(vertex, "vertex")]).write(str(layout.points_ply))
    model = pycolmap.Reconstruction()
    model.read_text(str(layout.sparse))
    write_transforms(layout, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1800)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--masker", choices=("file", "auto"), default="file")
    parser.add_argument("--register", choices=("true", "colmap"), default="true")
    parser.add_argument("--out", type=Path, default=Path("out/bench_memory"))
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    scene_dir = args.out / f"scene_{width}x{height}"
    if not (scene_dir / "video.mp4").is_file():
        print(f"rendering the living room at {width}x{height}...", flush=True)
        make_scene("living_room", scene_dir, SceneConfig(width=width, height=height), overwrite=True, progress=False)
    clip_dir = args.out / f"clip_{args.frames}_{width}x{height}"
    video, order = looped_clip(scene_dir, clip_dir, args.frames)
    scene = SampleScene("living_room", SceneConfig(width=width, height=height))
    run = args.out / f"run_{args.frames}_{width}x{height}_{args.masker}_{args.register}"
    shutil.rmtree(run, ignore_errors=True)
    config = RunConfig.create(video, scene_dir / "style" / "style.png", scene_dir / "style" / "labels.png",
                              masks={"masker": args.masker,
                                     "mask_dir": str(clip_dir / "masks") if args.masker == "file" else None},
                              frames={"max_side": max(width, height)}, train={"steps": args.train_steps})

    peaks, seconds = {}, {}
    register_stage = STAGES["register"]
    real_register = register_stage.run
    if args.register == "true":
        register_stage.run = lambda layout, options, progress: register_with_true_cameras(layout, scene, order)

    def log(line: str) -> None:
        print(line, flush=True)
        name = line[1:line.index("]")]
        if line.endswith("running"):
            reset_peak()
            seconds[name] = time.perf_counter()
        elif line.endswith(" s") and name in seconds:
            seconds[name] = time.perf_counter() - seconds[name]
            peaks[name] = peak_mb()

    try:
        run_pipeline(config, run, progress=False, log=log)
    finally:
        register_stage.run = real_register
    if not args.no_eval:
        reset_peak()
        start = time.perf_counter()
        evaluate_run(run, scene_dir=clip_dir, progress=False)
        seconds["eval"], peaks["eval"] = time.perf_counter() - start, peak_mb()
    print(f"\n{args.frames} frames at {width}x{height}, masker {args.masker}, registration {args.register}, "
          f"{args.train_steps} training steps")
    print(f"{'stage':10s} {'seconds':>8s} {'peak MB':>8s}")
    for name in peaks:
        print(f"{name:10s} {seconds[name]:8.0f} {peaks[name]:8.0f}")
    print(f"{'largest':10s} {'':8s} {max(peaks.values()):8.0f}")
    if args.json:
        print(json.dumps({"frames": args.frames, "size": [width, height], "seconds": seconds, "peak_mb": peaks}))


if __name__ == "__main__":
    main()
