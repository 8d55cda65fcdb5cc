"""Region correspondence: which style region each scene region takes its appearance from.

Same name first (floor ↔ floor, sofa ↔ sofa, an object's numbered name ↔ its base: picture_1 ↔
picture); then by role (any wall ↔ the style's walls, larger with larger; an object ↔ the style's
objects by shape where both have one (`object_shapes`: heights above the floor and width, in metres;
the largest one each (a style label of several like parts, one each part) by least size-weighted
difference, or the nearest when every free one is more than `REUSE_COST` worse, the rest to the
nearest; scene objects alike in shape share a partner while it has copies left), else by size); a scene
region left without a partner takes the style image's global colours. A picture paired with something
flat on the style's walls, and a flat object paired with a flat style object of a like size (a monitor),
are marked "flat": they show the style's picture of it. The result is a readable list, written to
`stylize/matches.json`.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.optimize import linear_sum_assignment

STRUCTURE = ("floor", "ceiling")
REUSE_COST = 0.5  # metres of shape difference a scene object pays to share a style object rather than take a free one
UNFIT = 1e3  # metres of shape difference for a pair `ObjectShape.can_take` rules out
ALIKE = 0.3  # metres of shape difference within which two scene objects are taken for the same kind of thing
FLAT_SIZE = 2.0  # at most this many times as high or as wide as its partner for a flat object to show its picture


def base_name(name: str) -> str:
    """A region's name without its number: "wall_2" → "wall", "Picture 1" → "picture"."""
    return re.sub(r"[_\s-]*\d+$", "", name.lower())


def role(name: str) -> str:
    """floor / ceiling / wall / object: what a region is, whatever its exact name."""
    base = base_name(name)
    if base in STRUCTURE:
        return base
    if base.startswith("wall"):
        return "wall"
    return "object"


def match_regions(scene_sizes: dict[str, float], style_sizes: dict[str, float], shapes: tuple[dict, dict] | None = None
                  ) -> list[dict]:
    """One entry per scene region: {"scene": name, "style": name or None, "by": how}; a picture paired with
    something flat on the style's walls, and a flat object with a flat style object of a like size, also
    have "flat": True.

    `scene_sizes` / `style_sizes`: region name → size (any unit: Gaussian count, pixel count), used
    to pair regions of the same role larger with larger. `shapes`: (scene, style) object name →
    `object_shapes.ObjectShape`, to pair objects by shape."""
    matches: dict[str, dict] = {}
    flat = _flat_on_walls(style_sizes, shapes)
    if len(flat) > 1:  # a whiteboard beside a painting: the larger scene picture takes the larger
        pictures = sorted((n for n in scene_sizes if base_name(n) == "picture"), key=lambda n: -scene_sizes[n])
        # once each has been taken, the rest take the style's pictures, a label that may hold several
        # paintings, not a second whiteboard (the office's small east-wall picture took the whiteboard)
        again = [n for n in flat if base_name(n) == "picture"] or flat
        for k, name in enumerate(pictures):
            style = flat[k] if k < len(flat) else again[(k - len(flat)) % len(again)]
            matches[name] = {"scene": name, "style": style, "flat": True,
                             "by": "picture, by size among what hangs flat on the style's walls"}
    for name in scene_sizes:
        if name in matches:
            continue
        if name in style_sizes:
            matches[name] = {"scene": name, "style": name, "by": "same label"}
        elif role(name) == "object" and base_name(name) in style_sizes:  # "picture_1" <-> "picture"
            matches[name] = {"scene": name, "style": base_name(name), "by": "same label"}
        if base_name(name) == "picture" and base_name(matches.get(name, {}).get("style") or "") == "picture":
            matches[name]["flat"] = True
    if shapes is not None:
        _match_objects_by_shape(matches, [n for n in scene_sizes if n not in matches and role(n) == "object"],
                                [n for n in style_sizes if role(n) == "object"], *shapes, scene_sizes)
    for wanted in ("floor", "ceiling", "wall", "object"):
        scene_left = sorted((n for n in scene_sizes if n not in matches and role(n) == wanted),
                            key=lambda n: -scene_sizes[n])
        style_pool = sorted((n for n in style_sizes if role(n) == wanted), key=lambda n: -style_sizes[n])
        if not style_pool:
            continue
        unused = [n for n in style_pool if n not in {m["style"] for m in matches.values()}]
        for k, name in enumerate(scene_left):
            # fresh partners first (larger with larger), then reuse the pool round-robin
            partner = unused[k] if k < len(unused) else style_pool[(k - len(unused)) % len(style_pool)]
            matches[name] = {"scene": name, "style": partner, "by": f"role ({wanted})"}
    for name in scene_sizes:
        if name not in matches:
            matches[name] = {"scene": name, "style": None, "by": "global style colours"}
    if shapes is not None:
        _flat_pairs(matches, *shapes)
    return [matches[name] for name in scene_sizes]


def _flat_pairs(matches: dict[str, dict], scene_shapes: dict, style_shapes: dict) -> None:
    """Mark "flat" (in place) each object paired with a style object when both are flat and of a like size
    (`FLAT_SIZE`): a screen shows the style screen's picture. Of a like size, because a pair may be no
    more than the nearest of what the style has (the office's bookcase, 1.5 m high and flat where only its
    front was seen, took the style's 0.25 m monitor); size rather than `ObjectShape.distance`, because the
    photo's heights are a guess (the office exemplar's monitors measure 0.68-0.94 m up, truly 0.80-1.18)."""
    for name, match in matches.items():
        scene, style = scene_shapes.get(name), style_shapes.get(match["style"])
        if scene is None or style is None or not (scene.flat and style.flat):
            continue
        sizes = np.array([[scene.top - scene.bottom, scene.width], [style.top - style.bottom, style.width]])
        if sizes.min() > 0 and (sizes.max(0) / sizes.min(0)).max() <= FLAT_SIZE:
            match["flat"] = True


def _flat_on_walls(style_sizes: dict[str, float], shapes: tuple[dict, dict] | None) -> list[str]:
    """The style regions that hang flat on its walls, largest first: its pictures, and the objects
    `object_shapes` finds hanging (`ObjectShape.hangs`: a whiteboard). Not what stands high on an object (a
    monitor on a desk, 0.68 m up) nor a bookcase whose foot a sofa hides (0.27 m up: a bottom height alone
    kept it off the walls by 3 cm)."""
    style_shapes = shapes[1] if shapes is not None else {}
    flat = [n for n in style_sizes if role(n) == "object" and (base_name(n) == "picture" or (
        n in style_shapes and style_shapes[n].hangs))]
    return sorted(flat, key=lambda n: -style_sizes[n])


def _alike_share_partners(partner: dict[str, str], scene: list[str], copies: list[str], scene_shapes: dict,
                          style_shapes: dict) -> None:
    """Scene objects alike in shape (within `ALIKE`) take the same partner while it has copies to hand out
    (in place in `partner`; `scene`: the objects that were handed `copies`, largest first), unless that is
    `REUSE_COST` worse for the smaller: the office's two desks, 0.24 m apart in shape, went one to the
    style's desk and one to its plant, which the second desk was 0.04 m nearer to (its monitor makes it
    tall)."""
    given = {name: copies.count(name) for name in set(partner.values())}
    for k, first in enumerate(scene):
        for other in scene[k + 1:]:
            kind, own = partner[first], partner[other]
            if (kind == own or given[kind] >= style_shapes[kind].copies
                    or not scene_shapes[other].can_take(style_shapes[kind])
                    or scene_shapes[first].distance(scene_shapes[other]) >= ALIKE
                    or scene_shapes[other].distance(style_shapes[kind])
                    > scene_shapes[other].distance(style_shapes[own]) + REUSE_COST):
                continue
            partner[other] = kind
            given[kind] += 1
            given[own] -= 1


def _match_objects_by_shape(matches: dict[str, dict], scene: list[str], style: list[str], scene_shapes: dict,
                            style_shapes: dict, sizes: dict[str, float]) -> None:
    """The largest scene objects, one per style object not yet taken, by least size-weighted difference
    of shape (the large ones get their best partner, not the stray bits of a ghost); the rest each the
    nearest in shape."""
    scene = sorted((n for n in scene if n in scene_shapes), key=lambda n: -sizes[n])
    style = [n for n in style if n in style_shapes]
    if not scene or not style:
        return
    taken = {m["style"] for m in matches.values()}
    # a style label of several like parts (two desks) is that many objects to hand out
    fresh = [n for n in style if n not in taken for _ in range(style_shapes[n].copies)] or style
    first = scene[:len(fresh)]

    def distance(a: str, b: str) -> float:
        return scene_shapes[a].distance(style_shapes[b]) if scene_shapes[a].can_take(style_shapes[b]) else UNFIT

    nearest = {a: min(style, key=lambda b: distance(a, b)) for a in scene}
    cost = np.array([[sizes[a] * distance(a, b) for b in fresh] for a in first])
    # or each its nearest, taken or not, at `REUSE_COST` more: a style object nothing in the scene is
    # like (the rug, when the scene's rug was labelled floor) is left over, not forced on a plant
    reuse = np.full((len(first), len(first)), np.inf)
    np.fill_diagonal(reuse, [sizes[a] * (distance(a, nearest[a]) + REUSE_COST) for a in first])
    rows, cols = linear_sum_assignment(np.hstack([cost, reuse]))
    partner = {first[r]: fresh[c] if c < len(fresh) else nearest[first[r]] for r, c in zip(rows, cols)}
    copies = [fresh[c] for c in cols if c < len(fresh)]  # the style objects' copies handed out
    for name in scene[len(fresh):]:
        partner[name] = nearest[name]
    _alike_share_partners(partner, first, copies, scene_shapes, style_shapes)
    for name, other in partner.items():
        matches[name] = {"scene": name, "style": other, "by": f"shape ({scene_shapes[name].describe()} vs "
                                                            f"{style_shapes[other].describe()})"}
