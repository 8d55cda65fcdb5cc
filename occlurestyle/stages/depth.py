"""The `depth` stage: per-frame depth maps from a local monocular depth model (recon/depth_model.py),
`depth_maps/<frame>.npy`, which training uses to clear splats in front of people. Without a model it
does nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..layout import RunLayout
from ..recon.depth_models import DEPTH_MODELS, depth_model


@dataclass
class DepthOptions:
    kind: str = field(default="transformers", metadata={
        "help": "; ".join(f"{k}: {m.help}" for k, m in DEPTH_MODELS.items())})
    model: str | None = field(default=None, metadata={
        "help": "a local Hugging Face depth-estimation model folder (config.json and model.safetensors), e.g. "
                "depth-anything/Depth-Anything-V2-Small-hf saved locally (needs the [depth] extra)"})


Options = DepthOptions


def check(options: DepthOptions) -> None:
    depth_model(options.kind)


def prepare(options: DepthOptions) -> None:
    if options.model:
        depth_model(options.kind).prepare(options.model)


def outputs(layout: RunLayout, options: DepthOptions) -> tuple[Path, ...]:
    return (layout.depth_maps_info,) if options.model else ()


def run(layout: RunLayout, options: DepthOptions, progress: bool = True) -> Path | None:
    if not options.model:
        return None
    return depth_model(options.kind).estimate(layout.root, options.model, progress)
