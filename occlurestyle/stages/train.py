"""The `train` stage: the static background as 3D Gaussians, people left out (recon/trainer.py):
`splat/background.ply`, `splat/train.json`. The masks are corrected halfway against the model with the
people stage's correction (occlusion/matte.py), handed down here: training sits below occlusion."""

from __future__ import annotations

from pathlib import Path

from ..layout import RunLayout
from ..occlusion.matte import refine_with_background
from ..recon.trainer import TrainOptions, check_options, train

Options = TrainOptions


def check(options: TrainOptions) -> None:
    check_options(options)


def outputs(layout: RunLayout, options: TrainOptions) -> tuple[Path, ...]:
    return (layout.background_ply,)


def run(layout: RunLayout, options: TrainOptions, progress: bool = True) -> Path:
    return train(layout.root, options, progress=progress, correct_masks=refine_with_background)
