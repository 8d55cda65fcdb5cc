"""The `stylize` stage: the background Gaussians recoloured region by region from one style image.

splat/background.ply → scene regions (stylize/scene_regions.json) → the stylizer `method`
(stylize/stylizers.py: materials, colour or views) → the style's colours blended with the room's by
`strength` → splat/stylized.ply, and stylize/matches.json (which scene region took which style region,
how far the lightness was softened). Geometry (means, scales, rotations, opacities) is untouched, so
every view agrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import InputError
from ..fsutil import write_json
from ..layout import RunLayout
from ..recon.registration_files import read_run_cameras
from ..render.gaussians import load_ply, render_views, save_ply, sh0_to_rgb
from ..stylize.keyviews import export_key_views, key_view_indices
from ..stylize.regions import SceneRegions, label_gaussians, seen_surface
from ..stylize.stylizers import Scene, stylizer

SEEN_VIEWS = 12  # cameras whose renders show the labeller the walls as seen (pictures by their frames)


@dataclass
class StylizeOptions:
    style: str | None = field(default=None, metadata={"help": "the style image"})
    style_labels: str | None = field(default=None, metadata={
        "help": "label image of the style (+ names in a .json beside it) or ReStyle3D's seg_dict.pth; default: "
                "automatic regions"})
    strength: float = field(default=1.0, metadata={"help": "0 = original colours, 1 = full style"})
    scene_labels: str | None = field(default=None, metadata={
        "help": "per-Gaussian labels (stylize/scene_regions.json format); default: found from the model"})
    method: str = field(default="materials", metadata={
        "help": "the stylizer: materials (the style regions' materials synthesised onto the surfaces, colour "
                "where a region has none), colour (each region's colours moved onto its style region's) or "
                "views (fitted to --stylized-views)"})
    material_scale: float = field(default=1.0, metadata={
        "help": "materials: size of the style's features in the scene, × their estimated physical size"})
    shading: float = field(default=1.0, metadata={
        "help": "materials: how much of the room's light and shadow falls on the material (0 = flat)"})
    lightness: str | None = field(default=None, metadata={
        "help": "how each region's colours move onto its style region's: transport (the closest in distribution), "
                "rank (light and dark keep their order: the room's shading stays) or linear; default: the "
                "stylizer's own (colour: transport, materials: rank for the regions it recolours)"})
    keep_structure: float = field(default=0.82, metadata={
        "help": "soften the lightness until the key views keep this much of the scene's edges and texture (0-1; "
                "0 = no check; lower = bolder lightness changes)"})
    stylized_views: str | None = field(default=None, metadata={
        "help": "views stylizer: key views stylized by another tool (names as exported by --export-key-views)"})
    key_views: int = field(default=8, metadata={"help": "key views the colours are fitted to"})
    fit_steps: int | None = field(default=None, metadata={
        "help": "optimisation steps of each fit to the key views; default: the stylizer's own (materials 400, "
                "colour and views 200)"})
    seed: int = 0


Options = StylizeOptions


def check(options: StylizeOptions) -> None:
    stylizer(options.method)
    if options.method == "views" and options.stylized_views is None:
        raise InputError("the views stylizer fits to key views stylized by another tool: pass --stylized-views DIR")
    if options.method != "views" and options.style is None:
        raise InputError("give a style image (--style) or stylized key views (--stylized-views)")
    if not 0.0 <= options.keep_structure <= 1.0:
        raise InputError(f"keep_structure must be between 0 (no check) and 1, got {options.keep_structure}")
    if options.shading < 0:
        raise InputError(f"shading must be at least 0 (0 = flat material, 1 = the room's light), got {options.shading}")
    if options.material_scale <= 0:
        raise InputError(f"material_scale must be positive (1 = the style's own size), got {options.material_scale}")
    if options.fit_steps is not None and options.fit_steps < 1:
        raise InputError(f"fit_steps must be at least 1, got {options.fit_steps}")
    if not 0.0 <= options.strength <= 1.0:
        raise InputError(f"strength must be between 0 (original) and 1 (full style), got {options.strength}")


def outputs(layout: RunLayout, options: StylizeOptions) -> tuple[Path, ...]:
    return (layout.stylized_ply, layout.scene_regions)


def run(layout: RunLayout, options: StylizeOptions, progress: bool = True) -> Path:
    return stylize(layout.root, options, progress)


def stylize(run_dir: str | Path, options: StylizeOptions, progress: bool = False) -> Path:
    """Write `splat/stylized.ply` (and `stylize/scene_regions.json`, `stylize/matches.json`) with the
    stylizer `options.method` (stylize/stylizers.py)."""
    check(options)
    layout = RunLayout(run_dir)
    if not layout.background_ply.is_file():
        raise InputError(f"{layout.background_ply} does not exist; run `occlurestyle train {layout.root}` first")
    params = load_ply(layout.background_ply)
    cameras = read_run_cameras(layout)
    colors = sh0_to_rgb(params["sh0"][:, 0]).numpy().clip(0, 1)
    if options.scene_labels is not None:
        regions = SceneRegions.load(options.scene_labels, len(params["means"]))
    else:
        regions = scene_regions(params, cameras, colors, options.seed)
    regions.save(layout.scene_regions)
    result = stylizer(options.method)(Scene(params, regions, colors, cameras, options, progress))

    strength = options.strength
    model = result.model if result.model is not None else params
    stylized = dict(model)
    stylized["sh0"] = (1 - strength) * model["sh0"] + strength * result.params["sh0"]
    # view-dependent terms carry the original palette's highlights: fade them with the strength
    stylized["shN"] = model["shN"] * (1 - strength)
    write_json(layout.stylize / "matches.json", {
        "style": result.source, "method": options.method, "strength": strength,
        "material_scale": options.material_scale, "shading": options.shading,
        "lightness": result.lightness, "keep_structure": options.keep_structure, "softening": result.softening,
        "structure_kept": result.structure_kept, "key_views": [cameras.names[i] for i in result.picks],
        "matches": result.matches,
    })
    return save_ply(stylized, layout.stylized_ply)


def scene_regions(params: dict, cameras, colors, seed: int) -> SceneRegions:
    """The model's Gaussians labelled (`regions.label_gaussians`), the walls also as `SEEN_VIEWS` cameras see
    them."""
    picks = key_view_indices(len(cameras.names), SEEN_VIEWS)
    seen = seen_surface(params, cameras.viewmats[picks], cameras.Ks[picks], cameras.width, cameras.height)
    return label_gaussians(params["means"].numpy(), torch.sigmoid(params["opacities"]).numpy(), cameras.viewmats,
                           colors=colors, seen=seen, seed=seed, up=cameras.up)


def export_background_key_views(run_dir: str | Path, out: str | Path, count: int = 8) -> Path:
    """Person-free key views of the background model and their depth, for an external 2D stylizer."""
    layout = RunLayout(run_dir)
    if not layout.background_ply.is_file():
        raise InputError(f"{layout.background_ply} does not exist; run `occlurestyle train {layout.root}` first")
    cameras = read_run_cameras(layout)
    picks = key_view_indices(len(cameras.names), count)
    params = load_ply(layout.background_ply)
    views = render_views(params, torch.tensor(cameras.viewmats[picks], dtype=torch.float32),
                         torch.tensor(cameras.Ks[picks], dtype=torch.float32), cameras.width, cameras.height)
    return export_key_views(views, [cameras.names[i] for i in picks], cameras.viewmats[picks],
                            cameras.Ks[picks], out)
