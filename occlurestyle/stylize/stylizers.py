"""The stylizers, by name: each turns the background model and its scene regions into Gaussians with
the style's colours, fitted so that every view agrees. One function and one line in `STYLIZERS` each.

- `materials` (default): each floor, wall and ceiling whose labelled style region has a usable
  material (`materials.py`: its surface rectified, at a physical size) gets a texture synthesised from
  it, laid on its plane in 3D and lit by the room's own shading (`texture.py`); the region's Gaussians
  are brought onto its plane and split fine enough for the texture (`fine_gaussians.py`), then
  fitted to key views textured per pixel; a picture paired with a style picture shows one of the
  style's paintings over its rectangle (`paintings.py`); objects and regions without one as `colour`'s first step
  with their light and dark kept in order, an object paired with the style object nearest its shape
  (`object_shapes.py`), its colour parts given its partner's (a sofa's frame the style sofa's frame,
  its cushions the cushions: `transfer.transfer_colors_by_parts`) and no finer texture than it; a
  style without labels exactly as `colour`;
- `colour`: each region's colours moved onto its matched style region's distribution (sliced optimal
  transport in CIELAB), then the Gaussians fitted to key views transferred the same way, the
  lightness softened step by step until the views keep `keep_structure` of the room's edges;
- `views`: fitted to key views stylized by any other tool (`stylized_views`, exported with
  `occlurestyle stylize RUN --export-key-views DIR`).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from ..cameras import camera_center
from ..errors import InputError
from ..recon.registration_files import CameraSet
from ..render.gaussians import render_views, rgb_to_sh0
from .correspond import match_regions, role
from .fine_gaussians import fill_sparse_walls, flatten_onto_charts, floating_before_walls, split_for_textures
from .keyviews import fit_colors_to_views, key_view_indices, read_stylized_views
from .materials import Material, style_geometry, style_materials
from .object_shapes import scene_floor_height, scene_object_shapes, style_object_shapes, wall_around
from .paintings import painting_texture, pick_painting, style_paintings
from .regions import SOLID_OPACITY, SceneRegions, render_labels
from .style_regions import load_style
from .texture import (
    Chart,
    RegionTexture,
    ViewGeometry,
    finest_texel,
    luminance,
    region_shading,
    scene_scale,
    shade,
    wall_azimuth,
)
from .transfer import (
    colour_parts,
    detail_contrast,
    rgb_to_lab,
    scale_detail,
    soften_lightness,
    structure_correlation,
    transfer_colors,
    transfer_colors_by_parts,
)

log = logging.getLogger(__name__)


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
    lightness: str | None = None  # how recoloured regions' lightness was moved (`LIGHTNESS`)
    model: dict | None = None  # the Gaussians restyled, with the room's colours, when not the scene's own


def colour(scene: Scene) -> Stylized:
    style_regions, matches = style_and_matches(scene)
    start = _start(scene, _per_gaussian_colors(scene, style_regions, matches))
    picks = key_view_indices(len(scene.cameras.names), scene.options.key_views)
    fitted, softening, kept = _fit_keeping_structure(scene, start, style_regions, matches, picks)
    return Stylized(fitted, str(scene.options.style), picks, matches, softening, kept,
                    scene.options.lightness or LIGHTNESS["colour"])


def materials(scene: Scene) -> Stylized:
    style_regions, matches = style_and_matches(scene)
    textures = _region_textures(scene, style_regions, matches)
    if not textures:  # no style region gave a material: exactly the colour stylizer
        return colour(scene)
    trained, scene = scene.params, _fine_enough(scene, textures)
    restyled = _per_gaussian_colors(scene, style_regions, matches, textures, object_parts=True)
    picks = key_view_indices(len(scene.cameras.names), scene.options.key_views)
    targets, weights = _material_key_views(scene, style_regions, matches, picks, textures, trained)
    fitted = _fit(scene, _start(scene, restyled), picks, targets, weights, _fit_steps(scene, "materials"))
    return Stylized(fitted, str(scene.options.style), picks, matches,
                    lightness=scene.options.lightness or LIGHTNESS["materials"], model=scene.params)


def views(scene: Scene) -> Stylized:
    folder = scene.options.stylized_views
    if folder is None:
        raise InputError("the views stylizer fits to key views stylized by another tool: pass --stylized-views DIR")
    found = read_stylized_views(folder, scene.cameras.names, scene.cameras.width, scene.cameras.height)
    picks = [scene.cameras.names.index(n) for n in found]
    targets = torch.from_numpy(np.stack(list(found.values())))
    fitted = _fit(scene, scene.params, picks, targets, torch.ones(targets.shape[:3]), _fit_steps(scene, "views"))
    return Stylized(fitted, f"stylized views in {folder}", picks, [])


STYLIZERS: dict[str, Callable[[Scene], Stylized]] = {"materials": materials, "colour": colour, "views": views}
# how a stylizer moves a region's lightness unless the options say (`transfer.transfer_colors`): what the
# materials stylizer recolours keeps its light and dark in order, as its materials keep the room's shading
# (the demo room's shading figure 0.64 → 0.74, texture figure 1.88 → 1.90)
LIGHTNESS = {"materials": "rank", "colour": "transport"}
# steps of each fit to the key views unless the options say: at 200 the 8 views are each drawn ~25 times,
# which left the demo room's grazing east wall half fitted under materials (held-out texture 1.634, at
# 400 1.577 for 13 s more); the colour stylizer, which fits once per softening step, gained nothing
FIT_STEPS = {"materials": 400, "colour": 200, "views": 200}


def stylizer(name: str) -> Callable[[Scene], Stylized]:
    if name not in STYLIZERS:
        raise InputError(f"unknown stylizer {name!r}; choose one of {', '.join(STYLIZERS)}")
    return STYLIZERS[name]


def style_and_matches(scene: Scene):
    """The style's regions and each scene region's match among them (`correspond.match_regions`), as the
    materials and colour stylizers use them (benchmarks/labels.py scores them against the truth)."""
    if scene.options.style is None:
        raise InputError("give a style image (--style) or stylized key views (--stylized-views)")
    style_regions = load_style(scene.options.style, scene.options.style_labels)
    opacity = torch.sigmoid(scene.params["opacities"]).numpy()
    labels = scene.regions.labels
    scene_sizes = {n: float(opacity[labels == i].sum()) for i, n in enumerate(scene.regions.names)}
    style_sizes = {n: float((style_regions.labels == i).sum()) for i, n in enumerate(style_regions.names)}
    return style_regions, match_regions(scene_sizes, style_sizes, _object_shapes(scene, style_regions))


def _object_shapes(scene: Scene, style_regions) -> tuple[dict, dict] | None:
    """Objects' shapes in metres on both sides, for a labelled style (automatic regions are no objects)."""
    if style_regions.source == "auto":
        return None
    regions, means = scene.regions, scene.params["means"].numpy().astype(np.float64)
    metres, _ = scene_scale(means, regions.labels, regions.names, regions.up, scene.cameras.viewmats)
    structure = [n for n in style_regions.names if role(n) != "object"]
    geometry = style_geometry(style_regions, structure, seed=scene.options.seed)
    solid = torch.sigmoid(scene.params["opacities"]).numpy().ravel() > SOLID_OPACITY
    return (scene_object_shapes(means, regions.labels, regions.names, regions.up, metres, solid),
            style_object_shapes(style_regions, geometry))


def _start(scene: Scene, restyled: np.ndarray) -> dict:
    """The model with each Gaussian's colour set (view-dependent terms cleared), where fitting starts."""
    return {**scene.params, "sh0": rgb_to_sh0(torch.from_numpy(restyled))[:, None, :],
            "shN": torch.zeros_like(scene.params["shN"])}


def _fit_steps(scene: Scene, method: str) -> int:
    return scene.options.fit_steps or FIT_STEPS[method]


def _fit(scene: Scene, start: dict, picks, targets, weights, steps: int) -> dict:
    cameras, options = scene.cameras, scene.options
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    return fit_colors_to_views(start, viewmats, Ks, cameras.width, cameras.height, targets, weights,
                               steps=steps, progress=scene.progress, seed=options.seed)


def _region_textures(scene: Scene, style_regions, matches) -> dict[int, RegionTexture]:
    """Per scene region index whose matched style region has a usable material, its texture; per picture
    paired with a style picture, its painting. Automatic style regions (no labels given) are colour
    clusters of the image, not surfaces: none has one."""
    params, regions, options = scene.params, scene.regions, scene.options
    if style_regions.source == "auto":
        log.info("materials: the style has no labels, its regions are colour clusters: colours only")
        return {}
    means = params["means"].numpy()
    wanted = {m["style"] for m in matches if m["style"]} | {n for n in style_regions.names if role(n) == "wall"}
    wanted = {n for n in wanted if role(n) != "object"}
    found = style_materials(style_regions, sorted(wanted), seed=options.seed)
    metres, how = scene_scale(means, regions.labels, regions.names, regions.up, scene.cameras.viewmats)
    along = _along_the_walls(means, regions, metres)
    textures, walls = {}, {}
    for k, match in enumerate(matches):
        index = regions.names.index(match["scene"])
        members = regions.labels == index
        kind = role(match["scene"])
        if kind == "object" or members.sum() < 10:  # objects keep their form (texture.py says why)
            continue
        chart = Chart.fit(means[members], regions.up, metres, kind, along=along)
        if kind == "wall":
            _wall_facing_the_same_way(match, chart, found, means[members], scene.cameras.viewmats, regions.up)
            walls[match["scene"]] = chart
        material = found.get(match["style"]) or _same_role(found, match["style"])
        if material is None:
            continue
        finest = finest_texel(means[members], metres, scene.cameras.viewmats, scene.cameras.Ks,
                              scene.cameras.width, scene.cameras.height)
        textures[index] = RegionTexture.synthesize(material, chart, chart.uv(means[members]),
                                                   options.material_scale, seed=options.seed + k, finest=finest)
        match["material"] = {"from": material.name, "style_texel_mm": round(material.texel * 1000, 2),
                             "style_sample": material.how, "scene_scale": how,
                             "texture": list(textures[index].texture.shape[:2]),
                             "texel_mm": round(textures[index].texel * 1000, 2)}
    textures.update(_painting_textures(scene, style_regions, matches, metres, walls))
    return textures


def _painting_textures(scene: Scene, style_regions, matches, metres: float,
                       walls: dict[str, Chart]) -> dict[int, RegionTexture]:
    """Per scene picture paired with something flat on the style's walls, and per flat object paired with a
    flat style object (`correspond.match_regions`: a picture, a whiteboard, a monitor; `paintings.py`): one
    of the style's paintings over it. A picture on a scene wall (`walls`: wall name → chart) takes one
    hanging on the style wall that wall was matched to, if its partner has one there (the office's north
    picture took the east wall's painting by size); among those left to choose from, the largest scene
    picture the largest painting, the next the next, and round."""
    regions, means = scene.regions, scene.params["means"].numpy()
    size = {m["scene"]: int((regions.labels == regions.names.index(m["scene"])).sum()) for m in matches}
    pictures = sorted((m for m in matches if m["style"] and size[m["scene"]] >= 10 and m.get("flat")),
                      key=lambda m: (-size[m["scene"]], m["scene"]))
    viewer = camera_center(scene.cameras.viewmats).mean(0)
    style_walls = {m["scene"]: m["style"] for m in matches if m["scene"] in walls}
    style_masks = style_regions.masks()
    paintings: dict[str, list[tuple[np.ndarray, str | None]]] = {}  # style region → (painting, its wall)
    given: dict[str, list[int]] = {}  # style region → times each of its paintings was handed out
    textures = {}
    for match in pictures:
        style = match["style"]
        if style not in paintings:
            paintings[style] = [(flat, wall_around(part, style_masks))
                                for flat, part in style_paintings(style_regions.image, style_masks[style])]
            given[style] = [0] * len(paintings[style])
        if not paintings[style]:
            continue
        index = regions.names.index(match["scene"])
        points = means[regions.labels == index]
        which = pick_painting([hung for _, hung in paintings[style]], style_walls.get(_wall_of(points, walls)),
                              given[style])
        given[style][which] += 1
        textures[index] = painting_texture(paintings[style][which][0], points, regions.up, metres, viewer)
        match["material"] = {"from": style, "painting": which + 1, "texture": list(textures[index].texture.shape[:2])}
    return textures


HANGS_WITHIN = 0.5  # metres from a wall region's fitted plane a picture on it lies within (a trained wall is a
# slab: the office's pictures lie 0.17-0.19 m from their wall's plane, 1.1 m and more from the others')


def _wall_of(points: np.ndarray, walls: dict[str, Chart]) -> str | None:
    """The wall whose plane the median of `points` lies nearest, within `HANGS_WITHIN`."""
    distances = {name: abs(float(np.median((points - chart.origin) @ chart.axes[2]))) * chart.metres
                 for name, chart in walls.items()}
    nearest = min(distances, key=distances.get, default=None)
    return nearest if nearest is not None and distances[nearest] < HANGS_WITHIN else None


def _along_the_walls(means: np.ndarray, regions, metres: float) -> np.ndarray | None:
    """The horizontal direction along the largest wall, which the floor's and ceiling's charts follow:
    by their own longer side a nearly square floor's boards ran 29-52° across the office's walls,
    depending on the labeller's seed."""
    walls = [i for i, name in enumerate(regions.names) if role(name) == "wall"]
    sizes = [int((regions.labels == i).sum()) for i in walls]
    if not walls or max(sizes) < 10:
        return None
    wall = regions.labels == walls[int(np.argmax(sizes))]
    return Chart.fit(means[wall], regions.up, metres, "wall").axes[0]


def _fine_enough(scene: Scene, textures: dict[int, RegionTexture]) -> Scene:
    """The scene without the floaters before its walls and under its ceiling that nothing holds up, with
    its textured regions' Gaussians on their planes, its walls filled where they are left sparse, and split
    where their texture changes across them (`fine_gaussians.py`)."""
    viewer = camera_center(scene.cameras.viewmats).mean(0)
    regions = scene.regions
    kept = np.flatnonzero(~_floating(scene, textures, viewer))
    params = {name: value[torch.from_numpy(kept)] for name, value in scene.params.items()}
    params = flatten_onto_charts(params, regions.labels[kept], textures, viewer)
    walls = [i for i, name in enumerate(regions.names) if role(name) == "wall"]
    params, labels, filled = fill_sparse_walls(params, regions.labels[kept], textures, walls, viewer)
    params, labels, parents = split_for_textures(params, labels, textures)
    parents = kept[filled[parents]]
    log.info("materials: %d Gaussians, %d once floaters are left out, %d with the sparse walls filled, %d split "
             "where their texture changes across them", len(regions.labels), len(kept), len(filled), len(parents))
    regions = replace(scene.regions, labels=labels)
    return replace(scene, params=params, regions=regions, colors=scene.colors[parents])


def _floating(scene: Scene, textures: dict[int, RegionTexture], viewer: np.ndarray) -> np.ndarray:
    """[N] bool: the floaters before the walls and under the ceiling that nothing holds up
    (`fine_gaussians.floating_before_walls`); none when the scene has no floor region to stand on.

    The ceiling's floaters count since the walls are filled where sparse (`fill_sparse_walls`): clumps 25-38
    cm under the office sample's ceiling, 51-76 cm before its north wall, had shown as a cream blotch over
    the wall's upper middle; left out while the wall behind them stayed sparse, a smooth green patch."""
    regions = scene.regions
    up = np.asarray(regions.up, np.float64)
    floor_height = scene_floor_height(scene.params["means"].numpy().astype(np.float64), regions.labels, regions.names,
                                      up)
    if floor_height is None:
        return np.zeros(len(regions.labels), bool)
    by_role = {kind: [i for i, name in enumerate(regions.names) if role(name) == kind]
               for kind in ("wall", "ceiling", "object")}
    return floating_before_walls(scene.params, regions.labels, textures, by_role["wall"] + by_role["ceiling"],
                                 by_role["object"], up, floor_height, viewer)


def _wall_facing_the_same_way(match: dict, chart: Chart, found: dict[str, Material], points: np.ndarray,
                              viewmats: np.ndarray, up: np.ndarray) -> None:
    """Walls are told apart by where they stand for the viewer: the scene wall takes the style wall
    whose facing (relative to the style camera's forward) is nearest its own (relative to the filmed
    cameras' mean forward), when the style's walls were rectified."""
    facings = {name: m.azimuth for name, m in found.items() if m.azimuth is not None}
    if not facings:
        return
    own = wall_azimuth(chart, points, viewmats, up)
    nearest = min(facings, key=lambda name: abs((facings[name] - own + 180) % 360 - 180))
    if nearest != match["style"]:
        match["style"], match["by"] = nearest, f"wall facing the same way ({own:.0f}° vs {facings[nearest]:.0f}°)"


def _same_role(found: dict[str, Material], name: str | None) -> Material | None:
    """A floor, wall or ceiling of the style seen too little to give a material (a wall glimpsed at the
    edge) takes the largest material of its role (another wall); objects do not (a table is no sofa)."""
    if name is None or role(name) == "object":
        return None
    same = [m for m in found.values() if role(m.name) == role(name)]
    return max(same, key=lambda m: int(m.mask.sum()), default=None)


def _per_gaussian_colors(scene: Scene, style_regions, matches, textures: dict[int, RegionTexture] | None = None,
                         object_parts: bool = False):
    """Each Gaussian's colour from its region's matched style region: its material's texture (lit by the
    Gaussian's own lightness relative to its region's) where `textures` has one, else the style
    region's colour distribution (with `object_parts`, an object's colour parts each onto the partner's
    part of their rank: `transfer.transfer_colors_by_parts`)."""
    params, regions, colors, seed = scene.params, scene.regions, scene.colors, scene.options.seed
    textures = textures or {}
    restyled = colors.copy()
    everything = style_regions.image.reshape(-1, 3)
    means = params["means"].numpy()
    for k, match in enumerate(matches):
        index = regions.names.index(match["scene"])
        members = regions.labels == index
        match["gaussians"] = int(members.sum())
        if not members.any():
            continue
        if index in textures:
            texture = textures[index]
            albedo = texture.colors(texture.chart.uv(means[members]))
            light = luminance(colors[members])
            restyled[members] = shade(albedo, light / max(float(light.mean()), 1e-6), scene.options.shading)
            match["transfer"] = "material"
        else:
            target = style_regions.colors(match["style"]) if match["style"] else everything
            transfer = transfer_colors_by_parts if object_parts and _same_kind(match) else transfer_colors
            restyled[members] = transfer(colors[members], target, seed=seed + k)
            match["transfer"] = "colour distribution"
    return restyled.astype(np.float32)


def _same_kind(match: dict) -> bool:
    """An object paired with a style object of its name or of its shape: the same kind of thing, whose
    colour parts are the same parts (paired by size rank, the office's wall slabs took a desk's and
    their parts its top and legs: texture 1.28 -> 1.35)."""
    return role(match["scene"]) == "object" and bool(match["style"]) and (
        match.get("by") == "same label" or str(match.get("by", "")).startswith("shape"))


def _material_key_views(scene: Scene, style_regions, matches, picks, textures: dict[int, RegionTexture],
                        trained: dict):
    """Key views with each textured region's pixels taken from its texture at the pixel's own surface
    point (from the rendered depth), lit by the low-frequency lightness there of the model as trained
    (`trained`, the floaters `_fine_enough` leaves out included: what the cameras saw); other regions'
    colours transferred and softened as the colour stylizer's first step. Returns (targets, weights).

    Lit by the scene's own views instead, the wall that floaters had hidden lent its untrained lightness
    to the room's light (the office's north wall renders pale behind the sheet of floaters left out over
    its upper middle; office texture 0.980 -> 0.958 over four seeds)."""
    cameras, options = scene.cameras, scene.options
    views, labels, transferred = _key_view_transfer(scene, style_regions, matches, picks, skip=set(textures),
                                                    object_parts=True,
                                                    default_lightness=LIGHTNESS["materials"])
    contrast, blur = SOFTENING_STEPS[0]
    targets = soften_lightness(views, transferred, labels, contrast, blur * cameras.height)
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    depth = render_views(scene.params, viewmats, Ks, cameras.width, cameras.height)["depth"].numpy()
    seen = render_views(trained, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    for k, pick in enumerate(picks):
        geometry = ViewGeometry(depth[k], cameras.viewmats[pick], cameras.Ks[pick])
        for index, texture in textures.items():
            here = labels[k] == index
            if here.sum() < 10:
                continue
            albedo = texture.colors(geometry.surface(texture.chart, here))
            light = region_shading(seen[k], here, SHADING_BLUR * cameras.height)[here]
            targets[k][here] = shade(albedo, light, options.shading)
    return torch.from_numpy(targets.astype(np.float32)), torch.from_numpy((labels >= 0).astype(np.float32))


SHADING_BLUR = 0.025  # the room's light is its lightness blurred this much (of the image height)


# each step pulls regions' lightness changes together and blurs them more (fractions of image height)
SOFTENING_STEPS = ((1.0, 0.01), (0.92, 0.0125), (0.85, 0.015), (0.77, 0.0175), (0.7, 0.02), (0.55, 0.025),
                   (0.4, 0.03))


def _fit_keeping_structure(scene: Scene, start, style_regions, matches, picks):
    """Fit the Gaussians' colours to stylized key views, softening their lightness one step at a time
    until the fitted model's key views keep `keep_structure` of the original's structure (the last
    step is kept whatever it reaches). Returns (fitted params, softening step, structure kept)."""
    cameras, keep_structure, progress = scene.cameras, scene.options.keep_structure, scene.progress
    fit_steps, seed = _fit_steps(scene, "colour"), scene.options.seed
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


def _key_view_transfer(scene: Scene, style_regions, matches, picks, skip=(),
                       default_lightness: str = LIGHTNESS["colour"], object_parts: bool = False):
    """Key views of the unstylized model [V,H,W,3], their region labels [V,H,W] (-1: no Gaussian), and
    the views with each region's pixels (pooled over the views) moved onto its style region's colour
    distribution (regions whose index is in `skip` are left as they are; objects part to part with
    `object_parts`), with the options' lightness rule or else `default_lightness`. An object's texture
    finer than its partner's is scaled down, part by part with `object_parts`, and then in the returned
    views too (the materials stylizer's softening keeps their lightness: it put a table's planks back)."""
    params, regions, cameras = scene.params, scene.regions, scene.cameras
    lightness, seed = scene.options.lightness or default_lightness, scene.options.seed
    viewmats = torch.tensor(cameras.viewmats[picks], dtype=torch.float32)
    Ks = torch.tensor(cameras.Ks[picks], dtype=torch.float32)
    views = render_views(params, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    labels = render_labels(params, regions.labels, len(regions.names), cameras.viewmats[picks],
                           cameras.Ks[picks], cameras.width, cameras.height)
    transferred = views.copy()
    everything = style_regions.image.reshape(-1, 3)
    jobs = []  # (match number, match, its pixels, its target colours, its colour parts)
    for k, match in enumerate(matches):
        index = regions.names.index(match["scene"])
        here = labels == index
        if index in skip or here.sum() < 10:
            continue
        target = style_regions.colors(match["style"]) if match["style"] else everything
        parts = colour_parts(rgb_to_lab(views[here]), seed + k) if object_parts and _same_kind(match) else None
        jobs.append((k, match, here, target, parts))

    def transfer(job):
        k, _, here, target, parts = job
        if parts is not None:
            return transfer_colors_by_parts(views[here], target, lightness=lightness, seed=seed + k, parts=parts)
        return transfer_colors(views[here], target, lightness=lightness, seed=seed + k)

    # the regions' transfers read and write only their own pixels: they run side by side (numpy's sorts,
    # most of their time, free the GIL), in a fixed order of results; what follows touches a region's
    # pixels only too, so the views come out the same bit for bit
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(transfer, jobs))
    for (k, match, here, target, parts), colours in zip(jobs, results):
        transferred[here] = colours
        if role(match["scene"]) == "object" and match["style"]:
            # an object keeps its own form but not a finer texture than its partner's, in light or in
            # colour (planks on a plain white table; their dark lines moved onto the colour of its gold
            # legs): the transfer moves the colour distribution, not the texture's strength
            wanted = detail_contrast(style_regions.image, style_regions.labels == style_regions.names.index(
                match["style"]))
            own = detail_contrast(transferred, here)
            if wanted is not None and own is not None and (own > wanted).any():
                factor = np.minimum(1.0, wanted / np.maximum(own, 1e-6))
                transferred = scale_detail(transferred, here, factor, parts)
                if object_parts:
                    views = scale_detail(views, here, factor, parts)
    return views, labels, transferred
