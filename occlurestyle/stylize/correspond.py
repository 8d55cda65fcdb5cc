"""Region correspondence: which style region each scene region takes its appearance from.

Same name first (floor ↔ floor, sofa ↔ sofa); then by role (any wall ↔ the style's walls, larger
with larger; an object ↔ the style's objects by size); a scene region left without a partner takes
the style image's global colours. The result is a readable list, written to `stylize/matches.json`.
"""

from __future__ import annotations

import re

STRUCTURE = ("floor", "ceiling")


def role(name: str) -> str:
    """floor / ceiling / wall / object: what a region is, whatever its exact name."""
    base = re.sub(r"[_\s-]*\d+$", "", name.lower())
    if base in STRUCTURE:
        return base
    if base.startswith("wall"):
        return "wall"
    return "object"


def match_regions(scene_sizes: dict[str, float], style_sizes: dict[str, float]) -> list[dict]:
    """One entry per scene region: {"scene": name, "style": name or None, "by": how}.

    `scene_sizes` / `style_sizes`: region name → size (any unit: Gaussian count, pixel count), used
    to pair regions of the same role larger with larger."""
    matches: dict[str, dict] = {}
    for name in scene_sizes:
        if name in style_sizes:
            matches[name] = {"scene": name, "style": name, "by": "same label"}
    for wanted in ("floor", "ceiling", "wall", "object"):
        scene_left = sorted((n for n in scene_sizes if n not in matches and role(n) == wanted),
                            key=lambda n: -scene_sizes[n])
        style_pool = sorted((n for n in style_sizes if role(n) == wanted), key=lambda n: -style_sizes[n])
        if not style_pool:
            continue
        unused = [n for n in style_pool if n not in {m["style"] for m in matches.values()}]
        for k, name in enumerate(scene_left):
            # fresh partners first (larger with larger), then reuse the pool round-robin
            partner = unused[k] if k < len(unused) else style_pool[(k - len(unused)) % len(style_pool)]
            matches[name] = {"scene": name, "style": partner, "by": f"role ({wanted})"}
    for name in scene_sizes:
        if name not in matches:
            matches[name] = {"scene": name, "style": None, "by": "global style colours"}
    return [matches[name] for name in scene_sizes]
