"""Scene regions: a semantic label per Gaussian, found without learned weights.

Gravity comes from the registration (`recon.gravity`; the cameras' own estimate when not given). Large
planes are found by RANSAC on the Gaussian centres (`ransac_plane`, seeded numpy: open3d's multithreaded
`segment_plane` gave a different plane set from run to run, and with it a missing ceiling now and then)
and classified by their normal and height: the lowest large horizontal plane is the floor, one above the
cameras the ceiling, vertical planes with (nearly) the whole scene on one side are walls; what lies
behind a wall, away from the cameras, is that wall's slab, not furniture; two planes through one wall's
thick layer are one wall (`_join_wall_slices`); in front of a wall's plane, within its slab, what is
coloured like the wall there is the wall's and what is not (books in a bookcase against it) is not. Floor
and ceiling take the whole dense height layer around their plane (`_horizontal_layer`), which also finds
them when RANSAC did not (a noisy layer is cut at a slant). What is left is clustered with DBSCAN into
objects named by their height and footprint relative to the room (table, sofa, shelf, object_k); a
cluster that falls apart at half the radius is the objects a few stray Gaussians bridged, each named on
its own, and what stands on an object's top (a monitor on a desk) is an object of its own
(`_standing_on_top`). Given the Gaussians' colours, what hangs flat on a wall and differs from it is a
picture ("picture", "picture_1", ...: `wall_pictures`). The result is a readable JSON that a user can
edit and pass back to override the labels.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..cameras import camera_center, camera_up
from ..errors import InputError
from ..fsutil import write_json
from ..render.gaussians import render_views
from ..render.rasterizer import rasterization
from .correspond import role
from .transfer import rgb_to_lab
from .wall_pictures import find_framed_pictures, find_pictures

log = logging.getLogger(__name__)

SLICE_ANGLE = 15.0  # degrees between two planes that may be slices of one wall (RANSAC cuts a thick layer at a slant)
SLICE_GAP = 0.09  # room heights (24 cm in a 2.7 m room) between two slices of one wall
WALL_COLOUR = 12.0  # CIELAB difference within which a Gaussian in front of a wall is coloured like the wall there
WALL_NEIGHBOURS = 8  # wall Gaussians around that point whose median colour is the wall's there
WALL_SLAB = 0.3  # room heights (80 cm in a 2.7 m room) in front of its plane a wall's wall-coloured Gaussians reach
TOP_LAYER = 0.01  # room heights (2.7 cm) of the height bins an object's top surface is found in
ON_TOP_GAP = 0.03  # room heights (8 cm) above its top surface where what stands on an object begins
ON_TOP_WIDTH = 0.5  # what stands on a top spans at most this share of the top's length
LARGE_OBJECT = 0.02  # share of the solid Gaussians a piece of furniture holds at least (`_split_bridged`)
WALL_TOP_GAP = 0.2  # room heights under the ceiling that a wall found inside an object cluster reaches up to
SEEN_LIKE_THE_WALL = 0.7  # share of a region by a wall that, as the cameras see it, looks like the wall there
SEEN_REACH = 0.6  # room heights (1.6 m in a 2.7 m room) in front of a wall's plane such a region may lie
SEEN_NEIGHBOURS = 16  # fellow Gaussians of a region around one, the part of it that may look like the wall
UNDER_THE_CEILING = 0.15  # room heights (40 cm in a 2.7 m room): an object whose bottom is nearer is ceiling
SOLID_OPACITY = 0.3  # a Gaussian more opaque than this is solid: planes and objects are found among those alone
THIN_WALL = 0.7  # share of a wall's Gaussians within three plane thresholds of its plane, at least, for a thin wall
SLAB_LAYER = 95  # percentile of a slab wall's distances from its plane: the layer its pictures are sought in


@dataclass
class SceneRegions:
    labels: np.ndarray  # [N] index into `names` for each Gaussian
    names: list[str]
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, -1.0, 0.0]))

    def save(self, path: str | Path) -> None:
        write_json(path, {"names": self.names, "up": [float(v) for v in self.up],
                          "labels": [int(v) for v in self.labels]})

    @classmethod
    def load(cls, path: str | Path, n_gaussians: int | None = None) -> "SceneRegions":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"scene label file {path} does not exist")
        data = json.loads(path.read_text())
        labels = np.asarray(data["labels"], np.int64)
        if n_gaussians is not None and len(labels) != n_gaussians:
            raise InputError(f"{path} labels {len(labels)} Gaussians but the model has {n_gaussians}; "
                             "it was made for another model: delete it or re-run labelling")
        if labels.min() < 0 or labels.max() >= len(data["names"]):
            raise InputError(f"{path}: labels must index into its {len(data['names'])} names")
        return cls(labels, list(data["names"]), np.asarray(data.get("up", [0, -1, 0]), np.float64))


def label_gaussians(means: np.ndarray, opacities: np.ndarray, viewmats: np.ndarray, *, colors: np.ndarray | None = None,
                    seen: tuple[np.ndarray, np.ndarray] | None = None, max_planes: int = 16,
                    plane_threshold: float = 0.01, min_plane_fraction: float = 0.015, seed: int = 0,
                    up: np.ndarray | None = None) -> SceneRegions:
    """Label each Gaussian (centres `means` [N,3], activated `opacities` [N]) seen by cameras `viewmats`
    (up: `up`, else the cameras' own estimate); with their RGB `colors` [N,3] (0-1), the pictures on the
    walls too, and with `seen` (surface points [M,3] and their RGB colours as the cameras saw them:
    `seen_surface`) pictures by their frames."""
    import open3d as o3d
    from scipy.spatial import cKDTree

    means = np.asarray(means, np.float64)
    up = camera_up(viewmats) if up is None else np.asarray(up, np.float64) / np.linalg.norm(up)
    centres = camera_center(viewmats)
    solid = np.asarray(opacities) > SOLID_OPACITY
    if solid.sum() < 100:
        solid = np.ones(len(means), bool)
    points = means[solid]
    height = points @ up
    camera_height = float(np.median(centres @ up))
    lo, hi = np.percentile(points, 2, axis=0), np.percentile(points, 98, axis=0)
    extent = float(np.linalg.norm(hi - lo))
    threshold = plane_threshold * extent

    lab = rgb_to_lab(np.asarray(colors)[solid]) if colors is not None else None
    rng = np.random.default_rng(seed)
    names: list[str] = []
    label = np.full(len(points), -1)
    remaining = np.arange(len(points))
    horizontal: list[tuple[float, np.ndarray]] = []
    walls: list[np.ndarray] = []
    set_aside: list[np.ndarray] = []  # planes that are not structure (object faces): clustered later
    pool = remaining.copy()
    for _ in range(max_planes):
        if len(pool) < min_plane_fraction * len(points):
            break
        plane, inliers = ransac_plane(points[pool], threshold, rng)
        inliers = pool[inliers]
        if len(inliers) < min_plane_fraction * len(points):
            break
        pool = np.setdiff1d(pool, inliers)
        normal = np.asarray(plane[:3]) / np.linalg.norm(plane[:3])
        alignment = abs(float(normal @ up))
        if alignment > 0.9:
            horizontal.append((float(np.median(points[inliers] @ up)), inliers))
        elif alignment < 0.25 and _bounds_the_scene(points, points[inliers], normal, centres, threshold):
            walls.append(inliers)
        else:
            set_aside.append(inliers)  # an object's face or a slanted surface
            continue
        remaining = np.setdiff1d(remaining, inliers)

    below = [(h, idx) for h, idx in horizontal if h < camera_height]
    above = [(h, idx) for h, idx in horizontal if h > camera_height]
    floor_plane = min(below, key=lambda t: t[0]) if below else None
    ceiling_plane = max(above, key=lambda t: t[0]) if above else None
    for plane in horizontal:  # other horizontal planes (a table top) go back to the objects
        if plane is not floor_plane and plane is not ceiling_plane:
            remaining = np.union1d(remaining, plane[1])
    # a short or noisy training leaves the floor and the ceiling layers thicker than the plane band (a
    # single plane then takes a slice of one, or RANSAC's best plane cuts it at a slant): each is the
    # whole dense layer around its plane, or around the fullest height below (above) the cameras
    layers = {}
    for name, plane, sign in (("floor", floor_plane, 1.0), ("ceiling", ceiling_plane, -1.0)):
        candidates = remaining if plane is None else np.union1d(remaining, plane[1])
        flipped = (points, sign * up, candidates, sign * camera_height, threshold)  # the ceiling upside down
        idx = _horizontal_layer(*flipped, None if plane is None else sign * plane[0], min_plane_fraction * len(points))
        if plane is not None and len(idx) == 0:  # the plane was a table's or a bench's top: search by height
            remaining, plane = candidates, None
            idx = _horizontal_layer(*flipped, None, min_plane_fraction * len(points))
        layers[name] = idx if plane is None else np.union1d(plane[1], idx)
        if len(layers[name]):
            label[layers[name]] = _add(names, name)
            remaining = np.setdiff1d(remaining, layers[name])
    floor_idx, ceiling_idx = layers["floor"], layers["ceiling"]
    for name, idx in layers.items():
        if len(idx) == 0:
            log.warning("scene regions: no %s found (no dense level layer of Gaussians %s the cameras)", name,
                        "below" if name == "floor" else "above")
    floor_height = float(np.median(height[floor_idx])) if len(floor_idx) else float(height.min())
    ceiling_height = float(np.median(height[ceiling_idx])) if len(ceiling_idx) else float(height.max())
    room_height = max(ceiling_height - floor_height, 1e-6)
    walls = _join_wall_slices(points, walls, room_height)
    if lab is not None:
        walls, released = _wall_fronts_unlike_the_wall(points, lab, walls, centres, threshold)
        remaining = np.union1d(remaining, released)
    layers: dict[int, np.ndarray] = {}  # each wall's own layer, before its slab joins it
    for k, idx in enumerate(walls):
        wall_label = _add(names, f"wall_{k}")
        label[idx], layers[wall_label] = wall_label, idx

    rest = remaining[label[remaining] < 0]
    rest = _wall_slab(points, lab, rest, walls, centres, threshold, WALL_SLAB * room_height, label)
    rest = _beyond_floor_and_ceiling_to_them(height, rest, [(floor_idx, floor_height, -1.0),
                                                            (ceiling_idx, ceiling_height, 1.0)], threshold, label)
    if len(rest):
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[rest]))
        clusters = np.asarray(cloud.cluster_dbscan(eps=0.02 * extent, min_points=8))
        order = np.argsort(-np.bincount(clusters[clusters >= 0])) if (clusters >= 0).any() else []
        structure = [(label[idx][0], *fit_plane(points[idx])) for idx in
                     [idx for idx in (floor_idx, ceiling_idx) if len(idx)] + walls]
        pieces: list[tuple[float, float, float]] = []  # each object's (bottom, top, width), named once all are found
        for c in order:
            idx = rest[clusters == c]
            if len(idx) < 0.002 * len(points):
                continue
            if len(idx) > 0.15 * len(points) and structure:
                # a cluster this big is furniture fused with the floor or a wall by noisy Gaussians
                # between them: what lies near a structural plane goes to it, the rest stays an object
                distances = np.stack([np.abs(points[idx] @ n + d) for _, n, d in structure], axis=1)
                nearest = distances.argmin(1)
                close = distances[np.arange(len(idx)), nearest] < 2.5 * threshold
                label[idx[close]] = np.array([structure[k][0] for k in nearest[close]])
                idx = idx[~close]
                if len(idx) < 0.002 * len(points):
                    continue
            idx = _wall_within(points, lab, idx, up, centres, threshold, room_height, rng, label, names, structure,
                               layers, ceiling_height)
            if len(idx) < 0.002 * len(points):
                continue
            for part in _split_bridged(points, idx, 0.02 * extent, up, int(LARGE_OBJECT * len(points))):
                for piece in _standing_on_top(points, part, up, room_height, 0.005 * extent,
                                              max(50, int(0.002 * len(points)))):
                    if len(ceiling_idx) and (np.percentile(height[piece], 5)
                                             > ceiling_height - UNDER_THE_CEILING * room_height):
                        # a slice of the ceiling's layer, no furniture (the office's, 0.88-0.94 room heights
                        # up, took the style monitor's colours, or its plant's once a screen's went only onto
                        # a screen)
                        label[piece] = label[ceiling_idx[0]]
                        continue
                    label[piece] = _add(names, f"piece_{len(pieces)}")
                    pieces.append(_object_shape(points[piece], up, floor_height, room_height))
        for k, name in enumerate(_object_names(pieces)):
            names[names.index(f"piece_{k}")] = name
    framed_labels: set[int] = set()  # pictures a frame was found around
    if lab is not None:
        seen_lab = rgb_to_lab(seen[1]) if seen is not None else None
        objects = np.isin(label, [i for i, name in enumerate(names) if name not in ("floor", "ceiling")
                                  and not name.startswith("wall_")])
        for wall_label in [i for i, name in enumerate(names) if name.startswith("wall_")]:
            on_wall = label == wall_label
            if on_wall.sum() < 200:  # too few to tell a picture from the wall (`find_pictures` asks as many)
                continue
            normal, offset = fit_plane(points[on_wall])
            distance = np.abs(points @ normal + offset)
            band = _wall_layer(distance[on_wall], threshold)
            near = distance < band
            # a picture's own floaters stand a little off the wall and may have made an object there
            given = np.flatnonzero(on_wall | (objects & near))
            # the chart is the wall's layer: its slab (floaters in front, coloured like what is behind them)
            # shifted which neighbourhoods stood out, and joins the picture whose rectangle holds it
            chart = on_wall & near if (on_wall & near).sum() >= 200 else on_wall
            found = [given[p] for p in find_pictures(points[given], lab[given], up, floor_height, room_height,
                                                     on_wall=chart[given], seed=seed)]
            framed = []
            if seen is not None:
                layer = np.abs(seen[0] @ normal + offset) < band
                framed = find_framed_pictures(seen[0][layer], seen_lab[layer], points[given], up, floor_height,
                                              room_height, chart[given])
                # a frame the colours found already is that picture
                found += [given[p] for p in framed
                          if not any(np.isin(given[p], f).mean() >= 0.5 for f in found)]
            for picture in found:
                # each its own region: one region on two walls has no plane, and each its own colours
                count = sum(name == "picture" or name.startswith("picture_") for name in names)
                label[picture] = _add(names, f"picture_{count}" if count else "picture")
                if any(np.isin(given[p], picture).mean() >= 0.5 or np.isin(picture, given[p]).mean() >= 0.5
                       for p in framed):
                    framed_labels.add(int(label[picture[0]]))
    if seen is not None and lab is not None:
        _seen_like_the_wall_to_walls(points, label, names, (seen[0], seen_lab), centres, up, threshold,
                                     SEEN_REACH * room_height, framed_labels, own=lab)
        label, names = _without_empty(label, names)
    if not names:
        names.append("scene")
        label[:] = 0
    # everything unlabelled (DBSCAN noise, faint Gaussians) takes its nearest labelled neighbour
    labelled = label >= 0
    full = np.empty(len(means), np.int64)
    tree = cKDTree(points[labelled])
    _, nearest = tree.query(means)
    full[:] = label[labelled][nearest]
    full[np.flatnonzero(solid)[labelled]] = label[labelled]
    _walls_end_at_the_ceiling(full, means @ up, names)
    _walls_reach_the_ceiling_and_the_floor(full, means, up, names, {k: points[idx] for k, idx in layers.items()},
                                           SLICE_GAP * room_height)
    return SceneRegions(full, names, up)


def _wall_layer(distances: np.ndarray, threshold: float) -> float:
    """How far from its plane a wall's layer reaches, given its Gaussians' `distances` from the plane: three
    plane thresholds, or for a wall trained as a slab (seen only at grazing angles, fewer than `THIN_WALL` of
    them within three thresholds) the band holding `SLAB_LAYER` percent of them. A picture on such a wall
    lies across the slab as the wall does (the office sample's east-wall picture: 174 of its 1052 Gaussians
    within three thresholds, the rest up to 0.8 m off)."""
    if not len(distances) or np.mean(distances < 3 * threshold) >= THIN_WALL:
        return 3 * threshold
    return max(3 * threshold, float(np.percentile(distances, SLAB_LAYER)))


def _walls_end_at_the_ceiling(labels: np.ndarray, heights: np.ndarray, names: list[str]) -> None:
    """Gaussians of a wall label higher than the ceiling's median height are the ceiling's (in place):
    a wall's plane runs on through the ceiling's thick layer at the corner, and those Gaussians painted
    the wallpaper's stripes onto the ceiling's edge (the demo run: 9% of its wall Gaussians; held-out
    texture on the ceiling 0.978 -> 0.399, truth 0.674)."""
    if "ceiling" not in names:
        return
    ceiling = names.index("ceiling")
    walls = np.isin(labels, [i for i, name in enumerate(names) if name.startswith("wall_")])
    labels[walls & (heights > np.median(heights[labels == ceiling]))] = ceiling


def _walls_reach_the_ceiling_and_the_floor(labels: np.ndarray, means: np.ndarray, up: np.ndarray,
                                           names: list[str], layers: dict[int, np.ndarray], reach: float) -> None:
    """Ceiling Gaussians below the ceiling's median height, and floor Gaussians above the floor's, that
    lie in a wall's own layer (the plane of `layers`, per wall label its Gaussians' centres before its slab
    joined it; within the 90th-percentile distance from it of the wall's Gaussians within `reach` of it,
    and along its length) are the wall's (in place): the thick ceiling and floor layers took the walls' top
    and bottom (12% and 5% of the demo's east wall's pixels), and painted the ceiling's grey and the floor's
    tiles on them. The counterpart of `_walls_end_at_the_ceiling`. (Measured on its whole slab, `WALL_SLAB`
    deep, the office sample's north wall took a tenth of its ceiling.)"""
    heights = means @ up
    walls = [i for i in layers if len(layers[i]) >= 50]
    movers = np.zeros(len(labels), bool)
    for name, sign in (("ceiling", -1.0), ("floor", 1.0)):
        if name in names:
            layer = labels == names.index(name)
            movers |= layer & (sign * (heights - np.median(heights[layer])) > 0)
    if not walls or not movers.any():
        return
    candidates = np.flatnonzero(movers)
    nearest = np.full(len(candidates), -1)
    best = np.full(len(candidates), np.inf)
    for wall in walls:
        layer = layers[wall]
        normal, offset = fit_plane(layer)
        along = np.cross(normal, up)
        along /= max(float(np.linalg.norm(along)), 1e-9)
        members = np.abs(means[labels == wall] @ normal + offset)
        band = np.percentile(members[members < reach], 90) if (members < reach).any() else reach
        lo, hi = np.percentile(layer @ along, [1, 99])
        distance = np.abs(means[candidates] @ normal + offset)
        position = means[candidates] @ along
        inside = (distance < band) & (position > lo) & (position < hi) & (distance < best)
        nearest[inside], best[inside] = wall, distance[inside]
    labels[candidates[nearest >= 0]] = nearest[nearest >= 0]


def _horizontal_layer(points: np.ndarray, up: np.ndarray, candidates: np.ndarray, camera_height: float,
                      bin_width: float, seed_height: float | None, min_points: float, keep: float = 0.25,
                      cover: float = 0.5, max_thickness: float = 0.2, span: float = 0.3,
                      beyond: float = 0.1) -> np.ndarray:
    """Indices (among `candidates`) of the floor's layer (the ceiling's with `up` and the heights negated).

    Height bins of `bin_width` next to the seed's bin (the bin of `seed_height`, or else the middle of
    one of the fullest stretches below `camera_height`) join while they hold at least `keep` of the
    layer's fullest bin, spread over at least `cover` of the seed bin's footprint (furniture standing
    on the floor fills bins above it, but only over its own footprint), and lie within `max_thickness`
    times the cameras' height above the seed (a seat or a table top is higher). The layer must hold
    `min_points` points, its seed bin span `span` of the footprint of everything below the cameras
    (a bench's seat does not), and at most `beyond` of all `points` lie under it, past three bins (a
    shelf on a wall above the cameras, with the wall going on above it, is no ceiling: sam2_bedroom,
    where no ceiling is in view, had the upper half of its back wall as "ceiling"); empty if no seed
    gives such a layer."""
    heights = points @ up
    below = candidates[heights[candidates] < camera_height]
    if len(below) == 0:
        return below
    height = heights[below]
    across = np.linalg.svd(up[None], full_matrices=True)[2][1:]  # two horizontal axes
    cells = np.floor(points[below] @ across.T / (4 * bin_width)).astype(np.int64)
    room = len(np.unique(cells, axis=0))
    if seed_height is None:
        counts, edges = np.histogram(height, bins=max(1, int(np.ptp(height) / bin_width)))
        # the middle of a thick layer; "full" cut to the bins, as "same" would give 5 values for fewer bins
        smooth = np.convolve(counts, np.ones(5), mode="full")[2:2 + len(counts)]
        seeds = [float(edges[k] + edges[k + 1]) / 2 for k in np.argsort(-smooth)[:5]]
    else:
        seeds = [seed_height]
    for seed in seeds:
        bins = np.floor((height - seed) / bin_width + 0.5).astype(np.int64)
        footprint: dict[int, set] = {}
        for b, cx, cy in np.unique(np.c_[bins, cells], axis=0):
            footprint.setdefault(int(b), set()).add((int(cx), int(cy)))
        counts = dict(zip(*np.unique(bins, return_counts=True)))
        base = footprint.get(0, set())
        reach = max_thickness * (camera_height - seed) / bin_width
        low = high = 0
        while True:
            fullest = max(counts.get(b, 0) for b in range(low, high + 1))
            grown = [b for b in (low - 1, high + 1) if abs(b) <= reach and counts.get(b, 0) >= keep * fullest > 0
                     and len(footprint.get(b, set()) & base) >= cover * len(base)]
            if not grown:
                break
            best = max(grown, key=lambda b: counts[b])  # the fuller side first: the layer's peak sets `keep`
            low, high = min(low, best), max(high, best)
        inside = (bins >= low) & (bins <= high)
        bottom = seed + (low - 0.5 - 3) * bin_width
        if inside.sum() >= min_points and len(base) >= span * room and np.mean(heights < bottom) <= beyond:
            return below[inside]
    return below[:0]


def ransac_plane(points: np.ndarray, threshold: float, rng: np.random.Generator, hypotheses: int = 1000,
                 scored_points: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """The plane (n, d) with the most `points` within `threshold`, and those inliers' indices.

    Planes through random point triples are scored on a fixed random subset of the points; the
    winner is refitted to its inliers by least squares."""
    sample = points if len(points) <= scored_points else points[rng.choice(len(points), scored_points,
                                                                               replace=False)]
    triples = points[rng.integers(0, len(points), (hypotheses, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    normals = normals / np.maximum(lengths, 1e-12)[:, None]
    offsets = -np.einsum("hk,hk->h", normals, triples[:, 0])
    counts = np.zeros(hypotheses, np.int64)
    for start in range(0, hypotheses, 200):
        chunk = slice(start, start + 200)
        counts[chunk] = (np.abs(sample @ normals[chunk].T + offsets[chunk]) < threshold).sum(0)
    counts[lengths < 1e-12] = -1  # degenerate (collinear) triples
    best = int(counts.argmax())
    inliers = np.flatnonzero(np.abs(points @ normals[best] + offsets[best]) < threshold)
    normal, offset = fit_plane(points[inliers])
    refitted = np.flatnonzero(np.abs(points @ normal + offset) < threshold)
    if len(refitted) >= len(inliers):
        inliers = refitted
    else:
        normal, offset = normals[best], float(offsets[best])
    return np.append(normal, offset), inliers


def vertical_ransac_plane(points: np.ndarray, threshold: float, up: np.ndarray, rng: np.random.Generator,
                          hypotheses: int = 500, scored_points: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """The vertical plane (containing `up`) with the most `points` within `threshold`: its unit normal
    and the inliers' indices. Hypotheses through random point pairs, refitted as a line across the floor."""
    across = np.linalg.svd(up[None], full_matrices=True)[2][1:]  # two horizontal axes
    flat = points @ across.T
    sample = flat if len(flat) <= scored_points else flat[rng.choice(len(flat), scored_points, replace=False)]
    pairs = flat[rng.integers(0, len(flat), (hypotheses, 2))]
    direction = pairs[:, 1] - pairs[:, 0]
    lengths = np.linalg.norm(direction, axis=1)
    normals = np.c_[-direction[:, 1], direction[:, 0]] / np.maximum(lengths, 1e-12)[:, None]
    offsets = -np.einsum("hk,hk->h", normals, pairs[:, 0])
    counts = (np.abs(sample @ normals.T + offsets) < threshold).sum(0)
    counts[lengths < 1e-12] = -1
    best = int(counts.argmax())
    normal, offset = normals[best], offsets[best]
    inliers = np.flatnonzero(np.abs(flat @ normal + offset) < threshold)
    centre = flat[inliers].mean(0)
    refitted = np.linalg.svd(flat[inliers] - centre, full_matrices=False)[2][1]
    again = np.flatnonzero(np.abs((flat - centre) @ refitted) < threshold)
    if len(again) >= len(inliers):
        normal, inliers = refitted, again
    return normal @ across, inliers


def level_planes_along(points: np.ndarray, threshold: float, normals: list[np.ndarray]
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each unit normal of `normals`, the plane across it with the most `points` within `threshold`:
    (normal, inliers' indices) each, the fullest first."""
    planes = []
    for normal in normals:
        along = np.sort(points @ normal)
        counts = np.searchsorted(along, along + threshold) - np.searchsorted(along, along - threshold)
        offset = float(along[int(counts.argmax())])
        planes.append((normal, np.flatnonzero(np.abs(points @ normal - offset) < threshold)))
    return sorted(planes, key=lambda plane: -len(plane[1]))


def _square_to_the_walls(structure: list, names: list[str], up: np.ndarray) -> list[np.ndarray]:
    """Unit horizontal normals of the walls in `structure` ((label, normal, offset) each) and the normals
    at right angles to them: where the room's other walls can stand."""
    square = []
    for wall_label, normal, _ in structure:
        if names[wall_label].startswith("wall_"):
            level = normal - (normal @ up) * up
            level /= max(float(np.linalg.norm(level)), 1e-12)
            square += [level, np.cross(up, level)]
    return square


def _join_wall_slices(points: np.ndarray, walls: list[np.ndarray], room_height: float) -> list[np.ndarray]:
    """`walls` (inlier indices of each wall plane, largest first) with the slices of one wall joined: a
    wall whose Gaussians lie in a layer thicker than the plane band is found as two planes a few degrees
    and centimetres apart, and which slice comes first (with which pictures) depends on RANSAC's draw.
    A slice joins an earlier wall when their normals are within `SLICE_ANGLE` and its Gaussians lie
    within `SLICE_GAP` room heights of that wall's plane, or the wall's of its (median; a slanted slice is
    near one way, not the other); a bookcase's front stands further out both ways."""
    joined: list[np.ndarray] = []
    for idx in walls:
        normal, own_offset = fit_plane(points[idx])
        for k, wall in enumerate(joined):
            wall_normal, offset = fit_plane(points[wall])
            gap = min(np.median(np.abs(points[idx] @ wall_normal + offset)),
                      np.median(np.abs(points[wall] @ normal + own_offset)))
            if abs(float(normal @ wall_normal)) > np.cos(np.radians(SLICE_ANGLE)) and gap < SLICE_GAP * room_height:
                joined[k] = np.union1d(wall, idx)
                break
        else:
            joined.append(idx)
    return joined


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane n·x + d = 0 through `points`."""
    centre = points.mean(0)
    normal = np.linalg.svd(points - centre, full_matrices=False)[2][2]
    return normal, float(-normal @ centre)


def _bounds_the_scene(points: np.ndarray, plane_points: np.ndarray, normal: np.ndarray, centres: np.ndarray,
                      threshold: float) -> bool:
    """A wall has (nearly) the whole scene and the cameras on one side; a few floaters behind it are
    tolerated (reconstructions put some Gaussians beyond surfaces)."""
    origin = plane_points.mean(0)
    side = np.sign(np.median((centres - origin) @ normal))
    return float(np.mean(((points - origin) @ normal) * side > -3 * threshold)) > 0.9


def _behind_walls_to_walls(points: np.ndarray, idx: np.ndarray, walls: list[np.ndarray], centres: np.ndarray,
                           threshold: float, label: np.ndarray) -> np.ndarray:
    """A wall seen at grazing angles trains into a slab whose far part lies behind its fitted plane, and
    DBSCAN joined those Gaussians to the furniture near the wall (the demo's plant and bookcase came out
    2.3 and 2.9 m wide and took the style's shelf and lamp). What lies more than the band behind a wall
    that bounds the scene, away from the cameras, is no furniture of the room: it joins the nearest wall
    it lies behind. Returns the indices of `idx` left."""
    if not walls or not len(idx):
        return idx
    behind = np.full((len(idx), len(walls)), np.inf)
    for k, inliers in enumerate(walls):
        normal, offset = _oriented_plane(points[inliers], centres)
        depth = -(points[idx] @ normal + offset)  # how far behind the wall, seen from the cameras
        behind[:, k] = np.where(depth > threshold, depth, np.inf)
    nearest = behind.argmin(1)
    beyond = np.isfinite(behind[np.arange(len(idx)), nearest])
    if beyond.any():
        label[idx[beyond]] = label[np.array([walls[k][0] for k in nearest[beyond]])]
    return idx[~beyond]


def _beyond_floor_and_ceiling_to_them(height: np.ndarray, idx: np.ndarray,
                                      layers: list[tuple[np.ndarray, float, float]], threshold: float,
                                      label: np.ndarray) -> np.ndarray:
    """What lies more than the band below the floor layer's level or above the ceiling's (Gaussians a
    short training left beyond them) is no furniture of the room: it joins that layer. DBSCAN had made
    objects of them, 0.05-0.25 room heights below the demo's floor or above its ceiling, and the
    objects' pairing by shape gave them a table's or a painting's colours where they showed at the
    room's edges. `layers`: (indices, level, -1 below it or +1 above it) of the floor and the ceiling
    (an empty layer, not found, takes nothing). Returns the indices of `idx` left."""
    for layer, level, sign in layers:
        if not len(layer) or not len(idx):
            continue
        beyond = sign * (height[idx] - level) > threshold
        label[idx[beyond]] = label[layer[0]]
        idx = idx[~beyond]
    return idx


def _oriented_plane(points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, float]:
    """The least-squares plane of a wall's `points`, its normal towards the cameras (`centres`)."""
    normal, offset = fit_plane(points)
    if np.median(centres @ normal + offset) < 0:
        normal, offset = -normal, -offset
    return normal, offset


def _coloured_like_the_wall(points: np.ndarray, lab: np.ndarray, candidates: np.ndarray, wall: np.ndarray,
                            normal: np.ndarray, offset: float) -> np.ndarray:
    """Which `candidates` (indices) are coloured like the wall right behind them: within `WALL_COLOUR` of
    the median CIELAB colour of the `WALL_NEIGHBOURS` Gaussians of `wall` (indices, on its plane) nearest to
    where each candidate meets the plane."""
    from scipy.spatial import cKDTree

    def on_plane(idx: np.ndarray) -> np.ndarray:
        return points[idx] - np.outer(points[idx] @ normal + offset, normal)

    _, nearest = cKDTree(on_plane(wall)).query(on_plane(candidates), k=min(WALL_NEIGHBOURS, len(wall)))
    wall_colour = np.median(lab[wall][nearest.reshape(len(candidates), -1)], axis=1)
    return np.linalg.norm(lab[candidates] - wall_colour, axis=1) < WALL_COLOUR


def _wall_fronts_unlike_the_wall(points: np.ndarray, lab: np.ndarray, walls: list[np.ndarray], centres: np.ndarray,
                                 threshold: float) -> tuple[list[np.ndarray], np.ndarray]:
    """A wall trains into a slab, and its joined slices reach into what stands against it (the demo's
    books, recessed in their bookcase within the north wall's slab, came out wall and took the wallpaper).
    Of each wall's Gaussians more than the plane band in front of its plane, those not coloured like the
    wall behind them are released: (the walls without them, the released indices)."""
    kept, released = [], []
    for idx in walls:
        normal, offset = _oriented_plane(points[idx], centres)
        ahead = points[idx] @ normal + offset
        front, core = np.flatnonzero(ahead > threshold), idx[np.abs(ahead) <= threshold]
        if len(front) == 0 or len(core) < WALL_NEIGHBOURS:
            kept.append(idx)
            continue
        unlike = front[~_coloured_like_the_wall(points, lab, idx[front], core, normal, offset)]
        kept.append(np.delete(idx, unlike))
        released.append(idx[unlike])
    return kept, np.concatenate(released) if released else np.zeros(0, np.int64)


def _wall_slab(points: np.ndarray, lab: np.ndarray | None, idx: np.ndarray, walls: list[np.ndarray],
               centres: np.ndarray, threshold: float, depth: float, label: np.ndarray) -> np.ndarray:
    """Which of `idx` are the slab of one of `walls` (inlier indices) and join it, in place in `label`: what
    lies behind a wall (`_behind_walls_to_walls`) and, given the colours `lab`, what lies up to `depth` in
    front of it coloured like it (`_wall_coloured_slab_to_walls`). Returns the indices of `idx` left."""
    idx = _behind_walls_to_walls(points, idx, walls, centres, threshold, label)
    if lab is None:
        return idx
    return _wall_coloured_slab_to_walls(points, lab, idx, walls, centres, threshold, depth, label)


def _wall_coloured_slab_to_walls(points: np.ndarray, lab: np.ndarray, idx: np.ndarray, walls: list[np.ndarray],
                                 centres: np.ndarray, threshold: float, band: float, label: np.ndarray) -> np.ndarray:
    """The near side of a wall's slab: Gaussians within `band` in front of a wall's plane and coloured like
    the wall there join it (in place in `label`). Left out, a wall seen at grazing angles (the demo's west
    wall) fell apart into objects, and its wall-coloured specks joined the plant in its corner, which came
    out 1.9 m high and 1.4 m wide. A plain wall seen head-on trains its floaters further out (`WALL_SLAB`:
    the office sample's north wall had a sheet of them 10-60 cm in front, made an object that took the
    style's whiteboard over a fifth of the wall). Returns the indices of `idx` left."""
    joined = np.zeros(len(idx), bool)
    for inliers in walls:
        normal, offset = _oriented_plane(points[inliers], centres)
        ahead = points[idx] @ normal + offset
        near = np.flatnonzero(~joined & (ahead >= 0) & (ahead < band))
        core = inliers[np.abs(points[inliers] @ normal + offset) <= threshold]
        if len(near) == 0 or len(core) < WALL_NEIGHBOURS:
            continue
        like = near[_coloured_like_the_wall(points, lab, idx[near], core, normal, offset)]
        label[idx[like]] = label[inliers[0]]
        joined[like] = True
    return idx[~joined]


def _wall_within(points, lab, idx, up, centres, threshold, room_height, rng, label, names, structure,
                 layers: dict[int, np.ndarray], ceiling_height: float) -> np.ndarray:
    """A wall seen from few cameras comes out of training as a thick, noisy slab that no plane of the
    scene-wide search holds enough of, and DBSCAN makes it an object as tall as the room (often with the
    furniture against it). If a vertical plane bounding the scene holds at least 30% of such a cluster
    within a looser band (3×) and reaches up near the ceiling (`WALL_TOP_GAP`), that part is labelled a
    new wall. The plane is searched among vertical ones only: in a slab that thick the fullest free plane
    is a slant through the wall and the floor beside it; and where walls are known, among those square to
    them: the fullest free plane through a wall and the bookcase beside it is a slant through the corner.
    A plane whose inliers centre on a known wall (`structure`: (label, normal, offset) of each
    structural plane) and turned less than 45° from it is that wall seen through what stands against it
    (the demo's plant in a corner gave a plane cutting through plant and wall): the wall takes what lies
    within the loose band of its own plane. A new wall takes its slab as the scene-wide ones do
    (`_wall_slab`; it is added to `layers`): left in the object, the grazing east wall's slab behind and in
    front of the plane made a wall-coloured "shelf" 2 m high that took the style's shelf. Returns the indices
    left to the object."""
    if len(idx) < 200 or np.ptp(np.percentile(points[idx] @ up, [2, 98])) < 0.6 * room_height:
        return idx
    planes = [vertical_ransac_plane(points[idx], 3 * threshold, up, rng)]
    square = _square_to_the_walls(structure, names, up)
    if square and max(abs(float(planes[0][0] @ d)) for d in square) < np.cos(np.radians(SLICE_ANGLE)):
        # walls meet at right angles: a slant is a cut through a corner (the fresh living room's east wall
        # and the bookcase standing out from the north wall beside it: the bookcase went to the wall). The
        # fullest square plane may be the bookcase's front, which does not bound the scene: the next may.
        planes = level_planes_along(points[idx], 3 * threshold, square)
    for normal, inliers in planes:
        # a wall reaches the ceiling; a bookcase's front, as wide and parallel to the wall behind it, does not
        reaches = np.percentile(points[idx[inliers]] @ up, 98) > ceiling_height - WALL_TOP_GAP * room_height
        if len(inliers) >= 0.3 * len(idx) and reaches and _bounds_the_scene(points, points[idx[inliers]], normal,
                                                                            centres, threshold):
            break
    else:
        return idx
    centre = points[idx[inliers]].mean(0)
    for wall_label, wall_normal, offset in structure:
        if (names[wall_label].startswith("wall_") and abs(float(normal @ wall_normal)) > np.cos(np.radians(45))
                and abs(float(centre @ wall_normal + offset)) < 3 * threshold):
            near = np.abs(points[idx] @ wall_normal + offset) < 3 * threshold
            label[idx[near]] = wall_label
            return idx[~near]
    wall = idx[inliers]
    wall_label = _add(names, f"wall_{sum(n.startswith('wall_') for n in names)}")
    label[wall], layers[wall_label] = wall_label, wall
    return _wall_slab(points, lab, np.setdiff1d(idx, wall), [wall], centres, threshold, WALL_SLAB * room_height, label)


def _seen_like_the_wall_to_walls(points: np.ndarray, label: np.ndarray, names: list[str],
                                 seen: tuple[np.ndarray, np.ndarray], centres: np.ndarray, up: np.ndarray,
                                 threshold: float, reach: float, framed: set[int],
                                 own: np.ndarray | None = None) -> None:
    """Objects and pictures within `reach` of a wall's plane that the cameras see coloured like the wall
    around them (`SEEN_LIKE_THE_WALL` of their Gaussians within `WALL_COLOUR`) are the wall's, in place in
    `label`; not a picture with a frame (`framed` labels: a whiteboard on a pale wall is seen much like
    it). A wall seen only at grazing angles (the demo's west wall) trains into a mist whose
    Gaussians' own colours are far from the wall's though together they render it: clustered, the mist was
    named "shelf", took the style bookcase's books and showed as dark blotches all over the restyled wall;
    another patch of it became a third "picture". `seen`: surface points (`seen_surface`) and their CIELAB
    colours. Each Gaussian's seen colour is that of the surface points around it; the wall's
    there is that of the surface points nearest the wall's own Gaussians, across its plane. Of a region
    that stays, the part above or below the rest that the cameras see as the wall joins it
    (`_seen_like_the_wall_around`: the mist on the demo's plant). Given the Gaussians' `own` CIELAB
    colours, so does the part that floats before the wall as the cameras look at it
    (`_floating_before_the_wall`)."""
    from scipy.spatial import cKDTree

    seen_points, seen_lab = seen
    distance, nearest = cKDTree(points).query(seen_points, distance_upper_bound=threshold)
    seen_label = np.where(np.isfinite(distance), label[np.minimum(nearest, len(points) - 1)], -1)
    seen_tree = cKDTree(seen_points)

    def median_colour(tree, colours: np.ndarray, where: np.ndarray, k: int, radius: float) -> np.ndarray:
        gap, index = tree.query(where, k=min(k, tree.n), distance_upper_bound=radius)
        gathered = np.where(np.isfinite(gap)[..., None], colours[np.minimum(index, len(colours) - 1)], np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no surface point near: NaN, left out below
            return np.nanmedian(gathered.reshape(len(where), -1, 3), axis=1)

    seen_colours = np.full((len(points), 3), np.nan)  # each Gaussian's seen colour, found once when first asked
    asked = np.zeros(len(points), bool)

    def seen_colour(members: np.ndarray) -> np.ndarray:
        new = members[~asked[members]]
        if len(new):
            seen_colours[new] = median_colour(seen_tree, seen_lab, points[new], 8, 2 * threshold)
            asked[new] = True
        return seen_colours[members]

    walls = [i for i, name in enumerate(names) if name.startswith("wall_") and (seen_label == i).sum() >= 50]
    planes = {i: _oriented_plane(points[label == i], centres) for i in walls}
    across_walls: dict[int, tuple] = {}  # each wall's seen points on its plane (a tree) and their colours

    def across_wall(wall: int) -> tuple:
        if wall not in across_walls:
            normal, offset = planes[wall]
            on_wall = seen_points[seen_label == wall]
            across_walls[wall] = (cKDTree(on_wall - np.outer(on_wall @ normal + offset, normal)),
                                  seen_lab[seen_label == wall])
        return across_walls[wall]
    for region in [i for i, name in enumerate(names) if role(name) == "object" and i not in framed]:
        members = np.flatnonzero(label == region)
        if len(members) == 0 or not walls:
            continue
        gaps = {i: float(np.median(np.abs(points[members] @ n + d))) for i, (n, d) in planes.items()}
        wall = min(gaps, key=gaps.get)
        if gaps[wall] > reach:
            continue
        normal, offset = planes[wall]
        here = seen_colour(members)
        across = points[members] - np.outer(points[members] @ normal + offset, normal)
        wall_there = median_colour(*across_wall(wall), across, 32, 10 * threshold)
        difference = np.linalg.norm(here - wall_there, axis=1)
        known = np.isfinite(difference)
        share = float((difference[known] < WALL_COLOUR).mean()) if known.any() else 0.0
        part = np.ones(len(members), bool) if share >= SEEN_LIKE_THE_WALL else _seen_like_the_wall_around(
            points[members], np.where(known, difference, np.inf) < WALL_COLOUR, up)
        log.debug("scene regions: %s (%d Gaussians), %.2f of the reach before %s, %.0f%% seen as it: %d joined to it",
                  names[region], len(members), gaps[wall] / reach, names[wall], 100 * share, part.sum())
        label[members[part]] = wall
    if own is None:
        return
    viewer = centres.mean(0)
    for region in [i for i, name in enumerate(names) if role(name) == "object" and i not in framed]:
        for wall in walls:
            members = np.flatnonzero(label == region)
            if len(members) <= 2 * SEEN_NEIGHBOURS:
                break
            normal, offset = planes[wall]
            ahead = points[members] @ normal + offset
            near = (ahead >= 0) & (ahead < reach)
            if not near.any():
                continue
            behind = _behind_along_the_ray(points[members], viewer, normal, offset)
            wall_there = median_colour(*across_wall(wall), behind, 32, 10 * threshold)
            seen_here = seen_colour(members)
            with np.errstate(invalid="ignore"):
                like = (near & (np.linalg.norm(seen_here - wall_there, axis=1) < WALL_COLOUR)
                        & (np.linalg.norm(own[members] - wall_there, axis=1) < WALL_COLOUR))
            part = _floating_before_the_wall(points[members], like)
            if part.any():
                log.debug("scene regions: %d of %s float before %s as the cameras see it: joined to it",
                          part.sum(), names[region], names[wall])
                label[members[part]] = wall


def _behind_along_the_ray(points: np.ndarray, viewer: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Where the ray from `viewer` through each point meets the plane (`normal`, `offset`), in the plane; the
    point's own foot on the plane where the ray runs along it."""
    rays = points - viewer
    along = rays @ normal
    scale = -(viewer @ normal + offset) / np.where(np.abs(along) > 1e-9, along, np.nan)
    hits = np.where(np.isfinite(scale)[:, None], viewer + rays * np.nan_to_num(scale)[:, None], points)
    return hits - np.outer(hits @ normal + offset, normal)


def _floating_before_the_wall(points: np.ndarray, like: np.ndarray) -> np.ndarray:
    """[n] bool: which of a region's Gaussians (centres `points` [n,3]) are floaters before a wall: coloured
    and seen `like` the wall behind them along the cameras' view, among `SEEN_NEIGHBOURS` fellows of which
    `SEEN_LIKE_THE_WALL` are too. The office's right desk held 410 Gaussians before the east wall, beside the
    desk and as far from the wall as its near face, that render the pale-blue wall: the desk's red took them
    as a haze. Straight across the plane from them the wall is seen cream (the corner), so the whole-region
    test above, which looks there, could not tell. A plant seen against the wall at its outline is no such
    floater (its own colour is its leaves'), nor are a bookcase's wall-coloured boards (too few among its
    books)."""
    from scipy.spatial import cKDTree

    if not like.any() or (~like).sum() <= SEEN_NEIGHBOURS:
        return np.zeros(len(points), bool)
    _, around = cKDTree(points).query(points, k=SEEN_NEIGHBOURS + 1)
    return like & (like[around].mean(1) >= SEEN_LIKE_THE_WALL)


def _seen_like_the_wall_around(points: np.ndarray, like: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[n] bool: which of a region's Gaussians (centres `points` [n,3]) seen `like` the wall lie among
    `SEEN_NEIGHBOURS` fellows of which `SEEN_LIKE_THE_WALL` are too, and above or below (along `up`) the 5th
    to 95th percentile heights of the rest: a part of the region the cameras see as the wall. The demo's
    plant had a strip of the west wall's mist on top, 1.3-2.1 m up and all of it seen as the wall (11% of
    the cluster): it measured 2 m tall and took the style's bookcase. The plant's own outline, seen against
    the wall here and there (10-20% of it), is not such a part."""
    from scipy.spatial import cKDTree

    if not like.any() or len(points) <= SEEN_NEIGHBOURS:
        return np.zeros(len(points), bool)
    _, around = cKDTree(points).query(points, k=SEEN_NEIGHBOURS + 1)
    part = like & (like[around].mean(1) >= SEEN_LIKE_THE_WALL)
    if (~part).sum() <= SEEN_NEIGHBOURS:
        return part
    # only above or below the rest of the region (a plant's top): the wall-coloured boards of a bookcase
    # standing against the wall are seen much like the wall too, within the bookcase's height
    heights = points @ up
    lo, hi = np.percentile(heights[~part], [5, 95])
    return part & ((heights < lo) | (heights > hi))


def _without_empty(label: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """`label` and `names` without the names no Gaussian has any more (-1 stays unlabelled)."""
    used = [i for i in range(len(names)) if (label == i).any()]
    if len(used) == len(names):
        return label, names
    renumber = np.full(len(names) + 1, -1)
    renumber[used] = np.arange(len(used))
    return renumber[label], [names[i] for i in used]


def _split_bridged(points: np.ndarray, idx: np.ndarray, eps: float, up: np.ndarray, large: int,
                   min_share: float = 0.1) -> list[np.ndarray]:
    """A cluster split into the objects a few stray Gaussians bridged (a table in front of a sofa): at
    half the neighbourhood radius the bridge falls apart into noise. A denser bridge, where a short
    training left the gap between two pieces of furniture misty, falls apart at four fifths of that; split there
    only into parts of at least `large` Gaussians each (a lamp's shade and stem fall apart there too).
    Only parts holding `min_share` of the cluster count (crumbs falling off a thin object make no
    objects); the rest joins the nearest part. Parts standing one on the other (`_stacked`: a plant's
    leaves over its pot) stay one object."""
    import open3d as o3d
    from scipy.spatial import cKDTree

    if len(idx) < 500:
        return [idx]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[idx]))
    for radius, least in ((eps / 2, min_share * len(idx)), (0.4 * eps, max(min_share * len(idx), large))):
        clusters = np.asarray(cloud.cluster_dbscan(eps=radius, min_points=8))
        sizes = np.bincount(clusters[clusters >= 0]) if (clusters >= 0).any() else np.zeros(0, np.int64)
        parts = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] >= least]
        if len(parts) >= 2:
            break
    else:
        return [idx]
    kept = np.isin(clusters, parts)
    _, nearest = cKDTree(points[idx[kept]]).query(points[idx[~kept]])
    assigned = clusters.copy()
    assigned[~kept] = clusters[kept][nearest]
    for k, part in enumerate(parts):  # a part on top of an earlier (larger) one joins it
        below = next((other for other in parts[:k] if (assigned == other).any() and _stacked(
            points[idx[assigned == part]], points[idx[assigned == other]], up)), None)
        if below is not None:
            assigned[assigned == part] = below
    return [idx[assigned == c] for c in parts if (assigned == c).any()]


def _stacked(first: np.ndarray, second: np.ndarray, up: np.ndarray) -> bool:
    """Whether one of two parts (points [N,3]) stands on the other, centred on it: it lies above the
    other's middle height, and their middles across gravity are within half the wider one's reach (its
    90th-percentile distance from its middle). A plant's leaves over its pot are; a wall's slab behind
    and above a plant is not, nor a table beside a sofa."""
    heights = (first @ up, second @ up)
    if np.percentile(heights[0], 10) < np.median(heights[1]) and np.percentile(heights[1], 10) < np.median(heights[0]):
        return False
    flat = [part - np.outer(h, up) for part, h in zip((first, second), heights)]
    centres = [np.median(f, axis=0) for f in flat]
    reach = max(float(np.percentile(np.linalg.norm(f - c, axis=1), 90)) for f, c in zip(flat, centres))
    return float(np.linalg.norm(centres[0] - centres[1])) <= 0.5 * reach


def _standing_on_top(points: np.ndarray, idx: np.ndarray, up: np.ndarray, room_height: float, eps: float,
                     min_points: int) -> list[np.ndarray]:
    """An object and what stands on its top surface (a monitor on a desk, a lamp on a side table), each
    its own: a style pairs them with different things (its monitor, its desk). The top is the object's
    fullest level layer (`TOP_LAYER` bins) when it spans most of the object's length. What lies
    `ON_TOP_GAP` above it falls into DBSCAN clusters at twice `eps`, each without what forms no part of
    `min_points` at `eps` itself (a sparse streak of floaters touching a monitor); one of `min_points` is a
    thing of its own when it rests on the top (starts within two gaps of it), spans at most `ON_TOP_WIDTH`
    of the top's length and lies within the top's ends and sides; what lies over the top right under it is
    its foot. A plant's leaves are as
    wide as the layer under them, a sofa's back spans its seat and its arms reach beyond it: they stay
    with the object. Returns the object (what is left of it) first."""
    import open3d as o3d
    from scipy.spatial import cKDTree

    if len(idx) < 4 * min_points:
        return [idx]
    heights = points[idx] @ up
    bins = np.arange(heights.min(), heights.max() + TOP_LAYER * room_height, TOP_LAYER * room_height)
    if len(bins) < 3:
        return [idx]
    counts, _ = np.histogram(heights, bins)
    fullest = int(np.argmax(counts))
    layer_top = bins[fullest + 1]
    flat = points[idx] - np.outer(heights, up)
    along = _longest_direction(flat)
    across = np.cross(up, along)
    layer = (heights >= bins[fullest]) & (heights < layer_top)
    ends = np.percentile(flat[layer] @ along, [2, 98])
    length = float(ends[1] - ends[0])
    if length < 0.5 * np.ptp(np.percentile(flat @ along, [2, 98])):
        return [idx]  # the fullest layer is no top (a slice of a plant's leaves)
    sides = np.percentile(flat[layer] @ across, [2, 98])
    above = np.flatnonzero(heights > layer_top + ON_TOP_GAP * room_height)
    if len(above) < min_points:
        return [idx]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[idx[above]]))
    fine = np.asarray(cloud.cluster_dbscan(eps=eps, min_points=8))
    # a thing is a cluster at twice the radius (a sparse monitor falls into pieces at the radius itself)
    # without its crumbs: what forms no part of `min_points` at the radius (a streak of floaters touching it)
    sizes = np.bincount(fine[fine >= 0], minlength=1)
    solid = (fine >= 0) & (sizes[fine.clip(0)] >= min_points)
    wide = np.asarray(cloud.cluster_dbscan(eps=2 * eps, min_points=8))
    parts = [above[solid & (wide == c)] for c in range(int(wide.max()) + 1 if len(wide) else 0)]
    things = []
    for part in sorted(parts, key=lambda p: (-len(p), p[0] if len(p) else 0)):  # DBSCAN numbers by its threads
        if len(part) < min_points:
            continue
        span = np.percentile(flat[part] @ along, [5, 95])
        middle = float(np.median(flat[part] @ across))
        if (np.percentile(heights[part], 5) <= layer_top + 2 * ON_TOP_GAP * room_height
                and span[1] - span[0] <= ON_TOP_WIDTH * length
                and ends[0] <= span[0] and span[1] <= ends[1]
                and sides[0] <= middle <= sides[1]):
            things.append(part)
    if not things:
        return [idx]
    # each thing reaches down to the top: what lies over the layer right under it is its foot
    over = np.flatnonzero(heights >= layer_top)
    owner = np.full(len(idx), -1)
    for k, part in enumerate(things):
        distance, _ = cKDTree(flat[part]).query(flat[over], distance_upper_bound=eps)
        owner[over[np.isfinite(distance) & (owner[over] < 0)]] = k
    things = [np.flatnonzero(owner == k) for k in range(len(things))]
    taken = np.concatenate(things)
    return [np.delete(idx, taken)] + [idx[part] for part in things]


def _longest_direction(flat: np.ndarray) -> np.ndarray:
    """The unit direction of the largest spread of level-projected points [N,3]."""
    centred = flat - flat.mean(0)
    return np.linalg.svd(centred[:: max(1, len(centred) // 5000)], full_matrices=False)[2][0]


def _add(names: list[str], name: str) -> int:
    if name in names:
        return names.index(name)
    names.append(name)
    return len(names) - 1


def _object_shape(points: np.ndarray, up: np.ndarray, floor_height: float, room_height: float
                  ) -> tuple[float, float, float]:
    """An object cluster's (bottom, top, width) in room heights: its low and high height percentiles above the
    floor and the longest side of its footprint."""
    heights = points @ up
    top = (np.percentile(heights, 98) - floor_height) / room_height
    bottom = (np.percentile(heights, 2) - floor_height) / room_height
    footprint = np.ptp(points - np.outer(heights, up), axis=0)
    return float(bottom), float(top), float(np.sort(footprint)[-1]) / room_height


def _object_names(shapes: list[tuple[float, float, float]]) -> list[str]:
    """Names for the object clusters of `shapes` ((bottom, top, width) in room heights, the largest first):
    "shelf" for the tall one with the largest front (width times height: a floor lamp is as tall as a
    bookcase but narrow, and the fresh living room's lamp, the larger cluster, was named shelf first),
    "sofa" for the low wide one with the largest front (a coffee table a short training left bridged to
    the sofa, split from it, can be as wide and nearly as high, and came first as the larger; a lower
    piece of the bookcase, 1 cm higher than the sofa's back, took the name when the highest back won),
    "table" for the first other whose top is under 0.4 room heights, "object_k" for the rest in order."""
    def is_shelf(bottom, top, width):
        return bottom < 0.15 and top > 0.55 and width < 1.5

    def is_sofa(bottom, top, width):
        return bottom < 0.15 and 0.2 < top <= 0.45 and width > 0.5

    def front(k: int) -> tuple[float, int]:
        return shapes[k][1] * shapes[k][2], -k

    names: list[str | None] = [None] * len(shapes)
    shelves = [k for k, shape in enumerate(shapes) if is_shelf(*shape)]
    if shelves:
        names[max(shelves, key=front)] = "shelf"
    sofas = [k for k, shape in enumerate(shapes) if is_sofa(*shape)]
    if sofas:
        names[max(sofas, key=front)] = "sofa"
    tables = [k for k, (_, top, _) in enumerate(shapes) if names[k] is None and 0.12 < top <= 0.4]
    if tables:
        names[tables[0]] = "table"
    count = iter(range(len(shapes)))
    return [name if name is not None else f"object_{next(count)}" for name in names]


@torch.no_grad()
def seen_surface(params: dict, viewmats: np.ndarray, Ks: np.ndarray, width: int, height: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(surface points [M,3], their RGB [M,3]): every opaque pixel of the model rendered from each camera,
    placed at its rendered depth: the model as it is seen, where its Gaussians' own colours are noisy."""
    views = render_views(params, torch.as_tensor(viewmats).float(), torch.as_tensor(Ks).float(), width, height)
    xs, ys = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    pixels = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(-1, 3)
    points, colours = [], []
    for k in range(len(viewmats)):
        opaque = views["alpha"][k].numpy().ravel() > 0.9
        in_camera = (pixels[opaque] @ np.linalg.inv(Ks[k]).T) * views["depth"][k].numpy().ravel()[opaque, None]
        rotation, translation = viewmats[k][:3, :3], viewmats[k][:3, 3]
        points.append((in_camera - translation) @ rotation)
        colours.append(views["rgb"][k].numpy().reshape(-1, 3)[opaque])
    return np.concatenate(points), np.concatenate(colours)


def render_labels(params: dict, labels: np.ndarray, n_labels: int, viewmats, Ks, width: int, height: int
                  ) -> np.ndarray:
    """Per-pixel label [V,H,W] (argmax of rendered one-hot label weights; -1 where nothing is drawn)."""
    onehot = torch.nn.functional.one_hot(torch.as_tensor(labels), n_labels).float()
    out = []
    for i in range(len(viewmats)):
        weights, alphas, _ = rasterization(params["means"], params["quats"], torch.exp(params["scales"]),
                                       torch.sigmoid(params["opacities"]), onehot,
                                       torch.as_tensor(viewmats[i:i + 1]).float(),
                                       torch.as_tensor(Ks[i:i + 1]).float(), width, height)
        label = weights[0].argmax(-1).numpy()
        label[alphas[0, ..., 0].numpy() < 0.5] = -1
        out.append(label)
    return np.stack(out)
