"""Pictures on walls: a framed picture, a poster or a screen hangs flat on a wall, so the plane search
labels it wall, and the wall's material would paint over it (the demo's two paintings vanished under the
style's wallpaper).

Found on each wall's chart (along the wall and up, in room heights) by colour statistics, not geometry:
the wall's colours make a small codebook, and each chart cell's neighbourhood (three cells, 15 cm in a
2.7 m room) a histogram of codewords. A wallpaper's pattern repeats at a finer scale, so its
neighbourhoods look like the wall as a whole; a picture's do not. How much a neighbourhood stands out
is first the L1 distance of its histogram from the wall's; where nothing stands out by it, the
Kullback-Leibler divergence, in which colours the wall hardly has weigh most and light falling off along
the wall, which shifts the shares of common ones, little (by L1 the office sample's picture never stood
out: its wall's plain neighbourhoods measured 1.05 of 2 typically; by KL alone a wallpaper's small red
motifs stand out and join a painting beside them). A picture is a block of such cells
that hangs (clear of the floor and the ceiling), fills half its bounding box or more (most of it
standing out by itself, not only joined by closing the gaps) and has calm wall all round it (a block
at the wall's edge is furniture or the wall's own end). A neighbourhood half on the picture may stand
out or not, so each side of the rectangle is then moved to where the strip inside it differs most from
the wall and the strip outside it least; the picture is what that rectangle holds.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

CELL = 0.02  # chart cell, in room heights (5.4 cm in a 2.7 m room)
CODEWORDS = 12
VOTES = 5  # draws of the codebook that vote on each picture
MIN_SAMPLES = 8  # Gaussians in a cell's neighbourhood for its histogram to count
ODD = 4.0  # deviations from the wall's typical one, in median absolute deviations, that stand out
SIDE = (0.08, 1.0)  # a picture's sides, in room heights (22 cm to the room's height)
HANGS = (0.1, 0.95)  # its bottom above, its top below, in room heights above the floor
MIN_FILL = 0.5  # of its block's bounding box
MIN_ODD_SHARE = 0.4  # of its cells standing out by themselves, not only bridged by the closing
MIN_CALM_RING = 0.7  # of the two cells round its rectangle: wall like the rest
EDGE_SEARCH = np.arange(-3.0, 3.01, 0.25)  # cells round a block's side where the picture's edge is sought
FRAME_CELL = 0.005  # room heights (1.35 cm in a 2.7 m room): the chart on which frames are sought
FRAME_EDGE = 2.5  # CIELAB difference across a cell that makes it an edge
FRAME_SIDE = 0.6  # share of each upright, and of the top or the bottom, that an edge runs along
FRAME_WEAK_SIDE = 0.25  # share of the other of top and bottom (a frame's top in a lamp's light is faint)
FRAME_SEARCH = 6  # cells round an upright's end where the top or bottom edge is sought
FRAME_INSIDE = 5.0  # CIELAB difference of a picture's median colour from the wall's round it
FRAME_CALM = 12.0  # CIELAB difference from the wall's median colour of the wall round a frame
MAX_FRAME_CELLS = 4_000_000  # a chart larger than this is no room's wall
MAX_UPRIGHTS = 400  # the longest upright edges paired (pairs cost their number squared)
FRAME_MARGIN = 0.15  # share by which each upright's edge coverage exceeds the edge density inside


def find_pictures(points: np.ndarray, lab: np.ndarray, up: np.ndarray, floor_height: float, room_height: float,
                  on_wall: np.ndarray | None = None, seed: int = 0) -> list[np.ndarray]:
    """Indices into `points` [N,3] (Gaussian centres; CIELAB colours `lab` [N,3]; gravity `up`; heights of
    the floor and of the room in scene units) of each picture hanging on one wall. The wall is the points
    `on_wall` marks (all by default); others given (Gaussians of objects just in front of the wall, a
    picture's own floaters) join a picture whose rectangle holds them.

    The codebook is drawn `VOTES` times (k-means' start is random, and which neighbourhoods stand out
    with it: the living room sample's pictures found at seeds 0-3, 61%, 22%, 18%, 28% of their
    pixels): a picture is what most draws find, the Gaussians most of its finders put in it."""
    on_wall = np.ones(len(points), bool) if on_wall is None else np.asarray(on_wall, bool)
    if on_wall.sum() < 200 or room_height <= 0:
        return []
    inside, at, wall_part, lo = _wall_chart(points, up, floor_height, room_height, on_wall)
    colours = lab[inside[wall_part]].astype(np.float64)
    rng = np.random.default_rng(seed)
    found = [mask for _ in range(VOTES) for mask in _pictures_by_one_codebook(colours, at, wall_part, lo, rng)]
    return [inside[picture] for picture in consensus(found, VOTES)]


def consensus(found: list[np.ndarray], draws: int) -> list[np.ndarray]:
    """The pictures (indices) that more than half of `draws` found: `found` holds every draw's pictures
    as bool masks; those overlapping by half their union are one picture, which holds what more than
    half of its finders put in it."""
    pictures = []
    while found:
        first = found.pop(0)
        same = [first] + [m for m in found if (m & first).sum() >= 0.5 * (m | first).sum()]
        found = [m for m in found if not any(m is s for s in same)]
        if len(same) > draws // 2:
            pictures.append(np.flatnonzero(np.sum(same, axis=0) > len(same) // 2))
    return pictures


def _wall_chart(points: np.ndarray, up: np.ndarray, floor_height: float, room_height: float,
                on_wall: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The wall's chart (along the wall and up, in room heights): the indices of `points` inside its
    bulk, their positions there in cells, which of them are the wall's, and the chart's origin."""
    to_chart, lo, hi = _chart_of(points[on_wall], up, floor_height, room_height)
    chart = to_chart(points)
    inside = np.flatnonzero(np.all((chart >= lo) & (chart <= hi), axis=1))
    return inside, (chart[inside] - lo) / CELL, on_wall[inside], lo


def _chart_of(wall: np.ndarray, up: np.ndarray, floor_height: float, room_height: float):
    """(points → chart coordinates along the wall and up, in room heights; the bulk of the `wall` points'
    coordinates, lowest and highest corner): stray Gaussians far off the wall would make a grid huge."""
    flat = wall - np.outer(wall @ up, up)
    along = np.linalg.svd(flat - flat.mean(0), full_matrices=False)[2][0]

    def to_chart(points: np.ndarray) -> np.ndarray:
        heights = points @ up
        return np.c_[(points - np.outer(heights, up)) @ along, heights - floor_height] / room_height

    chart = to_chart(wall)
    return to_chart, np.percentile(chart, 1, axis=0), np.percentile(chart, 99, axis=0)


def find_framed_pictures(seen: np.ndarray, seen_lab: np.ndarray, points: np.ndarray, up: np.ndarray,
                         floor_height: float, room_height: float, on_wall: np.ndarray) -> list[np.ndarray]:
    """Indices into `points` [N,3] (Gaussian centres, those `on_wall` the wall's) of each picture found by
    its frame: `seen` [M,3] are surface points the cameras saw on the wall's layer (rendered pixels), with
    CIELAB colours `seen_lab`. A whiteboard on a pale wall has colours the wall has too, so its codeword
    histograms do not stand out (`find_pictures`); its frame does, as two uprights and a top and a bottom
    edge of the wall's rendered appearance, on a chart fine enough for a frame a centimetre wide."""
    if on_wall.sum() < 200 or len(seen) < 1000 or room_height <= 0:
        return []
    to_chart, lo, hi = _chart_of(points[on_wall], up, floor_height, room_height)
    chart = (to_chart(seen) - lo) / FRAME_CELL
    size = np.ceil((hi - lo) / FRAME_CELL).astype(int) + 1
    if size.prod() > MAX_FRAME_CELLS:
        return []  # a wall many room heights long: the scene's heights are not a room's (no frame to size)
    keep = np.all((chart >= 0) & (chart < size), axis=1)
    cells = np.floor(chart[keep]).astype(int)
    total = np.zeros((size[1], size[0], 3))
    count = np.zeros((size[1], size[0]))
    np.add.at(total, (cells[:, 1], cells[:, 0]), seen_lab[keep])
    np.add.at(count, (cells[:, 1], cells[:, 0]), 1)
    if (count > 0).mean() < 0.3:
        return []
    image = total / np.maximum(count, 1)[..., None]
    nearest = ndimage.distance_transform_edt(count == 0, return_distances=False, return_indices=True)
    image = ndimage.gaussian_filter(image[tuple(nearest)], (0.7, 0.7, 0))
    across_rows = np.zeros(count.shape)
    across_rows[1:-1] = np.linalg.norm(image[2:] - image[:-2], axis=-1) / 2
    across_cols = np.zeros(count.shape)
    across_cols[:, 1:-1] = np.linalg.norm(image[:, 2:] - image[:, :-2], axis=-1) / 2
    level = ndimage.binary_dilation((across_rows > FRAME_EDGE) & (across_rows >= across_cols), np.ones((3, 1)))
    upright = ndimage.binary_dilation((across_cols > FRAME_EDGE) & (across_cols >= across_rows), np.ones((1, 3)))
    at = (to_chart(points) - lo) / FRAME_CELL
    wall_colour = np.median(image[count > 0], axis=0)
    found = []
    for r0, r1, c0, c1 in _framed_rectangles(level, upright, lo):
        if (count[r0:r1 + 1, c0:c1 + 1] > 0).mean() < MIN_FILL:
            continue  # edges of what the cameras hardly saw (the chart's ends)
        ring = np.zeros(count.shape, bool)
        ring[max(0, r0 - 5):r1 + 6, max(0, c0 - 5):c1 + 6] = True
        ring[max(0, r0 - 2):r1 + 3, max(0, c0 - 2):c1 + 3] = False
        ring &= count > 0
        calm = np.linalg.norm(image[ring] - wall_colour, axis=1) < FRAME_CALM
        if not len(calm) or calm.mean() < MIN_CALM_RING:
            continue  # a rectangle in something before the wall, not hanging on it with wall all round
        held = np.zeros(count.shape, bool)
        held[r0 + 3:r1 - 2, c0 + 3:c1 - 2] = True
        held &= count > 0
        if not held.any() or np.linalg.norm(np.median(image[held], 0) - np.median(image[ring], 0)) < FRAME_INSIDE:
            continue  # the wall's own pattern boxed in by its motifs' edges, not something hanging on it
        inside = np.flatnonzero((at[:, 1] >= r0) & (at[:, 1] <= r1 + 1) & (at[:, 0] >= c0) & (at[:, 0] <= c1 + 1))
        if on_wall[inside].mean() >= 0.5:  # else the outline of something before the wall (a plant against it)
            found.append(inside)
    return found


def _framed_rectangles(level: np.ndarray, upright: np.ndarray, lo: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(bottom row, top row, left column, right column) of each rectangle whose sides run along the edge
    maps (`level`: edges across rows, `upright`: across columns), largest first, none overlapping another; a
    picture's size and hanging (`SIDE`, `HANGS`; `lo`: the chart's origin in room heights)."""
    shortest, widest = int(SIDE[0] / FRAME_CELL), int(SIDE[1] / FRAME_CELL)
    uprights = [(column, start, stop) for column in range(upright.shape[1])
                for start, stop in _runs(upright[:, column]) if stop - start + 1 >= shortest]
    uprights = sorted(sorted(uprights, key=lambda u: u[1] - u[2])[:MAX_UPRIGHTS])
    candidates = []
    for k, (left, a0, a1) in enumerate(uprights):
        for right, b0, b1 in uprights[k + 1:]:
            if not shortest <= right - left <= widest or min(a1, b1) - max(a0, b0) < shortest // 2:
                continue
            # the top and bottom are sought round the taller upright's ends: one side's edge may be broken
            bottoms = range(max(0, min(a0, b0) - FRAME_SEARCH), max(a0, b0) + FRAME_SEARCH + 1)
            tops = range(min(a1, b1) - FRAME_SEARCH, min(level.shape[0], max(a1, b1) + FRAME_SEARCH + 1))
            bottom = max(bottoms, key=lambda r: (level[r, left:right + 1].mean(), -r))
            top = max(tops, key=lambda r: (level[r, left:right + 1].mean(), r))
            if top - bottom < shortest or top - bottom > widest:
                continue
            sides = [upright[bottom:top + 1, left].mean(), upright[bottom:top + 1, right].mean(),
                     level[bottom, left:right + 1].mean(), level[top, left:right + 1].mean()]
            height = lo[1] + np.array([bottom, top + 1]) * FRAME_CELL
            # a leafy plant is edges all over; a frame's uprights stand out from what they hold
            inner = float((level | upright)[bottom + 3:top - 2, left + 3:right - 2].mean())
            if (min(sides[:2]) >= max(FRAME_SIDE, inner + FRAME_MARGIN) and max(sides[2:]) >= FRAME_SIDE
                    and min(sides[2:]) >= FRAME_WEAK_SIDE
                    and height[0] >= HANGS[0] and height[1] <= HANGS[1]):
                candidates.append(((top - bottom) * (right - left), (bottom, top, left, right)))
    kept: list[tuple[int, int, int, int]] = []
    # the largest first: a whiteboard's lines of writing close smaller rectangles inside its frame
    for _, (bottom, top, left, right) in sorted(candidates, key=lambda c: -c[0]):
        if all(right < c0 or left > c1 or top < r0 or bottom > r1 for r0, r1, c0, c1 in kept):
            kept.append((bottom, top, left, right))
    return kept


def _runs(line: np.ndarray, gap: int = 3) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in `line`, runs joined across gaps up to `gap` long."""
    on = np.flatnonzero(line)
    if not len(on):
        return []
    breaks = np.flatnonzero(np.diff(on) > gap + 1)
    return list(zip(on[np.r_[0, breaks + 1]], on[np.r_[breaks, len(on) - 1]]))


def _pictures_by_one_codebook(colours: np.ndarray, at: np.ndarray, wall_part: np.ndarray, lo: np.ndarray,
                              rng: np.random.Generator) -> list[np.ndarray]:
    """The pictures one draw of the codebook finds, each a bool mask over the chart positions `at` (the
    wall's among them `wall_part`, with CIELAB `colours`; `lo` the chart's origin)."""
    cells = np.floor(at[wall_part]).astype(np.int64)
    rows, cols = cells[:, 1], cells[:, 0]
    _, code = kmeans2(colours, CODEWORDS, seed=rng, minit="++")
    histogram = np.zeros((rows.max() + 1, cols.max() + 1, CODEWORDS))
    np.add.at(histogram, (rows, cols, code), 1.0)
    near = ndimage.uniform_filter(histogram, size=(3, 3, 1), mode="constant") * 9
    count = near.sum(-1)
    seen = count >= MIN_SAMPLES
    if seen.sum() < 50:
        return []
    whole = np.bincount(code, minlength=CODEWORDS) / len(code)
    shares = near / np.maximum(count, 1)[..., None]
    for deviation in (np.abs(shares - whole).sum(-1), _divergence(shares, whole)):
        typical = float(np.median(deviation[seen]))
        spread = float(np.median(np.abs(deviation[seen] - typical)))
        pictures = _blocks(seen & (deviation > typical + ODD * spread), seen, histogram, at, wall_part, code, lo)
        if pictures:
            return pictures
    return []


def _blocks(standing_out: np.ndarray, seen: np.ndarray, histogram: np.ndarray, at: np.ndarray,
            wall_part: np.ndarray, code: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    """The pictures among the chart cells `standing_out` (`seen`: cells with enough Gaussians; `histogram`:
    their codeword counts; `at`: chart positions in cells of the points, `wall_part` of them the wall's,
    with codewords `code`; `lo`: the chart's origin), each as a bool mask over `at`."""
    joined = ndimage.binary_fill_holes(ndimage.binary_closing(standing_out, np.ones((3, 3)), iterations=2))
    calm = seen & ~joined
    wall = histogram[calm].sum(0) / max(histogram[calm].sum(), 1.0)  # the codewords of the wall itself
    blocks, _ = ndimage.label(joined)
    pictures = []
    for k, box in enumerate(ndimage.find_objects(blocks), start=1):
        tall, wide = (box[0].stop - box[0].start) * CELL, (box[1].stop - box[1].start) * CELL
        bottom, top = lo[1] + box[0].start * CELL, lo[1] + box[0].stop * CELL
        if not (SIDE[0] <= tall <= SIDE[1] and SIDE[0] <= wide <= SIDE[1]) or bottom < HANGS[0] or top > HANGS[1]:
            continue
        block = blocks[box] == k
        # cells with too few Gaussians to tell say nothing of its shape (a picture the training left
        # sparse in the middle: the demo's, retrained on other masks, filled 39-47% of its box, 55-72% of
        # the cells it could tell)
        known = seen[box]
        if not known.any() or block[known].mean() < MIN_FILL or standing_out[box][block].mean() < MIN_ODD_SHARE:
            continue  # no rectangle, or scattered cells the closing joined
        r0, r1, c0, c1 = _edges(at[wall_part], code, wall, [box[0].start, box[0].stop, box[1].start, box[1].stop])
        if (r1 - r0) * CELL < SIDE[0] or (c1 - c0) * CELL < SIDE[0]:
            continue  # its edges closed in on a sliver: a few odd cells, not a picture
        ring = np.zeros_like(joined)
        ring[max(0, int(r0) - 2):int(np.ceil(r1)) + 2, max(0, int(c0) - 2):int(np.ceil(c1)) + 2] = True
        ring[max(0, int(r0)):int(np.ceil(r1)), max(0, int(c0)):int(np.ceil(c1))] = False
        if not ring.any() or calm[ring].mean() < MIN_CALM_RING:
            continue
        pictures.append((at[:, 1] >= r0) & (at[:, 1] < r1) & (at[:, 0] >= c0) & (at[:, 0] < c1))
    return pictures


def _divergence(shares: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Kullback-Leibler divergence of codeword `shares` [..., K] (each summing to 1) from the wall's `whole`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(shares > 0, shares * np.log(shares / np.maximum(whole, 1e-12)), 0.0)
    return terms.sum(-1)


def _edges(at: np.ndarray, code: np.ndarray, wall: np.ndarray, edges: list[float]) -> list[float]:
    """A block's sides (bottom, top, left, right in cells of the chart positions `at` [N,2]) moved to the
    picture's edges: a neighbourhood half on the picture may stand out or not, so the block can be a cell
    too big or too small all round. Each side goes, within `EDGE_SEARCH`, to where the one-cell strip
    inside it differs most from the `wall`'s codeword distribution and the strip outside it least."""
    edges = [float(e) for e in edges]
    for side in range(4):
        axis = 1 if side < 2 else 0  # rows for the bottom and top, columns for the left and right
        inward = 1 if side % 2 == 0 else -1
        span = edges[2:] if axis == 1 else edges[:2]
        beside = (at[:, 1 - axis] >= span[0]) & (at[:, 1 - axis] < span[1])
        best, best_score = edges[side], -np.inf
        for edge in edges[side] + EDGE_SEARCH:
            strips = [beside & (np.minimum(edge, edge + d) <= at[:, axis]) & (at[:, axis] < np.maximum(edge, edge + d))
                      for d in (inward, -inward)]
            if min(strip.sum() for strip in strips) < MIN_SAMPLES:
                continue
            differs = [np.abs(np.bincount(code[strip], minlength=len(wall)) / strip.sum() - wall).sum()
                       for strip in strips]
            if differs[0] - differs[1] > best_score:
                best, best_score = edge, differs[0] - differs[1]
        edges[side] = best
    return edges
