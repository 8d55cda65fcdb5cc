"""Pictures on the walls, laid as what they are: the style's painting over the scene's picture.

A picture is a flat rectangle, neither a material to quilt (its blocks would scatter the painting) nor
an object whose colour parts move (that kept the scene painting's own blots in the style's colours).
The style's picture region is cut into its separate pictures, largest first, each one's four corners
found on its outline and the quadrilateral warped flat (`style_paintings`); each scene picture shows
one, stretched over its rectangle on its wall's chart, seen from the front (`painting_texture`): one that
hangs on the style wall its own wall took the look of, else the larger scene pictures the larger paintings
(`pick_painting`). A screen is one too: a flat object paired with a style
object that is a rectangle in the photo (`is_rectangle`: a monitor; `object_shapes.ObjectShape.flat`).
"""

from __future__ import annotations

import cv2
import numpy as np

from .texture import Chart, RegionTexture

MIN_PIXELS = 100  # a part of the style's picture region smaller than this is no painting to show
TEXELS = 256  # a painting texture's longer side
EXTENT_PERCENTILE = 2  # a scene picture's rectangle: its Gaussians' chart coordinates within these percentiles
RECTANGLE = 0.93  # IoU of a part of a style region with its quadrilateral for it to be a rectangle in perspective


def style_paintings(image: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The separate pictures of the style region `mask` (bool [H,W]) of `image` (RGB 0-1), largest first:
    each warped flat from its four corners ([h,w,3]), with its part of `mask` (bool [H,W])."""
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA], kind="stable")
    found = []
    for label in order[stats[order, cv2.CC_STAT_AREA] >= MIN_PIXELS]:
        part = parts == label
        corners = _corners(part)
        top, bottom = np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3])
        left, right = np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1])
        width, height = max(2, int(round(max(top, bottom)))), max(2, int(round(max(left, right))))
        target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
        warp = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
        found.append((cv2.warpPerspective(np.asarray(image, np.float32), warp, (width, height), flags=cv2.INTER_AREA,
                                          borderMode=cv2.BORDER_REPLICATE), part))
    return found


def pick_painting(hung_on: list[str | None], wall: str | None, given: list[int]) -> int:
    """Which of a style region's paintings a scene picture shows: the paintings hang on the style walls
    `hung_on` (None: on none known) and were handed out `given` times so far, the picture hangs on a scene
    wall matched to style wall `wall` (None: unknown). One on that wall if there is one, then the least
    handed out, then the largest (the first)."""
    return min(range(len(hung_on)), key=lambda k: (wall is None or hung_on[k] != wall, given[k], k))


def is_rectangle(part: np.ndarray) -> bool:
    """Whether `part` (bool [H,W], one piece) is a rectangle seen in perspective: it and the quadrilateral
    of its corners overlap by `RECTANGLE` (IoU). The exemplars' monitors, pictures and whiteboards
    measure 0.96-0.99; their boxes and shelves 0.86, plants, lamps and sofas 0.34-0.70."""
    quad = np.zeros(part.shape, np.uint8)
    cv2.fillConvexPoly(quad, np.round(_corners(part)).astype(np.int32), 1)
    quad = quad.astype(bool)
    return float((part & quad).sum()) / max(int((part | quad).sum()), 1) >= RECTANGLE


def _corners(part: np.ndarray) -> np.ndarray:
    """The four corners [4,2] (x, y: top left, top right, bottom right, bottom left) of a picture seen in
    perspective: its outline simplified to a convex quadrilateral, else its minimum-area rectangle."""
    contours = cv2.findContours(part.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
    outline = max(contours, key=cv2.contourArea)
    perimeter = cv2.arcLength(outline, True)
    quad = None
    for tolerance in (0.02, 0.04, 0.06, 0.1):
        approx = cv2.approxPolyDP(outline, tolerance * perimeter, True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            quad = approx.reshape(4, 2).astype(np.float64)
            break
    if quad is None:
        quad = cv2.boxPoints(cv2.minAreaRect(outline)).astype(np.float64)
    total, difference = quad.sum(1), quad[:, 1] - quad[:, 0]
    return quad[[np.argmin(total), np.argmin(difference), np.argmax(total), np.argmax(difference)]]


def painting_texture(painting: np.ndarray, points: np.ndarray, up: np.ndarray, metres: float,
                     viewer: np.ndarray) -> RegionTexture:
    """A texture showing `painting` over the rectangle of a scene picture's Gaussian centres `points`
    [N,3] on its wall, upright and unmirrored as seen from `viewer` (a point in front of it, e.g. the
    cameras' mean centre)."""
    chart = Chart.fit(points, up, metres, "wall")
    if (chart.origin - viewer) @ chart.axes[2] < 0:  # the normal away from the viewer: u then runs to their right
        chart = Chart(chart.origin, np.stack([-chart.axes[0], chart.axes[1], -chart.axes[2]]), chart.metres)
    uv = chart.uv(points)
    lo, hi = np.percentile(uv, EXTENT_PERCENTILE, axis=0), np.percentile(uv, 100 - EXTENT_PERCENTILE, axis=0)
    extent = np.maximum(hi - lo, 1e-6)
    texel = float(extent.max()) / (TEXELS - 1)
    cols, rows = (np.maximum(2, np.round(extent / texel)) + 1).astype(int)
    texture = cv2.resize(np.asarray(painting, np.float32), (int(cols), int(rows)), interpolation=cv2.INTER_AREA)
    return RegionTexture(chart, texture, texel, lo)
