"""Real people for the sample scenes: cut-outs of a clip's masked person, drawn as camera-facing quads.

A `Cutout` holds one clip's person frame by frame as RGBA sprites (premultiplied when scaled, so the
clip's background does not bleed into the edge; alpha softened by a fraction of a texel), each with
its feet row and a horizontal anchor. Sprites are scaled so the person's height, smoothed over
neighbouring frames, is `TEXELS_PER_HEIGHT` texels: a crouch stays lower than a stride, while the
source camera's zoom does not change the person's size.

A `Billboard` is one person in one rendered frame: a vertical quad standing on the floor (z = 0)
under a walker, turned to face the camera, that rays hit analytically (ray-plane intersection, then
a bilinear look-up of the sprite). The quad's depth is the person's depth in the ground truth.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .. import media
from ..errors import InputError

TEXELS_PER_HEIGHT = 240  # sprite texels from the feet to the top of the head of an upright person
ALPHA_HIT = 0.5  # a ray hits the person where the sprite's alpha reaches this (the ground-truth mask)
CLIP_FPS = 24.0  # DAVIS clips are 24 fps; the pose advances at this rate while the person walks

# The built-in people: the runner (from frame 41, after he has climbed the rail) and the dancer, with
# the way each faces in its clip (+1: towards the image's right), so a person walking the other way
# is mirrored instead of moonwalking.
DEFAULT_CLIPS = (("davis_parkour", 1, 41), ("davis_dance_twirl", 0, 0))


def data_folders() -> list[Path]:
    """Where the shared real clips are looked for: $OCCLURESTYLE_DATA, ../shared/data from the working
    directory and from the project's checkout."""
    folders = [Path(os.environ["OCCLURESTYLE_DATA"])] if os.environ.get("OCCLURESTYLE_DATA") else []
    folders += [Path.cwd().parent / "shared" / "data", Path(__file__).resolve().parents[3] / "shared" / "data"]
    return folders


def default_clips() -> list[str]:
    """The built-in clips found on this machine (empty when the shared data is absent)."""
    for folder in data_folders():
        found = [str(folder / name) for name, _, _ in DEFAULT_CLIPS if (folder / name / "masks").is_dir()]
        if len(found) == len(DEFAULT_CLIPS):
            return found
    return []


def _numbered(folder: Path) -> dict[int, Path]:
    files = {}
    for path in media.list_images(folder):
        digits = re.findall(r"\d+", path.stem)
        if digits:
            files[int(digits[-1])] = path
    return files


@dataclass
class Sprite:
    rgb: np.ndarray  # [h, w, 3] float32, 0-1
    alpha: np.ndarray  # [h, w] float32, 0-1
    feet_row: float  # texel row of the soles
    anchor_col: float  # texel column of the body's centre (the point above the floor position)
    clip: Path
    source: int  # the clip's frame number
    origin: tuple[float, float]  # source pixel (x, y) of texel (0, 0)'s centre
    source_per_texel: float

    def __post_init__(self):
        self.rgba = np.concatenate([self.rgb, self.alpha[..., None]], axis=2)  # one look-up for both


class Cutout:
    """A clip's masked person as a sequence of sprites: the longest run of frames in which the mask
    is present and clear of the image border (a person cut by the border would show a straight edge)."""

    def __init__(self, clip: str | Path, facing: int = 0, first: int = 0):
        clip = Path(clip)
        frames, masks = clip / "frames", clip / "masks"
        if not frames.is_dir() or not masks.is_dir():
            raise InputError(f"a people clip needs frames/ and masks/ folders: {clip} has "
                             f"{'no frames/' if not frames.is_dir() else 'no masks/'}")
        self.clip, self.facing = clip, facing
        by_number = _numbered(frames)
        mask_by_number = _numbered(masks)
        numbers = sorted(n for n in set(by_number) & set(mask_by_number) if n >= first)
        boxes = {}
        for n in numbers:
            mask = media.read_gray(mask_by_number[n]) > 127
            ys, xs = np.nonzero(mask)
            if len(ys) < 200:
                continue
            h, w = mask.shape
            if ys.min() > 2 and xs.min() > 2 and ys.max() < h - 3 and xs.max() < w - 3:
                boxes[n] = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1, xs.mean())
        run = _longest_run(sorted(boxes))
        if len(run) < 8:
            raise InputError(f"{clip}: fewer than 8 consecutive frames show the whole masked person clear of "
                             "the image border; a cut-out needs a clip where the person is fully in view")
        heights = np.array([boxes[n][1] - boxes[n][0] for n in run], np.float64)
        smoothed = np.array([np.median(heights[max(0, i - 8):i + 9]) for i in range(len(run))])
        self.sprites = [self._sprite(by_number[n], mask_by_number[n], boxes[n], n, TEXELS_PER_HEIGHT / ref)
                        for n, ref in zip(run, smoothed)]

    def _sprite(self, frame_path: Path, mask_path: Path, box, number: int, scale: float) -> Sprite:
        y0, y1, x0, x1, centre_x = box
        pad = 4
        image = media.read_image(frame_path).astype(np.float32) / 255.0
        mask = (media.read_gray(mask_path) > 127).astype(np.float32)
        h, w = mask.shape
        ya, yb, xa, xb = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)
        crop_rgb, crop_alpha = image[ya:yb, xa:xb], mask[ya:yb, xa:xb]
        size = (max(1, round((xb - xa) * scale)), max(1, round((yb - ya) * scale)))
        alpha = cv2.resize(crop_alpha, size, interpolation=cv2.INTER_AREA)
        premultiplied = cv2.resize(crop_rgb * crop_alpha[..., None], size, interpolation=cv2.INTER_AREA)
        rgb = premultiplied / np.maximum(alpha, 1e-3)[..., None]
        alpha = cv2.GaussianBlur(alpha, (0, 0), 0.6)  # the soft edge of a matte, not a cut with scissors
        # texel centres sit at (i + 0.5) / scale source pixels from the crop's corner
        return Sprite(rgb=np.clip(rgb, 0, 1).astype(np.float32), alpha=alpha.astype(np.float32),
                      feet_row=(y1 - ya) * scale - 0.5, anchor_col=(centre_x + 0.5 - xa) * scale - 0.5,
                      clip=self.clip, source=number, origin=(xa - 0.5 + 0.5 / scale, ya - 0.5 + 0.5 / scale),
                      source_per_texel=1.0 / scale)

    def sprite_at(self, t: float, moving: bool) -> Sprite:
        """The pose at time t: the clip played forwards and backwards while walking, its first frame
        while standing still."""
        if not moving or len(self.sprites) == 1:
            return self.sprites[0]
        period = 2 * (len(self.sprites) - 1)
        k = int(round(t * CLIP_FPS)) % period
        return self.sprites[k if k < len(self.sprites) else period - k]


@lru_cache(maxsize=8)
def load_cutout(clip: str, facing: int = 0, first: int = 0) -> Cutout:
    return Cutout(clip, facing, first)


def _longest_run(numbers: list[int]) -> list[int]:
    best: list[int] = []
    current: list[int] = []
    for n in numbers:
        current = current + [n] if current and n == current[-1] + 1 else [n]
        if len(current) > len(best):
            best = current
    return best


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """`image` sampled at texel coordinates (centres at integers); zero outside."""
    h, w = image.shape[:2]
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = (rows - r0).astype(np.float32), (cols - c0).astype(np.float32)
    out = np.zeros((len(rows),) + image.shape[2:], np.float32)
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            r, c = r0 + dr, c0 + dc
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            weight = (wr * wc * inside).reshape((-1,) + (1,) * (image.ndim - 2))
            out += weight * image[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
    return out


@dataclass
class Billboard:
    """One person's quad in one frame: standing on the floor at `base`, facing the camera at `eye`."""

    base: np.ndarray  # floor point under the body's centre (z = 0)
    eye: np.ndarray
    height: float  # metres from the soles to the top of the head when upright
    heading: float  # walking direction (yaw), to mirror the sprite when it walks the other way
    sprite: Sprite
    facing: int
    instance: int

    def __post_init__(self):
        towards = self.eye[:2] - self.base[:2]
        towards = towards / max(np.linalg.norm(towards), 1e-9)
        self.normal = np.array([towards[0], towards[1], 0.0])
        self.right = np.array([towards[1], -towards[0], 0.0])  # the camera's right on the quad
        self.metres_per_texel = self.height / TEXELS_PER_HEIGHT
        on_screen = np.cos(self.heading) * self.right[0] + np.sin(self.heading) * self.right[1]
        self.mirrored = self.facing != 0 and np.sign(on_screen) != np.sign(self.facing)

    def texel(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sprite (row, col) of world points on the quad's plane."""
        across = (points - self.base) @ self.right / self.metres_per_texel
        rows = self.sprite.feet_row - points[:, 2] / self.metres_per_texel
        if self.mirrored:
            across = -across
        return rows, self.sprite.anchor_col + across

    def intersect(self, directions: np.ndarray):
        """For rays from the camera (`eye`): the ray parameter (inf where a ray does not meet the quad's
        plane in front of the camera), the sprite's alpha and its colour there."""
        t = np.full(len(directions), np.inf)
        alpha = np.zeros(len(directions), np.float32)
        rgb = np.zeros((len(directions), 3), np.float32)
        # the plane is vertical and the eye on its normal: distance and heights need no 3D points
        towards = directions[:, 0] * self.normal[0] + directions[:, 1] * self.normal[1]
        distance = float(np.hypot(*(self.eye[:2] - self.base[:2])))
        ahead = np.flatnonzero(towards < -1e-9)
        t_ahead = distance / -towards[ahead]
        rows = self.sprite.feet_row - (self.eye[2] + t_ahead * directions[ahead, 2]) / self.metres_per_texel
        h, w = self.sprite.alpha.shape
        keep = (rows > -1) & (rows < h)
        ahead, t_ahead, rows = ahead[keep], t_ahead[keep], rows[keep]
        across = t_ahead * (directions[ahead, 0] * self.right[0] + directions[ahead, 1] * self.right[1])
        cols = self.sprite.anchor_col + (-across if self.mirrored else across) / self.metres_per_texel
        keep = (cols > -1) & (cols < w)
        ahead = ahead[keep]
        t[ahead] = t_ahead[keep]
        rgba = _bilinear(self.sprite.rgba, rows[keep], cols[keep])
        alpha[ahead], rgb[ahead] = rgba[:, 3], rgba[:, :3]
        return t, alpha, rgb

    def source_pixels(self, points: np.ndarray) -> np.ndarray:
        """The clip's pixel (x, y) shown at world points on the quad."""
        rows, cols = self.texel(points)
        s = self.sprite
        return np.stack([s.origin[0] + cols * s.source_per_texel, s.origin[1] + rows * s.source_per_texel], axis=1)
