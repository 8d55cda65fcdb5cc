"""The `sam` masker: segment-anything's `SamPredictor` with a local checkpoint, prompted with person boxes.

Boxes come from the user for the first frame (then each person's box follows their mask from frame
to frame, shifted by the optical flow inside it) or, by default, from OpenCV's built-in HOG people
detector on every frame. Needs the optional extra: `pip install 'occlurestyle[sam]'` (segment-anything
imports torchvision). Nothing is downloaded: the checkpoint is a local file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import InputError, OccluReStyleError
from ..scenes import io

CHECKPOINTS = {
    "vit_b": "sam_vit_b_01ec64.pth",
    "vit_l": "sam_vit_l_0b3195.pth",
    "vit_h": "sam_vit_h_4b8939.pth",
}
DOWNLOAD = "https://dl.fbaipublicfiles.com/segment_anything/"


def check_checkpoint(checkpoint: str | Path | None, model: str) -> Path:
    """The checkpoint path, or an error naming the file to download and how to pass it."""
    if model not in CHECKPOINTS:
        raise InputError(f"unknown SAM model {model!r}; choose one of {', '.join(CHECKPOINTS)}")
    expected = CHECKPOINTS[model]
    hint = (f"download {expected} from {DOWNLOAD}{expected} and pass it with --sam-checkpoint PATH "
            f"(--sam-model {model})")
    if checkpoint is None:
        raise InputError(f"the sam masker needs a local checkpoint: {hint}")
    path = Path(checkpoint)
    if not path.is_file():
        raise InputError(f"SAM checkpoint not found: {path}; {hint}")
    return path


def load_predictor(checkpoint: Path, model: str):
    try:
        from segment_anything import SamPredictor, sam_model_registry
    except ImportError as exc:
        raise OccluReStyleError(
            f"the sam masker needs segment-anything ({exc}); install the extra: pip install 'occlurestyle[sam]' "
            "(it needs a torchvision that matches your torch), or use --masker auto"
        ) from None
    import torch

    sam = sam_model_registry[model](checkpoint=str(checkpoint))
    sam.to("cuda" if torch.cuda.is_available() else "cpu")
    return SamPredictor(sam)


def detect_people(image: np.ndarray) -> list[np.ndarray]:
    """Person boxes [x0, y0, x1, y1] from OpenCV's HOG people detector (upscaled for small frames)."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    scale = max(1.0, 480.0 / image.shape[0])
    big = cv2.resize(image, None, fx=scale, fy=scale) if scale > 1 else image
    rects, weights = hog.detectMultiScale(cv2.cvtColor(big, cv2.COLOR_RGB2GRAY), winStride=(8, 8), padding=(8, 8),
                                          scale=1.05)
    boxes = [np.array([x, y, x + w, y + h], np.float64) / scale
             for (x, y, w, h), score in zip(rects, np.ravel(weights)) if score > 0.5]
    return _suppress(boxes)


def _suppress(boxes: list[np.ndarray], overlap: float = 0.5) -> list[np.ndarray]:
    kept: list[np.ndarray] = []
    for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        if all(_iou(box, k) < overlap for k in kept):
            kept.append(box)
    return kept


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def track_box(mask: np.ndarray, flow: np.ndarray, margin: float = 0.1) -> np.ndarray | None:
    """The box of `mask` moved by the median flow inside it and enlarged by `margin`; None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    shift = np.median(flow[ys, xs], axis=0)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    pad_x, pad_y = margin * (x1 - x0), margin * (y1 - y0)
    height, width = mask.shape
    return np.array([max(0, x0 - pad_x + shift[0]), max(0, y0 - pad_y + shift[1]),
                     min(width, x1 + pad_x + shift[0]), min(height, y1 + pad_y + shift[1])])


def sam_masks(frames: list[Path], checkpoint: str | Path | None, model: str = "vit_b",
              boxes: list | None = None, progress: bool = True) -> list[np.ndarray]:
    """Boolean person masks for `frames`; `boxes` are first-frame person boxes (None: detect per frame)."""
    predictor = load_predictor(check_checkpoint(checkpoint, model), model)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    tracked = [np.asarray(b, np.float64) for b in boxes] if boxes else None
    masks, previous_gray, previous_people = [], None, []
    for path in tqdm(frames, desc="mask: sam", unit="frame", disable=not progress):
        image = io.read_image(path)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if tracked is None:
            prompts = detect_people(image)
        elif previous_gray is None:
            prompts = tracked
        else:
            flow = dis.calc(previous_gray, gray, None)
            prompts = [b for b in (track_box(m, flow) for m in previous_people) if b is not None]
        predictor.set_image(image)
        union = np.zeros(image.shape[:2], bool)
        people = []
        for box in prompts:
            predicted, _, _ = predictor.predict(box=np.asarray(box), multimask_output=False)
            people.append(predicted[0].astype(bool))
            union |= people[-1]
        masks.append(union)
        previous_gray, previous_people = gray, people
    return masks
