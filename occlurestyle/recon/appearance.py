"""Per-frame appearance: each training frame's exposure and white balance as a gain and an offset per
colour channel.

A phone changes exposure and white balance as it turns (towards a window, say); one colour per surface
cannot fit every frame, and the misfit is learnt as blotches. Training renders frame i as
`gain_i * rgb + offset_i`; each time frame i is drawn, its map moves part of the way to the least-squares
fit of the frame against the render over background pixels (held towards no change, so a frame of one
colour does not get a wild map), and the maps are then renormalised to average to no change, so the
Gaussians keep the frames' average look (the neutral appearance) rather than drifting into the maps.
Renders for stylization and flythroughs use the neutral appearance; compositing a frame uses its own
map (`splat/appearance.json`, as 3x4 affine matrices), and a frame left out of training takes its
training neighbours' average (exposure changes slowly along a video).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..fsutil import write_json

IDENTITY = np.hstack([np.eye(3), np.zeros((3, 1))])


class FrameAppearance:
    """Per-channel gains and offsets of `n_frames` frames (`maps` [n, 3, 2]: gain, offset)."""

    def __init__(self, n_frames: int, rate: float = 0.3, ridge: float = 0.002):
        self.maps = torch.zeros(n_frames, 3, 2)
        self.maps[..., 0] = 1.0
        self.rate, self.ridge = rate, ridge

    def __call__(self, image: torch.Tensor, index: int) -> torch.Tensor:
        """`image` [..., 3] as frame `index` saw it."""
        gain, offset = self.maps[index].to(image.device).unbind(-1)
        return image * gain + offset

    @torch.no_grad()
    def update(self, index: int, render: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> None:
        """Move frame `index`'s map towards the weighted least-squares fit of `target` [H, W, 3] by
        `render` [H, W, 3] (weights [H, W]), per channel, with a ridge towards gain 1, offset 0."""
        w = weight.reshape(-1, 1).double().cpu()
        n = float(w.sum())
        if n < 100:
            return
        x, y = render.reshape(-1, 3).double().cpu(), target.reshape(-1, 3).double().cpu()
        sx, sy = (w * x).sum(0), (w * y).sum(0)
        sxx, sxy = (w * x * x).sum(0), (w * x * y).sum(0)
        lam = self.ridge * n
        # per channel: [[sxx + lam, sx], [sx, n + lam]] @ [gain, offset] = [sxy + lam, sy]
        det = (sxx + lam) * (n + lam) - sx * sx
        gain = ((sxy + lam) * (n + lam) - sx * sy) / det
        offset = ((sxx + lam) * sy - sx * (sxy + lam)) / det
        fit = torch.stack([gain, offset], -1).float()
        self.maps[index] += self.rate * (fit - self.maps[index])

    def renormalise(self, indices) -> None:
        """Maps of the frames `indices` scaled and shifted to average gain 1 and offset 0."""
        chosen = self.maps[list(indices)]
        self.maps[..., 0] /= chosen[..., 0].mean(0)
        self.maps[..., 1] -= chosen[..., 1].mean(0)

    def state_dict(self) -> dict:
        return {"maps": self.maps.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.maps = state["maps"].clone()

    def matrices(self) -> np.ndarray:
        """[n_frames, 3, 4] affine maps: the gains on the diagonal, the offsets in the last column."""
        maps = self.maps.double().numpy()
        out = np.zeros((len(maps), 3, 4))
        out[:, np.arange(3), np.arange(3)] = maps[..., 0]
        out[:, :, 3] = maps[..., 1]
        return out


def write_appearance(path: str | Path, names: list[str], matrices: np.ndarray, trained: np.ndarray) -> Path:
    """`splat/appearance.json`: each frame's map; frames left out of training get their nearest training
    neighbours' average."""
    trained = np.asarray(trained)
    out = {}
    for index, name in enumerate(names):
        if index in trained:
            out[name] = matrices[index]
            continue
        before, after = trained[trained < index], trained[trained > index]
        neighbours = [side for side in (before[-1:], after[:1]) if len(side)]
        out[name] = np.mean([matrices[int(n[0])] for n in neighbours], axis=0) if neighbours else IDENTITY
    return write_json(path, {"frames": {name: m.round(6).tolist() for name, m in out.items()}})


def read_appearance(path: str | Path) -> dict[str, np.ndarray]:
    """Frame name -> [3, 4] affine map; empty when the run has none (older runs: neutral everywhere)."""
    path = Path(path)
    if not path.is_file():
        return {}
    return {name: np.array(m, np.float64) for name, m in json.loads(path.read_text())["frames"].items()}


def apply_appearance(image: np.ndarray, affine: np.ndarray | None) -> np.ndarray:
    """An image [..., 3] in 0..1 (float) as seen under `affine`, clipped to 0..1."""
    if affine is None:
        return image
    return np.clip(image @ affine[:, :3].T + affine[:, 3], 0.0, 1.0).astype(image.dtype)
