"""The 3D viewer (`occlurestyle view`): it serves any run folder, stops cleanly, renders the view it is
asked for with our rasterizer, and in a browser draws the room as our own render shows it."""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from browser import CHROMIUM, screenshot
from terminal import cli

from occlurestyle import media
from occlurestyle.eval.report import VIEWER_WIDTH, write_report
from occlurestyle.render.gaussians import load_ply
from occlurestyle.viewer import (
    FILE_WORKER_SHIM,
    RunScene,
    _camera_pose,
    _server,
    _vertical_fov,
    export_html,
    free_port,
    render_client_view,
    serve,
    splat_arrays,
    stop,
)

pytest.importorskip("viser", reason="the viewer needs the [viewer] extra (viser)")


def test_splats_reach_the_viewer_finite_however_wide_and_the_rest_unchanged():
    """viser sends covariances as float16: a far backdrop splat 300 units wide must not become infinite,
    and ordinary splats keep their exact covariance."""
    import torch

    rng = np.random.default_rng(0)
    scales = np.full((3, 3), np.log(0.01))
    scales[1] = np.log([300.0, 0.01, 5.0])  # the backdrop: variance 9e4 along its widest axis
    quats = rng.normal(size=(3, 4))
    quats[1] = [1.0, 0.0, 0.0, 0.0]  # unturned: its 9e4 lies on the diagonal
    params = {"means": torch.zeros(3, 3), "scales": torch.tensor(scales, dtype=torch.float32),
              "quats": torch.tensor(quats / np.linalg.norm(quats, axis=1, keepdims=True), dtype=torch.float32),
              "opacities": torch.zeros(3), "sh0": torch.zeros(3, 1, 3)}
    covariances = splat_arrays(params)["covariances"]
    assert np.isfinite(covariances.astype(np.float16)).all()
    assert np.abs(covariances[1]).max() > 3.0e4  # still the widest splat by far
    assert np.allclose(np.linalg.eigvalsh(covariances[0]), 1e-4, rtol=1e-4)  # 0.01 std on every axis


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace")


def test_view_serves_a_run_and_stops_cleanly(small_run):
    run = small_run[0]
    viewer = serve(run)
    url = f"http://127.0.0.1:{viewer.port}/"
    try:
        status, page = _get(url)
        assert status == 200 and "<html" in page.lower()
    finally:
        viewer.stop()
    with pytest.raises(urllib.error.URLError):
        _get(url)  # nothing listens any more


def test_play_moves_the_people_on_frame_by_frame_until_stopped(small_run):
    viewer = serve(small_run[0])
    try:
        frame, play = viewer.controls["frame"], viewer.controls["play"]
        assert viewer.scene.frame == 0 and not play.value  # it opens on the first frame, still
        shown = [viewer.scene.people_handles[0].points.copy()]
        play.value = True
        deadline = time.monotonic() + 30
        while viewer.scene.frame < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        play.value = False
        assert viewer.scene.frame == int(frame.value) >= 3  # the slider and the people it shows moved on together
        shown.append(viewer.scene.people_handles[0].points.copy())
        assert not np.array_equal(*shown)  # other frames, other people's points
        time.sleep(0.5)
        paused = viewer.scene.frame
        time.sleep(0.5)
        assert viewer.scene.frame == paused  # unticked, it holds
    finally:
        viewer.stop()
    assert not viewer.player._thread.is_alive()


def test_the_viewer_shows_what_a_partial_run_has(small_run, tmp_path):
    """A run that stopped after training: the background model and the cameras, no people, no paths."""
    run, partial = small_run[0], tmp_path / "partial"
    shutil.copytree(run / "colmap" / "sparse", partial / "colmap" / "sparse")
    (partial / "splat").mkdir()
    shutil.copy(run / "splat" / "background.ply", partial / "splat")
    scene = RunScene(partial)
    assert list(scene.models) == ["background"] and scene.records == {}
    server = _server("127.0.0.1", free_port())
    try:
        scene.add_to(server)
        total = len(load_ply(partial / "splat" / "background.ply")["means"])
        assert scene.splat_counts == {"background": (total, total)}  # every splat, no stylized model
        assert scene.people_handles == [] and len(scene.cameras.names) > 0
    finally:
        stop(server)
    viewer = serve(partial)  # and the live viewer serves it
    try:
        assert _get(f"http://127.0.0.1:{viewer.port}/")[0] == 200
        assert set(viewer.controls) == {"render"}  # no second model to switch to, no people to play
    finally:
        viewer.stop()


def test_an_exported_page_keeps_to_its_budgets_and_plays_every_frame(small_run, tmp_path, capsys):
    from occlurestyle.cli import main

    run = small_run[0]
    page = export_html(run, tmp_path / "page.html", budget=1000, play=True, people_budget=2000)
    assert list(page.splat_counts) == ["stylized"]  # the page has no switch: the stylized room only
    shown, total = page.splat_counts["stylized"]
    assert shown == 1000 < total
    scene = RunScene(run)
    assert page.frames == len(scene.cameras.names)
    people = [sum(len(points) for points, _, _ in scene.people_points(i, page.person_stride))
              for i in range(page.frames)]
    assert 0 < sum(people) <= 2000 and page.person_stride > 1
    text = page.path.read_text()
    assert FILE_WORKER_SHIM in text and "__VISER_EMBED_DATA__" in text
    main(["view", str(run), "--export", str(tmp_path / "cli.html")])  # by default, the first frame's people
    assert "the first frame's people" in capsys.readouterr().out
    assert export_html(run, tmp_path / "still.html").frames == 0


def test_a_report_without_the_viewer_says_how_to_add_it(own_run, monkeypatch):
    from occlurestyle.eval import report

    monkeypatch.setattr(report, "_viewer_installed", lambda: False)
    page = write_report(own_run[0], metrics={}).read_text()
    assert 'id="viewer-missing"' in page and "occlurestyle[viewer]" in page and "<iframe" not in page
    assert not (own_run[0] / "report" / "viewer.html").exists()


def _viewer_camera(scene: RunScene, index: int):
    """A camera as viser reports one: pose in viewer units, vertical field of view."""
    wxyz, position = _camera_pose(scene.cameras.viewmats[index])
    fov = _vertical_fov(scene.cameras.Ks[index], scene.cameras.height)
    return type("Camera", (), {"wxyz": wxyz, "position": scene.unit * position, "fov": fov})()


def test_the_render_button_renders_the_viewers_camera_with_our_rasterizer(small_run, tmp_path):
    run = small_run[0]
    scene = RunScene(run)
    name = scene.cameras.names[0]
    saved = render_client_view(scene, _viewer_camera(scene, 0), tmp_path)
    ours = media.read_image(saved).astype(float)
    rendered = media.read_image(run / "renders" / "original" / name).astype(float)
    assert np.abs(ours - rendered).mean() < 1.0  # the same camera, the same model: the same image
    other = media.read_image(render_client_view(scene, _viewer_camera(scene, len(scene.cameras.names) - 1),
                                                tmp_path)).astype(float)
    assert np.abs(other - rendered).mean() > 10.0  # and another camera is another image


def _region_medians(image: np.ndarray, n: int = 4) -> np.ndarray:
    h, w = image.shape[:2]
    return np.array([[np.median(image[i * h // n:(i + 1) * h // n, j * w // n:(j + 1) * w // n].reshape(-1, 3), 0)
                      for j in range(n)] for i in range(n)])


def _region_errors(shot: np.ndarray, run, scene: RunScene) -> tuple[float, list[float], float]:
    """Median colour per region of a 4x4 grid, the top row left out (the browser's notice and the viewer's
    panel sit there), of a screenshot against our final frame at the first camera, at two other cameras,
    and against a blank page: (right, [wrong, wrong], blank)."""
    def error(image: np.ndarray) -> float:
        image = cv2.resize(image, shot.shape[1::-1], interpolation=cv2.INTER_NEAREST).astype(float)
        return float(np.abs(_region_medians(shot) - _region_medians(image))[1:].mean())

    names = scene.cameras.names
    right = error(media.read_image(run / "renders" / "final" / names[0]))
    wrong = [error(media.read_image(run / "renders" / "final" / names[i])) for i in (len(names) // 2, -1)]
    blank = error(np.full((scene.cameras.height, scene.cameras.width, 3), 255, np.uint8))
    print(f"region colour error: at the opening camera {right:.1f}, other cameras {wrong[0]:.1f} / "
          f"{wrong[1]:.1f}, blank {blank:.1f}")
    return right, wrong, blank


# The bound on the region error at the opening camera, between the viewer's drawing of the right view and of
# any other view as measured on the test run (each test prints its errors): the viewer draws the path
# frustums, the people as flat billboards and blends splats in its own order, so it is not zero; another
# camera's view is far off (less so since the room took the style's materials: a checker floor and striped
# walls look alike from nearby cameras). The test run's short training finds no wall, only wall-sized
# objects: at d85d45b they took the style's paintings (flat red patches; 12.7 right, 23.1 and 26.1 wrong),
# since fe210b5 a free-standing object takes no painting and they take its shelf and lamp (busy books;
# 16.9 right, 27.6 and 27.5 wrong). The report's view draws no frustums and comes closer (4.8 right, 17.1 and
# 23.0 wrong since fe210b5; 2.9, 20.0 and 18.3 before). Measured also with a core busy elsewhere.
REGION_ERROR_BOUND = {"live viewer": 20.0, "report": 11.0}


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine to look at the viewer with")
def test_the_live_viewer_in_a_browser_draws_the_room_as_our_render_at_the_first_camera(small_run):
    """Measured on this run (materials, fe210b5): 16.9 at the opening camera, 27.6 and 27.5 at the other
    two, 132.3 blank."""
    run = small_run[0]
    scene = RunScene(run)
    viewer = serve(run)
    try:
        shot = screenshot(f"http://127.0.0.1:{viewer.port}/", 4 * scene.cameras.width,
                          4 * scene.cameras.height).astype(float)
    finally:
        viewer.stop()
    right, wrong, blank = _region_errors(shot, run, scene)
    assert right < REGION_ERROR_BOUND["live viewer"] < min(*wrong, blank)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine to look at the viewer with")
def test_the_report_opened_from_disk_shows_the_room_in_3d_as_our_render_at_the_first_camera(own_run):
    """The report's 3D view, no server: opened as a file, the frame on its page draws the stylized room at
    the run's first camera, with the first frame's people. Measured on this run (materials, fe210b5):
    4.8 at the opening camera, 17.1 and 23.0 at the other two, 144.4 blank."""
    run = own_run[0]
    report = write_report(run, metrics={})
    scene = RunScene(run)
    assert (run / "report" / "viewer.html").is_file()
    shot = screenshot(report.resolve().as_uri(), 1100, 900, element="#viewer").astype(float)
    assert shot.shape[1] == VIEWER_WIDTH
    right, wrong, blank = _region_errors(shot, run, scene)
    assert right < REGION_ERROR_BOUND["report"] < min(*wrong, blank)


def test_the_view_command_serves_until_interrupted_then_frees_its_port(small_run):
    import re
    import select
    import signal
    import subprocess

    port = free_port()
    # -X faulthandler: should it ever hang, SIGABRT makes it print every thread's stack (below)
    command = cli("view", str(small_run[0]), "--port", str(port), python_options=("-X", "faulthandler"))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said, deadline = "", time.monotonic() + 120
        while "http://127.0.0.1:" not in said:  # it says where it listens once the scene is in
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the viewer did not start within two minutes"
            if select.select([process.stdout], [], [], 1.0)[0]:
                said += process.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", said).group(1))  # the asked one, unless taken since
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            pytest.fail("the viewer did not stop within 30 s of Ctrl-C; its threads:\n" + process.communicate()[1])
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    with pytest.raises(urllib.error.URLError):
        _get(f"http://127.0.0.1:{port}/")
