"""Shared fixtures: small renders of the sample scenes, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
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
    make_scene("living_room", out, SceneConfig(frames=12, width=96, height=72), progress=False, workers=2)
    return out
