"""Person masks corrected against the reconstructed background: spill cut, missed edges and missed
people added.

A masker's masks spill onto the background, fill the gap between an arm and the body, lag behind a
limb or miss someone (the `people` masker cannot see a person the frame's edge cuts in half, nor a
child lying behind his sister). Once the background is a 3D model, its render from the frame's own
camera is a plate: a mask pixel the model explains (the frame equals the render there, as well as it
does far from any person) is background, and pixels it cannot explain are a person, next to a mask
or, as a large solid blob, on their own.

Thresholds come from the frame itself: the model's error on pixels far from every person (its blur,
texture it did not fit) sets what "explained" means in that frame, so they need no tuning per scene;
large solid blobs it does not explain are left out of that reference (a person the masker missed would
otherwise raise every threshold to their own colour difference). Pixels in shade (the render darker in
every channel, evenly or bluer) are a person's shadow and never grown into; a blob the render brighter
explains (one grey-ish gain above one: a phone re-exposing by a window, the window blown out), on its
own or beside a person, is no one. Along the outline each pixel goes to whichever it is more of, the
render or the colour of the person just inside.

Visible-person IoU of the masks against the truth, `people` masker's masks before -> after (the runs'
own renders): `make demo`'s living room 0.700 -> 0.855, the office sample at 1,500 steps 0.782 -> 0.853,
davis_parkour's runner 0.904 -> 0.908; the demo with the `auto` masker 0.691 -> 0.789. In sam2_bedroom
the boy the masker misses is found; of davis_dance_twirl's seated audience, whom the model learnt, 23%
of the masked pixels are cut. Training corrects its masks with it too (recon/mechanisms.py).
Not for masks that are already right: with true masks it cuts person pixels the model happens to
match, so the people stage leaves the `file` masker's masks as they are.
A person the masker's pose model doubted in the frame is no such learnt person: a region followed
through doubt drifts onto what is beside the person (the demo's plant and sofa arm, the floor by the
frame's edge) and the model explains that because it is background. What the model explains of them is
cut however much it is: `make demo`'s visible-person IoU 0.832 -> 0.860.
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np
from scipy import ndimage

from .plates import shade_like, tolerant_difference

BAND = 0.05  # how far (fraction of the image's longer side) the mask may move
KEEP_QUANTILE = 95  # a mask pixel stays unless the model explains it this well
GROW_QUANTILE = 99  # a pixel joins the person if the model explains it worse than this
SEED_QUANTILE = 99.5  # a person region must contain mask pixels this badly explained
MIN_KEPT = 0.3  # of a person (or mask blob), or the model is not trusted there: it learnt them
MIN_REFERENCE = 0.05  # of the frame, far from people, to estimate the model's error from
UNEXPLAINED_QUANTILE = 90  # pixels the model explains worse than this may form an unexplained blob
UNEXPLAINED_BLOB = 0.005  # of the frame: a blob this large is not the model's error but something there
MISSED_PERSON = 0.002  # of the frame: an unexplained blob this large, far from every mask, is a person
MISSED_PERSON_WIDTH = 0.02  # of the image's longer side: thinner unexplained strips are the model's error
MOSTLY_LIT = 0.5  # of such a blob not in shade, or it is a shadow
CLIPPED = 0.98  # a channel this bright is clipped: its true value is unknown
MOSTLY_UNCLIPPED = 0.5  # share of a missed person's pixels not clipped, or it is a light or window
MAX_TINT = 1.25  # largest ratio between the channels' gains of an exposure change (white balance moves a little)
MOSTLY_UNEXPLAINED = 0.5  # share of a missed person the render, re-exposed, must still not explain
HOLE = 0.0013  # of the frame: holes in a person up to this size are filled (larger: background between limbs)
OUTLINE = 1  # px either side of the outline decided pixel by pixel
OUTLINE_PASSES = 2  # twice: an outline 2 px off comes back


def refine_with_background(mask: np.ndarray, frame: np.ndarray, background: np.ndarray,
                           instances: np.ndarray | None = None, doubted: Iterable[int] = ()) -> np.ndarray:
    """`mask` [H,W] bool corrected against `background`, the background model rendered from the camera of
    `frame` (both [H,W,3] floats in 0-1). `instances` [H,W] (the masker's person ids, 0 for none), when
    given, are judged one by one as the model's possible learnt people; otherwise each blob of the mask
    is. `doubted`: ids of `instances` the masker's pose model doubted in this frame (a region it followed
    may have drifted off the person onto the table or plant beside them): what of them the model
    explains is background, even when that is most of them. Returned unchanged when the mask covers
    nearly all the frame."""
    mask = np.asarray(mask, bool)
    height, width = mask.shape
    radius = max(2, round(BAND * max(height, width)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate(mask.astype(np.uint8), disk) > 0
    if (~near).mean() < MIN_REFERENCE:
        return mask
    frame, background = frame.astype(np.float32), background.astype(np.float32)
    evidence = tolerant_difference(frame, background)
    unexplained = _unexplained_blobs(evidence, ~near)
    reference = ~near & ~unexplained
    if reference.mean() < MIN_REFERENCE:
        return mask
    keep, grow, seed = np.percentile(evidence[reference], [KEEP_QUANTILE, GROW_QUANTILE, SEED_QUANTILE])
    shade = shade_like(frame, background)  # a person's shadow: never grown into, unless the mask holds it
    candidates = (mask & (evidence > keep)) | (near & (evidence > grow) & ~shade)
    labels, _ = ndimage.label(candidates, structure=np.ones((3, 3)))
    seeded = np.unique(labels[mask & (evidence > seed)])
    person = np.isin(labels, seeded[seeded > 0])
    person = cv2.morphologyEx(person.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    person = _fill_small_holes(person, HOLE * height * width)
    added = _blobs_at_least(person & ~mask, MISSED_PERSON * height * width)
    person &= ~(added & ~_not_relit(added, frame, background, grow))  # the wall beside them, brighter
    missed = _missed_people(evidence > seed, (evidence > grow) & ~person, near, shade,
                            MISSED_PERSON * height * width, MISSED_PERSON_WIDTH * max(height, width))
    person |= _not_relit(missed, frame, background, grow)
    for _ in range(OUTLINE_PASSES):
        person = _outline_by_colour(person, frame, background)
    # a person the model explains mostly was learnt into it (the masks missed them in other frames, or
    # they sat still): the evidence says little there, so they are kept as the masker found them
    people = _people(mask, instances)
    sizes = np.bincount(people.ravel())
    kept = np.bincount(people.ravel(), weights=person.ravel(), minlength=len(sizes))
    lost = kept < MIN_KEPT * sizes
    lost[0] = False
    doubted = list(doubted)
    if instances is not None and doubted:
        # by their pixels: an id with none left here could equal the label of a blob without an id
        lost[np.unique(people[mask & np.isin(instances, doubted)])] = False
    return person | lost[people]


def _people(mask: np.ndarray, instances: np.ndarray | None) -> np.ndarray:
    """Labels of the mask's people: the masker's ids where it gave them (a crowd is one blob but many
    people), connected blobs elsewhere. Mask pixels without an id in a blob that has ids (what the masks
    stage added: a filled hole, a smoothed edge) are the nearest person's: judged on their own, a hole
    filled between an arm and the body is a "person" the model explains, and would be kept whole."""
    blobs, _ = ndimage.label(mask)
    if instances is None:
        return blobs
    ids = np.where(mask, instances.astype(np.int64), 0)
    if not ids.any():
        return blobs
    _, (rows, cols) = ndimage.distance_transform_edt(ids == 0, return_indices=True)
    with_ids = np.zeros(blobs.max() + 1, bool)
    with_ids[np.unique(blobs[ids > 0])] = True
    with_ids[0] = False
    unlabelled = mask & (ids == 0)
    return np.where(unlabelled, np.where(with_ids[blobs], ids[rows, cols], blobs + ids.max()), ids)


def _unexplained_blobs(evidence: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Large solid blobs in `region` that the model explains worse than most of it: a person or object
    the masker missed. The model's own error is thin (edges, fine texture) and does not form them."""
    high = evidence > np.percentile(evidence[region], UNEXPLAINED_QUANTILE)
    high = cv2.morphologyEx((high & region).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    return _blobs_at_least(high, UNEXPLAINED_BLOB * evidence.size)


def _missed_people(strong: np.ndarray, weak: np.ndarray, near: np.ndarray, shade: np.ndarray,
                   min_area: float, min_width: float) -> np.ndarray:
    """People no mask comes near: solid blobs of `strong` evidence, at least `min_area` pixels and
    `min_width` across (a thin strip is the model's error along an edge it did not fit), most of them
    not in shade (a shadow; dark clothes can look shaded in part), grown through the `weak` evidence
    joined to them, shade left out."""
    size = max(3, 2 * round(min_width / 2) + 1)
    solid = cv2.morphologyEx((strong & ~near).astype(np.uint8), cv2.MORPH_OPEN,
                             cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    labels, _ = ndimage.label(solid)
    sizes = np.bincount(labels.ravel())
    lit = np.bincount(labels.ravel(), weights=(~shade).ravel(), minlength=len(sizes))
    person = (sizes >= min_area) & (lit >= MOSTLY_LIT * sizes)
    person[0] = False
    found = person[labels]
    if not found.any():
        return found
    labels, _ = ndimage.label((weak & ~shade) | found)
    grown = np.isin(labels, np.unique(labels[found]))
    return cv2.morphologyEx(grown.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0


def _not_relit(blobs: np.ndarray, frame: np.ndarray, background: np.ndarray, explained: float) -> np.ndarray:
    """The `blobs` that are not the render brighter: a phone's camera re-exposes as it turns (a wall
    beside a window comes out brighter, the window blown out), which one grey-ish gain above one
    explains and no person does (their colours and texture are not the wall's, brightened)."""
    labels, count = ndimage.label(blobs)
    keep = np.zeros(count + 1, bool)
    for label in range(1, count + 1):
        blob = labels == label
        seen, render = frame[blob], background[blob]
        unclipped = seen.max(-1) < CLIPPED
        if unclipped.mean() < MOSTLY_UNCLIPPED:
            continue  # blown out (a window, a lamp): no person is white all over
        seen_u, render_u = seen[unclipped], render[unclipped]
        gain = (seen_u * render_u).sum(0) / np.maximum((render_u ** 2).sum(0), 1e-6)
        if gain.min() < 1.0 or gain.max() > MAX_TINT * gain.min():
            # darker is for the shade rule to judge (dark clothes are a grey gain below one of most walls);
            # a change of colour is no change of exposure
            keep[label] = True
            continue
        residual = np.abs(np.minimum(render * gain, 1.0) - seen).max(-1)
        keep[label] = (residual > explained).mean() >= MOSTLY_UNEXPLAINED
    return keep[labels]


def _blobs_at_least(pixels: np.ndarray, min_area: float) -> np.ndarray:
    labels, _ = ndimage.label(pixels)
    large = np.bincount(labels.ravel()) >= min_area
    large[0] = False
    return large[labels]


def _fill_small_holes(person: np.ndarray, max_area: float) -> np.ndarray:
    holes = ndimage.binary_fill_holes(person) & ~person
    labels, _ = ndimage.label(holes)
    small = np.bincount(labels.ravel()) < max_area
    small[0] = False
    return person | small[labels]


def _outline_by_colour(person: np.ndarray, frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The pixels within `OUTLINE` of the person's outline decided one by one: the frame there as a blend
    of the render and the person's colour just inside (averaged over a few pixels), person where the
    blend is more than half person. Undecided where the two colours are too close to tell apart."""
    size = 2 * OUTLINE + 1
    inner = cv2.erode(person.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    outer = cv2.dilate(person.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    weight = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), 2.0)
    colour = cv2.GaussianBlur(frame * inner[..., None], (0, 0), 2.0) / np.maximum(weight, 1e-6)[..., None]
    towards_person = colour - background
    spread = (towards_person ** 2).sum(-1)
    share = ((frame - background) * towards_person).sum(-1) / np.maximum(spread, 1e-6)
    decided = outer & ~inner & (weight > 0.02) & (spread > 0.08 ** 2)
    return np.where(decided, share > 0.5, person)
