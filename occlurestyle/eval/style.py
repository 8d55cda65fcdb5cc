"""How well a stylization took: per-region colour distance to the style, structure kept, labels right.

- `sliced_wasserstein`: distance between two colour sets in CIELAB (random 1-D projections);
- `region_style_distance`: per scene region, the distance of its rendered colours to the matched
  style region's colours, for the stylized and the original model (the reduction is the figure);
- `structure_correlation`: correlation of luminance gradient magnitudes of two renders (texture and
  shading kept when high);
- `label_accuracy`: per-Gaussian labels rendered to pixels (`stylize.regions.render_labels`) against a
  sample scene's ground-truth semantics, by role (floor / ceiling / wall / object);
- `region_patches` and `patch_distance`: texture, not palette: the sliced Wasserstein distance between
  the distributions of small mean-removed CIELAB patches of two regions (a recolouring leaves it as it
  was; laying the style's material on a surface brings it down).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..stylize.correspond import base_name, role
from ..stylize.transfer import masked_blur, rgb_to_lab


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, projections: int = 64, seed: int = 0,
                       max_samples: int = 20000) -> float:
    """Sliced Wasserstein-1 distance between colour sets [N,3], [M,3] (RGB 0-1), in CIELAB units."""
    rng = np.random.default_rng(seed)
    a = rgb_to_lab(a if len(a) <= max_samples else a[rng.choice(len(a), max_samples, replace=False)])
    b = rgb_to_lab(b if len(b) <= max_samples else b[rng.choice(len(b), max_samples, replace=False)])
    directions = rng.normal(size=(projections, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return _projected_distance(a @ directions.T, b @ directions.T)


def _projected_distance(along_a: np.ndarray, along_b: np.ndarray, levels: int = 256) -> float:
    """Mean absolute difference of the two sets' quantiles at `levels` evenly spaced levels, per column
    (a random direction) and averaged: the sliced Wasserstein-1 distance."""
    q = (np.arange(levels) + 0.5) / levels
    return float(np.abs(_quantiles(along_a, q) - _quantiles(along_b, q)).mean())


def _quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """np.quantile(values, q, axis=0) (its default linear rule), by one sort: about 4× faster than its
    selection when there are many levels."""
    ordered = np.sort(values, axis=0)
    position = q * (len(ordered) - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(ordered) - 1)
    weight = (position - below)[:, None]
    return ordered[below] * (1 - weight) + ordered[above] * weight


PATCH = 7  # pixels a side of the texture figure's patches


def patch_centres(region: np.ndarray, limit: int, seed: int = 0, size: int = PATCH) -> tuple[np.ndarray, np.ndarray]:
    """Up to `limit` random pixels of `region` (bool [H,W]) whose `size`×`size` patch lies wholly in it."""
    inside = cv2.erode(region.astype(np.uint8), np.ones((size, size), np.uint8), borderType=cv2.BORDER_CONSTANT,
                       borderValue=0) > 0
    rows, cols = np.nonzero(inside)
    if len(rows) > limit:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
        rows, cols = rows[pick], cols[pick]
    return rows, cols


def lab_patches(lab: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int = PATCH) -> np.ndarray:
    """The `size`×`size` patches of a CIELAB image centred at (rows, cols), each patch's mean colour
    removed: [N, size·size·3]."""
    offsets = np.arange(size) - size // 2
    patches = lab[rows[:, None, None] + offsets[None, :, None], cols[:, None, None] + offsets[None, None, :]]
    patches = patches - patches.mean(axis=(1, 2), keepdims=True)
    return patches.reshape(len(rows), size * size * 3)


def region_patches(image: np.ndarray, region: np.ndarray, size: int = PATCH, limit: int = 4000,
                   seed: int = 0) -> np.ndarray:
    """Up to `limit` random `size`×`size` patches of `image` (RGB 0-1) lying wholly inside `region`
    (bool [H,W]), in CIELAB with each patch's mean colour removed: [N, size·size·3]."""
    rows, cols = patch_centres(region, limit, seed, size)
    return lab_patches(rgb_to_lab(image), rows, cols, size)


def patch_distance(a: np.ndarray, b: np.ndarray, projections: int = 128, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between two sets of patches [N,D], [M,D] (from `region_patches`), in
    CIELAB units along random unit directions of the patch space."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(projections, a.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return _projected_distance(a @ directions.T, b @ directions.T)


def label_accuracy(predicted: np.ndarray, names: list[str], truth: np.ndarray, truth_names: dict[int, str]
                   ) -> dict:
    """Pixel accuracy of rendered labels against ground-truth semantics, by role."""
    roles = ("floor", "ceiling", "wall", "object")

    def surface(name: str) -> int:
        # pictures hang on walls and rugs lie on floors: as surfaces they belong to them
        return roles.index({"picture": "wall", "rug": "floor"}.get(base_name(name), role(name)))

    pred_role = np.full(predicted.shape, -1)
    for i, name in enumerate(names):
        pred_role[predicted == i] = surface(name)
    true_role = np.full(truth.shape, -1)
    for i, name in truth_names.items():
        true_role[truth == i] = surface(name)
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


def at_focal(style, focal: float, style_focal: float | None):
    """`style` (`StyleRegions`) resampled so a pixel spans the angle a pixel of a camera of `focal`
    spans, when its own camera's focal `style_focal` is known (else as it is): a 7-pixel patch then
    covers the same field of view in both images."""
    from ..stylize.style_regions import StyleRegions

    if not style_focal or abs(focal / style_focal - 1) < 0.02:
        return style
    ratio = focal / style_focal
    height, width = style.labels.shape
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    shrink = cv2.INTER_AREA if ratio < 1 else cv2.INTER_LINEAR
    return StyleRegions(cv2.resize(style.image, size, interpolation=shrink),
                        cv2.resize(style.labels, size, interpolation=cv2.INTER_NEAREST), style.names, style.source)


class TexturePatches:
    """Patches of each true scene region (people left out) from every image given with them (the input
    and each method's output, the same places in each), up to `per_frame` a region per frame; then each
    image's patch distance to the same-named region of a labelled style (`distances`)."""

    def __init__(self, per_frame: int = 300):
        self.per_frame = per_frame
        self.frames = 0
        self.pixels: dict[str, int] = {}  # region → pixels seen
        self.patches: dict[str, dict[str, list[np.ndarray]]] = {}  # region → image name → patches

    def add(self, semantics: np.ndarray, names: dict[int, str], people: np.ndarray,
            images: dict[str, np.ndarray]) -> None:
        """`semantics` [H,W] class ids named by `names`, `people` [H,W] bool, `images` name → RGB 0-1."""
        labs = {name: rgb_to_lab(image) for name, image in images.items()}
        for class_id, region_name in names.items():
            region = (semantics == class_id) & ~people
            rows, cols = patch_centres(region, self.per_frame, seed=self.frames * 1000 + class_id)
            if len(rows) == 0:
                continue
            self.pixels[region_name] = self.pixels.get(region_name, 0) + int(region.sum())
            kept = self.patches.setdefault(region_name, {})
            for name, lab in labs.items():
                kept.setdefault(name, []).append(lab_patches(lab, rows, cols))
        self.frames += 1

    def distances(self, style, min_patches: int = 200, partners: dict[str, str] | None = None) -> dict[str, dict]:
        """Per image name: `overall` (regions pooled by pixels) and `by_region` patch distances to the
        region of the same name of `style` (`stylize.style_regions.StyleRegions`), or to the style region
        `partners` names for it; regions the style lacks, or with too few patches, are left out."""
        style_lab = rgb_to_lab(style.image)
        ids = {name: index for index, name in enumerate(style.names)}
        by_region: dict[str, dict[str, float]] = {}
        for region_name, kept in self.patches.items():
            partner = (partners or {}).get(region_name, region_name)
            if partner not in ids:
                continue
            rows, cols = patch_centres(style.labels == ids[partner], 8000)
            if len(rows) < min_patches or len(next(iter(kept.values()))) == 0:
                continue
            target = lab_patches(style_lab, rows, cols)
            stacked = {name: np.concatenate(patches) for name, patches in kept.items()}
            if len(next(iter(stacked.values()))) < min_patches:
                continue
            by_region[region_name] = {name: patch_distance(p, target) for name, p in stacked.items()}
        result = {}
        weight = sum(self.pixels[r] for r in by_region)
        for name in next(iter(self.patches.values()), {}):
            if weight:
                per = {r: round(d[name], 3) for r, d in by_region.items()}
                overall = sum(d[name] * self.pixels[r] for r, d in by_region.items()) / weight
                result[name] = {"overall": round(overall, 3), "by_region": per}
        return result


SHADING_BLUR = 0.05  # of the image height: what "low-frequency" lightness means in the shading figure


class RegionShading:
    """Shading kept: per true scene region (people left out) the low-frequency CIELAB lightness of each
    image (a blur of `SHADING_BLUR` of the height that does not mix regions), its mean over the region
    removed, pooled over frames; then each image's correlation with the input's (`correlations`). A
    flat recolouring keeps it; a material that brings its own light and shadow, or none, loses it."""

    def __init__(self, step: int = 3):
        self.step = step  # every step-th pixel of a region
        self.values: dict[str, dict[str, list[np.ndarray]]] = {}  # image → region → per-frame values

    def add(self, semantics: np.ndarray, names: dict[int, str], people: np.ndarray | None,
            images: dict[str, np.ndarray]) -> None:
        sigma = SHADING_BLUR * semantics.shape[0]
        lightness = {name: rgb_to_lab(image)[..., 0] for name, image in images.items()}
        for class_id, region_name in names.items():
            region = semantics == class_id
            if people is not None:
                region &= ~people
            if region.sum() < 200:
                continue
            where = np.flatnonzero(region.ravel())[:: self.step]
            for name, light in lightness.items():
                low = masked_blur(light, region, sigma).ravel()[where]
                self.values.setdefault(name, {}).setdefault(region_name, []).append(low - low.mean())

    def correlations(self, reference: str = "input") -> dict[str, float]:
        if reference not in self.values:
            return {}
        base = np.concatenate([v for values in self.values[reference].values() for v in values])
        return {name: round(float(np.corrcoef(base, np.concatenate(
                    [v for values in by_region.values() for v in values]))[0, 1]), 3)
                for name, by_region in self.values.items() if name != reference}

    def by_region(self, reference: str = "input") -> dict[str, dict[str, float]]:
        """The correlation of each region on its own (which region loses the room's light)."""
        if reference not in self.values:
            return {}
        base = {region: np.concatenate(v) for region, v in self.values[reference].items()}
        return {name: {region: round(float(np.corrcoef(base[region], np.concatenate(v))[0, 1]), 3)
                       for region, v in by_region.items()}
                for name, by_region in self.values.items() if name != reference}
