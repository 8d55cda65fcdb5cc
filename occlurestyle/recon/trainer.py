"""The `train` stage's body: 3D Gaussian splatting of the static background, people left out.

gsplat's recipe on our rasterizer: Gaussians initialised from the COLMAP points, Adam with gsplat's
learning rates (means scaled by the scene size, decaying exponentially), SH degree ramped up, and
gsplat's `DefaultStrategy` (or `MCMCStrategy`) densification running on our `meta`, with its schedule
compressed to a short CPU budget. The loss sees background pixels only (person masks are excluded, the
pixels right around them weighed by how much of each is background), rendered over a random colour each
step so that nothing seen stays half-transparent, plus a bounded penalty on the rendered depth's
relative error at the keypoints the registration triangulated. With `coarse_fraction`, the first steps
compare at half the size.

The optional mechanisms are objects with hooks into this loop (`mechanisms.py`): floater pruning (on
by default), free space in front of people from depth maps, per-frame exposure and white balance,
camera refinement, robust weights and mask refinement, and MCMC's regularisers.
The frames are read on demand (`frames.FrameStore`, within `frame_memory_mb`), so memory does not grow
with the clip's length. Writes `splat/background.ply` (INRIA layout), `splat/train.json` and what the
mechanisms write; keeps `splat/checkpoint.pt` while training so an interrupted run resumes.
"""

from __future__ import annotations

import logging
import math
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..cameras import camera_center
from ..errors import InputError
from ..fsutil import atomic_path, write_json
from ..layout import RunLayout
from ..render.gaussians import PARAM_NAMES, fill_color, init_from_points, render, save_ply
from .frames import FrameStore
from .losses import photometric_loss
from .mechanisms import ALL, MaskCorrector, Mechanism, carve, mechanisms_for
from .registration_files import CameraSet, read_cameras, read_keypoint_depths

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    # held out, 640x360 (benchmarks/real.py): davis_parkour 3000 full-size steps 24.53 dB; 6000 25.34 dB;
    # 5000 with the first 40% at half size 25.58 dB; 4000 with the first half at half size 25.47 dB
    # (davis_dance_twirl -0.06 dB, sam2_bedroom +0.07) in 75% of 5000's time
    steps: int = field(default=4000, metadata={"help": "optimisation steps"})
    resolution: int = field(default=0, metadata={"help": "train at this longest side (0: the frames' size)"})
    # view-dependent colour up to degree 1 (gsplat: 3). Surfaces that few frames see are then shown from
    # other viewpoints where people stood, and higher degrees fitted those few views at the expense of
    # the rest: office +0.6 dB where people stood (two seeds), living room -0.4 (inside seed noise), and
    # a step ~15% faster
    sh_degree: int = field(default=1, metadata={"help": "spherical-harmonics degree of the colours"})
    ssim_weight: float = 0.2
    # a random colour behind the Gaussians at each step: the frames have no transparency, so neither may
    # the model where it is seen. Without it, dark surfaces seen by few frames were fitted as half-transparent
    # Gaussians over the black background, which show as holes from the views where people hid them
    random_background: bool = True
    backdrop: bool = field(default=True, metadata={
        "help": "learn what the cameras saw beyond every registered point (the sky) as a far shell of Gaussians"})
    # weight of the depth term: the rendered depth's relative error at the keypoints the registration
    # triangulated, in a bounded penalty (keypoint_depth_loss). On the sample scenes it halves the
    # depth error (what depth-ordered compositing relies on) and adds ~0.3 dB overall
    depth_weight: float = field(default=0.1, metadata={
        "help": "weight of the rendered depth's relative error at the registration's keypoints (0: off)"})
    # learning rates of gsplat's simple_trainer (means: times the scene scale)
    means_lr: float = 1.6e-4
    scales_lr: float = 5e-3
    quats_lr: float = 1e-3
    opacities_lr: float = 5e-2
    sh0_lr: float = 5e-3  # twice gsplat's: colours must settle within a short schedule
    shN_lr: float = 2.5e-3 / 20
    # densification: gsplat's DefaultStrategy ("default": clone, split, prune, opacity reset) or its
    # MCMCStrategy ("mcmc": a fixed budget of Gaussians, dead ones moved onto live ones, noisy means),
    # their 30k-step schedules compressed to `steps`
    strategy: str = field(default="default", metadata={
        "help": "densification: default (gsplat's clone/split/prune) or mcmc (gsplat's MCMC: a fixed budget, "
                "relocated)"})
    refine_start: float = 0.06  # fraction of steps
    refine_stop: float = 0.6
    refine_every: int = 100
    grow_grad2d: float = 0.0002
    # 0: the budget follows the schedule (gaussian_budget). At 4,000 steps 120,000 sharpens the real clips' fine
    # detail (held out: davis_dance_twirl 28.56 -> 28.83 dB; davis_parkour 26.38, sam2_bedroom 27.48) for ~1.15x the
    # training time; at the demo's 1,500 steps it did not pay (same machine: 17.94 -> 17.51 dB where people
    # stood, texture 1.40 -> 1.51, style 4.59 -> 5.58) and took 1.7x as long
    max_gaussians: int = field(default=0, metadata={
        "help": "cap on the number of Gaussians, a CPU budget: time per step grows with it (0: 30 per training "
                "step, from 80,000 to 120,000)"})
    # MCMC only (gsplat's simple_trainer recipe): opacity and scale penalties free Gaussians for relocation
    mcmc_noise_lr: float = 5e5
    opacity_reg: float = 0.01
    scale_reg: float = 0.01  # on scales relative to the scene scale
    # free space in front of people (free_space.py): per-frame depth maps from a depth tool (folder of
    # <stem>.npy or .png, depth or disparity up to an affine map); splats in front of a person are removed
    person_depth_dir: str = field(default="", metadata={
        "help": "per-frame depth maps of the frames, people included, from any depth tool (<frame>.npy or 16-bit "
                ".png; depth or disparity, any scale): splats in front of a person a frame sees are removed, and the "
                "background beside people is held at the maps' depth"})
    person_depth_kind: str = "auto"  # "depth", "disparity" or "auto" (whichever fits the keypoints better)
    free_space_margin: float = 0.95  # remove what lies nearer than this fraction of the person's depth
    # floaters (free_space.keypoint_limits): every refinement, remove the Gaussians that a training frame
    # sees on the pixel of one of its keypoints (or the 8 around it) nearer than this fraction of the
    # keypoint's depth: it looked through them at the point (0: off)
    floater_margin: float = 0.5
    # the depth maps' depth of the background beside people (within this fraction of the image's longer
    # side) joins the keypoint depth term: splats fitted to slivers of background next to a person at the
    # wrong depth are what shows where that person stood (0: off)
    person_depth_band: float = 0.05
    # robustness to what the masks miss
    # extra pixels around the person masks (as on disk: the masks stage's margin is already in them) left
    # out of the loss, and the ring right around them weighed by how much of each pixel is background
    # (losses.edge_weights) instead of dropped. The background right beside a person is what holds the
    # splats there at their depth; a 2 px margin cost the office ~1 dB where people stood (true masks,
    # three seeds), while keeping the blended ring at full weight cost the living room 2.4 dB (ghosts of
    # the people's outlines)
    mask_dilate: int = 0
    edge_matting: bool = True
    # RobustNeRF-style trimming and unexplained blobs turned into people. Off by default: on the sample
    # scenes they mostly trimmed real background that is hard to fit or seen by few frames (bookcases,
    # whiteboard writing), costing 1-2 dB overall and where people stood, with true and with `auto` masks
    robust: bool = field(default=False, metadata={
        "help": "drop persistently unexplained pixels (shadows or limbs the masks missed); off by default: it also "
                "drops real background that is hard to fit"})
    robust_start: float = 0.25  # fraction of steps before trimming starts
    inlier_quantile: float = 0.85
    residual_floor: float = 0.1
    refine_masks: bool = False
    refine_masks_at: float = 0.5  # fraction of steps after which persistent outliers become people
    unexplained: float = 0.12  # mean residual that counts as "not explained by the static scene"
    # the masks corrected against the model itself (mechanisms.MaskCorrection): what the masker missed of a
    # person, learnt as background until then, is left out of the loss from this fraction of the steps on
    correct_masks: str = field(default="auto", metadata={
        "help": "halfway through, leave out of the loss what the masker missed of people (pixels the model cannot "
                "explain next to a person or as a large blob): on, off, or auto (on for every masker but file)"})
    correct_masks_at: float = 0.5
    # and continued down by this many times the height of each blob it adds: a person the masker missed is
    # corrected where the model could not explain them, mostly their top, while the legs below, learnt
    # already, stay explained and keep their ghost (the demo's runner behind the sofa: 17.9 -> 19.1 dB
    # where people stood; 0: off)
    correct_masks_below: float = 1.0
    # and from then on, at each refinement, the Gaussians the corrected masks hide in at least this share of
    # the frames that see them (and in a tenth more than the masker's did) are removed: what the masker
    # missed of someone who stood still, which no frame's loss pulls out (make demo, seeds 0/1/2 behind
    # people: 19.12/23.11/22.53 -> 23.63/22.92/22.18 dB, the true masks' 23.30/23.21/23.26; 0: off)
    correct_masks_prune: float = 0.8
    # camera refinement (camera_opt.py): pose corrections along the clip and a shared focal correction.
    # Off by default: it gains on a clip whose registration is off, loses a little on one whose is not
    # (README, "Background reconstruction")
    refine_cameras: bool = field(default=False, metadata={
        "help": "refine the poses and the focal length while training (splat/cameras.json, used by later stages)"})
    refine_cameras_start: float = 0.1  # fraction of steps: the model needs some structure first
    rotation_lr: float = 3e-4  # radians
    translation_lr: float = 1e-4  # times the scene scale
    focal_lr: float = 2e-4  # log focal scale
    camera_knot_every: int = 8  # frames between pose knots (1: a correction per frame)
    # per-frame exposure and white balance (appearance.py): a gain and offset per channel and training
    # frame, fitted after a warm-up; the Gaussians keep the frames' average look. Off by default: held
    # out, sam2_bedroom +0.12 dB, but davis_parkour -0.5 dB (-0.1 starting at half the steps): where the
    # camera moves on to surfaces earlier frames did not see, exposure and surface colour trade freely
    appearance: bool = field(default=False, metadata={
        "help": "fit each frame's exposure and white balance (splat/appearance.json, used when compositing; for clips"
                " whose exposure changes over the same surfaces)"})
    appearance_start: float = 0.1  # fraction of steps
    # coarse to fine: this fraction of the steps (the first) renders and compares at half the size, at
    # about half the cost of a full-size step (not with mask refinement, which keeps full-size residuals)
    coarse_fraction: float = 0.5
    checkpoint_every: int = field(default=1000, metadata={"hash": False})
    # frames (with masks and weights) kept in memory; more are read again from the run folder when needed
    # (a 640x480 frame takes 2.4 MB: 1 GB holds about 420)
    frame_memory_mb: float = field(default=1024, metadata={"hash": False})
    holdout_every: int = field(default=0, metadata={"help": "leave every n-th frame out of training, for evaluation"})
    device: str = "auto"  # "auto": CUDA (gsplat's rasterizer) when available, else the CPU backend
    seed: int = 0


@dataclass
class TrainingData:
    cameras: CameraSet
    frames: FrameStore  # images, person masks and loss weights at the training resolution, read on demand
    size: tuple[int, int]  # training (width, height)
    Ks: torch.Tensor  # [F, 3, 3] at the training resolution
    viewmats: torch.Tensor  # [F, 4, 4]
    scene_scale: float
    points: np.ndarray
    point_colors: np.ndarray
    keypoints: list[torch.Tensor]  # per frame [K, 3]: (x, y) at the training resolution, camera depth


def load_training_data(layout: RunLayout, options: TrainOptions) -> TrainingData:
    """Registered frames, their person masks (grown by `mask_dilate`), pixel weights and cameras, scaled
    to the training resolution."""
    if not layout.sparse.is_dir():
        raise InputError(f"{layout.root} has no registration; run `occlurestyle register {layout.root}` first")
    cameras = read_cameras(layout.sparse)
    scale = 1.0
    if options.resolution and max(cameras.width, cameras.height) > options.resolution:
        scale = options.resolution / max(cameras.width, cameras.height)
    width, height = round(cameras.width * scale), round(cameras.height * scale)
    unmasked = [n for n in cameras.names if not (layout.masks / f"{Path(n).stem}.png").is_file()]
    if unmasked:
        log.warning("no person mask for %d of %d frames (first %s): all their pixels are trained as background",
                    len(unmasked), len(cameras.names), unmasked[0])
    frames = FrameStore(layout, cameras.names, (width, height), options.mask_dilate, options.edge_matting,
                        options.frame_memory_mb)
    Ks = torch.tensor(cameras.Ks, dtype=torch.float32).clone()
    Ks[:, :2] *= scale
    viewmats = torch.tensor(cameras.viewmats, dtype=torch.float32)
    centres = camera_center(cameras.viewmats)
    scene_scale = 1.1 * float(np.linalg.norm(centres - centres.mean(0), axis=1).max())
    from plyfile import PlyData

    vertex = PlyData.read(str(layout.points_ply))["vertex"]
    points = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1).astype(np.float32)
    colors = np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1).astype(np.float32) / 255.0
    depths = read_keypoint_depths(layout.sparse)
    to_training_size = np.array([scale, scale, 1.0], np.float32)
    keypoints = [torch.from_numpy(depths[name] * to_training_size) for name in cameras.names]
    return TrainingData(cameras, frames, (width, height), Ks, viewmats, max(scene_scale, 1e-3), points, colors,
                        keypoints)


GAUSSIANS_PER_STEP = 30
GAUSSIAN_BUDGET_RANGE = (80_000, 120_000)


def gaussian_budget(options: TrainOptions) -> int:
    """The cap on the number of Gaussians: `options.max_gaussians`, or with 0 one that grows with the steps."""
    if options.max_gaussians < 0:
        raise InputError(f"max_gaussians is {options.max_gaussians}: give a positive cap, or 0 for one that grows "
                         "with the steps")
    if options.max_gaussians > 0:
        return options.max_gaussians
    low, high = GAUSSIAN_BUDGET_RANGE
    return min(high, max(low, GAUSSIANS_PER_STEP * options.steps))


def check_options(options: TrainOptions) -> None:
    """Fail on options training would refuse, before any work."""
    if options.strategy not in ("default", "mcmc"):
        raise InputError(f"unknown densification strategy {options.strategy!r}: use 'default' or 'mcmc'")
    if options.correct_masks_below < 0:
        raise InputError(f"train.correct_masks_below is {options.correct_masks_below}: give 0 (off) or more "
                         "(how far below what the correction adds, in its heights)")
    if not 0 <= options.correct_masks_prune <= 1:
        raise InputError(f"train.correct_masks_prune is {options.correct_masks_prune}: give a share of the frames "
                         "from 0 (off) to 1")
    gaussian_budget(options)


def _optimizers(params: torch.nn.ParameterDict, options: TrainOptions, scene_scale: float):
    lrs = {"means": options.means_lr * scene_scale, "scales": options.scales_lr, "quats": options.quats_lr,
           "opacities": options.opacities_lr, "sh0": options.sh0_lr, "shN": options.shN_lr}
    return {name: torch.optim.Adam([{"params": params[name], "lr": lrs[name], "name": name}], eps=1e-15)
            for name in PARAM_NAMES}


def _strategy(options: TrainOptions, n_points: int):
    from gsplat.strategy import DefaultStrategy

    from .mcmc import MCMC

    start = max(1, int(options.refine_start * options.steps))
    every = min(options.refine_every, max(10, options.steps // 30))  # short runs still refine ~15 times
    stop = int(options.refine_stop * options.steps)
    if options.strategy == "mcmc":
        # grow from the registration's points to the budget by the middle of the refinement window
        growth_steps = max(1, (stop - start) // (2 * every))
        budget = gaussian_budget(options)
        grow_rate = max(0.05, (budget / max(n_points, 1)) ** (1 / growth_steps) - 1)
        return MCMC(cap_max=budget, noise_lr=options.mcmc_noise_lr, refine_start_iter=start,
                    refine_stop_iter=stop, refine_every=every, grow_rate=grow_rate)
    return DefaultStrategy(
        refine_start_iter=start, refine_stop_iter=stop,
        refine_every=every, grow_grad2d=options.grow_grad2d,
        # one opacity reset halfway through the densification window (30k recipe: every 3000 steps)
        reset_every=max(start + every, int(0.3 * options.steps)), verbose=False,
    )


def train(run_dir: str | Path, options: TrainOptions | None = None, progress: bool = True,
          correct_masks: MaskCorrector | None = None) -> Path:
    """Fit the static background; returns `splat/background.ply`. Resumes from `splat/checkpoint.pt`.
    `correct_masks` (the people stage's correction against the model's render, which the train stage
    passes in) lets `options.correct_masks` correct the masks halfway through."""
    options = options or TrainOptions()
    check_options(options)
    layout = RunLayout(run_dir)
    data = load_training_data(layout, options)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if options.device == "auto"
                          else options.device)
    torch.manual_seed(options.seed)
    generator = np.random.default_rng(options.seed)
    layout.splat.mkdir(parents=True, exist_ok=True)
    checkpoint_path = layout.splat / "checkpoint.pt"
    n_frames, (width, height) = len(data.frames), data.size
    training_frames = training_indices(n_frames, options.holdout_every)

    mcmc = options.strategy == "mcmc"
    initial = init_from_points(data.points, data.point_colors, options.sh_degree,
                               **({"opacity": 0.5, "scale_factor": 0.1} if mcmc else {}))
    params = torch.nn.ParameterDict({k: torch.nn.Parameter(v.to(device)) for k, v in initial.items()})
    viewmats, Ks = data.viewmats.to(device), data.Ks.to(device)
    optimizers = _optimizers(params, options, data.scene_scale)
    strategy = _strategy(options, len(data.points))
    state = strategy.initialize_state() if mcmc else strategy.initialize_state(scene_scale=data.scene_scale)
    mechanisms = mechanisms_for(layout, data, options, training_frames, device, correct_masks)
    full_size = any(m.full_size for m in mechanisms)
    image_hooks = [m for m in mechanisms if type(m).image is not Mechanism.image]
    start_step = 0
    if checkpoint_path.is_file():
        saved = torch.load(checkpoint_path, weights_only=False, map_location=device)
        if (saved["options"] == asdict(options) and saved["frames"] == data.cameras.names
                and "mechanisms" in saved):
            params = torch.nn.ParameterDict({k: torch.nn.Parameter(v) for k, v in saved["params"].items()})
            optimizers = _optimizers(params, options, data.scene_scale)
            for name, opt in optimizers.items():
                opt.load_state_dict(saved["optimizers"][name])
            for mechanism in mechanisms:
                mechanism.load_state_dict(saved["mechanisms"][mechanism.name])
            state = saved["strategy_state"]
            start_step = saved["step"]
            generator.bit_generator.state = saved["numpy_rng"]
            torch.set_rng_state(saved["torch_rng"].cpu())
            log.info("training resumes from %s at step %d", checkpoint_path, start_step)
        else:
            log.warning("%s was made with other options or frames: training starts again", checkpoint_path)
    decay = 0.01 ** (1.0 / options.steps)
    budget = gaussian_budget(options)
    for group in optimizers["means"].param_groups:
        group["lr"] = options.means_lr * data.scene_scale * decay**start_step

    start_time = time.perf_counter()
    bar = tqdm(range(start_step, options.steps), desc="train", unit="step", disable=not progress,
               initial=start_step, total=options.steps)
    psnr_ema = None
    for step in bar:
        index = int(training_frames[generator.integers(len(training_frames))])
        frame = data.frames[index]
        target = frame.image.to(device).float() / 255.0
        person = frame.person
        for mechanism in mechanisms:
            person = mechanism.person(index, person)
        person = person.to(device)
        ring = frame.weights.to(device) if frame.weights is not None else None  # the blended ring around people
        keypoints = data.keypoints[index].to(device)
        size, K = (width, height), Ks[index:index + 1]
        if step < options.coarse_fraction * options.steps and not full_size:
            size, K, target, person, ring, keypoints = _halved(size, K, target, person, ring, keypoints)
        sh_degree = min(options.sh_degree, step * (options.sh_degree + 1) // max(1, int(0.6 * options.steps)))
        background = torch.rand(1, 3).to(device) if options.random_background else None
        model = params
        for mechanism in mechanisms:
            model = mechanism.model(model, viewmats[index], index, step)
        behind = _backdrop(mechanisms, viewmats[index], K, size, sh_degree, background)
        colors, alphas, meta = render(model, viewmats[index:index + 1], K, *size, sh_degree,
                                      render_mode="RGB+ED" if options.depth_weight > 0 else "RGB",
                                      backgrounds=background if behind is None else torch.zeros(1, 3, device=device))
        image = colors[0, ..., :3] if behind is None else colors[0, ..., :3] + (1 - alphas[0]) * behind
        strategy.step_pre_backward(params, optimizers, state, step, meta)
        valid = ~person
        if image_hooks:
            background_weight = valid.float() * (1.0 if ring is None else ring)
            for mechanism in image_hooks:
                image = mechanism.image(image, target, background_weight, index, step)
        residual = (image.detach() - target).abs().mean(-1)
        weight = valid.float()
        for mechanism in mechanisms:
            weight = mechanism.weight(weight, residual, valid, step)
        if ring is not None:  # also when trimming
            weight = weight * ring
        loss = photometric_loss(image.permute(2, 0, 1)[None], target.permute(2, 0, 1)[None], weight[None, None],
                                options.ssim_weight)
        if options.depth_weight > 0 and len(keypoints):
            loss = loss + options.depth_weight * keypoint_depth_loss(colors[0, ..., 3], keypoints)
        for mechanism in mechanisms:
            loss = loss + mechanism.loss(params, step)
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged at step {step} (non-finite loss): lower the learning rates")
        loss.backward()
        if mcmc:  # its noise on the means follows their learning rate, taken before this step's decay
            strategy.step_post_backward(params, optimizers, state, step, meta,
                                        lr=optimizers["means"].param_groups[0]["lr"])
        else:
            strategy.step_post_backward(params, optimizers, state, step, meta, packed=False)
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        for group in optimizers["means"].param_groups:
            group["lr"] *= decay
        if len(params["means"]) > budget:
            _cap(params, optimizers, state, budget)
        if strategy.refine_start_iter <= step < 0.9 * options.steps and step % strategy.refine_every == 0:
            for mechanism in mechanisms:
                ahead = mechanism.prune(params, step)
                if ahead is not None:
                    mechanism.removed += carve(params, optimizers, state, strategy, ahead)
        for mechanism in mechanisms:
            mechanism.after_step(step, index, frame, residual)
        as_seen = partial(_render_as_seen, params, mechanisms, viewmats, Ks, data.size, sh_degree, step=step)
        for mechanism in mechanisms:
            mechanism.revise(step, as_seen)

        with torch.no_grad():
            mse = ((image.detach() - target) ** 2).mean(-1)[valid].mean().item() if valid.any() else 0.0
        psnr = -10 * math.log10(max(mse, 1e-10))
        psnr_ema = psnr if psnr_ema is None else 0.9 * psnr_ema + 0.1 * psnr
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{psnr_ema:.2f}", gaussians=len(params["means"]))
        if (step + 1) % options.checkpoint_every == 0 and step + 1 < options.steps:
            _save_checkpoint(checkpoint_path, params, optimizers, state, step + 1, options, data, generator,
                             mechanisms)
    bar.close()
    seconds = time.perf_counter() - start_time

    model = {k: v.detach() for k, v in params.items()}
    for mechanism in mechanisms:
        model = mechanism.baked(model)
    ply = save_ply({k: v.cpu() for k, v in model.items()}, layout.splat / "background.ply")
    figures = {"refined_mask_fraction": None, "free_space": None, "floaters_removed_this_run": 0}
    for mechanism in mechanisms:
        figures.update(mechanism.finish(layout, data))
    used = {type(m) for m in mechanisms}
    for kind in ALL:  # what a mechanism wrote in an earlier run without it would be read as current
        for path in kind.outputs(layout) if kind not in used else ():
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    write_json(layout.splat / "train.json", {
        "options": asdict(options), "gaussian_budget": budget, "gaussians": len(params["means"]), "frames": n_frames,
        "resolution": [width, height], "scene_scale": data.scene_scale, "seconds": seconds,
        "steps_run": options.steps - start_step, "final_psnr_train_ema": psnr_ema,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "frames_read": data.frames.reads, "mechanisms": [m.name for m in mechanisms], **figures,
    })
    if checkpoint_path.exists():
        checkpoint_path.unlink()
    return ply


@torch.no_grad()
def _render_as_seen(params, mechanisms, viewmats, Ks, size, sh_degree, index: int, *, step: int) -> np.ndarray:
    """The model at `step` from frame `index`'s camera as that frame saw it, [H,W,3] numpy in 0-1, over the
    model's fill colour (as the stages render it)."""
    model = params
    for mechanism in mechanisms:
        model = mechanism.model(model, viewmats[index], index, step)
    fill = fill_color(params)[None]
    behind = _backdrop(mechanisms, viewmats[index], Ks[index:index + 1], size, sh_degree, fill)
    colors, alphas, _ = render(model, viewmats[index:index + 1], Ks[index:index + 1], *size, sh_degree,
                               render_mode="RGB", backgrounds=fill if behind is None else torch.zeros_like(fill))
    image = colors[0, ..., :3] if behind is None else colors[0, ..., :3] + (1 - alphas[0]) * behind
    for mechanism in mechanisms:
        image = mechanism.as_seen(image, index)
    return image.clamp(0, 1).cpu().numpy()


def _backdrop(mechanisms, viewmat, K, size, sh_degree, background) -> torch.Tensor | None:
    """What lies behind every Gaussian from this camera (a mechanism's far shell), or None."""
    for mechanism in mechanisms:
        behind = mechanism.backdrop(viewmat, K, size, sh_degree, background)
        if behind is not None:
            return behind
    return None


def _halved(size, K, target, person, ring, keypoints):
    """A training step's camera, frame, person mask (a pixel is a person's if any of its four was), ring
    weights and keypoints at half the size."""
    width, height = size[0] // 2, size[1] // 2
    scale = torch.tensor([width / size[0], height / size[1], 1.0], device=K.device, dtype=K.dtype)

    def halve(image: torch.Tensor) -> torch.Tensor:
        resized = torch.nn.functional.interpolate(image.permute(2, 0, 1)[None], (height, width), mode="area")
        return resized[0].permute(1, 2, 0)

    person = halve(person[..., None].float())[..., 0] > 0
    ring = halve(ring[..., None])[..., 0] if ring is not None else None
    keypoints = keypoints * torch.tensor([scale[0], scale[1], 1.0], device=keypoints.device)
    return (width, height), K * scale[:, None], halve(target), person, ring, keypoints


def keypoint_depth_loss(depth: torch.Tensor, keypoints: torch.Tensor, scale: float = 0.1) -> torch.Tensor:
    """Geman-McClure penalty of the rendered depth's relative error at the pixels holding `keypoints`
    [K, 3] (x, y, depth), mean over the keypoints. Bounded, so that a wrongly triangulated point
    cannot drag Gaussians to its depth: errors beyond `scale` pull less and less."""
    height, width = depth.shape
    x = keypoints[:, 0].long().clamp(0, width - 1)
    y = keypoints[:, 1].long().clamp(0, height - 1)
    relative = (depth[y, x] - keypoints[:, 2]) / keypoints[:, 2]
    return (relative**2 / (relative**2 + scale**2)).mean()


def training_indices(n_frames: int, holdout_every: int = 0) -> np.ndarray:
    """Frames used for training: all, or all but every `holdout_every`-th (0, n, 2n, ...)."""
    indices = np.arange(n_frames)
    return indices[indices % holdout_every != 0] if holdout_every > 0 else indices


@torch.no_grad()
def _cap(params, optimizers, state, limit: int) -> None:
    """Keep the `limit` most opaque Gaussians (a CPU budget; densification can outgrow it)."""
    from gsplat.strategy.ops import remove

    opacity = torch.sigmoid(params["opacities"])
    drop = torch.zeros(len(opacity), dtype=torch.bool, device=opacity.device)
    drop[torch.argsort(opacity, stable=True)[: len(opacity) - limit]] = True
    remove(params=params, optimizers=optimizers, state=state, mask=drop)


def _save_checkpoint(path, params, optimizers, state, step, options, data, generator, mechanisms) -> None:
    with atomic_path(path) as tmp:
        torch.save({
            "params": {k: v.detach().clone() for k, v in params.items()},
            "optimizers": {k: opt.state_dict() for k, opt in optimizers.items()},
            "strategy_state": state, "step": step, "options": asdict(options), "frames": data.cameras.names,
            "numpy_rng": generator.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "mechanisms": {m.name: m.state_dict() for m in mechanisms},
        }, tmp)
