"""Object shapes in metres, so a scene's objects are matched to the style's objects by what they are
like (a low wide table, a tall narrow lamp, a picture hanging at eye height), not by their size rank.

An `ObjectShape` is an object's bottom and top height above the floor and its width across. The scene's
come from its Gaussians (`scene_object_shapes`: heights along gravity, at the scale `texture.scene_scale`
found). The style photo's come from its geometry (`materials.style_geometry`: focal, floor and wall
planes, the photographer `CAMERA_HEIGHT` above the floor): one with floor all around and no wall just
behind its top lies on the floor (a rug); one resting on another object (that object's pixels under its
lowest ones in most of its columns, and its top going on behind it: a monitor on a desk, not a bookcase
behind a sofa) is placed on that object's plane; one standing on the floor is placed where its lowest
pixels meet the floor and taken as facing the camera there; one that does not touch the floor is placed on
the wall around it, when that wall's plane is known, and hangs there (`hangs`) when wall lies under its
foot and it is `HANGS_ABOVE` up; any other has no shape. An object of several parts (the style's three
pictures under one label) is measured on its largest, and counts its parts of a like size (`copies`: the
office exemplar's two desks are two partners to hand out). An object is `flat` (a screen, a picture) when
the scene's Gaussians lie in a thin upright slab, or the style's largest part is a rectangle in perspective.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .correspond import role
from .materials import CAMERA_HEIGHT, StyleGeometry, rays_of
from .paintings import is_rectangle
from .regions import fit_plane
from .style_regions import StyleRegions

MIN_CONTACT = 5  # pixels of an object just above the floor for it to stand there
ASSUMED_ROOM = 2.7  # metres from floor to ceiling when no ceiling was found
ROOM_MARGIN = 0.5  # metres an object may reach above the ceiling (stray Gaussians) and still be measured
HANGS_ABOVE = 0.3  # metres above the floor the bottom of an object hanging on a wall is
ON_THE_WALL = 0.15  # metres from a wall's plane the median Gaussian of a scene object hanging on it lies within
BEHIND_THE_FOOT = 0.1  # of an object's height in pixels: how far above its foot what it rests on goes on beside it
# a scene object's depth across its face, of the face's shorter side, for it to be flat (10th-90th percentiles:
# the office's monitors measure 0.22 and 0.32, its desks and boxes 1.0-1.3; a trained picture's Gaussians
# spread through its wall's slab, 0.25-0.75)
FLAT_DEPTH = 0.4


@dataclass(frozen=True)
class ObjectShape:
    bottom: float  # metres above the floor
    top: float
    width: float  # metres across, the longest horizontal extent
    copies: int = 1  # separate parts of this size under one label (the style's two desks are one "desk")
    hangs: bool = False  # flat on a wall, `HANGS_ABOVE` up (a style object: on the wall around it, wall under
    # its foot; a scene object: its Gaussians `ON_THE_WALL` of a wall's plane)
    flat: bool = False  # an upright flat thing, a screen or a picture (a scene object: `FLAT_DEPTH`; a style
    # object: its largest part a rectangle in perspective, `paintings.is_rectangle`)

    def can_take(self, other: "ObjectShape") -> bool:
        """Whether this scene object may take the look of style object `other`: what hangs flat on a wall
        (a painting) goes only onto what does (the demo's lamp shade, 1.3-1.6 m up, had taken a painting
        as the nearest shape), and a flat thing (a screen) only onto a flat thing (the office's plant on its
        desk, 0.8-1.4 m up, had taken the style's monitor as the nearest shape)."""
        return (self.hangs or not other.hangs) and (self.flat or not other.flat)

    def distance(self, other: "ObjectShape") -> float:
        """Metres apart, heights counted in full and width at half (a view shows a width foreshortened)."""
        return abs(self.bottom - other.bottom) + abs(self.top - other.top) + 0.5 * abs(self.width - other.width)

    def describe(self) -> str:
        return f"{self.bottom:.1f}-{self.top:.1f} m high, {self.width:.1f} m wide"


def scene_floor_height(points: np.ndarray, labels: np.ndarray, names: list[str], up: np.ndarray,
                       least: int = 50) -> float | None:
    """The median height along `up` of the floor region's Gaussian centres `points` [N,3] (`labels` index into
    `names`); None with fewer than `least` of them."""
    floors = np.isin(labels, [i for i, n in enumerate(names) if role(n) == "floor"])
    return float(np.median(points[floors] @ up)) if floors.sum() >= least else None


def scene_object_shapes(points: np.ndarray, labels: np.ndarray, names: list[str], up: np.ndarray,
                        metres: float, solid: np.ndarray | None = None) -> dict[str, ObjectShape]:
    """Shapes of the object regions among `names` from their Gaussians' centres `points` [N,3]
    (`labels` index into `names`), `metres` per scene unit; heights from the floor region's. With `solid`
    [N] bool, an object is measured on its solid Gaussians where it has enough: the faint ones it took as
    nearest labelled neighbour reach past it (the office's desks measured 0.2-1.0 m high with them, 0.2-0.9
    without, and only then took the style's desk at every seed rather than, at some, its plant)."""
    floor_height = scene_floor_height(points, labels, names, up)
    if floor_height is None:
        return {}
    ceilings = np.isin(labels, [i for i, n in enumerate(names) if role(n) == "ceiling"])
    room = (float(np.median(points[ceilings] @ up)) - floor_height) * metres if ceilings.sum() >= 50 else ASSUMED_ROOM
    walls = [fit_plane(points[labels == i]) for i, n in enumerate(names)
             if role(n) == "wall" and (labels == i).sum() >= 50]
    shapes = {}
    for i, name in enumerate(names):
        if role(name) != "object":
            continue
        mine = labels == i
        if solid is not None and (solid & mine).sum() >= 10:
            mine &= solid
        members = points[mine]
        if len(members) < 10:
            continue
        # 5th-95th percentiles: a region holds stray Gaussians of the wall or floor it stood against
        heights = (members @ up - floor_height) * metres
        bottom = max(0.0, float(np.percentile(heights, 5)))
        on_wall = bool(walls) and min(float(np.median(np.abs(members @ normal + offset))) for normal, offset in walls
                                      ) * metres < ON_THE_WALL
        shape = ObjectShape(bottom, max(0.0, float(np.percentile(heights, 95))), _width(members * metres, up, 5),
                            hangs=on_wall and bottom >= HANGS_ABOVE, flat=_is_flat(members, up))
        # one reaching far above the ceiling is no object of this room's scale (a floor or gravity got
        # wrong: sam2_bedroom's "objects" rose 16-43 m): it keeps to the size rule
        if shape.top <= room + ROOM_MARGIN:
            shapes[name] = shape
    return shapes


def style_object_shapes(style: StyleRegions, geometry: StyleGeometry) -> dict[str, ObjectShape]:
    """Shapes of the style's object regions that stand on its floor or hang on a wall of known plane."""
    floor_normal = geometry.floor_normal()
    if floor_normal is None:
        return {}
    masks = style.masks()
    floor = np.zeros(style.labels.shape, bool)
    walls = np.zeros(style.labels.shape, bool)
    for name, mask in masks.items():
        if role(name) == "floor":
            floor |= mask
        elif role(name) == "wall":
            walls |= mask
    below = np.zeros_like(floor)
    below[:-3] = floor[3:]
    up = -floor_normal
    shapes, planes = {}, {}
    objects = {name: mask for name, mask in masks.items() if role(name) == "object" and mask.sum() >= 50}
    lying = {name for name, mask in objects.items()  # on the floor (a rug): floor around, no wall behind
             if _share_around(mask, floor) > 0.5 and _share_above(mask, walls) < 0.5}
    supports = {name: mask for name, mask in objects.items() if name not in lying}  # a table on a rug stands
    resting = {name: _resting_on(mask, name, supports) for name, mask in objects.items()}

    def depth(name: str) -> int:  # how many objects down to the floor (a vase on a book on a table: 2)
        steps = 0
        while resting.get(name) is not None and steps < len(objects):
            name, steps = resting[name], steps + 1
        return steps

    # what rests on another object is placed on that object's plane, once that one is placed
    for name in sorted(objects, key=depth):
        mask, hangs = objects[name], False
        contact = np.argwhere(mask & below)[:, ::-1]
        rays = rays_of(np.argwhere(_largest_part(mask))[:, ::-1], geometry.K)
        if name in lying:
            normal, offset = floor_normal, CAMERA_HEIGHT
        elif resting[name] is not None:
            if resting[name] not in planes:
                continue
            normal, offset = planes[resting[name]]
        elif len(contact) >= MIN_CONTACT:
            ground = rays_of(contact, geometry.K)
            ground = ground[ground @ floor_normal > 1e-3]
            if len(ground) < MIN_CONTACT:
                continue
            ground = ground * (CAMERA_HEIGHT / (ground @ floor_normal))[:, None]
            # the object as a vertical plane facing the camera through its median contact point
            facing = np.median(ground, axis=0)
            facing = facing - (facing @ up) * up
            normal = facing / max(float(np.linalg.norm(facing)), 1e-9)
            offset = float(np.median(ground @ normal))
        else:
            plane = _wall_around(mask, masks, geometry)
            if plane is None:
                continue
            normal, offset = plane
            # placed on the wall for want of a foot seen on the floor: a bookcase behind a sofa is too, and a
            # lamp's thin foot shows wall under it; what hangs there has wall under it and hangs high
            hangs = sum(share for other, share in _under_foot(mask, masks).items() if role(other) == "wall") >= 0.5
        along = rays @ normal
        keep = along > 1e-3
        points = rays[keep] * (offset / along[keep])[:, None]
        if len(points) < 10:
            continue
        heights = CAMERA_HEIGHT - points @ floor_normal
        planes[name] = normal, offset
        bottom = max(0.0, float(np.percentile(heights, 2)))
        shapes[name] = ObjectShape(bottom, float(np.percentile(heights, 98)), _width(points, up, 2), _copies(mask),
                                   hangs and bottom >= HANGS_ABOVE, is_rectangle(_largest_part(mask)))
    return shapes


def _resting_on(mask: np.ndarray, name: str, objects: dict[str, np.ndarray]) -> str | None:
    """The object `mask` rests on (a monitor on a desk), if one does: its pixels lie just under `mask`'s
    lowest pixel in at least half of its columns, and beside `mask` (a tenth of its width each side) its
    top rises `BEHIND_THE_FOOT` of `mask`'s height above `mask`'s foot: the desk's top goes on behind the
    monitor. A bookcase whose foot a sofa hides is not on the sofa: beside it the sofa's top is lower."""
    shares = _under_foot(mask, {other: m for other, m in objects.items() if other != name})
    best = max(shares, key=shares.get, default=None)
    if best is None or shares[best] < 0.5:
        return None
    columns = np.flatnonzero(mask.any(0))
    reach = max(3, len(columns) // 10)
    beside = np.r_[np.arange(columns[0] - reach, columns[0]), np.arange(columns[-1] + 1, columns[-1] + 1 + reach)]
    beside = beside[(beside >= 0) & (beside < mask.shape[1])]
    support = objects[best][:, beside]
    if support.any(0).sum() < 0.5 * len(beside):
        return None
    tops = support.argmax(0)[support.any(0)]
    lowest = mask.shape[0] - mask[::-1, columns].argmax(0) - 1
    rows = np.flatnonzero(mask.any(1))
    return best if np.median(lowest) - np.median(tops) >= BEHIND_THE_FOOT * (rows[-1] - rows[0] + 1) else None


def _under_foot(mask: np.ndarray, masks: dict[str, np.ndarray], gap: int = 2) -> dict[str, float]:
    """Per region, the share of `mask`'s columns in which it lies `gap` pixels under `mask`'s lowest pixel."""
    columns = np.flatnonzero(mask.any(0))
    under = mask.shape[0] - mask[::-1, columns].argmax(0) - 1 + gap
    inside = under < mask.shape[0]
    return {name: float(m[under[inside], columns[inside]].sum()) / len(columns) for name, m in masks.items()}


def _width(points: np.ndarray, up: np.ndarray, percentile: float) -> float:
    """Extent of `points` across their longest horizontal direction, between the given percentiles."""
    return _horizontal_extents(points, up, percentile)[0]


def _horizontal_extents(points: np.ndarray, up: np.ndarray, percentile: float) -> tuple[float, float]:
    """Extents of `points` along their longest horizontal direction and across it, between the given
    percentiles."""
    flat = points - np.outer(points @ up, up)
    flat = flat - flat.mean(0)
    axes = np.linalg.svd(flat[:: max(1, len(flat) // 5000)], full_matrices=False)[2][:2]
    extents = np.ptp(np.percentile(flat @ axes.T, [percentile, 100 - percentile], axis=0), axis=0)
    return float(extents[0]), float(extents[1])


def _is_flat(points: np.ndarray, up: np.ndarray, percentile: float = 10) -> bool:
    """Whether `points` lie in an upright slab thinner than `FLAT_DEPTH` of the face's shorter side."""
    width, depth = _horizontal_extents(points, up, percentile)
    height = float(np.ptp(np.percentile(points @ up, [percentile, 100 - percentile])))
    return depth <= FLAT_DEPTH * min(width, height)


def _largest_part(mask: np.ndarray) -> np.ndarray:
    """One object of a label that holds several (the style's three pictures are one "picture")."""
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return mask if count <= 2 else parts == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _copies(mask: np.ndarray, share: float = 0.3) -> int:
    """How many separate parts of `mask` hold at least `share` of its largest part's pixels."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return max(1, int((areas >= share * areas.max()).sum())) if count > 1 else 1


def _ring(mask: np.ndarray) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~mask


def _share_around(mask: np.ndarray, other: np.ndarray) -> float:
    ring = _ring(mask)
    return float((ring & other).sum()) / max(int(ring.sum()), 1)


def _share_above(mask: np.ndarray, other: np.ndarray, gap: int = 4) -> float:
    """The share of `mask`'s columns whose pixel `gap` above the mask's top is `other`'s: a desk standing
    on the floor (floor on three sides, like a rug) has a wall just behind its top, a rug does not."""
    columns = np.flatnonzero(mask.any(0))
    tops = mask[:, columns].argmax(0) - gap
    inside = tops >= 0
    return float(other[tops[inside], columns[inside]].mean()) if inside.any() else 0.0


def _wall_around(mask: np.ndarray, masks: dict[str, np.ndarray], geometry: StyleGeometry):
    """The plane of the wall most of the object's surrounding pixels belong to, if known."""
    wall = wall_around(mask, masks)
    return None if wall is None else geometry.planes.get(wall)


def wall_around(mask: np.ndarray, masks: dict[str, np.ndarray]) -> str | None:
    """The name of the wall among `masks` most of the pixels around `mask` belong to (at least 30% of
    them: a shelf behind a sofa), if any."""
    shares = {name: _share_around(mask, m) for name, m in masks.items() if role(name) == "wall"}
    if not shares or max(shares.values()) < 0.3:
        return None
    return max(shares, key=shares.get)
