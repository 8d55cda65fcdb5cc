"""`report.html`: what a run did, beside the baselines, for a person to look at.

Opens from disk, no server, with the files beside it: `report/side_by_side.mp4` (input | masks, a colour
per person when the masker found each one | inpaint-then-stylize | ours | flythrough, one video so the
panels stay in step), the run's own `final.mp4`, `flythrough.mp4` and the baselines' videos by relative
path, and `report/viewer.html`, the room in 3D (the viewer's self-contained page, in a frame; needs the
`[viewer]` extra), then the metric table, the per-frame warping error as an inline SVG plot, pose error and
time per stage. A small script marks each video `data-loaded` once the browser has decoded a frame, so a
headless browser can check it.
"""

from __future__ import annotations

import html
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np

from .. import media
from ..fsutil import write_text
from ..layout import RunLayout
from ..occlusion.masks import tint_people
from ..viewer import export_html

COLOURS = {"input": "#888888", "ours": "#1f77b4", "inpaint": "#d62728", "naive": "#ff7f0e"}
PANEL_WIDTH = 320
VIEWER_WIDTH = 960  # CSS pixels of the 3D view's frame; its height keeps the frames' aspect


def write_report(run_dir: str | Path, metrics: dict | None = None) -> Path:
    """Write `RUN/report.html` and `RUN/report/side_by_side.mp4`; returns the HTML path."""
    layout = RunLayout(run_dir)
    if metrics is None:
        metrics = json.loads((layout.root / "metrics.json").read_text())
    assets = layout.root / "report"
    assets.mkdir(exist_ok=True)
    fps = layout.fps()
    videos = []
    if _side_by_side(layout, assets / "side_by_side.mp4", fps):
        videos.append(("report/side_by_side.mp4", "input | masks | inpaint-then-stylize | ours | flythrough"))
    for path, caption in (("final.mp4", "ours, original camera path"), ("flythrough.mp4", "ours, new camera path"),
                          ("baselines/inpaint/video.mp4", "inpaint-then-stylize"),
                          ("baselines/naive/video.mp4", "naive 2D (people stylized)")):
        if (layout.root / path).is_file():
            videos.append((path, caption))
    page = _page(layout.root.name, metrics, videos, _viewer(layout, assets / "viewer.html"))
    return write_text(layout.root / "report.html", page)


def _viewer(layout: RunLayout, out: Path) -> str:
    """The report's 3D view: the viewer's page for this run written to `out`, shown in a frame (its own
    page, so the viewer's script and styles stay apart from the report's)."""
    if not (layout.stylized_ply.is_file() or layout.background_ply.is_file()):
        return ""
    if not _viewer_installed():
        return ('<p id="viewer-missing">The room in 3D needs the viewer: <code>pip install '
                '"occlurestyle[viewer]"</code>, then <code>occlurestyle eval RUN</code> again.</p>')
    page = export_html(layout.root, out)
    (model, (shown, total)), = page.splat_counts.items()
    people = "; the people are those of the first frame" if page.frames == 0 else ""
    width, height = _frame_size(layout)
    src = page.path.relative_to(layout.root).as_posix()
    return (f'<h2>The {model} room in 3D</h2><p>Drag to turn, right-drag to move, scroll to go nearer; it opens '
            f"at the first camera. {shown:,} of {total:,} splats{people}. "
            f'<a href="{html.escape(src)}">Open it on its own page</a>.</p>'
            f'<iframe id="viewer" src="{html.escape(src)}" width="{VIEWER_WIDTH}" '
            f'height="{round(VIEWER_WIDTH * height / width)}" style="border: 0; outline: 1px solid #ccc"></iframe>')


def _viewer_installed() -> bool:
    return importlib.util.find_spec("viser") is not None


def _frame_size(layout: RunLayout) -> tuple[int, int]:
    first = next(iter(sorted(layout.frames.glob("*.png"))), None)
    if first is None:
        return 4, 3
    return media.read_image(first).shape[1::-1]


def _side_by_side(layout: RunLayout, out: Path, fps: float) -> bool:
    """One video with a labelled panel per source; False when the run has no composited frames."""
    final = layout.renders / "final"
    names = sorted(p.name for p in final.glob("*.png")) if final.is_dir() else []
    if not names:
        return False
    video = layout.root / "flythrough.mp4"
    flythrough = (image for _, image in media.iter_frames(video)) if video.is_file() else iter(())
    inpaint = layout.root / "baselines" / "inpaint" / "frames"

    def panels():
        fly = None
        for name in names:
            frame = media.read_image(layout.frames / name)
            mask, instances = layout.masks / name, layout.instances / name
            tinted = tint_people(frame, media.read_gray(mask) > 0 if mask.is_file() else None,
                                 media.read_gray(instances) if instances.is_file() else None)
            row = [(frame, "input"), (tinted, "people" if instances.is_file() else "masks")]
            if (inpaint / name).is_file():
                row.append((media.read_image(inpaint / name), "inpaint-then-stylize"))
            row.append((media.read_image(final / name), "ours"))
            fly = next(flythrough, fly)  # decoded alongside; its last frame holds if it is shorter
            if fly is not None:
                row.append((fly[:frame.shape[0], :frame.shape[1]], "flythrough"))
            yield np.concatenate([_label(_fit(image), text) for image, text in row], axis=1)

    media.write_video(out, panels(), fps=fps)
    return True


def _fit(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= PANEL_WIDTH:
        return image
    return cv2.resize(image, (PANEL_WIDTH, round(h * PANEL_WIDTH / w) // 2 * 2), interpolation=cv2.INTER_AREA)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    image = np.ascontiguousarray(image.copy())
    cv2.rectangle(image, (0, 0), (8 + 8 * len(text), 18), (0, 0, 0), -1)
    cv2.putText(image, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def _format(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(metrics: dict) -> str:
    methods = metrics.get("methods", {})
    labels = metrics.get("labels", {})
    runtime = metrics.get("runtime", {})
    reference = methods.get("inpaint", {})
    columns = [
        ("warping error, gap 1 (×10³)", lambda m: _scaled(m.get("warping_error_gap1"))),
        ("warping error, gap 7 (×10³)", lambda m: _scaled(m.get("warping_error_gap7"))),
        ("gap-1 error vs inpaint-then-stylize", lambda m: _ratio(m.get("warping_error_gap1"),
                                                                  reference.get("warping_error_gap1"))),
        ("leakage: mean change of the true person pixels (0-1)", lambda m: _format(m.get("leakage"), 3)),
        ("people shown vs their true visible pixels (IoU)", lambda m: _format(m.get("visible_person_iou"), 3)),
        ("style distance (Lab SWD, lower = closer)", lambda m: _format(m.get("style_distance"))),
        ("texture distance (patch SWD to the style's regions, lower = closer)",
         lambda m: _format(m.get("texture_distance"))),
        ("background PSNR all / hidden (dB)", lambda m: _pair(m.get("background_psnr_all"),
                                                              m.get("background_psnr_disoccluded"))),
        ("background SSIM all / hidden", lambda m: _pair(m.get("background_ssim_all"),
                                                         m.get("background_ssim_disoccluded"), 3)),
    ]
    head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in columns)
    rows = []
    for method, values in methods.items():
        seconds = runtime.get(method, {}).get("total")
        cells = "".join(f"<td>{fn(values)}</td>" for _, fn in columns)
        rows.append(f'<tr data-method="{html.escape(method)}"><th>{html.escape(labels.get(method, method))}</th>'
                    f"{cells}<td>{_format(seconds, 0)}</td></tr>")
    return (f'<table id="metrics"><thead><tr><th>method</th>{head}<th>run time (s)</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _scaled(value) -> str:
    return _format(value * 1000 if value is not None else None, 2)


def _ratio(value, reference) -> str:
    if value is None or not reference:
        return "–"
    return f"{value / reference:.2f}×"


def _pair(a, b, digits: int = 2) -> str:
    if a is None and b is None:
        return "–"
    return f"{_format(a, digits)} / {_format(b, digits)}"


def _plot(metrics: dict, gap: str = "1", width: int = 760, height: int = 260) -> str:
    """Per-frame warping error of each method as an inline SVG line chart."""
    series = {m: v.get(gap, []) for m, v in metrics.get("per_frame_warping_error", {}).items()}
    values = [x for s in series.values() for x in s if x is not None]
    if not values:
        return "<p>no per-frame warping error recorded</p>"
    top = max(values) * 1.05 or 1.0
    count = max(len(s) for s in series.values())
    left, bottom = 60, 30
    plot_w, plot_h = width - left - 10, height - bottom - 10

    def point(i, v):
        return f"{left + plot_w * i / max(count - 1, 1):.1f},{10 + plot_h * (1 - v / top):.1f}"

    lines, legend = [], []
    for k, (method, errors) in enumerate(series.items()):
        colour = COLOURS.get(method, "#000000")
        points = " ".join(point(i, v) for i, v in enumerate(errors) if v is not None)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        label = html.escape(metrics.get("labels", {}).get(method, method))
        legend.append(f'<text x="{left + 10}" y="{24 + 14 * k}" fill="{colour}" font-size="12">{label}</text>')
    axes = (f'<line x1="{left}" y1="10" x2="{left}" y2="{10 + plot_h}" stroke="#000"/>'
            f'<line x1="{left}" y1="{10 + plot_h}" x2="{left + plot_w}" y2="{10 + plot_h}" stroke="#000"/>'
            f'<text x="{left - 4}" y="16" font-size="11" text-anchor="end">{top * 1000:.1f}</text>'
            f'<text x="{left - 4}" y="{10 + plot_h}" font-size="11" text-anchor="end">0</text>'
            f'<text x="{left + plot_w / 2}" y="{height - 6}" font-size="12" text-anchor="middle">frame</text>'
            f'<text x="14" y="{10 + plot_h / 2}" font-size="12" transform="rotate(-90 14 {10 + plot_h / 2})" '
            f'text-anchor="middle">error ×10³</text>')
    return (f'<svg id="warping-plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f"{axes}{''.join(lines)}{''.join(legend)}</svg>")


def _runtime_table(runtime: dict) -> str:
    stages = []
    for times in runtime.values():
        stages += [s for s in times if s not in stages and s != "total"]
    head = "".join(f"<th>{html.escape(s)}</th>" for s in stages)
    rows = "".join(f"<tr><th>{html.escape(m)}</th>" + "".join(f"<td>{_format(t.get(s), 1)}</td>" for s in stages)
                   + f"<td>{_format(t.get('total'), 1)}</td></tr>" for m, t in runtime.items())
    return f'<table id="runtime"><thead><tr><th></th>{head}<th>total</th></tr></thead><tbody>{rows}</tbody></table>'


def _page(title: str, metrics: dict, videos: list[tuple[str, str]], viewer: str) -> str:
    figures = "".join(
        f'<figure><video src="{html.escape(src)}" controls muted loop playsinline preload="auto"></video>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>" for src, caption in videos)
    pose = metrics.get("pose")
    pose_text = ("<p>Camera registration against the scene's true cameras (after similarity alignment): "
                 f"mean position error {pose['position_error_mean']:.4f}, max {pose['position_error_max']:.4f} "
                 f"(scene units), mean rotation error {pose['rotation_error_mean_deg']:.2f}°.</p>") if pose else ""
    fly = metrics.get("flythrough")
    fly_text = ""
    if fly:
        sizes = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in fly.get("flythrough_size", {}).items())
        filmed = fly.get("heldout_coverage", fly.get("filmed_coverage"))
        name = f"{fly['flythrough']} ({sizes})" if sizes else fly["flythrough"]
        fly_text = (f'<p id="flythrough">Flythrough: {html.escape(name)}; '
                    f"{fly['flythrough_coverage']:.1%} of its pixels show a surface that two training cameras saw "
                    f"(filmed views: {filmed:.1%}).</p>")
    scene = metrics.get("scene")
    truth = (f"<p>Ground truth: sample scene <code>{html.escape(scene)}</code>.</p>" if scene else
             "<p>No ground truth for this clip: background PSNR/SSIM and pose error are not measured.</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OccluReStyle3D report: {html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; font-size: 13px; }}
thead th {{ background: #f2f2f2; }}
tbody th {{ text-align: left; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }}
video {{ max-width: 100%; background: #000; }}
figure:first-child video {{ width: 100%; }}
</style></head>
<body>
<h1>OccluReStyle3D: {html.escape(title)}</h1>
<p id="video-status">videos loaded: 0/{len(videos)}</p>
{figures}
{viewer}
<h2>Ours against the 2D baselines</h2>
<p>Temporal warping error (Lai et al. 2018): flow on the input video (OpenCV DIS, forward-backward check),
background pixels only; lower is steadier. Leakage: mean absolute change of the people's pixels against the
input. Style distance: per scene region, sliced Wasserstein distance (CIELAB) of the output's colours to the
matched style region's, people excluded. Texture distance (sample scenes with a labelled style): the same
distance between small mean-removed patches of each true region and of the style's region of that name, so
the palette does not count, the material does. Background: the person-free background each method recovered
(ours: the 3D model before stylization; inpaint-then-stylize: its inpainted frames) against the true one, over
all pixels and over the pixels people hid.</p>
{_table(metrics)}
{truth}
<h2>Warping error per frame (gap 1)</h2>
{_plot(metrics)}
<h2>Time per stage (s)</h2>
{_runtime_table(metrics.get("runtime", {}))}
{pose_text}
{fly_text}
<script>
const videos = Array.from(document.querySelectorAll("video"));
let loaded = 0;
const status = document.getElementById("video-status");
videos.forEach((video) => {{
  const done = () => {{
    if (video.dataset.loaded) return;
    video.dataset.loaded = video.videoWidth > 0 ? "yes" : "no";
    if (video.videoWidth > 0) loaded += 1;
    status.textContent = "videos loaded: " + loaded + "/" + videos.length;
  }};
  video.addEventListener("loadeddata", done);
  video.addEventListener("error", () => {{ video.dataset.loaded = "error"; }});
  if (video.readyState >= 2) done();
}});
</script>
</body></html>
"""
