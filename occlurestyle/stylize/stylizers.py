"""The stylizers, by name: each turns the background model and its scene regions into Gaussians with
the style's colours, fitted so that every view agrees. One function and one line in `STYLIZERS` each.

- `colour` (default): each region's colours moved onto its matched style region's distribution
  (sliced optimal transport in CIELAB), then the Gaussians fitted to key views transferred the same
  way, the lightness softened step by step until the views keep `keep_structure` of the room's edges;
- `texture`: regions with a usable style texture get it laid on their surface (`texture.py`), fitted
  to key views textured per pixel; the others as `colour`;
- `views`: fitted to key views stylized by any other tool (`stylized_views`, exported with
  `occlurestyle stylize RUN --export-key-views DIR`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from ..errors import InputError
from ..recon.registration_files import CameraSet
from ..render.gaussians import render_views, rgb_to_sh0
from ..render.rasterizer import rasterization
from .correspond import match_regions
from .keyviews import fit_colors_to_views, key_view_indices, read_stylized_views
from .regions import SceneRegions, render_labels
from .style_regions import load_style
from .texture import gaussian_normals, region_texture, sample_tile, with_scene_lightness
from .transfer import soften_lightness, structure_correlation, transfer_colors


@dataclass
class Scene:
    """What a stylizer starts from: the background model, its regions and colours, the cameras, and the
    stylize stage's options (`stages/stylize.py`'s StylizeOptions)."""
    params: dict
    regions: SceneRegions
    colors: np.ndarray  # [N,3] each Gaussian's base colour, 0-1
    cameras: CameraSet
    options: Any
    progress: bool = False


@dataclass
class Stylized:
    params: dict  # the Gaussians with the style's colours (before the strength blends them with the room's)
    source: str  # where the style came from, for matches.json
    picks: list[int]  # the key views fitted to
    matches: list[dict]
    softening: int | None = None
    structure_kept: float | None = None


def colour(scene: Scene) -> Stylized:
    style_regions, matches = _style_and_matches(scene)
    start = _start(scene, _per_gaussian_colors(scene, style_regions, matches, texture=False)[0])
    picks = key_view_indices(len(scene.cameras.names), scene.options.key_views)
    fitted, softening, kept = _fit_keeping_structure(scene, start, style_regions, matches, picks)
    return Stylized(fitted, str(scene.options.style), picks, matches, softening, kept)


def texture(scene: Scene) -> Stylized:
    style_regions, matches = _style_and_matches(scene)
    restyled, textures = _per_gaussian_colors(scene, style_regions, matches, texture=True)
    picks = key_view_indices(len(scene.cameras.names), scene.options.key_views)
    targets, weights = _textured_key_views(scene, style_regions, matches, picks, textures)
    fitted = _fit(scene, _start(scene, restyled), picks, targets, weights)
    return Stylized(fitted, str(scene.options.style), picks, matches)


def views(scene: Scene) -> Stylized:
    folder = scene.options.stylized_views
    if folder is None:
        raise InputError("the views stylizer fits to key views stylized by another tool: pass --stylized-views DIR")
    found = read_stylized_views(folder, scene.cameras.names, scene.cameras.width, scene.cameras.height)
    picks = [scene.cameras.names.index(n) for n in found]
    targets = torch.from_numpy(np.stack(list(found.values())))
    fitted = _fit(scene, scene.params, picks, targets, torch.ones(targets.shape[:3]))
    return Stylized(fitted, f"stylized views in {folder}", picks, [])


STYLIZERS: dict[str, Callable[[Scene], Stylized]] = {"colour": colour, "texture": texture, "views": views}


def stylizer(name: str) -> Callable[[Scene], Stylized]:
    if name not in STYLIZERS:
        raise InputError(f"unknown stylizer {name!r}; choose one of {', '.join(STYLIZERS)}")
    return STYLIZERS[name]


def _style_and_matches(scene: Scene):
    if scene.options.style is None:
        raise InputError("give a style image (--style) or stylized key views (--stylized-views)")
    style_regions = load_style(scene.options.style, scene.options.style_labels)
    opacity = torch.sigmoid(scene.params["opacities"]).numpy()
    labels = scene.regions.labels
    scene_sizes = {n: float(opacity[labels == i].sum()) for i, n in enumerate(scene.regions.names)}
    style_sizes = {n: float((style_regions.labels == i).sum()) for i, n in enumerate(style_regions.names)}
    return style_regions, match_regions(scene_sizes, style_sizes)


def _start(scene: Scene, restyled: np.ndarray) -> dict:
    """The model with each Gaussian's colour set (view-dependent terms cleared), where fitting starts."""
    return {**scene.params, "sh0": rgb_to_sh0(torch.from_numpy(restyled))[:, None, :],
            "shN": torch.zeros_like(scene.params["shN"])}


def _fit(scene: Scene, start: dict, picks, targets, weights) -> dict:
    cameras, options = scene.cameras, scene.options
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    return fit_colors_to_views(start, viewmats, Ks, cameras.width, cameras.height, targets, weights,
                               steps=options.fit_steps, progress=scene.progress, seed=options.seed)


def _per_gaussian_colors(scene: Scene, style_regions, matches, texture: bool):
    """Each Gaussian's colour from its region's matched style region (texture or colour distribution),
    and per textured region index its Gaussians' surface coordinates and texture tile."""
    params, regions, colors = scene.params, scene.regions, scene.colors
    structure, seed = scene.options.structure, scene.options.seed
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


def _textured_key_views(scene: Scene, style_regions, matches, picks, textures):
    """Key views with each textured region's pixels taken from its tile at the pixel's own surface
    coordinates (rendered from the Gaussians' like colours), sharper than any per-Gaussian colour;
    other regions colour-transferred. Returns (targets, weights)."""
    params, cameras, structure = scene.params, scene.cameras, scene.options.structure
    views, labels, targets = _key_view_transfer(scene, style_regions, matches, picks, skip=set(textures))
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


def _fit_keeping_structure(scene: Scene, start, style_regions, matches, picks):
    """Fit the Gaussians' colours to stylized key views, softening their lightness one step at a time
    until the fitted model's key views keep `keep_structure` of the original's structure (the last
    step is kept whatever it reaches). Returns (fitted params, softening step, structure kept)."""
    cameras, keep_structure, progress = scene.cameras, scene.options.keep_structure, scene.progress
    fit_steps, seed = scene.options.fit_steps, scene.options.seed
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    width, height = cameras.width, cameras.height
    views, labels, transferred = _key_view_transfer(scene, style_regions, matches, picks)
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


def _key_view_transfer(scene: Scene, style_regions, matches, picks, skip=()):
    """Key views of the unstylized model [V,H,W,3], their region labels [V,H,W] (-1: no Gaussian), and
    the views with each region's pixels (pooled over the views) moved onto its style region's colour
    distribution (regions whose index is in `skip` are left as they are)."""
    params, regions, cameras = scene.params, scene.regions, scene.cameras
    lightness, seed = scene.options.lightness, scene.options.seed
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
