"""Photometric losses restricted to background pixels, and the robust weights that drop what the
static model cannot explain.

SSIM is masked properly: the local means, variances and covariance come from background pixels
only (normalised convolution), so a person inside the window neither counts nor drags the
statistics; the SSIM map is then averaged over background pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange
from torch import Tensor

from .._numba_setup import FAST_ELEMENTWISE, FAST_REDUCTIONS


def _gaussian_kernel(size: int = 11, sigma: float = 1.5) -> Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


@njit(fastmath=FAST_ELEMENTWISE, error_model="numpy", cache=True)
def _blur_into(src, kernel, pad_row, pad_img, out):
    """out = src [H, W] filtered with `kernel` along W then H, zero padding. `pad_row` [W + 2r] and
    `pad_img` [H + 2r, W] are scratch buffers; every index is non-negative so the loops vectorize."""
    height, width = src.shape
    taps = kernel.shape[0]
    r = taps // 2
    pad_img[:r] = 0.0
    pad_img[r + height:] = 0.0
    for y in range(height):
        pad_row[r:r + width] = src[y]
        for xx in range(width):
            pad_img[r + y, xx] = 0.0
        for k in range(taps):
            g = kernel[k]
            for xx in range(width):
                pad_img[r + y, xx] += g * pad_row[xx + k]
    for y in range(height):
        for xx in range(width):
            out[y, xx] = 0.0
        for k in range(taps):
            g = kernel[k]
            for xx in range(width):
                out[y, xx] += g * pad_img[y + k, xx]


@njit(parallel=True, fastmath=FAST_REDUCTIONS, error_model="numpy", cache=True)
def _masked_ssim_and_grad(x, y, w, kernel, c1, c2, grad):
    """Σ_p w_p·SSIM_p summed over channels (x, y [C,H,W]; w [H,W]) and its gradient w.r.t. x into `grad`.

    SSIM's local statistics are weighted by w (normalised convolution). With m = B(wx)/B(w),
    e_xx = B(wx²)/B(w), e_xy = B(wxy)/B(w) and S = A1·A2/(B1·B2), the gradient of Σ w·S is
    w·[B(Gm/N) + 2x·B(Gxx/N) + y·B(Gxy/N)] with N = B(w) and G the per-pixel partials times w
    (the blur is symmetric, so it is its own adjoint).
    """
    channels, height, width = x.shape
    r = kernel.shape[0] // 2
    totals = np.zeros(channels)
    norm = np.empty((height, width), np.float32)
    pad_row = np.zeros(width + 2 * r, np.float32)
    pad_img = np.zeros((height + 2 * r, width), np.float32)
    _blur_into(w, kernel, pad_row, pad_img, norm)
    for ch in prange(channels):
        row = np.zeros(width + 2 * r, np.float32)
        img = np.zeros((height + 2 * r, width), np.float32)
        xc, yc = x[ch], y[ch]
        stats = np.empty((5, height, width), np.float32)
        work = np.empty((height, width), np.float32)
        for i in range(5):
            for yy in range(height):
                for xx in range(width):
                    a, b = xc[yy, xx], yc[yy, xx]
                    if i == 0:
                        work[yy, xx] = w[yy, xx] * a
                    elif i == 1:
                        work[yy, xx] = w[yy, xx] * b
                    elif i == 2:
                        work[yy, xx] = w[yy, xx] * a * a
                    elif i == 3:
                        work[yy, xx] = w[yy, xx] * b * b
                    else:
                        work[yy, xx] = w[yy, xx] * a * b
            _blur_into(work, kernel, row, img, stats[i])
        g_m = np.empty((height, width), np.float32)
        g_xx = np.empty((height, width), np.float32)
        g_xy = np.empty((height, width), np.float32)
        total = 0.0
        for yy in range(height):
            for xx in range(width):
                n = max(norm[yy, xx], np.float32(1e-6))
                mx, my = stats[0, yy, xx] / n, stats[1, yy, xx] / n
                vx = max(stats[2, yy, xx] / n - mx * mx, np.float32(0.0))
                vy = max(stats[3, yy, xx] / n - my * my, np.float32(0.0))
                cov = stats[4, yy, xx] / n - mx * my
                a1 = 2 * mx * my + c1
                a2 = 2 * cov + c2
                b1 = mx * mx + my * my + c1
                b2 = vx + vy + c2
                s = a1 * a2 / (b1 * b2)
                wp = w[yy, xx]
                total += wp * s
                # a1 > 0 but a2 = 2·cov + c2 can be 0: never divide by it (0·inf would be NaN)
                d = wp / (n * b1 * b2)
                scale = d * a1 * a2
                g_m[yy, xx] = 2 * my * d * (a2 - a1) + scale * (2 * mx / b2 - 2 * mx / b1)
                g_xx[yy, xx] = -scale / b2
                g_xy[yy, xx] = 2 * d * a1
        totals[ch] = total
        blurred_m = np.empty((height, width), np.float32)
        _blur_into(g_m, kernel, row, img, blurred_m)
        _blur_into(g_xx, kernel, row, img, work)
        _blur_into(g_xy, kernel, row, img, g_m)  # g_m is free now: reuse it for B(Gxy/N)
        for yy in range(height):
            for xx in range(width):
                grad[ch, yy, xx] = w[yy, xx] * (blurred_m[yy, xx] + 2 * xc[yy, xx] * work[yy, xx]
                                                + yc[yy, xx] * g_m[yy, xx])
    return totals.sum()


class _MaskedSSIM(torch.autograd.Function):
    """Mean SSIM over weighted pixels; value and gradient from one numba pass (the target and the
    weights are constants of the loss, so the gradient is known in the forward pass)."""

    @staticmethod
    def forward(ctx, image, target, weight, kernel):
        x = np.ascontiguousarray(image.detach()[0].numpy(), np.float32)
        y = np.ascontiguousarray(target.detach()[0].numpy(), np.float32)
        w = np.ascontiguousarray(weight.detach()[0, 0].numpy(), np.float32)
        grad = np.empty_like(x)
        total = _masked_ssim_and_grad(x, y, w, kernel, np.float32(0.01**2), np.float32(0.03**2), grad)
        z = max(float(w.sum()) * x.shape[0], 1e-6)
        ctx.save_for_backward(torch.from_numpy(grad / z)[None].to(image.dtype))
        return image.new_tensor(total / z)

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None, None, None


def masked_ssim(image: Tensor, target: Tensor, weight: Tensor, window: int = 11) -> Tensor:
    """Mean SSIM over pixels with weight > 0; image/target [1,3,H,W], weight [1,1,H,W] in [0, 1].
    CPU tensors take the numba kernel; others (CUDA) the torch formulation."""
    if image.device.type != "cpu":
        return masked_ssim_reference(image, target, weight, window)
    kernel = _gaussian_kernel(window).numpy().astype(np.float32)
    return _MaskedSSIM.apply(image, target, weight, kernel)


def masked_ssim_reference(image: Tensor, target: Tensor, weight: Tensor, window: int = 11) -> Tensor:
    """The same quantity with torch operations (autograd): the GPU path and the test reference."""
    kernel = _gaussian_kernel(window)
    c1, c2 = 0.01**2, 0.03**2
    c = image.shape[1]

    def blur(t):
        k = kernel.to(t)
        t = F.conv2d(t, k.view(1, 1, 1, -1).repeat(t.shape[1], 1, 1, 1), padding=(0, len(k) // 2), groups=t.shape[1])
        return F.conv2d(t, k.view(1, 1, -1, 1).repeat(t.shape[1], 1, 1, 1), padding=(len(k) // 2, 0), groups=t.shape[1])

    norm = blur(weight).clamp_min(1e-6)
    mean = lambda t: blur(t * weight) / norm  # noqa: E731
    mu_x, mu_y = mean(image), mean(target)
    var_x = (mean(image * image) - mu_x**2).clamp_min(0)
    var_y = (mean(target * target) - mu_y**2).clamp_min(0)
    cov = mean(image * target) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return (ssim_map * weight).sum() / (weight.sum() * c).clamp_min(1e-6)


def masked_l1(image: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    return ((image - target).abs() * weight).sum() / (weight.sum() * image.shape[1]).clamp_min(1e-6)


def photometric_loss(image: Tensor, target: Tensor, weight: Tensor, ssim_weight: float = 0.2) -> Tensor:
    """(1-λ)·L1 + λ·(1-SSIM) over the weighted pixels (3DGS's loss, λ = 0.2)."""
    return (1 - ssim_weight) * masked_l1(image, target, weight) + ssim_weight * (1 - masked_ssim(image, target, weight))


@torch.no_grad()
def robust_weights(residual: Tensor, valid: Tensor, inlier_quantile: float = 0.85, floor: float = 0.1) -> Tensor:
    """RobustNeRF-style trimmed inlier weights for one image: residual [H,W], valid [H,W] bool.

    A pixel is an outlier if its residual is above both the image's `inlier_quantile` (among valid
    pixels) and `floor` (so nothing is trimmed from a well-fit image); the indicator is smoothed with a
    3×3 box, and a pixel keeps weight 1 only if most of its neighbourhood are inliers: outliers come in
    blobs (a missed arm, a shadow), noise does not.
    """
    values = residual[valid]
    if values.numel() == 0:
        return valid.float()
    k = min(values.numel(), max(1, int(round(inlier_quantile * values.numel()))))
    threshold = max(float(torch.kthvalue(values, k).values), floor)
    inlier = ((residual <= threshold) & valid).float()[None, None]
    smoothed = F.avg_pool2d(inlier, 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    return ((smoothed > 0.5) & valid).float()


def edge_weights(image: np.ndarray, mask: np.ndarray, min_contrast: float = 0.05) -> np.ndarray:
    """[H,W] float32: how much of each pixel is background, 0 on `mask` (bool, person), 1 away from it,
    and on the 1 px ring around it one minus a local matting estimate of the person's share.

    A ring pixel's colour c is taken as a blend α·p + (1-α)·b of the person's colour p (mean of the
    person pixels in its 3×3 neighbourhood) and the background's b (mean of the pixels beyond the ring
    in its 5×5 neighbourhood), and α is c's projection onto p - b. Where p and b differ by less than
    `min_contrast` a blend cannot be told from background and is harmless: weight 1.
    """
    image = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    person = mask.astype(np.float32)
    ring = (cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~mask
    beyond = (~mask & ~ring).astype(np.float32)

    def local_mean(weight, size):
        total = cv2.boxFilter(image * weight[..., None], -1, (size, size), normalize=False)
        count = cv2.boxFilter(weight, -1, (size, size), normalize=False)
        return total / np.maximum(count, 1e-6)[..., None], count

    p, _ = local_mean(person, 3)
    b, beyond_count = local_mean(beyond, 5)
    difference = p - b
    contrast = np.sqrt((difference ** 2).sum(-1))
    alpha = ((image - b) * difference).sum(-1) / np.maximum(contrast ** 2, 1e-6)
    alpha = np.where((contrast < min_contrast) | (beyond_count == 0), 0.0, np.clip(alpha, 0.0, 1.0))
    weights = (~mask).astype(np.float32)
    weights[ring] = 1.0 - alpha[ring]
    return weights
