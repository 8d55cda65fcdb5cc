"""Person-mask benchmark: IoU of the `auto` masker against ground truth, and a look at a real room.

Sample scenes (default size) and ../shared/data/davis_parkour (its runner masks) are scored; the
masks of ../shared/data/sam2_bedroom (no ground truth) are written as a contact sheet to look at.

Usage: python benchmarks/masks.py [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from occlurestyle.eval.metrics import sequence_mask_iou
from occlurestyle.occlusion.masks import MaskOptions, make_masks
from occlurestyle.scenes import io
from occlurestyle.scenes.capture import extract_frames

from common import DATA, sample_scene  # noqa: E402  (benchmarks/ is the script folder)


def score(run: Path, truth: dict[str, Path]) -> dict:
    pairs = []
    for name, gt_path in truth.items():
        pred = io.read_gray(run / "masks" / f"{name}.png") > 0
        gt = io.read_gray(gt_path) > 0
        if gt.shape != pred.shape:
            gt = cv2.resize(gt.astype(np.uint8), pred.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        pairs.append((pred, gt))
    return sequence_mask_iou(pairs)


def contact_sheet(run: Path, out: Path, picks: int = 6) -> Path:
    frames = sorted((run / "frames").glob("*.png"))
    rows = []
    for path in [frames[i] for i in np.linspace(0, len(frames) - 1, picks).astype(int)]:
        image = io.read_image(path).astype(np.float32) / 255
        mask = io.read_gray(run / "masks" / path.name) > 0
        tinted = image.copy()
        tinted[mask] = 0.4 * tinted[mask] + 0.6 * np.array([1.0, 0.0, 0.0])
        rows.append(np.concatenate([image, tinted], axis=1))
    return io.write_image(out, np.concatenate(rows, axis=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/bench_masks"))
    args = parser.parse_args()
    results = {}
    for name in ("living_room", "office"):
        scene = sample_scene(args.out, name)
        run = args.out / name
        extract_frames(scene / "video.mp4", run, progress=False)  # as a user would: from the video
        start = time.perf_counter()
        make_masks(run, MaskOptions(), progress=False)
        seconds = time.perf_counter() - start
        truth = {p.stem: p for p in sorted((scene / "masks").glob("*.png"))}
        results[name] = {**score(run, truth), "seconds": round(seconds, 1)}
    davis = DATA / "davis_parkour"
    if davis.exists():
        run = args.out / "davis_parkour"
        extract_frames(davis / "frames", run, progress=False)
        start = time.perf_counter()
        make_masks(run, MaskOptions(), progress=False)
        seconds = time.perf_counter() - start
        names = json.loads((run / "frames.json").read_text())["frames"]
        truth = {f["name"]: davis / "masks" / f"{f['source']}.png" for f in names}
        results["davis_parkour"] = {**score(run, truth), "seconds": round(seconds, 1)}
    bedroom = DATA / "sam2_bedroom"
    if bedroom.exists():
        run = args.out / "sam2_bedroom"
        extract_frames(bedroom / "bedroom.mp4", run, stride=2, progress=False)
        start = time.perf_counter()
        make_masks(run, MaskOptions(), progress=False)
        results["sam2_bedroom"] = {"seconds": round(time.perf_counter() - start, 1),
                                   "contact_sheet": str(contact_sheet(run, args.out / "sam2_bedroom_masks.png"))}
    for key in ("iou", "mean_frame_iou"):
        for r in results.values():
            if key in r:
                r[key] = round(float(r[key]), 3)
    if args.json:
        print(json.dumps(results))
    else:
        for name, r in results.items():
            print(f"{name:14s} " + "  ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
