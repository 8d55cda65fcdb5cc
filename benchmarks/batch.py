"""Batch benchmark: wall time of 4 small captures (the living room and the office at two seeds each,
48 frames at 240×180, capsule people, true masks, 1,000 training steps, one style each) run one task
after another (`--engine local`, every core to each task) against side by side on a local Ray
(`--engine ray`, each task on the cores it asks for), on this machine; and the time per stage, which
the arithmetic for N machines in docs/batch.md is built on.

Usage: python benchmarks/batch.py [--out DIR] [--captures 4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from common import print_figures  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle.batch.engines import engine
from occlurestyle.batch.run import run_batch
from occlurestyle.batch.spec import read_spec
from occlurestyle.batch.tasks import PER_STYLE, SHARED
from occlurestyle.scenes.generate import SceneConfig, make_scene, scene_is_current

OPTIONS = {"train.steps": "1000", "render.flythrough": "orbit"}


def captures(out: Path, count: int) -> Path:
    """`out/spec.yaml` over `count` small sample captures (made once)."""
    entries = []
    for i in range(count):
        name, seed = ("living_room", "office")[i % 2], i // 2
        scene = out / "scenes" / f"{name}_{seed}"
        config = SceneConfig(frames=48, width=240, height=180, seed=seed, people="capsule")
        if not scene_is_current(scene, name, config):
            make_scene(name, scene, config, progress=False, overwrite=True)
        entries.append({"video": str(scene / "video.mp4"), "name": f"{name}_{seed}",
                        "styles": [{"image": str(scene / "style" / "style.png"),
                                    "labels": str(scene / "style" / "labels.png")}],
                        "options": {"masks.masker": "file", "masks.mask_dir": str(scene / "masks")}})
    spec = out / "spec.yaml"
    spec.write_text(json.dumps({"captures": entries}, indent=1))  # JSON is YAML
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/bench_batch"))
    parser.add_argument("--captures", type=int, default=4)
    args = parser.parse_args()
    spec = captures(args.out, args.captures)
    walls, stage_seconds = {}, {}
    for name in ("local", "ray"):
        folder = args.out / name
        shutil.rmtree(folder, ignore_errors=True)
        runner = engine(name)
        start = time.perf_counter()
        try:
            states = run_batch(read_spec(spec, overrides=OPTIONS), folder, runner, OPTIONS, evaluate=False,
                               progress=False, say=lambda _: None)
        finally:
            runner.close()
        walls[name] = time.perf_counter() - start
        assert all(s.status == "done" for s in states.values()), [s.error for s in states.values()]
        for state in states.values():
            for stage, seconds in state.seconds.items():
                stage_seconds.setdefault(name, {}).setdefault(stage, []).append(seconds)
    print_figures("wall", {f"{k}_s": f"{v:.1f}" for k, v in walls.items()} |
                  {"speedup": f"{walls['local'] / walls['ray']:.2f}"})
    for name, stages in stage_seconds.items():
        mean = {stage: sum(v) / len(v) for stage, v in stages.items()}
        print_figures(f"per capture, {name}", {s: f"{mean[s]:.1f}" for s in (*SHARED, *PER_STYLE) if s in mean}
                      | {"shared_s": f"{sum(mean.get(s, 0) for s in SHARED):.1f}",
                         "per_style_s": f"{sum(mean.get(s, 0) for s in PER_STYLE):.1f}"})


if __name__ == "__main__":
    main()
