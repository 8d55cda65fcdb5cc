"""The `stylize` stage: the background Gaussians recoloured region by region from one style image.

splat/background.ply → scene regions (stylize/scene_regions.json) → style regions → matches
(stylize/matches.json) → colours:
- default: per region, the colours of its pixels in a few key views are moved onto the matched style
  region's distribution (one transfer per region, pooled over the views, so the views agree), the
  lightness change is softened (`transfer.soften_lightness`) and the Gaussians' base colours are
  fitted to those key views. If the fitted model's key views keep less of the original's structure
  than `keep_structure` (correlation of luminance gradient magnitudes), the lightness is softened one
  step further and fitted again: the strongest stylization that keeps the scene readable;
- `texture=True`: the style region's texture is laid onto the scene region's surface (patterns such as
  a checker floor survive);
- `stylized_views=DIR`: key views stylized by any external tool are fitted instead.
Geometry (means, scales, rotations, opacities) is untouched, so every view agrees. → splat/stylized.ply
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import InputError
from ..fsutil import write_json
from ..layout import RunLayout
from ..recon.exports import read_run_cameras
from ..render.gaussians import load_ply, render_views, rgb_to_sh0, save_ply, sh0_to_rgb
from ..render.rasterizer import rasterization
from ..stylize.correspond import match_regions
from ..stylize.keyviews import export_key_views, fit_colors_to_views, key_view_indices, read_stylized_views
from ..stylize.regions import SceneRegions, label_gaussians, render_labels
from ..stylize.style_regions import load_style
from ..stylize.texture import gaussian_normals, region_texture, sample_tile, with_scene_lightness
from ..stylize.transfer import soften_lightness, structure_correlation, transfer_colors


@dataclass
class StylizeOptions:
    style: str | None = field(default=None, metadata={"help": "the style image"})
    style_labels: str | None = field(default=None, metadata={
        "help": "label image of the style (+ names in a .json beside it) or ReStyle3D's seg_dict.pth; default: "
                "automatic regions"})
    strength: float = field(default=1.0, metadata={"help": "0 = original colours, 1 = full style"})
    scene_labels: str | None = field(default=None, metadata={
        "help": "per-Gaussian labels (stylize/scene_regions.json format); default: found from the model"})
    texture: bool = field(default=False, metadata={"help": "lay the style regions' textures onto the surfaces"})
    structure: float = field(default=0.35, metadata={"help": "texture: how much of the room's lightness it keeps"})
    lightness: str = field(default="transport", metadata={
        "help": "how each region's lightness is transferred before it is softened: transport, rank or linear"})
    keep_structure: float = field(default=0.82, metadata={
        "help": "soften the lightness until the key views keep this much of the scene's edges and texture (0-1; "
                "0 = no check; lower = bolder lightness changes)"})
    stylized_views: str | None = field(default=None, metadata={
        "help": "fit to key views stylized by another tool (names as exported) instead of a style image"})
    key_views: int = field(default=8, metadata={"help": "key views the colours are fitted to"})
    fit_steps: int = field(default=200, metadata={"help": "optimisation steps of each fit to the key views"})
    seed: int = 0


Options = StylizeOptions


def outputs(layout: RunLayout, options: StylizeOptions) -> tuple[Path, ...]:
    return (layout.stylized_ply, layout.scene_regions)


def run(layout: RunLayout, options: StylizeOptions, progress: bool = True) -> Path:
    return stylize(layout.root, options, progress)


def stylize(run_dir: str | Path, options: StylizeOptions, progress: bool = False) -> Path:
    """Write `splat/stylized.ply` (and `stylize/scene_regions.json`, `stylize/matches.json`).

    `structure` is the texture step's; `keep_structure` (0-1, 0 = no check) the colour transfer's."""
    style, style_labels, strength, scene_labels = options.style, options.style_labels, options.strength, \
        options.scene_labels
    texture, structure, lightness, keep_structure = options.texture, options.structure, options.lightness, \
        options.keep_structure
    stylized_views, key_views, fit_steps, seed = options.stylized_views, options.key_views, options.fit_steps, \
        options.seed
    if not 0.0 <= keep_structure <= 1.0:
        raise InputError(f"keep_structure must be between 0 (no check) and 1, got {keep_structure}")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength must be between 0 (original) and 1 (full style), got {strength}")
    layout = RunLayout(run_dir)
    if not layout.background_ply.is_file():
        raise InputError(f"{layout.background_ply} does not exist; run `occlurestyle train {layout.root}` first")
    if style is None and stylized_views is None:
        raise InputError("give a style image (--style) or stylized key views (--stylized-views)")
    params = load_ply(layout.background_ply)
    cameras = read_run_cameras(layout)
    width, height = cameras.width, cameras.height
    if scene_labels is not None:
        regions = SceneRegions.load(scene_labels, len(params["means"]))
    else:
        regions = label_gaussians(params["means"].numpy(), torch.sigmoid(params["opacities"]).numpy(),
                                  cameras.viewmats, seed=seed)
    regions.save(layout.stylize / "scene_regions.json")
    colors = sh0_to_rgb(params["sh0"][:, 0]).numpy().clip(0, 1)

    if stylized_views is not None:
        found = read_stylized_views(stylized_views, cameras.names, width, height)
        picks = [cameras.names.index(n) for n in found]
        targets = torch.from_numpy(np.stack(list(found.values())))
        weights = torch.ones(targets.shape[:3])
        start, matches, source = params, [], f"stylized views in {stylized_views}"
    else:
        style_regions = load_style(style, style_labels)
        opacity = torch.sigmoid(params["opacities"]).numpy()
        scene_sizes = {n: float(opacity[regions.labels == i].sum()) for i, n in enumerate(regions.names)}
        style_sizes = {n: float((style_regions.labels == i).sum()) for i, n in enumerate(style_regions.names)}
        matches = match_regions(scene_sizes, style_sizes)
        restyled, textures = _per_gaussian_colors(params, regions, style_regions, matches, colors, texture,
                                                  structure, seed)
        start = {**params, "sh0": rgb_to_sh0(torch.from_numpy(restyled))[:, None, :],
                 "shN": torch.zeros_like(params["shN"])}
        source = str(style)
        picks = key_view_indices(len(cameras.names), key_views)
        targets = weights = None
        if texture:
            targets, weights = _textured_key_views(params, regions, style_regions, matches, cameras, picks, textures,
                                                   structure, lightness, seed)
    softening = kept = None
    if targets is not None:
        viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
        Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
        start = fit_colors_to_views(start, viewmats, Ks, width, height, targets, weights, steps=fit_steps,
                                    progress=progress, seed=seed)
    else:
        start, softening, kept = _fit_keeping_structure(params, start, regions, style_regions, matches, cameras,
                                                        picks, lightness, keep_structure, fit_steps, progress, seed)

    stylized = dict(params)
    stylized["sh0"] = (1 - strength) * params["sh0"] + strength * start["sh0"]
    # view-dependent terms carry the original palette's highlights: fade them with the strength
    stylized["shN"] = params["shN"] * (1 - strength)
    write_json(layout.stylize / "matches.json", {
        "style": source, "strength": strength, "texture": texture, "structure": structure, "lightness": lightness,
        "keep_structure": keep_structure, "softening": softening, "structure_kept": kept,
        "key_views": [cameras.names[i] for i in picks], "matches": matches,
    })
    return save_ply(stylized, layout.stylized_ply)


def _per_gaussian_colors(params, regions, style_regions, matches, colors, texture, structure, seed):
    """Each Gaussian's colour from its region's matched style region (texture or colour distribution),
    and per textured region index its Gaussians' surface coordinates and texture tile."""
    restyled, textures = colors.copy(), {}
    everything = style_regions.image.reshape(-1, 3)
    means = params["means"].numpy()
    normals = gaussian_normals(params["quats"], params["scales"]) if texture else None
    for k, match in enumerate(matches):
        members = regions.labels == regions.names.index(match["scene"])
        match["gaussians"] = int(members.sum())
        if not members.any():
            continue
        if texture and match["style"] and members.sum() >= 10:
            mask = style_regions.labels == style_regions.names.index(match["style"])
            uv, tile = region_texture(means[members], normals[members], regions.up, style_regions.image, mask)
            restyled[members] = with_scene_lightness(sample_tile(tile, uv), colors[members], structure)
            textures[regions.names.index(match["scene"])] = (members, uv, tile)
            match["transfer"] = "texture"
        else:
            target = style_regions.colors(match["style"]) if match["style"] else everything
            restyled[members] = transfer_colors(colors[members], target, seed=seed + k)
            match["transfer"] = "colour distribution"
    return restyled.astype(np.float32), textures


def _textured_key_views(params, regions, style_regions, matches, cameras, picks, textures, structure, lightness,
                        seed):
    """Key views with each textured region's pixels taken from its tile at the pixel's own surface
    coordinates (rendered from the Gaussians' like colours), sharper than any per-Gaussian colour;
    other regions colour-transferred. Returns (targets, weights)."""
    views, labels, targets = _key_view_transfer(params, regions, style_regions, matches, cameras, picks, lightness,
                                                seed, skip=set(textures))
    uv = np.zeros((len(params["means"]), 2), np.float32)
    for members, region_uv, _ in textures.values():
        uv[members] = region_uv
    for k in range(len(picks)):
        weights, alphas, _ = rasterization(params["means"], params["quats"], torch.exp(params["scales"]),
                                       torch.sigmoid(params["opacities"]), torch.from_numpy(uv),
                                       torch.as_tensor(cameras.viewmats[picks[k]:picks[k] + 1]).float(),
                                       torch.as_tensor(cameras.Ks[picks[k]:picks[k] + 1]).float(),
                                       cameras.width, cameras.height)
        pixel_uv = (weights[0] / alphas[0].clamp_min(1e-6)).numpy()
        for index, (_, _, tile) in textures.items():
            here = labels[k] == index
            if here.any():
                targets[k][here] = with_scene_lightness(sample_tile(tile, pixel_uv[here]), views[k][here], structure)
    return torch.from_numpy(targets.astype(np.float32)), torch.from_numpy((labels >= 0).astype(np.float32))


# each step pulls regions' lightness changes together and blurs them more (fractions of image height)
SOFTENING_STEPS = ((1.0, 0.01), (0.92, 0.0125), (0.85, 0.015), (0.77, 0.0175), (0.7, 0.02), (0.55, 0.025),
                   (0.4, 0.03))


def _fit_keeping_structure(params, start, regions, style_regions, matches, cameras, picks, lightness,
                           keep_structure, fit_steps, progress, seed):
    """Fit the Gaussians' colours to stylized key views, softening their lightness one step at a time
    until the fitted model's key views keep `keep_structure` of the original's structure (the last
    step is kept whatever it reaches). Returns (fitted params, softening step, structure kept)."""
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    width, height = cameras.width, cameras.height
    views, labels, transferred = _key_view_transfer(params, regions, style_regions, matches, cameras, picks,
                                                    lightness, seed)
    weights = torch.from_numpy((labels >= 0).astype(np.float32))
    for step, (contrast, blur) in enumerate(SOFTENING_STEPS):
        targets = soften_lightness(views, transferred, labels, contrast, blur * height)
        # each fit starts afresh: warm-started ones kept the previous step's halos (measured)
        fitted = fit_colors_to_views(start, viewmats, Ks, width, height, torch.from_numpy(targets.astype(np.float32)),
                                     weights, steps=fit_steps, progress=progress, seed=seed)
        rendered = render_views(fitted, viewmats, Ks, width, height)["rgb"].numpy()
        kept = float(np.mean([structure_correlation(v, r) for v, r in zip(views, rendered)]))
        if kept >= keep_structure:
            break
        if progress:
            tqdm.write(f"structure kept {kept:.2f} < {keep_structure}: softening the lightness (step {step + 1})")
    return fitted, step, round(kept, 3)


def _key_view_transfer(params, regions, style_regions, matches, cameras, picks, lightness, seed, skip=()):
    """Key views of the unstylized model [V,H,W,3], their region labels [V,H,W] (-1: no Gaussian), and
    the views with each region's pixels (pooled over the views) moved onto its style region's colour
    distribution (regions whose index is in `skip` are left as they are)."""
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    views = render_views(params, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    labels = render_labels(params, regions.labels, len(regions.names), cameras.viewmats[picks],
                           cameras.Ks[picks], cameras.width, cameras.height)
    transferred = views.copy()
    everything = style_regions.image.reshape(-1, 3)
    for k, match in enumerate(matches):
        index = regions.names.index(match["scene"])
        here = labels == index
        if index in skip or here.sum() < 10:
            continue
        target = style_regions.colors(match["style"]) if match["style"] else everything
        transferred[here] = transfer_colors(views[here], target, lightness=lightness, seed=seed + k)
    return views, labels, transferred


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
