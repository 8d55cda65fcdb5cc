"""The `frames` stage: a user's video or image folder → `RUN/frames/000000.png ...` + `frames.json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .. import media
from ..errors import InputError
from ..fsutil import atomic_dir, write_json
from ..layout import MIN_FRAMES, RunLayout
from ..motion import require_camera_motion


@dataclass
class FramesOptions:
    video: str = field(default="", metadata={"help": "a video file (mp4/mov/avi/...) or a folder of images"})
    stride: int = field(default=1, metadata={"help": "keep every n-th frame"})
    max_side: int = field(default=640, metadata={"help": "downscale so the longer side is at most this (0: keep size)"})
    max_frames: int | None = field(default=None, metadata={"help": "stop after this many frames"})
    check_motion: bool = field(default=True, metadata={
        "help": "refuse a clip whose camera stands still or only turns (no depth can be recovered from it)"})


Options = FramesOptions


def outputs(layout: RunLayout, options: FramesOptions) -> tuple[Path, ...]:
    return (layout.frames_info,)


def run(layout: RunLayout, options: FramesOptions, progress: bool = True) -> Path:
    return extract_frames(options.video, layout.root, options.stride, options.max_side or None, options.max_frames,
                          options.check_motion, progress)


def extract_frames(source: str | Path, run_dir: str | Path, stride: int = FramesOptions.stride,
                   max_side: int | None = FramesOptions.max_side, max_frames: int | None = FramesOptions.max_frames,
                   check_motion: bool = FramesOptions.check_motion, progress: bool = True) -> Path:
    """Write every `stride`-th frame (at most `max_frames`, longer side at most `max_side`) as PNG.

    Frames are renamed 000000.png, 000001.png, ...; `frames.json` keeps each one's source name and
    index, the stride and the frame rate, so masks made for the source (matched by its names) and
    timings stay usable. Replaces an existing frames/ folder only once every frame is written, and (with
    `check_motion`) once the frames show a camera that moves (`motion.require_camera_motion`): a static or
    turning camera is refused here, in seconds, not after the masks and a failed registration.
    """
    layout = RunLayout(run_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    src = media.FrameSource.open(source)
    fps = media.video_info(src.path)["fps"] if src.is_video else 30.0
    records = []
    size = source_size = None
    with atomic_dir(layout.frames, overwrite=True) as tmp:
        frames = media.iter_frames(src.path, stride=stride, max_frames=max_frames)
        for index, (name, image) in enumerate(tqdm(frames, desc="frames", unit="frame", disable=not progress)):
            source_size = image.shape[1], image.shape[0]
            image = media.resize_max_side(image, max_side)
            stem = f"{index:06d}"
            media.write_image(tmp / f"{stem}.png", image)
            records.append({"name": stem, "source": name})
            size = image.shape[1], image.shape[0]
        if len(records) < MIN_FRAMES:
            raise InputError(
                f"only {len(records)} frames from {source} (stride {stride}); at least {MIN_FRAMES} are needed "
                "for registration; use a longer clip or a smaller --stride"
            )
        if check_motion:
            require_camera_motion(lambda i: media.read_image(tmp / f"{records[i]['name']}.png"), len(records),
                                  str(source))
    write_json(layout.frames_info, {
        "source": str(Path(source).resolve()), "is_video": src.is_video, "stride": stride,
        "fps": fps / stride, "source_fps": fps, "width": size[0], "height": size[1],
        "source_width": source_size[0], "source_height": source_size[1], "frames": records,
    })
    return layout.frames
