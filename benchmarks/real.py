"""Real-capture benchmark: every real clip in ../shared/data through `occlurestyle run` with its default
options (style: the Mondrian of ../shared/data/styles), every 8th frame held out of training.

Printed per clip:
- held-out background PSNR and SSIM over the pixels of no person, each held-out frame rendered under
  the exposure and white balance its training neighbours were learnt with (recon/appearance.py; PSNR
  in the neutral appearance too): a person is whatever the clip's true
  masks mark (the DAVIS clips annotate one person) or the run's own masks (everybody else: bystanders,
  the seated audience, sam2_bedroom's children), so a person the masker misses costs PSNR here;
- floaters: opaque splats that a held-out camera sees at less than half the depth of the nearest
  registered point in that direction (eval/floaters.py), and per thousand opaque splats;
- registration: frames registered, 3D points, mean reprojection error;
- flythrough coverage: the share of the flythrough's pixels (every 5th frame) showing a surface that at
  least two training cameras saw (in their frame, unhidden: their own depth render agrees within 5%);
  empty space (the background model's alpha below 0.5) counts as unseen; the same for the held-out
  cameras, real views of what was filmed, shows the figure can say "good";
- seconds per stage and in all;
and a contact sheet `docs/real_<clip>.jpg`: three held-out frames, each as the frame, its people (tinted
by id), the background render from its camera, final.mp4's frame and flythrough.mp4's.

To stay within 30 minutes on 2 cores, sam2_bedroom runs with `--stride 2` (100 of its 200 frames); the
DAVIS clips (100 and 90 frames) run whole. Frames come from a video, as a user's would: the DAVIS
frames are encoded to H.264 first.

A run folder whose stages are done is scored again without running them (`occlurestyle run` resumes).

Usage: python benchmarks/real.py [--clips a,b] [--out DIR] [--sheets DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import DATA, print_figures  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle import media
from occlurestyle.eval.floaters import count_floaters
from occlurestyle.eval.flythrough import flythrough_coverage
from occlurestyle.eval.metrics import psnr, ssim_map
from occlurestyle.layout import RunLayout
from occlurestyle.occlusion.masks import tint_people
from occlurestyle.pipeline import RunConfig, run_pipeline
from occlurestyle.recon.appearance import apply_appearance, read_appearance
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.recon.trainer import training_indices
from occlurestyle.render.gaussians import load_ply, render_views

CLIPS = {  # clip -> (video or frames folder, true masks folder or None, stride)
    "davis_parkour": ("frames", "masks", 1),
    "davis_dance_twirl": ("frames", "masks", 1),
    "sam2_bedroom": ("bedroom.mp4", None, 2),
}
HOLDOUT_EVERY = 8
STYLE = DATA / "styles" / "mondrian.jpg"


def clip_video(name: str, out: Path) -> Path:
    source = DATA / name / CLIPS[name][0]
    if source.is_file():
        return source
    video = out / f"{name}.mp4"
    if not video.is_file():
        out.mkdir(parents=True, exist_ok=True)
        media.write_video(video, (media.read_image(p) for p in media.list_images(source)), fps=24)
    return video


def people_masks(name: str, layout: RunLayout, names: list[str], stride: int,
                 shape: tuple[int, int]) -> list[np.ndarray]:
    """The person pixels of the run's frames `names`: the run's masks (as the masks stage wrote them)
    joined with the clip's true masks where it has them (frame NNNNNN of the run is the clip's
    NNNNNN * stride)."""
    truth_folder = CLIPS[name][1]
    truths = media.list_images(DATA / name / truth_folder) if truth_folder else []
    masks = []
    for frame_name in names:
        stem = Path(frame_name).stem
        person = media.read_gray(layout.masks / f"{stem}.png") > 0
        source = int(stem) * stride
        if source < len(truths):
            truth = media.read_gray(truths[source]) > 127
            person |= media.resize_mask(truth, shape[::-1])
        masks.append(person)
    return masks


def heldout_scores(name: str, layout: RunLayout, stride: int) -> tuple[dict, dict]:
    """Held-out PSNR / SSIM over non-person pixels, each frame rendered under the appearance (exposure,
    white balance) of its training neighbours, and PSNR in the neutral appearance; the renders by frame
    index (for the sheet)."""
    cameras = read_run_cameras(layout)
    held = np.setdiff1d(np.arange(len(cameras.names)), training_indices(len(cameras.names), HOLDOUT_EVERY))
    params = load_ply(layout.background_ply)
    views = render_views(params, torch.tensor(cameras.viewmats[held], dtype=torch.float32),
                         torch.tensor(cameras.Ks[held], dtype=torch.float32), cameras.width, cameras.height)
    shape = (cameras.height, cameras.width)
    people = people_masks(name, layout, [cameras.names[i] for i in held], stride, shape)
    appearance = read_appearance(layout.appearance)
    sq = sq_neutral = ssim_sum = count = 0.0
    renders = {}
    for k, index in enumerate(held):
        frame = media.read_image(layout.frames / cameras.names[index]).astype(np.float64) / 255.0
        neutral = views["rgb"][k].numpy().astype(np.float64)
        render = apply_appearance(neutral, appearance.get(cameras.names[index]))
        background = ~people[k]
        sq += ((render - frame) ** 2).mean(-1)[background].sum()
        sq_neutral += ((neutral - frame) ** 2).mean(-1)[background].sum()
        ssim_sum += ssim_map(render, frame)[background].sum()
        count += background.sum()
        renders[int(index)] = (render * 255).round().astype(np.uint8)
    return ({"heldout_frames": int(len(held)), "heldout_psnr": round(psnr(sq / count), 2),
             "heldout_ssim": round(float(ssim_sum / count), 3),
             "heldout_psnr_neutral": round(psnr(sq_neutral / count), 2)}, renders)


def registration(layout: RunLayout) -> dict:
    info = json.loads((layout.root / "colmap" / "registration.json").read_text())
    return {"registered": f"{info['registered']}/{info['frames']}", "points": info["points"],
            "reprojection_px": round(info["mean_reprojection_error_px"], 3)}


def video_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    capture, frames, index = cv2.VideoCapture(str(path)), {}, 0
    while len(frames) < len(indices):
        ok, frame = capture.read()
        if not ok:
            break
        if index in indices:
            frames[index] = frame[..., ::-1]
        index += 1
    capture.release()
    return frames


def sheet(layout: RunLayout, renders: dict[int, np.ndarray], path: Path, rows: int = 3, width: int = 320) -> Path:
    """Three held-out frames, one a row: frame, people, background render, final, flythrough."""
    cameras = read_run_cameras(layout)
    picks = [sorted(renders)[i] for i in np.linspace(0, len(renders) - 1, rows).round().astype(int)]
    finals = video_frames(layout.root / "final.mp4", picks)
    flights = video_frames(layout.root / "flythrough.mp4", picks)
    lines = []
    for index in picks:
        stem = Path(cameras.names[index]).stem
        frame = media.read_image(layout.frames / cameras.names[index])
        instances = layout.instances / f"{stem}.png"
        people = tint_people(frame, media.read_gray(layout.masks / f"{stem}.png") > 0,
                             media.read_gray(instances) if instances.is_file() else None)
        tiles = [frame, people, renders[index], finals.get(index), flights.get(index)]
        height = int(round(frame.shape[0] * width / frame.shape[1]))
        tiles = [cv2.resize(t, (width, height), interpolation=cv2.INTER_AREA) if t is not None
                 else np.zeros((height, width, 3), np.uint8) for t in tiles]
        cv2.putText(tiles[0], f"{index}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        lines.append(np.concatenate(tiles, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    return media.write_image(path, np.concatenate(lines, axis=0))


def run_clip(name: str, out: Path, sheets: Path) -> dict:
    stride = CLIPS[name][2]
    run = out / name
    config = RunConfig.create(clip_video(name, out), STYLE, frames={"stride": stride},
                              train={"holdout_every": HOLDOUT_EVERY})
    start = time.perf_counter()
    manifest = run_pipeline(config, run, progress=False, log=lambda message: None)
    seconds = time.perf_counter() - start
    layout = RunLayout(run)
    scores, renders = heldout_scores(name, layout, stride)
    sheet(layout, renders, sheets / f"real_{name}.jpg")
    scores.update(flythrough_coverage(layout, HOLDOUT_EVERY))
    floaters = count_floaters(layout, HOLDOUT_EVERY)
    scores.update(floaters=floaters["floaters"], floaters_per_mille=floaters["floaters_per_mille"])
    stages = {stage: round(done["seconds"], 1) for stage, done in manifest["stages"].items()}
    return {"frames": len(read_run_cameras(layout).names), **scores, **registration(layout),
            "seconds": stages, "total_s": round(sum(stages.values()), 1), "this_call_s": round(seconds, 1)}


def present_clips(clips: str) -> list[str]:
    """The comma-separated clip names that are in ../shared/data (each absent one said to be skipped);
    an unknown name stops the benchmark."""
    present = []
    for name in clips.split(","):
        if name not in CLIPS:
            raise SystemExit(f"unknown clip {name}; choose from {', '.join(CLIPS)}")
        if not (DATA / name).is_dir():
            print(f"{name}: skipped, {DATA / name} is absent")
            continue
        present.append(name)
    return present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--out", type=Path, default=Path("out/bench_real"))
    parser.add_argument("--sheets", type=Path, default=Path("docs"), help="where the contact sheets go")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for name in present_clips(args.clips):
        results[name] = run_clip(name, args.out, args.sheets)
        if not args.json:
            print_figures(name, results[name])
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
