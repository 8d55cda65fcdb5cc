"""Shared fixtures: small renders of the sample scenes, made once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """`shared_data(name)`: path to a real clip in ../shared/data, or skip the test saying why."""

    def locate(name: str) -> Path:
        path = SHARED_DATA / name
        if not path.exists():
            pytest.skip(f"real test data {path} is not present on this machine")
        return path

    return locate


@pytest.fixture(scope="session")
def small_scene_dir(tmp_path_factory) -> Path:
    """The living room written to disk at a small size (all files), shared by tests that read files."""
    from occlurestyle.scenes.generate import SceneConfig, make_scene

    out = tmp_path_factory.mktemp("scenes") / "living_room"
    config = SceneConfig(frames=12, width=96, height=72, people="capsule")
    make_scene("living_room", out, config, progress=False, workers=2)
    return out


def make_true_run(run: Path, name: str = "living_room", width: int = 160, height: int = 120, stride: int = 3,
                  points: int = 3000, frames: int = 90, keypoints: bool = False) -> tuple[Path, object]:
    """A run folder registered with the sample scene's true cameras and surface points (no SfM):
    frames/ (with people), masks/ (true), colmap/sparse/0 (text model), colmap/points.ply. With
    `keypoints`, each frame observes the points it sees unhidden (as SfM tracks would), and its true
    depth, people included, is kept in true_depth/<stem>.npy.
    Returns the run path and the SampleScene (for ground truth)."""
    import numpy as np
    from plyfile import PlyData, PlyElement

    from occlurestyle import media
    from occlurestyle.cameras import write_colmap_text
    from occlurestyle.scenes.generate import SampleScene, SceneConfig
    from occlurestyle.scenes.surface import sample_surface

    scene = SampleScene(name, SceneConfig(frames=frames, width=width, height=height, people="capsule"))
    names, viewmats, seen_by_frame = [], [], []
    for i in range(0, frames, stride):
        render = scene.render(i)
        stem = f"{i:06d}"
        if keypoints:
            seen_by_frame.append((render["depth"], render["mask"]))
            (run / "true_depth").mkdir(parents=True, exist_ok=True)
            np.save(run / "true_depth" / f"{stem}.npy", render["depth"])
        media.write_image(run / "frames" / f"{stem}.png", render["rgb"])
        media.write_image(run / "masks" / f"{stem}.png", render["mask"].astype(np.uint8) * 255)
        names.append(f"{stem}.png")
        viewmats.append(scene.viewmats[i])
    surface = sample_surface(scene, points, seed=0)
    colors = (surface["colors"] * 255).astype(np.uint8)
    observations = None
    if keypoints:
        from occlurestyle.cameras import project

        observations = []
        for (depth, mask), viewmat in zip(seen_by_frame, viewmats):
            uv, z = project(surface["points"], scene.K, viewmat)
            u, v = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
            seen = (z > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
            seen[seen] = (np.abs(depth[v[seen], u[seen]] - z[seen]) < 0.01 * z[seen]) & ~mask[v[seen], u[seen]]
            observations.append((uv[seen], np.flatnonzero(seen)))
    write_colmap_text(run / "colmap" / "sparse" / "0", scene.K, width, height, names, viewmats,
                      surface["points"], colors, observations)
    vertex = np.empty(len(colors), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"),
                                          ("blue", "u1")])
    for i, axis in enumerate("xyz"):
        vertex[axis] = surface["points"][:, i]
    for i, channel in enumerate(("red", "green", "blue")):
        vertex[channel] = colors[:, i]
    PlyData([PlyElement.describe(vertex, "vertex")]).write(str(run / "colmap" / "points.ply"))
    return run, scene


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under `folder`: what a test that writes there changes."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A whole run (every stage) of a small living room with true masks: (run, scene, config, logs).
    Shared read-only by the pipeline and evaluation tests (a test that changes a run takes `own_run`);
    the session fails at teardown if a test wrote into it, since later tests would then see its changes."""
    from occlurestyle.pipeline import RunConfig, run_pipeline
    from occlurestyle.scenes.generate import SceneConfig, make_scene

    root = tmp_path_factory.mktemp("pipeline")
    scene_config = SceneConfig(frames=30, width=160, height=120, people="capsule")
    scene = make_scene("living_room", root / "scene", scene_config, progress=False, workers=2)
    config = RunConfig.create(scene / "video.mp4", scene / "style" / "style.png", scene / "style" / "labels.png",
                              masks={"masker": "file", "mask_dir": str(scene / "masks")},
                              train={"steps": 500, "max_gaussians": 30_000}, render={"flythrough": "orbit"},
                              stylize={"keep_structure": 0.0})  # regions without a material: one fit, not five
    logs = []
    run_pipeline(config, root / "run", progress=False, log=logs.append)
    before = _snapshot(root)
    yield root / "run", scene, config, logs
    changed = sorted(set(before.items()) ^ set(_snapshot(root).items()))
    assert not changed, f"a test changed the shared run (copy it with the own_run fixture): {changed[:3]}"


@pytest.fixture
def own_run(small_run, tmp_path):
    """A private copy of `small_run`'s run folder, for a test that re-runs or changes it: (run, scene, config)."""
    run, scene, config, _ = small_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy, scene, config
