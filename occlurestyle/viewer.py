"""Looking around a run in 3D with viser: the stylized splat (and a toggle to the unstylized background),
the camera path and the flythrough path as frustums, the people as billboards where they stood with a
time slider, and a button that renders the current view with the project's own rasterizer.

`serve(run)` runs it live on a local port (`occlurestyle view RUN`); `export_html(run)` writes the scene
as one self-contained page (viser's embedded mode: its web client with the scene inside; optionally the
people played frame by frame) that opens from disk with no server and no network; the report shows it
in a frame.
Whatever stages a run folder lacks are left out.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from . import media
from .cameras import camera_center
from .errors import InputError
from .fsutil import write_text
from .layout import RunLayout
from .occlusion.people import read_people
from .recon.registration_files import CameraSet, read_run_cameras
from .render.gaussians import fill_color, load_ply, render_views, sh0_to_rgb

log = logging.getLogger(__name__)

PAGE_BUDGET = 300_000  # splats per model in an exported page (a browser holds them all in memory)
MAX_FRUSTUMS = 24  # per path: more hide the room behind their lines
PEOPLE_BUDGET = 400_000  # person points over all frames of an exported page
# seconds a page's playback lasts at least: at each loop viser's player rebuilds the scene, and on a loop
# shorter than the browser takes to load the background again (seen with a 1 s loop under software WebGL)
# the empty space shows black instead of the room's fill colour
MIN_LOOP = 6.0
PATH_COLOURS = {"original": (40, 110, 240), "flythrough": (240, 140, 30)}


# Chromium refuses a module worker from a blob: URL on a page opened from disk (file://), and viser's
# splat sorter is one: without it the splats blend unsorted. The same script from a data: URL runs.
FILE_WORKER_SHIM = """<script>
(() => {
  if (location.protocol !== "file:") return;
  const NativeWorker = window.Worker;
  window.Worker = class extends NativeWorker {
    constructor(url, options) {
      const href = String(url);
      if (options && options.type === "module" && href.startsWith("blob:")) {
        const request = new XMLHttpRequest();
        request.open("GET", href, false);
        request.send();
        const bytes = new TextEncoder().encode(request.responseText);
        let binary = "";
        for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        url = "data:text/javascript;base64," + btoa(binary);
      }
      super(url, options);
    }
  };
})();
</script>
"""


FLOAT16_VARIANCE = 6.0e4  # below float16's largest value, so no covariance entry (|c_ij| <= max variance) overflows


def viewer_unit(params: dict) -> float:
    """Viewer units per world unit: viser sends covariances as float16 (normal down to 6e-5), so the
    viewer's world is scaled until the median splat's thinnest axis is 0.05 units (variance 2.5e-3),
    whatever scale the registration chose."""
    return float(0.05 / np.median(torch.exp(params["scales"]).numpy().min(axis=1)))


def splat_arrays(params: dict, budget: int | None = None, unit: float = 1.0) -> dict[str, np.ndarray]:
    """Centres, 3×3 covariances, RGB (the view-independent colour) and opacities of a model, as viser
    takes them, in viewer units (`unit` per world unit); with `budget`, the splats that cover most
    (opacity × projected area) up to that count."""
    opacities = torch.sigmoid(params["opacities"]).numpy().astype(np.float32)
    scales = torch.exp(params["scales"]).numpy().astype(np.float64)
    keep = np.arange(len(opacities))
    if budget is not None and len(keep) > budget:
        weight = opacities * np.prod(scales, axis=1) ** (2 / 3)
        keep = np.sort(np.argsort(-weight, kind="stable")[:budget])
    quats = params["quats"].numpy()[keep].astype(np.float64)  # wxyz
    rotations = Rotation.from_quat(quats[:, [1, 2, 3, 0]]).as_matrix()
    # viser sends covariances as float16 (largest 65504): a far backdrop splat of a real capture (2 of
    # davis_parkour's, 17 of sam2_bedroom's) became infinite; capped, it stays as wide as float16 goes
    variances = np.minimum((unit * scales[keep]) ** 2, FLOAT16_VARIANCE)
    covariances = np.einsum("nij,nj,nkj->nik", rotations, variances, rotations)
    rgbs = sh0_to_rgb(params["sh0"][:, 0]).numpy()[keep].clip(0, 1)
    return {"centers": (unit * params["means"].numpy()[keep]).astype(np.float32),
            "covariances": covariances.astype(np.float32),
            "rgbs": rgbs.astype(np.float32), "opacities": opacities[keep, None]}


def _camera_pose(viewmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz, position) of the camera-to-world pose, OpenCV axes, as viser's cameras take it."""
    xyzw = Rotation.from_matrix(np.asarray(viewmat)[:3, :3].T).as_quat()
    return xyzw[[3, 0, 1, 2]], camera_center(viewmat)


def _vertical_fov(K: np.ndarray, height: int) -> float:
    return float(2 * np.arctan(height / (2 * K[1, 1])))


class RunScene:
    """What the viewer shows of one run folder, put into a viser server."""

    def __init__(self, run: str | Path, budget: int | None = None, most_models: int = 2):
        self.layout = RunLayout(run)
        if not self.layout.root.is_dir():
            raise InputError(f"{self.layout.root} is not a run folder")
        self.budget = budget
        self.cameras: CameraSet | None = None
        if self.layout.sparse.is_dir():
            self.cameras = read_run_cameras(self.layout)
        self.models = {name: path for name, path in (("stylized", self.layout.stylized_ply),
                                                     ("background", self.layout.background_ply)) if path.is_file()}
        self.models = dict(list(self.models.items())[:most_models])
        self.splat_counts: dict[str, tuple[int, int]] = {}  # model → (shown, in the model)
        self.records = self._people_records()
        self.splat_handles: dict = {}
        self.shown = next(iter(self.models), None)  # the model in view (the first: stylized when there is one)
        self.people_handles: list = []
        self.frame: int | None = None  # the frame whose people are shown
        self._params = {name: load_ply(path) for name, path in self.models.items()}
        self.unit = viewer_unit(next(iter(self._params.values()))) if self._params else 1.0

    def _people_records(self) -> dict[str, list[dict]]:
        if not self.layout.people_records.is_file():
            return {}
        return {f["name"]: f["people"] for f in json.loads(self.layout.people_records.read_text())["frames"]}

    def add_to(self, server, people_stride: int = 1) -> None:
        if self.cameras is not None:
            server.scene.set_up_direction(tuple(float(v) for v in self.cameras.up))
        for index, (name, params) in enumerate(self._params.items()):
            if index == 0:  # where no splat is, the colour our renders show there
                fill = (fill_color(params).numpy() * 255).round().astype(np.uint8)
                server.scene.set_background_image(np.tile(fill, (8, 8, 1)), format="png")
            arrays = splat_arrays(params, self.budget, self.unit)
            self.splat_counts[name] = (len(arrays["centers"]), len(params["means"]))
            self.splat_handles[name] = server.scene.add_gaussian_splats(f"/room/{name}", **arrays, visible=index == 0)
        if self.cameras is not None:
            self._add_paths(server)
            self.set_initial_camera(server)
        self.show_people(server, 0, people_stride)

    def _add_paths(self, server) -> None:
        cameras = self.cameras
        scale = 0.03 * self.unit * float(np.linalg.norm(np.ptp(camera_center(cameras.viewmats), axis=0)) or 1.0)
        fov, aspect = _vertical_fov(cameras.Ks[0], cameras.height), cameras.width / cameras.height
        paths = {"original": cameras.viewmats}
        flythrough = self.layout.renders / "flythrough" / "path.json"
        if flythrough.is_file():
            paths["flythrough"] = np.asarray(json.loads(flythrough.read_text())["viewmats"])
        for kind, viewmats in paths.items():
            every = max(1, len(viewmats) // MAX_FRUSTUMS)
            for i, viewmat in enumerate(viewmats):
                if i % every:
                    continue
                wxyz, position = _camera_pose(viewmat)
                position = self.unit * position
                server.scene.add_camera_frustum(f"/paths/{kind}/{i:04d}", fov=fov, aspect=aspect, scale=scale,
                                                thickness=1.5, thickness_units="screen", color=PATH_COLOURS[kind],
                                                wxyz=wxyz, position=position)

    def set_initial_camera(self, server, index: int = 0) -> None:
        """The view opens at the run's camera `index` (the first: what the report compares with)."""
        viewmat = self.cameras.viewmats[index]
        centre = self.unit * camera_center(viewmat)
        server.initial_camera.position = tuple(centre)
        server.initial_camera.look_at = tuple(centre + viewmat[2, :3])
        server.initial_camera.up = tuple(-viewmat[1, :3])
        server.initial_camera.fov = _vertical_fov(self.cameras.Ks[index], self.cameras.height)

    def people_points(self, index: int, stride: int = 1) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Frame `index`'s people as billboards standing where their feet met the floor, facing the camera
        that filmed them: per person, every `stride`-th person pixel as a point on that plane (viewer
        units), its RGB, and the points' size."""
        if self.cameras is None or not self.records:
            return []
        name = self.cameras.names[index]
        if not (self.layout.people / f"{Path(name).stem}.png").is_file():
            return []
        layer = read_people(self.layout.people, name)[0]
        up = self.cameras.up
        facing = camera_center(self.cameras.viewmats[index])
        people = []
        for record in self.records.get(name, []):
            foot, height, box = record.get("foot_world"), record.get("height_world"), record.get("box")
            if foot is None or not height or box is None:
                continue
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            crop = layer[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1]
            rows, cols = np.nonzero(crop[::stride, ::stride, 3] > 0.5)
            rows, cols = rows * stride, cols * stride
            if len(rows) == 0:
                continue
            pixel = height / crop.shape[0]  # world size of one pixel of the person
            normal = facing - np.asarray(foot)
            normal -= (normal @ up) * up
            normal /= np.linalg.norm(normal) or 1.0
            right = np.cross(up, normal)  # as the filming camera saw it
            points = (np.asarray(foot) + np.outer((crop.shape[0] - rows - 0.5) * pixel, up)
                      + np.outer((cols - crop.shape[1] / 2 + 0.5) * pixel, right))
            colours = (crop[rows, cols, :3] * 255).round().astype(np.uint8)
            people.append(((self.unit * points).astype(np.float32), colours, 1.2 * stride * self.unit * pixel))
        return people

    def show_people(self, server, index: int, stride: int = 1) -> None:
        """Frame `index`'s people in place of the ones shown (points draw opaque and sort with the splats;
        a transparent image would hide the splats behind its empty corners)."""
        for handle in self.people_handles:
            handle.remove()
        self.frame = index
        self.people_handles = [
            server.scene.add_point_cloud(f"/people/{k}", points, colours, point_size=size, point_shape="square",
                                         precision="float32", point_shading="flat")
            for k, (points, colours, size) in enumerate(self.people_points(index, stride))]

    def show_only(self, model: str) -> None:
        self.shown = model
        for name, handle in self.splat_handles.items():
            handle.visible = name == model


def _server(host: str, port: int):
    """A viser server, without the banner it prints (the CLI says where it listens)."""
    try:
        import viser
    except ImportError:
        raise InputError("the viewer needs viser: pip install 'occlurestyle[viewer]'") from None
    with contextlib.redirect_stdout(io.StringIO()):
        return viser.ViserServer(host=host, port=port, verbose=False)


def stop(server) -> None:
    """Stop a viewer server and free its port (quietly: viser prints a line)."""
    with contextlib.redirect_stdout(io.StringIO()):
        server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ExportedPage:
    path: Path
    splat_counts: dict[str, tuple[int, int]]  # model → (splats on the page, splats in the model)
    frames: int  # frames whose people the page plays (0: it shows the first frame's)
    person_stride: int  # every how many person pixels one is on the page


def export_html(run: str | Path, out: str | Path | None = None, budget: int = PAGE_BUDGET, play: bool = False,
                people_budget: int = PEOPLE_BUDGET) -> ExportedPage:
    """Write the run's scene as one self-contained page (default `RUN/viewer.html`) that opens from disk:
    the first model (stylized when there is one) with at most `budget` splats, the paths, and the people
    of the first frame, where the page opens (the run's first camera). With `play`, the people of every
    frame on viser's playback bar at the video's rate (slower if the loop would be shorter than
    MIN_LOOP), one person pixel in k×k so that all frames together stay within `people_budget` points;
    each loop rebuilds the scene, and under software WebGL the empty background shows black while it
    does, so the report's page does not play."""
    scene = RunScene(run, budget, most_models=1)  # the page has no control to switch models
    if not scene.models:
        raise InputError(f"{scene.layout.root} has no splat/*.ply to show; run `occlurestyle train` first")
    frames = len(scene.cameras.names) if play and scene.cameras is not None and scene.records else 0
    stride = 1
    if frames:
        pixels = sum(len(points) for i in range(frames) for points, _, _ in scene.people_points(i))
        stride = max(1, int(np.ceil(np.sqrt(pixels / people_budget))))
    server = _server("127.0.0.1", free_port())
    try:
        recording = server.get_scene_serializer()
        scene.add_to(server, people_stride=stride)
        if frames:
            period = max(1.0 / scene.layout.fps(), MIN_LOOP / frames)
            for index in range(1, frames):
                recording.insert_sleep(period)
                scene.show_people(server, index, stride)
            recording.insert_sleep(period)
        page = recording.as_html()
    finally:
        stop(server)
    head = page.index("<head>") + len("<head>")
    path = write_text(Path(out) if out is not None else scene.layout.root / "viewer.html",
                      page[:head] + FILE_WORKER_SHIM + page[head:])
    return ExportedPage(path, dict(scene.splat_counts), frames, stride)


class _Player:
    """Moves a frame slider on at the video's rate while a Play box is ticked, until stopped."""

    def __init__(self, slider, play, frames: int, fps: float):
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(slider, play, frames, 1.0 / fps), daemon=True,
                                        name="viewer-player")
        self._thread.start()

    def _run(self, slider, play, frames: int, period: float) -> None:
        while not self._stopped.wait(period):
            if play.value:
                slider.value = (int(slider.value) + 1) % frames  # its callback shows that frame's people

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@dataclass
class LiveViewer:
    """A running viewer: its viser server, the run's scene in it, and its controls by name (model, frame,
    play, render; those the run has)."""

    server: object
    scene: RunScene
    controls: dict
    player: _Player | None = None

    @property
    def port(self) -> int:
        return self.server.get_port()

    def stop(self) -> None:
        """Stop playing and serving, and free the port."""
        if self.player is not None:
            self.player.stop()
        stop(self.server)


def serve(run: str | Path, port: int | None = None, host: str = "127.0.0.1", budget: int | None = None) -> LiveViewer:
    """Start the live viewer of `run` on `host:port` (a free port by default), with the GUI: which model,
    which frame's people (and Play, at the video's rate), and a full-quality render of the view."""
    scene = RunScene(run, budget)
    server = _server(host, port or free_port())
    scene.add_to(server)
    viewer = LiveViewer(server, scene, {})
    if len(scene.models) > 1:
        which = viewer.controls["model"] = server.gui.add_dropdown("Model", tuple(scene.models),
                                                                   initial_value=next(iter(scene.models)))

        @which.on_update
        def _(_event) -> None:
            scene.show_only(which.value)

    if scene.cameras is not None and scene.records:
        frames = len(scene.cameras.names)
        frame = viewer.controls["frame"] = server.gui.add_slider("Frame", min=0, max=frames - 1, step=1,
                                                                  initial_value=0)
        play = viewer.controls["play"] = server.gui.add_checkbox("Play", initial_value=False)

        @frame.on_update
        def _(_event) -> None:
            scene.show_people(server, int(frame.value))

        viewer.player = _Player(frame, play, frames, scene.layout.fps())

    if scene.cameras is not None and scene.models:
        button = viewer.controls["render"] = server.gui.add_button("Render this view (full quality)")
        lock = threading.Lock()

        @button.on_click
        def _(event) -> None:
            with lock:
                path = render_client_view(scene, event.client.camera)
            event.client.add_notification("Rendered", f"saved {path}", auto_close_seconds=5.0)

    return viewer


def render_client_view(scene: RunScene, camera, folder: str | Path | None = None) -> Path:
    """Render what a viewer's camera (viser's: `wxyz`, `position` in viewer units, vertical `fov`) sees
    with the project's rasterizer, at the frames' size and with every splat of the shown model; saved as
    `view_NNN.png` in `folder` (default `RUN/renders/views/`)."""
    cameras = scene.cameras
    model = scene.shown
    rotation = Rotation.from_quat(np.asarray(camera.wxyz)[[1, 2, 3, 0]]).as_matrix()  # camera → world
    viewmat = np.eye(4)
    viewmat[:3, :3] = rotation.T
    viewmat[:3, 3] = -rotation.T @ (np.asarray(camera.position) / scene.unit)
    K = cameras.Ks[0].copy()
    K[1, 1] = K[0, 0] = cameras.height / (2 * np.tan(camera.fov / 2))
    views = render_views(scene._params[model], torch.tensor(viewmat[None], dtype=torch.float32),
                         torch.tensor(K[None], dtype=torch.float32), cameras.width, cameras.height)
    folder = Path(folder) if folder is not None else scene.layout.renders / "views"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"view_{len(list(folder.glob('view_*.png'))):03d}.png"
    media.write_image(path, (views["rgb"][0].numpy() * 255).round().astype(np.uint8))
    return path
