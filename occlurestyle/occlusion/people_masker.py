"""The `people` masker: every person in every frame, as an instance with a stable id and a soft matte.

Per frame, in this order:
1. each tracked person's pose is re-estimated in the region its previous pose predicts (MediaPipe's own
   tracking: no detector needed while a person stays found), kept while the pose model's presence
   score stays above a low bar (it flickers on hard frames) unless it stays doubtful for long (a
   region that drifted off the person);
2. the detector looks for people not tracked yet on the frame with the tracked people painted out
   (it reports one person per body and favours the largest, so painting lets it see the next one),
   a few rounds a frame, and every `tile_every` frames also on overlapping tiles (small, far or
   partly hidden people);
3. a detection becomes a person when the landmark model is confident of someone in its region (a high
   bar: at 0.5 pillows and paintings pass) and its matte is not someone already found; a person lost
   for at most `max_missing` frames keeps their id when found again where they were lost (and is
   looked for where their last pose was for `retry_lost` frames, unless they were lost mostly outside
   the frame: they walked out of it).
Two tracks that converge on one body are merged (the younger is dropped).

Then, backwards in time: from the first frame of each stretch in which a person was found, their pose
is followed back frame by frame (the same tracking, run in reverse) until the pose model loses them or
they run into someone else; while their region is partly outside the frame (someone walking in), the
pose model's doubt does not stop it, only an empty matte does. This finds people in the frames before
the detector first saw them (someone standing still who only turns to the camera later, someone
walking in from the frame's edge). Every frame's people are held until then: three maps a frame.

Last, people the detector never saw but who move (crouched behind a sofa, turned away, small): every
`motion_every` frames, regions that move against the camera (`motion_cue`) and that nobody found
explains (unless at the frame's edge) are searched by the pose model at a few sizes and turns; a
confident pose whose matte explains the motion is a new person, followed forwards and backwards like
the others; one it cannot follow into either neighbouring frame is dropped (the pose model's one-off
on an edge the camera's motion made move: a sofa's arm, a table). This pass only adds people, after
everything else, so it cannot change whom the tracker found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from .. import media
from ..models import model_paths
from .blazepose import Detection, Pose, PoseDetector, PoseLandmarker, Roi
from .motion_cue import MotionCue, MovingRegion

MAX_ID = 255  # instance maps are 8-bit PNGs
EDGE_SHARE = 0.7  # a pose whose ROI is less inside the frame than this is at its edge
GONE_SHARE = 0.5  # a person lost with less of their ROI inside the frame than this walked out of it
MOTION_SCALES = (1.5, 2.2)  # ROI sides tried on a moving region, times its longer side
MOTION_TURNS = (0.0, np.pi / 2, -np.pi / 2, np.pi)  # ... and turns (a crouched or vaulting person is not upright)
MOTION_EXPLAINED = 0.5  # share of a moving region a person found there must cover (and above which it is theirs)
MOTION_MOVING = 0.4  # ... and share of their matte that must move
TORSO = [11, 12, 23, 24]  # BlazePose's shoulders and hips
# a detection's body region (from its hip and scale keypoints) can span someone found already, whom the
# pose model then follows (a child kneeling beside his sister): the region this many times the
# detector's box about its centre is tried next
CLOSER_LOOK = 1.5
# ... and what it finds there must be a person the pose model is sure of: in such crops it also took
# pillows and a dresser for people (presence 0.80-0.96 in sam2_bedroom) where a child scored 0.999
CLOSER_LOOK_PRESENCE = 0.99


@dataclass
class PeopleMaskOptions:
    detector_threshold: float = 0.5
    presence_threshold: float = 0.8  # the landmark model's "a person is in this region", for a new person
    track_presence_threshold: float = 0.2  # ... and for one already followed (its pose flickers on hard frames)
    matte_threshold: float = 0.5
    detect_rounds: int = 3  # detector passes a frame, each with the people found so far painted out
    tile_every: int = 5  # frames between searches on tiles (0: never)
    # n x n tilings searched (small, far or partly hidden people). 3x3 rather than 2x2: davis_dance_twirl's
    # seated audience 6.9 -> 10.0 people a frame, and the sam2_bedroom lamp 2x2 took for a person is left
    tile_grids: tuple[int, ...] = (3,)
    max_people: int = 16
    max_missing: int = 30  # frames a lost person keeps their id
    mirror_up_to: int = 1  # frames with at most this many people also segment each crop mirrored (steadier edges)
    max_doubtful: int = 8  # frames a person is followed while the pose model doubts them
    follow_back: bool = True  # follow each person back in time from where they were first found
    motion_every: int = 2  # frames between searches for moving people nobody found (0: never)
    motion_gap: int = 4  # frames between the neighbours the motion cue compares a frame with
    retry_lost: int = 10  # frames a lost person is looked for where their last pose was
    min_area: float = 0.0005  # fraction of the frame below which a matte is no person
    duplicate_overlap: float = 0.5  # share of a matte inside another person's above which it is theirs
    models_dir: str | None = None


@dataclass
class Track:
    id: int
    pose: Pose | None = None
    matte: np.ndarray | None = None  # float32 0..1, frame-sized; None while lost
    box: np.ndarray = field(default_factory=lambda: np.zeros(4))  # last matte bounds [x0, y0, x1, y1]
    missing: int = 0
    doubtful: int = 0  # frames in a row lost or followed with a presence below a new person's threshold
    found: int = 0  # frames found so far


@dataclass
class PeopleFrame:
    mask: np.ndarray  # bool union of the people
    matte: np.ndarray  # uint8 0..255, the largest of the people's mattes
    instances: np.ndarray  # uint8 person ids, 0 = nobody
    ids: list[int]
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)  # id -> (33, 3) frame x, y, visibility
    presence: dict[int, float] = field(default_factory=dict)  # id -> the pose model's presence score here
    # ids whose presence is below a new person's bar: followed through doubt, they may have drifted onto
    # the table or plant beside them (the mask correction against the background model needs to know)
    doubted: list[int] = field(default_factory=list)
    seconds: float = 0.0  # time spent finding this frame's people

    def add(self, person: int, matte: np.ndarray, landmarks: np.ndarray, presence: float,
            threshold: float = 0.5) -> None:
        """Adds a person (float 0..1 matte) the way `compose_people` would have: they take the pixels
        where their matte is above `threshold` and above everyone else's."""
        mine = (matte > threshold) & (np.round(matte * 255) > self.matte)
        self.instances[mine] = person
        self.matte[mine] = np.round(matte[mine] * 255).astype(np.uint8)
        self.mask = self.instances > 0
        self.ids = sorted(set(self.ids) | {person})
        self.landmarks[person] = landmarks
        self.presence[person] = float(presence)

    def remove(self, person: int, before: tuple[np.ndarray, np.ndarray]) -> None:
        """Takes `person` out again, their pixels given back as they were `before` (instances, matte)
        they were added."""
        theirs = self.instances == person
        self.instances[theirs], self.matte[theirs] = before[0][theirs], before[1][theirs]
        self.mask = self.instances > 0
        self.ids = [other for other in self.ids if other != person]
        self.landmarks.pop(person, None)
        self.presence.pop(person, None)


def _bounds(mask: np.ndarray) -> np.ndarray:
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    if not len(ys):
        return np.zeros(4)
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], float)


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _inside_share(roi, shape: tuple[int, int]) -> float:
    """The share of the ROI's bounding box inside a frame of `shape`."""
    x0, y0, x1, y1 = roi.box()
    inside = max(0.0, min(x1, shape[1]) - max(x0, 0.0)) * max(0.0, min(y1, shape[0]) - max(y0, 0.0))
    return inside / max((x1 - x0) * (y1 - y0), 1e-9)


class PeopleTracker:
    """Frame by frame (in order): the people in each frame, with ids that hold over time."""

    def __init__(self, detector: PoseDetector, landmarker: PoseLandmarker, options: PeopleMaskOptions):
        self.detector, self.landmarker, self.options = detector, landmarker, options
        self.tracks: list[Track] = []
        self.next_id = 1
        self.frame_index = 0

    def _confirm(self, image: np.ndarray, pose: Pose, threshold: float) -> np.ndarray | None:
        """The pose's matte when it is a person (present, large enough), else None."""
        if pose.presence < threshold:
            return None
        matte = pose.matte(image.shape[:2])
        if (matte > self.options.matte_threshold).mean() < self.options.min_area:
            return None
        return matte

    def _new_person(self, image: np.ndarray, roi: Roi, taken: np.ndarray | None, mirrored: bool,
                    presence: float) -> tuple[tuple[Pose, np.ndarray] | None, bool]:
        """The pose and matte of a person in `roi` not mostly in `taken` if the pose model's presence
        reaches `presence`, else None; and whether the pose model followed someone in `taken` instead (their
        matte is mostly in `taken`, or holds most of someone found: a region spanning two people, segmented
        as one)."""
        pose = self.landmarker(image, roi, mirrored)
        matte = pose.matte(image.shape[:2])
        mine = matte > self.options.matte_threshold
        if taken is not None and (mine & taken).sum() > self.options.duplicate_overlap * mine.sum():
            return None, True
        x0, y0, x1, y1 = _bounds(mine).astype(int)
        for track in self.tracks:
            if track.matte is None:
                continue
            # within the new matte's box first: most people found are elsewhere, and need no full-frame count
            held = np.count_nonzero(mine[y0:y1, x0:x1] & (track.matte[y0:y1, x0:x1] > self.options.matte_threshold))
            if held and held > self.options.duplicate_overlap * np.count_nonzero(
                    track.matte > self.options.matte_threshold):
                return None, True
        if pose.presence < presence or mine.mean() < self.options.min_area:
            return None, False
        return (pose, matte), False

    def _taken(self) -> np.ndarray | None:
        mattes = [t.matte for t in self.tracks if t.matte is not None]
        return np.max(mattes, axis=0) > self.options.matte_threshold if mattes else None

    def _painted(self, image: np.ndarray, taken: np.ndarray | None) -> np.ndarray:
        if taken is None:
            return image
        grown = cv2.dilate(taken.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        painted = image.copy()
        painted[grown] = 127
        return painted

    def _detections(self, image: np.ndarray) -> list[Detection]:
        """The detector's people in the frame and, every `tile_every` frames, in its tiles; best first."""
        height, width = image.shape[:2]
        found = self.detector(image)
        if self.options.tile_every and self.frame_index % self.options.tile_every == 0:
            for grid in self.options.tile_grids:
                # `grid` x `grid` tiles, each a third wider than 1/grid of the frame so they overlap
                tile_w = min(width, int(round(width / grid * 4 / 3)))
                tile_h = min(height, int(round(height / grid * 4 / 3)))
                for y0 in np.linspace(0, height - tile_h, grid).round().astype(int):
                    for x0 in np.linspace(0, width - tile_w, grid).round().astype(int):
                        for detection in self.detector(image[y0:y0 + tile_h, x0:x0 + tile_w]):
                            detection.box = detection.box + np.array([x0, y0, x0, y0])
                            detection.keypoints = detection.keypoints + np.array([x0, y0])
                            found.append(detection)
        return sorted(found, key=lambda detection: -detection.score)

    def _add(self, pose: Pose, matte: np.ndarray) -> None:
        box = _bounds(matte > self.options.matte_threshold)
        lost = [t for t in self.tracks if t.matte is None and _box_iou(t.box, box) > 0.3]
        if lost:
            track = max(lost, key=lambda t: _box_iou(t.box, box))
        else:
            track = Track(self.next_id)
            self.next_id = self.next_id % MAX_ID + 1
            self.tracks.append(track)
        track.pose, track.matte, track.box, track.missing, track.doubtful = pose, matte, box, 0, 0
        track.found += 1

    def __call__(self, image: np.ndarray) -> PeopleFrame:
        options = self.options
        mirrored = sum(t.matte is not None for t in self.tracks) <= options.mirror_up_to
        for track in self.tracks:
            matte = None
            # a person lost while mostly outside the frame walked out of it: where they were is now
            # something else (the pose model has called a plant a person there)
            retry = track.pose is not None and (track.missing == 0 or (
                track.missing <= options.retry_lost and _inside_share(track.pose.roi, image.shape[:2]) >= GONE_SHARE))
            if retry:
                pose = self.landmarker(image, track.pose.next_roi(), mirrored)
                matte = self._confirm(image, pose, options.track_presence_threshold)
            if matte is not None:
                track.doubtful = 0 if pose.presence >= options.presence_threshold else track.doubtful + 1
                if track.doubtful > options.max_doubtful:
                    matte = None  # a region the pose model has long doubted: it drifted off the person
            if matte is None:
                # keep the last pose: a person lost behind someone is looked for where they were
                track.matte = None
                track.missing += 1
                track.doubtful += 1  # lost frames count as doubtful: a flickering track is no steadier
            else:
                track.pose, track.matte, track.missing = pose, matte, 0
                track.box = _bounds(matte > options.matte_threshold)
                track.found += 1
        self._merge_duplicates()
        for _ in range(options.detect_rounds):
            active = sum(t.matte is not None for t in self.tracks)
            if active >= options.max_people:
                break
            taken = self._taken()
            added = False
            for detection in self._detections(self._painted(image, taken)):
                if sum(t.matte is not None for t in self.tracks) >= options.max_people:
                    break
                roi = detection.roi()
                if roi.size < detection.box[2] - detection.box[0]:
                    continue  # its keypoints collapsed: the body region is smaller than the head's box
                found, followed_someone = self._new_person(image, roi, taken, mirrored, options.presence_threshold)
                if followed_someone:  # the body's region held someone found already: look closer
                    found, _ = self._new_person(image, detection.close_roi(CLOSER_LOOK), taken, mirrored,
                                                CLOSER_LOOK_PRESENCE)
                if found is None:
                    continue
                pose, matte = found
                mine = matte > options.matte_threshold
                self._add(pose, matte)
                taken = mine if taken is None else taken | mine
                added = True
            if not added:
                break
        self.tracks = [t for t in self.tracks if t.missing <= options.max_missing]
        self.frame_index += 1
        return self._frame(image.shape[:2])

    def found_poses(self) -> dict[int, Pose]:
        """The pose of each person found in the last frame, by id."""
        return {t.id: t.pose for t in self.tracks if t.matte is not None}

    def _merge_duplicates(self) -> None:
        active = sorted((t for t in self.tracks if t.matte is not None), key=lambda t: (-t.found, t.id))
        kept: list[Track] = []
        for track in active:
            mine = track.matte > self.options.matte_threshold
            area = max(int(mine.sum()), 1)
            if any((mine & (k.matte > self.options.matte_threshold)).sum() > self.options.duplicate_overlap * area
                   for k in kept):
                self.tracks.remove(track)
            else:
                kept.append(track)

    def _frame(self, shape: tuple[int, int]) -> PeopleFrame:
        active = sorted((t for t in self.tracks if t.matte is not None), key=lambda t: t.id)
        return compose_people(shape, [t.matte for t in active], [t.id for t in active],
                              {t.id: t.pose.landmarks for t in active}, self.options.matte_threshold,
                              {t.id: float(t.pose.presence) for t in active})


def compose_people(shape: tuple[int, int], mattes: list[np.ndarray], ids: list[int],
                   landmarks: dict[int, np.ndarray], threshold: float = 0.5,
                   presence: dict[int, float] | None = None) -> PeopleFrame:
    """One frame's people from each person's matte (float 0..1): a pixel is the person whose matte is
    highest there, if above `threshold`."""
    if not ids:
        empty = np.zeros(shape, np.uint8)
        return PeopleFrame(np.zeros(shape, bool), empty, empty.copy(), [])
    stack = np.stack(mattes)
    best = stack.argmax(0)
    matte = np.take_along_axis(stack, best[None], 0)[0]
    mask = matte > threshold
    instances = np.where(mask, np.array(ids, np.uint8)[best], 0).astype(np.uint8)
    return PeopleFrame(mask, np.round(matte * 255).astype(np.uint8), instances, list(ids), landmarks,
                       dict(presence or {}))


def load_models(options: PeopleMaskOptions) -> tuple[PoseDetector, PoseLandmarker]:
    paths = model_paths(folder=options.models_dir)
    return (PoseDetector(paths["pose_detection.tflite"], options.detector_threshold),
            PoseLandmarker(paths["pose_landmark_full.tflite"]))


class FrameReader:
    """Frames read on demand, the last one kept (people are followed one frame at a time)."""

    def __init__(self, frames: list[Path]):
        self.frames, self.last = frames, (-1, None)

    def __call__(self, index: int) -> np.ndarray:
        if self.last[0] != index:
            self.last = (index, media.read_image(self.frames[index]))
        return self.last[1]


def follow(read: FrameReader, people: list[PeopleFrame], person: int, start: int, pose: Pose, step: int,
           landmarker: PoseLandmarker, options: PeopleMaskOptions) -> int:
    """Adds `person`, whose `pose` is known in frame `start`, to the frames after it (`step` 1) or before
    it (-1), one at a time, until the pose model loses them, they run into another person, or they are
    found there already; returns how many frames they were added to."""
    doubtful, added = 0, 0
    for index in range(start + step, len(people) if step > 0 else -1, step):
        frame = people[index]
        if person in frame.ids:
            break
        began = time.perf_counter()
        pose = landmarker(read(index), pose.next_roi(), len(frame.ids) < options.mirror_up_to)
        doubtful = 0 if pose.presence >= options.presence_threshold else doubtful + 1
        matte = _followed_matte(pose, frame, doubtful, options)
        frame.seconds += time.perf_counter() - began
        if matte is None:
            break
        frame.add(person, matte, pose.landmarks, pose.presence, options.matte_threshold)
        added += 1
    return added


def follow_back(frames: list[Path], people: list[PeopleFrame], starts: dict[tuple[int, int], Pose],
                landmarker: PoseLandmarker, options: PeopleMaskOptions, progress: bool = True) -> None:
    """Adds to `people` each person followed back in time from the first frame of each stretch in which
    they were found (`starts`: (frame index, id) -> pose there)."""
    read = FrameReader(frames)
    for (start, person), pose in tqdm(sorted(starts.items(), key=lambda item: (-item[0][0], item[0][1])),
                                      desc="mask: people, back in time", unit="person", disable=not progress):
        follow(read, people, person, start, pose, -1, landmarker, options)


def find_moving_people(frames: list[Path], people: list[PeopleFrame], landmarker: PoseLandmarker,
                       options: PeopleMaskOptions, progress: bool = True) -> None:
    """Adds the people the detector never saw but who move (crouched, turned away, small): every
    `motion_every` frames, each moving region (`MotionCue`) nobody found explains is searched by the
    pose model at a few sizes and turns; a confident pose whose matte explains the motion is a new
    person, followed forwards and backwards, and dropped again when it cannot be followed into either
    neighbour. Runs after everything else, so it only adds people."""
    cue, read = MotionCue(frames, options.motion_gap), FrameReader(frames)
    used = set().union(*(frame.ids for frame in people))
    free_ids = iter([person for person in range(1, MAX_ID + 1) if person not in used])
    for index in tqdm(range(0, len(frames), options.motion_every), desc="mask: people, moving",
                      unit="frame", disable=not progress):
        frame = people[index]
        began = time.perf_counter()
        image = read(index)
        moving, regions = cue.regions(index, image)
        near_moving = cv2.dilate(moving.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        found, before = [], None  # the frame's maps before the first person is added, to give back
        for region in regions:
            if len(frame.ids) >= options.max_people:
                break
            person = _moving_person(image, near_moving, region, frame.mask, landmarker, options)
            if person is not None and (new_id := next(free_ids, None)) is not None:
                pose, matte = person
                before = before or (frame.instances.copy(), frame.matte.copy())
                frame.add(new_id, matte, pose.landmarks, pose.presence, options.matte_threshold)
                found.append((new_id, pose))
        frame.seconds += time.perf_counter() - began
        for person, pose in found:
            followed = follow(read, people, person, index, pose, 1, landmarker, options)
            followed += follow(read, people, person, index, pose, -1, landmarker, options)
            if not followed:
                # the pose model's one-off on an edge the camera's motion made move (the sofa's arm, a
                # table): a person who moves is in the frames next to this one too
                frame.remove(person, before)


def _moving_person(image: np.ndarray, near_moving: np.ndarray, region: MovingRegion, taken: np.ndarray,
                   landmarker: PoseLandmarker, options: PeopleMaskOptions) -> tuple[Pose, np.ndarray] | None:
    """The pose and matte of a person in a moving region nobody explains yet, or None: the pose model must be
    confident of them, their torso must not lie on someone found already (whose matte, spilled onto the
    sofa beside them, would overlap theirs little), and their matte must cover most of the region and move
    itself (a pose model shown a table edge can be confident too). `near_moving`: the frame's moving
    pixels, grown 3 px."""
    area = np.count_nonzero(region.pixels)
    near_taken = cv2.dilate(taken.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    if np.count_nonzero(region.pixels & near_taken) > MOTION_EXPLAINED * area:
        return None
    x0, y0, x1, y1 = region.box
    centre, side = ((x0 + x1) / 2, (y0 + y1) / 2), max(x1 - x0, y1 - y0)
    if _inside_share(Roi(centre, side * MOTION_SCALES[0], 0.0), image.shape[:2]) < EDGE_SHARE:
        return None  # at the frame's edge, as a pose found there would be (below): spare the model runs
    pose = None
    for turn in MOTION_TURNS:  # upright first: most people are, and each try costs a model run
        for scale in MOTION_SCALES:
            tried = landmarker(image, Roi(centre, side * scale, turn))
            pose = tried if pose is None or tried.presence > pose.presence else pose
        if pose.presence >= options.presence_threshold:
            break
    pose = max((pose, landmarker(image, pose.next_roi())), key=lambda p: p.presence)
    if pose.presence < options.presence_threshold or _inside_share(pose.roi, image.shape[:2]) < EDGE_SHARE:
        return None  # (someone at the frame's edge is left to following back from where they are whole)
    x, y = np.round(pose.landmarks[TORSO, :2].mean(0)).astype(int)
    if 0 <= y < taken.shape[0] and 0 <= x < taken.shape[1] and taken[y, x]:
        return None  # someone found already: a matte that spilled off them need not overlap theirs much
    matte = pose.matte(image.shape[:2])
    mine = matte > options.matte_threshold
    size = np.count_nonzero(mine)
    if (size < options.min_area * mine.size or np.count_nonzero(mine & region.pixels) < MOTION_EXPLAINED * area
            or np.count_nonzero(mine & near_moving) < MOTION_MOVING * size
            or np.count_nonzero(mine & taken) > options.duplicate_overlap * size):
        return None
    return pose, matte


def _followed_matte(pose: Pose, frame: PeopleFrame, doubtful: int, options: PeopleMaskOptions) -> np.ndarray | None:
    """The matte of a person followed back into `frame`, or None where the following stops: the pose
    model lost them or doubted them for more than `max_doubtful` frames in a row (unless they are at
    the frame's edge), the matte is empty, or it is someone already found there (this track ran into
    them)."""
    at_edge = _inside_share(pose.roi, frame.matte.shape) < EDGE_SHARE
    if not at_edge and (pose.presence < options.track_presence_threshold or doubtful > options.max_doubtful):
        return None
    matte = pose.matte(frame.matte.shape)
    mine = matte > options.matte_threshold
    if mine.mean() < options.min_area:
        return None
    if np.count_nonzero(mine & frame.mask) > options.duplicate_overlap * np.count_nonzero(mine):
        return None
    return matte


def people_frames(frames: list[Path], options: PeopleMaskOptions | None = None, progress: bool = True,
                  refine: Callable[[np.ndarray, PeopleFrame], PeopleFrame] | None = None) -> Iterator[PeopleFrame]:
    """The people in each of `frames` (tracked forwards, then followed back in time), each frame's
    passed through `refine(image, people)` if given (the sam masker's hook). The models load before
    this returns, so a missing model file fails before any frame is read."""
    options = options or PeopleMaskOptions()
    detector, landmarker = load_models(options)

    def stream() -> Iterator[PeopleFrame]:
        tracker = PeopleTracker(detector, landmarker, options)
        people: list[PeopleFrame] = []
        starts: dict[tuple[int, int], Pose] = {}  # (frame index, id) -> pose where a stretch of frames begins
        for index, frame in enumerate(tqdm(frames, desc="mask: people", unit="frame", disable=not progress)):
            began = time.perf_counter()
            found = tracker(media.read_image(frame))
            found.seconds = time.perf_counter() - began
            for person, pose in tracker.found_poses().items():
                if index and person not in people[-1].ids:
                    starts[(index, person)] = pose
            people.append(found)
        if options.follow_back:
            follow_back(frames, people, starts, landmarker, options, progress)
        if options.motion_every:
            find_moving_people(frames, people, landmarker, options, progress)
        for frame, found in zip(frames, people):
            found = refine(media.read_image(frame), found) if refine is not None else found
            found.doubted = sorted(p for p, score in found.presence.items() if score < options.presence_threshold)
            yield found

    return stream()
