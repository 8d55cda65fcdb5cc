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
- `floating_before_walls`: a wall's Gaussians further before it than that band (a ceiling's, under it),
  which nothing standing on the floor holds up, are a sheet of floaters (a plain wall seen head-on trains
  one) and are left out;
- `fill_sparse_walls`: where the cameras saw a wall only through such floaters, training left the wall
  itself a few wide Gaussians; there a lattice of small flat ones on its plane takes their place.
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
FILL_CELL = 0.08  # metres at least: the cells in which a wall's surface is judged sparse
FILL_COVER = 0.5  # share of a cell its wall's surface Gaussians' footprints must cover
ON_THE_PLANE = 0.02  # metres either side of a wall's plane: its surface
FILL_OPACITY = 0.9
FILL_SPACING = 1.5  # sigmas between a fill lattice's Gaussians: footprints that overlap and cover the plane


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
    """[N] bool: the Gaussians of each textured wall (or ceiling) in `walls` (label indices) more than
    `SURFACE_BAND` before its plane, on the side of `viewer`, that nothing holds up: no chain of Gaussians of the
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



def fill_sparse_walls(params: dict, labels: np.ndarray, textures: dict[int, RegionTexture], walls: list[int],
                      viewer: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """The model with a lattice of small flat Gaussians on each textured wall's plane (`walls`: label
    indices) in the cells of it (`FILL_CELL` wide, or wider for a coarse texture) that its own surface
    Gaussians cover too little (`_sparse_cells`), in place of the wide ones there. Returns (params, labels,
    parents): `parents` indexes the input's Gaussians for the output's (a new one's: the nearest of its
    wall's).

    What the cameras saw of a wall through floaters before it, training painted on the floaters: the wall
    behind them is a few wide Gaussians, and with the floaters left out a smooth patch shows where its
    texture should be (the office sample's north wall above the whiteboard: 180 Gaussians over 1.5 m²,
    ten times fewer than beside it)."""
    from scipy.spatial import cKDTree

    means = params["means"].numpy().astype(np.float64)
    replaced = np.zeros(len(labels), bool)
    new = []  # (means, quats, scales, label, parents) of each wall's lattice
    for index in [w for w in walls if w in textures]:
        members = np.flatnonzero(labels == index)
        if len(members) < 10:
            continue
        texture = textures[index]
        normal = _towards(texture.chart, viewer)
        sigma = MIN_TEXELS * texture.texel
        # two lattice points a side at least: a texture coarsened for a large region (a real capture's
        # wall tens of metres long) gets coarse cells, not one wide Gaussian every few centimetres
        cell = max(FILL_CELL, 2 * FILL_SPACING * sigma)
        corner, sparse, in_sparse = _sparse_cells(params, means, labels, index, texture.chart, normal, cell)
        if not sparse.any():
            continue
        replaced[members[in_sparse]] = True
        points, quats, scales = _lattice(texture.chart, normal, corner, sparse, cell, sigma)
        new.append((points, quats, scales, index, members[cKDTree(means[members]).query(points)[1]]))
    if not new:
        return params, labels, np.arange(len(labels))
    kept = np.flatnonzero(~replaced)
    parents = np.concatenate([kept, *[lattice[4] for lattice in new]])
    out = {name: value[torch.from_numpy(parents)].clone() for name, value in params.items()}
    for name, k, stored in (("means", 0, np.asarray), ("quats", 1, np.asarray), ("scales", 2, np.log)):
        values = stored(np.concatenate([lattice[k] for lattice in new]))
        out[name][len(kept):] = torch.from_numpy(values.astype(np.float32))
    out["opacities"][len(kept):] = float(np.log(FILL_OPACITY / (1 - FILL_OPACITY)))
    out["shN"][len(kept):] = 0.0
    labels = np.concatenate([labels[kept], *[np.full(len(lattice[0]), lattice[3]) for lattice in new]])
    return out, labels, parents


def _sparse_cells(params: dict, means: np.ndarray, labels: np.ndarray, index: int, chart: Chart,
                  normal: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of region `index`'s chart (`side` metres wide from the chart coordinates `corner`) that its
    surface Gaussians (within `ON_THE_PLANE` of the plane) no wider than a cell cover less than
    `FILL_COVER` of, inside the region's extent (its occupied cells, closed, holes filled), and not next to
    a cell where something else lies within `SURFACE_BAND` of the plane (a picture hangs in the wall's
    hole). `means`: the model's centres [N,3], float64. Returns (corner, sparse [rows, cols] bool,
    [members] bool: the surface Gaussians in them)."""
    from scipy import ndimage

    members = np.flatnonzero(labels == index)
    uv = chart.uv(means[members])
    corner = np.percentile(uv, 0.5, axis=0)
    cols, rows = ((np.percentile(uv, 99.5, axis=0) - corner) // side + 1).astype(int)

    def cells(points_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cell = np.floor((points_uv - corner) / side).astype(int)
        return cell, (cell >= 0).all(1) & (cell[:, 0] < cols) & (cell[:, 1] < rows)

    cell, inside = cells(uv)
    surface = inside & (np.abs((means[members] - chart.origin) @ normal * chart.metres) < ON_THE_PLANE)
    spread = _along_the_plane(chart, rotation_matrices(params["quats"][members[surface]]),
                              torch.exp(params["scales"][members[surface]]).numpy().astype(np.float64))
    sigmas = np.sqrt(np.maximum(np.linalg.eigvalsh(spread * chart.metres ** 2), 0.0))  # ascending
    opacity = torch.sigmoid(params["opacities"].reshape(-1)[members[surface]]).numpy()
    area = np.minimum(opacity * np.pi * FOOTPRINT ** 2 * sigmas[:, 0] * sigmas[:, 1], side ** 2)
    fine = FOOTPRINT * sigmas[:, 1] <= side  # a wider one blurs several cells: it carries no texture
    cover = np.zeros((rows, cols))
    np.add.at(cover, (cell[surface][fine, 1], cell[surface][fine, 0]), area[fine])
    occupied = np.zeros((rows, cols), bool)
    occupied[cell[inside, 1], cell[inside, 0]] = True
    # padded: scipy's erosion takes what lies beyond the array as empty, which ate the wall's edge cells
    closed = ndimage.binary_closing(np.pad(occupied, 2), np.ones((3, 3)), iterations=2)[2:-2, 2:-2]
    extent = ndimage.binary_fill_holes(closed)
    others = np.flatnonzero(labels != index)
    others = others[np.abs((means[others] - chart.origin) @ normal * chart.metres) < SURFACE_BAND]
    other_cell, other_inside = cells(chart.uv(means[others]))
    taken = np.zeros((rows, cols), bool)
    taken[other_cell[other_inside, 1], other_cell[other_inside, 0]] = True
    sparse = extent & ~ndimage.binary_dilation(taken) & (cover < FILL_COVER * side ** 2)
    in_sparse = np.zeros(len(members), bool)
    in_sparse[surface] = sparse[cell[surface, 1], cell[surface, 0]]
    return corner, sparse, in_sparse


def _lattice(chart: Chart, normal: np.ndarray, corner: np.ndarray, cells: np.ndarray, side: float,
             sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(means [n,3], quats [n,4] wxyz, scales [n,3], scene units) of flat Gaussians `sigma` metres wide on the
    chart's plane, about `FILL_SPACING` sigmas apart over the `cells` [rows, cols] (`side` metres wide from
    `corner`)."""
    per_cell = max(1, int(round(side / (FILL_SPACING * sigma))))
    offsets = (np.arange(per_cell) + 0.5) / per_cell * side
    rows, cols = np.nonzero(cells)
    u = corner[0] + cols[:, None, None] * side + offsets[None, None, :]
    v = corner[1] + rows[:, None, None] * side + offsets[None, :, None]
    u, v = np.broadcast_arrays(u, v)
    u, v = u.ravel(), v.ravel()
    points = chart.origin + (u[:, None] * chart.axes[0] - v[:, None] * chart.axes[1]) / chart.metres  # `Chart.uv`
    frame = np.stack([normal, chart.axes[0], chart.axes[1]], 1)  # columns: the thin axis first
    if np.linalg.det(frame) < 0:
        frame[:, 2] *= -1
    quat = Rotation.from_matrix(frame).as_quat()[[3, 0, 1, 2]]
    return (points, np.broadcast_to(quat, (len(points), 4)),
            np.broadcast_to([THIN, sigma, sigma], (len(points), 3)) / chart.metres)
