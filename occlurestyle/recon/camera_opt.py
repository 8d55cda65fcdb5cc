"""Camera refinement during training: pose corrections along the clip and one focal correction.

COLMAP's cameras fit its keypoints to half a pixel, yet on the living-room sample scene they are
~0.25 degrees and 1% in focal length off the truth, and training on the true cameras gains 1.3 dB
(`benchmarks/train.py --true-cameras`). Like gsplat's `CameraOptModule`, the clip gets learnt
corrections, here a rotation (axis-angle) and translation in the camera's own frame at knots along
the clip, plus a focal-length scale shared by all frames (one physical camera).

Our CPU rasterizer has no gradient for the cameras, so a correction is applied by moving the
Gaussians' centres instead: `x_cam' = S (R x_cam + t)` with `S = diag(f, f, 1)` is the same image as
rendering with the corrected camera. The Gaussians' orientations are left alone: a correction of
a fraction of a degree changes their footprint far less than a pixel. The corrected cameras are
written out (`splat/cameras.json`) so every later stage renders with them.

Measured (3,000 steps): it gains where registration is off and the photometric evidence points the
same way in every frame, but in a short schedule the model co-adapts with the cameras, so where
COLMAP was already right (the office: 0.07 degrees) it drifts away from the truth. Hence opt-in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..cameras import rotation_angle_deg
from ..fsutil import write_json
from .registration_files import CameraSet


def axis_angle_to_matrix(omega: Tensor) -> Tensor:
    """Rodrigues' formula, differentiable at zero (a series for tiny angles)."""
    theta2 = (omega * omega).sum()
    wx, wy, wz = omega
    zero = torch.zeros((), dtype=omega.dtype, device=omega.device)
    K = torch.stack([torch.stack([zero, -wz, wy]), torch.stack([wz, zero, -wx]), torch.stack([-wy, wx, zero])])
    if theta2 < 1e-8:
        a, b = 1.0 - theta2 / 6.0, 0.5 - theta2 / 24.0
    else:
        theta = torch.sqrt(theta2)
        a, b = torch.sin(theta) / theta, (1.0 - torch.cos(theta)) / theta2
    return torch.eye(3, dtype=omega.dtype, device=omega.device) + a * K + b * (K @ K)


class CameraCorrections(torch.nn.Module):
    """Pose corrections along the clip and a shared log focal scale.

    A rotation (axis-angle) and translation at a knot every `knot_every` frames, linearly
    interpolated in between: COLMAP's errors are smooth along a video, and a short schedule shows
    each frame too few times for a per-frame correction to average out the noise of its gradient.
    One parameter per knot and vector, so Adam moves a knot only in the steps that see a frame next
    to it (a parameter without a gradient is skipped), each with its own moment estimates."""

    def __init__(self, n_frames: int, knot_every: int = 1):
        super().__init__()
        self.knot_every = max(1, knot_every)
        n_knots = (max(n_frames, 1) - 1 + self.knot_every - 1) // self.knot_every + 1
        self.rotation = torch.nn.ParameterList([torch.zeros(3) for _ in range(n_knots)])
        self.translation = torch.nn.ParameterList([torch.zeros(3) for _ in range(n_knots)])
        self.log_focal = torch.nn.Parameter(torch.zeros(()))

    def _at(self, knots: torch.nn.ParameterList, index: int) -> Tensor:
        knot, rest = divmod(index, self.knot_every)
        if rest == 0 or knot + 1 >= len(knots):
            return knots[min(knot, len(knots) - 1)]
        weight = rest / self.knot_every
        return (1 - weight) * knots[knot] + weight * knots[knot + 1]

    def correction(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        """Rotation [3,3], translation [3] and focal scale of frame `index`."""
        return (axis_angle_to_matrix(self._at(self.rotation, index)), self._at(self.translation, index),
                torch.exp(self.log_focal))

    def move_means(self, means: Tensor, viewmat: Tensor, index: int) -> Tensor:
        """The Gaussians' centres moved so that camera `viewmat` sees what the corrected camera sees."""
        rotation, translation, focal = self.correction(index)
        world_rotation, world_translation = viewmat[:3, :3].to(means.dtype), viewmat[:3, 3].to(means.dtype)
        scale = torch.stack([focal, focal, torch.ones_like(focal)])
        # x' = V_R^T (S (R (V_R x + V_t) + t) - V_t), composed into one affine map (one pass over N)
        linear = world_rotation.T @ (scale[:, None] * rotation) @ world_rotation
        offset = world_rotation.T @ (scale * (rotation @ world_translation + translation) - world_translation)
        return torch.addmm(offset, means, linear.T)

    @torch.no_grad()
    def corrected(self, viewmats: Tensor, Ks: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The corrected cameras: viewmats [F,4,4] and intrinsics [F,3,3] (focal scaled)."""
        out_v, out_K = viewmats.detach().clone().double(), Ks.detach().clone().double()
        for i in range(len(viewmats)):
            rotation, translation, focal = (t.double() for t in self.correction(i))
            out_v[i, :3, :3] = rotation @ out_v[i, :3, :3]
            out_v[i, :3, 3] = rotation @ out_v[i, :3, 3] + translation
            out_K[i, :2, :2] *= focal
        return out_v.cpu().numpy(), out_K.cpu().numpy()


def write_corrected_cameras(path: str | Path, cameras: CameraSet, corrections: CameraCorrections) -> Path:
    """`splat/cameras.json`: the refined cameras at the frames' full size, by frame name."""
    viewmats = torch.tensor(cameras.viewmats, dtype=torch.float64)
    Ks = torch.tensor(cameras.Ks, dtype=torch.float64)
    new_viewmats, new_Ks = corrections.corrected(viewmats, Ks)
    rotations = [rotation_angle_deg(a, b) for a, b in zip(new_viewmats, cameras.viewmats)]
    return write_json(path, {
        "width": cameras.width, "height": cameras.height,
        "focal_scale": float(torch.exp(corrections.log_focal.detach())),
        "rotation_change_mean_deg": float(np.mean(rotations)),
        # the registration's camera too, so a later re-registration makes these stale, not silently wrong
        "frames": [{"name": n, "viewmat": v.tolist(), "K": k.tolist(), "registered_viewmat": r.tolist()}
                   for n, v, k, r in zip(cameras.names, new_viewmats, new_Ks, cameras.viewmats)],
    })
