"""Person-mask benchmark: a masker (default `people`) against ground truth on every clip we have.

Frames are decoded from a video as a user would give them (the DAVIS frames are encoded to H.264
first) at the frames stage's default size (longest side 640). Printed per clip:
- davis_parkour: mean per-frame IoU of the union of the people found against the runner's masks, and
  of the best-matching instance (bystanders are not annotated);
- davis_dance_twirl: mean per-frame IoU of the instance that best matches the dancer, and how many
  people a frame are found (the seated audience is not annotated);
- living_room, office (sample scenes, real people): pooled IoU against the true masks, and for each
  person the frames where >= 20% of them is visible (neither hidden by furniture nor out of the
  frame) and, of those, the ones in which the masks cover half of what is visible;
- sam2_bedroom (no ground truth): frames in which both children are found, of all 200; contact sheet.
For every clip: seconds a frame (the masker alone, decoding included), and the busiest frame's count
and time. IoU is scored on the masker's own output (the people masker's undilated instances; the
`auto` masker's masks), before the masks stage's 3-pixel safety dilation.

`--jitter N` also runs the masker on N copies of each clip with truth whose pixels are nudged by
-1, 0 or +1 (seeded; no eye can tell them apart) and prints the headline IoU's mean and standard
deviation over all N + 1 runs: a tracker decides whom to follow from thresholds, so a change of
settings (or of OpenCV's version) moves its figures by chance; a difference smaller than that spread
is no difference.

Usage: python benchmarks/masks.py [--masker people|auto] [--clips a,b] [--out DIR] [--jitter N] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from common import DATA, print_figures, sample_scene  # noqa: E402  (benchmarks/ is the script folder)

from occlurestyle import media
from occlurestyle.eval.metrics import sequence_mask_iou
from occlurestyle.fsutil import atomic_dir
from occlurestyle.occlusion.masks import tint_people
from occlurestyle.scenes.generate import SampleScene, SceneConfig
from occlurestyle.stages.frames import extract_frames

CLIPS = ("davis_parkour", "davis_dance_twirl", "living_room", "office", "sam2_bedroom")
VISIBLE_SHARE = 0.2  # a person counts for the found rate in frames where this much of them is visible


def run_masker(masker: str, run: Path) -> tuple[list[np.ndarray], list[float]]:
    """Instance maps (uint8 ids; the auto masker's masks as id 1) and seconds of each frame."""
    frames = sorted((run / "frames").glob("*.png"))
    maps, seconds = [], []
    if masker == "people":
        from occlurestyle.occlusion.people_masker import people_frames

        for result in people_frames(frames, progress=False):
            seconds.append(result.seconds)  # decoding and the frame's share of following people back
            maps.append(result.instances)
    else:
        from occlurestyle.stages.masks import MaskOptions, make_masks

        start = time.perf_counter()
        make_masks(run, MaskOptions(masker=masker, dilate=0), progress=False)
        seconds = [(time.perf_counter() - start) / len(frames)] * len(frames)
        maps = [(media.read_gray(run / "masks" / f.name) > 0).astype(np.uint8) for f in frames]
    return maps, seconds


def best_instance_iou(instances: np.ndarray, truth: np.ndarray) -> float:
    ids = [i for i in np.unique(instances) if i]
    scores = [np.count_nonzero((instances == i) & truth) / np.count_nonzero((instances == i) | truth) for i in ids]
    return max(scores, default=0.0)


def frame_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.count_nonzero(pred | truth)
    return np.count_nonzero(pred & truth) / union if union else 1.0


def timing(maps: list[np.ndarray], seconds: list[float]) -> dict:
    counts = np.array([len(np.unique(m)) - 1 for m in maps])
    busiest = int(np.argmax(counts))
    by_count = {int(c): round(float(np.mean([s for s, k in zip(seconds, counts) if k == c])), 3)
                for c in np.unique(counts)}
    return {"s_per_frame": round(float(np.mean(seconds)), 3), "people_max": int(counts.max()),
            "people_mean": round(float(counts.mean()), 2), "busiest_frame": busiest,
            "s_by_people": by_count}


def jittered_run(run: Path, seed: int) -> Path:
    """A run folder next to `run` whose frames are `run`'s with each value moved by -1, 0 or +1 (seed `seed`)."""
    jittered = run.parent / f"{run.name}_jitter{seed}"
    if not (jittered / "frames").is_dir():
        rng = np.random.default_rng(seed)
        with atomic_dir(jittered / "frames") as tmp:
            for path in sorted((run / "frames").glob("*.png")):
                image = media.read_image(path).astype(np.int16)
                image += rng.integers(-1, 2, image.shape, dtype=np.int16)
                media.write_image(tmp / path.name, np.clip(image, 0, 255).astype(np.uint8))
    return jittered


def spread(scores: dict, maps: list[np.ndarray], run: Path, masker: str, jitter: int) -> dict[str, str]:
    """Each of `scores` (name -> function of a clip's instance maps) of the clip's own `maps` and of the
    masker's on `jitter` jittered copies of `run`, as "mean±sd/n"."""
    runs = [maps] + [run_masker(masker, jittered_run(run, seed))[0] for seed in range(1, jitter + 1)]
    values = {name: [score(instances) for instances in runs] for name, score in scores.items()}
    return {f"{name}_jittered": f"{np.mean(v):.3f}±{np.std(v):.3f}/{len(v)}" for name, v in values.items()}


def davis_clip(name: str, out: Path, masker: str, jitter: int = 0) -> dict:
    clip = DATA / name
    video = out / f"{name}.mp4"
    if not video.is_file():
        media.write_video(video, (media.read_image(p) for p in media.list_images(clip / "frames")), fps=24)
    run = out / f"{name}_{masker}"
    extract_frames(video, run, check_motion=False, progress=False)
    maps, seconds = run_masker(masker, run)
    truths = [media.read_gray(p) > 127 for p in media.list_images(clip / "masks")]
    shape = maps[0].shape
    truths = [media.resize_mask(t, shape[::-1]) for t in truths]
    result = {"frames": len(maps),
              "union_iou": round(float(np.mean([frame_iou(m > 0, t) for m, t in zip(maps, truths)])), 3),
              "best_instance_iou": round(float(np.mean([best_instance_iou(m, t) for m, t in zip(maps, truths)])), 3),
              **timing(maps, seconds)}
    if jitter:  # the headline: the runner is the only person in davis_parkour, the dancer one of many
        headline, measure = (("union_iou", lambda m, t: frame_iou(m > 0, t)) if name == "davis_parkour"
                             else ("best_instance_iou", best_instance_iou))
        result.update(spread(
            {headline: lambda instances: float(np.mean([measure(m, t) for m, t in zip(instances, truths)]))},
            maps, run, masker, jitter))
    sheet(run, maps, out / f"{name}_{masker}.jpg")
    return result


def in_frame_share(floor_xy, height: float, K: np.ndarray, viewmat: np.ndarray, size: tuple[int, int]) -> float:
    """Share of a person's whole image box inside the frame: their box is the projection of a
    0.5 m wide upright slab from the floor to their height, facing the camera."""
    eye = -viewmat[:3, :3].T @ viewmat[:3, 3]
    toward = np.array([eye[0] - floor_xy[0], eye[1] - floor_xy[1], 0.0])
    side = np.cross(toward / max(np.linalg.norm(toward), 1e-9), [0.0, 0.0, 1.0]) * 0.25
    base = np.array([floor_xy[0], floor_xy[1], 0.0])
    corners = np.array([base + s * side + [0, 0, z] for s in (-1, 1) for z in (0.0, height)])
    camera = corners @ viewmat[:3, :3].T + viewmat[:3, 3]
    if np.any(camera[:, 2] <= 0.05):
        return 0.0
    pixels = camera @ K.T
    pixels = pixels[:, :2] / pixels[:, 2:]
    x0, y0 = pixels.min(0)
    x1, y1 = pixels.max(0)
    inside = max(0.0, min(x1, size[0]) - max(x0, 0)) * max(0.0, min(y1, size[1]) - max(y0, 0))
    return inside / max((x1 - x0) * (y1 - y0), 1e-9)


def scene_clip(name: str, out: Path, masker: str, jitter: int = 0) -> dict:
    folder = sample_scene(out, name)
    run = out / f"{name}_{masker}"
    extract_frames(folder / "video.mp4", run, check_motion=False, progress=False)
    maps, seconds = run_masker(masker, run)
    scene = SampleScene(name, SceneConfig(**{**SceneConfig().__dict__, "supersample": 1}))
    cameras = json.loads((folder / "cameras.json").read_text())
    K, size = np.array(cameras["K"]), (cameras["width"], cameras["height"])
    people = json.loads((folder / "people.json").read_text())["frames"]
    truths, eligible = [], []  # per frame: true instances, and the people seen enough to count
    for index in range(len(maps)):
        truth = media.read_gray(folder / "instances" / f"{index:06d}.png")
        truths.append(truth)
        on_ray = scene.render(index)["person_on_ray"]  # unhidden by furniture, but cut by the frame
        viewmat = np.array(cameras["frames"][index]["viewmat"])
        eligible.append([])
        for record in people[index]["people"]:
            person = record["id"]
            visible = np.count_nonzero(truth == person)
            whole = np.count_nonzero(on_ray == person) / max(
                in_frame_share(record["floor_xy"], record["height"], K, viewmat, size), 1e-6)
            if visible and visible >= VISIBLE_SHARE * whole:
                eligible[-1].append(person)

    def found(instances_maps: list[np.ndarray]) -> dict[int, tuple[int, int]]:
        """Per person: frames in which the masks cover half of what is visible of them, of the eligible ones."""
        counts: dict[int, tuple[int, int]] = {}
        for instances, truth, people_here in zip(instances_maps, truths, eligible):
            for person in people_here:
                visible = np.count_nonzero(truth == person)
                covered = np.count_nonzero((truth == person) & (instances > 0))
                hits, total = counts.get(person, (0, 0))
                counts[person] = (hits + (covered >= 0.5 * visible), total + 1)
        return counts

    def pooled_iou(instances_maps: list[np.ndarray]) -> float:
        return float(sequence_mask_iou((m > 0, t > 0) for m, t in zip(instances_maps, truths))["iou"])

    def found_min(instances_maps: list[np.ndarray]) -> float:
        return min(hits / total for hits, total in found(instances_maps).values())

    sheet(run, maps, out / f"{name}_{masker}.jpg")
    result = {"frames": len(maps), "pooled_iou": round(pooled_iou(maps), 3),
              "found": {str(k): f"{hits}/{total}" for k, (hits, total) in sorted(found(maps).items())},
              "found_min": round(found_min(maps), 3), **timing(maps, seconds)}
    if jitter:
        result.update(spread({"pooled_iou": pooled_iou, "found_min": found_min}, maps, run, masker, jitter))
    return result


def bedroom_clip(out: Path, masker: str) -> dict:
    run = out / f"sam2_bedroom_{masker}"
    extract_frames(DATA / "sam2_bedroom" / "bedroom.mp4", run, check_motion=False, progress=False)
    maps, seconds = run_masker(masker, run)
    counts = [len(np.unique(m)) - 1 for m in maps]
    sheet(run, maps, out / f"sam2_bedroom_{masker}.jpg", picks=12)
    return {"frames": len(maps), "frames_two_or_more": sum(c >= 2 for c in counts), **timing(maps, seconds)}


def sheet(run: Path, maps: list[np.ndarray], path: Path, picks: int = 9) -> Path:
    """`picks` evenly spaced frames, people tinted by id, 3 a row."""
    frames = sorted((run / "frames").glob("*.png"))
    tiles = []
    for index in np.linspace(0, len(frames) - 1, picks).round().astype(int):
        ids = maps[index]
        tinted = tint_people(media.read_image(frames[index]), None, ids)
        cv2.putText(tinted, f"{index}: {len(np.unique(ids)) - 1}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    (255, 255, 255), 2)
        tiles.append(tinted)
    rows = [np.concatenate(tiles[i:i + 3], axis=1) for i in range(0, len(tiles), 3)]
    return media.write_image(path, np.concatenate(rows, axis=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--masker", choices=("people", "auto"), default="people")
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--out", type=Path, default=Path("out/bench_masks"))
    parser.add_argument("--jitter", type=int, default=0, metavar="N",
                        help="also run on N copies of each clip with truth, pixels nudged by one level: the spread")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.jitter and args.masker != "people":
        raise SystemExit("--jitter runs the people masker on copies of the frames alone; use it with --masker people")
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.clips.split(","):
        if name not in CLIPS:
            raise SystemExit(f"unknown clip {name}; choose from {', '.join(CLIPS)}")
        if name in ("living_room", "office"):
            results[name] = scene_clip(name, args.out, args.masker, args.jitter)
        elif not (DATA / name).is_dir():
            print(f"{name}: skipped, {DATA / name} is absent")
            continue
        elif name == "sam2_bedroom":
            results[name] = bedroom_clip(args.out, args.masker)
        else:
            results[name] = davis_clip(name, args.out, args.masker, args.jitter)
        if not args.json:
            print_figures(name, results[name])
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
