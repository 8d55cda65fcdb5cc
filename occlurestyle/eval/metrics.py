"""Numbers that say how well a stage did, against ground truth where the sample scenes provide it."""

from __future__ import annotations

from typing import Iterable, Mapping

import cv2
import numpy as np

from ..cameras import camera_center, rotation_angle_deg


def align_sim3(est_viewmats: Mapping[str, np.ndarray], gt_viewmats: Mapping[str, np.ndarray]):
    """Similarity (s, R, t) taking estimated world coordinates to ground-truth ones: x_gt = s R x_est + t.

    The rotation comes from the camera orientations (chordal mean of R_gt^T R_est), not from the camera
    centres alone: handheld paths are often nearly straight, which leaves the rotation about the path
    unconstrained by positions. Scale and translation then fit the centres by least squares.
    """
    names = sorted(set(est_viewmats) & set(gt_viewmats))
    est = [np.asarray(est_viewmats[n]) for n in names]
    gt = [np.asarray(gt_viewmats[n]) for n in names]
    u, _, vt = np.linalg.svd(sum(g[:3, :3].T @ e[:3, :3] for e, g in zip(est, gt)))
    R = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    c_est, c_gt = camera_center(est), camera_center(gt)
    e = (c_est - c_est.mean(0)) @ R.T
    g = c_gt - c_gt.mean(0)
    s = float((e * g).sum() / max((e * e).sum(), 1e-12))
    t = c_gt.mean(0) - s * R @ c_est.mean(0)
    return s, R, t


def pose_errors(est_viewmats: Mapping[str, np.ndarray], gt_viewmats: Mapping[str, np.ndarray]) -> dict:
    """Camera position error (ground-truth units) and rotation error (degrees) after Sim(3) alignment."""
    names = sorted(set(est_viewmats) & set(gt_viewmats))
    s, R, t = align_sim3(est_viewmats, gt_viewmats)
    pos, rot = [], []
    for n in names:
        e, g = np.asarray(est_viewmats[n]), np.asarray(gt_viewmats[n])
        c = s * R @ camera_center(e) + t
        pos.append(np.linalg.norm(c - camera_center(g)))
        rot.append(rotation_angle_deg(e[:3, :3] @ R.T, g))
    return {
        "frames": len(names), "scale": s,
        "position_error_mean": float(np.mean(pos)), "position_error_max": float(np.max(pos)),
        "rotation_error_mean_deg": float(np.mean(rot)), "rotation_error_max_deg": float(np.max(rot)),
    }


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


class SequenceIoU:
    """IoU of masks over a clip fed frame by frame: pixels pooled, and the mean of per-frame IoUs over
    the frames with a person."""

    def __init__(self):
        self.inter = self.union = 0
        self.per_frame: list[float] = []

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
        i, u = np.count_nonzero(pred & gt), np.count_nonzero(pred | gt)
        self.inter, self.union = self.inter + i, self.union + u
        if gt.any():
            self.per_frame.append(i / u)

    def result(self) -> dict:
        return {"iou": float(self.inter / self.union) if self.union else 1.0,
                "mean_frame_iou": float(np.mean(self.per_frame)) if self.per_frame else 1.0,
                "frames": len(self.per_frame)}


def sequence_mask_iou(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict:
    """`SequenceIoU` of (predicted, true) mask pairs."""
    measure = SequenceIoU()
    for pred, gt in pairs:
        measure.add(pred, gt)
    return measure.result()


def psnr(mse: float) -> float:
    return float(-10.0 * np.log10(max(mse, 1e-12)))


class BackgroundScores:
    """PSNR and SSIM of background renders against the true person-free frames, fed frame by frame: over
    all pixels, and over the pixels a person hid in that frame ("disoccluded": what the frame itself could
    not show). Squared errors and SSIM are pooled over the clip. Images are float in [0, 1]."""

    def __init__(self):
        self.sq_all = self.n_all = self.sq_hidden = self.n_hidden = 0.0
        self.ssim_all = self.ssim_hidden = 0.0

    def add(self, render: np.ndarray, truth: np.ndarray, hidden: np.ndarray, ssim: bool = True) -> None:
        render, truth, hidden = np.asarray(render, np.float64), np.asarray(truth, np.float64), np.asarray(hidden, bool)
        sq = ((render - truth) ** 2).mean(axis=-1)
        self.sq_all, self.n_all = self.sq_all + sq.sum(), self.n_all + sq.size
        self.sq_hidden, self.n_hidden = self.sq_hidden + sq[hidden].sum(), self.n_hidden + hidden.sum()
        if ssim:
            s = ssim_map(render, truth)
            self.ssim_all, self.ssim_hidden = self.ssim_all + s.sum(), self.ssim_hidden + s[hidden].sum()

    def psnr(self) -> dict:
        return {"psnr_all": psnr(self.sq_all / max(self.n_all, 1)),
                "psnr_disoccluded": psnr(self.sq_hidden / self.n_hidden) if self.n_hidden else float("nan"),
                "disoccluded_pixels": int(self.n_hidden)}

    def ssim(self) -> dict:
        return {"ssim_all": float(self.ssim_all / max(self.n_all, 1)),
                "ssim_disoccluded": float(self.ssim_hidden / self.n_hidden) if self.n_hidden else float("nan")}


def background_psnr(renders: Iterable[np.ndarray], truths: Iterable[np.ndarray],
                    person_masks: Iterable[np.ndarray]) -> dict:
    """`BackgroundScores.psnr` of a clip given as lists (or any iterables)."""
    scores = BackgroundScores()
    for render, truth, hidden in zip(renders, truths, person_masks):
        scores.add(render, truth, hidden, ssim=False)
    return scores.psnr()


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM [H,W] of two RGB images (0-1), Wang et al.'s 11x11 Gaussian window (sigma 1.5),
    averaged over channels."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    c1, c2 = 0.01**2, 0.03**2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim.mean(-1)


class Leakage:
    """How much a method changed the people, fed frame by frame: over the TRUE person pixels (ground-truth
    masks, eroded by `erode` px so that a soft edge or a blended outline does not count), the mean absolute
    change against the input (0-1, over channels) and the fraction of those pixels changed by more than
    2/255. A person (or a part of one) that the masker missed was stylized with the room, and counts here."""

    def __init__(self, erode: int = 2):
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1,) * 2) if erode > 0 else None
        self.total = self.changed = self.count = 0.0

    def add(self, output: np.ndarray, source: np.ndarray, true_people: np.ndarray) -> None:
        person = np.asarray(true_people, bool)
        if self.kernel is not None:
            person = cv2.erode(person.astype(np.uint8), self.kernel) > 0
        diff = np.abs(np.asarray(output, np.int16)[person] - np.asarray(source, np.int16)[person])
        self.total += diff.mean(-1).sum() / 255.0
        self.changed += (diff.max(-1) > 2).sum()
        self.count += person.sum()

    def result(self) -> dict:
        return {"leakage": float(self.total / self.count) if self.count else float("nan"),
                "leakage_changed_fraction": float(self.changed / self.count) if self.count else float("nan"),
                "leakage_pixels": int(self.count)}


def leakage(outputs: Iterable[np.ndarray], inputs: Iterable[np.ndarray], true_people: Iterable[np.ndarray],
            erode: int = 2) -> dict:
    """`Leakage` of a clip given as lists (or any iterables)."""
    measure = Leakage(erode)
    for output, source, person in zip(outputs, inputs, true_people):
        measure.add(output, source, person)
    return measure.result()
