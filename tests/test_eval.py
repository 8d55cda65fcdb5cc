"""The baselines, the comparison metrics and the report, against properties and ground truth."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from occlurestyle.eval.inpaint import KNOWN, PROPAGATED, harmonic_fill, inpaint_video
from occlurestyle.eval.metrics import leakage, psnr, ssim_map
from occlurestyle.eval.temporal import WarpingError, true_flow, warping_error


def panning_clip(frames: int = 12, height: int = 72, width: int = 96, shift: int = 2, seed: int = 0):
    """A textured wall panned `shift` px per frame with a square occluder moving the other way:
    (frames with the occluder, true person-free frames, occluder masks)."""
    rng = np.random.default_rng(seed)
    wall = cv2.GaussianBlur(rng.uniform(0, 255, (height, width + shift * frames, 3)).astype(np.float32), (0, 0), 2.5)
    wall = cv2.normalize(wall, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    truth = np.stack([wall[:, shift * t:shift * t + width] for t in range(frames)])
    masks = np.zeros(truth.shape[:3], bool)
    shown = truth.copy()
    for t in range(frames):
        x = 20 + 3 * t
        masks[t, 20:50, x:x + 20] = True
        shown[t, 20:50, x:x + 20] = (200, 30, 30)
    return shown, truth, masks


def test_harmonic_fill_is_exact_on_linear_fields():
    yy, xx = np.mgrid[0:40, 0:50].astype(np.float64)
    field = np.dstack([0.3 * xx - 0.2 * yy + 1, 0.05 * xx])
    hole = np.zeros((40, 50), bool)
    hole[10:30, 15:35] = True
    border = np.zeros_like(hole)
    border[0:5, 0:8] = True  # at the image border the fill is flat across it (no data beyond)
    filled = harmonic_fill(np.where((hole | border)[..., None], 99.0, field), hole | border)
    np.testing.assert_allclose(filled[~border], field[~border], atol=1e-8)
    assert field[border].min() - 1e-9 <= filled[border].min() and filled[border].max() <= field[border].max() + 1


def test_inpainting_recovers_the_background_from_other_frames():
    shown, truth, masks = panning_clip()
    grown = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for m in masks])
    filled, how = inpaint_video(shown, grown)
    hidden = grown
    assert (how[hidden] == PROPAGATED).mean() > 0.95 and (how[~hidden] == KNOWN).all()
    assert (filled[~hidden] == shown[~hidden]).all(), "known pixels are kept as they are"
    error = ((filled.astype(float) - truth) ** 2)[hidden].mean() / 255**2
    spatial = np.stack([cv2.inpaint(f, m.astype(np.uint8), 5, cv2.INPAINT_TELEA) for f, m in zip(shown, grown)])
    error_spatial = ((spatial.astype(float) - truth) ** 2)[hidden].mean() / 255**2
    assert psnr(error) > 30, f"propagated fill {psnr(error):.1f} dB"
    assert psnr(error) > psnr(error_spatial) + 10


def _plane_scene(folder, viewmats, depths, masks, size=(64, 48), focal=50.0):
    """A hand-made scene folder for `hidden_views`: cameras, person-free depth and masks per frame."""
    width, height = size
    K = [[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]]
    frames = [{"name": f"{i:06d}.png", "viewmat": v.tolist()} for i, v in enumerate(viewmats)]
    (folder / "background_depth").mkdir(parents=True)
    (folder / "masks").mkdir()
    (folder / "cameras.json").write_text(json.dumps({"width": width, "height": height, "K": K, "frames": frames}))
    for i, (depth, mask) in enumerate(zip(depths, masks)):
        np.save(folder / "background_depth" / f"{i:06d}.npy", np.full((height, width), depth, np.float32))
        cv2.imwrite(str(folder / "masks" / f"{i:06d}.png"), mask.astype(np.uint8) * 255)


def test_hidden_views_counts_the_frames_that_see_a_hidden_point(tmp_path):
    from occlurestyle.eval.background import hidden_views

    # a wall 2 m in front of every camera; frame 1 is 0.1 m to the right (the wall shifts 2.5 px left),
    # frame 2 is frame 0's camera fully hidden, frame 3 is frame 0's camera with a nearer surface (1 m)
    # in front of the wall, so it sees none of it
    right = np.eye(4)
    right[0, 3] = -0.1
    hidden = np.zeros((48, 64), bool)
    hidden[20:30, 20:30] = True
    _plane_scene(tmp_path, [np.eye(4), right, np.eye(4), np.eye(4)], [2.0, 2.0, 2.0, 1.0],
                 [hidden, np.zeros_like(hidden), np.ones_like(hidden), np.zeros_like(hidden)])
    counts = hidden_views(tmp_path)
    assert (counts["000001"] == -1).all() and (counts["000003"] == -1).all(), "nothing hidden there"
    assert (counts["000000"][hidden] == 1).all(), "only frame 1 sees behind frame 0's person"
    assert (counts["000000"][~hidden] == -1).all()
    frame2 = counts["000002"]
    assert frame2[25, 25] == 1, "frame 0 hides it too; frame 1 sees it"
    assert frame2[10, 40] == 2, "frames 0 and 1 see it"
    assert frame2[10, 1] == 1, "left of frame 1's view: frame 0 only"


def test_warping_error_is_low_for_a_steady_clip_and_grows_with_flicker():
    shown, truth, masks = panning_clip(frames=10)
    measure = WarpingError(shown, masks, gaps=(1, 3))
    steady = measure(truth)
    assert max(steady[1]) < 1e-3 and max(steady[3]) < 1e-3 and len(steady[3]) == 7
    flicker = np.clip(truth.astype(np.float32) / 255 + np.where(np.arange(10) % 2, 0.1, -0.1)[:, None, None, None],
                      0, 1)
    flickering = measure(flicker)
    assert np.mean(flickering[1]) == pytest.approx(0.04, rel=0.1)  # (2 x 0.1)^2 on every valid pixel
    scribbled = truth.copy()
    scribbled[masks] = 255 - scribbled[masks]  # person pixels do not count
    assert measure(scribbled)[1] == pytest.approx(steady[1], abs=1e-9)


def test_true_flow_follows_a_wall_seen_by_a_sliding_camera_and_leaves_out_what_it_hides():
    # a wall 2 m ahead; the camera steps 0.1 m right: a pixel moves f·0.1/2 = 4 px to the right in the
    # frame before (sampled there), except where a box 1 m ahead hid the wall in that frame
    K = np.array([[80.0, 0, 32], [0, 80.0, 24], [0, 0, 1]])
    now, before = np.eye(4), np.eye(4)
    now[0, 3] = -0.1
    depth = np.full((48, 64), 2.0)
    hidden = depth.copy()
    hidden[:, 40:50] = 1.0
    maps, valid = true_flow(depth, now, hidden, before, K)
    columns = np.arange(64, dtype=np.float32)
    assert np.allclose(maps[..., 0], columns + 4, atol=1e-4) and np.allclose(maps[..., 1], np.arange(48)[:, None])
    seen_there = (columns + 4 < 40) | (columns + 4 >= 50)
    assert np.array_equal(valid, np.broadcast_to(seen_there & (columns + 4 < 64), (48, 64)))
    rng = np.random.default_rng(0)
    wall = rng.random((48, 80, 3)).astype(np.float32)  # fine texture fixed to the wall
    assert warping_error(wall[:, 4:68], wall[:, :64], maps, valid) < 1e-10
    assert warping_error(wall[:, 4:68], wall[:, 1:65], maps, valid) > 0.1  # a texture that slid 3 px


def test_leakage_is_measured_on_the_true_people_and_counts_what_the_masker_missed():
    rng = np.random.default_rng(0)
    image = rng.integers(60, 200, (30, 40, 3)).astype(np.uint8)
    person = np.zeros((30, 40), bool)
    person[10:20, 10:20] = True  # eroded by 2 px: the 6x6 square inside
    output = np.zeros_like(image)  # the room restyled to black around the person
    output[person] = image[person]
    assert leakage([output], [image], [person])["leakage"] == 0.0
    output[10:12, 10:20] = 255  # a blended outline 2 px wide does not count
    assert leakage([output], [image], [person])["leakage"] == 0.0
    output[14:20, 10:20] = np.clip(image[14:20, 10:20].astype(int) + 51, 0, 255)  # the masker missed the legs
    result = leakage([output], [image], [person])
    assert result["leakage_pixels"] == 36 and result["leakage_changed_fraction"] == pytest.approx(24 / 36)
    assert result["leakage"] == pytest.approx(24 / 36 * 0.2, abs=1e-6)


def test_ssim():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    smooth = cv2.GaussianBlur(image.astype(np.float32) / 255, (0, 0), 3)
    assert np.allclose(ssim_map(smooth, smooth), 1.0)
    slightly = smooth + rng.normal(0, 0.01, smooth.shape)
    very = smooth + rng.normal(0, 0.1, smooth.shape)
    assert 1.0 > ssim_map(smooth, slightly).mean() > ssim_map(smooth, very).mean()
    assert np.allclose(ssim_map(smooth, very), ssim_map(very, smooth))


def chromium() -> str:
    """Debian's chromium (`make test` installs it, through scripts/install-system-deps.sh --test)."""
    return shutil.which("chromium") or pytest.skip(
        "chromium is not installed: run scripts/install-system-deps.sh --test")


@pytest.fixture(scope="module")
def evaluated_run(small_run, tmp_path_factory):
    from occlurestyle.cli import main

    run = tmp_path_factory.mktemp("eval") / "run"
    shutil.copytree(small_run[0], run)
    main(["eval", str(run)])
    return run, json.loads((run / "metrics.json").read_text())


def test_ours_is_steadier_than_2d_baselines_and_leaves_people_untouched(evaluated_run):
    _, metrics = evaluated_run
    ours, inpaint, naive = (metrics["methods"][m] for m in ("ours", "inpaint", "naive"))
    # a 500-step model of a 160x120 clip still has holes (few SfM points), which costs it at gap 7 and
    # in background PSNR here; benchmarks/compare.py measures those on full-size runs
    assert ours["warping_error_gap1"] <= 0.5 * inpaint["warping_error_gap1"]
    assert ours["warping_error_gap1"] < naive["warping_error_gap1"]
    assert ours["leakage"] < 0.01 and inpaint["leakage"] < 0.01  # true masks: the people are pasted back as filmed
    assert naive["leakage"] > 0.05
    assert 0.8 < ours["visible_person_iou"] <= 1.0  # people as composited vs their true visible pixels
    for method in ("ours", "inpaint"):  # the recovered background is scored against the scene's truth
        assert 5.0 < metrics["methods"][method]["background_psnr_all"] < 60.0
        assert 0.0 < metrics["methods"][method]["background_ssim_disoccluded"] <= 1.0
    assert inpaint["background_psnr_all"] > inpaint["background_psnr_disoccluded"]
    assert ours["style_distance"] < ours["style_distance_input"]
    for method in ("input", "ours", "inpaint", "naive"):  # the scene's regions against its labelled exemplar's
        assert 0.0 < metrics["methods"][method]["texture_distance"] < 50.0
        assert set(metrics["methods"][method]["texture_distance_by_region"]) >= {"floor"}
    for method in ("ours", "inpaint", "naive"):  # which region loses the room's light, against the input's
        shading = metrics["methods"][method]["shading_by_region"]
        assert "floor" in shading and all(-1.0 <= v <= 1.0 for v in shading.values())
    assert metrics["pose"]["rotation_error_mean_deg"] < 2.0
    assert set(metrics["runtime"]) == {"ours", "inpaint", "naive"}
    assert len(metrics["per_frame_warping_error"]["ours"]["1"]) == metrics["frames"] - 1  # the registered frames


def test_report_opens_in_a_real_browser_with_its_videos_and_table(evaluated_run, tmp_path):
    run, metrics = evaluated_run
    browser = chromium()
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
               (run / "report.html").resolve().as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    status = re.search(r'id="video-status">videos loaded: (\d+)/(\d+)', dom)
    assert status, "the report's script did not run"
    loaded, total = map(int, status.groups())
    assert total == 5 and loaded == total, f"{loaded}/{total} videos decoded"
    assert dom.count('data-loaded="yes"') == 5
    table = re.search(r'<table id="metrics">.*?</table>', dom, re.S).group(0)
    assert all(f'data-method="{m}"' in table for m in ("input", "ours", "inpaint", "naive"))
    assert "<polyline" in dom
    fly = metrics["flythrough"]
    assert re.search(rf'id="flythrough">Flythrough: {fly["flythrough"]} .*{fly["flythrough_coverage"]:.1%} of its', dom)


def test_eval_and_baseline_refuse_bad_input_with_a_clear_error(tmp_path, capsys):
    from occlurestyle.cli import main

    (tmp_path / "frames").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(tmp_path)])
    assert exit_info.value.code == 2 and "run `occlurestyle run` first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["baseline", str(tmp_path), "--kind", "bogus", "--style", str(tmp_path / "missing.png")])
    assert "unknown baseline 'bogus'" in capsys.readouterr().err
    assert not (tmp_path / "baselines").exists()


def test_depth_error_brings_the_run_to_the_scenes_scale(tmp_path):
    from occlurestyle.eval.background import depth_error

    # the scene: walls 2 m and 3 m in front of two cameras 1 m apart; the run: the same cameras at half
    # the scale (0.5 m apart), so its depths must be doubled before they compare
    true_viewmats = [np.eye(4), np.eye(4)]
    true_viewmats[1][0, 3] = -1.0
    _plane_scene(tmp_path, true_viewmats, [2.0, 3.0], [np.zeros((48, 64), bool)] * 2)
    run_viewmats = {f"{i:06d}": v.copy() for i, v in enumerate(true_viewmats)}
    run_viewmats["000001"][0, 3] = -0.5
    depths = np.stack([np.full((48, 64), 1.0), np.full((48, 64), 1.5)])
    depths[1, :, :32] *= 1.2  # half of frame 1 is 20% too far
    alphas = np.ones_like(depths)
    alphas[0, :4] = 0.0  # uncovered pixels do not count
    depths[0, :4] = 99.0
    error = depth_error(depths, alphas, run_viewmats, tmp_path)
    assert error["median"] == pytest.approx(0.0, abs=1e-6)
    assert error["p90"] == pytest.approx(0.2, abs=1e-6)


def test_inpainting_windows_keep_every_frame_once_within_the_memory_budget():
    from occlurestyle.eval.baselines import INPAINT_BYTES_PER_PIXEL, INPAINT_MEMORY, inpaint_windows

    assert inpaint_windows(90, 320 * 240) == [(0, 90, 0, 90)], "a sample clip is one window: the whole clip"
    for count in (200, 1800):
        windows = inpaint_windows(count, 640 * 480)
        kept = [t for _, _, keep_from, keep_to in windows for t in range(keep_from, keep_to)]
        assert kept == list(range(count))
        for start, stop, keep_from, keep_to in windows:
            assert (stop - start) * INPAINT_BYTES_PER_PIXEL * 640 * 480 <= INPAINT_MEMORY
            assert start <= keep_from < keep_to <= stop
            assert keep_from - start == 10 or start == 0, "frames before the kept ones are seen"
            assert stop - keep_to == 10 or stop == count, "and after"
