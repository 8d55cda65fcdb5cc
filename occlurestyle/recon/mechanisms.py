"""The trainer's optional mechanisms, each a small object with hooks into the training loop (as
gsplat's densification strategies are), so `trainer.train()` reads as the loop it is.

A hook's default does nothing; a mechanism overrides the ones it needs:
- `person(index, person)`: the pixels of frame `index` left out of the loss;
- `model(params, viewmat, index, step)`: the Gaussians as rendered for this step's camera;
- `backdrop(viewmat, K, size, sh_degree, background)`: what lies behind every Gaussian from that camera
  ([H,W,3], over `background`), or None;
- `image(image, target, weight, index, step)`: the render as the frame saw it (exposure, ...);
- `weight(weight, residual, valid, step)`: the per-pixel loss weight;
- `loss(params, step)`: a term added to the loss;
- `prune(params, step)`: Gaussians to remove at a refinement step ([N] bool), or None;
- `after_step(step, index, frame, residual)`: after the optimisers stepped;
- `revise(step, render_as_seen)`: after that, with `render_as_seen(index)`, the current model rendered
  from frame `index`'s camera as that frame saw it ([H,W,3] numpy, 0-1): for a look at every frame;
- `as_seen(image, index)`: the render as frame `index` saw it, learning nothing (what `image` applies);
- `state_dict()` / `load_state_dict()`: what a checkpoint keeps; `baked(params)`: the model as saved;
  `finish(layout, data)`: write the mechanism's outputs and return its figures for `splat/train.json`.
`full_size = True` keeps every step at full size (no coarse start). `outputs(layout)` names the files a
mechanism writes, which a run without it removes so that nothing stale is read later.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np
import torch

from .. import media
from ..cameras import camera_center
from ..errors import InputError
from ..fsutil import atomic_dir
from ..layout import RunLayout
from ..person_masks import masks_are_exact, read_masks, undo_dilation
from ..render.gaussians import render, sh_degree_of
from .appearance import FrameAppearance, write_appearance
from .backdrop import Backdrop, shell_directions
from .camera_opt import CameraCorrections, write_corrected_cameras
from .free_space import (
    depth_beside_people,
    in_free_space,
    in_front_of_people,
    keypoint_limits,
    load_aligned_depths,
    person_depth_limits,
    pixels_of,
)
from .losses import robust_weights

if TYPE_CHECKING:
    from .trainer import TrainingData, TrainOptions

log = logging.getLogger(__name__)

# (mask [H,W] bool, frame [H,W,3] 0-1, the model's render of it, the masker's person ids or None) -> mask
MaskCorrector = Callable[[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]


class Mechanism:
    name = "mechanism"
    full_size = False
    removed = 0  # Gaussians `prune` has removed

    def person(self, index: int, person: torch.Tensor) -> torch.Tensor:
        return person

    def model(self, params, viewmat: torch.Tensor, index: int, step: int):
        return params

    def backdrop(self, viewmat: torch.Tensor, K: torch.Tensor, size: tuple[int, int], sh_degree: int,
                 background: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def image(self, image, target, weight, index: int, step: int) -> torch.Tensor:
        return image

    def weight(self, weight, residual, valid, step: int) -> torch.Tensor:
        return weight

    def loss(self, params, step: int):
        return 0.0

    def prune(self, params, step: int) -> torch.Tensor | None:
        return None

    def after_step(self, step: int, index: int, frame, residual: torch.Tensor) -> None:
        pass

    def revise(self, step: int, render_as_seen) -> None:
        pass

    def as_seen(self, image: torch.Tensor, index: int) -> torch.Tensor:
        return image

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def baked(self, params: dict) -> dict:
        return params

    def finish(self, layout: RunLayout, data: "TrainingData") -> dict:
        return {}

    @staticmethod
    def outputs(layout: RunLayout) -> list[Path]:
        return []


class CameraRefinement(Mechanism):
    """Pose corrections along the clip and a shared focal correction, learnt with the Gaussians after
    a warm-up (`camera_opt.py`); writes `splat/cameras.json`, which later stages use."""

    name = "refine_cameras"

    def __init__(self, options: "TrainOptions", n_frames: int, scene_scale: float, device):
        self.start = options.refine_cameras_start * options.steps
        self.corrections = CameraCorrections(n_frames, options.camera_knot_every).to(device)
        self.optimizer = torch.optim.Adam([
            {"params": list(self.corrections.rotation), "lr": options.rotation_lr},
            {"params": list(self.corrections.translation), "lr": options.translation_lr * scene_scale},
            {"params": [self.corrections.log_focal], "lr": options.focal_lr},
        ])

    def model(self, params, viewmat, index, step):
        if step < self.start:
            return params
        return {**params, "means": self.corrections.move_means(params["means"], viewmat, index)}

    def after_step(self, step, index, frame, residual):
        if step >= self.start:
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self):
        return {"cameras": self.corrections.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.corrections.load_state_dict(state["cameras"])
        self.optimizer.load_state_dict(state["optimizer"])

    def finish(self, layout, data):
        write_corrected_cameras(layout.refined_cameras, data.cameras, self.corrections.cpu())
        return {}

    @staticmethod
    def outputs(layout):
        return [layout.refined_cameras]


class DistantBackdrop(Mechanism):
    """The sky (whatever the cameras saw beyond every registered point) as a far shell of Gaussians
    behind the model (`backdrop.py`): only its colours are learnt; saved with the model. Camera
    refinement's corrections move the model, not the shell: at its distance only their rotation would
    show, a fraction of a degree."""

    name = "backdrop"

    def __init__(self, data: "TrainingData", options: "TrainOptions", training_frames: np.ndarray, device):
        viewmats = data.viewmats.numpy().astype(np.float64)[training_frames]
        Ks = data.Ks.numpy().astype(np.float64)[training_frames]
        directions, colours, radius = shell_directions(
            data.points.astype(np.float64), viewmats, Ks, data.size,
            frames=lambda i: data.frames[int(training_frames[i])].image.numpy() / 255.0,
            person_masks=lambda i: data.frames[int(training_frames[i])].person.numpy())
        centre = camera_center(viewmats).mean(0)
        self.shell = Backdrop(directions, colours, radius, centre, device=device)
        self.optimizer = torch.optim.Adam([self.shell.sh0], lr=options.sh0_lr, eps=1e-15)

    def backdrop(self, viewmat, K, size, sh_degree, background):
        colors, _, _ = render(self.shell.params(sh_degree), viewmat[None], K, *size, sh_degree,
                              render_mode="RGB", backgrounds=background)
        return colors[0, ..., :3]

    def after_step(self, step, index, frame, residual):
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self):
        return {"sh0": self.shell.sh0.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.shell.sh0.copy_(state["sh0"])
        self.optimizer.load_state_dict(state["optimizer"])

    def baked(self, params):
        shell = self.shell.params(sh_degree_of(params))
        return {k: torch.cat([v.detach(), shell[k].detach().to(v.device)]) for k, v in params.items()}

    def finish(self, layout, data):
        return {"backdrop_gaussians": len(self.shell)}


class Appearance(Mechanism):
    """Each frame's exposure and white balance (`appearance.py`), fitted to the render where it shows
    background as the frame is drawn, after a warm-up; writes `splat/appearance.json`."""

    name = "appearance"

    def __init__(self, options: "TrainOptions", n_frames: int, training_frames: np.ndarray):
        self.start = options.appearance_start * options.steps
        self.training_frames = training_frames
        self.appearance = FrameAppearance(n_frames)

    def image(self, image, target, weight, index, step):
        if step < self.start:
            return image
        self.appearance.update(index, image.detach(), target, weight)
        self.appearance.renormalise(self.training_frames)
        return self.appearance(image, index)

    def as_seen(self, image, index):
        return self.appearance(image, index)

    def state_dict(self):
        return {"appearance": self.appearance.state_dict()}

    def load_state_dict(self, state):
        self.appearance.load_state_dict(state["appearance"])

    def finish(self, layout, data):
        write_appearance(layout.appearance, data.cameras.names, self.appearance.matrices(), self.training_frames)
        return {}

    @staticmethod
    def outputs(layout):
        return [layout.appearance]


class RobustWeights(Mechanism):
    """RobustNeRF-style trimming after a warm-up: pixels whose residual is in the worst tail of their
    image, and above an absolute floor, are dropped from the loss, in blobs."""

    name = "robust"

    def __init__(self, options: "TrainOptions"):
        self.start = options.robust_start * options.steps
        self.quantile, self.floor = options.inlier_quantile, options.residual_floor

    def weight(self, weight, residual, valid, step):
        return robust_weights(residual, valid, self.quantile, self.floor) if step >= self.start else weight


class MaskRefinement(Mechanism):
    """A running average of each frame's residual; blobs that stay unexplained past `refine_masks_at`
    are taken as people from then on and written to `splat/refined_masks/`. Keeps full-size residuals
    (no coarse steps) and one residual image per frame: memory that grows with the clip."""

    name = "refine_masks"
    full_size = True

    def __init__(self, options: "TrainOptions", n_frames: int, shape: tuple[int, int]):
        self.start, self.threshold = options.refine_masks_at * options.steps, options.unexplained
        self.residual_ema = torch.zeros(n_frames, *shape)
        self.seen = torch.zeros(n_frames)
        self.refined = torch.zeros(n_frames, *shape, dtype=torch.bool)

    def person(self, index, person):
        return person | self.refined[index]

    def after_step(self, step, index, frame, residual):
        rate = 0.5 if self.seen[index] == 0 else 0.3
        self.residual_ema[index] = (1 - rate) * self.residual_ema[index] + rate * residual.cpu()
        if step >= self.start:
            self.refined[index] = unexplained_blobs(self.residual_ema[index], frame.person, self.threshold)
        self.seen[index] += 1

    def state_dict(self):
        return {"residual_ema": self.residual_ema, "seen": self.seen, "refined": self.refined}

    def load_state_dict(self, state):
        self.residual_ema, self.seen, self.refined = state["residual_ema"], state["seen"], state["refined"]

    def finish(self, layout, data):
        with atomic_dir(layout.splat / "refined_masks", overwrite=True) as tmp:
            for index, name in enumerate(data.cameras.names):
                full = media.resize_mask((data.frames[index].person | self.refined[index]).numpy(),
                                         (data.cameras.width, data.cameras.height))
                media.write_image(tmp / f"{Path(name).stem}.png", full.astype(np.uint8) * 255)
        return {"refined_mask_fraction": float(self.refined.float().mean())}


# of the frames that see a Gaussian: the correction must hide it in this many more than the masker did
# to prune it (a crowd the masker finds in most frames, learnt in the rest, stays)
PRUNE_RAISED = 0.1
# of the frame: a blob the correction adds that is this large is (part of) a person, not an outline's fix
MISSED_BLOB = 0.002


def extend_below(added: np.ndarray, reach: float, min_area: int) -> np.ndarray:
    """`added` [H,W] bool with, under each of its blobs of at least `min_area` pixels, every column it
    covers continued down by `reach` times the blob's height. What the correction adds of a person the
    masker missed, wholly or in part, is what the model could not explain, often their top; their legs
    below, learnt already and so explained, would otherwise stay in the loss and keep their ghost."""
    if reach <= 0:
        return added.copy()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(added.astype(np.uint8), connectivity=8)
    height = added.shape[0]
    rows = np.arange(height)[:, None]
    extended = added.copy()
    for label in range(1, count):
        blob_height, area = stats[label, cv2.CC_STAT_HEIGHT], stats[label, cv2.CC_STAT_AREA]
        if area < min_area:
            continue
        blob = labels == label
        columns = np.flatnonzero(blob.any(axis=0))
        bottom = height - 1 - np.argmax(blob[::-1, columns], axis=0)  # each column's lowest blob pixel
        below = (rows > bottom) & (rows <= bottom + reach * blob_height)
        extended[:, columns] |= below
    return extended


def hidden_share(means: torch.Tensor, viewmats: torch.Tensor, Ks: torch.Tensor, masks) -> torch.Tensor:
    """[..., N] float: of the frames whose image holds a Gaussian's centre, the share that see it on a
    masked pixel (0 for a Gaussian no frame sees). `masks` gives each camera's mask in order: [H, W] bool,
    or [M, H, W] for M masks of the frame at once (then the result is [M, N])."""
    seen = torch.zeros(len(means), device=means.device)
    hidden = 0
    for viewmat, K, mask in zip(viewmats, Ks, masks):
        mask = mask.to(means.device)
        index, u, v, _ = pixels_of(means, viewmat, K, mask.shape[-2:])
        seen[index] += 1
        counts = torch.zeros((*mask.shape[:-2], len(means)), device=means.device)
        counts[..., index] = mask[..., v, u].float()
        hidden = hidden + counts
    return hidden / seen.clamp_min(1)


class MaskCorrection(Mechanism):
    """What the masker missed of a person is left out of the loss from `correct_masks_at` of the steps on.
    There every training frame is rendered and its mask corrected against the render by `correct(mask,
    frame, render, instances)` (the people stage's correction, `occlusion.matte`, which the train stage
    passes in: pixels the model cannot explain, next to a person or as a large solid blob, are
    someone); the pixels it adds, each large blob continued down by `correct_masks_below` of its height
    (`extend_below`), and all grown by the masks stage's safety margin, join the frame's person mask.
    Until then the model has learnt them as background (a missed arm becomes a ghost on the wall, shown
    again after stylization); afterwards the frames that see the background there pull the ghost out.
    Mask pixels the render explains stay out of the loss (safe either way). But where a person stood
    still, few frames see the background the ghost hides, and nothing pulls it out: so from then on, at
    each refinement, the Gaussians whose centre lands on a person (the corrected masks) in at least
    `correct_masks_prune` of the training frames that see it, and in `PRUNE_RAISED` more of them than the
    masker's masks alone, are removed (`hidden_share`): the correction left no frame to teach them. Writes
    `splat/corrected_masks/` (the masks training ended with, at the frames' size)."""

    name = "correct_masks"

    def __init__(self, layout: RunLayout, data: "TrainingData", options: "TrainOptions",
                 training_frames: np.ndarray, correct: "MaskCorrector", device):
        self.layout, self.data, self.training_frames, self.correct = layout, data, training_frames, correct
        self.at = max(1, int(options.correct_masks_at * options.steps))
        self.below = options.correct_masks_below
        info = layout.masks_info
        self.margin = json.loads(info.read_text())["options"].get("dilate", 0) if info.is_file() else 0
        self.added: dict[int, np.ndarray] = {}  # frame -> packed bits of the pixels added
        self.prune_share = options.correct_masks_prune
        self.viewmats, self.Ks = data.viewmats[training_frames].to(device), data.Ks[training_frames].to(device)

    def _shape(self) -> tuple[int, int]:
        return self.data.size[1], self.data.size[0]

    def _added(self, index: int) -> np.ndarray | None:
        packed = self.added.get(index)
        if packed is None:
            return None
        height, width = self._shape()
        return np.unpackbits(packed, count=height * width).reshape(height, width).astype(bool)

    def person(self, index, person):
        added = self._added(index)
        return person if added is None else person | torch.from_numpy(added)

    def revise(self, step, render_as_seen):
        if step + 1 != self.at:
            return
        names, (width, height) = self.data.cameras.names, self.data.size
        scale = width / self.data.cameras.width
        grow = max(0, round(self.margin * scale))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        log.info("step %d: the person masks of %d frames corrected against the model", step + 1,
                 len(self.training_frames))
        for index in self.training_frames:
            stem = Path(names[index]).stem
            if not (self.layout.masks / f"{stem}.png").is_file():
                continue  # no mask for this frame: training said so already
            mask = undo_dilation(media.read_gray(self.layout.masks / f"{stem}.png") > 0, self.margin)
            mask = media.resize_mask(mask, (width, height))
            path = self.layout.instances / f"{stem}.png"
            instances = (cv2.resize(media.read_gray(path), (width, height), interpolation=cv2.INTER_NEAREST)
                         if path.is_file() else None)
            frame = self.data.frames[index].image.numpy().astype(np.float32) / 255.0
            corrected = self.correct(mask, frame, render_as_seen(int(index)), instances)
            added = extend_below(corrected & ~mask, self.below, round(MISSED_BLOB * width * height))
            added = cv2.dilate(added.astype(np.uint8), kernel) > 0
            if added.any():
                self.added[int(index)] = np.packbits(added)

    def prune(self, params, step):
        if self.prune_share <= 0 or step < self.at:
            return None
        masks = (self._given_and_corrected(int(index)) for index in self.training_frames)
        given, corrected = hidden_share(params["means"].detach(), self.viewmats, self.Ks, masks)
        return (corrected >= self.prune_share) & (corrected >= given + PRUNE_RAISED)

    def _given_and_corrected(self, index: int) -> torch.Tensor:
        """[2, H, W]: frame `index`'s person mask as the masker gave it, and as corrected."""
        given = self.data.frames[index].person
        return torch.stack([given, self.person(index, given)])

    def state_dict(self):
        return {"added": self.added}

    def load_state_dict(self, state):
        self.added = state["added"]

    def finish(self, layout, data):
        (width, height), total = data.size, 0
        with atomic_dir(layout.splat / "corrected_masks", overwrite=True) as tmp:
            for index, name in enumerate(data.cameras.names):
                added = self._added(index)
                mask = data.frames[index].person.numpy()
                if added is not None:
                    mask, total = mask | added, total + int(added.sum())
                full = media.resize_mask(mask, (data.cameras.width, data.cameras.height))
                media.write_image(tmp / f"{Path(name).stem}.png", full.astype(np.uint8) * 255)
        return {"corrected_mask_added_fraction": total / (len(self.training_frames) * width * height),
                "hidden_pruned_this_run": self.removed}

    @staticmethod
    def outputs(layout):
        return [layout.splat / "corrected_masks"]


class FreeSpaceInFrontOfPeople(Mechanism):
    """With per-frame depth maps (`person_depth_dir`): splats in front of a person some frame sees are
    removed at each refinement, and the background beside people joins the keypoint depth term at the
    maps' depth (added to `data.keypoints` here)."""

    name = "free_space"

    def __init__(self, layout: RunLayout, data: "TrainingData", options: "TrainOptions", device):
        height, width = data.size[1], data.size[0]
        limits, beside, self.summary = person_depth(layout, data, options, (height, width))
        self.limits, self.viewmats, self.Ks = limits.to(device), data.viewmats.to(device), data.Ks.to(device)
        if beside is not None:
            data.keypoints = [torch.cat([k, torch.from_numpy(b)]) for k, b in zip(data.keypoints, beside)]

    def prune(self, params, step):
        return in_front_of_people(params["means"], self.viewmats, self.Ks, self.limits)

    def finish(self, layout, data):
        return {"free_space": {**self.summary, "carved_this_run": self.removed}}


class FloaterPruning(Mechanism):
    """At each refinement, remove the Gaussians a training frame sees on the pixel of one of its
    keypoints (or the 8 around it) nearer than `floater_margin` of the keypoint's depth: the camera
    looked through them at the point (`free_space.keypoint_limits`)."""

    name = "floaters"

    def __init__(self, data: "TrainingData", options: "TrainOptions", training_frames: np.ndarray, device):
        height, width = data.size[1], data.size[0]
        self.shape = (height, width)
        self.limits = keypoint_limits([data.keypoints[i] for i in training_frames], self.shape,
                                      options.floater_margin)
        self.viewmats, self.Ks = data.viewmats.to(device)[training_frames], data.Ks.to(device)[training_frames]

    def prune(self, params, step):
        return in_free_space(params["means"], self.viewmats, self.Ks, self.limits, self.shape) > 0

    def finish(self, layout, data):
        return {"floaters_removed_this_run": self.removed}


class MCMCRegularisers(Mechanism):
    """gsplat's MCMC recipe: opacity and scale penalties that free Gaussians for relocation."""

    name = "mcmc_regularisers"

    def __init__(self, options: "TrainOptions", scene_scale: float):
        self.opacity_reg, self.scale_reg, self.scene_scale = options.opacity_reg, options.scale_reg, scene_scale

    def loss(self, params, step):
        return (self.opacity_reg * torch.sigmoid(params["opacities"]).mean()
                + self.scale_reg * torch.exp(params["scales"]).mean() / self.scene_scale)


ALL = (CameraRefinement, DistantBackdrop, Appearance, RobustWeights, MaskRefinement, MaskCorrection,
       FreeSpaceInFrontOfPeople, FloaterPruning, MCMCRegularisers)


def mechanisms_for(layout: RunLayout, data: "TrainingData", options: "TrainOptions", training_frames: np.ndarray,
                   device, correct_masks: "MaskCorrector | None" = None) -> list[Mechanism]:
    """The mechanisms `options` turn on, in the order their hooks run. The floater rule reads the
    registration's keypoints only, so it is built before the depth maps add theirs. Masks are corrected
    only with a `correct_masks` function."""
    n_frames, (width, height) = len(data.frames), data.size
    chosen: list[Mechanism] = []
    if options.floater_margin > 0:
        chosen.append(FloaterPruning(data, options, training_frames, device))
    if options.person_depth_dir:
        chosen.insert(0, FreeSpaceInFrontOfPeople(layout, data, options, device))  # carving runs first
    if options.strategy == "mcmc":
        chosen.append(MCMCRegularisers(options, data.scene_scale))
    if options.refine_cameras:
        chosen.append(CameraRefinement(options, n_frames, data.scene_scale, device))
    if options.backdrop:
        backdrop = DistantBackdrop(data, options, training_frames, device)
        if len(backdrop.shell):  # a room seen all round has no distance to learn
            chosen.append(backdrop)
    if options.appearance:
        chosen.append(Appearance(options, n_frames, training_frames))
    if options.robust:
        chosen.append(RobustWeights(options))
    if options.refine_masks:
        chosen.append(MaskRefinement(options, n_frames, (height, width)))
    if correct_masks is not None and corrects_masks(layout, options):
        chosen.append(MaskCorrection(layout, data, options, training_frames, correct_masks, device))
    return chosen


def corrects_masks(layout: RunLayout, options: "TrainOptions") -> bool:
    """`correct_masks` on, or auto and the masks are a masker's (a `file` masker's are taken as true)."""
    if options.correct_masks not in ("auto", "on", "off"):
        raise InputError(f"correct_masks must be auto, on or off, not {options.correct_masks!r}")
    if options.correct_masks_at <= 0 or options.correct_masks == "off":
        return False
    if options.correct_masks == "on":
        return True
    return layout.masks_info.is_file() and not masks_are_exact(layout.root)


def person_depth(layout: RunLayout, data: "TrainingData", options: "TrainOptions", shape: tuple[int, int]):
    """What `person_depth_dir`'s maps give, at the training resolution: per-frame depth limits [F,H,W] for
    carving, per-frame depths of the background beside people to add to the keypoints ([N,3] each; None
    with `person_depth_band` or `depth_weight` 0), and a summary."""
    masks = read_masks(layout.root, data.cameras.names, (data.cameras.height, data.cameras.width), undilated=True)
    masks = [media.resize_mask(m, shape[::-1]) for m in masks]
    depths, summary = load_aligned_depths(options.person_depth_dir, data.cameras.names, masks,
                                          [k.numpy() for k in data.keypoints], options.person_depth_kind,
                                          layout.source_names())
    if summary["frames_aligned"] == 0:
        raise InputError(f"no depth map in {options.person_depth_dir} could be aligned to its frame's keypoints; "
                         "are they depth or disparity maps of these frames?")
    beside = None
    if options.person_depth_band > 0 and options.depth_weight > 0:
        beside = depth_beside_people(depths, masks, options.person_depth_band, seed=options.seed)
        summary["depth_points_beside_people"] = int(sum(len(b) for b in beside))
    return torch.from_numpy(person_depth_limits(depths, masks, options.free_space_margin)), beside, summary


def unexplained_blobs(residual: torch.Tensor, person: torch.Tensor, threshold: float,
                      min_fraction: float = 0.0005) -> torch.Tensor:
    """Blobs of a frame's persistently high residual (outside the person mask), grown a little."""
    from scipy import ndimage

    high = (residual > threshold).numpy() & ~person.numpy()
    high = cv2.morphologyEx(high.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    labels, count = ndimage.label(high)
    if count == 0:
        return torch.zeros_like(person)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_fraction * high.size
    keep[0] = False
    blobs = cv2.dilate(keep[labels].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return torch.from_numpy(blobs)


@torch.no_grad()
def carve(params, optimizers, state, strategy, ahead: torch.Tensor) -> int:
    """Remove the Gaussians marked in `ahead` [N] bool (in front of a person, or floating; MCMC: make
    them transparent, to be relocated) and return how many; none when that would be all of them."""
    from gsplat.strategy import MCMCStrategy
    from gsplat.strategy.ops import remove

    count = int(ahead.sum())
    if count == 0 or count == len(ahead):
        return 0
    if isinstance(strategy, MCMCStrategy):  # a fixed budget: dead Gaussians move at its next refinement
        params["opacities"].data[ahead] = torch.logit(torch.tensor(strategy.min_opacity / 2))
    else:
        remove(params=params, optimizers=optimizers, state=state, mask=ahead)
    return count
