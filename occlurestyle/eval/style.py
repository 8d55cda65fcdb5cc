"""How well a stylization took: per-region colour distance to the style, structure kept, labels right.

- `sliced_wasserstein`: distance between two colour sets in CIELAB (random 1-D projections);
- `region_style_distance`: per scene region, the distance of its rendered colours to the matched
  style region's colours, for the stylized and the original model (the reduction is the figure);
- `structure_correlation`: correlation of luminance gradient magnitudes of two renders (texture and
  shading kept when high);
- `label_accuracy`: per-Gaussian labels rendered to pixels (`stylize.regions.render_labels`) against a
  sample scene's ground-truth semantics, by role (floor / ceiling / wall / object).
"""

from __future__ import annotations

import numpy as np

from ..stylize.correspond import role
from ..stylize.transfer import rgb_to_lab


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, projections: int = 64, seed: int = 0,
                       max_samples: int = 20000) -> float:
    """Sliced Wasserstein-1 distance between colour sets [N,3], [M,3] (RGB 0-1), in CIELAB units."""
    rng = np.random.default_rng(seed)
    a = rgb_to_lab(a if len(a) <= max_samples else a[rng.choice(len(a), max_samples, replace=False)])
    b = rgb_to_lab(b if len(b) <= max_samples else b[rng.choice(len(b), max_samples, replace=False)])
    directions = rng.normal(size=(projections, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    q = (np.arange(256) + 0.5) / 256
    return float(np.mean([np.abs(np.quantile(a @ d, q) - np.quantile(b @ d, q)).mean() for d in directions]))


def label_accuracy(predicted: np.ndarray, names: list[str], truth: np.ndarray, truth_names: dict[int, str]
                   ) -> dict:
    """Pixel accuracy of rendered labels against ground-truth semantics, by role."""
    roles = ("floor", "ceiling", "wall", "object")
    pred_role = np.full(predicted.shape, -1)
    for i, name in enumerate(names):
        pred_role[predicted == i] = roles.index(role(name))
    true_role = np.full(truth.shape, -1)
    for i, name in truth_names.items():
        # pictures hang on walls and rugs lie on floors: as surfaces they belong to them
        r = {"picture": "wall", "rug": "floor"}.get(name, role(name))
        true_role[truth == i] = roles.index(r)
    valid = true_role >= 0
    result = {"accuracy": float((pred_role[valid] == true_role[valid]).mean())}
    for k, r in enumerate(roles):
        here = valid & (true_role == k)
        if here.any():
            result[f"{r}_recall"] = float((pred_role[here] == k).mean())
    return result


class RegionSamples:
    """A uniform random sample of each region's pixels over a clip fed frame by frame (`add`), the same
    pixels' colours kept from every image given with them (the input and each method's output), at most
    `capacity` per region: every pixel gets a random key and the smallest keys are kept (a bottom-k
    sample), so memory stays bounded however long the clip."""

    def __init__(self, capacity: int = 20000, seed: int = 0):
        self.capacity = capacity
        self.rng = np.random.default_rng(seed)
        self.pixels: dict[int, int] = {}  # region → pixels seen
        self.kept: dict[int, dict[str, np.ndarray]] = {}  # region → "key" and each image's colours

    def add(self, labels: np.ndarray, images: dict[str, np.ndarray]) -> None:
        """`labels` [H,W] region index (-1: none), `images` name → [H,W,3] colours (0-1)."""
        keys = self.rng.random(labels.shape)
        for region in np.unique(labels[labels >= 0]):
            here = labels == region
            self.pixels[int(region)] = self.pixels.get(int(region), 0) + int(here.sum())
            new = {"key": keys[here], **{name: np.asarray(image, np.float32)[here] for name, image in images.items()}}
            old = self.kept.get(int(region))
            merged = new if old is None else {name: np.concatenate([old[name], new[name]]) for name in new}
            if len(merged["key"]) > self.capacity:
                smallest = np.argpartition(merged["key"], self.capacity)[:self.capacity]
                merged = {name: values[smallest] for name, values in merged.items()}
            self.kept[int(region)] = merged


def region_style_distances(before: np.ndarray, after: np.ndarray, label_maps: np.ndarray, names: list[str],
                           matches: list[dict], style, min_pixels: int = 200) -> dict:
    """Per scene region (pixels where it renders), the sliced Wasserstein distance of its colours to its
    matched style region's colours (the whole style image when unmatched), before and after stylization.

    `before`/`after` [V,H,W,3] renders, `label_maps` [V,H,W] from `render_labels`, `style` StyleRegions."""
    samples = RegionSamples()
    for view_before, view_after, labels in zip(before, after, label_maps):
        samples.add(labels, {"before": view_before, "after": view_after})
    return sample_style_distances(samples, "before", "after", names, matches, style, min_pixels)


def sample_style_distances(samples: RegionSamples, before: str, after: str, names: list[str], matches: list[dict],
                           style, min_pixels: int = 200) -> dict:
    """`region_style_distances` from a clip's `RegionSamples`, comparing its images `before` and `after`.
    The "overall" entry pools regions weighted by pixel count."""
    result, pooled, weight = {}, {"before": 0.0, "after": 0.0}, 0
    for match in matches:
        if match["scene"] not in names:
            continue
        region = names.index(match["scene"])
        count = samples.pixels.get(region, 0)
        if count < min_pixels:
            continue
        kept = samples.kept[region]
        target = style.colors(match["style"]) if match["style"] else style.image.reshape(-1, 3)
        d_before, d_after = sliced_wasserstein(kept[before], target), sliced_wasserstein(kept[after], target)
        result[match["scene"]] = {"style": match["style"], "pixels": count, "before": round(d_before, 2),
                                  "after": round(d_after, 2), "reduction": round(1 - d_after / d_before, 3)}
        pooled["before"] += d_before * count
        pooled["after"] += d_after * count
        weight += count
    if weight:
        result["overall"] = {"before": round(pooled["before"] / weight, 2), "after": round(pooled["after"] / weight, 2),
                             "reduction": round(1 - pooled["after"] / pooled["before"], 3)}
    return result
