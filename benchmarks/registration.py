"""Registration benchmark: frames registered, pose error against the true cameras, and timings.

Sample scenes at default size, registered from their video with (a) the true person masks and
(b) the `auto` masker's masks; ../shared/data/davis_parkour with its masks.

Usage: python benchmarks/registration.py [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import DATA, masked_run, sample_scene  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle.eval.background import true_cameras
from occlurestyle.eval.metrics import pose_errors
from occlurestyle.recon.colmap import register
from occlurestyle.recon.registration_files import read_cameras
from occlurestyle.stages.frames import extract_frames
from occlurestyle.stages.masks import MaskOptions, make_masks


def summary(run: Path, seconds: float) -> dict:
    info = json.loads((run / "colmap" / "registration.json").read_text())
    return {"registered": f"{info['registered']}/{info['frames']}", "points": info["points"],
            "reprojection_px": round(info["mean_reprojection_error_px"], 3),
            **{k: round(v, 1) for k, v in info["timings_s"].items()}, "total_s": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/bench_registration"))
    args = parser.parse_args()
    results = {}
    for name in ("living_room", "office"):
        scene = sample_scene(args.out, name)
        truth = true_cameras(scene)[3]
        room = max(json.loads((scene / "scene.json").read_text())["room_size"])
        for masks in ("true", "auto"):
            run = args.out / f"{name}_{masks}_masks"
            masked_run(scene, run, masks)
            start = time.perf_counter()
            register(run, progress=False)
            seconds = time.perf_counter() - start
            est = read_cameras(run / "colmap" / "sparse" / "0")
            err = pose_errors(dict(zip(est.names, est.viewmats)), truth)
            results[f"{name} ({masks} masks)"] = {
                **summary(run, seconds),
                "position_err_max_pct_room": round(100 * err["position_error_max"] / room, 2),
                "rotation_err_max_deg": round(err["rotation_error_max_deg"], 3),
            }
    davis = DATA / "davis_parkour"
    if davis.exists():
        run = args.out / "davis_parkour"
        extract_frames(davis / "frames", run, max_side=854, progress=False)
        make_masks(run, MaskOptions(masker="file", mask_dir=str(davis / "masks")), progress=False)
        start = time.perf_counter()
        register(run, progress=False)
        results["davis_parkour (its masks)"] = summary(run, time.perf_counter() - start)
    if args.json:
        print(json.dumps(results))
    else:
        for name, r in results.items():
            print(f"{name:28s} " + "  ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
