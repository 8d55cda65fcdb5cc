"""What a batch did, for a person: a table of every run (status, time per stage, key figures or the
error), printed at the end and written as `BATCH/index.html`, which links each run's report and videos."""

from __future__ import annotations

import html
from pathlib import Path

from ..fsutil import write_text
from ..pipeline import STAGES

STAGE_COLUMNS = (*STAGES, "eval")


def _seconds(state) -> float:
    return sum(state.seconds.values())


def table(states: dict) -> str:
    """One line per run: capture, style, status, total seconds, the key figures or the error."""
    lines = [f"{'capture':16s} {'style':16s} {'status':11s} {'time (s)':>9s}  figures"]
    for state in states.values():
        if state.status == "failed":
            detail = f"failed at {state.stage}: {state.error}"
        elif state.metrics:
            m = state.metrics
            detail = "  ".join(f"{k}={v:.4g}" for k, v in m.items() if v is not None)
        else:
            detail = ""
        lines.append(f"{state.capture:16s} {state.style:16s} {state.status:11s} {_seconds(state):9.1f}  {detail}")
    counts = {status: sum(s.status == status for s in states.values()) for status in ("done", "failed", "pending",
                                                                                      "interrupted")}
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items() if n))
    return "\n".join(lines)


def write_index(out: Path, states: dict) -> Path:
    """`out/index.html`: a row per run, its time per stage (shared stages: its capture's), its figures
    or its error, and links to its report and videos when they exist."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("capture", "style", "status", *STAGE_COLUMNS, "total",
                                                          "warping error ×10³ (inpaint-then-stylize)",
                                                          "leakage", "style distance", "open"))
    rows = []
    for key, state in states.items():
        times = "".join(f"<td>{state.seconds[c]:.1f}</td>" if c in state.seconds else "<td></td>"
                        for c in STAGE_COLUMNS)
        m = state.metrics
        figures = ("<td>" + _pair(m.get("warping_error_gap1"), m.get("inpaint_warping_error_gap1")) + "</td>"
                   f"<td>{_number(m.get('leakage'), 3)}</td><td>{_number(m.get('style_distance'), 2)}</td>")
        links = " ".join(f'<a href="{html.escape(key)}/{name}">{label}</a>'
                         for name, label in (("report.html", "report"), ("final.mp4", "final"),
                                             ("flythrough.mp4", "flythrough")) if (out / key / name).is_file())
        status = html.escape(state.status)
        if state.status == "failed":
            status = f'failed at {html.escape(state.stage or "")}: <code>{html.escape(state.error or "")}</code>'
        rows.append(f'<tr data-status="{html.escape(state.status)}"><td>{html.escape(state.capture)}</td>'
                    f"<td>{html.escape(state.style)}</td><td>{status}</td>{times}<td>{_seconds(state):.1f}</td>"
                    f"{figures}<td>{links}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OccluReStyle3D batch: {html.escape(out.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 13px; text-align: right; }}
td:nth-child(-n+3) {{ text-align: left; }}
tr[data-status="failed"] {{ background: #fdecea; }}
thead th {{ background: #f2f2f2; }}
</style></head><body>
<h1>OccluReStyle3D batch: {html.escape(out.name)}</h1>
<p>{html.escape(table(states).splitlines()[-1])}. Seconds per stage; the stages before stylize ran once per
capture (its <code>shared/</code> folder) and are shown on each of its runs.</p>
<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>
</body></html>
"""
    return write_text(out / "index.html", page)


def _number(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pair(ours, reference) -> str:
    if ours is None:
        return ""
    return f"{ours * 1000:.2f}" + (f" ({reference * 1000:.2f})" if reference is not None else "")
