"""The run end to end on a small sample scene: depth order against ground truth, no leakage onto people,
re-run skips, changed options re-run what they affect, bad inputs fail early; plus camera paths,
compositing and person depth on their own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occlurestyle.cameras import look_at
from occlurestyle.errors import InputError
from occlurestyle.occlusion.depth_order import composite, depth_visibility
from occlurestyle.occlusion.people import alpha_matte, contact_depth, person_layers
from occlurestyle.occlusion.shadows import contact_shading
from occlurestyle.pipeline import RunConfig, run_pipeline, stage_hashes
from occlurestyle.render.paths import PATHS, camera_path


def test_contact_depth_meets_the_floor():
    K = np.array([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])
    # camera 1.5 m above a floor z = 0, looking horizontally along +y (world z up)
    viewmat = look_at(np.array([0.0, 0.0, 1.5]), np.array([0.0, 5.0, 1.5]), np.array([0.0, 0.0, 1.0]))
    depth_true = 4.0  # a foot 4 m ahead on the floor projects 1.5/4·f below the centre
    v = 60 + 100 * 1.5 / depth_true
    depth = contact_depth(np.array([[80.0, v], [82.0, v]]), K, viewmat, np.array([0.0, 0.0, 1.0]), 0.0)
    assert depth == pytest.approx(depth_true, rel=1e-6)
    assert contact_depth(np.array([[80.0, 30.0]]), K, viewmat, np.array([0.0, 0.0, 1.0]), 0.0) is None


def test_a_person_standing_on_a_bed_is_placed_on_it_not_on_the_floor_behind():
    K = np.array([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])
    viewmat = look_at(np.array([0.0, 0.0, 1.5]), np.array([0.0, 5.0, 1.5]), np.array([0.0, 0.0, 1.0]))
    v, u = np.mgrid[:120, :160] + 0.5
    slope = (v - 60) / 100  # camera looks along +y: a ray drops `slope` metres per metre of depth
    with np.errstate(divide="ignore"):
        floor, bed = 1.5 / slope, 1.0 / slope  # depth where each ray meets the floor / the bed top (0.5 m)
    depth = np.where(slope > 0, floor, np.inf)
    depth = np.where((slope > 0) & (bed >= 3) & (bed <= 5), bed, depth).clip(max=8.0).astype(np.float32)  # wall at 8 m
    feet_row = int(60 + 100 * 1.0 / 4.0)  # feet on the bed top, 4 m ahead
    mask = np.zeros((120, 160), bool)
    mask[feet_row - 40:feet_row, 75:86] = True
    frame = np.zeros((120, 160, 3), np.uint8)
    _, _, records = person_layers([frame], [mask], K[None], viewmat[None], (np.array([0.0, 0.0, 1.0]), 0.0), [depth])
    person = records[0][0]
    assert person["floor_depth"] > 5.5 and not person["feet_on_floor"]  # the ray through the feet meets the floor far behind
    assert person["standing_depth"] == pytest.approx(4.0, rel=0.15) and person["foot_world"][2] == pytest.approx(0.5, abs=0.1)



def test_people_who_overlap_get_a_depth_each_from_their_instances():
    """Two people in one blob (the nearer one in front of the other): with the masker's instances each
    stands where their own feet are, on the same frame; without them, one depth for both."""
    K = np.array([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])
    viewmat = look_at(np.array([0.0, 0.0, 1.5]), np.array([0.0, 5.0, 1.5]), np.array([0.0, 0.0, 1.0]))
    slope = (np.mgrid[:120, :160][0] + 0.5 - 60) / 100
    with np.errstate(divide="ignore"):
        depth = np.where(slope > 0, 1.5 / slope, np.inf).clip(max=8.0).astype(np.float32)  # floor, wall at 8 m
    instances = np.zeros((120, 160), np.uint8)
    instances[30:85, 75:95] = 2  # feet 6 m ahead (row 60 + 100 * 1.5 / 6)
    instances[40:110, 60:80] = 1  # feet 3 m ahead, in front of person 2
    mask = instances > 0
    frame = np.zeros((120, 160, 3), np.uint8)
    floor = (np.array([0.0, 0.0, 1.0]), 0.0)
    _, depth_maps, records = person_layers([frame], [mask], K[None], viewmat[None], floor, [depth],
                                           instances=[instances])
    placed = {r["track"]: r for r in records[0]}
    assert sorted(placed) == [1, 2]
    assert placed[1]["depth"] == pytest.approx(3.0, rel=0.1) and placed[2]["depth"] == pytest.approx(6.0, rel=0.1)
    assert depth_maps[0][50, 90] == pytest.approx(placed[2]["depth"]) and depth_maps[0][100, 65] == placed[1]["depth"]
    _, _, together = person_layers([frame], [mask], K[None], viewmat[None], floor, [depth])
    assert len(together[0]) == 1 and together[0][0]["depth"] == pytest.approx(3.0, rel=0.1)


def test_depth_order_and_soft_edges():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    alpha = alpha_matte(mask)
    assert alpha[10, 10] == 1.0 and alpha[0, 0] == 0.0 and (alpha[mask] == 1.0).all() and 0.0 < alpha[4, 10] < 1.0
    layer = np.dstack([np.full((20, 20, 3), 0.9, np.float32), alpha])
    background = np.full((20, 20, 3), 0.1, np.float32)
    person_depth = np.full((20, 20), 3.0, np.float32)
    background_depth = np.full((20, 20), 5.0, np.float32)
    background_depth[:, :10] = 2.0  # a table in front of the person's left half
    image, shown = composite(background, background_depth, layer, person_depth)
    assert shown[10, 4:10].max() == 0.0 and shown[10, 12] == 1.0
    assert image[10, 12, 0] == pytest.approx(0.9) and image[10, 7, 0] == pytest.approx(0.1)
    assert depth_visibility(np.array([np.inf]), np.array([1.0]))[0] == 0.0


def test_contact_shadow_darkens_the_visible_floor_under_the_feet():
    K = np.array([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])
    viewmat = look_at(np.array([0.0, 0.0, 1.5]), np.array([0.0, 5.0, 1.5]), np.array([0.0, 0.0, 1.0]))
    up = np.array([0.0, 0.0, 1.0])
    record = {"foot_world": [0.0, 4.0, 0.0], "height_world": 1.7, "feet_on_floor": True}
    far = np.full((120, 160), np.inf, np.float32)
    shading = contact_shading([record], viewmat, K, up, far, 0.4)
    foot_v = int(60 + 100 * 1.5 / 4.0)  # the foot's pixel row (see the contact-depth test)
    assert shading.min() == pytest.approx(0.6, abs=0.01)
    assert np.unravel_index(shading.argmin(), shading.shape) == pytest.approx((foot_v, 80), abs=1)
    assert (shading[:60] == 1.0).all() and shading[foot_v, 0] > 0.99  # above the horizon; far along the floor
    table = far.copy()
    table[foot_v - 5:foot_v + 6, 70:91] = 3.0  # something nearer than the floor hides the shadow
    assert (contact_shading([record], viewmat, K, up, table, 0.4)[foot_v - 5:foot_v + 6, 70:91] == 1.0).all()
    assert (contact_shading([record], viewmat, K, up, far, 0.0) == 1.0).all()
    assert (contact_shading([{**record, "feet_on_floor": False}], viewmat, K, up, far, 0.4) == 1.0).all()


@pytest.mark.parametrize("kind", PATHS)
def test_camera_paths_are_valid_cameras_looking_into_the_scene(kind):
    centres = np.c_[np.linspace(0, 1, 12), np.zeros(12), np.zeros(12)]
    viewmats = np.array([look_at(c, np.array([0.5, 4.0, 0.0]), np.array([0.0, 0.0, 1.0])) for c in centres])
    path = camera_path(kind, viewmats, frames=10 if kind != "original" else None)
    assert path.shape[1:] == (4, 4) and np.isfinite(path).all()
    for viewmat in path:
        rotation = viewmat[:3, :3]
        assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
        target_in_camera = rotation @ np.array([0.5, 4.0, 0.0]) + viewmat[:3, 3]
        assert target_in_camera[2] > 0, "the scene stays in front of the camera"
    with pytest.raises(InputError):
        camera_path("sideways", viewmats)


def test_a_changed_option_reruns_from_the_stage_it_affects():
    base = RunConfig.create("v.mp4", "s.png")
    a, b = stage_hashes(base), stage_hashes(RunConfig.create("v.mp4", "s.png", stylize={"strength": 0.5}))
    changed = [name for name in a if a[name] != b[name]]
    assert changed == ["stylize", "people", "render", "composite"]
    held_out = stage_hashes(RunConfig.create("v.mp4", "s.png", train={"holdout_every": 8}))
    assert [name for name in a if a[name] != held_out[name]] == ["train", "stylize", "people", "render", "composite"]


def test_bad_inputs_fail_before_any_work(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "style.png").write_bytes(b"")
    with pytest.raises(InputError, match="does not exist"):
        run_pipeline(RunConfig.create(tmp_path / "none.mp4", tmp_path / "style.png"), tmp_path / "r1")
    with pytest.raises(InputError):
        run_pipeline(RunConfig.create(tmp_path / "broken.mp4", tmp_path / "style.png"), tmp_path / "r2")
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists(), "nothing half-written"


def test_run_writes_videos_keeps_people_and_orders_them_by_depth(small_run):
    from occlurestyle import media
    from occlurestyle.recon.registration_files import read_cameras

    run, scene, _, _ = small_run
    assert (run / "final.mp4").stat().st_size > 0 and (run / "flythrough.mp4").stat().st_size > 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["person_pixel_max_change_8bit"] <= 1, "people are not restyled"
    from occlurestyle.occlusion.people import read_people

    cameras = read_cameras(run / "colmap" / "sparse" / "0")
    inter = union = kept = layer_pixels = 0
    for name in cameras.names:
        layer, person_depth = read_people(run / "people", name)
        background_depth = np.load(run / "renders" / "original" / name.replace(".png", "_depth.npy"))
        background = media.read_image(run / "renders" / "original" / name).astype(np.float32) / 255
        _, shown = composite(background, background_depth, layer, person_depth)
        truth = media.read_gray(scene / "masks" / name) > 0
        inter += ((shown > 0.5) & truth).sum()
        union += ((shown > 0.5) | truth).sum()
        kept += ((shown > 0.5) & (layer[..., 3] > 0.5)).sum()
        layer_pixels += (layer[..., 3] > 0.5).sum()
    # the file masker's masks reach the compositor as given (the masks stage's clean-up, which fills the
    # gap between an arm and the body, serves training only: 0.88 with it at 160x120), and the depth test
    # keeps the visible people
    assert inter / union > 0.99, f"visible-person IoU {inter / union:.3f}"
    assert kept / layer_pixels > 0.97
    # (whether people stand on the floor is checked on a well-registered room below: a 500-step model of
    # this small clip has no distinct floor layer to find, with or without one being labelled)


def test_people_stand_on_the_floor_where_they_really_walk(tmp_path):
    """On a room registered with its true cameras and points, the floor is found under the people whose
    feet the camera sees, their depth comes from where their feet meet it, their feet are at its height
    and their depth is the true one."""
    import torch
    from conftest import make_true_run

    from occlurestyle.layout import RunLayout
    from occlurestyle.recon.registration_files import read_cameras
    from occlurestyle.recon.trainer import TrainOptions, train
    from occlurestyle.render.gaussians import load_ply
    from occlurestyle.stages import people
    from occlurestyle.stylize.regions import label_gaussians

    run, scene = make_true_run(tmp_path / "run", name="office", keypoints=True)
    train(run, TrainOptions(steps=500, max_gaussians=30_000), progress=False)
    layout = RunLayout(run)
    model, cameras = load_ply(layout.background_ply), read_cameras(layout.sparse)
    regions = label_gaussians(model["means"].numpy(), torch.sigmoid(model["opacities"]).numpy(), cameras.viewmats)
    assert "floor" in regions.names
    layout.stylize.mkdir()
    regions.save(layout.stylize / "scene_regions.json")
    people.run(layout, people.PeopleOptions(correct_masks="off"), False)  # the true masks, as they are

    records = [(int(f["name"][:6]), p) for f in json.loads((layout.people / "depth.json").read_text())["frames"]
               for p in f["people"]]
    heights, depth_errors = [], []
    for index, person in records:
        # the true person in this record's box whose feet the camera sees (feet behind the sofa are not
        # where anyone could tell how far the person stands)
        feet_seen = [t for t in scene.people_ground_truth(index) if _feet_in_view(scene, index, t, person["box"])]
        if len(feet_seen) != 1:
            continue
        assert person["source"] == "floor contact", (index, person)
        foot = np.array(person["foot_world"])
        true_depth = (scene.viewmats[index] @ np.array([*feet_seen[0]["floor_xy"], 0.0, 1.0]))[2]
        heights.append(foot[2])  # world z up, the floor at 0
        depth_errors.append(person["standing_depth"] / true_depth - 1)
    # the records come from the true masks, so this count is the same on every machine (12 of 80)
    assert len(heights) >= 10, (len(heights), len(records))
    print(f"{len(heights)} people with their feet in view: feet {np.median(heights):+.3f} m, "
          f"depth {np.median(depth_errors):+.1%}")
    assert abs(np.median(heights)) < 0.15, f"feet {np.median(heights):.2f} m off the floor"
    assert abs(np.median(depth_errors)) < 0.25, f"depth {np.median(depth_errors):+.0%} off"


def _feet_in_view(scene, index: int, truth: dict, box: list[int]) -> bool:
    """Whether the true person's feet project into `box` (x0, y0, x1, y1) and nothing in the room hides them."""
    from occlurestyle import cameras as cam

    foot = np.array([*truth["floor_xy"], 0.02])
    uv, z = cam.project(foot[None], scene.K, scene.viewmats[index])
    x0, y0, x1, y1 = box
    if not (z[0] > 0 and x0 <= uv[0, 0] <= x1 and y1 - 0.15 * (y1 - y0) <= uv[0, 1] <= y1 + 4):
        return False
    eye = cam.camera_center(scene.viewmats[index])
    distance = np.linalg.norm(foot - eye)
    t_hit, _ = scene._static.cast(np.array([[*eye, *((foot - eye) / distance)]]))
    return t_hit[0] > distance - 0.05


def test_rerun_skips_finished_stages(own_run):
    run, _, config = own_run
    logs = []
    manifest = run_pipeline(config, run, progress=False, log=logs.append)
    assert all("skipped" in line for line in logs) and len(logs) == 9
    assert set(manifest["stages"]) == {"frames", "masks", "register", "depth", "train", "stylize", "people",
                                       "render", "composite"}


def test_a_stage_whose_output_was_deleted_runs_again_with_the_stages_after_it(own_run):
    run, _, config = own_run
    (run / "people" / "depth.json").unlink()
    logs = []
    run_pipeline(config, run, progress=False, log=logs.append)
    assert sum("skipped" in line for line in logs) == 6  # frames, masks, register, depth, train, stylize
    assert "[people] people/depth.json is missing: running it again" in logs
    assert all(f"[{name}] running" in logs for name in ("render", "composite"))
    assert (run / "people" / "depth.json").is_file() and (run / "final.mp4").is_file()


def test_an_interrupted_run_resumes_at_the_stage_it_stopped_in(own_run, monkeypatch):
    import dataclasses

    import occlurestyle.pipeline as pipeline

    run, _, config = own_run
    changed = dataclasses.replace(config, composite=dataclasses.replace(config.composite, harmonization=0.5))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.STAGES["composite"], "run", interrupted)  # the last stage
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(changed, run, progress=False, log=lambda line: None)
    monkeypatch.undo()
    logs = []
    manifest = run_pipeline(changed, run, progress=False, log=logs.append)
    assert sum("skipped" in line for line in logs) == 8 and "[composite] running" in logs
    assert manifest["stages"]["composite"]["hash"] == stage_hashes(changed)["composite"]
    assert json.loads((run / "metrics.json").read_text())["harmonization"] == 0.5


def test_videos_play_at_the_frames_rate_source_fps_over_stride(own_run, tmp_path):
    from occlurestyle import media
    from occlurestyle.layout import RunLayout
    from occlurestyle.stages import composite
    from occlurestyle.stages.frames import extract_frames

    clip = media.write_video(tmp_path / "clip.mp4", [np.full((32, 48, 3), 10 * i, np.uint8) for i in range(20)], fps=24)
    extract_frames(clip, tmp_path / "strided", stride=2, check_motion=False, progress=False)
    assert json.loads((tmp_path / "strided" / "frames.json").read_text())["fps"] == 12

    run, _, config = own_run
    info = json.loads((run / "frames.json").read_text())
    (run / "frames.json").write_text(json.dumps({**info, "fps": 12.0}))  # as a 24 fps source with --stride 2
    composite.run(RunLayout(run), config.composite, False)
    for video in ("final.mp4", "flythrough.mp4"):
        assert media.video_info(run / video)["fps"] == pytest.approx(12.0)
    from occlurestyle.recon.registration_files import read_cameras
    registered = len(read_cameras(RunLayout(run).sparse).names)  # final.mp4 holds the registered frames
    assert 0 < registered <= len(info["frames"])
    assert media.video_info(run / "final.mp4")["frames"] == registered


def test_the_cli_says_fallbacks_by_default_more_with_v_and_nothing_but_errors_with_q(tmp_path, capsys, monkeypatch):
    import logging

    from occlurestyle.cli import main
    from occlurestyle.person_masks import read_masks

    logger = logging.getLogger("occlurestyle")  # the CLI sets its level: give later tests back the one they had
    monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    (tmp_path / "masks").mkdir()
    for flags, level in (([], logging.WARNING), (["-v"], logging.INFO), (["-vv"], logging.DEBUG),
                         (["-q"], logging.ERROR)):
        main([*flags, "scene", "list"])
        assert logging.getLogger("occlurestyle").level == level
        assert "living_room" in capsys.readouterr().out  # what a command is asked for still prints
        read_masks(tmp_path, ["000000.png"], (4, 4))  # a frame without a mask: a fallback
        said = capsys.readouterr().err
        assert ("WARNING: no person mask for 1 of 1 frames" in said) == (level <= logging.WARNING), flags
