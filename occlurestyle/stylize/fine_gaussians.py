"""Gaussians that can carry a texture: on their surface's plane, and fine enough for its pattern.

The background model was fitted to the room as filmed. Where the room was plain (a pale wall) nothing
pinned its surface down: the demo room's walls and floor are clouds some 10 cm thick, and a camera at a
grazing angle sees through the cloud's front over several of a stripe's widths, each view a different
mix. Where the room was plain its Gaussians are also few and wide. A striped material laid on such a
model can only become blotches, whatever colours the fit gives it. So, for each region given a texture:

- `flatten_onto_charts`: the Gaussians on the cameras' side of its plane (within `SURFACE_BAND`) move onto
  it and are flattened into it; those behind it stay, as moving them forward would cover what hangs on
  the wall within the cloud (a picture's Gaussians lie inside it: measured, the pictures turned white);
  none of them reaches beyond the region's texture along the plane (a sheet hidden in the cloud would
  show its colour where the flattened front no longer hides it);
- `split_for_textures`: each Gaussian across whose footprint the texture's colour changes is split in
  two along its longest axis, round after round, never below `MIN_TEXELS` of the texture's texels;
- `floating_before_walls`: a wall's Gaussians further before it than that band, which nothing standing on
  the floor holds up, are a sheet of floaters (a plain wall seen head-on trains one) and are left out.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ..render.gaussians import rotation_matrices
from .texture import Chart, RegionTexture

SURFACE_BAND = 0.25  # metres before a region's plane: its cloud, not a thing standing on it
THIN = 0.001  # metres: a flattened Gaussian's thickness
SPLIT_ROUNDS = 3  # each Gaussian becomes at most 2**SPLIT_ROUNDS (a plain wall's reach 10 cm: docs/experiments.md)
MIN_TEXELS = 2  # no split of a Gaussian narrower than this many texels
COLOUR_CHANGE = 0.10  # RGB (0-1) distance across a footprint that one colour would blur away
FOOTPRINT = 1.5  # sigmas each side of the centre: what a Gaussian covers where it is opaque
CHILD_OFFSET, CHILD_SCALE = 0.6, 0.7  # sigmas: two children at ±0.6σ with 0.7σ reach ~ the parent's 2σ
HOLD_REACH = 0.10  # metres: Gaussians this near each other are one thing (a bookcase's board and its side)
ON_THE_FLOOR = 0.15  # metres: what comes this near the floor stands on it
SEEN_OPACITY = 0.05  # fainter Gaussians hold nothing up


def flatten_onto_charts(params: dict, labels: np.ndarray, textures: dict[int, RegionTexture],
                        viewer: np.ndarray) -> dict:
    """The model with each textured region's (label index → texture) Gaussians between its plane and
    `SURFACE_BAND` before it, on the side of the point `viewer` (the cameras' mean centre), moved onto
    the plane and flattened into it: their covariance projected onto the plane, `THIN` across it. None of
    the region's Gaussians on the plane or behind it reaches beyond its texture along the plane
    (`_narrowing`): those moved are narrowed along the plane's u and v, those behind it shrunk whole."""
    means = params["means"].numpy().astype(np.float64)
    scales = torch.exp(params["scales"]).numpy().astype(np.float64)
    rotations = rotation_matrices(params["quats"])
    changed = np.zeros(len(labels), bool)
    for index, texture in textures.items():
        chart = texture.chart
        normal = _towards(chart, viewer)
        members = np.flatnonzero(labels == index)
        height = (means[members] - chart.origin) @ normal
        behind = members[height <= 0]
        spread = _along_the_plane(chart, rotations[behind], scales[behind])
        shrink = _narrowing(spread, means[behind], texture).min(1)
        scales[behind] *= shrink[:, None]  # whole: narrowed along the plane alone, a sheet became a needle
        changed[behind[shrink < 1]] = True
        before = (height > 0) & (height * chart.metres < SURFACE_BAND)
        members, height = members[before], height[before]
        changed[members] = True
        means[members] -= height[:, None] * normal
        covariance = _along_the_plane(chart, rotations[members], scales[members])
        narrow = _narrowing(covariance, means[members], texture)
        covariance = covariance * narrow[:, :, None] * narrow[:, None, :]
        values, vectors = np.linalg.eigh(covariance)  # [n,2], [n,2,2]
        axes = np.einsum("nij,ik->njk", vectors, chart.axes[:2])  # the eigenvectors in the world [n,2,3]
        frame = np.concatenate([np.broadcast_to(normal, (len(members), 1, 3)), axes], 1).transpose(0, 2, 1)
        frame[np.linalg.det(frame) < 0, :, 2] *= -1  # a rotation, not a reflection
        rotations[members] = frame
        scales[members] = np.concatenate([np.full((len(members), 1), THIN / chart.metres),
                                          np.sqrt(np.maximum(values, 1e-12))], 1)
    out = dict(params)
    out["means"] = torch.where(torch.from_numpy(changed)[:, None], torch.from_numpy(means.astype(np.float32)),
                               params["means"])
    out["scales"] = torch.where(torch.from_numpy(changed)[:, None], torch.from_numpy(np.log(scales).astype(np.float32)),
                                params["scales"])
    quats = params["quats"].clone()
    wxyz = Rotation.from_matrix(rotations[changed]).as_quat()[:, [3, 0, 1, 2]]
    quats[changed] = torch.from_numpy(wxyz.astype(np.float32))
    out["quats"] = quats
    return out


def _along_the_plane(chart: Chart, rotations: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """[n,2,2]: the covariances of Gaussians (axes `rotations` [n,3,3], sigmas `scales` [n,3]) along the
    chart's u and v."""
    in_plane = chart.axes[:2] @ rotations  # [n,2,3]: each Gaussian's axes in the plane's u, v
    return np.einsum("nij,nj,nkj->nik", in_plane, scales ** 2, in_plane)


def _narrowing(spread: np.ndarray, centres: np.ndarray, texture: RegionTexture) -> np.ndarray:
    """[n,2] factors (at most 1) along the chart's u and v by which Gaussians centred at `centres` [n,3],
    with covariances `spread` [n,2,2] along u and v (scene units), are narrowed so that their footprint
    (`FOOTPRINT` sigmas) ends at the texture's edge, or `MIN_TEXELS` texels out for one centred on or
    beyond it. A training leaves sheets and needles in a wall's cloud that the wall's front hides: the
    office sample's whiteboard held one 5 m long 40 cm behind its plane, which, once the wall before it
    lay flat on the wall's plane and the board's white coloured it, showed as a white column from the
    ceiling down to the desk."""
    chart = texture.chart
    uv = chart.uv(centres)
    lo = texture.corner
    hi = lo + (np.array(texture.texture.shape[1::-1]) - 1) * texture.texel
    room = np.maximum(np.minimum(uv - lo, hi - uv), MIN_TEXELS * texture.texel) / chart.metres
    sigma = np.sqrt(np.maximum(np.diagonal(spread, axis1=1, axis2=2), 1e-24))  # v's flip changes no spread
    return np.minimum(1.0, room / (FOOTPRINT * sigma))


def floating_before_walls(params: dict, labels: np.ndarray, textures: dict[int, RegionTexture], walls: list[int],
                          objects: list[int], up: np.ndarray, floor_height: float, viewer: np.ndarray) -> np.ndarray:
    """[N] bool: the Gaussians of each textured wall in `walls` (label indices) more than `SURFACE_BAND`
    before its plane, on the side of `viewer`, that nothing holds up: no chain of Gaussians of the
    `objects` and of such floaters, each within `HOLD_REACH` of the next, joins them to one within
    `ON_THE_FLOOR` of the floor (`floor_height` along `up`, scene units).

    A plain wall seen head-on trains a sheet of floaters before it (the office sample's north wall: 25-100
    cm out, over its upper middle and the whiteboard). The labeller gives them to the wall, as they are
    coloured like it (`regions.WALL_SLAB`), and flattening leaves them where they are, so the wall's
    texture showed blurred on them over the wall and what hangs on it. What is coloured like the wall and
    stands before it, the front of a bookcase, is held up by its sides."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    walls = [index for index in walls if index in textures]
    if not walls:
        return np.zeros(len(labels), bool)
    means = params["means"].numpy().astype(np.float64)
    metres = textures[walls[0]].chart.metres
    floaters = np.zeros(len(labels), bool)
    for index in walls:
        chart = textures[index].chart
        members = np.flatnonzero(labels == index)
        before = (means[members] - chart.origin) @ _towards(chart, viewer) * chart.metres
        floaters[members[before > SURFACE_BAND]] = True
    if not floaters.any():
        return floaters
    opaque = torch.sigmoid(params["opacities"].reshape(-1)).numpy() > SEEN_OPACITY
    nodes = np.flatnonzero(floaters | (np.isin(labels, objects) & opaque))
    pairs = cKDTree(means[nodes] * metres).query_pairs(HOLD_REACH, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(nodes), len(nodes)))
    count, part = connected_components(graph, directed=False)
    on_the_floor = np.zeros(count, bool)
    np.logical_or.at(on_the_floor, part, (means[nodes] @ up - floor_height) * metres < ON_THE_FLOOR)
    held = np.zeros(len(labels), bool)
    held[nodes] = on_the_floor[part]
    return floaters & ~held


def _towards(chart: Chart, viewer: np.ndarray) -> np.ndarray:
    """The chart's normal turned to the side of its plane `viewer` is on: "before" the plane."""
    return chart.axes[2] if (viewer - chart.origin) @ chart.axes[2] > 0 else -chart.axes[2]


def split_for_textures(params: dict, labels: np.ndarray, textures: dict[int, RegionTexture],
                       rounds: int = SPLIT_ROUNDS) -> tuple[dict, np.ndarray, np.ndarray]:
    """The model with the Gaussians of each textured region split where their texture changes across
    them. Returns (params, labels, parents): `parents` indexes the input's Gaussians for the output's,
    whose other parameters (opacity, colour) are their parent's."""
    parents = np.arange(len(labels))
    for _ in range(rounds):
        wide = _too_wide(params, labels, textures)
        if not wide.any():
            break
        params, kept = _split(params, wide)
        labels, parents = labels[kept], parents[kept]
    return params, labels, parents


def _longest_axes(params: dict, which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(longest scale's index, its direction in the world [n,3], its sigma in scene units) of `which`."""
    scales = torch.exp(params["scales"][which]).numpy()
    longest = scales.argmax(1)
    rows = np.arange(len(longest))
    return longest, rotation_matrices(params["quats"][which])[rows, :, longest], scales[rows, longest]


def _too_wide(params: dict, labels: np.ndarray, textures: dict[int, RegionTexture]) -> np.ndarray:
    """[N] bool: Gaussians of textured regions wider than MIN_TEXELS texels whose texture's colour
    differs by more than COLOUR_CHANGE between their centre and either end of their longest axis."""
    wide = np.zeros(len(labels), bool)
    means = params["means"].numpy()
    for index, texture in textures.items():
        members = np.flatnonzero(labels == index)
        if len(members) == 0:
            continue
        _, direction, sigma = _longest_axes(params, members)
        chart = texture.chart
        centre = texture.colors(chart.uv(means[members]))
        change = np.zeros(len(members))
        for side in (-1.0, 1.0):
            end = means[members] + side * FOOTPRINT * sigma[:, None] * direction
            change = np.maximum(change, np.linalg.norm(texture.colors(chart.uv(end)) - centre, axis=1))
        wide[members] = (sigma * chart.metres > MIN_TEXELS * texture.texel) & (change > COLOUR_CHANGE)
    return wide


def _split(params: dict, wide: np.ndarray) -> tuple[dict, np.ndarray]:
    """Each Gaussian in `wide` replaced by two along its longest axis. Returns (params, kept): `kept`
    indexes the old Gaussians for the new ones (the unsplit first, then the children in pairs)."""
    which = np.flatnonzero(wide)
    longest, direction, sigma = _longest_axes(params, which)
    kept = np.concatenate([np.flatnonzero(~wide), np.repeat(which, 2)])
    out = {name: value[torch.from_numpy(kept)].clone() for name, value in params.items()}
    first_child = int((~wide).sum())
    offset = np.repeat(CHILD_OFFSET * sigma[:, None] * direction, 2, 0) * np.tile([[-1.0], [1.0]], (len(which), 1))
    out["means"][first_child:] += torch.from_numpy(offset.astype(np.float32))
    out["scales"][first_child:][torch.arange(2 * len(which)), torch.from_numpy(np.repeat(longest, 2))] += float(
        np.log(CHILD_SCALE))
    return out, kept
