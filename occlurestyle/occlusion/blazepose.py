"""MediaPipe's BlazePose detector and landmark model (their .tflite files) as numpy functions.

Owns the models' tensors and geometry: the detector's letterbox, SSD anchors, score decoding and
weighted non-maximum suppression; the rotated square region of interest (ROI) a detection or a pose
defines; the landmark model's 256x256 crop and the paste-back of its segmentation logits into the
frame. Follows MediaPipe's pose graphs (pose_detection_cpu, pose_landmark_by_roi_cpu). The files run
with ai-edge-litert on up to 4 threads. Tracking and
instances are the people masker's (people_masker.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import OccluReStyleError

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
ROI_SCALE = 1.25  # the ROI is this much larger than twice the centre-to-scale-point distance
NMS_OVERLAP = 0.3


@dataclass(frozen=True)
class Roi:
    """A square crop of the frame, rotated so the person stands upright in it (pixel units)."""

    center: tuple[float, float]  # continuous image coordinates: pixel i spans [i, i+1)
    size: float
    rotation: float  # radians; 0 = upright

    @classmethod
    def from_axis(cls, start: np.ndarray, end: np.ndarray) -> "Roi":
        """MediaPipe's AlignmentPointsRects + RectTransformation: centre `start` (mid-hip), the
        body's axis towards `end` (the scale point above the head), side 2 * 1.25 * |end - start|."""
        dx, dy = float(end[0] - start[0]), float(end[1] - start[1])
        rotation = _wrap(math.pi / 2 - math.atan2(-dy, dx))
        return cls((float(start[0]), float(start[1])), 2 * math.hypot(dx, dy) * ROI_SCALE, rotation)

    def crop_matrix(self, crop_size: int) -> np.ndarray:
        """2x3 affine from crop pixel index to frame pixel index (cv2 convention: integer = centre)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        linear = self.size / crop_size * np.array([[c, -s], [s, c]])
        half = crop_size / 2 - 0.5
        offset = np.array(self.center) - 0.5 - linear @ np.array([half, half])
        return np.hstack([linear, offset[:, None]])

    def to_frame(self, points: np.ndarray, crop_size: int) -> np.ndarray:
        """Continuous crop coordinates (0..crop_size) to continuous frame coordinates."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        linear = self.size / crop_size * np.array([[c, -s], [s, c]])
        return (np.asarray(points, float) - crop_size / 2) @ linear.T + np.array(self.center)

    def corners(self) -> np.ndarray:
        return self.to_frame(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float), 1)

    def box(self) -> np.ndarray:
        """Axis-aligned bounds [x0, y0, x1, y1] of the rotated square."""
        corners = self.corners()
        return np.concatenate([corners.min(0), corners.max(0)])


@dataclass
class Detection:
    score: float
    box: np.ndarray  # [x0, y0, x1, y1], frame pixels
    keypoints: np.ndarray  # (4, 2): mid-hip, full-body scale point, mid-shoulder, upper-body scale point

    def roi(self) -> Roi:
        return Roi.from_axis(self.keypoints[0], self.keypoints[1])

    def close_roi(self, scale: float) -> Roi:
        """A crop `scale` times the box's longer side about its centre, turned as `roi`."""
        x0, y0, x1, y1 = self.box
        return Roi(((x0 + x1) / 2, (y0 + y1) / 2), scale * max(x1 - x0, y1 - y0), self.roi().rotation)


@dataclass
class Pose:
    roi: Roi  # the crop it was found in
    presence: float  # the model's "a person is in this crop" score, 0..1
    landmarks: np.ndarray  # (33, 3): frame x, y and visibility 0..1
    alignment: np.ndarray  # (2, 2): frame mid-hip and scale point, for the next frame's ROI
    logits: np.ndarray  # (256, 256) segmentation logits on the crop

    def next_roi(self) -> Roi:
        return Roi.from_axis(self.alignment[0], self.alignment[1])

    def matte(self, shape: tuple[int, int]) -> np.ndarray:
        """The person's soft matte (0..1 float32) in a frame of `shape`, zero outside the crop."""
        height, width = shape
        x0, y0, x1, y1 = self.roi.box()
        x0, y0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        x1, y1 = min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height)
        matte = np.zeros(shape, np.float32)
        if x1 <= x0 or y1 <= y0:
            return matte
        matrix = self.roi.crop_matrix(LANDMARK_SIZE)
        matrix[:, 2] -= (x0, y0)
        logits = cv2.warpAffine(self.logits, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=-30.0)
        matte[y0:y1, x0:x1] = _sigmoid(logits)
        return matte


def _wrap(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def ssd_anchors() -> np.ndarray:
    """Anchor centres (2254, 2) of the detector: strides 8, 16, 32, 32, 32 on a 224 input, two anchors a
    cell per layer, layers of one stride merged (MediaPipe's SsdAnchorsCalculator, fixed anchor size)."""
    strides = [8, 16, 32, 32, 32]
    centres = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_cell = 2 * (same - layer)
        cells = math.ceil(DETECTOR_SIZE / strides[layer])
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], 1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(centres)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, overlap: float = NMS_OVERLAP):
    """MediaPipe's weighted suppression: each kept detection is the score-weighted mean of the ones it
    overlaps by IoU > `overlap`, with the best one's score. Returns (boxes, keypoints, scores)."""
    order = np.argsort(-scores, kind="stable")
    remaining = list(order)
    kept = []
    while remaining:
        top = remaining[0]
        ious = _iou(boxes[top], boxes[remaining])
        group = [index for index, iou in zip(remaining, ious) if iou > overlap]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        kept.append((box, points, float(scores[top])))
        remaining = [index for index, iou in zip(remaining, ious) if iou <= overlap]
    if not kept:
        return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
    return (np.array([k[0] for k in kept]), np.array([k[1] for k in kept]), np.array([k[2] for k in kept]))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def _interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise OccluReStyleError(f"the people masker runs its models with ai-edge-litert ({exc}): "
                                "pip install ai-edge-litert, or use --masker auto") from None
    # XNNPACK splits the work, not the sums: 1 and 2 threads gave bit-identical outputs here
    interpreter = Interpreter(model_path=str(path), num_threads=min(4, os.cpu_count() or 1))
    interpreter.allocate_tensors()
    return interpreter


class PoseDetector:
    """The person detector: frame (RGB uint8) -> detections above `threshold`, in frame pixels."""

    def __init__(self, path: Path, threshold: float = 0.5):
        self.interpreter = _interpreter(path)
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["name"])
        self.raw_boxes, self.raw_scores = outputs[0]["index"], outputs[1]["index"]
        self.anchors = ssd_anchors()
        self.threshold = threshold

    def __call__(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        scale = DETECTOR_SIZE / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = (DETECTOR_SIZE - new_w) // 2, (DETECTOR_SIZE - new_h) // 2
        letterbox = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.uint8)
        letterbox[top:top + new_h, left:left + new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        tensor = letterbox.astype(np.float32)[None] / 127.5 - 1.0
        self.interpreter.set_tensor(self.input, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.raw_boxes)[0]
        scores = _sigmoid(self.interpreter.get_tensor(self.raw_scores)[0, :, 0])
        keep = scores >= self.threshold
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        centre = raw[:, 0:2] / DETECTOR_SIZE + anchors
        half = raw[:, 2:4] / DETECTOR_SIZE / 2
        boxes = np.hstack([centre - half, centre + half])
        points = raw[:, 4:12].reshape(-1, 4, 2) / DETECTOR_SIZE + anchors[:, None, :]
        boxes, points, scores = weighted_nms(boxes, points, scores)
        # letterboxed 0..1 -> frame continuous coordinates
        offset, scales = np.array([left, top]), np.array([new_w / width, new_h / height])
        boxes = ((boxes.reshape(-1, 2, 2) * DETECTOR_SIZE - offset) / scales).reshape(-1, 4)
        points = (points * DETECTOR_SIZE - offset) / scales
        return [Detection(float(s), b, p) for s, b, p in zip(scores, boxes, points)]


class PoseLandmarker:
    """The landmark model on one ROI: pose, presence score and segmentation logits."""

    def __init__(self, path: Path):
        self.interpreter = _interpreter(path)
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.landmarks, self.flag, self.segmentation = (outputs["Identity"], outputs["Identity_1"],
                                                        outputs["Identity_2"])

    def __call__(self, image: np.ndarray, roi: Roi, mirrored: bool = False) -> Pose:
        """`mirrored` also segments the mirror image of the crop and averages the two (steadier edges)."""
        crop = cv2.warpAffine(image, roi.crop_matrix(LANDMARK_SIZE), (LANDMARK_SIZE, LANDMARK_SIZE),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)
        tensor = crop.astype(np.float32)[None] / 255.0
        self.interpreter.set_tensor(self.input, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.landmarks)[0].reshape(39, 5)
        presence = float(np.ravel(self.interpreter.get_tensor(self.flag))[0])
        logits = self.interpreter.get_tensor(self.segmentation)[0, :, :, 0].astype(np.float32)
        if mirrored:
            self.interpreter.set_tensor(self.input, np.ascontiguousarray(tensor[:, :, ::-1]))
            self.interpreter.invoke()
            logits = 0.5 * (logits + self.interpreter.get_tensor(self.segmentation)[0, :, ::-1, 0])
        points = roi.to_frame(raw[:, :2], LANDMARK_SIZE)
        landmarks = np.hstack([points[:33], _sigmoid(raw[:33, 3:4])])
        return Pose(roi, presence, landmarks, points[33:35], logits.copy())
