"""Time `scene make` for every sample scene at its default size and print the figures: seconds, and
how many frames show people, people partly hidden by furniture, and people hiding furniture.

Usage: python benchmarks/scenes.py [--frames 90] [--people real|capsule] [--sheet docs/sample_people.jpg] [--json]

`--sheet` also writes a contact sheet of 6 frames per scene: frame, true mask, true background.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from occlurestyle import media
from occlurestyle.scenes.generate import SampleScene, SceneConfig, make_scene
from occlurestyle.scenes.rooms import SCENES

FLAT = {"floor", "ceiling", "wall_north", "wall_south", "wall_east", "wall_west", "rug", "picture", "whiteboard"}


def occlusion_stats(name: str, config: SceneConfig) -> dict:
    """How often people are partly hidden by furniture and how often they hide it."""
    scene = SampleScene(name, SceneConfig(**{**config.__dict__, "supersample": 1}))
    furniture = [i + 1 for i, label in enumerate(scene.room.labels) if label not in FLAT]
    partly_hidden = hiding = visible = 0
    for i in range(config.frames):
        r = scene.render(i)
        on_furniture = np.isin(r["semantics"], furniture)
        visible += r["mask"].any()
        hiding += np.count_nonzero(r["mask"] & on_furniture) >= 20
        partly_hidden += any(
            np.count_nonzero(r["instances"] == k) >= 20
            and np.count_nonzero((r["person_on_ray"] == k) & ~r["mask"] & on_furniture) >= 20
            for k in range(1, len(scene.room.walkers) + 1)
        )
    return {"frames_with_people": int(visible), "frames_person_partly_hidden": int(partly_hidden),
            "frames_person_hides_furniture": int(hiding)}


def contact_rows(folder: Path, count: int = 6) -> np.ndarray:
    """`count` evenly spaced frames of a written scene, each as frame | mask | background."""
    frames = sorted((folder / "frames").glob("*.png"))
    rows = []
    for path in [frames[round(i)] for i in np.linspace(0, len(frames) - 1, count)]:
        mask = media.read_gray(folder / "masks" / path.name)
        rows.append(np.concatenate([media.read_image(path), np.repeat(mask[..., None], 3, 2),
                                    media.read_image(folder / "background" / path.name)], axis=1))
    return np.concatenate(rows, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--people", choices=["real", "capsule"], default="real")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet (jpg) of every scene here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results, sheets = {}, []
    for name in sorted(SCENES):
        config = SceneConfig(frames=args.frames, people=args.people)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            make_scene(name, Path(tmp) / name, config, progress=False)
            seconds = time.perf_counter() - start
            if args.sheet:
                sheets.append(contact_rows(Path(tmp) / name))
        results[name] = {"make_seconds": round(seconds, 2), **occlusion_stats(name, config)}
    if args.sheet:
        sheet = np.concatenate(sheets, axis=1)
        media.write_image(args.sheet, cv2.resize(sheet, (sheet.shape[1] * 2 // 3, sheet.shape[0] * 2 // 3),
                                              interpolation=cv2.INTER_AREA))
    if args.json:
        print(json.dumps(results))
    else:
        for name, r in results.items():
            print(f"{name:12s} " + "  ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
