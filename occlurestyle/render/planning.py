"""Flythrough planning: a new camera path sized to stay inside what the training cameras saw.

Each kind of path is tried from its boldest size down (orbit: arc width; dolly: how far in; spline:
fewer keyframes cut more corners of the filmed path) and the first whose sampled views are covered
(`coverage.SeenSurface`: share of pixels whose surface two training cameras saw) at least
`min_coverage` on average (or, where the model leaves holes even in the filmed views, as much as those
views are, less `slack`), and `min_frame_coverage` in every sampled view, is kept. `auto` plans every
kind and keeps the passing one that shows the most of the seen room (distinct surface cells on
screen). Orbits and dollies look at the point the cameras looked at: the median of the surface points
at the centre of the middle camera's view, so the smallest orbit or dolly is that camera's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cameras import camera_center
from .coverage import SeenSurface
from .paths import PATHS, Capture, camera_path

KINDS = ("auto",) + PATHS
SIZES = {  # boldest first
    "orbit": [{"arc_deg": a} for a in (60.0, 45.0, 32.0, 24.0, 16.0, 10.0, 6.0, 3.0)],
    "dolly": [{"reach": r} for r in (0.6, 0.45, 0.3, 0.2, 0.12, 0.06)],
    "spline": [{"keyframes": k} for k in (4, 6, 8, 12, 16)],
}
AUTO_ORDER = ("orbit", "spline", "dolly")  # on a tie in what they show
# a path is asked to cover 95% at the frames' size; its 16 sampled quarter-size views estimate that within
# about 0.006 on the real clips (davis_parkour: 0.954 planned, 0.949 at full size), so plans aim higher
MIN_COVERAGE = 0.96


@dataclass
class PlannedPath:
    kind: str
    viewmats: np.ndarray
    size: dict = field(default_factory=dict)
    coverage: float = float("nan")  # mean over the sampled views
    worst_coverage: float = float("nan")
    shown: int = 0  # distinct seen surface cells on screen over the sampled views
    tried: list = field(default_factory=list)  # (kind, size, coverage) of every candidate
    filmed_coverage: float = float("nan")  # the training views' own, for comparison

    def summary(self) -> dict:
        return {"kind": self.kind, "size": self.size, "coverage": round(self.coverage, 3),
                "worst_coverage": round(self.worst_coverage, 3), "filmed_coverage": round(self.filmed_coverage, 3),
                "shown_cells": self.shown, "tried": self.tried}


def focus_point(seen: SeenSurface, viewmat: np.ndarray, K: np.ndarray, window: float = 1 / 3) -> np.ndarray | None:
    """The surface point a camera looks at: along its axis, at the median depth of the middle `window`
    of its view (None when that is mostly empty space)."""
    depth, alpha = (a[0] for a in seen.render(viewmat[None], K[None]))
    h, w = depth.shape
    rows = slice(int(h * (0.5 - window / 2)), int(np.ceil(h * (0.5 + window / 2))))
    cols = slice(int(w * (0.5 - window / 2)), int(np.ceil(w * (0.5 + window / 2))))
    solid = alpha[rows, cols] > 0.5
    if solid.mean() < 0.5:
        return None
    centre = camera_center(viewmat)
    return centre + float(np.median(depth[rows, cols][solid])) * viewmat[2, :3]


def score(seen: SeenSurface, viewmats: np.ndarray, Ks: np.ndarray, cell: float) -> tuple[float, float, int]:
    """Mean and worst coverage of the views, and how many distinct `cell`-sized surface cells they show."""
    shares, cells = [], set()
    total = seen.width * seen.height
    for world, counts in seen.surface(viewmats, Ks):
        covered = counts >= seen.min_views
        shares.append(np.count_nonzero(covered) / total)
        cells.update(map(tuple, np.floor(world[covered] / cell).astype(np.int64)))
    return float(np.mean(shares)), float(np.min(shares)), len(cells)


def plan_flythrough(kind: str, viewmats: np.ndarray, K: np.ndarray, seen: SeenSurface,
                    min_coverage: float = MIN_COVERAGE, min_frame_coverage: float = 0.85, slack: float = 0.01,
                    samples: int = 16, up: np.ndarray | None = None) -> PlannedPath:
    """A path of `kind` (one of KINDS) with as many cameras as the registered `viewmats`, intrinsics `K`,
    planned against `seen`; `up` the world's (the cameras' own estimate by default)."""
    frames = len(viewmats)
    capture = Capture.of(viewmats, up=up)
    middle = capture.middle
    target = focus_point(seen, capture.viewmats[middle], K)
    if target is not None:
        capture = Capture.of(viewmats, target, up)
    cell = 0.01 * float(np.median(np.linalg.norm(capture.centres - capture.target, axis=1)))
    picks = np.unique(np.linspace(0, frames - 1, min(samples, frames)).round().astype(int))
    filmed = np.unique(np.linspace(0, len(seen.viewmats) - 1, min(samples, len(seen.viewmats))).round().astype(int))
    filmed_coverage = float(seen.coverage(seen.viewmats[filmed], seen.frame_Ks[filmed]).mean())
    min_coverage = min(min_coverage, filmed_coverage - slack)
    min_frame_coverage = min(min_frame_coverage, min_coverage)
    tried = []

    def candidate(name: str, size: dict) -> PlannedPath:
        path = camera_path(name, capture.viewmats, frames, capture=capture, **size)
        mean, worst, shown = score(seen, path[picks], np.repeat(K[None], len(picks), 0), cell)
        tried.append((name, size, round(mean, 3)))
        return PlannedPath(name, path, size, mean, worst, shown, tried, filmed_coverage)

    def passes(path: PlannedPath) -> bool:
        return path.coverage >= min_coverage and path.worst_coverage >= min_frame_coverage

    def plan(name: str) -> PlannedPath:
        if name not in SIZES:
            return candidate(name, {})
        best = None
        for size in SIZES[name]:
            path = candidate(name, size)
            if passes(path):
                return path
            best = path if best is None or path.coverage > best.coverage else best
        return best

    if kind != "auto":
        return plan(kind)
    planned = [plan(name) for name in AUTO_ORDER]
    passing = [path for path in planned if passes(path)]
    if passing:
        return max(passing, key=lambda path: path.shown)
    return max(planned, key=lambda path: path.coverage)
