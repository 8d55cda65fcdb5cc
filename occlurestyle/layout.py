"""Names of everything in a run folder (see DESIGN.md), so no stage spells a path on its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .media import IMAGE_EXTENSIONS, natural_key

MIN_FRAMES = 8  # fewer frames cannot be registered and trained on


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    frames = property(lambda self: self.root / "frames")
    frames_info = property(lambda self: self.root / "frames.json")
    masks = property(lambda self: self.root / "masks")
    instances = property(lambda self: self.root / "instances")
    mattes = property(lambda self: self.root / "mattes")
    colmap = property(lambda self: self.root / "colmap")
    colmap_masks = property(lambda self: self.root / "colmap" / "masks")
    colmap_database = property(lambda self: self.root / "colmap" / "database.db")
    sparse = property(lambda self: self.root / "colmap" / "sparse" / "0")
    points_ply = property(lambda self: self.root / "colmap" / "points.ply")
    gravity = property(lambda self: self.root / "colmap" / "gravity.json")
    transforms = property(lambda self: self.root / "transforms.json")
    splat = property(lambda self: self.root / "splat")
    background_ply = property(lambda self: self.root / "splat" / "background.ply")
    stylized_ply = property(lambda self: self.root / "splat" / "stylized.ply")
    refined_cameras = property(lambda self: self.root / "splat" / "cameras.json")
    appearance = property(lambda self: self.root / "splat" / "appearance.json")
    stylize = property(lambda self: self.root / "stylize")
    depth_maps = property(lambda self: self.root / "depth_maps")
    depth_maps_info = property(lambda self: self.root / "depth_maps" / "model.json")
    people = property(lambda self: self.root / "people")
    people_records = property(lambda self: self.root / "people" / "depth.json")
    renders = property(lambda self: self.root / "renders")
    train_info = property(lambda self: self.root / "splat" / "train.json")
    scene_regions = property(lambda self: self.root / "stylize" / "scene_regions.json")
    masks_info = property(lambda self: self.root / "masks.json")

    def frame_paths(self) -> list[Path]:
        """The run's frames in order; an error saying how to make them if there are none."""
        if not self.frames.is_dir():
            raise InputError(
                f"{self.root} has no frames/ folder; make it with `occlurestyle frames VIDEO {self.root}`"
            )
        paths = sorted((p for p in self.frames.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
                       key=lambda p: natural_key(p.name))
        if not paths:
            raise InputError(f"{self.frames} contains no images; run `occlurestyle frames VIDEO {self.root}`")
        return paths

    def source_names(self) -> dict[str, str]:
        """Run frame stem → the stem the frame had in its source (image folders keep their names)."""
        if self.frames_info.is_file():
            info = json.loads(self.frames_info.read_text())
            return {f["name"]: f["source"] for f in info.get("frames", [])}
        return {}

    def source_size(self) -> tuple[int, int] | None:
        """(width, height) of the video or images the frames were made from (frames.json), None when unknown."""
        if self.frames_info.is_file():
            info = json.loads(self.frames_info.read_text())
            if "source_width" in info:
                return info["source_width"], info["source_height"]
        return None

    def fps(self, default: float = 30.0) -> float:
        """Frame rate of the run's frames (frames.json), `default` when unknown."""
        if self.frames_info.is_file():
            return float(json.loads(self.frames_info.read_text()).get("fps", default))
        return default

    def mask_path(self, frame: Path) -> Path:
        return self.masks / f"{frame.stem}.png"
