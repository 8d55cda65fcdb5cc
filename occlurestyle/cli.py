"""The `occlurestyle` command line: thin wrappers over the stages; user errors print as one line.

`-v` shows what the stages decide (`-vv` debug), `-q` errors only (no progress bars or stage lines);
by default the warnings: every fallback a stage takes (a failed quick SfM, frames without masks, a
discarded checkpoint, a floor not found, ...) says so in one line.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import OccluReStyleError

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


@app.command()
def frames(
    video: Path = typer.Argument(..., help="a video file (mp4/mov/avi/...) or a folder of images"),
    run_dir: Path = typer.Argument(..., help="the run folder to create or update"),
    stride: int = typer.Option(1, help="keep every n-th frame"),
    max_side: int = typer.Option(640, help="downscale so the longer side is at most this (0: keep size)"),
    max_frames: Optional[int] = typer.Option(None, help="stop after this many frames"),
    motion_check: bool = typer.Option(True, help="refuse a clip whose camera stands still or only turns (no "
                                      "depth can be recovered from it)"),
) -> None:
    """Extract the frames a run works on: RUN/frames/000000.png ... and frames.json."""
    from .scenes.capture import extract_frames

    out = extract_frames(video, run_dir, stride=stride, max_side=max_side or None, max_frames=max_frames,
                         check_motion=motion_check, progress=_progress())
    _say(f"wrote {out}")


@app.command()
def mask(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/"),
    masker: str = typer.Option("people", help="people (every person, learned models fetched from PyPI), auto (no "
                               "weights, motion cue), file (a folder of masks) or sam (people refined by SAM)"),
    mask_dir: Optional[Path] = typer.Option(None, help="file masker: folder with one mask per frame"),
    models_dir: Optional[Path] = typer.Option(None, help="people masker: a folder holding its model files "
                                              "(default: the cache `occlurestyle models fetch` fills)"),
    sam_model: Optional[Path] = typer.Option(None, help="sam masker: a local folder with a transformers SAM model "
                                             "(e.g. facebook/sam-vit-base saved with save_pretrained)"),
    dilate: int = typer.Option(3, help="grow masks by this many pixels"),
    temporal: bool = typer.Option(True, help="3-frame temporal median"),
) -> None:
    """Make person masks: RUN/masks/000000.png (255 = person)."""
    from .occlusion.masks import MaskOptions, make_masks

    options = MaskOptions(masker=masker, mask_dir=str(mask_dir) if mask_dir else None,
                          sam_model=str(sam_model) if sam_model else None, dilate=dilate, temporal=temporal,
                          models_dir=str(models_dir) if models_dir else None)
    _say(f"wrote {make_masks(run_dir, options, progress=_progress())}")


@app.command()
def register(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/ (and masks/, which are honoured)"),
    mapper: str = typer.Option("incremental", help="incremental or global"),
    camera_model: str = typer.Option("SIMPLE_PINHOLE", help="SIMPLE_PINHOLE or PINHOLE"),
    features: int = typer.Option(4096, help="SIFT features per frame"),
    overlap: int = typer.Option(10, help="sequential matching window"),
    peak_threshold: float = typer.Option(0.002, help="SIFT detection threshold (COLMAP's default 0.0067 finds "
                                         "fewer features in small frames)"),
    max_reproj_error: float = typer.Option(1.0, help="incremental mapper's outlier filter in pixels (COLMAP's "
                                           "default 4.0 is faster, its cameras less accurate)"),
    no_masks: bool = typer.Option(False, "--no-masks", help="ignore masks/"),
    vocab_tree: Optional[Path] = typer.Option(None, help="a local vocabulary tree file: turns on loop detection"),
    verbose: bool = typer.Option(False, help="show COLMAP's log"),
) -> None:
    """Register the frames with COLMAP (people masked): colmap/sparse/0, transforms.json, colmap/points.ply."""
    from .recon.colmap import RegistrationOptions
    from .recon.colmap import register as run_registration

    options = RegistrationOptions(camera_model=camera_model, max_num_features=features, overlap=overlap,
                                  sift_peak_threshold=peak_threshold, filter_max_reproj_error=max_reproj_error,
                                  mapper=mapper, use_masks=not no_masks, loop_detection=vocab_tree is not None,
                                  vocab_tree=str(vocab_tree) if vocab_tree else None)
    sparse = run_registration(run_dir, options, progress=_progress(), verbose=verbose)
    import json

    info = json.loads((sparse.parent.parent / "registration.json").read_text())
    _say(f"registered {info['registered']}/{info['frames']} frames, {info['points']} points; wrote {sparse}")


@app.command()
def depth(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/"),
    model: Path = typer.Option(..., "--model", help="a local Hugging Face depth-estimation model folder (config.json "
                               "and model.safetensors), e.g. depth-anything/Depth-Anything-V2-Small-hf saved locally"),
) -> None:
    """Per-frame depth maps from a monocular depth model: RUN/depth_maps/<frame>.npy, for
    `train --person-depth-dir RUN/depth_maps`."""
    from .occlusion.depth_model import estimate_depths

    _say(f"wrote {estimate_depths(run_dir, model, progress=_progress())}")


@app.command()
def train(
    run_dir: Path = typer.Argument(..., help="a registered run folder"),
    steps: int = typer.Option(None, help="optimisation steps [default: TrainOptions.steps]"),
    resolution: int = typer.Option(0, help="train at this longest side (0: the frames' size)"),
    sh_degree: int = typer.Option(None, help="spherical-harmonics degree of the colours [default: TrainOptions]"),
    max_gaussians: int = typer.Option(None, help="cap on the number of Gaussians [default: TrainOptions]"),
    strategy: str = typer.Option("default", help="densification: default (gsplat's clone/split/prune) or mcmc "
                                 "(gsplat's MCMC: a fixed budget, relocated; behind default at 3,000 steps)"),
    person_depth_dir: Path = typer.Option(None, help="per-frame depth maps of the frames, people included, from "
                                          "any depth tool (<frame>.npy or 16-bit .png; depth or disparity, any "
                                          "scale): splats in front of a person a frame sees are removed, and the "
                                          "background beside people is held at the maps' depth"),
    robust: bool = typer.Option(False, help="drop persistently unexplained pixels (shadows or limbs the masks "
                                "missed); off by default: it also drops real background that is hard to fit"),
    depth_weight: float = typer.Option(None, help="weight of the rendered depth's relative error at the "
                                       "registration's keypoints (0: off) [default: TrainOptions]"),
    holdout_every: int = typer.Option(0, help="leave every n-th frame out of training, for evaluation"),
    refine_cameras: bool = typer.Option(False, help="refine the poses and the focal length while training "
                                                    "(splat/cameras.json, used by later stages)"),
    appearance: bool = typer.Option(False, help="fit each frame's exposure and white balance "
                                    "(splat/appearance.json, used when compositing)"),
    seed: int = typer.Option(0),
) -> None:
    """Fit the static background with Gaussians (people left out): splat/background.ply."""
    from .recon.trainer import TrainOptions
    from .recon.trainer import train as run_training

    defaults = TrainOptions()
    options = TrainOptions(steps=steps or defaults.steps, resolution=resolution,
                           sh_degree=defaults.sh_degree if sh_degree is None else sh_degree,
                           max_gaussians=max_gaussians or defaults.max_gaussians, strategy=strategy, robust=robust,
                           person_depth_dir=str(person_depth_dir) if person_depth_dir else "",
                           refine_masks=robust, holdout_every=holdout_every, refine_cameras=refine_cameras,
                           appearance=appearance,
                           depth_weight=defaults.depth_weight if depth_weight is None else depth_weight, seed=seed)
    _say(f"wrote {run_training(run_dir, options, progress=_progress())}")


@app.command()
def stylize(
    run_dir: Path = typer.Argument(..., help="a trained run folder (splat/background.ply)"),
    style: Path = typer.Option(None, "--style", help="the style image"),
    style_labels: Path = typer.Option(None, help="label image of the style (+ names in a .json beside it) "
                                                 "or ReStyle3D's seg_dict.pth; default: automatic regions"),
    scene_labels: Path = typer.Option(None, help="per-Gaussian labels (stylize/scene_regions.json format)"),
    strength: float = typer.Option(1.0, help="0 = original colours, 1 = full style"),
    texture: bool = typer.Option(False, help="lay the style regions' textures onto the surfaces (patterns)"),
    lightness: str = typer.Option("transport", help="how each region's lightness is transferred before it is "
                                                    "softened: transport, rank or linear"),
    keep_structure: float = typer.Option(0.82, help="soften the lightness until the key views keep this much "
                                                   "of the scene's edges and texture (0-1; 0 = no check)"),
    key_views: int = typer.Option(8, help="key views the colours are fitted to"),
    stylized_views: Path = typer.Option(None, help="fit to key views stylized by another tool (names as exported)"),
    export_key_views: Path = typer.Option(None, help="only write person-free key views + depth to this folder"),
    seed: int = typer.Option(0),
) -> None:
    """Recolour the background Gaussians region by region from a style image: splat/stylized.ply."""
    from .stylize.pipeline import export_background_key_views
    from .stylize.pipeline import stylize as run_stylize

    if export_key_views is not None:
        _say(f"wrote {export_background_key_views(run_dir, export_key_views, key_views)}")
        return
    path = run_stylize(run_dir, style, style_labels, strength, scene_labels, texture=texture, lightness=lightness,
                       keep_structure=keep_structure, stylized_views=stylized_views, key_views=key_views, seed=seed, progress=_progress())
    _say(f"wrote {path}")


@app.command("run")
def run_all(
    video: Path = typer.Argument(..., help="the input video (mp4/mov/avi) or a folder of frames"),
    style: Path = typer.Option(..., "--style", help="the style image"),
    out: Path = typer.Option(..., "--out", help="the run folder"),
    style_labels: Path = typer.Option(None, help="label image of the style (+ .json names) or seg_dict.pth"),
    masker: str = typer.Option("people", help="people (learned), auto (motion cue), file (with --mask-dir) or sam "
                               "(with --sam-model)"),
    mask_dir: Path = typer.Option(None, help="masks for the file masker"),
    sam_model: Path = typer.Option(None, help="sam masker: a local folder with a transformers SAM model"),
    models_dir: Path = typer.Option(None, help="people masker: a folder holding its model files"),
    stride: int = typer.Option(1, help="keep every n-th frame"),
    max_side: int = typer.Option(640, help="longest image side of the frames"),
    max_frames: int = typer.Option(None, help="at most this many frames"),
    motion_check: bool = typer.Option(True, help="refuse a clip whose camera stands still or only turns"),
    train_steps: int = typer.Option(4000, help="background training steps"),
    appearance: bool = typer.Option(False, help="fit each frame's exposure and white balance while training "
                                    "(for clips whose exposure changes over the same surfaces)"),
    holdout_every: int = typer.Option(0, help="leave every n-th frame out of training, for evaluation"),
    person_depth_dir: Path = typer.Option(None, help="depth maps of the frames from any depth tool (one .npy or "
                                          "16-bit .png per frame, depth or disparity): clears splats in front of "
                                          "the people and holds the background beside them at the maps' depth"),
    depth_model: Path = typer.Option(None, help="or a local depth-estimation model folder (e.g. Depth Anything V2 "
                                     "Small, saved from Hugging Face) that makes those maps (needs the [depth] extra)"),
    strength: float = typer.Option(1.0, help="style strength, 0-1"),
    texture: bool = typer.Option(False, help="lay the style's textures onto the surfaces"),
    keep_structure: float = typer.Option(0.82, help="how much of the room's edges and texture the style must "
                                                   "keep (0-1; lower = bolder lightness changes)"),
    harmonization: float = typer.Option(0.0, help="people's lighting follows the restyled room (0 = untouched)"),
    shadow: float = typer.Option(0.35, help="darkening of the floor under the people's feet (0 = none)"),
    flythrough: str = typer.Option("auto", help="new camera path: auto (of orbit, spline, dolly, the one that "
                                   "shows most of what was filmed), orbit, dolly, spline, fixed, original"),
) -> None:
    """Every stage, video to final.mp4 and flythrough.mp4; a re-run skips finished stages."""
    from .pipeline import RunConfig, run_pipeline

    config = RunConfig(video=str(video), style=str(style), style_labels=str(style_labels) if style_labels else None,
                       masker=masker, mask_dir=str(mask_dir) if mask_dir else None,
                       models_dir=str(models_dir) if models_dir else None,
                       sam_model=str(sam_model) if sam_model else None, stride=stride, max_side=max_side,
                       max_frames=max_frames, check_motion=motion_check, train_steps=train_steps,
                       appearance=appearance,
                       holdout_every=holdout_every,
                       person_depth_dir=str(person_depth_dir) if person_depth_dir else None,
                       depth_model=str(depth_model) if depth_model else None, strength=strength, texture=texture,
                       keep_structure=keep_structure, harmonization=harmonization, shadow=shadow, flythrough=flythrough)
    run_pipeline(config, out, progress=_progress(), log=_say)
    _say(f"wrote {out / 'final.mp4'} and {out / 'flythrough.mp4'} ({_flythrough_note(out)})")


def _flythrough_note(run: Path) -> str:
    import json

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
    from .scenes.generate import SceneConfig, choose_people, make_scene, scene_is_current

    scene = out / "scene"
    scene_config = SceneConfig(people=choose_people(None))
    if not scene_is_current(scene, "living_room", scene_config):
        make_scene("living_room", scene, scene_config, overwrite=True, progress=_progress())
    config = RunConfig(video=str(scene / "video.mp4"), style=str(scene / "style" / "style.png"),
                       style_labels=str(scene / "style" / "labels.png"), train_steps=train_steps)
    run_pipeline(config, out / "run", progress=_progress(), log=_say)
    _say(f"wrote {out / 'run' / 'final.mp4'} and {out / 'run' / 'flythrough.mp4'} ({_flythrough_note(out / 'run')})")
    if evaluate:
        from .eval.evaluate import evaluate_run
        from .eval.report import write_report

        _say("[eval] running the 2D baselines and the comparison")
        _say(f"wrote {write_report(out / 'run', evaluate_run(out / 'run', progress=_progress()))}")


@app.command()
def baseline(
    run_dir: Path = typer.Argument(..., help="a run folder with frames/ and masks/"),
    kind: str = typer.Option("inpaint", help="inpaint (inpaint-then-stylize) or naive (whole frames stylized)"),
    style: Path = typer.Option(None, "--style", help="the style image [default: the run's, from config.json]"),
    style_labels: Path = typer.Option(None, help="label image of the style [default: the run's]"),
) -> None:
    """A 2D baseline on the run's frames and masks: baselines/KIND/frames, video.mp4."""
    import json

    from .eval.baselines import run_baseline

    if style is None:
        config = run_dir / "config.json"
        if not config.is_file():
            raise OccluReStyleError(f"{run_dir} has no config.json to take the style from; pass --style")
        values = json.loads(config.read_text())
        style, style_labels = values["style"], style_labels or values.get("style_labels")
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
