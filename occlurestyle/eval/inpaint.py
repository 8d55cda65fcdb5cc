"""2D video inpainting for the inpaint-then-stylize baseline: flow-guided propagation of background
pixels from neighbouring frames (the propagation stage of ProPainter / FGVC, without learned parts),
with OpenCV inpainting where no frame saw the pixel.

1. Optical flow between consecutive ORIGINAL frames (OpenCV DIS). Inside a person mask the flow is
   the person's motion, so it is replaced by the harmonic (membrane) interpolation of the flow
   around the mask: the background's flow continued smoothly under the person.
2. Two sweeps, past→future and future→past, carry a pointer per hole pixel (source frame and
   sub-pixel position there) along the completed flows. Pointers, not colours, are propagated, so
   each filled pixel is one bilinear sample of one real frame (no blur from repeated resampling).
3. Each hole pixel takes the sweep whose source frame is nearer in time; what neither sweep reached
   is filled by `cv2.inpaint` (Telea).
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from tqdm import tqdm

from .temporal import dis_flow

KNOWN, PROPAGATED, SPATIAL = 0, 1, 2


def harmonic_fill(values: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`values` [H,W,C] with the pixels in `hole` replaced by the harmonic interpolation of the values
    around them (discrete Laplace equation, known pixels as boundary conditions)."""
    out = np.array(values, np.float64)
    if not hole.any():
        return out
    if hole.all():
        out[:] = 0.0
        return out
    h, w = hole.shape
    index = -np.ones((h, w), np.int64)
    ys, xs = np.nonzero(hole)
    index[ys, xs] = np.arange(len(ys))
    rows, cols, data = [], [], []
    rhs = np.zeros((len(ys), out.shape[2]))
    degree = np.zeros(len(ys))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        degree += inside
        k, ny, nx = np.nonzero(inside)[0], ny[inside], nx[inside]
        neighbour = index[ny, nx]
        unknown = neighbour >= 0
        rows.append(k[unknown])
        cols.append(neighbour[unknown])
        data.append(-np.ones(unknown.sum()))
        rhs[k[~unknown]] += out[ny[~unknown], nx[~unknown]]
    rows.append(np.arange(len(ys)))
    cols.append(np.arange(len(ys)))
    data.append(degree)
    matrix = scipy.sparse.csc_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(len(ys), len(ys)))
    # a hole component without any known neighbour would make the system singular: it touches the
    # border only through other hole pixels, which cannot happen unless the hole is everything
    out[ys, xs] = scipy.sparse.linalg.splu(matrix).solve(rhs)
    return out


def completed_flows(frames: np.ndarray, masks: np.ndarray, margin: int = 4, progress: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Forward flows t→t+1 and backward flows t+1→t [T-1,H,W,2], with the flow inside each source
    frame's (grown) person mask replaced by the background flow around it."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    grown = [cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in masks]
    count = len(frames) - 1
    forward = np.zeros((count, *frames.shape[1:3], 2), np.float32)
    backward = np.zeros_like(forward)
    for t in tqdm(range(count), desc="inpaint: flow", disable=not progress):
        forward[t] = harmonic_fill(dis_flow(frames[t], frames[t + 1]), grown[t])
        backward[t] = harmonic_fill(dis_flow(frames[t + 1], frames[t]), grown[t + 1])
    return forward, backward


def _sweep(masks: np.ndarray, flows: np.ndarray, order: range, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Pointers (source frame, x, y) for every pixel, carried along `order`; frame t's hole pixels look
    up frame t-step through `flows[t]` (flow from t to t-step). -1 where nothing was reached."""
    count, h, w = masks.shape
    source = np.full((count, h, w), -1, np.int32)
    position = np.zeros((count, h, w, 2), np.float32)
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
    for t in order:
        known = ~masks[t]
        source[t][known] = t
        position[t][known] = grid[known]
        previous = t - step
        if not 0 <= previous < count or not masks[t].any():
            continue
        ys, xs = np.nonzero(masks[t])
        qx = xs + flows[t][ys, xs, 0]
        qy = ys + flows[t][ys, xs, 1]
        inside = (qx >= 0) & (qx <= w - 1) & (qy >= 0) & (qy <= h - 1)
        ys, xs, qx, qy = ys[inside], xs[inside], qx[inside], qy[inside]
        x0 = np.clip(np.floor(qx).astype(int), 0, w - 2)
        y0 = np.clip(np.floor(qy).astype(int), 0, h - 2)
        fx, fy = (qx - x0)[:, None], (qy - y0)[:, None]
        corners = [(y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)]
        sources = np.stack([source[previous][cy, cx] for cy, cx in corners])
        # interpolate a pointer only between neighbours that point into the same frame
        agree = (sources == sources[0]).all(0) & (sources[0] >= 0)
        p = [position[previous][cy, cx] for cy, cx in corners]
        blended = (p[0] * (1 - fx) + p[1] * fx) * (1 - fy) + (p[2] * (1 - fx) + p[3] * fx) * fy
        ny, nx = np.rint(qy).astype(int), np.rint(qx).astype(int)
        nearest = source[previous][ny, nx]
        use_nearest = ~agree & (nearest >= 0)
        chosen = agree | use_nearest
        source[t][ys[chosen], xs[chosen]] = np.where(agree, sources[0], nearest)[chosen]
        position[t][ys[chosen], xs[chosen]] = np.where(agree[:, None], blended, position[previous][ny, nx])[chosen]
    return source, position


def _sample(frames: np.ndarray, source: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Bilinear samples [N,3] of frames[source[i]] at position[i]."""
    h, w = frames.shape[1:3]
    x = np.clip(position[:, 0], 0, w - 1)
    y = np.clip(position[:, 1], 0, h - 1)
    x0 = np.clip(np.floor(x).astype(int), 0, w - 2)
    y0 = np.clip(np.floor(y).astype(int), 0, h - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    f = frames.astype(np.float32)
    top = f[source, y0, x0] * (1 - fx) + f[source, y0, x0 + 1] * fx
    bottom = f[source, y0 + 1, x0] * (1 - fx) + f[source, y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def inpaint_video(frames: np.ndarray, masks: np.ndarray, progress: bool = False, radius: int = 5
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Fill the masked pixels of a clip. `frames` [T,H,W,3] uint8, `masks` [T,H,W] bool (True = fill).

    Returns the filled frames [T,H,W,3] uint8 and, per pixel, how it was filled: KNOWN (input pixel),
    PROPAGATED (from another frame along the flow) or SPATIAL (OpenCV inpainting)."""
    frames = np.asarray(frames)
    masks = np.asarray(masks, bool)
    if frames.shape[:3] != masks.shape:
        raise ValueError(f"frames {frames.shape[:3]} and masks {masks.shape} differ in size")
    count = len(frames)
    filled = frames.copy()
    how = np.where(masks, SPATIAL, KNOWN).astype(np.uint8)
    if count > 1:
        forward, backward = completed_flows(frames, masks, progress=progress)
        # past→future: frame t looks back to t-1 along the flow t→t-1 (= backward[t-1])
        back_flows = np.concatenate([np.zeros_like(backward[:1]), backward])
        src_a, pos_a = _sweep(masks, back_flows, range(count), 1)
        # future→past: frame t looks ahead to t+1 along the flow t→t+1 (= forward[t])
        ahead_flows = np.concatenate([forward, np.zeros_like(forward[:1])])
        src_b, pos_b = _sweep(masks, ahead_flows, range(count - 1, -1, -1), -1)
        frame_index = np.arange(count)[:, None, None]
        dist_a = np.where(src_a >= 0, np.abs(frame_index - src_a), np.iinfo(np.int32).max)
        dist_b = np.where(src_b >= 0, np.abs(frame_index - src_b), np.iinfo(np.int32).max)
        take_b = dist_b < dist_a
        source = np.where(take_b, src_b, src_a)
        position = np.where(take_b[..., None], pos_b, pos_a)
        reached = masks & (source >= 0)
        t, y, x = np.nonzero(reached)
        filled[t, y, x] = np.clip(_sample(frames, source[t, y, x], position[t, y, x]) + 0.5, 0, 255).astype(np.uint8)
        how[reached] = PROPAGATED
    for t in tqdm(range(count), desc="inpaint: spatial", disable=not progress):
        rest = how[t] == SPATIAL
        if rest.any():
            filled[t] = cv2.inpaint(filled[t], rest.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    return filled, how
