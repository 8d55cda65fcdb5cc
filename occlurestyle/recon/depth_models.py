"""The monocular depth models, by name, for the `depth` stage. Each takes a run folder and a local
model folder and writes `depth_maps/<frame>.npy` (depth or disparity, any scale: training aligns each
map to its frame's keypoints) and `depth_maps/model.json`. One function pair and one line in
`DEPTH_MODELS` each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError


@dataclass(frozen=True)
class DepthModel:
    estimate: Callable[[Path, str, bool], Path]  # (run folder, model folder, progress) -> depth_maps/
    prepare: Callable[[str | None], Path]  # the model folder checked, or an error naming what is missing
    help: str


def _transformers_estimate(run_dir, model_dir, progress):
    from .depth_model import estimate_depths

    return estimate_depths(run_dir, model_dir, progress=progress)


def _transformers_prepare(model_dir):
    from .depth_model import check_model_dir

    return check_model_dir(model_dir)


DEPTH_MODELS: dict[str, DepthModel] = {
    "transformers": DepthModel(_transformers_estimate, _transformers_prepare,
                               "a Hugging Face depth-estimation model saved to a folder (Depth Anything V2, DPT, ...)"),
}


def depth_model(name: str) -> DepthModel:
    if name not in DEPTH_MODELS:
        raise InputError(f"unknown depth model kind {name!r}; choose one of {', '.join(DEPTH_MODELS)}")
    return DEPTH_MODELS[name]
