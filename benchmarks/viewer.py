"""Viewer benchmark: how long the live viewer takes to open on a run, what the report's self-contained
page weighs, and the frame rate of both in headless Chromium with software WebGL (SwiftShader on this
machine's CPU cores, so a floor: a browser on a GPU draws many times faster).

Usage: python benchmarks/viewer.py [RUN]   (default out/demo/run, written by `make demo`)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import print_figures

from occlurestyle.viewer import RunScene, export_html, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the headless browser the tests use
from browser import CHROMIUM, frame_rate  # noqa: E402

WIDTH, HEIGHT = 960, 720


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=Path("out/demo/run"))
    run = parser.parse_args().run
    if not (run / "splat").is_dir():
        sys.exit(f"{run} has no splat/: run `make demo` first, or name a run folder")

    start = time.perf_counter()
    viewer = serve(run)
    url = f"http://127.0.0.1:{viewer.port}/"
    with urllib.request.urlopen(url, timeout=30):
        opened = time.perf_counter() - start
    try:
        live_fps = frame_rate(url, WIDTH, HEIGHT) if CHROMIUM else None
    finally:
        viewer.stop()

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        page = export_html(run, Path(folder) / "viewer.html")
        exported = time.perf_counter() - start
        size = page.path.stat().st_size / 1e6
        page_fps = frame_rate(page.path.as_uri(), WIDTH, HEIGHT) if CHROMIUM else None

    shown, total = next(iter(page.splat_counts.values()))
    ply = next(iter(RunScene(run, most_models=1).models.values()))
    print_figures(run.name, {
        "open_live_s": f"{opened:.2f}", "export_s": f"{exported:.2f}", "page_MB": f"{size:.1f}",
        "ply_MB": f"{ply.stat().st_size / 1e6:.1f}", "splats": f"{shown}/{total}", "people_frames": page.frames,
        "person_stride": page.person_stride,
        "live_fps": "no chromium" if live_fps is None else f"{live_fps:.2f}",
        "page_fps": "no chromium" if page_fps is None else f"{page_fps:.2f}",
    })


if __name__ == "__main__":
    main()
