"""Ray-cast the sample scenes with open3d and write them with their ground truth.

`SampleScene` renders any frame of a named room: the frame with people, the same view without
people, person masks and instance ids, z-depth with and without people, semantic labels. Colour is
supersampled (stratified samples per pixel, each with its own point on an area light, so shadows are
soft); masks, depth and labels come from the ray through the pixel centre, so
mask == (person depth < background depth) holds exactly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import cameras as cam
from .. import media
from ..errors import InputError, OccluReStyleError
from ..fsutil import atomic_dir, write_json
from .cutouts import (
    ALPHA_HIT,
    DEFAULT_CLIPS,
    Billboard,
    data_folders,
    default_clips,
    load_cutout,
)
from .geometry import Part, rotation_x, rotation_y, rotation_z
from .rooms import SCENES, Room

log = logging.getLogger(__name__)

INVALID = np.uint32(0xFFFFFFFF)
PERSON_IRRADIANCE = 1.0  # a cut-out lit this much by the room shows the clip's own colours


def _open3d():
    try:
        import open3d as o3d
    except ImportError as exc:  # open3d links libusb-1.0, which minimal systems lack

        raise OccluReStyleError(
            f"open3d cannot be imported ({exc}); on Debian/Ubuntu run 'sudo apt-get install libusb-1.0-0'"
        ) from None
    return o3d


@dataclass
class SceneConfig:
    frames: int = 90
    width: int = 320
    height: int = 240
    fps: float = 30.0
    seed: int = 0
    supersample: int = 2  # samples per pixel side for colour
    person_shadows: bool = True
    people: str = "real"  # "real": cut-outs of clips' masked people; "capsule": articulated capsule bodies
    people_clips: tuple[str, ...] = ()  # clips (frames/ + masks/) for real people; () = the built-in ones


def choose_people(people: str | None, clips: tuple[str, ...] = ()) -> str:
    """`people` as asked; unasked, real people when clips are given or the built-in ones are on this
    machine, else capsule bodies (said in the log)."""
    if people is not None:
        return people
    if clips or default_clips():
        return "real"
    log.warning("no clips with person masks found (looked for davis_parkour and davis_dance_twirl in %s): the "
                "scene's people are capsule bodies; pass --people-clip DIR for real ones",
                ", ".join(str(folder) for folder in dict.fromkeys(data_folders())))
    return "capsule"


def resolve_people_clips(config: SceneConfig) -> list[tuple[str, int, int]]:
    """The clips real people are cut from, each with the way its person faces and its first usable
    frame number; [] for capsule people."""
    if config.people == "capsule":
        return []
    if config.people != "real":
        raise InputError(f"unknown people '{config.people}'; choose real or capsule")
    if config.people_clips:
        return [(str(Path(clip).resolve()), 0, 0) for clip in config.people_clips]
    found = default_clips()
    if not found:
        raise InputError("real people are cut from clips with person masks (davis_parkour and davis_dance_twirl in "
                         "../shared/data), which are not on this machine: pass --people-clip DIR (a folder with "
                         "frames/ and masks/), set OCCLURESTYLE_DATA, or use --people capsule")
    return [(clip, facing, first) for clip, (_, facing, first) in zip(found, DEFAULT_CLIPS)]


class _Tracer:
    """A RaycastingScene over a list of parts; geometry id = index in the list."""

    def __init__(self, parts: list[Part], mesh_cache: dict | None = None):
        o3d = _open3d()
        self.parts = parts
        self.scene = o3d.t.geometry.RaycastingScene()
        for part in parts:
            local = None
            if mesh_cache is not None:
                key = (part.kind, part.dims)
                if key not in mesh_cache:
                    mesh_cache[key] = part.local_mesh()
                local = mesh_cache[key]
            verts, tris = part.world_mesh(local)
            self.scene.add_triangles(
                o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(tris.astype(np.uint32))
            )

    def cast(self, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        o3d = _open3d()
        if not self.parts:
            shape = rays.shape[:-1]
            return np.full(shape, np.inf, np.float32), np.full(shape, INVALID, np.uint32)
        out = self.scene.cast_rays(o3d.core.Tensor(np.ascontiguousarray(rays, np.float32)))
        return out["t_hit"].numpy(), out["geometry_ids"].numpy()


class SampleScene:
    """A named procedural room with walking people, rendered frame by frame with ground truth."""

    def __init__(self, name: str, config: SceneConfig | None = None, style: bool = False):
        if name not in SCENES:
            raise InputError(f"unknown scene '{name}'; choose one of: {', '.join(sorted(SCENES))}")
        self.name = name
        self.config = config or SceneConfig()
        if self.config.frames < 1 or self.config.width < 8 or self.config.height < 8:
            raise InputError("a scene needs at least 1 frame and 8x8 pixels")
        self.room: Room = SCENES[name](self.config.seed, style=style)
        self.clips = resolve_people_clips(self.config)
        for clip in self.clips:
            load_cutout(*clip)  # a clip that cannot be cut fails here, before any rendering
        self.label_ids = {label: i + 1 for i, label in enumerate(self.room.labels)}
        self._part_label_ids = np.array([self.label_ids[part.label] for part in self.room.parts], np.uint8)
        self._static = _Tracer(self.room.parts)
        self._mesh_cache: dict = {}
        self.K = cam.intrinsics_from_fov(self.config.width, self.config.height, self.room.camera.hfov_deg)
        self.viewmats = self._camera_path()

    # ---------------------------------------------------------------- cameras
    def _camera_path(self) -> list[np.ndarray]:
        c = self.config
        path = self.room.camera
        rng = np.random.default_rng(c.seed + 12345)
        # handheld shake: a few sines per axis with random frequency (0.4-2.5 Hz) and phase
        freqs = rng.uniform(0.4, 2.5, (6, 3))
        phases = rng.uniform(0, 2 * np.pi, (6, 3))
        weights = rng.uniform(0.5, 1.0, (6, 3))
        viewmats = []
        for i in range(c.frames):
            tau = i / max(c.frames - 1, 1)
            t = i / c.fps
            eye = _catmull_rom(path.eyes, tau)
            target = _catmull_rom(path.targets, tau)
            shake = (weights * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1) / weights.sum(axis=1)
            eye = eye + path.shake_position * shake[:3]
            viewmat = cam.look_at(eye, target)
            angles = np.radians(path.shake_rotation_deg) * shake[3:]
            jitter = rotation_x(angles[0]) @ rotation_y(angles[1]) @ rotation_z(angles[2])
            viewmat[:3, :] = jitter @ viewmat[:3, :]
            viewmats.append(viewmat)
        return viewmats

    def time_of(self, index: int) -> float:
        return index / self.config.fps

    def people_parts(self, index: int) -> list[Part]:
        """The capsule bodies at frame `index`: the people themselves, or the shadow casters of cut-outs."""
        t = self.time_of(index)
        return [part for walker in self.room.walkers for part in walker.parts(t)]

    def billboards(self, index: int, viewmat: np.ndarray | None = None) -> list[Billboard]:
        """The cut-out people at frame `index`, facing its camera (none with capsule people)."""
        if not self.clips:
            return []
        t = self.time_of(index)
        viewmat = self.viewmats[index] if viewmat is None else viewmat
        eye = cam.camera_center(viewmat)
        out = []
        for walker in self.room.walkers:
            clip, facing, first = self.clips[walker.clip_for(len(self.clips))]
            position, heading, _ = walker.floor_position(t)
            # people wearing the same clip are out of step, not twins
            sprite = load_cutout(clip, facing, first).sprite_at(t + 0.7 * walker.instance, moving=walker.speed > 0)
            out.append(Billboard(np.array([position[0], position[1], 0.0]), eye, walker.height, heading, sprite,
                                 facing, walker.instance))
        return out

    def cutout_sources(self, index: int) -> list[tuple[Billboard, np.ndarray, np.ndarray]]:
        """Each cut-out at frame `index` with the pixels (flat indices) where its sprite is the nearest
        opaque person on the centre ray, and the clip's pixel (x, y) shown there."""
        c = self.config
        rays = cam.pixel_rays(self.K, self.viewmats[index], c.width, c.height, [(0.5, 0.5)]).reshape(-1, 6)
        boards = self.billboards(index)
        if not boards:
            return []
        t, nearest = _nearest_opaque([[board.intersect(rays[:, 3:]) for board in boards]])
        out = []
        for k, board in enumerate(boards):
            pixels = np.flatnonzero(nearest[0] == k)
            points = rays[pixels, :3] + rays[pixels, 3:] * t[0, pixels, None]
            out.append((board, pixels, board.source_pixels(points)))
        return out

    # ---------------------------------------------------------------- rendering
    def _sample_offsets(self) -> list[tuple[float, float]]:
        s = self.config.supersample
        return [((a + 0.5) / s, (b + 0.5) / s) for b in range(s) for a in range(s)]

    def _light_samples(self, count: int) -> np.ndarray:
        """Stratified points on the square area light, one per colour sample."""
        s = int(np.ceil(np.sqrt(count)))
        grid = [((a + 0.5) / s - 0.5, (b + 0.5) / s - 0.5) for b in range(s) for a in range(s)][:count]
        offsets = np.array([[u, v, 0.0] for u, v in grid]) * self.room.light_size
        return self.room.light_position + offsets

    @staticmethod
    def _surface(points, gids, parts, rays_dir):
        """Normals (facing the viewer) and albedo of hits; `gids` index `parts`."""
        normals = np.zeros_like(points)
        albedo = np.zeros_like(points)
        order = np.argsort(gids, kind="stable")
        bounds = np.flatnonzero(np.diff(gids[order])) + 1
        for sel in np.split(order, bounds):
            if len(sel):
                normals[sel], albedo[sel] = parts[int(gids[sel[0]])].shade_inputs(points[sel])
        facing = np.sum(normals * rays_dir, axis=1) > 0
        normals[facing] *= -1
        return normals, albedo

    @staticmethod
    def _light(points, normals, light, tracers: list[_Tracer]):
        """Irradiance from the ambient term and one light point, shadowed by every tracer's geometry.

        Returns the irradiance without shadows from the last tracer too, so a caller can have the
        frame (people cast shadows) and the background (they do not) from one set of rays.
        """
        to_light = light - points
        dist = np.linalg.norm(to_light, axis=1)
        to_light /= dist[:, None]
        lambert = np.clip(np.sum(normals * to_light, axis=1), 0.0, None)
        visible = [np.ones(len(points), bool) for _ in tracers]
        lit = np.flatnonzero(lambert > 0)
        if len(lit):
            shadow_rays = np.concatenate([points[lit] + 2e-3 * normals[lit], to_light[lit]], axis=1)
            for k, tracer in enumerate(tracers):
                t_hit, _ = tracer.cast(shadow_rays)
                visible[k][lit[t_hit < dist[lit] - 1e-2]] = False
        direct = 1.9 * lambert / (1.0 + 0.12 * np.maximum(dist, 1.2) ** 2)
        ambient = 0.44 + 0.03 * normals[:, 2]
        all_visible = np.logical_and.reduce(visible)
        all_but_last = np.logical_and.reduce(visible[:-1]) if len(visible) > 1 else all_visible
        return ambient + direct * all_visible, ambient + direct * all_but_last

    def _over_cutouts(self, colour, origins, directions, t_static, hits, boards, light):
        """`colour` (the room along each ray) seen through the cut-outs in front of it, nearest first,
        each lit by the room's light with its quad's normal (their own capsules do not shade them)."""
        in_front = np.stack([(t_hit < t_static) & (alpha > 0) for t_hit, alpha, _ in hits])
        rays = np.flatnonzero(in_front.any(axis=0))  # most rays meet no one: only these are blended
        if not len(rays):
            return colour
        t = np.where(in_front[:, rays], np.stack([t_hit[rays] for t_hit, _, _ in hits]), np.inf)
        alphas = np.zeros(t.shape, np.float32)
        colours = np.zeros(t.shape + (3,), np.float32)
        for k, (board, (t_hit, alpha, rgb)) in enumerate(zip(boards, hits)):
            seen = np.flatnonzero(np.isfinite(t[k]))
            if len(seen):
                ray = rays[seen]
                points = origins[ray] + directions[ray] * t_hit[ray, None]
                normals = np.broadcast_to(board.normal, points.shape)
                shade = self._light(points, normals, light, [self._static])[0] / PERSON_IRRADIANCE
                alphas[k, seen] = alpha[ray]
                colours[k, seen] = rgb[ray] * shade[:, None]
        order = np.argsort(t, axis=0, kind="stable")
        columns = np.arange(len(rays))
        out = colour.copy()
        blended = np.zeros((len(rays), 3))
        transmitted = np.ones(len(rays))
        for k in range(len(boards)):
            alpha = alphas[order[k], columns]
            blended += (transmitted * alpha)[:, None] * colours[order[k], columns]
            transmitted *= 1 - alpha
        out[rays] = blended + transmitted[:, None] * colour[rays]
        return out

    def render(self, index: int, with_people: bool = True) -> dict[str, np.ndarray]:
        """Everything about frame `index`: rgb (float, people), background, mask, instances, depths, semantics.

        `person_depth` and `person_on_ray` are the people-only z-depth (inf where none) and person id, which
        show people hidden behind furniture as well as visible ones.
        """
        c = self.config
        W, H = c.width, c.height
        viewmat = self.viewmats[index]
        forward = viewmat[2, :3]
        offsets = [(0.5, 0.5)] + self._sample_offsets()
        rays = cam.pixel_rays(self.K, viewmat, W, H, offsets).reshape(len(offsets), -1, 6)
        people = self.people_parts(index) if with_people else []
        boards = self.billboards(index, viewmat) if with_people else []
        # with cut-outs the capsules only cast shadows; the people are the quads
        people_tracer = _Tracer(people if (not boards or c.person_shadows) else [], self._mesh_cache)
        t_static, g_static = self._static.cast(rays)
        if boards:
            hits = [[board.intersect(rays[s, :, 3:]) for board in boards] for s in range(len(offsets))]
            t_people, g_people = _nearest_opaque(hits)
            instance_of = np.array([board.instance for board in boards], np.uint8)
        else:
            t_people, g_people = people_tracer.cast(rays)
            instance_of = np.array([part.instance for part in people], np.uint8)
        depth_scale = rays[..., 3:] @ forward

        # ground truth from the centre ray
        bg_depth = (t_static[0] * depth_scale[0]).reshape(H, W).astype(np.float32)
        person_depth = np.where(np.isfinite(t_people[0]), t_people[0] * depth_scale[0], np.inf).reshape(H, W)
        mask = person_depth < bg_depth
        depth = np.where(mask, person_depth, bg_depth).astype(np.float32)
        instances = np.zeros(W * H, np.uint8)
        person_on_ray = np.zeros(W * H, np.uint8)
        if len(instance_of):
            on_ray = np.isfinite(t_people[0])
            person_on_ray[on_ray] = instance_of[g_people[0][on_ray]]
            instances[mask.reshape(-1)] = person_on_ray[mask.reshape(-1)]
        semantics = self._part_label_ids[g_static[0]]

        # colour from the supersamples, each with its own point on the area light
        lights = self._light_samples(len(offsets) - 1)
        frame = np.zeros((W * H, 3))
        background = np.zeros((W * H, 3))
        for s in range(1, len(offsets)):
            o, d = rays[s, :, :3], rays[s, :, 3:]
            light = lights[s - 1]
            pts = o + d * t_static[s][:, None]
            normals, albedo = self._surface(pts, g_static[s], self.room.parts, d)
            tracers = [self._static, people_tracer] if people and c.person_shadows else [self._static]
            lit_frame, lit_background = self._light(pts, normals, light, tracers)
            background += albedo * lit_background[:, None]
            col = albedo * lit_frame[:, None]
            if boards:
                col = self._over_cutouts(col, o, d, t_static[s], hits[s], boards, light)
            else:
                person_hit = t_people[s] < t_static[s]
                if person_hit.any():
                    ppts = o[person_hit] + d[person_hit] * t_people[s][person_hit][:, None]
                    pn, pa = self._surface(ppts, g_people[s][person_hit], people, d[person_hit])
                    lit_person, _ = self._light(ppts, pn, light, [self._static, people_tracer])
                    col[person_hit] = pa * lit_person[:, None]
            frame += col
        n = len(offsets) - 1
        return {
            "rgb": np.clip(frame / n, 0, 1).reshape(H, W, 3).astype(np.float32),
            "background": np.clip(background / n, 0, 1).reshape(H, W, 3).astype(np.float32),
            "mask": mask,
            "instances": instances.reshape(H, W),
            "depth": depth,
            "background_depth": bg_depth,
            "person_depth": person_depth.astype(np.float32),
            "person_on_ray": person_on_ray.reshape(H, W),
            "semantics": semantics.reshape(H, W),
        }

    def render_view(self, viewmat: np.ndarray, K: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """A person-free colour render and its semantic labels from any camera."""
        saved = (self.config, self.K)
        try:
            self.config = SceneConfig(**{**asdict(self.config), "width": width, "height": height})
            self.K = K
            self.viewmats = list(self.viewmats) + [viewmat]
            out = self.render(len(self.viewmats) - 1, with_people=False)
        finally:
            self.config, self.K = saved
            self.viewmats = self.viewmats[:-1]
        return out["background"], out["semantics"]

    def people_ground_truth(self, index: int) -> list[dict]:
        t = self.time_of(index)
        poses = {board.instance: board.sprite.source for board in self.billboards(index)}
        out = []
        for walker in self.room.walkers:
            pos, yaw, _ = walker.floor_position(t)
            out.append({"id": walker.instance, "floor_xy": [float(pos[0]), float(pos[1])], "yaw": yaw,
                        "height": walker.height})
            if walker.instance in poses:
                out[-1]["clip_frame"] = poses[walker.instance]
        return out


def _nearest_opaque(hits: list[list[tuple]]) -> tuple[np.ndarray, np.ndarray]:
    """Per sample set, the nearest quad where the sprite is opaque enough to count as the person
    (ALPHA_HIT): its ray parameter (inf where none) and its index."""
    t_out, g_out = [], []
    for per_board in hits:
        t = np.stack([np.where(alpha >= ALPHA_HIT, t_hit, np.inf) for t_hit, alpha, _ in per_board])
        nearest = np.argmin(t, axis=0)
        t_out.append(t[nearest, np.arange(t.shape[1])])
        g_out.append(np.where(np.isfinite(t_out[-1]), nearest, INVALID).astype(np.uint32))
    return np.stack(t_out), np.stack(g_out)


def _catmull_rom(points: np.ndarray, tau: float) -> np.ndarray:
    """Uniform Catmull-Rom spline through `points` at parameter tau in [0, 1]."""
    n = len(points)
    if n == 1:
        return points[0].copy()
    x = np.clip(tau, 0.0, 1.0) * (n - 1)
    k = min(int(np.floor(x)), n - 2)
    u = x - k
    p0 = points[max(k - 1, 0)]
    p1, p2 = points[k], points[k + 1]
    p3 = points[min(k + 2, n - 1)]
    if k == 0:
        p0 = 2 * p1 - p2
    if k + 2 > n - 1:
        p3 = 2 * p2 - p1
    return 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)


STYLE_SIZE = (512, 384)
FRAME_FOLDERS = ("frames", "background", "masks", "instances", "depth", "background_depth", "semantics")

_worker_scene: SampleScene | None = None


def _init_worker(name: str, config: SceneConfig) -> None:
    global _worker_scene
    _worker_scene = SampleScene(name, config)


def _render_and_write(index: int, folder: Path) -> tuple[int, np.ndarray, list[dict]]:
    """Render frame `index` in a worker process and write its per-frame files into `folder`."""
    scene = _worker_scene
    r = scene.render(index)
    stem = f"{index:06d}"
    media.write_image(folder / "frames" / f"{stem}.png", r["rgb"])
    media.write_image(folder / "background" / f"{stem}.png", r["background"])
    media.write_image(folder / "masks" / f"{stem}.png", r["mask"].astype(np.uint8) * 255)
    media.write_image(folder / "instances" / f"{stem}.png", r["instances"])
    media.write_image(folder / "semantics" / f"{stem}.png", r["semantics"])
    np.save(folder / "depth" / f"{stem}.npy", r["depth"])
    np.save(folder / "background_depth" / f"{stem}.npy", r["background_depth"])
    return index, media.to_uint8(r["rgb"]), scene.people_ground_truth(index)


def make_scene(name: str, out: str | Path, config: SceneConfig | None = None, overwrite: bool = False,
               style: bool = True, progress: bool = True, workers: int | None = None) -> Path:
    """Render a sample scene and write frames, ground truth, cameras, a COLMAP model and video.mp4 to `out`.

    Frames are rendered by `workers` processes (default: one per core); the folder appears only
    when everything is written.
    """
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    scene = SampleScene(name, config)  # validates the name and config before any work
    c = scene.config
    workers = workers or min(os.cpu_count() or 1, 8)
    timings = {}
    start = time.perf_counter()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        names = [f"{i:06d}" for i in range(c.frames)]
        for sub in FRAME_FOLDERS:
            (tmp / sub).mkdir()
        video_frames: list = [None] * c.frames
        people_gt: list = [None] * c.frames
        # spawn, not fork: open3d's ray-casting thread pool in this process does not survive a fork
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(name, c)) as pool:
            jobs = [pool.submit(_render_and_write, i, tmp) for i in range(c.frames)]
            for job in tqdm(jobs, desc=f"render {name}", unit="frame", disable=not progress):
                index, rgb, people = job.result()
                video_frames[index] = rgb
                people_gt[index] = {"frame": f"{names[index]}.png", "people": people}
        timings["render_s"] = time.perf_counter() - start

        t0 = time.perf_counter()
        media.write_video(tmp / "video.mp4", video_frames, fps=c.fps)
        timings["video_s"] = time.perf_counter() - t0

        write_json(tmp / "cameras.json", {
            "convention": "OpenCV camera axes; viewmat = world-to-camera 4x4; pixel centres at +0.5; world z up",
            "width": c.width, "height": c.height, "fps": c.fps, "K": scene.K.tolist(),
            "frames": [{"name": f"{n}.png", "viewmat": v.tolist()} for n, v in zip(names, scene.viewmats)],
        })
        write_json(tmp / "semantics.json", {
            "description": "semantics/*.png: class id per pixel of the person-free view; 0 = none",
            "classes": [{"id": i, "name": label} for label, i in scene.label_ids.items()],
        })
        write_json(tmp / "people.json", {
            "description": "per frame, each person's floor position (x, y in metres, world z up) and heading",
            "frames": people_gt,
        })
        cam.write_colmap_text(tmp / "colmap_gt", scene.K, c.width, c.height, [f"{n}.png" for n in names], scene.viewmats)

        if style:
            t0 = time.perf_counter()
            write_style_exemplar(name, tmp / "style", c.seed)
            timings["style_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - start
        room = scene.room
        write_json(tmp / "scene.json", {
            "name": name, "description": room.description, "config": asdict(c),
            "room_size": list(room.size), "up": [0.0, 0.0, 1.0], "people": len(room.walkers), "timings": timings,
            "people_clips": [clip for clip, _, _ in scene.clips],
        })
    return Path(out)


def scene_is_current(folder: str | Path, name: str, config: SceneConfig) -> bool:
    """Whether `folder` holds scene `name` made with `config`, so a re-run can use it as it is."""
    import json

    info = Path(folder) / "scene.json"
    if not info.is_file() or not (Path(folder) / "video.mp4").is_file():
        return False
    made = json.loads(info.read_text())
    return made.get("name") == name and made.get("config") == json.loads(json.dumps(asdict(config)))


def write_style_exemplar(name: str, folder: Path, seed: int = 0, size: tuple[int, int] = STYLE_SIZE) -> Path:
    """A person-free render of the re-skinned room with its labels: a style image with known regions."""
    width, height = size
    scene = SampleScene(name, SceneConfig(frames=1, width=width, height=height, seed=seed), style=True)
    K = cam.intrinsics_from_fov(width, height, 80.0)
    viewmat = cam.look_at(scene.room.style_eye, scene.room.style_target)
    rgb, labels = scene.render_view(viewmat, K, width, height)
    folder.mkdir(parents=True, exist_ok=True)
    media.write_image(folder / "style.png", rgb)
    media.write_image(folder / "labels.png", labels)
    write_json(folder / "labels.json", {
        "description": "labels.png: class id per pixel of style.png; 0 = none; camera: the intrinsics it was "
                       "rendered with (the texture figure compares patches at equal angular resolution)",
        "camera": {"K": K.tolist(), "width": width, "height": height},
        "classes": [{"id": i, "name": label} for label, i in scene.label_ids.items()],
    })
    return folder
