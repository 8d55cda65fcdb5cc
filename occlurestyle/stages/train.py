"""The `train` stage: the static background as 3D Gaussians, people left out (recon/trainer.py):
`splat/background.ply`, `splat/train.json`."""

from __future__ import annotations

from pathlib import Path

from ..layout import RunLayout
from ..recon.trainer import TrainOptions, train

Options = TrainOptions


def outputs(layout: RunLayout, options: TrainOptions) -> tuple[Path, ...]:
    return (layout.background_ply,)


def run(layout: RunLayout, options: TrainOptions, progress: bool = True) -> Path:
    return train(layout.root, options, progress=progress)
