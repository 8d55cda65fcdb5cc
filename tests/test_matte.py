"""The people stage's mask correction against the background model's render (`occlusion/matte.py`)."""

import cv2
import numpy as np
from scipy import ndimage

from occlurestyle.occlusion.matte import refine_with_background

HEIGHT, WIDTH = 120, 160


def _room(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """A textured room and the model's render of it (the room plus the model's own small error)."""
    rng = np.random.default_rng(seed)
    room = cv2.GaussianBlur(rng.random((HEIGHT, WIDTH, 3)).astype(np.float32), (0, 0), 3)
    room = (room - room.min()) / (room.max() - room.min())
    render = np.clip(room + rng.normal(0, 0.01, room.shape).astype(np.float32), 0, 1)
    return room, render, rng


def _ellipse(cx: float, cy: float, rx: float, ry: float, supersample: int = 1) -> np.ndarray:
    """Coverage of each pixel by the ellipse (0-1; exact 0/1 without supersampling)."""
    s = supersample
    yy, xx = (np.mgrid[:HEIGHT * s, :WIDTH * s] + 0.5) / s
    inside = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.float32)
    return inside.reshape(HEIGHT, s, WIDTH, s).mean(axis=(1, 3))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def _dress(frame: np.ndarray, coverage: np.ndarray, colour, rng: np.random.Generator) -> np.ndarray:
    person = np.clip(np.array(colour, np.float32) + rng.normal(0, 0.05, frame.shape).astype(np.float32), 0, 1)
    return coverage[..., None] * person + (1 - coverage[..., None]) * frame


def test_spill_is_cut_and_missed_pixels_are_added():
    room, render, rng = _room()
    person = _ellipse(80, 70, 14, 35) > 0
    frame = _dress(room, person.astype(np.float32), (0.9, 0.2, 0.2), rng)
    found = np.roll(person, 5, axis=1)  # a mask lagging 5 px: spill on one side, a miss on the other

    refined = refine_with_background(found, frame, render)
    assert _iou(found, person) < 0.75 and _iou(refined, person) > 0.95
    # a person the model learnt (the render shows them too) gives no evidence: the mask stays
    assert (refine_with_background(found, frame, frame) == found).all()
    # nobody found: the person is still there (a missed person, below), and nothing where nobody is
    assert _iou(refine_with_background(np.zeros_like(found), frame, render), person) > 0.95
    assert not refine_with_background(np.zeros_like(found), room, render).any()


def test_a_person_the_masker_missed_is_found_and_does_not_hide_the_one_it_found():
    """The missed person's colour difference must not become the frame's idea of the model's error: the
    thresholds would rise to it and the found person, no more different from the render, would be lost."""
    room, render, rng = _room(1)
    found_person = _ellipse(45, 70, 12, 32) > 0
    missed_person = _ellipse(120, 65, 13, 34) > 0
    frame = _dress(room, found_person.astype(np.float32), (0.2, 0.3, 0.9), rng)
    frame = _dress(frame, missed_person.astype(np.float32), (0.9, 0.8, 0.1), rng)

    refined = refine_with_background(found_person, frame, render)
    assert _iou(refined & (np.arange(WIDTH) < 80), found_person) > 0.95
    assert _iou(refined & (np.arange(WIDTH) >= 80), missed_person) > 0.9
    # nothing unexplained, nothing added: the model's own error never forms a person
    assert _iou(refine_with_background(found_person, _dress(room, found_person.astype(np.float32),
                                                            (0.2, 0.3, 0.9), rng), render), found_person) > 0.95


def test_shadows_beside_a_person_and_the_gap_between_arm_and_body_stay_background():
    room, render, rng = _room(2)
    body = _ellipse(80, 70, 12, 34) > 0
    arm = (_ellipse(98, 60, 14, 16) > 0) & ~(_ellipse(98, 60, 9, 11) > 0)  # a hand on the hip: a loop
    gap = (_ellipse(98, 60, 9, 11) > 0) & ~body
    person = body | arm
    indoors = (_ellipse(62, 100, 16, 8) > 0) & ~person  # attached to the feet
    sunlit = (_ellipse(128, 108, 24, 7) > 0) & ~person  # out of the sun, lit by the sky: bluer; far from the mask
    frame = room.copy()
    frame[indoors] *= 0.6  # the floor darkened evenly in every channel
    frame[sunlit] *= np.array([0.5, 0.56, 0.7], np.float32)
    frame = _dress(frame, person.astype(np.float32), (0.85, 0.25, 0.3), rng)
    found = person | gap  # a pose model's matte fills the loop
    assert gap.sum() > 150

    instances = person.astype(np.uint8)  # the masker's id on its own matte; the gap filled by the masks stage
    for ids in (None, instances):
        refined = refine_with_background(found, frame, render, ids)
        assert (refined & gap).sum() < 0.05 * gap.sum()
        for shadow in (indoors, sunlit):
            assert (refined & shadow).sum() < 0.05 * shadow.sum()
        assert _iou(refined, person) > 0.95


def test_a_thin_strip_the_model_did_not_fit_is_no_person():
    """A 3D model blurs or shifts a fine edge it did not fit: a long strip of colour difference, thinner
    than any person, is not someone the masker missed."""
    room, render, rng = _room(4)
    person = _ellipse(40, 60, 12, 32) > 0
    frame = _dress(room, person.astype(np.float32), (0.2, 0.8, 0.3), rng)
    strip = np.zeros((HEIGHT, WIDTH), bool)
    strip[90:93, 70:150] = True  # 3 px by 80 px: a railing's edge
    frame[strip] = np.array([0.95, 0.1, 0.6], np.float32)
    refined = refine_with_background(person, frame, render)
    assert (refined & strip).sum() == 0 and _iou(refined, person) > 0.95
    frame[85:98, 70:150] = np.array([0.95, 0.1, 0.6], np.float32)  # as thick as a person: someone
    assert (refine_with_background(person, frame, render)[85:98, 70:150]).mean() > 0.9


def test_the_outline_follows_the_blend_of_person_and_background():
    """An anti-aliased outline: each pixel counts as person where it is more person than background.
    The mask one pixel too large all round (or too small) comes back to the truth."""
    room, render, rng = _room(3)
    coverage = _ellipse(80, 60, 20, 40.5, supersample=8)
    truth = coverage > 0.5
    frame = _dress(room, coverage, (0.95, 0.9, 0.2), rng)
    grown = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    shrunk = cv2.erode(truth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    for found in (grown, shrunk):
        refined = refine_with_background(found, frame, render)
        assert _iou(refined, truth) > 0.97 > _iou(found, truth)


def test_a_person_the_model_learnt_is_kept_whole_beside_one_it_did_not():
    """Two people side by side in one mask blob (a seated audience): the model learnt the still one (its
    render shows them), so the frame matches it there; with the masker's ids they are judged one by one
    and the still person is kept as found, not cut away to be shown restyled."""
    room, render, rng = _room(5)
    still = _ellipse(60, 70, 16, 34) > 0
    moving = (_ellipse(88, 70, 14, 34) > 0) & ~still
    frame = _dress(room, still.astype(np.float32), (0.3, 0.6, 0.9), rng)
    render = frame.copy()  # the still person learnt into the model
    render[moving] = room[moving]
    frame = _dress(frame, moving.astype(np.float32), (0.9, 0.3, 0.2), rng)
    render = np.clip(render + rng.normal(0, 0.01, render.shape).astype(np.float32), 0, 1)
    mask = still | moving
    assert ndimage.label(mask)[1] == 1
    instances = np.zeros(mask.shape, np.uint8)
    instances[still], instances[moving] = 1, 2

    by_person = refine_with_background(mask, frame, render, instances)
    assert (by_person & still).sum() == still.sum() and _iou(by_person & ~still, moving) > 0.95
    by_blob = refine_with_background(mask, frame, render)
    assert (by_blob & still).sum() < 0.5 * still.sum()


def test_a_matte_the_pose_model_doubted_is_cut_where_the_model_explains_it():
    """A followed person's matte drifted onto the plant beside them (the pose model doubted it there): the
    model explains that region as well as the rest of the room, so it is cut, though all of it would be
    "a person the model learnt" and kept whole if the masker had been sure of it. A person found with
    confidence beside it, whom the model did not learn, stays."""
    room, render, rng = _room(7)
    plant = _ellipse(50, 70, 14, 26) > 0  # static: frame and render agree there
    person = _ellipse(100, 66, 14, 34) > 0
    frame = _dress(room, person.astype(np.float32), (0.9, 0.3, 0.2), rng)
    mask = plant | person
    instances = np.zeros(mask.shape, np.uint8)
    instances[plant], instances[person] = 3, 1

    trusted = refine_with_background(mask, frame, render, instances)
    assert (trusted & plant).sum() == plant.sum()  # without a word from the masker: a person it learnt
    doubted = refine_with_background(mask, frame, render, instances, doubted=[3])
    assert (doubted & plant).sum() < 0.1 * plant.sum()
    assert _iou(doubted & ~plant, person) > 0.95
    # ids the frame does not hold are no harm, even one equal to the label a blob without an id is given
    assert (refine_with_background(mask, frame, render, instances, doubted=[9]) == trusted).all()
    unlabelled = instances.copy()
    # the plant a blob of the mask without an id: labelled by its blob number (2: the person's top is higher)
    # plus the largest id (1), so 3
    unlabelled[plant] = 0
    assert (refine_with_background(mask, frame, render, unlabelled, doubted=[3]) & plant).sum() == plant.sum()

def test_a_change_of_exposure_is_no_missed_person_but_a_grey_person_is():
    """A phone's camera re-exposes as it turns: the wall beside a window comes out brighter than the
    model renders it, the window blown out white, and so does the wall right beside a person. None of it
    is someone the masker missed; a person in grey, whose colour is a grey-ish gain of no wall, still is."""
    for seed in range(6):
        room, render, rng = _room(10 + seed)
        person = _ellipse(40, 60, 12, 32) > 0
        frame = _dress(room, person.astype(np.float32), (0.2, 0.8, 0.3), rng)
        brighter = _ellipse(120, 40, 18, 26) > 0  # person-sized, far from the found person
        window = _ellipse(115, 100, 22, 12) > 0
        beside = (_ellipse(58, 50, 12, 16) > 0) & ~person  # touching them
        for wall in (brighter, beside):
            frame[wall] = np.clip(frame[wall] * np.array([1.4, 1.37, 1.33], np.float32) + 0.05, 0, 1)
        frame[window] = 1.0
        refined = refine_with_background(person, frame, render)
        for wall in (brighter, window, beside):
            assert (refined & wall).sum() < 0.05 * wall.sum()
        assert _iou(refined, person) > 0.95

        grey = _dress(room, person.astype(np.float32), (0.2, 0.8, 0.3), rng)
        grey = _dress(grey, brighter.astype(np.float32), (0.55, 0.55, 0.55), rng)
        assert _iou(refine_with_background(person, grey, render) & (np.arange(WIDTH) >= 80), brighter) > 0.9
