"""Procedural surface textures for the sample scenes: wood planks, tiles, wallpaper, paintings, rugs...

A texture maps face coordinates `uv` (metres from the face's lower-left corner, `[M, 2]`) and the face
`extent` (width, height in metres) to RGB in [0, 1]. All of them carry fine detail (grain, grout,
weave) so SIFT finds features, and all are deterministic for their `seed`. Detail stops at about
1.5 cm (60 cycles per metre): finer patterns alias at video resolution into moiré that does not move
with the surface, which misleads optical flow, feature matching and reconstruction alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Color = tuple[float, float, float]


def _hash(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Integer lattice → uniform [0, 1) (a small avalanche hash on uint32)."""
    h = ix.astype(np.int64).astype(np.uint32) * np.uint32(0x8DA6B343)
    h ^= iy.astype(np.int64).astype(np.uint32) * np.uint32(0xD8163841)
    h ^= np.uint32((seed * 0x9E3779B1 + 0x7F4A7C15) & 0xFFFFFFFF)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0x5BD1E995)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x27D4EB2F)
    h ^= h >> np.uint32(16)
    return h.astype(np.float64) / 4294967296.0


def cell_random(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """A random number per integer cell, in [0, 1)."""
    return _hash(np.asarray(ix), np.asarray(iy), seed)


def value_noise(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Smooth value noise in [0, 1) with unit lattice spacing."""
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    n00 = _hash(x0, y0, seed)
    n10 = _hash(x0 + 1, y0, seed)
    n01 = _hash(x0, y0 + 1, seed)
    n11 = _hash(x0 + 1, y0 + 1, seed)
    return (n00 * (1 - sx) + n10 * sx) * (1 - sy) + (n01 * (1 - sx) + n11 * sx) * sy


def fbm(x: np.ndarray, y: np.ndarray, seed: int = 0, octaves: int = 4, gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value noise, normalised to [0, 1)."""
    total, amplitude, norm = 0.0, 1.0, 0.0
    for octave in range(octaves):
        scale = 2.0**octave
        total = total + amplitude * value_noise(x * scale, y * scale, seed + 101 * octave)
        norm += amplitude
        amplitude *= gain
    return total / norm


def _mix(a: Color | np.ndarray, b: Color | np.ndarray, t: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a + (b - a) * np.asarray(t)[..., None]


def _rgb(c: Color) -> np.ndarray:
    return np.asarray(c, np.float64)


@dataclass
class Texture:
    seed: int = 0

    def __call__(self, uv: np.ndarray, extent: tuple[float, float]) -> np.ndarray:
        raise NotImplementedError


@dataclass
class WoodPlanks(Texture):
    light: Color = (0.72, 0.52, 0.32)
    dark: Color = (0.48, 0.30, 0.16)
    plank_width: float = 0.16
    plank_length: float = 1.3

    def __call__(self, uv, extent):
        u, v = uv[:, 0], uv[:, 1]
        row = np.floor(v / self.plank_width)
        offset = cell_random(row, 0 * row, self.seed) * self.plank_length
        col = np.floor((u + offset) / self.plank_length)
        tone = cell_random(col, row, self.seed + 1)
        grain = fbm(u * 1.5 + tone * 40, v * 15.0 + row * 3.1, self.seed + 2, octaves=3)
        rings = 0.5 + 0.5 * np.sin((v * 90 + 8 * fbm(u * 2, v * 6, self.seed + 3)) + tone * 6)
        base = _mix(self.dark, self.light, 0.35 + 0.5 * tone)
        color = base * (0.78 + 0.3 * grain[:, None] + 0.06 * rings[:, None])
        fv = v / self.plank_width - row
        fu = (u + offset) / self.plank_length - col
        seam = (np.minimum(fv, 1 - fv) * self.plank_width < 0.004) | (np.minimum(fu, 1 - fu) * self.plank_length < 0.003)
        color[seam] *= 0.45
        return color


@dataclass
class Tiles(Texture):
    color_a: Color = (0.86, 0.85, 0.82)
    color_b: Color = (0.62, 0.64, 0.66)
    grout_color: Color = (0.35, 0.34, 0.33)
    size: float = 0.4
    grout: float = 0.008
    checker: bool = False

    def __call__(self, uv, extent):
        u, v = uv[:, 0] / self.size, uv[:, 1] / self.size
        iu, iv = np.floor(u), np.floor(v)
        pick = ((iu + iv) % 2 == 0) if self.checker else cell_random(iu, iv, self.seed) < 0.5
        base = np.where(pick[:, None], _rgb(self.color_a), _rgb(self.color_b))
        variation = cell_random(iu, iv, self.seed + 5)
        vein = np.abs(fbm(uv[:, 0] * 6, uv[:, 1] * 6, self.seed + 7, octaves=4) - 0.5)
        speck = value_noise(uv[:, 0] * 50, uv[:, 1] * 50, self.seed + 9)
        color = base * (0.9 + 0.12 * variation[:, None]) * (0.85 + 0.3 * np.clip(vein * 4, 0, 1)[:, None])
        color *= (0.95 + 0.1 * speck)[:, None]
        fu, fv = u - iu, v - iv
        is_grout = np.minimum(np.minimum(fu, 1 - fu), np.minimum(fv, 1 - fv)) * self.size < self.grout / 2
        color[is_grout] = _rgb(self.grout_color)
        return color


@dataclass
class Wallpaper(Texture):
    color_a: Color = (0.80, 0.74, 0.60)
    color_b: Color = (0.72, 0.64, 0.50)
    motif: Color = (0.55, 0.35, 0.30)
    stripe: float = 0.12
    motif_spacing: float = 0.3

    def __call__(self, uv, extent):
        u, v = uv[:, 0], uv[:, 1]
        stripe = np.floor(u / self.stripe) % 2
        color = _mix(self.color_a, self.color_b, stripe)
        # A diamond-and-dot motif centred in every other stripe, offset every other row.
        cu = (np.floor(u / (2 * self.stripe)) + 0.25) * 2 * self.stripe
        row = np.floor(v / self.motif_spacing)
        cv = (row + 0.5) * self.motif_spacing
        du, dv = np.abs(u - cu - self.stripe * (row % 2)), np.abs(v - cv)
        diamond = (du / (0.4 * self.stripe) + dv / (0.3 * self.motif_spacing)) < 1.0
        hollow = (du / (0.25 * self.stripe) + dv / (0.18 * self.motif_spacing)) < 1.0
        pattern = diamond & ~hollow
        color[pattern] = _mix(color[pattern], self.motif, 0.85)
        dot = (du - self.stripe) ** 2 + (dv - 0.5 * self.motif_spacing) ** 2 < (0.012) ** 2
        color[dot] = _rgb(self.motif) * 0.8
        paper = fbm(u * 15, v * 15, self.seed, octaves=3)
        return color * (0.92 + 0.12 * paper[:, None])


@dataclass
class Plaster(Texture):
    color: Color = (0.92, 0.91, 0.88)
    amount: float = 0.08

    def __call__(self, uv, extent):
        n = fbm(uv[:, 0] * 3, uv[:, 1] * 3, self.seed, octaves=5)
        fine = value_noise(uv[:, 0] * 40, uv[:, 1] * 40, self.seed + 1)
        return _rgb(self.color) * (1 - self.amount + 2 * self.amount * (0.7 * n + 0.3 * fine))[:, None]


@dataclass
class Painting(Texture):
    """A framed abstract picture: frame border, gradient ground, coloured shapes, brush noise."""

    frame: Color = (0.25, 0.17, 0.10)
    border: float = 0.05
    palette: tuple[Color, ...] = ((0.85, 0.30, 0.20), (0.20, 0.45, 0.75), (0.95, 0.80, 0.25), (0.20, 0.60, 0.35))

    def __call__(self, uv, extent):
        w, h = extent
        u, v = uv[:, 0], uv[:, 1]
        rng = np.random.default_rng(self.seed)
        ground = _mix(rng.uniform(0.6, 0.95, 3), rng.uniform(0.2, 0.6, 3), np.clip(v / max(h, 1e-6), 0, 1))
        color = ground.copy()
        for _ in range(9):
            c = np.asarray(self.palette[rng.integers(len(self.palette))]) * rng.uniform(0.7, 1.1)
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            if rng.random() < 0.5:
                r = rng.uniform(0.05, 0.25) * min(w, h) * 2
                inside = (u - x0) ** 2 + (v - y0) ** 2 < r * r
            else:
                hw, hh = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
                inside = (np.abs(u - x0) < hw) & (np.abs(v - y0) < hh)
            color[inside] = c
        brush = fbm(u * 12, v * 12, self.seed + 3, octaves=3)
        color *= (0.85 + 0.25 * brush)[:, None]
        edge = np.minimum(np.minimum(u, w - u), np.minimum(v, h - v))
        in_frame = edge < self.border
        grain = fbm(u * 8, v * 30, self.seed + 4, octaves=2)
        color[in_frame] = _rgb(self.frame) * (0.8 + 0.4 * grain[in_frame, None])
        color[(edge >= self.border) & (edge < self.border + 0.01)] *= 0.6  # inner shadow line
        return np.clip(color, 0, 1)


@dataclass
class Rug(Texture):
    field_color: Color = (0.60, 0.16, 0.14)
    border_color: Color = (0.15, 0.20, 0.40)
    pattern_color: Color = (0.90, 0.80, 0.55)
    cell: float = 0.25

    def __call__(self, uv, extent):
        w, h = extent
        u, v = uv[:, 0], uv[:, 1]
        edge = np.minimum(np.minimum(u, w - u), np.minimum(v, h - v))
        color = np.broadcast_to(_rgb(self.field_color), (len(u), 3)).copy()
        cu, cv = (u / self.cell) % 1 - 0.5, (v / self.cell) % 1 - 0.5
        diamond = np.abs(cu) + np.abs(cv)
        color[(diamond > 0.28) & (diamond < 0.36)] = _rgb(self.pattern_color)
        color[diamond < 0.08] = _rgb(self.border_color)
        color[edge < 0.15] = _rgb(self.border_color)
        color[(edge > 0.05) & (edge < 0.08)] = _rgb(self.pattern_color)
        weave = value_noise(u * 50, v * 50, self.seed) * 0.5 + 0.5 * fbm(u * 12, v * 12, self.seed + 1)
        return color * (0.8 + 0.35 * weave[:, None])


@dataclass
class Fabric(Texture):
    color: Color = (0.30, 0.42, 0.55)
    check: float = 0.0  # > 0: a check pattern with this cell size in metres
    check_color: Color = (0.85, 0.85, 0.80)

    def __call__(self, uv, extent):
        u, v = uv[:, 0], uv[:, 1]
        color = np.broadcast_to(_rgb(self.color), (len(u), 3)).copy()
        if self.check > 0:
            lines = ((u / self.check) % 1 < 0.12) | ((v / self.check) % 1 < 0.12)
            color[lines] = _mix(color[lines], self.check_color, 0.6)
        weave = value_noise(u * 45, v * 45, self.seed + 1)
        mottle = fbm(u * 5, v * 5, self.seed, octaves=4)
        return color * (0.8 + 0.12 * weave[:, None] + 0.25 * mottle[:, None])


@dataclass
class Books(Texture):
    """Rows of book spines with random widths and colours."""

    palette: tuple[Color, ...] = (
        (0.55, 0.12, 0.12), (0.12, 0.25, 0.50), (0.15, 0.40, 0.20), (0.80, 0.65, 0.30),
        (0.85, 0.85, 0.80), (0.30, 0.20, 0.35), (0.10, 0.10, 0.10),
    )

    def __call__(self, uv, extent):
        u, v = uv[:, 0], uv[:, 1]
        idx = np.floor(u / 0.035 + 3 * value_noise(u * 4, 0 * u, self.seed))
        pick = (cell_random(idx, 0 * idx, self.seed) * len(self.palette)).astype(int)
        color = np.asarray(self.palette)[pick]
        height = 0.7 + 0.3 * cell_random(idx, 1 + 0 * idx, self.seed)
        rel = v / max(extent[1], 1e-6)
        color = np.where((rel > height)[:, None], _rgb((0.2, 0.15, 0.1)), color)
        band = (np.abs(rel - 0.75 * height) < 0.03)
        color[band] = color[band] * 0.5 + 0.4
        return color * (0.85 + 0.2 * fbm(u * 15, v * 15, self.seed + 1, octaves=2)[:, None])


@dataclass
class Solid(Texture):
    color: Color = (0.5, 0.5, 0.5)
    noise: float = 0.15
    scale: float = 20.0

    def __call__(self, uv, extent):
        n = fbm(uv[:, 0] * self.scale, uv[:, 1] * self.scale, self.seed, octaves=2)
        return _rgb(self.color) * (1 - self.noise + 2 * self.noise * n)[:, None]


@dataclass
class Stripes(Texture):
    color_a: Color = (0.8, 0.2, 0.2)
    color_b: Color = (0.95, 0.95, 0.9)
    width: float = 0.04
    along_u: bool = False

    def __call__(self, uv, extent):
        coord = uv[:, 0] if self.along_u else uv[:, 1]
        t = (np.floor(coord / self.width) % 2).astype(np.float64)
        mottle = fbm(uv[:, 0] * 10, uv[:, 1] * 10, self.seed, octaves=3)
        return _mix(self.color_a, self.color_b, t) * (0.85 + 0.25 * mottle[:, None])


@dataclass
class Leaves(Texture):
    color: Color = (0.20, 0.45, 0.18)

    def __call__(self, uv, extent):
        n = fbm(uv[:, 0] * 15, uv[:, 1] * 15, self.seed, octaves=2)
        veins = value_noise(uv[:, 0] * 40, uv[:, 1] * 40, self.seed + 1)
        return _rgb(self.color) * (0.55 + 0.7 * n[:, None] + 0.15 * veins[:, None])


@dataclass
class Whiteboard(Texture):
    frame: Color = (0.7, 0.7, 0.72)

    def __call__(self, uv, extent):
        w, h = extent
        u, v = uv[:, 0], uv[:, 1]
        rng = np.random.default_rng(self.seed)
        color = np.full((len(u), 3), 0.95)
        for _ in range(14):  # marker scribbles: sine strokes of random colour
            c = rng.choice([(0.1, 0.2, 0.7), (0.75, 0.1, 0.1), (0.1, 0.1, 0.1), (0.1, 0.5, 0.2)])
            y0, x0, x1 = rng.uniform(0.15, 0.85) * h, rng.uniform(0.05, 0.5) * w, rng.uniform(0.5, 0.95) * w
            amp, freq = rng.uniform(0.01, 0.06), rng.uniform(10, 40)
            stroke = (np.abs(v - y0 - amp * np.sin(u * freq)) < 0.006) & (u > x0) & (u < x1)
            color[stroke] = c
        edge = np.minimum(np.minimum(u, w - u), np.minimum(v, h - v))
        color[edge < 0.03] = _rgb(self.frame)
        return color


@dataclass
class Multi(Texture):
    """Different textures on different box faces: `faces` maps a face name (e.g. '+z') to a texture."""

    default: Texture = field(default_factory=Solid)
    faces: dict = field(default_factory=dict)
