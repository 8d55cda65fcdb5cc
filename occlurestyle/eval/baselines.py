"""The 2D baselines the 3D pipeline is measured against, run on a run folder's frames and masks.

- `inpaint` (inpaint-then-stylize): person masks → 2D video inpainting (`eval.inpaint`) → per-frame
  2D stylization → the original people pasted back over their masks;
- `naive`: whole frames stylized per frame, people included (ReStyle3D's 2D step applied directly).

The per-frame stylization is the same regional colour transfer the 3D pipeline uses
(`stylize.transfer.transfer_colors`, regions paired by `stylize.correspond.match_regions`), on 2D
regions found in each frame on its own by the weight-free segmentation the style image gets
(`auto_style_regions`): what a 2D pipeline without a 3D model can do.

Output: `baselines/<kind>/frames/*.png` (lossless), `baselines/<kind>/video.mp4`, and for `inpaint`
also `baselines/inpaint/inpainted/*.png` (the filled background before stylization) and
`baselines/<kind>/baseline.json` (timings, options).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import media
from ..errors import InputError
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from ..stylize.correspond import match_regions
from ..stylize.style_regions import StyleRegions, auto_style_regions, load_style
from ..stylize.transfer import transfer_colors
from .inpaint import PROPAGATED, SPATIAL, inpaint_video

KINDS = ("inpaint", "naive")


def stylize_frame(image: np.ndarray, style: StyleRegions, regions: int = 6, lightness: str = "linear",
                  seed: int = 0) -> np.ndarray:
    """One frame [H,W,3] (0-1) restyled region by region, its regions found in this frame alone."""
    found = auto_style_regions(image, regions, seed=seed)
    frame_sizes = {n: float((found.labels == i).sum()) for i, n in enumerate(found.names)}
    style_sizes = {n: float((style.labels == i).sum()) for i, n in enumerate(style.names)}
    out = image.copy()
    everything = style.image.reshape(-1, 3)
    for k, match in enumerate(match_regions(frame_sizes, style_sizes)):
        here = found.labels == found.names.index(match["scene"])
        if here.sum() < 10:
            continue
        target = style.colors(match["style"]) if match["style"] else everything
        out[here] = transfer_colors(image[here], target, lightness=lightness, seed=seed + k)
    return out


def run_baseline(run_dir: str | Path, kind: str, style: str | Path, style_labels: str | Path | None = None,
                 progress: bool = True) -> Path:
    """Run one baseline on the run's frames and masks; returns its folder.

    The clip is inpainted in windows of frames (`inpaint_windows`), so memory stays bounded: a short clip
    is one window (the whole clip), a long one overlapping windows of which each keeps its middle."""
    if kind not in KINDS:
        raise InputError(f"unknown baseline {kind!r}; choose one of {', '.join(KINDS)}")
    layout = RunLayout(run_dir)
    paths = layout.frame_paths()
    missing = [p.name for p in paths if not layout.mask_path(p).is_file()]
    if missing:
        raise InputError(f"{layout.masks} has no mask for {missing[0]} (and {len(missing) - 1} more); "
                         f"run `occlurestyle mask {layout.root}` first")
    style_regions = load_style(style, style_labels)
    height, width = media.read_image(paths[0]).shape[:2]
    if media.read_gray(layout.mask_path(paths[0])).shape != (height, width):
        raise InputError(f"masks are not {width}x{height} as the frames are; re-run the masks stage")
    folder = layout.root / "baselines" / kind
    timings = {"inpaint": 0.0, "stylize": 0.0} if kind == "inpaint" else {"stylize": 0.0}
    filled = {PROPAGATED: 0, SPATIAL: 0}
    hidden = 0
    with atomic_dir(folder, overwrite=True) as tmp:
        windows = inpaint_windows(len(paths), height * width) if kind == "inpaint" else \
            [(start, min(start + 64, len(paths)), start, min(start + 64, len(paths)))
             for start in range(0, len(paths), 64)]
        bar = tqdm(total=len(paths), desc=f"baseline {kind}", unit="frame", disable=not progress)
        for start, stop, keep_from, keep_to in windows:
            frames = np.stack([media.read_image(p) for p in paths[start:stop]])
            masks = np.stack([media.read_gray(layout.mask_path(p)) > 0 for p in paths[start:stop]])
            kept = range(keep_from - start, keep_to - start)
            if kind == "inpaint":
                began = time.perf_counter()
                background, how = inpaint_video(frames, masks)
                timings["inpaint"] += time.perf_counter() - began
                media.write_png_sequence(tmp / "inpainted", background[kept], [p.stem for p in paths[keep_from:keep_to]])
                hidden += int(masks[kept].sum())
                for key in filled:
                    filled[key] += int((how[kept] == key).sum())
            else:
                background = frames
            began = time.perf_counter()

            def one_frame(t: int) -> np.ndarray:
                styled = media.to_uint8(stylize_frame(background[t].astype(np.float32) / 255.0, style_regions))
                if kind == "inpaint":
                    styled[masks[t]] = frames[t][masks[t]]  # the people pasted back
                return styled

            # frames are independent; NumPy's sorts release the GIL, so threads share the cores
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                out = list(pool.map(one_frame, kept))
            timings["stylize"] += time.perf_counter() - began
            media.write_png_sequence(tmp / "frames", out, [p.stem for p in paths[keep_from:keep_to]])
            bar.update(len(kept))
        bar.close()
        media.write_video(tmp / "video.mp4", (media.read_image(tmp / "frames" / f"{p.stem}.png") for p in paths),
                       fps=layout.fps())
        info = {"kind": kind, "style": str(style), "style_labels": str(style_labels) if style_labels else None,
                "frames": len(paths), "seconds": {k: round(v, 2) for k, v in timings.items()}}
        if kind == "inpaint":
            info["windows"] = len(windows)
            info["filled_from_other_frames"] = round(filled[PROPAGATED] / max(hidden, 1), 4)
            info["filled_spatially"] = round(filled[SPATIAL] / max(hidden, 1), 4)
        write_json(tmp / "baseline.json", info)
    return folder


# bytes a pixel of a frame takes while a window is inpainted (frames, masks, flows, both sweeps' pointers),
# and what a window may take: 288 frames at 320x240 (the sample clips are one window), 72 at 640x480
INPAINT_BYTES_PER_PIXEL = 90
INPAINT_MEMORY = 2e9


def inpaint_windows(count: int, pixels: int, overlap: int = 10) -> list[tuple[int, int, int, int]]:
    """(start, stop, keep_from, keep_to) per window of frames to inpaint together: each window is what
    INPAINT_MEMORY holds, overlaps its neighbours by `overlap` frames each way (so propagation near its
    ends still sees both sides) and keeps the frames in between; together they keep every frame once."""
    size = max(3 * overlap, int(INPAINT_MEMORY / (INPAINT_BYTES_PER_PIXEL * pixels)))
    if count <= size:
        return [(0, count, 0, count)]
    step = size - 2 * overlap
    windows = []
    for keep_from in range(0, count, step):
        keep_to = min(keep_from + step, count)
        start, stop = max(0, keep_from - overlap), min(count, keep_to + overlap)
        windows.append((start, stop, keep_from, keep_to))
    return windows
