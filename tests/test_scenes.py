"""Sample scenes: ground truth that is consistent with itself and with the cameras."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occlurestyle import cameras as cam
from occlurestyle import media
from occlurestyle.scenes.cutouts import data_folders, default_clips
from occlurestyle.scenes.generate import FRAME_FOLDERS, SampleScene, SceneConfig

SHELL = {"floor", "ceiling", "wall_north", "wall_south", "wall_east", "wall_west"}
FLAT = SHELL | {"rug", "picture", "whiteboard"}


@pytest.fixture(scope="module", params=[("living_room", "capsule"), ("office", "capsule"), ("living_room", "real"),
                                        ("office", "real")], ids=lambda p: "-".join(p))
def rendered(request):
    """Every frame of a scene's default path, at low resolution, with all ground-truth layers."""
    name, people = request.param
    if people == "real" and not default_clips():
        pytest.skip(f"real people are cut from ../shared/data's clips, absent here (looked in {data_folders()})")
    scene = SampleScene(name, SceneConfig(width=120, height=90, supersample=1, people=people))
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
    config = SceneConfig(frames=3, width=48, height=36, people="capsule")
    a = SampleScene("office", config).render(2)
    b = SampleScene("office", config).render(2)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    c = SampleScene("office", SceneConfig(frames=3, width=48, height=36, seed=1, people="capsule")).render(2)
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
    assert media.video_info(d / "video.mp4")["frames"] == n
    frame = media.read_image(d / "frames" / "000003.png")
    assert frame.shape == (72, 96, 3)
    mask = media.read_gray(d / "masks" / "000003.png")
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

    style_labels = media.read_gray(d / "style" / "labels.png")
    names = {c["id"]: c["name"] for c in json.loads((d / "style" / "labels.json").read_text())["classes"]}
    present = {names[i] for i in np.unique(style_labels) if i}
    assert {"floor", "ceiling", "sofa", "table"} <= present


def test_ray_cast_hits_project_back_onto_their_pixels(small_scene_dir):
    """Hits computed by the renderer, re-projected with cameras.json alone, land on the pixel centre."""
    cameras = json.loads((small_scene_dir / "cameras.json").read_text())
    K = np.array(cameras["K"])
    W, H = cameras["width"], cameras["height"]
    scene = SampleScene("living_room", SceneConfig(frames=12, width=W, height=H, people="capsule"))
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


@pytest.fixture(scope="module")
def real_living_room(shared_data):
    shared_data("davis_parkour"), shared_data("davis_dance_twirl")
    return SampleScene("living_room", SceneConfig(width=240, height=180, people="real"))


def test_a_cutout_shows_the_clips_own_pixels_where_the_person_is_visible(real_living_room):
    """Inside each visible cut-out the frame's colours are the clip's at the mapped pixel, up to the
    room's shading: same chromaticity, same pattern (a mirrored, shifted or wrong-frame sprite fails)."""
    import cv2

    scene = real_living_room
    checked = 0
    for index in (20, 45, 70):
        r = scene.render(index)
        inside = cv2.erode(r["mask"].astype(np.uint8), np.ones((5, 5), np.uint8)).reshape(-1) > 0
        for board, pixels, source_xy in scene.cutout_sources(index):
            keep = inside[pixels]
            if keep.sum() < 150:
                continue
            clip_frame = media.read_image(next((board.sprite.clip / "frames").glob(f"*{board.sprite.source:05d}.*")))
            clip_frame = cv2.GaussianBlur(clip_frame.astype(np.float32) / 255, (0, 0), 1.0)
            x, y = source_xy[keep].T.astype(np.float32)
            clip_rgb = cv2.remap(clip_frame, x[None], y[None], cv2.INTER_LINEAR)[0]
            frame_rgb = r["rgb"].reshape(-1, 3)[pixels[keep]]
            chroma = lambda c: c / (c.sum(1, keepdims=True) + 1e-3)  # noqa: E731
            assert np.abs(chroma(frame_rgb) - chroma(clip_rgb)).mean() < 0.03, (index, board.instance)
            luma_f, luma_c = frame_rgb.mean(1), clip_rgb.mean(1)
            assert np.corrcoef(luma_f, luma_c)[0, 1] > 0.8, (index, board.instance)
            checked += 1
    assert checked >= 4


def test_a_real_person_stands_still_for_two_seconds_and_the_others_walk(real_living_room):
    scene = real_living_room
    fps = scene.config.fps
    people = [scene.people_ground_truth(i) for i in range(scene.config.frames)]
    still = [k for k in range(len(people[0]))
             if len({(tuple(f[k]["floor_xy"]), f[k]["clip_frame"]) for f in people[: int(2 * fps) + 1]}) == 1]
    assert still, "someone stands still, in the same pose, for two seconds"
    walking = [k for k in range(len(people[0])) if k not in still]
    for k in walking:
        assert len({f[k]["clip_frame"] for f in people}) > 20, "a walker's pose follows the clip's frames"
        assert np.linalg.norm(np.subtract(people[-1][k]["floor_xy"], people[0][k]["floor_xy"])) > 0.5
    assert all(1.5 <= f[k]["height"] <= 1.9 for f in people for k in range(len(f)))


def test_real_people_need_clips_with_masks_and_say_where_to_get_them(tmp_path, monkeypatch, caplog):
    from occlurestyle.errors import InputError
    from occlurestyle.scenes import cutouts
    from occlurestyle.scenes.generate import choose_people

    (tmp_path / "clip" / "frames").mkdir(parents=True)
    with pytest.raises(InputError, match="masks/"):
        SampleScene("office", SceneConfig(frames=2, people="real", people_clips=(str(tmp_path / "clip"),)))
    monkeypatch.setattr(cutouts, "data_folders", lambda: [tmp_path / "nowhere"])
    with pytest.raises(InputError, match="--people capsule"):
        SampleScene("office", SceneConfig(frames=2, people="real"))
    with caplog.at_level("WARNING", logger="occlurestyle"):
        assert choose_people(None) == "capsule"
    assert "capsule bodies" in caplog.text
    assert choose_people(None, (str(tmp_path / "clip"),)) == "real" and choose_people("capsule") == "capsule"
