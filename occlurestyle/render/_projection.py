"""EWA projection of 3D Gaussians to screen space, forward and hand-written backward, in numba.

Same maths and conventions as gsplat's `fully_fused_projection` (pinhole, OpenCV axes, eps2d
low-pass, the 1.3×-frustum clamp of the Jacobian, opacity-aware radii as in its CUDA kernel), one
camera per call, parallel over Gaussians. Invalid Gaussians (behind the near plane, degenerate,
off-screen, too transparent) get radii 0 and no gradient.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .. import _numba_setup  # noqa: F401  (threading layer)

ALPHA_THRESHOLD = np.float32(1.0 / 255.0)
MAX_EXTENT = 3.33  # standard deviations, as gsplat


@njit(inline="always")
def _rotation(w, x, y, z):
    return (
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    )


@njit(parallel=True, cache=True)
def project_forward(means, quats, scales, opacities, viewmat, K, width, height, eps2d, near, far,
                    means2d, depths, conics, radii):
    """Fill `means2d [N,2]`, `depths [N]`, `conics [N,3]`, `radii [N,2]` for one camera."""
    n = means.shape[0]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    lim_x_pos = (width - cx) / fx + 0.3 * (0.5 * width / fx)
    lim_x_neg = cx / fx + 0.3 * (0.5 * width / fx)
    lim_y_pos = (height - cy) / fy + 0.3 * (0.5 * height / fy)
    lim_y_neg = cy / fy + 0.3 * (0.5 * height / fy)
    for i in prange(n):
        radii[i, 0] = 0
        radii[i, 1] = 0
        mx, my, mz = means[i, 0], means[i, 1], means[i, 2]
        tx = viewmat[0, 0] * mx + viewmat[0, 1] * my + viewmat[0, 2] * mz + viewmat[0, 3]
        ty = viewmat[1, 0] * mx + viewmat[1, 1] * my + viewmat[1, 2] * mz + viewmat[1, 3]
        tz = viewmat[2, 0] * mx + viewmat[2, 1] * my + viewmat[2, 2] * mz + viewmat[2, 3]
        depths[i] = tz
        if not (tz > near and tz < far):
            continue
        opacity = opacities[i]
        if opacity < ALPHA_THRESHOLD:
            continue
        cov2d_00, cov2d_01, cov2d_11 = _cov2d(i, quats, scales, viewmat, fx, fy, tx, ty, tz,
                                              lim_x_neg, lim_x_pos, lim_y_neg, lim_y_pos)
        a = cov2d_00 + eps2d
        b = cov2d_01
        c = cov2d_11 + eps2d
        det = a * c - b * b
        if det <= 0.0:
            continue
        u = fx * tx / tz + cx
        v = fy * ty / tz + cy
        extent = min(MAX_EXTENT, math.sqrt(2.0 * math.log(opacity / ALPHA_THRESHOLD)))
        rx = math.ceil(extent * math.sqrt(a))
        ry = math.ceil(extent * math.sqrt(c))
        if rx <= 0.0 and ry <= 0.0:
            continue
        if u + rx <= 0 or u - rx >= width or v + ry <= 0 or v - ry >= height:
            continue
        means2d[i, 0] = u
        means2d[i, 1] = v
        conics[i, 0] = c / det
        conics[i, 1] = -b / det
        conics[i, 2] = a / det
        radii[i, 0] = np.int32(rx)
        radii[i, 1] = np.int32(ry)


@njit(inline="always")
def _world_covariance(i, quats, scales):
    qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
    inv = 1.0 / math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
    r00, r01, r02, r10, r11, r12, r20, r21, r22 = _rotation(qw * inv, qx * inv, qy * inv, qz * inv)
    sx, sy, sz = scales[i, 0], scales[i, 1], scales[i, 2]
    # M = R diag(s), Sigma = M M^T
    m00, m01, m02 = r00 * sx, r01 * sy, r02 * sz
    m10, m11, m12 = r10 * sx, r11 * sy, r12 * sz
    m20, m21, m22 = r20 * sx, r21 * sy, r22 * sz
    s00 = m00 * m00 + m01 * m01 + m02 * m02
    s01 = m00 * m10 + m01 * m11 + m02 * m12
    s02 = m00 * m20 + m01 * m21 + m02 * m22
    s11 = m10 * m10 + m11 * m11 + m12 * m12
    s12 = m10 * m20 + m11 * m21 + m12 * m22
    s22 = m20 * m20 + m21 * m21 + m22 * m22
    return s00, s01, s02, s11, s12, s22


@njit(inline="always")
def _camera_covariance(s00, s01, s02, s11, s12, s22, W):
    """W Sigma W^T for the rotation part W of a viewmat; returns the 6 unique entries."""
    # A = W Sigma
    a00 = W[0, 0] * s00 + W[0, 1] * s01 + W[0, 2] * s02
    a01 = W[0, 0] * s01 + W[0, 1] * s11 + W[0, 2] * s12
    a02 = W[0, 0] * s02 + W[0, 1] * s12 + W[0, 2] * s22
    a10 = W[1, 0] * s00 + W[1, 1] * s01 + W[1, 2] * s02
    a11 = W[1, 0] * s01 + W[1, 1] * s11 + W[1, 2] * s12
    a12 = W[1, 0] * s02 + W[1, 1] * s12 + W[1, 2] * s22
    a20 = W[2, 0] * s00 + W[2, 1] * s01 + W[2, 2] * s02
    a21 = W[2, 0] * s01 + W[2, 1] * s11 + W[2, 2] * s12
    a22 = W[2, 0] * s02 + W[2, 1] * s12 + W[2, 2] * s22
    c00 = a00 * W[0, 0] + a01 * W[0, 1] + a02 * W[0, 2]
    c01 = a00 * W[1, 0] + a01 * W[1, 1] + a02 * W[1, 2]
    c02 = a00 * W[2, 0] + a01 * W[2, 1] + a02 * W[2, 2]
    c11 = a10 * W[1, 0] + a11 * W[1, 1] + a12 * W[1, 2]
    c12 = a10 * W[2, 0] + a11 * W[2, 1] + a12 * W[2, 2]
    c22 = a20 * W[2, 0] + a21 * W[2, 1] + a22 * W[2, 2]
    return c00, c01, c02, c11, c12, c22


@njit(inline="always")
def _jacobian(fx, fy, tx, ty, tz, lim_x_neg, lim_x_pos, lim_y_neg, lim_y_pos):
    rz = 1.0 / tz
    txc = tz * min(max(tx * rz, -lim_x_neg), lim_x_pos)
    tyc = tz * min(max(ty * rz, -lim_y_neg), lim_y_pos)
    return fx * rz, -fx * txc * rz * rz, fy * rz, -fy * tyc * rz * rz, txc, tyc


@njit(inline="always")
def _cov2d(i, quats, scales, viewmat, fx, fy, tx, ty, tz, lim_x_neg, lim_x_pos, lim_y_neg, lim_y_pos):
    s00, s01, s02, s11, s12, s22 = _world_covariance(i, quats, scales)
    c00, c01, c02, c11, c12, c22 = _camera_covariance(s00, s01, s02, s11, s12, s22, viewmat)
    j00, j02, j11, j12, _, _ = _jacobian(fx, fy, tx, ty, tz, lim_x_neg, lim_x_pos, lim_y_neg, lim_y_pos)
    # J = [[j00, 0, j02], [0, j11, j12]]; cov2d = J C J^T
    p00 = j00 * c00 + j02 * c02
    p01 = j00 * c01 + j02 * c12
    p02 = j00 * c02 + j02 * c22
    p11 = j11 * c11 + j12 * c12
    p12 = j11 * c12 + j12 * c22
    return p00 * j00 + p02 * j02, p01 * j11 + p02 * j12, p11 * j11 + p12 * j12


@njit(parallel=True, cache=True)
def project_backward(means, quats, scales, viewmat, K, width, height, eps2d, radii,
                     v_means2d, v_depths, v_conics, v_means, v_quats, v_scales):
    """Add this camera's gradients w.r.t. means, quats (raw, before normalisation) and scales."""
    n = means.shape[0]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    lim_x_pos = (width - cx) / fx + 0.3 * (0.5 * width / fx)
    lim_x_neg = cx / fx + 0.3 * (0.5 * width / fx)
    lim_y_pos = (height - cy) / fy + 0.3 * (0.5 * height / fy)
    lim_y_neg = cy / fy + 0.3 * (0.5 * height / fy)
    W = viewmat
    for i in prange(n):
        if radii[i, 0] <= 0 and radii[i, 1] <= 0:
            continue
        mx, my, mz = means[i, 0], means[i, 1], means[i, 2]
        tx = W[0, 0] * mx + W[0, 1] * my + W[0, 2] * mz + W[0, 3]
        ty = W[1, 0] * mx + W[1, 1] * my + W[1, 2] * mz + W[1, 3]
        tz = W[2, 0] * mx + W[2, 1] * my + W[2, 2] * mz + W[2, 3]
        rz = 1.0 / tz

        # recompute the forward intermediates
        qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        qnorm = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        w, x, y, z = qw / qnorm, qx / qnorm, qy / qnorm, qz / qnorm
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = _rotation(w, x, y, z)
        sx, sy, sz = scales[i, 0], scales[i, 1], scales[i, 2]
        s00, s01, s02, s11, s12, s22 = _world_covariance(i, quats, scales)
        c00, c01, c02, c11, c12, c22 = _camera_covariance(s00, s01, s02, s11, s12, s22, W)
        j00, j02, j11, j12, txc, tyc = _jacobian(fx, fy, tx, ty, tz, lim_x_neg, lim_x_pos, lim_y_neg, lim_y_pos)
        p00 = j00 * c00 + j02 * c02
        p01 = j00 * c01 + j02 * c12
        p02 = j00 * c02 + j02 * c22
        p11 = j11 * c11 + j12 * c12
        p12 = j11 * c12 + j12 * c22
        a = p00 * j00 + p02 * j02 + eps2d
        b = p01 * j11 + p02 * j12
        c = p11 * j11 + p12 * j12 + eps2d
        det = a * c - b * b
        i00, i01, i11 = c / det, -b / det, a / det

        # conic = inverse(cov2d): dL/dcov2d = -inv V inv, V the symmetric gradient of the inverse
        v00, v01, v11 = v_conics[i, 0], 0.5 * v_conics[i, 1], v_conics[i, 2]
        t00 = i00 * v00 + i01 * v01
        t01 = i00 * v01 + i01 * v11
        t10 = i01 * v00 + i11 * v01
        t11 = i01 * v01 + i11 * v11
        g00 = -(t00 * i00 + t01 * i01)
        g01 = -(t00 * i01 + t01 * i11)
        g11 = -(t10 * i01 + t11 * i11)

        # cov2d = J C J^T: dC = J^T G J, dJ = 2 G J C
        # J^T G J with J = [[j00, 0, j02], [0, j11, j12]]
        vc00 = j00 * j00 * g00
        vc01 = j00 * j11 * g01
        vc02 = j00 * (g00 * j02 + g01 * j12)
        vc11 = j11 * j11 * g11
        vc12 = j11 * (g01 * j02 + g11 * j12)
        vc22 = j02 * (g00 * j02 + g01 * j12) + j12 * (g01 * j02 + g11 * j12)
        # G J
        gj00 = g00 * j00
        gj01 = g01 * j11
        gj02 = g00 * j02 + g01 * j12
        gj10 = g01 * j00
        gj11 = g11 * j11
        gj12 = g01 * j02 + g11 * j12
        # dJ = 2 (G J) C, only the entries J depends on (00, 02, 11, 12)
        vj00 = 2.0 * (gj00 * c00 + gj01 * c01 + gj02 * c02)
        vj02 = 2.0 * (gj00 * c02 + gj01 * c12 + gj02 * c22)
        vj11 = 2.0 * (gj10 * c01 + gj11 * c11 + gj12 * c12)
        vj12 = 2.0 * (gj10 * c02 + gj11 * c12 + gj12 * c22)

        # gradient w.r.t. the camera-space mean
        vtx = v_means2d[i, 0] * fx * rz
        vty = v_means2d[i, 1] * fy * rz
        vtz = -(v_means2d[i, 0] * fx * tx + v_means2d[i, 1] * fy * ty) * rz * rz + v_depths[i]
        vtz += -fx * rz * rz * vj00 - fy * rz * rz * vj11
        x_free = 1.0 if -lim_x_neg <= tx * rz <= lim_x_pos else 0.0
        y_free = 1.0 if -lim_y_neg <= ty * rz <= lim_y_pos else 0.0
        vtx += -fx * rz * rz * vj02 * x_free
        vty += -fy * rz * rz * vj12 * y_free
        vtz += fx * txc * rz * rz * rz * vj02 * (1.0 + x_free)
        vtz += fy * tyc * rz * rz * rz * vj12 * (1.0 + y_free)
        v_means[i, 0] += W[0, 0] * vtx + W[1, 0] * vty + W[2, 0] * vtz
        v_means[i, 1] += W[0, 1] * vtx + W[1, 1] * vty + W[2, 1] * vtz
        v_means[i, 2] += W[0, 2] * vtx + W[1, 2] * vty + W[2, 2] * vtz

        # camera covariance C = W S W^T: dS = W^T dC W (symmetric, full-matrix gradient)
        # dC as a full symmetric matrix: off-diagonal entries appear twice in the sum above, so the
        # full-matrix gradient is the one we built (vc01 etc. are the (0,1) entry, equal to (1,0)).
        e00, e01, e02, e11, e12, e22 = vc00, vc01, vc02, vc11, vc12, vc22
        # B = dC W  (3x3), then dS = W^T B
        b00 = e00 * W[0, 0] + e01 * W[1, 0] + e02 * W[2, 0]
        b01 = e00 * W[0, 1] + e01 * W[1, 1] + e02 * W[2, 1]
        b02 = e00 * W[0, 2] + e01 * W[1, 2] + e02 * W[2, 2]
        b10 = e01 * W[0, 0] + e11 * W[1, 0] + e12 * W[2, 0]
        b11 = e01 * W[0, 1] + e11 * W[1, 1] + e12 * W[2, 1]
        b12 = e01 * W[0, 2] + e11 * W[1, 2] + e12 * W[2, 2]
        b20 = e02 * W[0, 0] + e12 * W[1, 0] + e22 * W[2, 0]
        b21 = e02 * W[0, 1] + e12 * W[1, 1] + e22 * W[2, 1]
        b22 = e02 * W[0, 2] + e12 * W[1, 2] + e22 * W[2, 2]
        d00 = W[0, 0] * b00 + W[1, 0] * b10 + W[2, 0] * b20
        d01 = W[0, 0] * b01 + W[1, 0] * b11 + W[2, 0] * b21
        d02 = W[0, 0] * b02 + W[1, 0] * b12 + W[2, 0] * b22
        d11 = W[0, 1] * b01 + W[1, 1] * b11 + W[2, 1] * b21
        d12 = W[0, 1] * b02 + W[1, 1] * b12 + W[2, 1] * b22
        d22 = W[0, 2] * b02 + W[1, 2] * b12 + W[2, 2] * b22

        # Sigma = M M^T with M = R diag(s): dM = 2 dSigma M
        m00, m01, m02 = r00 * sx, r01 * sy, r02 * sz
        m10, m11, m12 = r10 * sx, r11 * sy, r12 * sz
        m20, m21, m22 = r20 * sx, r21 * sy, r22 * sz
        vm00 = 2.0 * (d00 * m00 + d01 * m10 + d02 * m20)
        vm01 = 2.0 * (d00 * m01 + d01 * m11 + d02 * m21)
        vm02 = 2.0 * (d00 * m02 + d01 * m12 + d02 * m22)
        vm10 = 2.0 * (d01 * m00 + d11 * m10 + d12 * m20)
        vm11 = 2.0 * (d01 * m01 + d11 * m11 + d12 * m21)
        vm12 = 2.0 * (d01 * m02 + d11 * m12 + d12 * m22)
        vm20 = 2.0 * (d02 * m00 + d12 * m10 + d22 * m20)
        vm21 = 2.0 * (d02 * m01 + d12 * m11 + d22 * m21)
        vm22 = 2.0 * (d02 * m02 + d12 * m12 + d22 * m22)
        v_scales[i, 0] += vm00 * r00 + vm10 * r10 + vm20 * r20
        v_scales[i, 1] += vm01 * r01 + vm11 * r11 + vm21 * r21
        v_scales[i, 2] += vm02 * r02 + vm12 * r12 + vm22 * r22
        V00, V01, V02 = vm00 * sx, vm01 * sy, vm02 * sz
        V10, V11, V12 = vm10 * sx, vm11 * sy, vm12 * sz
        V20, V21, V22 = vm20 * sx, vm21 * sy, vm22 * sz
        vw = 2.0 * (-z * V01 + y * V02 + z * V10 - x * V12 - y * V20 + x * V21)
        vx = 2.0 * (y * V01 + z * V02 + y * V10 - 2 * x * V11 - w * V12 + z * V20 + w * V21 - 2 * x * V22)
        vy = 2.0 * (-2 * y * V00 + x * V01 + w * V02 + x * V10 + z * V12 - w * V20 + z * V21 - 2 * y * V22)
        vz = 2.0 * (-2 * z * V00 - w * V01 + x * V02 + w * V10 - 2 * z * V11 + y * V12 + x * V20 + y * V21)
        # through the normalisation q / |q|
        dot = w * vw + x * vx + y * vy + z * vz
        v_quats[i, 0] += (vw - w * dot) / qnorm
        v_quats[i, 1] += (vx - x * dot) / qnorm
        v_quats[i, 2] += (vy - y * dot) / qnorm
        v_quats[i, 3] += (vz - z * dot) / qnorm
