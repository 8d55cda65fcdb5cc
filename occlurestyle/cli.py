"""The `occlurestyle` command line: thin wrappers over the stages; user errors print as one line.

`-v` shows what the stages decide (`-vv` debug), `-q` errors only (no progress bars or stage lines);
by default the warnings: every fallback a stage takes (a failed quick SfM, frames without masks, a
discarded checkpoint, a floor not found, ...) says so in one line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import OccluReStyleError
from .stages.composite import CompositeOptions
from .stages.depth import DepthOptions
from .stages.frames import FramesOptions
from .stages.masks import MaskOptions
from .stages.register import RegistrationOptions
from .stages.render import RenderOptions
from .stages.stylize import StylizeOptions
from .stages.train import TrainOptions

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Restyle a room video in 3D from one style image, with the people composited back.")
scene_app = typer.Typer(no_args_is_help=True, help="Built-in sample scenes with ground truth.")
app.add_typer(scene_app, name="scene")
models_app = typer.Typer(no_args_is_help=True, help="Model files the people masker runs (fetched, never shipped).")
app.add_typer(models_app, name="models")
_quiet = False


@app.callback()
def _options(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="say what the stages decide (-vv: debug)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="errors only: no warnings, progress bars or stage lines"),
) -> None:
    global _quiet
    _quiet = quiet
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logger = logging.getLogger("occlurestyle")
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (beside tqdm's bars), not when it was made."""

    stream = property(lambda self: sys.stderr, lambda self, value: None)


def _progress() -> bool:
    return not _quiet


def _say(line: str) -> None:
    """A stage line (what runs, what is written); silent with -q."""
    if not _quiet:
        typer.echo(line)


@scene_app.command("list")
def scene_list() -> None:
    """List the built-in sample scenes."""
    from .scenes.rooms import SCENES

    for name, build in sorted(SCENES.items()):
        typer.echo(f"{name:12s} {build(0).description}")


@scene_app.command("make")
def scene_make(
    name: str = typer.Argument(..., help="scene name (see `occlurestyle scene list`)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    frames: int = typer.Option(90, help="number of frames"),
    width: int = typer.Option(320, help="image width"),
    height: int = typer.Option(240, help="image height"),
    seed: int = typer.Option(0, help="random seed (textures, clothes, camera shake)"),
    fps: float = typer.Option(30.0, help="frame rate"),
    people: Optional[str] = typer.Option(None, help="real: cut-outs of real people from clips with person masks; "
                                         "capsule: capsule bodies of exact geometry [default: real when the "
                                         "clips are found]"),
    people_clip: Optional[list[Path]] = typer.Option(None, help="a clip folder (frames/ and masks/) to cut a "
                                                     "person from; repeat for several [default: the runner of "
                                                     "davis_parkour and the dancer of davis_dance_twirl]"),
    overwrite: bool = typer.Option(False, help="replace an existing output folder"),
) -> None:
    """Render a sample scene: frames, ground truth (background, masks, depth, semantics, cameras), video.mp4."""
    from .scenes.generate import SceneConfig, choose_people, make_scene

    clips = tuple(str(clip) for clip in people_clip or ())
    config = SceneConfig(frames=frames, width=width, height=height, seed=seed, fps=fps,
                         people=choose_people(people, clips), people_clips=clips)
    out = make_scene(name, out, config, overwrite=overwrite, progress=_progress())
    _say(f"wrote {out}")


@models_app.command("fetch")
def models_fetch(
    models_dir: Optional[Path] = typer.Option(None, help="where to put them (default: $OCCLURESTYLE_MODELS or "
                                              "~/.cache/occlurestyle/models)"),
) -> None:
    """Download the people masker's BlazePose files (from the PyPI wheel mediapipe==0.10.21, Apache-2.0)
    into the model folder and check them; files already there and correct are kept."""
    from .models import POSE, fetch

    folder = fetch(POSE, models_dir)
    _say(f"{', '.join(f.name for f in POSE.files)} checked in {folder}")


def _field(options_class, name: str):
    return {f.name: f for f in dataclasses.fields(options_class)}[name]


def _default(options_class, name: str):
    """A stage option's default, from its options class (the one place it is written)."""
    spec = _field(options_class, name)
    return spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()


def _option(options_class, name: str, *flags: str, shown: bool = True):
    """A typer option whose default and help come from the stage's options class. `shown=False`: the
    command's default is None (only what the user gives overrides a config), the real one is in the help."""
    spec = _field(options_class, name)
    text = spec.metadata.get("help", "")
    if not shown:
        return typer.Option(None, *flags, help=f"{text} [default: {_default(options_class, name)}]")
    return typer.Option(_default(options_class, name), *flags, help=text)


SET_HELP = ("set any option of the stage: NAME=VALUE (repeatable; `occlurestyle options` lists them)")


def _with_sets(options, sets: Optional[list[str]], stage: str):
    """`options` with `--set NAME=VALUE` applied (parsed by the option's type)."""
    from .pipeline import RunConfig

    config = RunConfig()
    setattr(config, stage, options)
    for item in sets or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise OccluReStyleError(f"--set {item!r}: write NAME=VALUE")
        config.set(key if "." in key else f"{stage}.{key}", value)
    return getattr(config, stage)


@app.command()
def frames(
    video: Path = typer.Argument(..., help="a video file (mp4/mov/avi/...) or a folder of images"),
    run_dir: Path = typer.Argument(..., help="the run folder to create or update"),
    stride: int = _option(FramesOptions, "stride"),
    max_side: int = _option(FramesOptions, "max_side"),
    max_frames: Optional[int] = _option(FramesOptions, "max_frames"),
    motion_check: bool = _option(FramesOptions, "check_motion", "--motion-check/--no-motion-check"),
) -> None:
    """Extract the frames a run works on: RUN/frames/000000.png ... and frames.json."""
    from .layout import RunLayout
    from .stages import frames as stage

    options = FramesOptions(video=str(video), stride=stride, max_side=max_side, max_frames=max_frames,
                            check_motion=motion_check)
    _say(f"wrote {stage.run(RunLayout(run_dir), options, progress=_progress())}")


@app.command()
def mask(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/"),
    masker: str = _option(MaskOptions, "masker"),
    mask_dir: Optional[Path] = _option(MaskOptions, "mask_dir"),
    models_dir: Optional[Path] = _option(MaskOptions, "models_dir"),
    sam_model: Optional[Path] = _option(MaskOptions, "sam_model"),
    dilate: int = _option(MaskOptions, "dilate"),
    temporal: bool = _option(MaskOptions, "temporal"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Make person masks: RUN/masks/000000.png (255 = person)."""
    from .layout import RunLayout
    from .stages import masks as stage

    options = _with_sets(MaskOptions(masker=masker, mask_dir=_text(mask_dir), sam_model=_text(sam_model),
                                     dilate=dilate, temporal=temporal, models_dir=_text(models_dir)), set_, "masks")
    stage.check(options)
    stage.prepare(options)
    _say(f"wrote {stage.run(RunLayout(run_dir), options, progress=_progress())}")


@app.command()
def register(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/ (and masks/, which are honoured)"),
    mapper: str = _option(RegistrationOptions, "mapper"),
    camera_model: str = _option(RegistrationOptions, "camera_model"),
    features: int = _option(RegistrationOptions, "max_num_features", "--features"),
    overlap: int = _option(RegistrationOptions, "overlap"),
    peak_threshold: float = _option(RegistrationOptions, "sift_peak_threshold", "--peak-threshold"),
    max_reproj_error: float = _option(RegistrationOptions, "filter_max_reproj_error", "--max-reproj-error"),
    no_masks: bool = typer.Option(False, "--no-masks", help="ignore masks/"),
    vocab_tree: Optional[Path] = _option(RegistrationOptions, "vocab_tree"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    verbose: bool = typer.Option(False, help="show COLMAP's log"),
) -> None:
    """Register the frames with COLMAP (people masked): colmap/sparse/0, transforms.json, colmap/points.ply."""
    from .layout import RunLayout
    from .stages import register as stage

    options = _with_sets(RegistrationOptions(
        camera_model=camera_model, max_num_features=features, overlap=overlap, sift_peak_threshold=peak_threshold,
        filter_max_reproj_error=max_reproj_error, mapper=mapper, use_masks=not no_masks,
        loop_detection=vocab_tree is not None, vocab_tree=_text(vocab_tree)), set_, "register")
    sparse = stage.run(RunLayout(run_dir), options, progress=_progress(), verbose=verbose)
    info = json.loads((sparse.parent.parent / "registration.json").read_text())
    _say(f"registered {info['registered']}/{info['frames']} frames, {info['points']} points; wrote {sparse}")


@app.command()
def depth(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/"),
    model: Path = typer.Option(..., "--model", help=_field(DepthOptions, "model").metadata["help"]),
) -> None:
    """Per-frame depth maps from a monocular depth model: RUN/depth_maps/<frame>.npy, for
    `train --person-depth-dir RUN/depth_maps`."""
    from .layout import RunLayout
    from .stages import depth as stage

    options = DepthOptions(model=str(model))
    stage.prepare(options)
    _say(f"wrote {stage.run(RunLayout(run_dir), options, progress=_progress())}")


@app.command()
def train(
    run_dir: Path = typer.Argument(..., help="a registered run folder"),
    steps: int = _option(TrainOptions, "steps"),
    resolution: int = _option(TrainOptions, "resolution"),
    sh_degree: int = _option(TrainOptions, "sh_degree"),
    max_gaussians: int = _option(TrainOptions, "max_gaussians"),
    strategy: str = _option(TrainOptions, "strategy"),
    person_depth_dir: Optional[Path] = typer.Option(None, help=_field(TrainOptions, "person_depth_dir")
                                                    .metadata["help"]),
    robust: bool = _option(TrainOptions, "robust"),
    depth_weight: float = _option(TrainOptions, "depth_weight"),
    holdout_every: int = _option(TrainOptions, "holdout_every"),
    refine_cameras: bool = _option(TrainOptions, "refine_cameras"),
    appearance: bool = _option(TrainOptions, "appearance"),
    seed: int = _option(TrainOptions, "seed"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Fit the static background with Gaussians (people left out): splat/background.ply."""
    from .layout import RunLayout
    from .stages import train as stage

    options = _with_sets(TrainOptions(
        steps=steps, resolution=resolution, sh_degree=sh_degree, max_gaussians=max_gaussians, strategy=strategy,
        robust=robust, refine_masks=robust, person_depth_dir=_text(person_depth_dir) or "",
        holdout_every=holdout_every, refine_cameras=refine_cameras, appearance=appearance, depth_weight=depth_weight,
        seed=seed), set_, "train")
    _say(f"wrote {stage.run(RunLayout(run_dir), options, progress=_progress())}")


@app.command()
def stylize(
    run_dir: Path = typer.Argument(..., help="a trained run folder (splat/background.ply)"),
    style: Optional[Path] = _option(StylizeOptions, "style", "--style"),
    style_labels: Optional[Path] = _option(StylizeOptions, "style_labels"),
    scene_labels: Optional[Path] = _option(StylizeOptions, "scene_labels"),
    strength: float = _option(StylizeOptions, "strength"),
    method: str = _option(StylizeOptions, "method", "--stylizer", "--method"),
    material_scale: float = _option(StylizeOptions, "material_scale"),
    shading: float = _option(StylizeOptions, "shading"),
    lightness: Optional[str] = _option(StylizeOptions, "lightness"),
    keep_structure: float = _option(StylizeOptions, "keep_structure"),
    key_views: int = _option(StylizeOptions, "key_views"),
    stylized_views: Optional[Path] = _option(StylizeOptions, "stylized_views"),
    export_key_views: Optional[Path] = typer.Option(None, help="only write person-free key views + depth to this "
                                                    "folder, for a 2D stylizer (see --stylized-views)"),
    seed: int = _option(StylizeOptions, "seed"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Recolour the background Gaussians region by region from a style image: splat/stylized.ply."""
    from .layout import RunLayout
    from .stages import stylize as stage

    if export_key_views is not None:
        _say(f"wrote {stage.export_background_key_views(run_dir, export_key_views, key_views)}")
        return
    options = _with_sets(StylizeOptions(
        style=_text(style), style_labels=_text(style_labels), strength=strength, scene_labels=_text(scene_labels),
        method="views" if stylized_views else method, material_scale=material_scale, shading=shading,
        lightness=lightness,
        keep_structure=keep_structure, stylized_views=_text(stylized_views),
        key_views=key_views, seed=seed), set_, "stylize")
    _say(f"wrote {stage.run(RunLayout(run_dir), options, progress=_progress())}")


@app.command("options")
def list_options(stage: Optional[str] = typer.Argument(None, help="one stage [default: every stage]")) -> None:
    """Every stage option with its default: what `run --set STAGE.NAME=VALUE` and a `--config` file take."""
    from .pipeline import STAGES, RunConfig

    config = RunConfig()
    if stage is not None and stage not in STAGES:
        raise OccluReStyleError(f"unknown stage {stage!r}; the stages are {', '.join(STAGES)}")
    for name in [stage] if stage else STAGES:
        typer.echo(f"[{name}]")
        for spec in dataclasses.fields(getattr(config, name)):
            value = getattr(getattr(config, name), spec.name)
            text = spec.metadata.get("help", "")
            typer.echo(f"  {name}.{spec.name} = {json.dumps(value)}" + (f"    # {text}" if text else ""))


@app.command("run")
def run_all(
    video: Path = typer.Argument(..., help="the input video (mp4/mov/avi) or a folder of frames"),
    style: Path = typer.Option(..., "--style", help="the style image"),
    out: Path = typer.Option(..., "--out", help="the run folder"),
    config_file: Optional[Path] = typer.Option(None, "--config", help="a .json or .toml file of {stage: {option: "
                                                "value}} (a run's config.json is one); flags and --set override it"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="set any stage option: STAGE.NAME=VALUE, e.g. "
                                             "--set train.strategy=mcmc (repeatable; `occlurestyle options` lists "
                                             "them)"),
    style_labels: Optional[Path] = _option(StylizeOptions, "style_labels", shown=False),
    masker: Optional[str] = _option(MaskOptions, "masker", shown=False),
    mask_dir: Optional[Path] = _option(MaskOptions, "mask_dir", shown=False),
    sam_model: Optional[Path] = _option(MaskOptions, "sam_model", shown=False),
    models_dir: Optional[Path] = _option(MaskOptions, "models_dir", shown=False),
    stride: Optional[int] = _option(FramesOptions, "stride", shown=False),
    max_side: Optional[int] = _option(FramesOptions, "max_side", shown=False),
    max_frames: Optional[int] = _option(FramesOptions, "max_frames", shown=False),
    motion_check: Optional[bool] = _option(FramesOptions, "check_motion", "--motion-check/--no-motion-check",
                                           shown=False),
    train_steps: Optional[int] = _option(TrainOptions, "steps", "--train-steps", shown=False),
    appearance: Optional[bool] = _option(TrainOptions, "appearance", "--appearance/--no-appearance", shown=False),
    holdout_every: Optional[int] = _option(TrainOptions, "holdout_every", shown=False),
    person_depth_dir: Optional[Path] = _option(TrainOptions, "person_depth_dir", shown=False),
    depth_model: Optional[Path] = _option(DepthOptions, "model", "--depth-model", shown=False),
    strength: Optional[float] = _option(StylizeOptions, "strength", shown=False),
    method: Optional[str] = _option(StylizeOptions, "method", "--stylizer", shown=False),
    material_scale: Optional[float] = _option(StylizeOptions, "material_scale", shown=False),
    keep_structure: Optional[float] = _option(StylizeOptions, "keep_structure", shown=False),
    harmonization: Optional[float] = _option(CompositeOptions, "harmonization", shown=False),
    shadow: Optional[float] = _option(CompositeOptions, "shadow", shown=False),
    flythrough: Optional[str] = _option(RenderOptions, "flythrough", shown=False),
) -> None:
    """Every stage, video to final.mp4 and flythrough.mp4; a re-run skips finished stages. Every stage
    option can be set (--set, --config); the flags here are the common ones."""
    from .pipeline import RunConfig, run_pipeline

    config = RunConfig.load(config_file) if config_file else RunConfig()
    config.frames.video, config.stylize.style = str(video), str(style)
    given = {
        "stylize.style_labels": _text(style_labels), "masks.masker": masker, "masks.mask_dir": _text(mask_dir),
        "masks.sam_model": _text(sam_model), "masks.models_dir": _text(models_dir), "frames.stride": stride,
        "frames.max_side": max_side, "frames.max_frames": max_frames, "frames.check_motion": motion_check,
        "train.steps": train_steps, "train.appearance": appearance, "train.holdout_every": holdout_every,
        "train.person_depth_dir": _text(person_depth_dir), "depth.model": _text(depth_model),
        "stylize.strength": strength, "stylize.method": method,
        "stylize.material_scale": material_scale,
        "stylize.keep_structure": keep_structure,
        "composite.harmonization": harmonization, "composite.shadow": shadow, "render.flythrough": flythrough,
    }
    for key, value in given.items():
        if value is not None:
            stage, name = key.split(".")
            setattr(getattr(config, stage), name, value)
    for item in set_ or ():
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise OccluReStyleError(f"--set {item!r}: write STAGE.NAME=VALUE, e.g. train.steps=2000")
        config.set(key, value)
    run_pipeline(config, out, progress=_progress(), log=_say)
    _say(f"wrote {out / 'final.mp4'} and {out / 'flythrough.mp4'} ({_flythrough_note(out)})")


def _text(path: Optional[Path]) -> Optional[str]:
    return str(path) if path is not None else None


def _flythrough_note(run: Path) -> str:
    path = json.loads((run / "renders" / "flythrough" / "path.json").read_text())
    sizes = ", ".join(f"{k} {v:g}" for k, v in path.get("size", {}).items())
    name = f"{path['kind']} ({sizes})" if sizes else path["kind"]
    note = f"{name}: {path['coverage']:.0%} of its pixels show what two cameras saw"
    if path["coverage"] < 0.95:
        note += "; the capture saw too little for a new path to stay inside it: film the room from more places"
    return note


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), "--out", help="output folder"),
    train_steps: int = typer.Option(1500, help="background training steps (4000 for full quality)"),
    evaluate: bool = typer.Option(True, "--eval/--no-eval", help="also run the 2D baselines and write report.html"),
) -> None:
    """The whole pipeline on the built-in living-room sample with its bundled style exemplar, then the
    comparison with the 2D baselines (report.html)."""
    from .pipeline import RunConfig, run_pipeline
    from .scenes.generate import (
        SceneConfig,
        choose_people,
        make_scene,
        scene_is_current,
    )

    scene = out / "scene"
    scene_config = SceneConfig(people=choose_people(None))
    if not scene_is_current(scene, "living_room", scene_config):
        make_scene("living_room", scene, scene_config, overwrite=True, progress=_progress())
    config = RunConfig.create(scene / "video.mp4", scene / "style" / "style.png", scene / "style" / "labels.png",
                              train={"steps": train_steps})
    run_pipeline(config, out / "run", progress=_progress(), log=_say)
    _say(f"wrote {out / 'run' / 'final.mp4'} and {out / 'run' / 'flythrough.mp4'} ({_flythrough_note(out / 'run')})")
    if evaluate:
        from .eval.evaluate import evaluate_run
        from .eval.report import write_report

        _say("[eval] running the 2D baselines and the comparison")
        _say(f"wrote {write_report(out / 'run', evaluate_run(out / 'run', progress=_progress()))}")


@app.command()
def batch(
    spec: Path = typer.Argument(..., help="a .csv or .yaml list of captures (video, style(s), options), or a "
                                "folder of videos restyled from every --style"),
    out: Path = typer.Option(..., "--out", help="the batch folder: a run folder per capture × style, "
                             "index.html, batch.json"),
    style: Optional[list[Path]] = typer.Option(None, "--style", help="style image for captures that name none "
                                               "(repeatable: each capture is restyled from each)"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="set a stage option for every capture: "
                                             "STAGE.NAME=VALUE (a capture's own options win)"),
    engine: str = typer.Option("auto", help="auto (Ray when installed, on more than 2 cores or with --address), "
                               "ray, or local (one task after another)"),
    address: Optional[str] = typer.Option(None, help="join this Ray cluster (e.g. ray://head:10001 or "
                                          "head:6379); the batch folder must be on a path every worker sees"),
    evaluate: bool = typer.Option(True, "--eval/--no-eval", help="also compare each run with the 2D "
                                  "baselines (metrics and report.html)"),
) -> None:
    """Restyle many captures, each from one or more styles: the stages before stylize run once per
    capture and are shared by its styles; on Ray the tasks run side by side. A capture that fails stops
    only its own runs; re-running the same command finishes only what is missing."""
    from .batch.engines import engine as make_engine
    from .batch.run import run_batch
    from .batch.spec import read_spec
    from .batch.summary import table

    overrides = {}
    for item in set_ or ():
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise OccluReStyleError(f"--set {item!r}: write STAGE.NAME=VALUE, e.g. train.steps=2000")
        overrides[key] = value
    captures = read_spec(spec, style or (), overrides)
    runs = sum(len(c.styles) for c in captures)
    _say(f"{len(captures)} captures, {runs} runs into {out}")
    runner = make_engine(engine, address, say=_say)
    try:
        states = run_batch(captures, out, runner, overrides, evaluate=evaluate, progress=_progress(), say=_say)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        runner.close()
    _say(table(states))
    _say(f"wrote {out / 'index.html'}")
    if any(state.status != "done" for state in states.values()):
        raise SystemExit(1)


@app.command()
def view(
    run_dir: Path = typer.Argument(..., help="a run folder (any stage onward: what exists is shown)"),
    port: Optional[int] = typer.Option(None, help="port to serve on [default: a free one]"),
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: reachable from other machines)"),
    export: Optional[Path] = typer.Option(None, help="instead of serving, write the scene as one self-contained "
                                          "page that opens from disk in a browser (at most 300,000 splats)"),
    play: bool = typer.Option(False, "--play", help="with --export: the people of every frame on the page's "
                              "playback bar (under software WebGL the background blinks black as it loops)"),
) -> None:
    """Look around the run in 3D in a browser: the stylized room (or the background), the camera and
    flythrough paths, the people of any frame, and full-quality renders of any view (renders/views/)."""
    import time

    from .viewer import export_html, serve

    if export is not None:
        page = export_html(run_dir, export, play=play)
        counts = ", ".join(f"{model} {shown:,} of {total:,} splats"
                           for model, (shown, total) in page.splat_counts.items())
        size = page.path.stat().st_size / 1e6
        people = f"the people of {page.frames} frames" if page.frames else "the first frame's people"
        _say(f"wrote {page.path} ({size:.1f} MB: {counts}, {people})")
        return
    viewer = None
    try:
        viewer = serve(run_dir, port=port, host=host)
        _say(f"viewer of {run_dir} at http://{host}:{viewer.port} (Ctrl-C stops it)")
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        if viewer is not None:
            viewer.stop()


@app.command()
def baseline(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/ and masks/"),
    kind: str = typer.Option("inpaint", help="inpaint (inpaint-then-stylize) or naive (whole frames stylized)"),
    style: Path = typer.Option(None, "--style", help="the style image [default: the run's, from config.json]"),
    style_labels: Path = typer.Option(None, help="label image of the style [default: the run's]"),
) -> None:
    """A 2D baseline on the run's frames and masks: baselines/KIND/frames, video.mp4."""
    from .eval.baselines import run_baseline

    if style is None:
        config = run_dir / "config.json"
        if not config.is_file():
            raise OccluReStyleError(f"{run_dir} has no config.json to take the style from; pass --style")
        from .pipeline import RunConfig

        values = RunConfig.load(config)
        style, style_labels = values.style, style_labels or values.stylize.style_labels
    _say(f"wrote {run_baseline(run_dir, kind, style, style_labels, progress=_progress())}")


@app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., help="a finished run folder (occlurestyle run)"),
    scene: Path = typer.Option(None, help="the sample scene with ground truth [default: found from the run's video]"),
    baselines: bool = typer.Option(True, help="run the 2D baselines first when they are missing"),
    true_masks: Path = typer.Option(None, help="true person masks of a real clip (one per frame, matched as --mask-dir "
                                    "is): leakage onto people is measured on them [default: a sample scene's]"),
) -> None:
    """Measure the run against the 2D baselines: metrics.json and report.html."""
    from .eval.evaluate import evaluate_run
    from .eval.report import write_report

    metrics = evaluate_run(run_dir, scene, baselines=baselines, true_masks=true_masks, progress=_progress())
    for method, values in metrics["methods"].items():
        figures = ", ".join(f"{k} {v:.4g}" for k, v in values.items() if isinstance(v, float))
        _say(f"{method}: {figures}")
    _say(f"wrote {run_dir / 'metrics.json'} and {write_report(run_dir, metrics)}")


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point; returns normally on success so it can be called from Python too."""
    try:
        app(args=argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    except OccluReStyleError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
