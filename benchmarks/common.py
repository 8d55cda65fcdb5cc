"""Shared by the benchmarks: sample scenes at default size, run folders prepared from them, one line of figures a clip."""

from __future__ import annotations

import shutil
from pathlib import Path

from occlurestyle.stages.masks import MaskOptions, make_masks
from occlurestyle.scenes.generate import SceneConfig, make_scene, scene_is_current
from occlurestyle.stages.frames import extract_frames

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sample_scene(out: Path, name: str) -> Path:
    """`out/scenes/NAME` at default size, made once and reused."""
    scene = out / "scenes" / name
    if not scene_is_current(scene, name, SceneConfig()):
        make_scene(name, scene, SceneConfig(), progress=False, style=False, overwrite=True)
    return scene


def masked_run(scene: Path, run: Path, masks: str, source: str = "video.mp4") -> Path:
    """Frames of a sample scene (from its `video.mp4` as a user would, or its lossless `frames`) in
    `run`, with the scene's true person masks (`masks="true"`) or those of the masker named `masks`."""
    extract_frames(scene / source, run, progress=False)
    if masks == "true":
        shutil.rmtree(run / "masks", ignore_errors=True)
        shutil.copytree(scene / "masks", run / "masks")
    else:
        make_masks(run, MaskOptions(masker=masks), progress=False)
    return run


def print_figures(name: str, figures: dict) -> None:
    """One clip's figures on one line, `key=value` each."""
    print(f"{name:18s} " + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
