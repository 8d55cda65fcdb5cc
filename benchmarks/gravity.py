"""Which-way-is-up benchmark: the cameras' own up and the frames' vertical edges' up (`recon/gravity.py`)
against the sample scenes' true up, and on real runs which one the register stage takes and how far apart
they are.

For each registered run with truth (benchmarks/train.py's `<scene>_true_masks` runs; the scene's world z is
up, brought into the registration's axes by the Sim(3) that aligns its cameras to the true ones) and each
real run given with `--real` (no truth: the edges' up against the cameras'), printed: `turning` (the
cameras' x axes' second singular value over the first; under `gravity.TURNING` the register stage takes
the edges'), the source the register stage takes, the angle of each up to the truth, and the angle
between them.

Usage: python benchmarks/gravity.py [--runs out/bench_train] [--real RUN ...] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from common import print_figures  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle import media
from occlurestyle.cameras import camera_up
from occlurestyle.eval.background import true_cameras
from occlurestyle.eval.metrics import align_sim3
from occlurestyle.layout import RunLayout
from occlurestyle.person_masks import read_masks
from occlurestyle.recon import gravity
from occlurestyle.recon.registration_files import read_cameras


def _degrees(a: np.ndarray, b: np.ndarray) -> float:
    return round(float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))), 3)


def figures(run: Path, scene: Path | None) -> dict:
    layout = RunLayout(run)
    cameras = read_cameras(layout.sparse)

    def frame(index: int) -> tuple[np.ndarray, np.ndarray]:
        gray = cv2.cvtColor(media.read_image(layout.frames / cameras.names[index]), cv2.COLOR_RGB2GRAY)
        return gray, read_masks(run, [cameras.names[index]], gray.shape)[0]

    taken = gravity.estimate_gravity(cameras.viewmats, cameras.Ks, frame)
    # where the register stage took the edges it has read them; elsewhere they are read for the figures
    found = ((taken.up, taken.frames_with_lines) if taken.source == "lines"
             else gravity.up_from_frames(cameras.viewmats, cameras.Ks, frame))
    from_cameras = camera_up(cameras.viewmats)
    result = {"frames": len(cameras.names), "turning": round(gravity.turning(cameras.viewmats), 3),
              "takes": taken.source,
              "edges_frames": found[1] if found else 0,
              "edges_vs_cameras_deg": _degrees(found[0], from_cameras) if found else None}
    if scene is not None:
        _, _, _, truth = true_cameras(scene)
        _, rotation, _ = align_sim3(dict(zip(cameras.names, cameras.viewmats)), truth)
        true_up = rotation.T @ np.array([0.0, 0.0, 1.0])  # the scene's world z in the registration's axes
        result["cameras_vs_truth_deg"] = _degrees(from_cameras, true_up)
        result["edges_vs_truth_deg"] = _degrees(found[0], true_up) if found else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("out/bench_train"), help="benchmarks/train.py's --out")
    parser.add_argument("--real", type=Path, nargs="*", default=[], help="registered run folders of real clips")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for name in ("living_room", "office"):
        run, scene = args.runs / f"{name}_true_masks", args.runs / "scenes" / name
        if not (run / "colmap" / "sparse" / "0").is_dir():
            print(f"skipping {name}: no registered run in {run} (run benchmarks/train.py first)")
            continue
        results[name] = figures(run, scene)
    for run in args.real:
        results[run.name] = figures(run, None)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for name, result in results.items():
            print_figures(name, result)


if __name__ == "__main__":
    main()
