"""Tile binning and alpha compositing of projected Gaussians, forward and backward, in numba.

Binning: Gaussians are visited in depth order and counted per 16×16 tile (a counting sort, so each
tile's list comes out depth-sorted with no global sort of intersection keys). A Gaussian is listed
for a tile only if its ellipse {alpha >= 1/255} reaches one of the tile's pixel centres; the ellipse's
exact x-interval is computed per tile row.

Compositing is tile-major: for each tile, Gaussians in the outer loop and a contiguous range of the
tile's pixels in a branch-free inner loop that LLVM vectorizes (8 floats per AVX2 instruction). The
range is trimmed to the first and last 8-pixel run that the Gaussian's ellipse reaches and that
still has unfinished pixels. Same rules as gsplat: alpha = min(0.999, o·exp(-σ)), skipped below 1/255,
a pixel stops before the Gaussian that would take T to 1e-4 or below. The backward walks each tile's
list back to front from the last contributor, recovering T by division as gsplat's CUDA backward
does, and sums each Gaussian's gradient over the tile's pixels before adding it to a per-thread
buffer (no atomics).

Tiles are dealt to threads round-robin (tile t goes to chunk t mod n_chunks) so uneven tiles balance.
Numba details that decide the speed: `error_model="numpy"` (no zero-division branch in the loops),
unsigned loop indices (no negative-index wraparound branch), one state array with fixed row offsets
(no runtime alias checks), and unconditional stores (no masked stores).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._numba_setup import FAST_ELEMENTWISE, FAST_REDUCTIONS
from ._fastmath import exp_neg

TILE = 16
TILE_PIXELS = TILE * TILE
HALF = TILE // 2  # pixels are skipped in runs of 8 (one AVX2 vector): half a tile row
N_RUNS = TILE_PIXELS // HALF
ALPHA_MAX = np.float32(0.999)  # gsplat 1.4-1.5's clamp (CUDA and pure torch), so both backends agree
ALPHA_MIN = np.float32(1.0 / 255.0)
T_MIN = np.float32(1e-4)
REFRESH_EVERY = 8  # Gaussians between updates of which pixel runs are still active (forward)
CHANNELS = 4  # colours are padded to 4 channels so each kernel is one fused loop
EXTENT_SLACK = 1e-3  # pixels; listing a tile or pixel too many is harmless, one too few is not

# per-Gaussian packed parameters: mean x, mean y, conic a, b, c, opacity, the level 2·ln(255·o) of
# the ellipse d^T conic d <= level where alpha >= 1/255, and that ellipse's half-height in pixels
P_MX, P_MY, P_A, P_B, P_C, P_OP, P_LEVEL, P_YMAX = 0, 1, 2, 3, 4, 5, 6, 7
N_PARAMS = 8

# gradient buffer columns: the first six match the params (mean x/y, conic a/b/c, opacity), then
# |mean grad| x/y (gsplat's absgrad), then the 4 colour channels
G_ABS_X, G_ABS_Y, G_COLOR = 6, 7, 8
N_GRADS = G_COLOR + CHANNELS


@njit(parallel=True, error_model="numpy", cache=True)
def pack_params(means2d, conics, opacities, radii, params):
    """Fill `params [N, N_PARAMS]`; invalid Gaussians (radii 0) get a negative extent."""
    for g in prange(means2d.shape[0]):
        a, b, c = conics[g, 0], conics[g, 1], conics[g, 2]
        op = opacities[g]
        params[g, P_MX] = means2d[g, 0]
        params[g, P_MY] = means2d[g, 1]
        params[g, P_A] = a
        params[g, P_B] = b
        params[g, P_C] = c
        params[g, P_OP] = op
        det = a * c - b * b
        if radii[g, 0] <= 0 or radii[g, 1] <= 0 or det <= 0 or op < ALPHA_MIN:
            params[g, P_LEVEL] = -1.0
            params[g, P_YMAX] = -1.0
            continue
        level = 2.0 * math.log(op / ALPHA_MIN)  # sigma <= level / 2  <=>  alpha >= 1/255
        params[g, P_LEVEL] = level
        # half-height of {d : d^T conic d <= level} is sqrt(level * cov_yy), cov = inverse(conic)
        params[g, P_YMAX] = math.sqrt(level * a / det) + EXTENT_SLACK


@njit(cache=True)
def depth_order(ids, depths):
    """`ids` sorted by `depths[ids]` (positive float32), stable: a two-pass 16-bit radix sort."""
    n = ids.shape[0]
    bits = depths.view(np.uint32)  # IEEE order equals numeric order for positive floats
    keys = np.empty(n, np.uint32)
    for i in range(n):
        keys[i] = bits[ids[i]]
    order = ids.copy()
    tmp_ids = np.empty_like(ids)
    tmp_keys = np.empty_like(keys)
    for shift in (0, 16):
        counts = np.zeros(65537, np.int64)
        for i in range(n):
            counts[((keys[i] >> shift) & 0xFFFF) + 1] += 1
        for b in range(65536):
            counts[b + 1] += counts[b]
        for i in range(n):
            bucket = (keys[i] >> shift) & 0xFFFF
            dst = counts[bucket]
            counts[bucket] += 1
            tmp_ids[dst] = order[i]
            tmp_keys[dst] = keys[i]
        order, tmp_ids = tmp_ids, order
        keys, tmp_keys = tmp_keys, keys
    return order


# ---------------------------------------------------------------------------------------- binning
@njit(inline="always")
def _x_interval(mx, a, b, det, level, dy):
    """x-interval of the ellipse d^T conic d <= level on the horizontal line at offset dy (empty: lo > hi)."""
    disc = a * level - det * dy * dy
    if disc < 0.0:
        return 1.0, -1.0
    half = math.sqrt(disc) / a + EXTENT_SLACK
    centre = mx - b * dy / a
    return centre - half, centre + half


@njit(inline="always")
def _tile_rows(params, g, tiles_y):
    my, ymax = params[g, P_MY], params[g, P_YMAX]
    y0 = int(math.ceil((my - ymax - (TILE - 0.5)) / TILE))
    y1 = int(math.floor((my + ymax - 0.5) / TILE)) + 1
    return max(y0, 0), min(y1, tiles_y)


@njit(inline="always")
def _tile_columns(params, g, ty, tiles_x, det, dy_right):
    """Tile columns [x0, x1) whose pixel centres the ellipse reaches within tile row `ty`."""
    mx, my = params[g, P_MX], params[g, P_MY]
    a, b, level, ymax = params[g, P_A], params[g, P_B], params[g, P_LEVEL], params[g, P_YMAX]
    dy0 = max(ty * TILE + 0.5 - my, -ymax)
    dy1 = min(ty * TILE + TILE - 0.5 - my, ymax)
    if dy0 > dy1:
        return 0, 0
    # The right edge x(dy) is concave in dy, so its maximum over [dy0, dy1] is at the clamp of the
    # ellipse's rightmost point; the left edge is convex and mirrored.
    right = _x_interval(mx, a, b, det, level, min(max(dy_right, dy0), dy1))[1]
    left = _x_interval(mx, a, b, det, level, min(max(-dy_right, dy0), dy1))[0]
    if left > right:
        return 0, 0
    # tile tx holds pixel centres tx*16 + 0.5 ... tx*16 + 15.5
    x0 = int(math.ceil((left - (TILE - 0.5)) / TILE))
    x1 = int(math.floor((right - 0.5) / TILE)) + 1
    return max(x0, 0), min(x1, tiles_x)


@njit(inline="always")
def _rightmost_dy(params, g):
    """det(conic) and the offset dy of the ellipse's rightmost point, cov_xy·sqrt(level / cov_xx)."""
    a, b, c = params[g, P_A], params[g, P_B], params[g, P_C]
    det = a * c - b * b
    return det, (-b / det) * math.sqrt(params[g, P_LEVEL] / (c / det))


@njit(parallel=True, error_model="numpy", cache=True)
def bin_gaussians(order, params, tiles_x, tiles_y, n_chunks):
    """Tile lists of the Gaussians in `order` (depth-sorted ids): `(offsets [n_tiles+1], ids [n_isects])`.

    `order` is split into n_chunks consecutive parts, one per thread, so each part's entries are
    already in depth order. Each part first reserves room per tile from the Gaussians' bounding boxes
    (four updates of a 2-D difference array per Gaussian), then fills it with the exact ellipse test,
    and the filled runs are finally copied together tile by tile.
    """
    n = order.shape[0]
    n_tiles = tiles_x * tiles_y
    per_chunk = (n + n_chunks - 1) // n_chunks
    boxes = np.zeros((n_chunks, tiles_y + 1, tiles_x + 1), np.int64)
    for ch in prange(n_chunks):
        for j in range(ch * per_chunk, min(n, (ch + 1) * per_chunk)):
            g = order[j]
            y0, y1 = _tile_rows(params, g, tiles_y)
            det = params[g, P_A] * params[g, P_C] - params[g, P_B] ** 2
            xmax = math.sqrt(params[g, P_LEVEL] * params[g, P_C] / det) + EXTENT_SLACK
            mx = params[g, P_MX]
            x0 = max(int(math.ceil((mx - xmax - (TILE - 0.5)) / TILE)), 0)
            x1 = min(int(math.floor((mx + xmax - 0.5) / TILE)) + 1, tiles_x)
            if y0 < y1 and x0 < x1:
                boxes[ch, y0, x0] += 1
                boxes[ch, y0, x1] -= 1
                boxes[ch, y1, x0] -= 1
                boxes[ch, y1, x1] += 1
    # reserved room per (chunk, tile): 2-D prefix sums of the difference arrays
    room = np.zeros((n_chunks, n_tiles), np.int64)
    for ch in prange(n_chunks):
        for ty in range(tiles_y):
            run = 0
            for tx in range(tiles_x):
                run += boxes[ch, ty, tx]
                room[ch, ty * tiles_x + tx] = run + (room[ch, (ty - 1) * tiles_x + tx] if ty > 0 else 0)
    base = np.empty((n_chunks, n_tiles), np.int64)
    total = 0
    for ch in range(n_chunks):
        for t in range(n_tiles):
            base[ch, t] = total
            total += room[ch, t]
    gapped = np.empty(total, np.int32)
    filled = np.zeros((n_chunks, n_tiles), np.int64)
    for ch in prange(n_chunks):
        for j in range(ch * per_chunk, min(n, (ch + 1) * per_chunk)):
            g = order[j]
            det, dy_right = _rightmost_dy(params, g)
            y0, y1 = _tile_rows(params, g, tiles_y)
            for ty in range(y0, y1):
                x0, x1 = _tile_columns(params, g, ty, tiles_x, det, dy_right)
                for tx in range(x0, x1):
                    t = ty * tiles_x + tx
                    gapped[base[ch, t] + filled[ch, t]] = g
                    filled[ch, t] += 1
    offsets = np.zeros(n_tiles + 1, np.int64)
    for t in range(n_tiles):
        count = 0
        for ch in range(n_chunks):
            count += filled[ch, t]
        offsets[t + 1] = offsets[t] + count
    ids = np.empty(offsets[n_tiles], np.int32)
    for t in prange(n_tiles):
        dst = offsets[t]
        for ch in range(n_chunks):
            src = base[ch, t]
            for i in range(filled[ch, t]):
                ids[dst + i] = gapped[src + i]
            dst += filled[ch, t]
    return offsets, ids


@njit(inline="always")
def _live_span(params, g, k, tx0, ty0, run_limit):
    """Pixel range [p0, p1) of the tile worth evaluating for Gaussian `g` (list index `k`).

    From the first to the last 8-pixel run that the ellipse reaches and that still holds a pixel not
    finished before `k` (`k <= run_limit[run]`). Runs in between are evaluated anyway; the per-pixel
    tests in the loop decide.
    """
    mx, my = params[g, P_MX], params[g, P_MY]
    a, b, c = params[g, P_A], params[g, P_B], params[g, P_C]
    level, ymax = params[g, P_LEVEL], params[g, P_YMAX]
    det = a * c - b * b
    r0 = min(max(int(math.ceil(my - ymax - 0.5 - ty0)), 0), TILE)
    r1 = min(max(int(math.floor(my + ymax - 0.5 - ty0)) + 1, r0), TILE)
    left_lo, left_hi = tx0 + 0.5, tx0 + HALF - 0.5
    right_lo, right_hi = tx0 + HALF + 0.5, tx0 + TILE - 0.5
    p0 = TILE_PIXELS
    for r in range(r0, r1):
        lo, hi = _x_interval(mx, a, b, det, level, ty0 + r + 0.5 - my)
        if lo <= left_hi and hi >= left_lo and k <= run_limit[2 * r]:
            p0 = r * TILE
            break
        if lo <= right_hi and hi >= right_lo and k <= run_limit[2 * r + 1]:
            p0 = r * TILE + HALF
            break
    p1 = p0
    for r in range(r1 - 1, r0 - 1, -1):
        if r * TILE + TILE <= p0:
            break
        lo, hi = _x_interval(mx, a, b, det, level, ty0 + r + 0.5 - my)
        if lo <= right_hi and hi >= right_lo and k <= run_limit[2 * r + 1]:
            p1 = r * TILE + TILE
            break
        if lo <= left_hi and hi >= left_lo and k <= run_limit[2 * r]:
            p1 = r * TILE + HALF
            break
    # unsigned, so numba emits no negative-index wraparound check and LLVM can vectorize the loop
    return np.uint64(p0), np.uint64(max(p1, p0))


# ---------------------------------------------------------------------------------------- forward
# rows of the per-tile float state; one array with fixed row offsets (instead of one array per
# quantity) lets LLVM prove the rows never overlap and vectorize without runtime alias checks
S_PX, S_PY, S_T, S_ACTIVE, S_ACC = 0, 1, 2, 3, 4  # S_ACC .. S_ACC + 3: the colour sums
N_FWD_STATE = S_ACC + CHANNELS
O_PX, O_PY, O_T, O_ACTIVE = (np.uint64(r * TILE_PIXELS) for r in (S_PX, S_PY, S_T, S_ACTIVE))
O_ACC0, O_ACC1, O_ACC2, O_ACC3 = (np.uint64((S_ACC + d) * TILE_PIXELS) for d in range(CHANNELS))


@njit(inline="always")
def _refresh_runs(st, run_limit, big):
    """Mark 8-pixel runs with an active pixel; False when the whole tile is done."""
    any_alive = False
    for r in range(N_RUNS):
        alive = np.float32(0.0)
        for j in range(HALF):
            alive += st[S_ACTIVE * TILE_PIXELS + r * HALF + j]
        run_limit[r] = big if alive > 0 else -1
        any_alive |= alive > 0
    return any_alive


@njit(parallel=True, fastmath=FAST_ELEMENTWISE, error_model="numpy", cache=True)
def composite_forward(offsets, ids, params, colors, background, width, height, tiles_x, n_chunks,
                      out_colors, out_T, out_last):
    """Render one camera: `out_colors [H,W,4]` (background added), `out_T [H,W]` (final transmittance),
    `out_last [H,W]` (index in `ids` of the last contributing Gaussian, -1 if none)."""
    n_tiles = offsets.shape[0] - 1
    big = np.int64(2**62)
    for ch in prange(n_chunks):
        st = np.empty(N_FWD_STATE * TILE_PIXELS, np.float32)
        last = np.empty(TILE_PIXELS, np.int32)
        run_limit = np.empty(N_RUNS, np.int64)
        for t in range(ch, n_tiles, n_chunks):
            tx0 = (t % tiles_x) * TILE
            ty0 = (t // tiles_x) * TILE
            st[S_ACC * TILE_PIXELS:] = 0.0
            for p in range(TILE_PIXELS):
                x = tx0 + p % TILE
                y = ty0 + p // TILE
                st[S_PX * TILE_PIXELS + p] = x + np.float32(0.5)
                st[S_PY * TILE_PIXELS + p] = y + np.float32(0.5)
                st[S_T * TILE_PIXELS + p] = 1.0
                st[S_ACTIVE * TILE_PIXELS + p] = 1.0 if (x < width and y < height) else 0.0
                last[p] = -1
            _refresh_runs(st, run_limit, big)
            start, end = offsets[t], offsets[t + 1]
            for k in range(start, end):
                g = ids[k]
                p0, p1 = _live_span(params, g, k, tx0, ty0, run_limit)
                if p0 < p1:
                    _forward_one(st, last, np.int32(k), p0, p1, params[g, P_MX], params[g, P_MY], params[g, P_A],
                                 params[g, P_B], params[g, P_C], params[g, P_OP],
                                 colors[g, 0], colors[g, 1], colors[g, 2], colors[g, 3])
                if (k - start) % REFRESH_EVERY == REFRESH_EVERY - 1:
                    if not _refresh_runs(st, run_limit, big):
                        break
            for p in range(TILE_PIXELS):
                x = tx0 + p % TILE
                y = ty0 + p // TILE
                if x < width and y < height:
                    T = st[S_T * TILE_PIXELS + p]
                    out_T[y, x] = T
                    out_last[y, x] = last[p]
                    for d in range(CHANNELS):
                        out_colors[y, x, d] = st[(S_ACC + d) * TILE_PIXELS + p] + T * background[d]


@njit(fastmath=FAST_ELEMENTWISE, error_model="numpy", cache=True)
def _forward_one(st, last, k, p0, p1, mx, my, ca, cb, cc, op, c0, c1, c2, c3):
    """Composite one Gaussian over pixels [p0, p1) of the tile state (the vectorized inner loop)."""
    for p in range(p0, p1):
        dx = mx - st[O_PX + p]
        dy = my - st[O_PY + p]
        sigma = np.float32(0.5) * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
        alpha = min(ALPHA_MAX, op * exp_neg(max(sigma, np.float32(0.0))))
        t_here = st[O_T + p]
        active = st[O_ACTIVE + p]
        t_next = t_here * (np.float32(1.0) - alpha)
        valid = (sigma >= 0) & (alpha >= ALPHA_MIN) & (active > 0)
        contrib = valid & (t_next > T_MIN)
        done = valid & (t_next <= T_MIN)
        # Every store is unconditional (state scaled or maxed, never "keep the old value if ..."):
        # LLVM turns the conditional form into masked stores, which are microcoded and slow on x86.
        alpha_used = alpha if contrib else np.float32(0.0)
        w = alpha_used * t_here
        st[O_ACC0 + p] += w * c0
        st[O_ACC1 + p] += w * c1
        st[O_ACC2 + p] += w * c2
        st[O_ACC3 + p] += w * c3
        st[O_T + p] = t_here * (np.float32(1.0) - alpha_used)
        st[O_ACTIVE + p] = active * (np.float32(0.0) if done else np.float32(1.0))
        last[p] = max(last[p], k if contrib else np.int32(-1))


# --------------------------------------------------------------------------------------- backward
B_PX, B_PY, B_T, B_VOUT, B_VC, B_BEHIND = 0, 1, 2, 3, 4, 4 + CHANNELS
N_BWD_STATE = B_BEHIND + CHANNELS
Q_PX, Q_PY, Q_T, Q_VOUT = (np.uint64(r * TILE_PIXELS) for r in (B_PX, B_PY, B_T, B_VOUT))
Q_VC0, Q_VC1, Q_VC2, Q_VC3 = (np.uint64((B_VC + d) * TILE_PIXELS) for d in range(CHANNELS))
Q_B0, Q_B1, Q_B2, Q_B3 = (np.uint64((B_BEHIND + d) * TILE_PIXELS) for d in range(CHANNELS))


@njit(parallel=True, fastmath=FAST_REDUCTIONS, error_model="numpy", cache=True)
def composite_backward(offsets, ids, params, colors, background, width, height, tiles_x, n_chunks,
                       final_T, last_ids, v_colors, v_alphas, absgrad, grads):
    """Accumulate gradients into `grads [n_chunks, N, N_GRADS]` (one buffer per chunk; sum over axis 0)."""
    n_tiles = offsets.shape[0] - 1
    for ch in prange(n_chunks):
        st = np.empty(N_BWD_STATE * TILE_PIXELS, np.float32)
        last = np.empty(TILE_PIXELS, np.int32)
        run_limit = np.empty(N_RUNS, np.int64)  # last contributing list index over each 8-pixel run
        out = np.empty(N_GRADS, np.float32)
        buf = grads[ch]
        for t in range(ch, n_tiles, n_chunks):
            start, end = offsets[t], offsets[t + 1]
            if start == end:
                continue
            tx0 = (t % tiles_x) * TILE
            ty0 = (t // tiles_x) * TILE
            st[B_BEHIND * TILE_PIXELS:] = 0.0
            k_max = -1
            for p in range(TILE_PIXELS):
                x = tx0 + p % TILE
                y = ty0 + p // TILE
                st[B_PX * TILE_PIXELS + p] = x + np.float32(0.5)
                st[B_PY * TILE_PIXELS + p] = y + np.float32(0.5)
                if x < width and y < height:
                    T = final_T[y, x]
                    last[p] = last_ids[y, x]
                    v_bg = np.float32(0.0)
                    for d in range(CHANNELS):
                        st[(B_VC + d) * TILE_PIXELS + p] = v_colors[y, x, d]
                        v_bg += v_colors[y, x, d] * background[d]
                    st[B_T * TILE_PIXELS + p] = T
                    st[B_VOUT * TILE_PIXELS + p] = T * (v_alphas[y, x] - v_bg)
                else:
                    last[p] = -1
                    st[B_T * TILE_PIXELS + p] = 1.0
                    st[B_VOUT * TILE_PIXELS + p] = 0.0
                    for d in range(CHANNELS):
                        st[(B_VC + d) * TILE_PIXELS + p] = 0.0
                k_max = max(k_max, last[p])
            for r in range(N_RUNS):
                limit = -1
                for j in range(HALF):
                    limit = max(limit, last[r * HALF + j])
                run_limit[r] = limit
            for k in range(k_max, start - 1, -1):
                g = ids[k]
                p0, p1 = _live_span(params, g, k, tx0, ty0, run_limit)
                if p0 >= p1:
                    continue
                args = (params[g, P_MX], params[g, P_MY], params[g, P_A], params[g, P_B], params[g, P_C],
                        params[g, P_OP], colors[g, 0], colors[g, 1], colors[g, 2], colors[g, 3])
                _backward_one(st, last, np.int32(k), p0, p1, *args, out)
                if absgrad:
                    _abs_mean_grad_one(st, last, np.int32(k), p0, p1, *args, out)
                for j in range(N_GRADS):
                    buf[g, j] += out[j]


@njit(fastmath=FAST_REDUCTIONS, error_model="numpy", cache=True)
def _backward_one(st, last, k, p0, p1, mx, my, ca, cb, cc, op, c0, c1, c2, c3, out):
    """Gradients of one Gaussian summed over pixels [p0, p1) of the tile; walks T back by one step.

    Accumulates the moments of dL/dsigma (Σ vσ·dx, Σ vσ·dy, Σ vσ·dx², Σ vσ·dx·dy, Σ vσ·dy²) rather
    than the parameter gradients themselves: fewer live registers in the loop, same result.
    """
    g_c0 = np.float32(0.0)
    g_c1 = np.float32(0.0)
    g_c2 = np.float32(0.0)
    g_c3 = np.float32(0.0)
    s_x = np.float32(0.0)
    s_y = np.float32(0.0)
    s_xx = np.float32(0.0)
    s_xy = np.float32(0.0)
    s_yy = np.float32(0.0)
    g_op = np.float32(0.0)
    for p in range(p0, p1):
        dx = mx - st[Q_PX + p]
        dy = my - st[Q_PY + p]
        sigma = np.float32(0.5) * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
        vis = exp_neg(max(sigma, np.float32(0.0)))
        alpha = min(ALPHA_MAX, op * vis)
        valid = (sigma >= 0) & (alpha >= ALPHA_MIN) & (k <= last[p])
        # select alpha, not the stored T: LLVM would turn "T unless valid" into a slow masked store
        alpha_v = alpha if valid else np.float32(0.0)
        ra = np.float32(1.0) / (np.float32(1.0) - alpha_v)
        t_before = st[Q_T + p] * ra
        st[Q_T + p] = t_before
        fac = alpha_v * t_before
        v0, v1, v2, v3 = st[Q_VC0 + p], st[Q_VC1 + p], st[Q_VC2 + p], st[Q_VC3 + p]
        g_c0 += fac * v0
        g_c1 += fac * v1
        g_c2 += fac * v2
        g_c3 += fac * v3
        # dL/dalpha: own colour minus what it hides, the alpha output and the background
        v_alpha = (st[Q_VOUT + p] * ra
                   + (c0 * t_before - st[Q_B0 + p] * ra) * v0 + (c1 * t_before - st[Q_B1 + p] * ra) * v1
                   + (c2 * t_before - st[Q_B2 + p] * ra) * v2 + (c3 * t_before - st[Q_B3 + p] * ra) * v3)
        st[Q_B0 + p] += c0 * fac
        st[Q_B1 + p] += c1 * fac
        st[Q_B2 + p] += c2 * fac
        st[Q_B3 + p] += c3 * fac
        # no gradient through the alpha clamp (as gsplat)
        live = valid & (op * vis <= ALPHA_MAX)
        v_vis = vis * v_alpha if live else np.float32(0.0)
        v_sigma = -op * v_vis
        s_x += v_sigma * dx
        s_y += v_sigma * dy
        s_xx += v_sigma * dx * dx
        s_xy += v_sigma * dx * dy
        s_yy += v_sigma * dy * dy
        g_op += v_vis
    out[P_MX] = ca * s_x + cb * s_y
    out[P_MY] = cb * s_x + cc * s_y
    out[P_A] = np.float32(0.5) * s_xx
    out[P_B] = s_xy
    out[P_C] = np.float32(0.5) * s_yy
    out[P_OP] = g_op
    out[G_ABS_X] = 0.0
    out[G_ABS_Y] = 0.0
    out[G_COLOR + 0] = g_c0
    out[G_COLOR + 1] = g_c1
    out[G_COLOR + 2] = g_c2
    out[G_COLOR + 3] = g_c3


@njit(fastmath=FAST_REDUCTIONS, error_model="numpy", cache=True)
def _abs_mean_grad_one(st, last, k, p0, p1, mx, my, ca, cb, cc, op, c0, c1, c2, c3, out):
    """Σ|dL/dmean2d| per pixel for gsplat's absgrad; run after `_backward_one` on the same pixels.

    Needs T and the colour behind *after* this Gaussian, i.e. the state `_backward_one` left, so it
    undoes this Gaussian's step to recover them (cheaper than carrying two more sums in the main loop,
    and only paid when absgrad is asked for).
    """
    g_abs_x = np.float32(0.0)
    g_abs_y = np.float32(0.0)
    for p in range(p0, p1):
        dx = mx - st[Q_PX + p]
        dy = my - st[Q_PY + p]
        sigma = np.float32(0.5) * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
        vis = exp_neg(max(sigma, np.float32(0.0)))
        alpha = min(ALPHA_MAX, op * vis)
        valid = (sigma >= 0) & (alpha >= ALPHA_MIN) & (k <= last[p])
        alpha_v = alpha if valid else np.float32(0.0)
        ra = np.float32(1.0) / (np.float32(1.0) - alpha_v)
        t_before = st[Q_T + p]  # already stepped back by _backward_one
        fac = alpha_v * t_before
        v0, v1, v2, v3 = st[Q_VC0 + p], st[Q_VC1 + p], st[Q_VC2 + p], st[Q_VC3 + p]
        behind0 = st[Q_B0 + p] - c0 * fac
        behind1 = st[Q_B1 + p] - c1 * fac
        behind2 = st[Q_B2 + p] - c2 * fac
        behind3 = st[Q_B3 + p] - c3 * fac
        v_alpha = (st[Q_VOUT + p] * ra
                   + (c0 * t_before - behind0 * ra) * v0 + (c1 * t_before - behind1 * ra) * v1
                   + (c2 * t_before - behind2 * ra) * v2 + (c3 * t_before - behind3 * ra) * v3)
        live = valid & (op * vis <= ALPHA_MAX)
        v_sigma = -op * vis * v_alpha if live else np.float32(0.0)
        g_abs_x += abs(v_sigma * (ca * dx + cb * dy))
        g_abs_y += abs(v_sigma * (cb * dx + cc * dy))
    out[G_ABS_X] = g_abs_x
    out[G_ABS_Y] = g_abs_y
