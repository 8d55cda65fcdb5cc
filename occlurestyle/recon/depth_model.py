"""The `depth` stage's body: per-frame depth maps from a monocular depth model run from a local folder.

Training uses such maps (`train --person-depth-dir`, `recon/free_space.py`) to pin the background right
beside each person at its depth and to clear the space in front of people; the frames alone do not
give either (README, "Background reconstruction"). Any Hugging Face depth-estimation checkpoint saved
as a folder works (Depth Anything V2 Small: `depth-anything/Depth-Anything-V2-Small-hf`, its
`config.json` and `model.safetensors`); nothing is downloaded. The maps are written as the model
gives them (relative disparity for Depth Anything, metric depth for others): training fits each to
its frame's keypoints as depth or as disparity, whichever fits. Needs the optional extra
`pip install 'occlurestyle[depth]'` (transformers; no torchvision).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .. import media
from ..errors import OccluReStyleError
from ..fsutil import atomic_dir, write_json
from ..layout import RunLayout
from ..models import check_local_model

EXAMPLE = "depth-anything/Depth-Anything-V2-Small-hf"
# Depth Anything's preprocessing, used when the folder has no preprocessor_config.json
DEFAULT_PREPROCESSING = {"size": 518, "multiple": 14, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def check_model_dir(model_dir: str | Path | None) -> Path:
    """The model folder, or an error naming the file that is missing and where such a folder comes from."""
    return check_local_model(model_dir, "the depth stage", EXAMPLE, "--depth-model DIR")


def preprocessing(model_dir: Path) -> dict:
    """Input size, multiple and normalisation from the folder's preprocessor_config.json, if any."""
    settings = dict(DEFAULT_PREPROCESSING)
    path = model_dir / "preprocessor_config.json"
    if path.is_file():
        config = json.loads(path.read_text())
        size = config.get("size", {})
        if isinstance(size, dict):
            size = size.get("shortest_edge") or min(size.get("height", 518), size.get("width", 518))
        settings.update(size=int(size), multiple=int(config.get("ensure_multiple_of", settings["multiple"])),
                        mean=tuple(config.get("image_mean", settings["mean"])),
                        std=tuple(config.get("image_std", settings["std"])))
    return settings


def load_model(model_dir: Path):
    try:
        from transformers import AutoModelForDepthEstimation
    except ImportError as exc:
        raise OccluReStyleError(f"the depth stage needs transformers ({exc}); install the extra: "
                                "pip install 'occlurestyle[depth]'") from None
    import torch

    model = AutoModelForDepthEstimation.from_pretrained(str(model_dir), local_files_only=True)
    return model.eval().to("cuda" if torch.cuda.is_available() else "cpu")


def model_input(image: np.ndarray, settings: dict):
    """[1,3,h,w] float tensor: the shorter side resized to `size`, both sides a multiple of `multiple`
    (rounded up), normalised."""
    import torch

    height, width = image.shape[:2]
    scale = settings["size"] / min(height, width)
    multiple = settings["multiple"]
    new_h = max(multiple, int(np.ceil(height * scale / multiple)) * multiple)
    new_w = max(multiple, int(np.ceil(width * scale / multiple)) * multiple)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    normalised = (resized - np.array(settings["mean"], np.float32)) / np.array(settings["std"], np.float32)
    return torch.from_numpy(normalised.transpose(2, 0, 1).copy())[None]


def estimate_depths(run_dir: str | Path, model_dir: str | Path, progress: bool = True) -> Path:
    """Write `depth_maps/<frame stem>.npy` (float32, the frames' size) for every frame of the run, and
    `depth_maps/model.json` (model folder and type, frame count, input size). Returns the folder."""
    import torch

    layout = RunLayout(run_dir)
    frames = layout.frame_paths()
    model_dir = check_model_dir(model_dir)
    settings = preprocessing(model_dir)
    model = load_model(model_dir)
    device = next(model.parameters()).device
    with atomic_dir(layout.depth_maps, overwrite=True) as tmp:
        for path in tqdm(frames, desc="depth", unit="frame", disable=not progress):
            image = media.read_image(path)
            with torch.no_grad():
                predicted = model(pixel_values=model_input(image, settings).to(device)).predicted_depth
            values = predicted.reshape(predicted.shape[-2:]).float().cpu().numpy()
            values = cv2.resize(values, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
            if not np.isfinite(values).all():
                raise OccluReStyleError(f"the depth model gave non-finite values on {path.name}: is {model_dir} "
                                        "a depth-estimation model?")
            np.save(tmp / f"{path.stem}.npy", values.astype(np.float32))
        write_json(tmp / "model.json", {"model": str(model_dir), "model_type": model.config.model_type,
                                        "frames": len(frames), "input_short_side": settings["size"]})
    return layout.depth_maps
