"""The registration's files: the registered cameras read back, and written for other tools.

- `read_cameras`: a COLMAP model → per-frame K and world→camera viewmats (OpenCV axes).
- `read_keypoint_depths`: per frame, the keypoints the model triangulated and their depth.
- `read_run_cameras`: the cameras a run renders with (training's refined ones when it made them) and
  which way is up (`gravity`).
- `write_transforms`: nerfstudio's `transforms.json` (camera→world in OpenGL axes, `mask_path` per
  frame, black = ignore), so `ns-train splatfacto --data RUN` works on a GPU machine.
- `write_points_ply`: the sparse points as a coloured PLY.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cameras import camera_up
from ..fsutil import atomic_path, write_json
from ..layout import RunLayout
from .gravity import read_gravity

# OpenCV camera axes (x right, y down, z forward) → OpenGL/nerfstudio axes (x right, y up, z back)
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class CameraSet:
    """Registered frames: `names[i]` has intrinsics `Ks[i]` and world→camera `viewmats[i]`; `up` is the
    world's up (the cameras' own estimate unless given)."""

    names: list[str]
    Ks: np.ndarray  # [F, 3, 3]
    viewmats: np.ndarray  # [F, 4, 4]
    width: int
    height: int
    up: np.ndarray | None = None

    def __post_init__(self):
        if self.up is None:
            self.up = camera_up(self.viewmats)

    def index(self, name: str) -> int:
        return self.names.index(name)


def read_cameras(sparse_dir: str | Path) -> CameraSet:
    """Cameras of a COLMAP model (pinhole models), sorted by image name."""
    import pycolmap

    return cameras_of(pycolmap.Reconstruction(str(sparse_dir)))


def read_keypoint_depths(sparse_dir: str | Path) -> dict[str, np.ndarray]:
    """Per image name, its keypoints that have a 3D point: `[K, 3]` float32 rows (x, y, camera depth),
    pixel coordinates with (0, 0) at the top-left corner of the first pixel, as COLMAP writes them."""
    import pycolmap

    reconstruction = pycolmap.Reconstruction(str(sparse_dir))
    result = {}
    for image in reconstruction.images.values():
        observations = image.get_observation_points2D()
        if not observations:
            result[image.name] = np.zeros((0, 3), np.float32)
            continue
        xy = np.array([p.xy for p in observations])
        world = np.array([reconstruction.points3D[p.point3D_id].xyz for p in observations])
        cam_from_world = image.cam_from_world().matrix()
        depth = world @ cam_from_world[2, :3] + cam_from_world[2, 3]
        result[image.name] = np.column_stack([xy, depth]).astype(np.float32)
    return result


def read_run_cameras(layout: RunLayout) -> CameraSet:
    """The cameras later stages render with: training's refined cameras (`splat/cameras.json`) when
    they were refined from the current registration, else the registration's; up as the registration
    found it (`colmap/gravity.json`; the cameras' own estimate for a run registered before it was)."""
    cameras = read_cameras(layout.sparse)
    up = read_gravity(layout, cameras.names)
    if up is not None:
        cameras.up = up
    if layout.refined_cameras.is_file():
        by_name = {f["name"]: f for f in json.loads(layout.refined_cameras.read_text())["frames"]}
        if all(n in by_name and np.allclose(by_name[n]["registered_viewmat"], v, atol=1e-9)
               for n, v in zip(cameras.names, cameras.viewmats)):
            cameras.viewmats = np.array([by_name[n]["viewmat"] for n in cameras.names])
            cameras.Ks = np.array([by_name[n]["K"] for n in cameras.names])
    return cameras


def camera_to_world_opengl(viewmat: np.ndarray) -> np.ndarray:
    """nerfstudio's `transform_matrix`: camera→world with OpenGL camera axes."""
    return np.linalg.inv(viewmat) @ OPENCV_TO_OPENGL


def viewmat_from_opengl(transform_matrix: np.ndarray) -> np.ndarray:
    """Inverse of `camera_to_world_opengl`."""
    return np.linalg.inv(np.asarray(transform_matrix) @ OPENCV_TO_OPENGL)


def write_transforms(layout: RunLayout, reconstruction) -> Path:
    """nerfstudio `transforms.json` for the registered frames, paths relative to the run folder."""
    cameras = cameras_of(reconstruction)
    K = cameras.Ks[0]
    frames = []
    for name, viewmat in zip(cameras.names, cameras.viewmats):
        frame = {"file_path": f"frames/{name}", "transform_matrix": camera_to_world_opengl(viewmat).tolist()}
        mask = layout.colmap_masks / f"{name}.png"
        if mask.is_file():
            frame["mask_path"] = str(mask.relative_to(layout.root))
        frames.append(frame)
    return write_json(layout.transforms, {
        "camera_model": "OPENCV",
        "w": cameras.width, "h": cameras.height,
        "fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        # the COLMAP world frame is kept as is (nerfstudio's "keep original world coordinate")
        "applied_transform": np.eye(4)[:3].tolist(),
        "ply_file_path": str(layout.points_ply.relative_to(layout.root)),
        "frames": frames,
    })


def read_transforms(path: str | Path) -> dict[str, np.ndarray]:
    """frame file name → world→camera viewmat, from a nerfstudio transforms.json."""
    data = json.loads(Path(path).read_text())
    return {Path(f["file_path"]).name: viewmat_from_opengl(np.array(f["transform_matrix"])) for f in data["frames"]}


def write_points_ply(reconstruction, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        reconstruction.export_PLY(str(tmp))
    return Path(path)


def cameras_of(reconstruction) -> CameraSet:
    """The registered frames of a pycolmap reconstruction, sorted by image name (up: the cameras' own)."""
    images = sorted(reconstruction.images.values(), key=lambda im: im.name)
    Ks, viewmats = [], []
    for image in images:
        camera = reconstruction.cameras[image.camera_id]
        Ks.append(camera.calibration_matrix())
        viewmat = np.eye(4)
        viewmat[:3] = image.cam_from_world().matrix()
        viewmats.append(viewmat)
    camera = reconstruction.cameras[images[0].camera_id]
    return CameraSet([im.name for im in images], np.array(Ks), np.array(viewmats), camera.width, camera.height)
