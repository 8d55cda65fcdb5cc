"""The `composite` stage of a run: people over the stylized renders, along the original path and a new one.

final.mp4: each registered frame's person layer composited by depth over the stylized background
rendered from that frame's camera and seen under that frame's exposure and white balance (its
appearance map from training, so the people, as filmed, sit in it), frames also kept as
renders/final/*.png, lossless. flythrough.mp4:
the stylized room along the new path with, at each time step, that frame's people as billboards at
their floor positions. Both with soft contact shadows under the people's feet (`shadows`). Returns
figures for metrics.json. Both videos play at the frames' rate (the source's divided by the stride).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import media
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from ..occlusion.billboards import people_on_new_view
from ..occlusion.depth_order import composite
from ..occlusion.people import read_people
from ..occlusion.shadows import contact_shading
from ..recon.appearance import apply_appearance, read_appearance
from ..recon.registration_files import read_run_cameras

log = logging.getLogger(__name__)


@dataclass
class CompositeOptions:
    harmonization: float = field(default=0.0, metadata={
        "help": "people's lighting follows the restyled room (0 = untouched)"})
    shadow: float = field(default=0.35, metadata={"help": "darkening of the floor under the people's feet (0 = none)"})


Options = CompositeOptions


def outputs(layout: RunLayout, options: CompositeOptions) -> tuple[Path, ...]:
    return (layout.root / "final.mp4", layout.root / "flythrough.mp4")


def run(layout: RunLayout, options: CompositeOptions, progress: bool = True) -> dict:
    metrics = composite_run(layout, options.harmonization, options.shadow, progress=progress)
    write_json(layout.root / "metrics.json", metrics)
    return metrics


def composite_run(layout: RunLayout, harmonization: float, shadow: float, progress: bool = True) -> dict:
    cameras = read_run_cameras(layout)
    fps = layout.fps()  # the frames' own rate: the source's, divided by the stride
    records = {f["name"]: f["people"] for f in json.loads(layout.people_records.read_text())["frames"]}
    stylized = layout.renders / "original"
    original = layout.renders / "background"
    up = cameras.up
    appearance = read_appearance(layout.appearance)
    leak = 0.0

    def final_frames(folder: Path):
        """Each frame composited, written to `folder` and handed on to the video (one frame in memory)."""
        nonlocal leak
        for index, name in enumerate(tqdm(cameras.names, desc="composite", disable=not progress)):
            stem = Path(name).stem
            background = media.read_image(stylized / f"{stem}.png").astype(np.float32) / 255.0
            background = apply_appearance(background, appearance.get(name))
            background_depth = np.load(stylized / f"{stem}_depth.npy")
            layer, person_depth = read_people(layout.people, name)
            background *= contact_shading(records.get(name, []), cameras.viewmats[index], cameras.Ks[index], up,
                                          background_depth, shadow)[..., None]
            before = None
            if harmonization > 0 and (original / f"{stem}.png").is_file():
                before = apply_appearance(media.read_image(original / f"{stem}.png").astype(np.float32) / 255.0,
                                          appearance.get(name))
            elif harmonization > 0:
                log.warning("no background render %s: frame %s is not harmonized", original / f"{stem}.png", stem)
            image, alpha = composite(background, background_depth, layer, person_depth,
                                     harmonization=harmonization, original_background=before)
            frame = media.to_uint8(image)
            if harmonization == 0:
                solid = alpha >= 1.0
                if solid.any():
                    source = media.read_image(layout.frames / name)
                    leak = max(leak, float(np.abs(frame[solid].astype(int) - source[solid]).max()))
            media.write_image(folder / f"{stem}.png", frame)
            yield frame

    with atomic_dir(layout.renders / "final", overwrite=True) as tmp:
        media.write_video(layout.root / "final.mp4", final_frames(tmp), fps=fps)
    flythrough = layout.renders / "flythrough"
    fly_names = sorted(p.name for p in flythrough.glob("*.png"))

    def flythrough_frames():
        path = json.loads((flythrough / "path.json").read_text()) if (flythrough / "path.json").is_file() else None
        for t, png in enumerate(fly_names):
            background = media.read_image(flythrough / png).astype(np.float32) / 255.0
            depth = np.load(flythrough / png.replace(".png", "_depth.npy"))
            source = cameras.names[min(t, len(cameras.names) - 1)]
            if path is None:
                yield background
                continue
            viewmat, K = np.array(path["viewmats"][t]), np.array(path["Ks"][t])
            layer, _ = read_people(layout.people, source)
            background *= contact_shading(records.get(source, []), viewmat, K, up, depth, shadow)[..., None]
            people, people_depth = people_on_new_view(layer, records.get(source, []), viewmat, K, up,
                                                      background.shape[1], background.shape[0])
            image, _ = composite(background, depth, people, people_depth)
            yield image

    if fly_names:
        media.write_video(layout.root / "flythrough.mp4", flythrough_frames(), fps=fps)
    return {"frames": len(cameras.names), "flythrough_frames": len(fly_names),
            "person_pixel_max_change_8bit": leak if harmonization == 0 else None,
            "harmonization": harmonization, "shadow": shadow}
