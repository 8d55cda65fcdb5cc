"""The `frames` stage: a user's video or image folder → `RUN/frames/000000.png ...` + `frames.json`."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..errors import InputError
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from . import io
from .motion import require_camera_motion

MIN_FRAMES = 8


def extract_frames(source: str | Path, run_dir: str | Path, stride: int = 1, max_side: int | None = 640,
                   max_frames: int | None = None, check_motion: bool = True, progress: bool = True) -> Path:
    """Write every `stride`-th frame (at most `max_frames`, longer side at most `max_side`) as PNG.

    Frames are renamed 000000.png, 000001.png, ...; `frames.json` keeps each one's source name and
    index, the stride and the frame rate, so masks made for the source (matched by its names) and
    timings stay usable. Replaces an existing frames/ folder only once every frame is written, and (with
    `check_motion`) once the frames show a camera that moves (`motion.require_camera_motion`): a static or
    turning camera is refused here, in seconds, not after the masks and a failed registration.
    """
    layout = RunLayout(run_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    src = io.FrameSource.open(source)
    fps = io.video_info(src.path)["fps"] if src.is_video else 30.0
    records = []
    size = source_size = None
    with atomic_dir(layout.frames, overwrite=True) as tmp:
        frames = io.iter_frames(src.path, stride=stride, max_frames=max_frames)
        for index, (name, image) in enumerate(tqdm(frames, desc="frames", unit="frame", disable=not progress)):
            source_size = image.shape[1], image.shape[0]
            image = io.resize_max_side(image, max_side)
            stem = f"{index:06d}"
            io.write_image(tmp / f"{stem}.png", image)
            records.append({"name": stem, "source": name})
            size = image.shape[1], image.shape[0]
        if len(records) < MIN_FRAMES:
            raise InputError(
                f"only {len(records)} frames from {source} (stride {stride}); at least {MIN_FRAMES} are needed "
                "for registration; use a longer clip or a smaller --stride"
            )
        if check_motion:
            require_camera_motion(lambda i: io.read_image(tmp / f"{records[i]['name']}.png"), len(records),
                                  str(source))
    write_json(layout.frames_info, {
        "source": str(Path(source).resolve()), "is_video": src.is_video, "stride": stride,
        "fps": fps / stride, "source_fps": fps, "width": size[0], "height": size[1],
        "source_width": source_size[0], "source_height": source_size[1], "frames": records,
    })
    return layout.frames
