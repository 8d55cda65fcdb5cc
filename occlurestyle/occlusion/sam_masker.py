"""The `sam` masker: the people masker's people, each re-segmented by Segment Anything.

SAM runs through transformers' `SamModel` (no torchvision) from a local folder saved with
`save_pretrained` (e.g. facebook/sam-vit-base: config.json and model.safetensors); nothing is
downloaded. Per frame the image is embedded once and every person found by the people masker prompts
the mask decoder with their box and the landmarks the pose model sees (shoulders, hips, nose). SAM's
masks replace the pose model's mattes: sharper edges, hair and loose clothes, at seconds a frame on a
CPU. Preprocessing is SAM's own (longest side 1024, ImageNet normalisation, padded square), done here
because transformers' SamImageProcessor needs torchvision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..models import check_local_model
from .people_masker import PeopleFrame, compose_people, people_frames

EXAMPLE = "facebook/sam-vit-base"
INPUT_SIZE = 1024
PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)
PROMPT_LANDMARKS = (0, 11, 12, 23, 24)  # nose, shoulders, hips
MIN_VISIBILITY = 0.5


def check_sam_dir(model_dir: str | Path | None) -> Path:
    return check_local_model(model_dir, "the sam masker", EXAMPLE, "--sam-model DIR")


@dataclass
class SamRefiner:
    """SAM from `model_dir` (checked with check_sam_dir); call it with a frame and the people in it."""

    model_dir: Path

    def __post_init__(self):
        import torch
        from transformers import SamModel

        torch.manual_seed(0)
        self.model = SamModel.from_pretrained(str(self.model_dir)).eval()

    def embed(self, image: np.ndarray):
        import torch

        height, width = image.shape[:2]
        scale = INPUT_SIZE / max(height, width)
        size = (int(round(width * scale)), int(round(height * scale)))
        resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
        padded = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.float32)
        padded[:size[1], :size[0]] = (resized - PIXEL_MEAN) / PIXEL_STD
        with torch.no_grad():
            embedding = self.model.get_image_embeddings(torch.from_numpy(padded).permute(2, 0, 1)[None])
        return embedding, scale, size

    def __call__(self, image: np.ndarray, people: PeopleFrame) -> PeopleFrame:
        """`people` with each person's matte from SAM (prompted by their box and visible landmarks)."""
        import torch
        import torch.nn.functional as F

        if not people.ids:
            return people
        embedding, scale, size = self.embed(image)
        boxes, points = [], []
        for person in people.ids:
            ys, xs = np.nonzero(people.instances == person)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            landmarks = people.landmarks.get(person)
            chosen = [landmarks[i, :2] for i in PROMPT_LANDMARKS if landmarks is not None
                      and landmarks[i, 2] >= MIN_VISIBILITY and people.instances[_pixel(landmarks[i], image)] == person]
            if not chosen:  # the instance's innermost pixel
                inner = cv2.distanceTransform((people.instances == person).astype(np.uint8), cv2.DIST_L2, 3)
                y, x = np.unravel_index(np.argmax(inner), inner.shape)
                chosen = [np.array([x + 0.5, y + 0.5])]
            points.append(chosen)
        most = max(len(p) for p in points)
        point_array = np.zeros((1, len(points), most, 2), np.float32)
        label_array = -np.ones((1, len(points), most), np.int64)  # -1: padding, not a point
        for k, chosen in enumerate(points):
            point_array[0, k, :len(chosen)] = np.array(chosen)
            label_array[0, k, :len(chosen)] = 1
        with torch.no_grad():
            out = self.model(image_embeddings=embedding,
                             input_boxes=torch.tensor(np.array(boxes, np.float32)[None] * scale),
                             input_points=torch.tensor(point_array * scale), input_labels=torch.tensor(label_array),
                             multimask_output=False)
        logits = F.interpolate(out.pred_masks[0, :, 0][None], (INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                               align_corners=False)[..., :size[1], :size[0]]
        logits = F.interpolate(logits, image.shape[:2], mode="bilinear", align_corners=False)[0].numpy()
        mattes = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        return compose_people(image.shape[:2], list(mattes), people.ids, people.landmarks,
                              presence=people.presence)


def _pixel(landmark: np.ndarray, image: np.ndarray) -> tuple[int, int]:
    height, width = image.shape[:2]
    return (min(max(int(landmark[1]), 0), height - 1), min(max(int(landmark[0]), 0), width - 1))


def sam_frames(frames: list[Path], model_dir: str | Path | None, people_options=None,
               progress: bool = True) -> Iterator[PeopleFrame]:
    """The people of each frame, their masks from SAM. Both models load before this returns."""
    return people_frames(frames, people_options, progress, refine=SamRefiner(check_sam_dir(model_dir)))
