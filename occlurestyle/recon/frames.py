"""The training frames: each registered frame with its person mask and loss weights at the training
resolution, read from the run folder when a step asks for it and kept while they fit a memory budget
(least recently used first out). Training's memory is then the model plus that budget, whatever the
length of the clip; a short clip stays in memory whole and is read once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import media
from ..layout import RunLayout
from .losses import edge_weights


@dataclass
class TrainingFrame:
    image: torch.Tensor  # [H, W, 3] uint8
    person: torch.Tensor  # [H, W] bool, True = person (grown by `mask_dilate`)
    # [H, W] loss weight of each background pixel: below 1 on the ring around a person where the frame
    # blends person and background (losses.edge_weights); None: every background pixel weighs 1
    weights: torch.Tensor | None

    @property
    def nbytes(self) -> int:
        extra = self.weights.numel() * self.weights.element_size() if self.weights is not None else 0
        return self.image.numel() + self.person.numel() + extra


class FrameStore:
    """`store[i]`: frame `names[i]` as a TrainingFrame at `size` (width, height)."""

    def __init__(self, layout: RunLayout, names: list[str], size: tuple[int, int], mask_dilate: int = 0,
                 edge_matting: bool = True, budget_mb: float = 1024):
        self.layout, self.names, self.size = layout, list(names), tuple(size)
        self.mask_dilate, self.edge_matting = mask_dilate, edge_matting
        self.budget = budget_mb * 2**20
        self._kept: OrderedDict[int, TrainingFrame] = OrderedDict()
        self._kept_bytes = 0
        self.reads = 0  # frames read from disk (a short clip: each once)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> TrainingFrame:
        if index in self._kept:
            self._kept.move_to_end(index)
            return self._kept[index]
        frame = self._read(index)
        self.reads += 1
        self._kept[index] = frame
        self._kept_bytes += frame.nbytes
        while self._kept_bytes > self.budget and len(self._kept) > 1:
            _, dropped = self._kept.popitem(last=False)
            self._kept_bytes -= dropped.nbytes
        return frame

    def person_mask(self, index: int) -> np.ndarray:
        """The frame's person mask at the training size (bool), as training uses it."""
        return self[index].person.numpy()

    def _read(self, index: int) -> TrainingFrame:
        name = self.names[index]
        image = media.read_image(self.layout.frames / name)
        mask_path = self.layout.masks / f"{Path(name).stem}.png"
        mask = media.read_gray(mask_path) > 0 if mask_path.is_file() else np.zeros(image.shape[:2], bool)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask.astype(np.uint8), self.size, interpolation=cv2.INTER_LINEAR) > 0
        if self.mask_dilate > 0:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.mask_dilate + 1,) * 2)
            mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0
        weights = torch.from_numpy(edge_weights(image, mask)) if self.edge_matting else None
        return TrainingFrame(torch.from_numpy(image), torch.from_numpy(mask), weights)
