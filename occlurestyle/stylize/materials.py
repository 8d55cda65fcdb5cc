"""Materials of the style image: each region's surface as a flat, shading-free sample at a known
physical size, ready to be synthesised at the scene's scale (`synthesis.quilt`).

A room photo shows its floor in perspective: tiles shrink towards the horizon. For each region this
module estimates the region's plane from the region's own lines (line segments inside it, two
vanishing points by RANSAC, of directions at least `MIN_FAMILY_ANGLE` apart: the plane's vanishing
line, hence its normal), and the camera's focal length from the floor's two vanishing points when they
are orthogonal (tile or board edges), else from the walls' verticals and a level family of lines, else
a phone's 69° field of view. A floor whose lines are one family (planks) takes its normal from the
walls' verticals. Distances need one assumption, stated: the photographer's camera is
`CAMERA_HEIGHT` above the floor and `CEILING_ABOVE_CAMERA` below the ceiling; a wall's distance then
comes from where it meets the floor. The region is resampled onto its plane at the finest size it
was seen at (metres per texel), keeping only the part seen at most `MAX_STRETCH`× coarser.

A wall with fewer than two families of lines of its own (a plain wallpaper seen at a slant) stands
square to the floor and to the largest wall whose lines gave its plane, turned to face the camera: a
room's walls meet at right angles. Objects (a sofa, a plant) are no planes, and any other region whose
plane cannot be estimated (fewer than two families of lines: a plain ceiling) or comes out implausible
(a floor more than `MAX_CAMERA_PITCH` from level, a wall leaning more than `MAX_WALL_LEAN` from square
to the floor) is no better known: both are taken as seen, facing the camera at the distance of its
contact with the floor (else `DEFAULT_DISTANCE`): right for fronto-parallel surfaces, foreshortened for
oblique ones.
`Material.how` says which was done. The sample's own light (a lamp's pool on the style's floor) is
divided out, so the scene's shading, not the photo's, lights the result; its dominant line direction
is turned to the texture's axes so boards and tiles run along the scene's walls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .correspond import role
from .style_regions import StyleRegions
from .synthesis import largest_block
from .transfer import masked_blur

CAMERA_HEIGHT = 1.5  # metres from the floor to a handheld camera (eye or chest height)
CEILING_ABOVE_CAMERA = 1.0  # a 2.5 m ceiling
DEFAULT_DISTANCE = 3.0  # metres to a surface whose distance nothing tells
DEFAULT_HFOV = 69.0  # degrees, a phone's main camera
MAX_STRETCH = 3.0  # keep the part of a region seen at most this much coarser than its finest part
MAX_SIDE = 512  # texels a side of a rectified sample
MIN_SIDE = 24  # a sample needs a block this big inside it to be usable
MAX_CAMERA_PITCH = 45.0  # degrees from level a style photo's camera may look up or down
MIN_FAMILY_ANGLE = 30.0  # degrees between the directions of two vanishing points of one region (else one family)
MAX_WALL_LEAN = 20.0  # degrees a wall's estimated plane may lean from square to the floor's
# a blob of the photo saturated in every channel that holds more than this share of a region (and less
# than half: a region mostly at white is white) is its light, not its material: a lamp's pool on the
# style's ceiling, quilted, became grey blobs all over the scene's ceiling. White tiles and stripes are
# many small blobs (the exemplar's largest: 1.7% of its floor; its ceiling's pool: 11%)
SATURATED = 0.98
HIGHLIGHT_SHARE = 0.05


@dataclass
class Material:
    """A style region's surface, flat: `sample` [h,w,3] RGB 0-1 with its shading divided out, `mask`
    [h,w] the sample's valid texels, `texel` metres per texel, `how` what was estimated."""
    name: str
    sample: np.ndarray
    mask: np.ndarray
    texel: float
    how: str
    azimuth: float | None = None  # a wall's facing: its normal's angle from the camera's forward, about up (°)


@dataclass
class StyleGeometry:
    """The style photo's camera and surfaces: intrinsics `K`, how its focal was found, and per region
    its plane (camera coordinates: unit normal pointing away from the camera, distance in metres) or
    None where no plane was estimated (objects, a region with fewer than two families of lines and no
    wall to stand square to)."""
    K: np.ndarray
    focal_how: str
    planes: dict[str, tuple[np.ndarray, float] | None]
    square_to: dict[str, str] = field(default_factory=dict)  # wall → the wall its plane was taken square to

    def floor_normal(self) -> np.ndarray | None:
        plane = next((p for n, p in self.planes.items() if role(n) == "floor" and p is not None), None)
        return None if plane is None else plane[0]


def style_geometry(style: StyleRegions, names: list[str] | None = None, seed: int = 0) -> StyleGeometry:
    """Planes of the style regions in `names` (default: all) large enough to hold a sample."""
    image, labels = style.image, style.labels
    height, width = labels.shape
    gray = (cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) * 255).astype(np.uint8)
    segments = cv2.createLineSegmentDetector().detect(gray)[0]
    segments = np.zeros((0, 4)) if segments is None else segments.reshape(-1, 4).astype(np.float64)
    masks = style.masks()
    wanted = [n for n in (names or style.names) if n in masks and masks[n].sum() >= MIN_SIDE * MIN_SIDE]
    rng = np.random.default_rng(seed)
    vanishing = {n: _vanishing_points(segments, masks[n], rng) for n in wanted}
    focal, focal_how = _focal(vanishing, width, height)
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    floor = next((n for n in wanted if role(n) == "floor"), None)
    floor_normal = _plane_normal(vanishing[floor], K, masks[floor]) if floor else None
    if floor_normal is not None and abs(float(floor_normal[1])) < np.cos(np.radians(MAX_CAMERA_PITCH)):
        # a room photo is taken nearly level: a "floor" this tilted came from another surface's lines
        # (the office exemplar's floor normal lay 14° from its north wall's, 58° from level)
        floor_normal = None
    if floor_normal is None and floor is not None:
        floor_normal = _vertical(vanishing, K)
    planes: dict[str, tuple[np.ndarray, float] | None] = {}
    for name in wanted:
        normal = _plane_normal(vanishing[name], K, masks[name]) if role(name) != "object" else None
        if role(name) == "floor":
            normal = floor_normal
        elif (normal is not None and floor_normal is not None and role(name) == "wall"
              and abs(float(normal @ floor_normal)) > np.sin(np.radians(MAX_WALL_LEAN))):
            normal = None  # a wall stands square to the floor
        if normal is None:
            planes[name] = None
        elif role(name) == "floor":
            planes[name] = (normal, CAMERA_HEIGHT)
        elif role(name) == "ceiling":
            planes[name] = (normal, CEILING_ABOVE_CAMERA)
        else:
            planes[name] = (normal, _distance_from_floor(normal, masks[name], masks.get(floor), floor_normal, K))
    square = _walls_square_to_another(planes, masks, floor_normal, K)
    for name, (_, normal) in square.items():
        planes[name] = (normal, _distance_from_floor(normal, masks[name], masks.get(floor), floor_normal, K))
    return StyleGeometry(K, focal_how, planes, {name: reference for name, (reference, _) in square.items()})


def _walls_square_to_another(planes, masks, floor_normal, K) -> dict[str, tuple[str, np.ndarray]]:
    """Walls whose own lines gave no plane, each with the largest wall whose did and its normal square to
    that one: a room's walls meet at right angles (the office exemplar's east wall, a plain wallpaper seen
    at a slant, has no second family of lines; its north wall has a whiteboard's and a picture's)."""
    known = [n for n, p in planes.items() if role(n) == "wall" and p is not None]
    if floor_normal is None or not known:
        return {}
    reference = max(known, key=lambda n: int(masks[n].sum()))
    square = {n: _square_to(planes[reference][0], floor_normal, masks[n], K)
              for n, p in planes.items() if role(n) == "wall" and p is None}
    return {n: (reference, normal) for n, normal in square.items() if normal is not None}


FACING_SHARE = 0.95  # of a wall region's pixels whose rays must meet a plane from its front for the plane to be it


def _square_to(normal: np.ndarray, floor_normal: np.ndarray, mask: np.ndarray, K: np.ndarray) -> np.ndarray | None:
    """The unit normal (pointing away from the camera) of a wall square to the wall of `normal` and to the
    floor, turned so that the region `mask` is seen from its front; None when neither way is."""
    across = np.cross(floor_normal, normal)
    across /= max(float(np.linalg.norm(across)), 1e-9)
    rays = rays_of(np.argwhere(mask)[:, ::-1], K)
    for candidate in (across, -across):
        if float(np.mean(rays @ candidate > 0)) >= FACING_SHARE:
            return candidate
    return None


def style_materials(style: StyleRegions, names: list[str] | None = None, seed: int = 0) -> dict[str, Material]:
    """A `Material` per style region in `names` (default: all) that has a usable texture."""
    geometry = style_geometry(style, names, seed)
    masks, K, floor_normal = style.masks(), geometry.K, geometry.floor_normal()
    floor = next((n for n in geometry.planes if role(n) == "floor"), None)
    materials = {}
    for name, plane in geometry.planes.items():
        how = f"rectified from its vanishing lines ({geometry.focal_how})"
        if plane is None:
            normal = np.array([0.0, 0.0, 1.0])
            distance = {"floor": CAMERA_HEIGHT, "ceiling": CEILING_ABOVE_CAMERA}.get(role(name)) or \
                _distance_from_floor(normal, masks[name], masks.get(floor), floor_normal, K)
            how = ("as seen (an object is no plane)" if role(name) == "object"
                   else "as seen (no two families of lines to find its plane)")
        else:
            normal, distance = plane
            if name in geometry.square_to:
                how = f"rectified square to {geometry.square_to[name]} (its own lines give no plane)"
        material = _rectify(name, style.image, masks[name], K, normal, distance, how)
        if material is not None:
            if role(name) == "wall" and plane is not None:
                up = -floor_normal if floor_normal is not None else np.array([0.0, -1.0, 0.0])
                material.azimuth = azimuth(normal, np.array([0.0, 0.0, 1.0]), up)
            materials[name] = material
    return materials


def azimuth(normal: np.ndarray, forward: np.ndarray, up: np.ndarray) -> float:
    """Signed angle (degrees) from `forward` to `normal`, both flattened to the plane orthogonal to
    `up`: where a wall stands relative to a camera looking along `forward` (a right-handed frame)."""
    def flat(v):
        v = v - (v @ up) * up
        return v / max(float(np.linalg.norm(v)), 1e-9)
    f, n = flat(forward), flat(normal)
    return float(np.degrees(np.arctan2(up @ np.cross(f, n), f @ n)))


def _vanishing_points(segments: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                      iterations: int = 400, tolerance_deg: float = 1.5, min_inliers: int = 5) -> list[np.ndarray]:
    """Up to two vanishing points (homogeneous, pixel coordinates) of the segments lying in `mask`."""
    near = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    h, w = mask.shape
    ends = segments.reshape(-1, 2, 2)
    lengths = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1)
    mids = ends.mean(1)
    inside = near[np.clip(mids[:, 1].astype(int), 0, h - 1), np.clip(mids[:, 0].astype(int), 0, w - 1)]
    keep = inside & (lengths >= max(8.0, 0.015 * np.hypot(h, w)))
    ends, lengths, mids = ends[keep], lengths[keep], mids[keep]
    points = []
    scale = float(max(h, w))
    guess = _default_K(w, h)
    for _ in range(3):
        if len(ends) < min_inliers or len(points) == 2:
            break
        # lines in coordinates centred and scaled to ~1, so the cross products are well conditioned
        a = np.c_[(ends[:, 0] - [w / 2, h / 2]) / scale, np.ones(len(ends))]
        b = np.c_[(ends[:, 1] - [w / 2, h / 2]) / scale, np.ones(len(ends))]
        lines = np.cross(a, b)
        directions = (ends[:, 1] - ends[:, 0]) / lengths[:, None]
        centres = (mids - [w / 2, h / 2]) / scale
        best, best_inliers = None, None
        weights = lengths / lengths.sum()
        for _ in range(iterations):
            i, j = rng.choice(len(ends), 2, replace=False, p=weights)
            vp = np.cross(lines[i], lines[j])
            if np.linalg.norm(vp) < 1e-12:
                continue
            vp = vp / np.linalg.norm(vp)
            towards = vp[None, :2] - centres * vp[2]
            towards /= np.linalg.norm(towards, axis=1, keepdims=True) + 1e-12
            cosine = np.abs((towards * directions).sum(1))
            inliers = cosine > np.cos(np.radians(tolerance_deg))
            if best_inliers is None or lengths[inliers].sum() > lengths[best_inliers].sum():
                best, best_inliers = vp, inliers
        if best is None or best_inliers.sum() < min_inliers:
            break
        # back to pixel coordinates
        point = np.array([best[0] * scale + best[2] * w / 2, best[1] * scale + best[2] * h / 2, best[2]])
        # a family's lines that are not quite parallel in the photo (a plank floor's boards, a wall's
        # verticals) give a second point near the first: one family, not the plane's second direction
        if not points or _angle(points[0], point, guess) >= MIN_FAMILY_ANGLE:
            points.append(point)
        ends, lengths, mids = ends[~best_inliers], lengths[~best_inliers], mids[~best_inliers]
    return points


def _default_K(width: int, height: int) -> np.ndarray:
    focal = 0.5 * width / np.tan(np.radians(DEFAULT_HFOV) / 2)
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])


def _direction(point: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The unit 3D direction (camera coordinates) of a vanishing point (homogeneous pixels)."""
    direction = np.linalg.solve(K, point)
    return direction / np.linalg.norm(direction)


def _angle(a: np.ndarray, b: np.ndarray, K: np.ndarray) -> float:
    """Degrees between the (unsigned) directions of two vanishing points."""
    return float(np.degrees(np.arccos(min(1.0, abs(float(_direction(a, K) @ _direction(b, K)))))))


def _vertical(vanishing: dict[str, list[np.ndarray]], K: np.ndarray) -> np.ndarray | None:
    """The floor's normal (pointing down, away from the camera) from the walls' vertical lines: their
    vanishing point whose direction lies within `MAX_CAMERA_PITCH` of the photo's vertical. A plank
    floor's lines are one family (the boards' ends hardly show), so its own plane is unknown, but the
    walls' verticals fix it (the office exemplar's)."""
    for name, points in vanishing.items():
        for point in points if role(name) == "wall" else []:
            down = _direction(point, K)
            down = down * np.sign(down[1])
            if down[1] >= np.cos(np.radians(MAX_CAMERA_PITCH)):
                return down
    return None


def _focal(vanishing: dict[str, list[np.ndarray]], width: int, height: int) -> tuple[float, str]:
    """From two vanishing points whose directions are orthogonal (finite, taken square: a tiled or
    boarded floor's two directions, else a wall's verticals and a horizontal family of the room) a
    plausible focal; else the default field of view."""
    centre = np.array([width / 2, height / 2])

    def from_pair(a: np.ndarray, b: np.ndarray) -> float | None:
        if min(abs(a[2]), abs(b[2])) < 1e-9:
            return None
        squared = -float((a[:2] / a[2] - centre) @ (b[:2] / b[2] - centre))
        return float(np.sqrt(squared)) if squared > 0 and 0.35 * width < np.sqrt(squared) < 2.5 * width else None

    for name, points in vanishing.items():
        if role(name) == "floor" and len(points) == 2 and (focal := from_pair(*points)) is not None:
            return focal, "focal from the floor's right angle"
    guess = _default_K(width, height)
    structure = [p for name, points in vanishing.items() if role(name) != "object" for p in points]
    vertical = [p for p in structure if abs(_direction(p, guess)[1]) >= np.cos(np.radians(MAX_CAMERA_PITCH))]
    level = [p for p in structure if abs(_direction(p, guess)[1]) <= np.sin(np.radians(MAX_CAMERA_PITCH))]
    focals = [f for a in vertical for b in level if (f := from_pair(a, b)) is not None]
    if focals:
        return float(np.median(focals)), "focal from the walls' verticals and a level family of lines"
    return float(guess[0, 0]), f"focal from a {DEFAULT_HFOV:.0f}° view"


def _plane_normal(points: list[np.ndarray], K: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The region's plane normal (camera coordinates, facing the camera) from its two vanishing points."""
    if len(points) < 2:
        return None
    horizon = np.cross(points[0], points[1])
    normal = K.T @ horizon
    if np.linalg.norm(normal) < 1e-12:
        return None
    normal = normal / np.linalg.norm(normal)
    rays = rays_of(np.argwhere(mask)[:, ::-1], K)
    # the region's pixels must see the plane in front of the camera: n·r > 0 with a positive distance
    side = rays @ normal
    if np.mean(side > 0) < 0.5:
        normal, side = -normal, -side
    if np.mean(side > 0.05) < 0.9:
        return None  # the vanishing line cuts through the region: not a plane of it
    return normal


def rays_of(pixels_xy: np.ndarray, K: np.ndarray) -> np.ndarray:
    homogeneous = np.c_[pixels_xy + 0.5, np.ones(len(pixels_xy))]
    return homogeneous @ np.linalg.inv(K).T


def _distance_from_floor(normal, mask, floor_mask, floor_normal, K) -> float:
    """A surface's distance along its normal, from where it touches the floor (pixels of it just above
    floor pixels), or `DEFAULT_DISTANCE`."""
    if floor_mask is None or floor_normal is None:
        return DEFAULT_DISTANCE
    below = np.zeros_like(floor_mask)
    below[:-3] = floor_mask[3:]
    contact = np.argwhere(mask & below)[:, ::-1]
    if len(contact) < 5:
        return DEFAULT_DISTANCE
    rays = rays_of(contact, K)
    along = rays @ floor_normal
    rays = rays[along > 1e-3]
    if len(rays) < 5:
        return DEFAULT_DISTANCE
    points = rays * (CAMERA_HEIGHT / (rays @ floor_normal))[:, None]
    distance = float(np.median(points @ normal))
    return distance if distance > 0.2 else DEFAULT_DISTANCE


def _rectify(name, image, mask, K, normal, distance, how) -> Material | None:
    """The region resampled onto its plane (normal·X = distance in camera coordinates) at the finest
    size it was seen at; shading divided out; dominant direction turned to the axes."""
    height, width = mask.shape
    across = np.array([1.0, 0.0, 0.0]) - normal[0] * normal
    if np.linalg.norm(across) < 1e-6:
        across = np.array([0.0, 1.0, 0.0]) - normal[1] * normal
    e1 = across / np.linalg.norm(across)
    e2 = np.cross(normal, e1)
    pixels = np.argwhere(mask)[:, ::-1]
    rays = rays_of(pixels, K)
    depth = distance / (rays @ normal)
    points = rays * depth[:, None]
    u, v = points @ e1, points @ e2
    # metres per pixel: the square root of a pixel's area on the plane, t / (f·√(n·r)) for the ray
    # r = K⁻¹p (z = 1) meeting the plane at t·r
    footprint = depth / K[0, 0] / np.sqrt(np.maximum(rays @ normal, 1e-6))
    texel = float(np.percentile(footprint, 10))
    sharp = footprint <= MAX_STRETCH * texel
    u0, u1 = np.percentile(u[sharp], [0.5, 99.5])
    v0, v1 = np.percentile(v[sharp], [0.5, 99.5])
    texel = max(texel, (u1 - u0) / MAX_SIDE, (v1 - v0) / MAX_SIDE)
    cols, rows = int((u1 - u0) / texel) + 1, int((v1 - v0) / texel) + 1
    if min(cols, rows) < MIN_SIDE:
        return None
    gu, gv = np.meshgrid(u0 + texel * np.arange(cols), v0 + texel * np.arange(rows))
    plane_points = distance * normal + gu[..., None] * e1 + gv[..., None] * e2
    projected = plane_points @ K.T
    z = projected[..., 2]
    map_x = (projected[..., 0] / np.maximum(z, 1e-9) - 0.5).astype(np.float32)
    map_y = (projected[..., 1] / np.maximum(z, 1e-9) - 0.5).astype(np.float32)
    sample = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    inside = cv2.remap(mask.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=0) > 0
    seen = cv2.remap(np.zeros(mask.shape, np.float32), map_x, map_y, cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=1) == 0
    # keep texels seen sharply enough: their footprint, evaluated at the texel's own ray
    texel_footprint = np.maximum(z, 1e-9) ** 1.5 / K[0, 0] / np.sqrt(distance)
    valid = inside & seen & (z > 0) & (texel_footprint <= MAX_STRETCH * texel)
    valid = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    valid &= ~highlights(sample, valid)
    if largest_block(valid) < MIN_SIDE:
        return None
    sample = flatten_shading(sample, valid)
    sample, valid = align_to_axes(sample, valid)
    return Material(name, sample.astype(np.float32), valid, texel, how)


def highlights(sample: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Texels of `sample` where the photo's light saturated it (`HIGHLIGHT_SHARE`), with a 2-texel rim:
    nothing there tells the material's colour."""
    saturated = (sample.min(-1) >= SATURATED) & valid
    _, blobs, stats, _ = cv2.connectedComponentsWithStats(saturated.astype(np.uint8), connectivity=8)
    share = stats[:, cv2.CC_STAT_AREA] / max(int(valid.sum()), 1)
    light = (share > HIGHLIGHT_SHARE) & (share < 0.5)
    light[0] = False
    return cv2.dilate(light[blobs].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def flatten_shading(sample: np.ndarray, valid: np.ndarray, fraction: float = 0.12) -> np.ndarray:
    """`sample` with its low-frequency lightness (blur of `fraction` of its size, over valid texels
    only) divided out, keeping its mean: the material's albedo pattern without the photo's light."""
    luma = sample @ np.array([0.299, 0.587, 0.114], np.float32)
    sigma = max(2.0, fraction * min(sample.shape[:2]))
    low = masked_blur(luma, valid, sigma)
    mean = float(luma[valid].mean())
    return np.clip(sample * (mean / np.maximum(low, 1e-3))[..., None], 0, 1)


def align_to_axes(sample: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn the sample so its dominant edge direction (gradient orientations modulo 90°) is an axis."""
    gray = sample.mean(-1)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    inner = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    magnitude, angle = np.hypot(gx, gy)[inner], np.arctan2(gy, gx)[inner]
    if magnitude.sum() < 1e-6:
        return sample, valid
    # angles modulo 90°, averaged on the circle (×4)
    vector = (magnitude * np.exp(4j * angle)).sum()
    if abs(vector) < 0.15 * magnitude.sum():
        return sample, valid  # no dominant direction (marble, foliage): leave it
    degrees = np.degrees(np.angle(vector) / 4)
    if abs(degrees) < 1.0:
        return sample, valid
    h, w = valid.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (int(h * sin + w * cos) + 1, int(h * cos + w * sin) + 1)
    turn[:, 2] += (np.array(size) / 2) - (w / 2, h / 2)
    turned = cv2.warpAffine(sample, turn, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    kept = cv2.warpAffine(valid.astype(np.uint8), turn, size, flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return turned, cv2.erode(kept.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
