"""Ours against the 2D baselines (inpaint-then-stylize, naive per-frame stylization) on the sample
scenes and the real clips in ../shared/data, printing one table.

Each clip goes through `occlurestyle run` (every stage, a re-run skips finished ones) and
`occlurestyle eval` (baselines on the same frames and masks, metrics.json, report.html):
- living_room, office: sample scenes at default size with their bundled style exemplar and
  ground truth (background PSNR/SSIM, pose error); masks from the people masker (`--masks auto`: the
  motion-cue masker; `--masks true`: the scenes' true masks through the file masker);
- davis_parkour: its frames and masks (file masker), style mondrian.jpg;
- sam2_bedroom: its video, every 2nd frame, people masks, style en_campo_gris.jpg.
Also printed: each run's flythrough, its coverage (eval/flythrough.py) and the filmed views'.

Usage: python benchmarks/compare.py [--out out/bench_compare] [--clips living_room,office,...]
                                    [--train-steps 3000] [--masks people|auto|true] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from occlurestyle.eval.evaluate import evaluate_run
from occlurestyle.eval.report import write_report
from occlurestyle.pipeline import RunConfig, run_pipeline
from occlurestyle.scenes.generate import SceneConfig, make_scene, scene_is_current

from common import DATA  # noqa: E402  (benchmarks/ is the script folder)

CLIPS = ("living_room", "office", "davis_parkour", "sam2_bedroom")


def clip_config(name: str, out: Path, masks: str, train_steps: int) -> RunConfig:
    if name in ("living_room", "office"):
        scene = out / "scenes" / name
        if not scene_is_current(scene, name, SceneConfig()):
            make_scene(name, scene, SceneConfig(), progress=False, overwrite=True)
        masker = {"masker": "file", "mask_dir": str(scene / "masks")} if masks == "true" else {"masker": masks}
        return RunConfig.create(scene / "video.mp4", scene / "style" / "style.png", scene / "style" / "labels.png",
                                masks=masker, train={"steps": train_steps})
    if name == "davis_parkour":
        clip = DATA / "davis_parkour"
        return RunConfig.create(clip / "frames", DATA / "styles" / "mondrian.jpg", frames={"max_side": 480},
                                masks={"masker": "file", "mask_dir": str(clip / "masks")}, train={"steps": train_steps})
    if name == "sam2_bedroom":
        return RunConfig.create(DATA / "sam2_bedroom" / "bedroom.mp4", DATA / "styles" / "en_campo_gris.jpg",
                                frames={"stride": 2, "max_side": 480}, train={"steps": train_steps})
    raise SystemExit(f"unknown clip {name}; choose from {', '.join(CLIPS)}")


def table(results: dict) -> str:
    header = (f"{'clip':14s} {'method':10s} {'warp1 e3':>9s} {'warp7 e3':>9s} {'vs inp':>7s} {'leak':>6s} "
              f"{'people':>6s} {'style':>6s} {'PSNR all':>9s} {'PSNR hid':>9s} {'SSIM hid':>9s} {'time s':>7s}")
    lines = [header, "-" * len(header)]

    def number(value, scale=1.0, digits=2, width=9):
        return f"{value * scale:{width}.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>{width}s}"

    for clip, metrics in results.items():
        reference = metrics["methods"].get("inpaint", {}).get("warping_error_gap1")
        for method, m in metrics["methods"].items():
            warp = m.get("warping_error_gap1")
            ratio = f"{warp / reference:6.2f}x" if warp is not None and reference else f"{'-':>7s}"
            lines.append(
                f"{clip:14s} {method:10s} {number(warp, 1000)} {number(m.get('warping_error_gap7'), 1000)} {ratio} "
                f"{number(m.get('leakage'), digits=3, width=6)} {number(m.get('visible_person_iou'), digits=3, width=6)} "
                f"{number(m.get('style_distance'), width=6)} "
                f"{number(m.get('background_psnr_all'))} {number(m.get('background_psnr_disoccluded'))} "
                f"{number(m.get('background_ssim_disoccluded'), digits=3)} "
                f"{number(metrics['runtime'].get(method, {}).get('total'), digits=0, width=7)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/bench_compare"))
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--masks", choices=("people", "auto", "true"), default="people")
    parser.add_argument("--json", action="store_true", help="also print the metrics as JSON")
    args = parser.parse_args()
    results = {}
    for name in args.clips.split(","):
        config = clip_config(name, args.out, args.masks, args.train_steps)
        run = args.out / f"{name}_{args.masks}" if name in ("living_room", "office") else args.out / name
        start = time.perf_counter()
        run_pipeline(config, run, progress=False, log=lambda line, name=name: print(f"{name}: {line}", flush=True))
        true_masks = DATA / name / "masks" if name == "davis_parkour" else None  # the runner's masks
        metrics = evaluate_run(run, progress=False, true_masks=true_masks)
        write_report(run, metrics)
        print(f"{name}: run + eval {time.perf_counter() - start:.0f} s, report {run / 'report.html'}", flush=True)
        results[name] = metrics
    print()
    print(table(results))
    if results:
        pose = {k: v["pose"] for k, v in results.items() if v.get("pose")}
        for clip, p in pose.items():
            print(f"pose {clip}: position error mean {p['position_error_mean']:.4f} max {p['position_error_max']:.4f} "
                  f"(scene units), rotation mean {p['rotation_error_mean_deg']:.2f} deg")
        for clip, metrics in results.items():
            fly = metrics["flythrough"]
            print(f"flythrough {clip}: {fly['flythrough']} {fly['flythrough_size']}, coverage "
                  f"{fly['flythrough_coverage']:.3f} (filmed views {fly['filmed_coverage']:.3f})")
    if args.json:
        print(json.dumps({k: {m: v for m, v in r.items() if m != "per_frame_warping_error"} for k, r in results.items()},
                         indent=2))


if __name__ == "__main__":
    main()
