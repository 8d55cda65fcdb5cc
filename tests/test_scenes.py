"""Sample scenes: ground truth that is consistent with itself and with the cameras."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occlurestyle import cameras as cam
from occlurestyle.scenes import io
from occlurestyle.scenes.generate import FRAME_FOLDERS, SampleScene, SceneConfig

SHELL = {"floor", "ceiling", "wall_north", "wall_south", "wall_east", "wall_west"}
FLAT = SHELL | {"rug", "picture", "whiteboard"}


@pytest.fixture(scope="module", params=["living_room", "office"])
def rendered(request):
    """Every frame of a scene's default path, at low resolution, with all ground-truth layers."""
    scene = SampleScene(request.param, SceneConfig(width=120, height=90, supersample=1))
    return scene, [scene.render(i) for i in range(scene.config.frames)]


def test_mask_is_exactly_where_a_person_is_in_front_of_the_background(rendered):
    scene, frames = rendered
    with_people = 0
    for r in frames:
        expected = r["person_depth"] < r["background_depth"]
        assert np.array_equal(r["mask"], expected)
        assert np.array_equal(r["instances"] > 0, r["mask"])
        assert np.allclose(r["depth"], np.minimum(r["person_depth"], r["background_depth"]))
        with_people += r["mask"].any()
    assert with_people >= 0.8 * len(frames), "people are in view in most frames"


def test_every_camera_is_inside_the_room_and_sees_it(rendered):
    scene, frames = rendered
    W, D, H = scene.room.size
    furniture = [p for p in scene.room.parts if p.label not in SHELL]
    for viewmat, r in zip(scene.viewmats, frames):
        c = cam.camera_center(viewmat)
        assert 0.2 < c[0] < W - 0.2 and 0.2 < c[1] < D - 0.2 and 0.2 < c[2] < H - 0.2
        for part in furniture:
            local = part.to_local(c[None])[0]
            extent = np.asarray(part.dims[:3] if part.kind == "box" else (9, 9, 9)) / 2
            if part.kind == "box":
                assert not np.all(np.abs(local) < extent + 0.1), f"camera inside {part.name}"
        assert np.isfinite(r["background_depth"]).all(), "every pixel sees a room surface"
        assert r["background_depth"].min() > 0.3, "no surface closer than 30 cm (not inside a wall)"
        labels = {scene.room.labels[i - 1] for i in np.unique(r["semantics"]) if i}
        assert "floor" in labels and any(label.startswith("wall_") for label in labels)


def test_people_are_partly_hidden_by_furniture_and_hide_furniture(rendered):
    scene, frames = rendered
    furniture_ids = [i + 1 for i, label in enumerate(scene.room.labels) if label not in FLAT]
    partly_hidden = hiding = 0
    for r in frames:
        on_furniture = np.isin(r["semantics"], furniture_ids)
        hiding += np.count_nonzero(r["mask"] & on_furniture) >= 20
        for person in range(1, len(scene.room.walkers) + 1):
            visible = np.count_nonzero(r["instances"] == person)
            hidden = np.count_nonzero((r["person_on_ray"] == person) & ~r["mask"] & on_furniture)
            partly_hidden += visible >= 20 and hidden >= 20
    assert partly_hidden >= 5, "someone is partly hidden behind furniture in several frames"
    assert hiding >= 5, "someone hides furniture in several frames"


def test_same_seed_same_scene_other_seed_other_scene():
    config = SceneConfig(frames=3, width=48, height=36)
    a = SampleScene("office", config).render(2)
    b = SampleScene("office", config).render(2)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    c = SampleScene("office", SceneConfig(frames=3, width=48, height=36, seed=1)).render(2)
    assert np.abs(a["rgb"] - c["rgb"]).mean() > 0.01


def test_written_scene_has_every_file_and_consistent_cameras(small_scene_dir):
    d = small_scene_dir
    n = 12
    for sub in FRAME_FOLDERS:
        ext = ".npy" if "depth" in sub else ".png"
        assert sorted(p.name for p in (d / sub).iterdir()) == [f"{i:06d}{ext}" for i in range(n)], sub
    for name in ("cameras.json", "semantics.json", "people.json", "scene.json", "video.mp4",
                 "colmap_gt/cameras.txt", "colmap_gt/images.txt", "colmap_gt/points3D.txt",
                 "style/style.png", "style/labels.png", "style/labels.json"):
        assert (d / name).is_file(), name
    assert not [p for p in d.parent.iterdir() if "partial" in p.name], "no temporary folder left behind"

    cameras = json.loads((d / "cameras.json").read_text())
    assert io.video_info(d / "video.mp4")["frames"] == n
    frame = io.read_image(d / "frames" / "000003.png")
    assert frame.shape == (72, 96, 3)
    mask = io.read_gray(d / "masks" / "000003.png")
    assert set(np.unique(mask)) <= {0, 255}

    import pycolmap

    rec = pycolmap.Reconstruction()
    rec.read_text(str(d / "colmap_gt"))
    assert rec.num_images() == n
    K = np.array(cameras["K"])
    for image in rec.images.values():
        viewmat = np.array(cameras["frames"][int(image.name[:6])]["viewmat"])
        assert np.allclose(image.cam_from_world().matrix(), viewmat[:3], atol=1e-6)
        assert np.allclose(rec.cameras[image.camera_id].calibration_matrix(), K, atol=1e-6)

    style_labels = io.read_gray(d / "style" / "labels.png")
    names = {c["id"]: c["name"] for c in json.loads((d / "style" / "labels.json").read_text())["classes"]}
    present = {names[i] for i in np.unique(style_labels) if i}
    assert {"floor", "ceiling", "sofa", "table"} <= present


def test_ray_cast_hits_project_back_onto_their_pixels(small_scene_dir):
    """Hits computed by the renderer, re-projected with cameras.json alone, land on the pixel centre."""
    cameras = json.loads((small_scene_dir / "cameras.json").read_text())
    K = np.array(cameras["K"])
    W, H = cameras["width"], cameras["height"]
    scene = SampleScene("living_room", SceneConfig(frames=12, width=W, height=H))
    rng = np.random.default_rng(0)
    for index in (0, 7, 11):
        viewmat = np.array(cameras["frames"][index]["viewmat"])
        rays = cam.pixel_rays(scene.K, scene.viewmats[index], W, H).reshape(-1, 6)
        t_hit, _ = scene._static.cast(rays)
        pick = rng.choice(W * H, 200, replace=False)
        points = rays[pick, :3] + rays[pick, 3:] * t_hit[pick, None]
        uv, z = cam.project(points.astype(np.float64), K, viewmat)
        rows, cols = np.divmod(pick, W)
        assert np.allclose(uv, np.stack([cols + 0.5, rows + 0.5], 1), atol=2e-3)
        depth = np.load(small_scene_dir / "background_depth" / f"{index:06d}.npy")
        assert np.allclose(z, depth[rows, cols], rtol=1e-4)
