"""Free space: where a frame sees a person, or a point the registration triangulated, nothing of the
static scene lies in front of it.

Person pixels are left out of the photometric loss, so nothing stops training from putting splats in
front of a person: walking past a bookcase close to the camera, a person hides a wedge of space that
splats fill to explain slivers of the bookcase in a few other frames, and the frames where the person
stood then show those splats instead of the bookcase behind. Given how far the people are, the trainer
removes every splat whose centre lies in front of a person that some frame sees.

How far the people are cannot be read off the frames without learned priors: everything visible bounds
a person's depth from above (they hide what is behind them), and their feet, the one lower bound, are
often out of frame or behind furniture. So the depth comes from a folder of per-frame depth maps made by
any monocular depth tool (relative depth or disparity, as such tools write them), aligned to each frame's
registered keypoints by a robust affine fit.

The same maps also give the depth of the background right beside each person, which joins the
trainer's keypoint depth term: those slivers of background are what the misplaced splats were fitted
to, and pinned at their depth they are explained by the surface that is really there. On the office
sample, true depth there alone lifted the background where people stood by ~2 dB; true depth anywhere
else in the frame, or flow-triangulated depth beside people (textured pixels only, with outliers),
gave nothing.

The registration gives free space too, with no depth tool: a frame that observed a triangulated point
looked through the space in front of it, so a splat well in front of it hangs in the air (a floater,
fitted to some frame's pixels and in the way from others). `keypoint_limits` keeps, per frame, the
pixels at its keypoints with a fraction of their depth; the trainer removes what lies in front
(`TrainOptions.floater_margin`) and eval/floaters.py counts what does from frames training left out.
Only what a frame observed counts, not every registered point that projects nearby: a thin railing
near the camera has few points of its own, and the ground seen past it would otherwise condemn it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError


def read_depth_maps(folder: str | Path, names: list[str], shape: tuple[int, int],
                    source_names: dict[str, str] | None = None) -> list[np.ndarray]:
    """Per frame: `<stem>.npy` (float [H,W]) or `<stem>.png` (16- or 8-bit), by the run frame's stem or
    the stem it had in its source (`source_names`, as the file masker matches masks), resized to
    `shape` (H, W), as float32."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"depth folder {folder} does not exist; pass the folder holding one depth map per frame")
    maps = []
    for name in names:
        stems = [s for s in (Path(name).stem, (source_names or {}).get(Path(name).stem)) if s]
        found = [folder / f"{s}{suffix}" for s in stems for suffix in (".npy", ".png")
                 if (folder / f"{s}{suffix}").is_file()]
        if not found:
            looked = " or ".join(f"{s}.npy/.png" for s in stems)
            raise InputError(f"{folder} has no depth map for frame {name} (looked for {looked}); every frame needs one")
        if found[0].suffix == ".npy":
            values = np.load(found[0]).astype(np.float32)
        else:
            values = cv2.imread(str(found[0]), cv2.IMREAD_UNCHANGED)
            if values is None:
                raise InputError(f"cannot read {found[0]}; is it a valid PNG file?")
            values = values.astype(np.float32)
        if values.ndim != 2:
            raise InputError(f"depth map {found[0]} has shape {values.shape}; expected one channel [H, W]")
        if values.shape != tuple(shape):
            values = cv2.resize(values, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        maps.append(values)
    return maps


def align_to_keypoints(values: np.ndarray, keypoints: np.ndarray, kind: str = "auto", iterations: int = 5
                       ) -> tuple[np.ndarray, float] | None:
    """A depth tool's map [H,W] in the registration's units: an affine fit of `values` to the keypoints'
    depth ([K, 3]: x, y, camera depth), as disparity (1/depth = a·v + b) or as depth (depth = a·v + b),
    refitted to the best 80% of the keypoints a few times (a keypoint on an edge reads the wrong side).
    `kind` "auto" keeps whichever fits better. Returns (depth map, median relative error at the
    keypoints), or None with fewer than 8 keypoints or no positive fit."""
    if len(keypoints) < 8:
        return None
    height, width = values.shape
    x = np.clip(keypoints[:, 0].astype(int), 0, width - 1)
    y = np.clip(keypoints[:, 1].astype(int), 0, height - 1)
    v, depth = values[y, x].astype(np.float64), keypoints[:, 2].astype(np.float64)
    best = None
    for candidate in (("disparity", "depth") if kind == "auto" else (kind,)):
        target = 1.0 / depth if candidate == "disparity" else depth
        keep = np.ones(len(v), bool)
        for _ in range(iterations):
            a, b = np.polyfit(v[keep], target[keep], 1)
            fitted = a * v + b
            error = np.abs(fitted - target) / np.abs(target)
            keep = error <= np.quantile(error, 0.8)
        mapped = a * values + b
        if candidate == "disparity":
            with np.errstate(divide="ignore"):
                mapped = np.where(mapped > 0, 1.0 / mapped, np.inf)
        at_keypoints = mapped[y, x]
        relative = float(np.median(np.abs(at_keypoints - depth) / depth))
        if np.isfinite(relative) and np.median(mapped) > 0 and (best is None or relative < best[1]):
            best = (mapped.astype(np.float32), relative)
    return best


def person_depth_limits(depths: list[np.ndarray], masks: list[np.ndarray], margin: float = 0.95,
                        erode: int = 2) -> np.ndarray:
    """[F, H, W]: `margin` times the person's depth at each person pixel (masks eroded by `erode` px, so
    that what stands in front of a person's outline keeps its splats), 0 elsewhere and in frames
    without a depth map (None)."""
    limits = np.zeros((len(masks), *masks[0].shape), np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1,) * 2)
    for f, (depth, mask) in enumerate(zip(depths, masks)):
        if depth is None or not mask.any():
            continue
        inner = cv2.erode(mask.astype(np.uint8), kernel) > 0 if erode > 0 else mask.astype(bool)
        inner &= np.isfinite(depth) & (depth > 0)
        limits[f][inner] = margin * depth[inner]
    return limits


def pixels_of(means: torch.Tensor, viewmat: torch.Tensor, K: torch.Tensor, shape: tuple[int, int]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Gaussians whose centre a camera sees inside its [H, W] frame: their indices, pixel column and
    row (floor of the projection) and camera depth."""
    height, width = shape
    camera = means @ viewmat[:3, :3].T + viewmat[:3, 3]
    z = camera[:, 2]
    x = K[0, 0] * camera[:, 0] / z.clamp_min(1e-9) + K[0, 2]
    y = K[1, 1] * camera[:, 1] / z.clamp_min(1e-9) + K[1, 2]
    index = ((z > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)).nonzero()[:, 0]
    return index, torch.floor(x[index]).long(), torch.floor(y[index]).long(), z[index]


def in_front_of_people(means: torch.Tensor, viewmats: torch.Tensor, Ks: torch.Tensor,
                       limits: torch.Tensor) -> torch.Tensor:
    """[N] bool: Gaussians whose centre projects, in some frame, onto a pixel with a limit (from
    `person_depth_limits`) at a camera depth below that limit."""
    found = torch.zeros(len(means), dtype=torch.bool, device=means.device)
    for viewmat, K, limit in zip(viewmats, Ks, limits):
        index, u, v, z = pixels_of(means, viewmat, K, limit.shape)
        found[index] |= z < limit[v, u]
    return found


FrameLimits = tuple[torch.Tensor, torch.Tensor]  # sorted flat pixel indices [P] int64, depth limits [P]


def keypoint_limits(keypoints: list, shape: tuple[int, int], margin: float = 0.5, radius: int = 1
                    ) -> list[FrameLimits]:
    """Per frame, the free space its keypoints ([K, 3]: x, y, camera depth, (0, 0) at the first pixel's
    top-left corner) vouch for: the pixels within `radius` (a square) of a keypoint with `margin` times
    its depth (the nearest keypoint's where several reach), as sorted flat indices into [H, W]."""
    height, width = shape
    dx, dy = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1))
    result = []
    for points in keypoints:
        points = np.asarray(points, np.float64).reshape(-1, 3)
        x = (np.floor(points[:, 0]).astype(np.int64)[:, None] + dx.ravel()).ravel()
        y = (np.floor(points[:, 1]).astype(np.int64)[:, None] + dy.ravel()).ravel()
        limit = np.repeat(margin * points[:, 2], dx.size)
        keep = (x >= 0) & (x < width) & (y >= 0) & (y < height) & (limit > 0)
        flat, limit = y[keep] * width + x[keep], limit[keep]
        order = np.lexsort((limit, flat))
        flat, limit = flat[order], limit[order]
        first = np.r_[True, flat[1:] != flat[:-1]] if len(flat) else np.zeros(0, bool)
        result.append((torch.from_numpy(flat[first]), torch.from_numpy(limit[first].astype(np.float32))))
    return result


def in_free_space(means: torch.Tensor, viewmats: torch.Tensor, Ks: torch.Tensor, limits: list[FrameLimits],
                  shape: tuple[int, int]) -> torch.Tensor:
    """[N] int: for each Gaussian, how many frames see its centre on a pixel with a limit (from
    `keypoint_limits`, made at the same `shape` (H, W)) at a camera depth below that limit."""
    count = torch.zeros(len(means), dtype=torch.int32, device=means.device)
    for viewmat, K, (pixels, limit) in zip(viewmats, Ks, limits):
        if len(pixels) == 0:
            continue
        pixels, limit = pixels.to(means.device), limit.to(means.device)
        index, u, v, z = pixels_of(means, viewmat, K, shape)
        flat = v * shape[1] + u
        at = torch.searchsorted(pixels, flat).clamp_max(len(pixels) - 1)
        ahead = (pixels[at] == flat) & (z < limit[at])
        count[index[ahead]] += 1
    return count


def depth_beside_people(depths: list[np.ndarray | None], masks: list[np.ndarray], band: float = 0.05,
                        per_frame: int = 1500, seed: int = 0) -> list[np.ndarray]:
    """Per frame, up to `per_frame` background pixels within `band` (a fraction of the image's longer side)
    of a person, with their depth from the aligned map: [N, 3] float32 rows (x, y, camera depth), (0, 0)
    at the first pixel's top-left corner, as the trainer's keypoints. The pixels right at the outline
    count most: leaving out the first 2 px cost the office 0.9 dB where people stood."""
    rng = np.random.default_rng(seed)
    samples = []
    for depth, mask in zip(depths, masks):
        if depth is None or not mask.any():
            samples.append(np.zeros((0, 3), np.float32))
            continue
        distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        near = (distance > 0) & (distance <= band * max(mask.shape)) & np.isfinite(depth) & (depth > 0)
        ys, xs = np.nonzero(near)
        pick = rng.choice(len(xs), min(per_frame, len(xs)), replace=False)
        samples.append(np.column_stack([xs[pick] + 0.5, ys[pick] + 0.5, depth[ys[pick], xs[pick]]]).astype(np.float32))
    return samples


def load_aligned_depths(depth_dir: str | Path, names: list[str], masks: list[np.ndarray],
                        keypoints: list[np.ndarray], kind: str = "auto", source_names: dict[str, str] | None = None
                        ) -> tuple[list[np.ndarray | None], dict]:
    """A folder of depth maps, each aligned to its frame's keypoints outside the person masks (None for a
    frame whose fit fails: too few keypoints), and a summary (frames aligned, median relative error at
    the keypoints)."""
    shape = masks[0].shape
    aligned, errors = [], []
    if kind not in ("auto", "depth", "disparity"):
        raise InputError(f"depth kind {kind!r}: use auto, depth or disparity")
    for values, mask, points in zip(read_depth_maps(depth_dir, names, shape, source_names), masks, keypoints):
        x = np.clip(points[:, 0].astype(int), 0, shape[1] - 1)
        y = np.clip(points[:, 1].astype(int), 0, shape[0] - 1)
        fit = align_to_keypoints(values, points[~mask[y, x]], kind)
        aligned.append(None if fit is None else fit[0])
        if fit is not None:
            errors.append(fit[1])
    summary = {"frames_aligned": len(errors), "frames": len(names),
               "median_keypoint_error": float(np.median(errors)) if errors else None}
    return aligned, summary
