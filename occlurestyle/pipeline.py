"""The stage graph over a run folder: frames → masks → register → depth → train → stylize → people →
render → composite (one module each in `stages/`), with a manifest so a re-run skips what is done.

`RunConfig` holds one options object per stage (each stage's defaults live in its own options class
and nowhere else). It is written to `RUN/config.json` as `{stage: {option: value}}`, the same form
`RunConfig.from_dict` reads (so `occlurestyle run --config RUN/config.json` repeats a run), and any
option can be set by its dotted name (`RunConfig.set("train.strategy", "mcmc")`, the CLI's `--set`).

`run/manifest.json` records, per stage, a hash of its options chained with the hashes of the stages
before it, its time, when it finished, and how many times it has run in this folder. A re-run skips a
stage whose hash is unchanged; a changed option re-runs the stage it affects and every stage after it;
an interrupted run resumes at the first unfinished stage (training also resumes inside its stage from
its checkpoint). Inputs are checked before any stage starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from . import media
from .errors import InputError
from .fsutil import write_json
from .layout import RunLayout
from .stages import (
    composite,
    depth,
    frames,
    masks,
    people,
    register,
    render,
    stylize,
    train,
)
from .stylize.style_regions import load_style

STAGES: dict[str, types.ModuleType] = {
    "frames": frames, "masks": masks, "register": register, "depth": depth, "train": train, "stylize": stylize,
    "people": people, "render": render, "composite": composite,
}


@dataclass
class RunConfig:
    frames: frames.FramesOptions = field(default_factory=frames.FramesOptions)
    masks: masks.MaskOptions = field(default_factory=masks.MaskOptions)
    register: register.RegistrationOptions = field(default_factory=register.RegistrationOptions)
    depth: depth.DepthOptions = field(default_factory=depth.DepthOptions)
    train: train.TrainOptions = field(default_factory=train.TrainOptions)
    stylize: stylize.StylizeOptions = field(default_factory=stylize.StylizeOptions)
    people: people.PeopleOptions = field(default_factory=people.PeopleOptions)
    render: render.RenderOptions = field(default_factory=render.RenderOptions)
    composite: composite.CompositeOptions = field(default_factory=composite.CompositeOptions)

    @classmethod
    def create(cls, video: str | Path, style: str | Path, style_labels: str | Path | None = None,
               **stages: dict[str, Any]) -> "RunConfig":
        """A run of `video` restyled from `style`; `stages` maps a stage name to its option overrides,
        e.g. `RunConfig.create("room.mp4", "style.jpg", masks={"masker": "auto"}, train={"steps": 1500})`."""
        config = cls.from_dict(stages)
        config.frames.video, config.stylize.style = str(video), str(style)
        config.stylize.style_labels = str(style_labels) if style_labels else None
        return config

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, Any]]) -> "RunConfig":
        """From `{stage: {option: value}}` (a config file, or a run's config.json); unknown names fail."""
        config = cls()
        for stage, values in data.items():
            options = _stage_options(config, stage)
            for name, value in (values or {}).items():
                _check_option(options, stage, name)
                setattr(options, name, str(value) if isinstance(value, Path) else value)
        return config

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """From a .json or .toml file of `{stage: {option: value}}`."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"config file {path} does not exist")
        try:
            if path.suffix.lower() == ".toml":
                import tomllib

                data = tomllib.loads(path.read_text())
            else:
                data = json.loads(path.read_text())
        except ValueError as exc:
            raise InputError(f"{path} is not a valid {path.suffix.lstrip('.') or 'json'} file: {exc}") from None
        return cls.from_dict(data)

    def set(self, key: str, value: str) -> None:
        """Set one option from text, by its dotted name: `set("train.strategy", "mcmc")`."""
        stage, _, name = key.partition(".")
        options = _stage_options(self, stage)
        _check_option(options, stage, name)
        setattr(options, name, _parse(value, typing.get_type_hints(type(options))[name], key))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return asdict(self)

    @property
    def video(self) -> str:
        return self.frames.video

    @property
    def style(self) -> str | None:
        return self.stylize.style


def _stage_options(config: RunConfig, stage: str):
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; the stages are {', '.join(STAGES)}")
    return getattr(config, stage)


def _check_option(options, stage: str, name: str) -> None:
    names = [f.name for f in fields(options)]
    if name not in names:
        raise InputError(f"{stage} has no option {name!r}; its options are {', '.join(names)}")


def _parse(text: str, kind, key: str) -> Any:
    """`text` as a value of type `kind` (int, float, bool, str, dict, or one of them | None)."""
    options = [k for k in typing.get_args(kind) if k is not type(None)] if typing.get_args(kind) else [kind]
    if typing.get_args(kind) and text.lower() in ("none", "null", ""):
        return None
    kind = options[0]
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes", "on")
        if kind in (dict, list) or typing.get_origin(kind) in (dict, list):
            return json.loads(text)
        return kind(text)
    except ValueError:
        name = getattr(kind, "__name__", str(kind))
        raise InputError(f"{key}={text!r}: expected {'an' if name[0] in 'aeiou' else 'a'} {name}") from None


def stage_outputs(layout: RunLayout, config: RunConfig) -> dict[str, tuple[Path, ...]]:
    """What each stage leaves behind: a stage the manifest calls done runs again if one is missing."""
    return {name: module.outputs(layout, getattr(config, name)) for name, module in STAGES.items()}


def stage_hashes(config: RunConfig) -> dict[str, str]:
    """Per stage, a hash of its options (those that change what it writes) chained with the earlier stages'."""
    chained, out = "", {}
    for name in STAGES:
        options = getattr(config, name)
        values = {f.name: getattr(options, f.name) for f in fields(options) if f.metadata.get("hash", True)}
        payload = json.dumps(values, sort_keys=True, default=str) + chained
        chained = hashlib.sha256(payload.encode()).hexdigest()[:16]
        out[name] = chained
    return out


def check_inputs(config: RunConfig) -> None:
    """Fail before any work on a bad option, a missing or unreadable video or style image, or a missing
    model: first each stage's `check` (its options alone), then the files, then each stage's `prepare`
    (folders and models it needs; the people masker's model files are fetched here)."""
    for name, module in STAGES.items():
        if hasattr(module, "check"):
            module.check(getattr(config, name))
    video = Path(config.video)
    if not config.video or not video.exists():
        raise InputError(f"input video {video} does not exist")
    if video.is_file():
        media.video_info(video)  # raises a one-line InputError on unreadable files
    if not config.style or not Path(config.style).is_file():
        raise InputError(f"style image {config.style} does not exist; pass an image with --style")
    media.read_image(config.style)
    if config.stylize.style_labels:
        load_style(config.style, config.stylize.style_labels)  # the labels and the names they need
    if config.train.person_depth_dir and config.depth.model:
        raise InputError("pass either depth maps (--person-depth-dir) or a depth model (--depth-model), not both")
    if config.train.person_depth_dir and not Path(config.train.person_depth_dir).is_dir():
        raise InputError(f"depth folder {config.train.person_depth_dir} does not exist; pass the folder holding one "
                         "depth map per frame")
    for name, module in STAGES.items():
        if hasattr(module, "prepare"):
            module.prepare(getattr(config, name))


def _wired(layout: RunLayout, config: RunConfig, name: str):
    """The options a stage runs with: its own, plus what an earlier stage made for it."""
    options = getattr(config, name)
    if name == "train" and config.depth.model and not options.person_depth_dir:
        return replace(options, person_depth_dir=str(layout.depth_maps))
    return options


def run_pipeline(config: RunConfig, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] = print, only: Sequence[str] | None = None) -> dict:
    """Run (or resume) every stage into `out`, or with `only`, just those stages (every stage before
    them must be done already; the batch runs one stage at a time this way); returns the manifest."""
    unknown = [name for name in only or () if name not in STAGES]
    if unknown:
        raise InputError(f"unknown stage {unknown[0]!r}; the stages are {', '.join(STAGES)}")
    last = max((list(STAGES).index(name) for name in only), default=len(STAGES) - 1) if only else len(STAGES) - 1
    check_inputs(config)
    layout = RunLayout(out)
    layout.root.mkdir(parents=True, exist_ok=True)
    manifest_path = layout.root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"stages": {}}
    write_json(layout.root / "config.json", config.to_dict())
    hashes = stage_hashes(config)
    outputs = stage_outputs(layout, config)
    stale = False
    for index, (name, module) in enumerate(STAGES.items()):
        if index > last:
            break
        done = manifest["stages"].get(name)
        if not stale and done and done.get("hash") == hashes[name]:
            missing = [path for path in outputs[name] if not path.exists()]
            if not missing:
                log(f"[{name}] done already ({done['seconds']:.1f} s), skipped")
                continue
            log(f"[{name}] {missing[0].relative_to(layout.root)} is missing: running it again")
        if only and name not in only:
            raise InputError(f"stage {name} is not done in {layout.root}: run it before {', '.join(only)}")
        stale = True  # this stage and every later one run again
        log(f"[{name}] running")
        start = time.perf_counter()
        module.run(layout, dataclasses.replace(_wired(layout, config, name)), progress)
        seconds = time.perf_counter() - start
        runs = (manifest["stages"].get(name) or {}).get("runs", 0) + 1  # times it ran in this folder
        manifest["stages"][name] = {"hash": hashes[name], "seconds": round(seconds, 2),
                                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs": runs}
        write_json(manifest_path, manifest)
        log(f"[{name}] {seconds:.1f} s")
    return manifest
