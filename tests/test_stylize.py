"""Stylization: colour transfer, region matching, style and scene regions, and the stage end to end on a
sample scene against its ground-truth semantics and its own style exemplar."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

from occlurestyle.eval.style import label_accuracy, sliced_wasserstein
from occlurestyle.stylize.correspond import match_regions, role
from occlurestyle.stylize.regions import label_gaussians, render_labels
from occlurestyle.stylize.style_regions import auto_style_regions, load_style
from occlurestyle.stylize.transfer import (
    rgb_to_lab,
    soften_lightness,
    structure_correlation,
    transfer_colors,
    transfer_colors_by_parts,
)


def test_transfer_reaches_the_style_distribution_and_keeps_lightness_order():
    rng = np.random.default_rng(0)
    wood = np.clip(np.array([0.55, 0.35, 0.2]) + rng.normal(0, 0.06, (4000, 3)), 0, 1)
    checker = np.where(rng.random((3000, 1)) < 0.5, 0.08, 0.92) * np.ones(3) + rng.normal(0, 0.02, (3000, 3))
    checker = np.clip(checker, 0, 1)
    out = transfer_colors(wood, checker, lightness="rank")
    before, after = sliced_wasserstein(wood, checker), sliced_wasserstein(out, checker)
    assert after < 0.2 * before
    lightness_in, lightness_out = rgb_to_lab(wood)[:, 0], rgb_to_lab(out)[:, 0]
    # monotone lightness map: the scene's light/dark order (texture, shading) survives
    rank_in, rank_out = np.argsort(np.argsort(lightness_in)), np.argsort(np.argsort(lightness_out))
    assert np.corrcoef(rank_in, rank_out)[0, 1] > 0.99


def test_an_object_of_two_colours_takes_its_partner_part_to_part_the_larger_to_the_larger():
    """A blue sofa frame (70%) with beige cushions becomes a yellow frame with teal cushions (the style
    sofa's 80% and 20%): pooled, the transport had put teal on the frame's shadows and yellow on the
    cushions. An object of one colour (a green, light and dark) is transferred whole, as before."""
    rng = np.random.default_rng(3)

    def colours(rgb, count, spread=0.04):
        return np.clip(np.array(rgb) + rng.normal(0, spread, (count, 3)), 0, 1)

    frame, cushions = colours([0.25, 0.35, 0.65], 7000), colours([0.85, 0.78, 0.6], 3000)
    frame[:2000] *= 0.5  # the frame's shadowed side: darker, the same colour
    yellow, teal = colours([0.9, 0.75, 0.1], 8000), colours([0.1, 0.6, 0.55], 2000)
    style = np.concatenate([yellow, teal])
    out = transfer_colors_by_parts(np.concatenate([frame, cushions]), style, lightness="rank")
    lab = rgb_to_lab(out)
    is_teal = (lab[:, 1] < -15) & (lab[:, 2] < 20)
    assert is_teal[:7000].mean() < 0.02 and is_teal[7000:].mean() > 0.95
    pooled = rgb_to_lab(transfer_colors(np.concatenate([frame, cushions]), style, lightness="rank"))
    assert ((pooled[:7000, 1] < -15) & (pooled[:7000, 2] < 20)).mean() > 0.1  # what the parts fix

    green = colours([0.2, 0.5, 0.2], 5000) * rng.uniform(0.5, 1.0, (5000, 1))
    assert np.array_equal(transfer_colors_by_parts(green, style, lightness="rank", seed=4),
                          transfer_colors(green, style, lightness="rank", seed=4))


def test_only_objects_paired_by_name_or_shape_are_transferred_part_to_part():
    from occlurestyle.stylize.stylizers import _same_kind

    assert _same_kind({"scene": "sofa", "style": "sofa", "by": "same label"})
    assert _same_kind({"scene": "object_2", "style": "plant", "by": "shape (0.2-1.2 m high, 1.5 m wide vs ...)"})
    assert not _same_kind({"scene": "object_0", "style": "desk", "by": "role (object)"})  # a size rank says nothing
    assert not _same_kind({"scene": "wall_0", "style": "wall_north", "by": "same label"})
    assert not _same_kind({"scene": "object_3", "style": None, "by": "global style colours"})


def test_sliced_wasserstein_is_the_mean_gap_of_quantiles_along_each_direction():
    rng = np.random.default_rng(2)
    a, b = rng.random((700, 3)), rng.random((300, 3)) ** 2  # sizes that need interpolated quantiles
    directions = np.random.default_rng(0).normal(size=(64, 3))  # the function's own draws (its seed, 0)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    q = (np.arange(256) + 0.5) / 256
    gaps = [np.abs(np.quantile(rgb_to_lab(a) @ d, q) - np.quantile(rgb_to_lab(b) @ d, q)).mean() for d in directions]
    assert sliced_wasserstein(a, b) == pytest.approx(np.mean(gaps), rel=1e-12)
    assert sliced_wasserstein(a, a) == 0 and sliced_wasserstein(a, b) > 1


def test_linear_lightness_keeps_gradients_proportional():
    rng = np.random.default_rng(1)
    scene = np.clip(np.array([0.5, 0.4, 0.3]) + rng.normal(0, 0.05, (3000, 3)), 0, 1)
    style = np.clip(np.array([0.2, 0.3, 0.7]) + rng.normal(0, 0.1, (3000, 3)), 0, 1)
    out = transfer_colors(scene, style, lightness="linear")
    lightness_in, lightness_out = rgb_to_lab(scene)[:, 0], rgb_to_lab(out)[:, 0]
    slope, _ = np.polyfit(lightness_in, lightness_out, 1)
    assert np.corrcoef(lightness_in, lightness_out)[0, 1] > 0.99 and slope > 0
    assert sliced_wasserstein(out, style) < 0.3 * sliced_wasserstein(scene, style)
    with pytest.raises(ValueError):
        transfer_colors(scene, style, lightness="sideways")


def test_softened_lightness_keeps_the_scene_texture_and_pulls_regions_together():
    """Two regions of one textured wall; the 'style' lights the left dark and the right bright and
    recolours both. Softened: the texture (high frequencies of lightness) is the scene's, the chroma is
    the style's, the regions' lightness gap shrinks by `contrast`, and far from the boundary each
    region's lightness change is the style's."""
    import cv2

    rng = np.random.default_rng(0)
    lightness = 60 + 8 * np.sin(np.arange(64) / 2.0)[None, :] + rng.normal(0, 3, (48, 64))
    original = np.stack([lightness, np.zeros_like(lightness), np.zeros_like(lightness)], -1).astype(np.float32)
    labels = np.zeros((1, 48, 64), np.int64)
    labels[0, :, 32:] = 1
    styled = original.copy()
    styled[..., 0] = np.where(labels[0] == 0, 25.0, 85.0)
    styled[..., 1], styled[..., 2] = 20.0, -30.0
    original_rgb, styled_rgb = (cv2.cvtColor(x, cv2.COLOR_LAB2RGB)[None] for x in (original, styled))

    out = rgb_to_lab(soften_lightness(original_rgb, styled_rgb, labels, contrast=0.5, sigma=2.0))[0]
    before = rgb_to_lab(original_rgb)[0]
    change = out[..., 0] - before[..., 0]
    def detail(x):
        return (x - cv2.GaussianBlur(x, (0, 0), 1.0)).ravel()

    # the scene's texture is untouched (the sharp stylized lightness has none)
    assert np.corrcoef(detail(out[..., 0]), detail(before[..., 0]))[0, 1] > 0.95
    assert np.abs(out[..., 1:] - rgb_to_lab(styled_rgb)[0][..., 1:]).max() < 2.0  # chroma is the style's
    gap_styled = (85 - 25) - (before[:, 32:, 0].mean() - before[:, :32, 0].mean())
    gap = change[:, 40:].mean() - change[:, :24].mean()
    assert abs(gap - 0.5 * gap_styled) < 2.0, (gap, gap_styled)
    sharp = rgb_to_lab(soften_lightness(original_rgb, styled_rgb, labels, contrast=1.0, sigma=0.0))[0]
    assert np.abs(sharp[..., 0] - rgb_to_lab(styled_rgb)[0][..., 0]).max() < 0.5  # no softening: the style's


def test_matching_by_label_then_role_then_global():
    scene = {"floor": 100, "wall_0": 50, "wall_1": 40, "sofa": 10, "object_0": 5, "ceiling": 30}
    style = {"floor": 1000, "wall_north": 600, "wall_east": 300, "sofa": 80, "table": 50}
    matches = {m["scene"]: m for m in match_regions(scene, style)}
    assert matches["floor"]["style"] == "floor" and matches["floor"]["by"] == "same label"
    assert matches["wall_0"]["style"] == "wall_north" and matches["wall_1"]["style"] == "wall_east"
    assert matches["sofa"]["style"] == "sofa"
    assert matches["object_0"]["style"] == "table"
    assert matches["ceiling"]["style"] is None, "no ceiling in the style: global colours"


def test_each_picture_found_takes_the_styles_pictures():
    scene = {"wall_0": 50, "picture": 5, "picture_1": 4, "object_0": 3}
    style = {"wall_north": 600, "picture": 40, "sofa": 80}
    matches = {m["scene"]: m for m in match_regions(scene, style)}
    assert matches["picture"]["style"] == matches["picture_1"]["style"] == "picture"
    assert matches["picture_1"]["by"] == "same label" and matches["object_0"]["style"] == "sofa"
    assert role("wall_12") == "wall" and role("Floor") == "floor" and role("lamp") == "object"


def test_auto_style_regions_put_the_floor_low_and_the_ceiling_high():
    image = np.zeros((120, 160, 3), np.float32)
    image[:30] = [0.9, 0.9, 0.85]  # ceiling
    image[30:80] = [0.2, 0.4, 0.8]  # a blue wall
    yy, xx = np.mgrid[80:120, 0:160]
    image[80:] = np.where(((yy // 10 + xx // 10) % 2)[..., None] == 0, 0.1, 0.9)  # checker floor
    regions = auto_style_regions(image, regions=4)
    floor = regions.labels == regions.names.index("floor")
    ceiling = regions.labels == regions.names.index("ceiling")
    assert floor[100:].mean() > 0.9 and floor[:80].mean() < 0.05
    assert ceiling[:25].mean() > 0.9 and ceiling[35:].mean() < 0.05
    assert any(role(n) == "wall" for n in regions.names)


def test_style_labels_from_png_and_from_restyle3d_seg_dict(tmp_path):
    from occlurestyle import media

    image = np.random.default_rng(0).random((40, 50, 3))
    media.write_image(tmp_path / "style.png", (image * 255).astype(np.uint8))
    ids = np.zeros((40, 50), np.uint8)
    ids[25:] = 1
    ids[:25, :20] = 3
    media.write_image(tmp_path / "labels.png", ids)
    (tmp_path / "labels.json").write_text(json.dumps({"classes": [{"id": 1, "name": "floor"},
                                                                  {"id": 3, "name": "wall_a"}]}))
    from_png = load_style(tmp_path / "style.png", tmp_path / "labels.png")
    torch.save({"pred_tgt": (torch.from_numpy(ids.astype(np.int64)), [{"id": 1, "label": "floor"},
                                                                      {"id": 3, "label": "wall_a"}])},
               tmp_path / "seg_dict.pth")
    from_seg = load_style(tmp_path / "style.png", tmp_path / "seg_dict.pth")
    for regions in (from_png, from_seg):
        assert regions.names == ["floor", "wall_a"]
        assert len(regions.colors("floor")) == 15 * 50 and len(regions.colors("wall_a")) == 25 * 20
        assert (regions.labels[:25, 20:] == -1).all()
    from occlurestyle.errors import InputError

    (tmp_path / "labels.json").unlink()
    with pytest.raises(InputError, match="labels.json"):
        load_style(tmp_path / "style.png", tmp_path / "labels.png")


def test_scene_regions_of_a_box_room():
    """Gaussians on a 4×5×2.5 room's faces and on a box on the floor: floor, ceiling, 4 walls, an object."""
    rng = np.random.default_rng(0)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    faces = {
        "floor": np.c_[4 * u, 5 * v, 0 * u], "ceiling": np.c_[4 * u, 5 * v, 2.5 + 0 * u],
        "wall": np.r_[np.c_[0 * u, 5 * v, 2.5 * u], np.c_[4 + 0 * u, 5 * v, 2.5 * u],
                      np.c_[4 * u, 0 * v, 2.5 * v], np.c_[4 * u, 5 + 0 * v, 2.5 * v]],
    }
    box = np.c_[1.5 + 0.8 * u[:1500], 2 + 0.6 * v[:1500], 0.45 * rng.random(1500)]
    truth = ["floor"] * n + ["ceiling"] * n + ["wall"] * (4 * n) + ["object"] * 1500
    means = np.concatenate([faces["floor"], faces["ceiling"], faces["wall"], box])
    # cameras at 1.5 m looking around, z up (OpenCV camera y = -z world)
    viewmats = []
    for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        forward = np.array([np.cos(angle), np.sin(angle), 0.0])
        right = np.cross(forward, [0, 0, 1.0])
        R = np.stack([right, [0, 0, -1.0], forward])
        centre = np.array([2.0, 2.5, 1.5])
        viewmats.append(np.r_[np.c_[R, -R @ centre], [[0, 0, 0, 1]]])
    regions = label_gaussians(means, np.ones(len(means)), np.array(viewmats))
    predicted = np.array([role(regions.names[i]) for i in regions.labels])
    truth = np.array(truth)
    for name in ("floor", "ceiling", "wall"):
        assert (predicted[truth == name] == name).mean() > 0.9, name
    # the plane band (1% of the room, made for noisy reconstructions) takes the box's bottom ~7 cm
    assert (predicted[truth == "object"] == "object").mean() > 0.75
    assert sum(1 for n in regions.names if role(n) == "wall") == 4
    again = label_gaussians(means, np.ones(len(means)), np.array(viewmats))
    assert again.names == regions.names and np.array_equal(again.labels, regions.labels)  # deterministic


@pytest.mark.parametrize("width, thickness", [(1.5, 0.4), (1.0, 0.6)])
def test_a_thick_noisy_floor_is_labelled_floor_as_a_whole(width, thickness):
    """A short training leaves the floor a layer of Gaussians many plane bands thick. In a narrow
    room RANSAC then takes a horizontal slice of it or, cutting the layer at a slant, finds no
    horizontal plane at all (the 1 m room without the bench: no floor). Labelling by planes alone
    put 43% and 34% of these layers in the floor. A bench standing on the layer stays an object."""
    rng = np.random.default_rng(0)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    floor = np.c_[width * u, 6 * v, thickness * (rng.random(n) - 0.5)]
    ceiling = np.c_[width * u, 6 * v, 2.5 + 0 * u]
    walls = np.r_[np.c_[0 * u, 6 * v, 2.5 * u], np.c_[width + 0 * u, 6 * v, 2.5 * u],
                  np.c_[width * u, 0 * v, 2.5 * v], np.c_[width * u, 6 + 0 * v, 2.5 * v]]
    seat = np.c_[0.1 + (width - 0.2) * u, 3 + v, 0.3 + 0.2 * rng.random(n)]  # a bench on the floor
    truth = np.array(["floor"] * n + ["ceiling"] * n + ["wall"] * (4 * n) + ["object"] * n)
    viewmats = []  # cameras at 1.5 m along the room, looking around and slightly down, z up
    for k, angle in enumerate(np.linspace(0, 2 * np.pi, 12, endpoint=False)):
        forward = np.array([np.cos(angle), np.sin(angle), -0.3]) / np.hypot(1, 0.3)
        right = np.cross(forward, [0, 0, 1.0])
        right /= np.linalg.norm(right)
        R = np.stack([right, np.cross(forward, right), forward])
        viewmats.append(np.r_[np.c_[R, -R @ [width / 2, 1 + k / 3, 1.5]], [[0, 0, 0, 1]]])
    means = np.concatenate([floor, ceiling, walls, seat])
    regions = label_gaussians(means, np.ones(len(truth)), np.array(viewmats))
    predicted = np.array([role(regions.names[i]) for i in regions.labels])
    assert {"floor", "ceiling"} <= set(regions.names)
    # the rest of the floor's points lie within the plane band of the narrow room's long walls
    assert (predicted[truth == "floor"] == "floor").mean() > 0.75
    # as dense as the floor's layer and just above it, but over a part of its footprint only
    assert (predicted[truth == "object"] == "object").mean() > 0.9
    assert (predicted[(truth != "floor") & (truth != "object")] == "floor").mean() < 0.01


def test_wall_gaussians_above_the_ceiling_are_the_ceiling():
    """At the corner a wall's plane runs on through the ceiling's thick layer: what a wall label holds
    above the ceiling's median height is ceiling (it had painted the wallpaper onto the ceiling's edge)."""
    from occlurestyle.stylize.regions import _walls_end_at_the_ceiling

    names = ["floor", "ceiling", "wall_0", "sofa"]
    heights = np.array([0.0, 0.1, 2.45, 2.5, 2.55, 1.0, 2.3, 2.52, 2.6, 2.6])
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 3])
    _walls_end_at_the_ceiling(labels, heights, names)
    assert labels.tolist() == [0, 0, 1, 1, 1, 2, 2, 1, 1, 3]  # the wall up to 2.5 m; the sofa is no wall


def test_the_thick_ceiling_and_floor_give_a_wall_back_its_top_and_bottom():
    """Ceiling Gaussians below the ceiling's median and floor Gaussians above the floor's that lie in a
    wall's layer and along its length are the wall's; the ceiling and the floor beyond it keep theirs,
    also where the wall's slab of floaters stands in front of it (the layer is the wall's own, before its
    slab joined it: measured on the slab, the office sample's north wall took a tenth of its ceiling)."""
    from occlurestyle.stylize.regions import _walls_reach_the_ceiling_and_the_floor

    rng = np.random.default_rng(0)
    up = np.array([0.0, 0.0, 1.0])
    wall = np.c_[rng.uniform(0, 4, 600), rng.normal(0, 0.05, 600), rng.uniform(0.2, 2.3, 600)]  # y = 0, 4 m long
    slab = np.c_[rng.uniform(0, 4, 600), rng.uniform(0.2, 0.6, 600), rng.uniform(0.2, 2.3, 600)]  # floaters
    ceiling = np.c_[rng.uniform(-1, 5, 600), rng.uniform(-0.5, 4, 600), rng.normal(2.5, 0.1, 600)]
    floor = np.c_[rng.uniform(-1, 5, 600), rng.uniform(-0.5, 4, 600), rng.normal(0.0, 0.1, 600)]
    means = np.concatenate([floor, ceiling, wall, slab])
    labels = np.repeat([0, 1, 2, 2], 600)
    before = labels.copy()
    _walls_reach_the_ceiling_and_the_floor(labels, means, up, ["floor", "ceiling", "wall_0"], {2: wall}, 0.24)
    in_layer = (np.abs(means[:, 1]) < 0.06) & (means[:, 0] > 0.05) & (means[:, 0] < 3.95)
    for layer, sign in ((0, 1.0), (1, -1.0)):
        own = before == layer
        inward = sign * (means[:, 2] - np.median(means[own, 2])) > 0
        assert (own & inward & in_layer).sum() >= 3
        assert (labels[own & inward & in_layer] == 2).all()  # within the wall's layer: the wall's
        assert (labels[own & ~inward] == layer).all()  # beyond the layer's middle: untouched
        beside = own & ((np.abs(means[:, 1]) > 0.2) | (means[:, 0] < -0.2) | (means[:, 0] > 4.2))
        assert (labels[beside] == layer).all()  # away from the wall, or past its end: untouched
        assert (own & inward & (means[:, 1] > 0.25) & (means[:, 1] < 0.6)).sum() >= 3  # under the slab: kept
    assert (labels[before == 2] == 2).all()


def test_a_floor_layer_thinner_than_five_height_bins_is_found():
    """What lies below the cameras may span fewer height bins than the 5-bin smoothing window (sam2_bedroom:
    its stylize stage failed with an IndexError); the layer is still found whole."""
    from occlurestyle.stylize.regions import _horizontal_layer

    rng = np.random.default_rng(1)
    points = np.c_[rng.random(2000), rng.random(2000), 0.05 * rng.random(2000)]  # 1 m square, 3 bins of 0.02
    layer = _horizontal_layer(points, np.array([0.0, 0.0, 1.0]), np.arange(len(points)), camera_height=1.5,
                              bin_width=0.02, seed_height=None, min_points=100)
    assert len(layer) > 0.9 * len(points)


def test_a_thick_noisy_ceiling_is_labelled_ceiling_as_a_whole_and_a_tall_shelf_is_not():
    """A 0.5 m thick ceiling layer over a 4×5 m room with a 2 m shelf: planes alone put 76% of the
    layer in the ceiling (the rest went to walls and objects)."""
    rng = np.random.default_rng(0)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    floor = np.c_[4 * u, 5 * v, 0 * u]
    ceiling = np.c_[4 * u, 5 * v, 2.5 + 0.5 * (rng.random(n) - 0.5)]
    walls = np.r_[np.c_[0 * u, 5 * v, 2.5 * u], np.c_[4 + 0 * u, 5 * v, 2.5 * u],
                  np.c_[4 * u, 0 * v, 2.5 * v], np.c_[4 * u, 5 + 0 * v, 2.5 * v]]
    shelf = np.c_[0.2 + 0.4 * u, 1 + 1.5 * v, 2.0 * rng.random(n)]
    truth = np.array(["floor"] * n + ["ceiling"] * n + ["wall"] * (4 * n) + ["object"] * n)
    viewmats = []
    for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        forward = np.array([np.cos(angle), np.sin(angle), 0.0])
        R = np.stack([np.cross(forward, [0, 0, 1.0]), [0, 0, -1.0], forward])
        viewmats.append(np.r_[np.c_[R, -R @ [2.0, 2.5, 1.5]], [[0, 0, 0, 1]]])
    regions = label_gaussians(np.concatenate([floor, ceiling, walls, shelf]), np.ones(len(truth)), np.array(viewmats))
    predicted = np.array([role(regions.names[i]) for i in regions.labels])
    assert (predicted[truth == "ceiling"] == "ceiling").mean() > 0.85
    assert (predicted[truth != "ceiling"] == "ceiling").mean() < 0.01
    assert (predicted[truth == "object"] == "object").mean() > 0.9


def _room_cameras(centre, count: int = 8) -> np.ndarray:
    """Cameras at `centre` looking around horizontally, z up (OpenCV camera y = -z world)."""
    viewmats = []
    for angle in np.linspace(0, 2 * np.pi, count, endpoint=False):
        forward = np.array([np.cos(angle), np.sin(angle), 0.0])
        R = np.stack([np.cross(forward, [0, 0, 1.0]), [0, 0, -1.0], forward])
        viewmats.append(np.r_[np.c_[R, -R @ np.asarray(centre, float)], [[0, 0, 0, 1]]])
    return np.array(viewmats)


def _box(rng, lo, hi, n):
    """`n` points on the faces of the box `lo`-`hi` (a trained object is Gaussians on its surface)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    points = lo + (hi - lo) * rng.random((n, 3))
    axis, side = rng.integers(0, 3, n), rng.integers(0, 2, n)
    points[np.arange(n), axis] = np.where(side == 1, hi[axis], lo[axis])
    return points


def test_a_table_joined_to_the_sofa_by_stray_gaussians_is_an_object_of_its_own():
    """The demo's coffee table stood 0.4 m in front of the sofa and a few floaters between them made one
    DBSCAN cluster of both (the table took the sofa's colours); at half the radius the bridge breaks."""
    rng = np.random.default_rng(0)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u],
                  np.c_[0 * u, 6 * v, 2.7 * u], np.c_[6 + 0 * u, 6 * v, 2.7 * u],
                  np.c_[6 * u, 0 * v, 2.7 * v], np.c_[6 * u, 6 + 0 * v, 2.7 * v]]
    sofa = _box(rng, (1.9, 3.4, 0.05), (4.1, 4.3, 0.88), 6000)
    table = _box(rng, (2.45, 2.3, 0.05), (3.55, 2.9, 0.45), 2000)
    # floaters between them, closer than DBSCAN's radius (0.17 m here) to each other
    bridge = np.c_[3.0 + 0.02 * rng.normal(size=16), np.linspace(2.9, 3.4, 16), 0.3 + 0.02 * rng.normal(size=16)]
    means = np.concatenate([shell, sofa, table, bridge])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 1.0, 1.5)))
    start = len(shell)
    objects = np.array([role(name) == "object" for name in regions.names])
    sofa_labels = regions.labels[start:start + len(sofa)]
    table_labels = regions.labels[start + len(sofa):start + len(sofa) + len(table)]
    # their lowest centimetres go to the floor's layer: what is an object must be the right one
    sofa_labels, table_labels = sofa_labels[objects[sofa_labels]], table_labels[objects[table_labels]]
    sofa_label, table_label = np.bincount(sofa_labels).argmax(), np.bincount(table_labels).argmax()
    assert sofa_label != table_label
    assert (sofa_labels == sofa_label).mean() > 0.95 and (table_labels == table_label).mean() > 0.95
    assert regions.names[table_label] == "table" and regions.names[sofa_label] == "sofa"


def test_a_table_joined_to_the_sofa_by_a_denser_mist_splits_off_when_both_are_large_pieces_of_furniture():
    """A `make demo` run whose masks differed in a few frames trained a mist between the coffee table and the
    sofa that held at half DBSCAN's radius: the table joined the sofa and took its teal. A line of floaters
    spaced 0.225 of that half radius links them there (4 neighbours each side) and breaks at four fifths of
    it (3 each side, fewer than DBSCAN's 8 in all)."""
    from occlurestyle.stylize.regions import _split_bridged

    rng = np.random.default_rng(0)
    up = np.array([0.0, 0.0, 1.0])
    eps = 0.3
    sofa = _box(rng, (1.9, 3.4, 0.05), (4.1, 4.3, 0.88), 6000)
    table = _box(rng, (2.45, 2.3, 0.05), (3.55, 2.9, 0.45), 2000)
    spacing = 0.225 * eps / 2
    steps = np.arange(1, int(0.5 / spacing) + 1) * spacing
    bridge = np.c_[np.full(len(steps), 3.0), 2.9 + steps, np.full(len(steps), 0.3)]
    points = np.concatenate([sofa, table, bridge])
    idx = np.arange(len(points))
    parts = _split_bridged(points, idx, eps, up, large=1000)
    assert len(parts) == 2
    sofa_part, table_part = sorted(parts, key=lambda part: -np.isin(part, np.arange(len(sofa))).sum())
    assert np.isin(np.arange(len(sofa)), sofa_part).mean() > 0.99
    assert np.isin(np.arange(len(sofa), len(sofa) + len(table)), table_part).mean() > 0.99
    # a part smaller than a piece of furniture is not split off at the finer radius (a lamp's shade)
    assert len(_split_bridged(points, idx, eps, up, large=2500)) == 1


def test_the_sofa_and_the_shelf_are_the_objects_of_their_shape_with_the_largest_front():
    """Split from the sofa, the demo run's coffee table was the larger part and wide and high enough to be
    a sofa (its top at 0.21 room heights): named first, it took the style's sofa and the sofa an object's."""
    from occlurestyle.stylize.regions import _object_names

    shapes = [(0.1, 0.21, 0.6), (0.1, 0.33, 0.8), (0.1, 0.8, 0.3), (0.1, 0.15, 0.2), (0.5, 0.6, 0.2)]
    assert _object_names(shapes) == ["table", "sofa", "shelf", "object_0", "object_1"]
    assert _object_names([(0.1, 0.3, 0.8)]) == ["sofa"]
    assert _object_names([(0.1, 0.15, 0.3), (0.1, 0.18, 0.4)]) == ["table", "object_0"]
    # the fresh living room at seed 0: a floor lamp larger than the bookcase (which its books' floaters
    # make 1 room height wide), and a lower piece of the bookcase 1 cm higher than the sofa's back
    shapes = [(0.09, 0.34, 0.99), (0.08, 0.18, 0.61), (0.07, 0.63, 0.30), (0.07, 0.71, 0.99), (0.05, 0.35, 0.57)]
    assert _object_names(shapes) == ["sofa", "table", "object_0", "shelf", "object_1"]


def test_a_plant_s_leaves_on_its_pot_are_one_object_a_table_beside_a_sofa_or_a_wall_behind_are_not():
    """The living room's plant came out as two objects (pot, leaves) at three labeller seeds of four when
    the wall took a slice of its back, and each half took another style object's colours (texture 1.4
    -> 3.3-4.0). Parts that stand one on the other, centred, stay one."""
    from occlurestyle.stylize.regions import _stacked

    rng = np.random.default_rng(0)
    up = np.array([0.0, 0.0, 1.0])

    def cylinder(centre, radius, bottom, top, n):
        angle, r = rng.uniform(0, 2 * np.pi, n), radius * np.sqrt(rng.uniform(0, 1, n))
        return np.c_[centre[0] + r * np.cos(angle), centre[1] + r * np.sin(angle), rng.uniform(bottom, top, n)]

    pot = cylinder((2.0, 3.0), 0.22, 0.0, 0.5, 400)
    leaves = cylinder((2.05, 2.95), 0.42, 0.5, 1.5, 600)
    assert _stacked(leaves, pot, up) and _stacked(pot, leaves, up)
    sofa = cylinder((2.0, 3.0), 0.9, 0.0, 0.9, 800)
    table = cylinder((2.0, 1.7), 0.5, 0.0, 0.45, 400)
    assert not _stacked(table, sofa, up)  # side by side, and at the same heights
    slab = np.c_[rng.uniform(1.5, 3.5, 500), np.full(500, 3.6), rng.uniform(0.6, 2.5, 500)]  # the wall behind
    assert not _stacked(slab, np.concatenate([pot, leaves]), up)


@pytest.mark.parametrize("monitor_points", [800, 500])
@pytest.mark.parametrize("offset", [0.1, 0.45])
def test_a_monitor_on_a_desk_is_an_object_of_its_own_a_sofa_s_back_and_arms_and_a_plant_s_leaves_are_not(
        offset, monitor_points):
    """The office's monitors were part of their desks and took the style desk's colours (monitor texture
    3.0 against the truth's 1.0): what stands on an object's top, within its ends, is its own object,
    wherever on the top it stands (the office's left monitor stands 6 cm from its desk's end), also when
    its Gaussians are so sparse that it falls into pieces at the DBSCAN radius (500 points: seeds 0-9 split
    93.2-96.2% of it off; taken piece by piece, 4 seeds of 6 had kept it with the desk)."""
    from occlurestyle.stylize.regions import _standing_on_top

    rng = np.random.default_rng(0)
    up = np.array([0.0, 0.0, 1.0])

    def faces(lo, hi, n, skip_bottom=True):
        points = _box(rng, lo, hi, 2 * n)
        if skip_bottom:  # no camera sees an object's underside
            points = points[points[:, 2] > lo[2] + 1e-9]
        return points[:n] + 0.005 * rng.normal(size=(n, 3))

    def pieces(*parts):
        points = np.concatenate(parts)
        found = _standing_on_top(points, np.arange(len(points)), up, 2.7, 0.04, 50)
        owner = np.zeros(len(points), int)
        for k, piece in enumerate(found):
            owner[piece] = k
        starts = np.cumsum([0] + [len(p) for p in parts])
        return len(found), [np.bincount(owner[a:b], minlength=len(found)) / (b - a) for a, b in zip(starts, starts[1:])]

    desk = faces((0.0, 0.0, 0.0), (1.4, 0.7, 0.75), 4000)
    monitor = faces((offset, 0.45, 0.75), (offset + 0.5, 0.52, 1.1), monitor_points)
    count, (desk_share, monitor_share) = pieces(desk, monitor)
    assert count == 2 and desk_share[0] > 0.98 and monitor_share[1] > 0.9, (count, desk_share, monitor_share)
    seat = faces((0.2, 0.0, 0.0), (1.8, 0.9, 0.45), 3000)
    back = faces((0.2, 0.7, 0.45), (1.8, 0.9, 0.9), 1500)
    arms = [faces((x, 0.0, 0.0), (x + 0.2, 0.9, 0.65), 800) for x in (0.0, 1.8)]
    assert pieces(seat, back, *arms)[0] == 1
    angle, radius = rng.uniform(0, 2 * np.pi, 3000), np.sqrt(rng.uniform(0, 1, 3000))
    pot = np.c_[0.2 * radius[:1000] * np.cos(angle[:1000]), 0.2 * radius[:1000] * np.sin(angle[:1000]),
                rng.uniform(0, 0.4, 1000)]
    leaves = np.c_[0.4 * radius[1000:] * np.cos(angle[1000:]), 0.4 * radius[1000:] * np.sin(angle[1000:]),
                   rng.uniform(0.4, 1.3, 2000)]
    assert pieces(pot, leaves)[0] == 1


def test_a_wall_left_as_a_thick_slab_is_a_wall_and_the_shelf_against_it_an_object():
    """A wall seen from few cameras trains into a slab many plane bands thick that DBSCAN joins to the
    shelf against it (the demo's east wall and bookcase: one "object" coloured as the style's rug, as the
    free plane searched in that cluster slanted through slab and floor, n·up = -0.32)."""
    rng = np.random.default_rng(1)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u],
                  np.c_[0 * u, 6 * v, 2.7 * u], np.c_[6 * u, 0 * v, 2.7 * v], np.c_[6 * u, 6 + 0 * v, 2.7 * v]]
    slab = np.c_[6 + 0.5 * (rng.random(3 * n) - 0.5), 6 * rng.random(3 * n), 2.7 * rng.random(3 * n)]
    shelf = _box(rng, (5.3, 2.0, 0.0), (5.75, 3.4, 1.9), 5000)
    means = np.concatenate([shell, slab, shelf])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((2.5, 3.0, 1.5)))
    predicted = np.array([role(regions.names[i]) for i in regions.labels])
    slab_roles = predicted[len(shell):len(shell) + len(slab)]
    # the shelf's faces against the slab and on the floor lie in their bands: its front half must stay
    shelf_roles = predicted[len(shell) + len(slab):][(shelf[:, 0] < 5.5) & (shelf[:, 2] > 0.1)]
    assert (slab_roles == "wall").mean() > 0.8
    assert (shelf_roles == "object").mean() > 0.9


def test_what_lies_behind_a_wall_is_that_wall_not_the_plant_against_it():
    """A wall seen at grazing angles trains into a slab reaching behind its plane; DBSCAN joined that
    part to the plant in the corner (the demo's plant came out 2.3 m wide and took the style's shelf)."""
    rng = np.random.default_rng(3)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u], np.c_[6 + 0 * u, 6 * v, 2.7 * u],
                  np.c_[6 * u, 0 * v, 2.7 * v], np.c_[6 * u, 6 + 0 * v, 2.7 * v], np.c_[0 * u, 6 * v, 2.7 * u]]
    # the west wall's far side: a band 0.15-0.45 m behind it, dense enough for DBSCAN to chain along
    behind = np.c_[-0.15 - 0.3 * rng.random(4000), 6 * rng.random(4000), 2.7 * rng.random(4000)]
    plant = _box(rng, (0.25, 4.9, 0.0), (0.85, 5.5, 1.1), 3000)
    means = np.concatenate([shell, behind, plant])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 3.0, 1.5)))
    names = np.array(regions.names)[regions.labels]
    roles = np.array([role(name) for name in names])
    assert (roles[len(shell):len(shell) + len(behind)] != "object").all()  # walls (its lowest cm floor)
    plant_names = names[len(shell) + len(behind):][plant[:, 2] > 0.1]
    plant_name = Counter(plant_names).most_common(1)[0][0]
    assert role(plant_name) == "object" and (plant_names == plant_name).mean() > 0.9
    assert (names[len(shell):len(shell) + len(behind)] != plant_name).all()


@pytest.mark.parametrize("above_count", [300, 800])
def test_what_lies_below_the_floor_or_above_the_ceiling_is_that_layer_not_an_object(above_count):
    """A short training leaves clumps of Gaussians beyond the floor and the ceiling (the demo's lay 0.05-0.25
    room heights below its floor and above its ceiling); DBSCAN made objects of them, which the pairing by
    shape gave a table's or a painting's colours. They join the layer they lie beyond; the table standing
    on the floor stays an object. A clump denser than the ceiling itself (800: its top face is a RANSAC
    plane above the ceiling's) must not take the ceiling's place."""
    rng = np.random.default_rng(5)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u], np.c_[6 + 0 * u, 6 * v, 2.7 * u],
                  np.c_[6 * u, 0 * v, 2.7 * v], np.c_[6 * u, 6 + 0 * v, 2.7 * v], np.c_[0 * u, 6 * v, 2.7 * u]]
    below = _box(rng, (1.0, 1.0, -0.6), (2.2, 2.0, -0.15), 300)
    above = _box(rng, (3.5, 3.5, 2.85), (5.0, 4.6, 3.2), above_count)
    table = _box(rng, (3.6, 1.2, 0.0), (4.6, 1.9, 0.45), 1500)
    means = np.concatenate([shell, below, above, table])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 3.0, 1.5)))
    names = np.array(regions.names)[regions.labels]
    start = len(shell)
    assert (names[start:start + len(below)] == "floor").all()
    assert (names[start + len(below):start + len(below) + len(above)] == "ceiling").all()
    table_names = names[start + len(below) + len(above):][table[:, 2] > 0.1]
    assert role(Counter(table_names).most_common(1)[0][0]) == "object"
    assert (np.array([role(name) for name in table_names]) == "object").mean() > 0.9


def test_a_clump_just_under_the_ceiling_is_ceiling_and_a_pendant_lamp_an_object():
    """The office's training left clumps of Gaussians 0.88-0.94 room heights up, under its ceiling; as
    objects they took the style monitor's colours, or its plant's green. What lies within
    `UNDER_THE_CEILING` of the ceiling's level is the ceiling's layer; a lamp hanging lower stays an object."""
    rng = np.random.default_rng(5)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u], np.c_[6 + 0 * u, 6 * v, 2.7 * u],
                  np.c_[6 * u, 0 * v, 2.7 * v], np.c_[6 * u, 6 + 0 * v, 2.7 * v], np.c_[0 * u, 6 * v, 2.7 * u]]
    clump = _box(rng, (3.5, 3.5, 2.42), (4.5, 4.2, 2.6), 300)  # 0.90-0.96 room heights
    lamp = _box(rng, (1.2, 1.2, 1.9), (1.7, 1.7, 2.5), 400)  # a shade hanging 0.7-0.93 room heights
    means = np.concatenate([shell, clump, lamp])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 3.0, 1.5)))
    roles = np.array([role(name) for name in np.array(regions.names)[regions.labels]])
    start = len(shell)
    assert (roles[start:start + len(clump)] == "ceiling").mean() > 0.9  # without the rule: none, an object
    assert (roles[start + len(clump):] == "object").all()


def _wallpapered_room(rng, picture: bool):
    """A 6 x 6 x 2.7 m room whose north and south walls carry a striped wallpaper with small red motifs,
    the north one a framed painting (x 1.0-2.4 m, 1.2-2.0 m up) when `picture`; (points, colours, painting)."""
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u],
                  np.c_[0 * u, 6 * v, 2.7 * u], np.c_[6 + 0 * u, 6 * v, 2.7 * u]]
    shell_colours = np.repeat([[0.6, 0.45, 0.3], [0.95, 0.95, 0.95], [0.7, 0.75, 0.8], [0.7, 0.75, 0.8]], n, axis=0)
    papered, colours = [], []
    for y in (0.0, 6.0):
        x, z = 6 * rng.random(20000), 2.7 * rng.random(20000)
        colour = np.where(((x // 0.12) % 2 == 0)[:, None], [0.93, 0.88, 0.75], [0.85, 0.78, 0.65])
        motif = (np.abs(x % 0.3 - 0.15) + np.abs(z % 0.3 - 0.15)) < 0.03
        colour[motif] = [0.8, 0.2, 0.2]
        papered.append(np.c_[x, y + 0 * x, z])
        colours.append(colour)
    points, colours = np.concatenate([shell, *papered]), np.concatenate([shell_colours, *colours])
    north = np.arange(len(shell) + 20000, len(points))
    inside = (points[north, 0] > 1.0) & (points[north, 0] < 2.4) & (points[north, 2] > 1.2) & (points[north, 2] < 2.0)
    painting = north[inside] if picture else north[:0]
    if picture:
        blobs = rng.random((6, 2)) * [1.4, 0.8] + [1.0, 1.2]
        palette = np.array([[0.85, 0.15, 0.1], [0.1, 0.3, 0.8], [0.15, 0.6, 0.2], [0.95, 0.8, 0.1], [0.9, 0.4, 0.1],
                            [0.2, 0.2, 0.5]])
        nearest = np.linalg.norm(points[painting][:, None, [0, 2]] - blobs[None], axis=2).argmin(1)
        colours[painting] = palette[nearest]
        frame = (np.minimum(points[painting, 0] - 1.0, 2.4 - points[painting, 0]) < 0.05) | (
            np.minimum(points[painting, 2] - 1.2, 2.0 - points[painting, 2]) < 0.05)
        colours[painting[frame]] = [0.15, 0.1, 0.05]
    colours = np.clip(colours + 0.03 * rng.normal(size=colours.shape), 0, 1)
    return points, colours, painting


@pytest.mark.parametrize("picture", [True, False])
def test_a_painting_on_a_papered_wall_is_a_picture_and_the_wallpaper_is_not(picture):
    """The demo's two paintings were labelled wall and painted over with the style's wallpaper; a
    patterned wallpaper (stripes, small motifs of the painting's red) must stay wall."""
    rng = np.random.default_rng(2)
    points, colours, painting = _wallpapered_room(rng, picture)
    regions = label_gaussians(points, np.ones(len(points)), _room_cameras((3.0, 3.0, 1.5)), colors=colours)
    named = np.array(regions.names)[regions.labels]
    elsewhere = np.ones(len(points), bool)
    elsewhere[painting] = False
    # its edges are found to a fraction of a chart cell (5 cm): beyond that no wallpaper is a picture
    margin = (points[:, 0] > 0.95) & (points[:, 0] < 2.45) & (points[:, 2] > 1.15) & (points[:, 2] < 2.05) & (
        points[:, 1] > 5.9)
    assert (named[elsewhere & ~margin] == "picture").sum() < 20
    if picture:
        assert (named[painting] == "picture").mean() > 0.95
    assert ((named == "picture").any()) == picture


@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_a_painting_on_a_wall_trained_as_a_slab_is_found(seed):
    """A wall the cameras see only at grazing angles is trained as a slab: the office sample's east wall
    lies +-0.5 m about its plane, and its picture's Gaussians with it. Sought only within three plane
    thresholds of the plane, the picture was never found (174 of its 1052 Gaussians there); such a wall's
    layer is the band that holds most of it. Here the north wall and its painting spread 0.5 m (sd)
    about y = 6: found 0.62-0.68 at these seeds, 0.00-0.59 sought within three thresholds."""
    rng = np.random.default_rng(seed)
    points, colours, painting = _wallpapered_room(rng, True)
    north = points[:, 1] == 6.0
    north[:len(points) - 20000] = False  # the side walls' own y = 6 edge stays
    points[north, 1] += 0.5 * rng.normal(size=north.sum())
    regions = label_gaussians(points, np.ones(len(points)), _room_cameras((3.0, 3.0, 1.5)), colors=colours)
    named = np.array(regions.names)[regions.labels]
    elsewhere = np.ones(len(points), bool)
    elsewhere[painting] = False
    assert (named[painting] == "picture").mean() > 0.5
    assert (named[elsewhere] == "picture").sum() < 0.1 * len(painting)


def test_a_thin_wall_s_layer_is_three_plane_thresholds_and_a_slab_s_holds_most_of_it():
    from occlurestyle.stylize.regions import _wall_layer

    rng = np.random.default_rng(0)
    thin = np.abs(0.1 * rng.normal(size=5000))  # 99.7% within 0.3
    assert _wall_layer(thin, 0.1) == pytest.approx(0.3)
    slab = np.abs(0.5 * rng.normal(size=5000))  # 45% within 0.3
    assert _wall_layer(slab, 0.1) == pytest.approx(np.percentile(slab, 95))
    assert _wall_layer(np.zeros(0), 0.1) == pytest.approx(0.3)


def _fading_wall(seed: int, picture: bool):
    """A plain 7 x 2.8 m wall (y = 6) of 10,000 Gaussians whose light falls off from 95% to 5% along it,
    with a 1.0 x 0.7 m painting of saturated colours (x 4-5 m, 1.3-2.0 m up) when `picture`:
    (points, CIELAB colours, painting)."""
    rng = np.random.default_rng(seed)
    x, z = 7 * rng.random(10000), 2.8 * rng.random(10000)
    light = 0.05 + 0.9 * x / 7
    colours = np.c_[0.85 * light, 0.95 * light, 0.85 * light] + 0.02 * rng.normal(size=(len(x), 3))
    painting = (x > 4.0) & (x < 5.0) & (z > 1.3) & (z < 2.0) if picture else np.zeros(len(x), bool)
    blobs = np.array([[4.2, 1.5], [4.7, 1.8], [4.5, 1.4], [4.8, 1.5]])
    palette = np.array([[0.9, 0.8, 0.1], [0.85, 0.15, 0.1], [0.1, 0.3, 0.8], [0.2, 0.6, 0.2]])
    nearest = np.linalg.norm(np.c_[x, z][painting][:, None] - blobs[None], axis=2).argmin(1)
    colours[painting] = palette[nearest] + 0.04 * rng.normal(size=(painting.sum(), 3))
    points = np.c_[x, 6 + 0.03 * rng.normal(size=len(x)), z]
    return points, rgb_to_lab(np.clip(colours, 0, 1)), painting


def test_a_picture_is_found_on_a_wall_whose_light_falls_off_along_it(monkeypatch):
    """The office sample's picture was never found: by the L1 distance of their codeword histograms from
    the wall's, its neighbourhoods stood out no more than the wall's own light changing along it. Where
    that finds nothing, colours the wall hardly has (Kullback-Leibler divergence) find the picture."""
    from occlurestyle.stylize import wall_pictures

    def found(seed, picture):
        points, lab, painting = _fading_wall(seed, picture)
        mask = np.zeros(len(points), bool)
        for indices in wall_pictures.find_pictures(points, lab, np.array([0, 0, 1.0]), 0.0, 2.8, seed=seed):
            mask[indices] = True
        return mask, painting

    for seed in range(4):  # 0.91-0.96 of the painting found, 0 Gaussians beside it
        mask, painting = found(seed, True)
        assert mask[painting].mean() > 0.85 and (mask & ~painting).sum() < 20, seed
        assert not found(seed, False)[0].any(), seed
    monkeypatch.setattr(wall_pictures, "_divergence", lambda shares, whole: np.zeros(shares.shape[:-1]))
    assert not found(0, True)[0].any(), "by the histograms' L1 distance alone the picture is missed (9 seeds of 10)"


def _wall_with_a_sparse_picture(seed: int, picture: bool):
    """A plain 7 x 2.8 m wall (y = 6) of 12,000 Gaussians with a 1.6 x 1.1 m painting (x 3.7-5.3 m, 1.1-2.2
    m up) when `picture`, and no Gaussians at all in x 4-5 m, 1.1-1.9 m up (where the painting is):
    (points, CIELAB colours, painting)."""
    rng = np.random.default_rng(seed)
    x, z = 7 * rng.random(12000), 2.8 * rng.random(12000)
    colours = np.c_[0.85 + 0 * x, 0.9 + 0 * x, 0.8 + 0 * x] + 0.02 * rng.normal(size=(len(x), 3))
    painting = (x > 3.7) & (x < 5.3) & (z > 1.1) & (z < 2.2) if picture else np.zeros(len(x), bool)
    blobs = np.array([[4.0, 1.5], [4.9, 1.9], [4.5, 1.3], [5.1, 1.4], [3.9, 2.0]])
    palette = np.array([[0.9, 0.8, 0.1], [0.85, 0.15, 0.1], [0.1, 0.3, 0.8], [0.2, 0.6, 0.2], [0.9, 0.4, 0.1]])
    nearest = np.linalg.norm(np.c_[x, z][painting][:, None] - blobs[None], axis=2).argmin(1)
    colours[painting] = palette[nearest] + 0.04 * rng.normal(size=(painting.sum(), 3))
    kept = ~((x > 4.0) & (x < 5.0) & (z > 1.1) & (z < 1.9))
    points = np.c_[x, 6 + 0.03 * rng.normal(size=len(x)), z]
    return points[kept], rgb_to_lab(np.clip(colours[kept], 0, 1)), painting[kept]


def test_a_picture_the_training_left_sparse_in_the_middle_is_still_a_picture():
    """The demo's room retrained on slightly different masks left its large painting with too few Gaussians
    in the middle to tell (39-47% of its block's box stood out, under the half a rectangle fills): the
    painting took the wallpaper. Cells that cannot tell say nothing of the shape. Here a painting whose
    lower middle holds no Gaussians (two thirds of it beside a hole open to the wall below it: measured,
    found at none of the seeds 1-3 before, 98-100% of it at each now); a wall with the same hole and no
    painting has none."""
    from occlurestyle.stylize import wall_pictures

    for seed in (1, 2, 3):
        for picture in (True, False):
            points, lab, painting = _wall_with_a_sparse_picture(seed, picture)
            found = np.zeros(len(points), bool)
            for indices in wall_pictures.find_pictures(points, lab, np.array([0, 0, 1.0]), 0.0, 2.8, seed=seed):
                found[indices] = True
            if picture:
                assert found[painting].mean() > 0.9 and (found & ~painting).sum() < 30, seed
            else:
                assert not found.any(), seed


def _plain_room(rng, n: int = 3000):
    """Floor, ceiling and the east and south walls of a 6 x 6 x 2.7 m room, and their colours."""
    u, v = rng.random(n), rng.random(n)
    points = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u], np.c_[6 + 0 * u, 6 * v, 2.7 * u],
                   np.c_[6 * u, 0 * v, 2.7 * v]]
    colours = np.repeat([[0.55, 0.4, 0.25], [0.95, 0.95, 0.95], [0.7, 0.75, 0.8], [0.7, 0.75, 0.8]], n, axis=0)
    return points, colours


WALLPAPER = (0.92, 0.84, 0.72)


def test_a_plain_wall_s_floaters_far_in_front_of_it_are_the_wall_and_a_cabinet_there_is_not():
    """A plain wall seen head-on trains a sheet of floaters well in front of it (the office sample's north
    wall: 10-60 cm), which rendered over a fifth of the wall, made an object and took the style's
    whiteboard there. Coloured like the wall, they are its slab; a cabinet as far out is furniture."""
    rng = np.random.default_rng(0)
    shell, shell_colours = _plain_room(rng)
    north = np.c_[6 * rng.random(6000), 6.0 + 0.03 * rng.normal(size=6000), 2.7 * rng.random(6000)]
    sheet = np.c_[1.5 + 2.5 * rng.random(1500), 5.4 + 0.4 * rng.random(1500), 0.8 + 1.4 * rng.random(1500)]
    cabinet = _box(rng, (4.6, 5.3, 0.0), (5.6, 5.75, 1.0), 1500)  # 25-70 cm out
    means = np.concatenate([shell, north, sheet, cabinet])
    paint = np.clip(np.array(WALLPAPER) + 0.02 * rng.normal(size=(7500, 3)), 0, 1)
    colours = np.concatenate([shell_colours, paint, np.tile([[0.3, 0.3, 0.35]], (1500, 1))])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 3.0, 1.5)), colors=colours)
    roles = np.array([role(name) for name in np.array(regions.names)[regions.labels]])
    start = np.cumsum([0, len(shell), len(north), len(sheet), len(cabinet)])
    north_role, sheet_role, cabinet_role = (roles[a:b] for a, b in zip(start[1:-1], start[2:]))
    assert (north_role == "wall").mean() > 0.9
    assert (sheet_role == "wall").mean() > 0.9
    above_the_floor = cabinet[:, 2] > 0.15  # its bottom face lies in the floor's layer
    assert (cabinet_role[above_the_floor] == "object").mean() > 0.9


def test_books_in_a_thick_wall_s_slab_are_no_wall_and_its_wall_coloured_specks_no_plant():
    """A wall trains into a slab: the demo's north wall took the books recessed in the bookcase against it
    (they got the wallpaper), and the wall-coloured specks in front of the grazing west wall joined the
    plant in its corner (1.9 m high and 1.4 m wide, paired with the style's bookcase). What stands in
    front of a wall's plane is the wall's where it is coloured like the wall there, and only there."""
    rng = np.random.default_rng(0)
    shell, shell_colours = _plain_room(rng)
    north = np.c_[6 * rng.random(9000), 6.0 - 0.25 * rng.random(9000), 2.7 * rng.random(9000)]
    books = np.c_[2.0 + 1.4 * rng.random(1500), 5.6 + 0.1 * rng.random(1500), 0.1 + 1.8 * rng.random(1500)]
    case = _box(rng, (1.95, 5.45, 0.0), (3.45, 6.0, 1.95), 2500)
    case = case[case[:, 1] < 5.7]  # its front edges and sides: the books fill its face
    west = np.c_[0.0 + 0.03 * rng.normal(size=9000), 6 * rng.random(9000), 2.7 * rng.random(9000)]
    specks = np.c_[0.05 + 0.15 * rng.random(600), 4.3 + 1.6 * rng.random(600), 0.2 + 2.0 * rng.random(600)]
    plant = _box(rng, (0.3, 4.9, 0.0), (0.8, 5.4, 1.1), 2000)
    means = np.concatenate([shell, north, books, case, west, specks, plant])
    paper = np.clip(np.array(WALLPAPER) + 0.02 * rng.normal(size=(9000, 3)), 0, 1)
    colours = np.concatenate([
        shell_colours, paper, rng.choice(np.array([[0.6, 0.1, 0.1], [0.1, 0.2, 0.5], [0.15, 0.15, 0.15]]), 1500),
        np.tile([[0.35, 0.2, 0.1]], (len(case), 1)), paper, np.clip(np.array(WALLPAPER) + 0.02 * rng.normal(
            size=(600, 3)), 0, 1), np.tile([[0.15, 0.5, 0.15]], (2000, 1))])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 3.0, 1.5)), colors=colours)
    names = np.array(regions.names)[regions.labels]
    roles = np.array([role(name) for name in names])
    start = np.cumsum([0, len(shell), len(north), len(books), len(case), len(west), len(specks), len(plant)])
    part = {k: slice(a, b) for k, a, b in zip(("shell", "north", "books", "case", "west", "specks", "plant"),
                                              start[:-1], start[1:])}
    assert (roles[part["north"]] == "wall").mean() > 0.9
    assert (roles[part["books"]] == "object").mean() > 0.9
    assert (roles[part["specks"]] == "wall").mean() > 0.9
    plant_name = Counter(names[part["plant"]][plant[:, 2] > 0.1]).most_common(1)[0][0]
    assert role(plant_name) == "object" and plant_name != "shelf"  # 1.1 m high: the specks made it 2.2
    assert (names[part["specks"]] == plant_name).mean() < 0.05
    assert Counter(names[part["books"]]).most_common(1)[0][0] == "shelf"


@pytest.mark.parametrize("seed", [0, 1])
def test_a_mist_the_cameras_see_as_the_wall_is_the_wall_and_a_bookcase_against_it_is_not(seed):
    """A wall seen only at grazing angles (the demo's west wall) trains into a mist in front of it whose
    Gaussians' own colours are far from the wall's, though together they render it: clustered, it was
    named "shelf" and took the style bookcase's books as dark blotches all over the restyled wall. As the
    cameras see it (`seen`: surface points and colours) it is wallpaper: it is the wall's. A bookcase
    against the same wall, seen as books, is not."""
    rng = np.random.default_rng(seed)
    shell, shell_colours = _plain_room(rng)
    west = np.c_[0.03 * rng.normal(size=6000), 6 * rng.random(6000), 2.7 * rng.random(6000)]
    mist = np.c_[0.28 + 0.22 * rng.random(1200), 0.5 + 1.0 * rng.random(1200), 0.3 + 2.0 * rng.random(1200)]
    case = _box(rng, (0.0, 3.5, 0.0), (0.4, 4.9, 1.9), 2500)
    means = np.concatenate([shell, west, mist, case])
    paper = np.clip(np.array(WALLPAPER) + 0.02 * rng.normal(size=(6000, 3)), 0, 1)
    books = rng.choice(np.array([[0.6, 0.1, 0.1], [0.1, 0.2, 0.5], [0.15, 0.15, 0.15]]), len(case))
    colours = np.concatenate([shell_colours, paper, 0.5 * rng.random((len(mist), 3)), books])
    # seen: the wall's surface, the mist where the views' depth lies in it, the bookcase's face: as rendered
    surface = np.concatenate([west, mist, case])
    seen_colours = np.concatenate([paper, np.clip(np.array(WALLPAPER) + 0.03 * rng.normal(size=(len(mist), 3)),
                                                  0, 1), books])
    cameras = _room_cameras((3.0, 3.0, 1.5))
    start = np.cumsum([0, len(shell), len(west), len(mist), len(case)])
    part = {k: slice(a, b) for k, a, b in zip(("shell", "west", "mist", "case"), start[:-1], start[1:])}
    unseen = label_gaussians(means, np.ones(len(means)), cameras, colors=colours)
    assert (np.array([role(n) for n in np.array(unseen.names)[unseen.labels]])[part["mist"]] == "object").mean() > 0.9
    regions = label_gaussians(means, np.ones(len(means)), cameras, colors=colours, seen=(surface, seen_colours))
    names = np.array(regions.names)[regions.labels]
    roles = np.array([role(name) for name in names])
    assert (roles[part["mist"]] == "wall").mean() > 0.9
    assert (names[part["mist"]] == Counter(names[part["west"]]).most_common(1)[0][0]).mean() > 0.9
    front = (case[:, 0] > 0.3) & (case[:, 2] > 0.15)  # its back lies on the wall, its foot in the floor's layer
    assert (roles[part["case"]][front] == "object").mean() > 0.9
    assert all((regions.labels == k).any() for k in range(len(regions.names)))  # no name left without Gaussians


def test_what_the_cameras_see_as_the_wall_joins_it_up_to_its_reach_but_not_a_framed_board():
    """The office's sheet of floaters 1.2 m before its north wall rendered over 48k pixels of it and took a
    style object's look; a whiteboard, white on the pale wall, is seen nearly as the wall is, but its frame
    says it is a picture. Seen as the wall: the sheet joins it, the framed board and a dark cabinet do not,
    nor a sheet beyond `SEEN_REACH`."""
    from occlurestyle.stylize.regions import SEEN_REACH, _seen_like_the_wall_to_walls

    rng = np.random.default_rng(0)
    wall = np.c_[6 * rng.random(4000), 6.0 + 0.02 * rng.normal(size=4000), 2.7 * rng.random(4000)]
    board = np.c_[2 + 1.5 * rng.random(500), 5.98 + 0.01 * rng.random(500), 1.0 + 0.8 * rng.random(500)]
    sheet = np.c_[0.5 + 1.2 * rng.random(400), 4.8 + 0.1 * rng.random(400), 0.5 + 1.5 * rng.random(400)]
    far = sheet + [3.5, -2.0, 0.0]  # 3.1 m before the wall
    cabinet = np.c_[4.2 + 0.8 * rng.random(400), 5.4 + 0.1 * rng.random(400), 0.8 * rng.random(400)]
    points = np.concatenate([wall, board, sheet, far, cabinet])
    label = np.repeat(np.arange(5), [4000, 500, 400, 400, 400])
    names = ["wall_0", "picture", "object_0", "object_1", "object_2"]
    pale = np.array([0.86, 0.9, 0.86])
    # as the cameras see it: the wall, the board near-white in its place, the sheets as the wall behind them
    seen_points = np.concatenate([wall, board, sheet, far, cabinet])
    seen_colours = np.concatenate([np.tile(pale, (4000, 1)), np.tile([0.95, 0.95, 0.95], (500, 1)),
                                   np.tile(pale, (800, 1)), np.tile([0.2, 0.15, 0.1], (400, 1))])
    seen_colours = np.clip(seen_colours + 0.01 * rng.normal(size=seen_colours.shape), 0, 1)
    centres = np.array([[3.0, 2.0, 1.5], [3.0, 3.0, 1.5]])
    for framed, board_after in (({1}, 1), (set(), 0)):
        labels = label.copy()
        _seen_like_the_wall_to_walls(points, labels, names, (seen_points, rgb_to_lab(seen_colours)), centres,
                                     np.array([0.0, 0.0, 1.0]), 0.06, SEEN_REACH * 2.7, framed)
        assert (labels[4000:4500] == board_after).all()
        assert (labels[4500:4900] == 0).all()  # the sheet 1.1-1.2 m out: the wall's
        assert (labels[4900:5300] == 3).all() and (labels[5300:] == 4).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_a_strip_of_mist_on_a_plant_seen_as_the_wall_joins_it_and_the_plant_and_a_bookcase_stay(seed):
    """The demo's plant had a strip of the west wall's mist on top, 1.3-2.1 m up, which the cameras see as
    the wall: 11% of the cluster, so the cluster stayed an object, measured 2 m tall and took the style's
    bookcase. The part of a region seen as the wall around it, above or below the rest, is the wall's;
    the plant's outline seen against the wall here and there is not such a part, nor the wall-coloured
    boards of a bookcase across its middle."""
    from occlurestyle.stylize.regions import SEEN_REACH, _seen_like_the_wall_to_walls

    rng = np.random.default_rng(seed)
    wall = np.c_[6 * rng.random(4000), 6.0 + 0.02 * rng.normal(size=4000), 2.7 * rng.random(4000)]
    plant = np.c_[1.0 + 0.6 * rng.random(900), 5.0 + 0.6 * rng.random(900), 1.3 * rng.random(900)]
    strip = np.c_[1.0 + 0.6 * rng.random(120), 5.3 + 0.2 * rng.random(120), 1.35 + 0.75 * rng.random(120)]
    case = np.c_[3.0 + 1.0 * rng.random(1200), 5.6 + 0.4 * rng.random(1200), 1.9 * rng.random(1200)]
    points = np.concatenate([wall, plant, strip, case])
    label = np.repeat([0, 1, 1, 2], [4000, 900, 120, 1200])
    names = ["wall_0", "object_0", "object_1"]
    pale, leaves, books = np.array([0.86, 0.9, 0.86]), np.array([0.1, 0.35, 0.1]), np.array([0.5, 0.15, 0.1])
    outline = rng.random(900) < 0.15  # the plant's edge Gaussians, seen against the wall behind
    boards = (np.abs(case[:, 2] - 0.63) < 0.06) | (np.abs(case[:, 2] - 1.26) < 0.06)  # wall-coloured boards
    seen_colours = np.concatenate([np.tile(pale, (4000, 1)), np.where(outline[:, None], pale, leaves),
                                   np.tile(pale, (120, 1)), np.where(boards[:, None], pale, books)])
    seen_colours = np.clip(seen_colours + 0.01 * rng.normal(size=seen_colours.shape), 0, 1)
    labels = label.copy()
    _seen_like_the_wall_to_walls(points, labels, names, (points, rgb_to_lab(seen_colours)),
                                 np.array([[3.0, 2.0, 1.5], [3.0, 3.0, 1.5]]), np.array([0.0, 0.0, 1.0]), 0.06,
                                 SEEN_REACH * 2.7, set())
    assert (labels[4900:5020] == 0).mean() > 0.8  # the strip (its lowest Gaussians, among the leaves, may stay)
    assert (labels[4000:4900] == 1).mean() > 0.97 and (labels[5020:] == 2).mean() > 0.97


@pytest.mark.parametrize("seed", [0, 1])
def test_floaters_before_the_wall_as_the_cameras_see_it_join_it_and_a_plant_and_a_bookcase_stay(seed):
    """The office's right desk, beyond the reach of the whole-region test, held a clump of floaters before
    the east wall that render the pale-blue wall; straight across the plane from them the wall is seen
    cream, so only along the cameras' view are they seen as the wall behind them. Given the Gaussians' own
    colours the clump joins the wall; the desk, a plant seen against the wall at its outline and a
    bookcase's wall-coloured boards among its books stay."""
    from occlurestyle.stylize.regions import SEEN_REACH, _seen_like_the_wall_to_walls

    rng = np.random.default_rng(seed)
    wall = np.c_[6 * rng.random(4000), 6.0 + 0.02 * rng.normal(size=4000), 2.7 * rng.random(4000)]
    desk = np.c_[0.5 + 1.0 * rng.random(900), 3.0 + 1.0 * rng.random(900), 0.8 * rng.random(900)]
    clump = np.c_[1.5 + 0.4 * rng.random(150), 4.6 + 0.2 * rng.random(150), 0.5 + 0.5 * rng.random(150)]
    plant = np.c_[4.0 + 0.6 * rng.random(600), 5.2 + 0.6 * rng.random(600), 1.3 * rng.random(600)]
    case = np.c_[2.8 + 1.0 * rng.random(1200), 5.6 + 0.4 * rng.random(1200), 1.9 * rng.random(1200)]
    points = np.concatenate([wall, desk, clump, plant, case])
    label = np.repeat([0, 1, 1, 2, 3], [4000, 900, 150, 600, 1200])
    names = ["wall_0", "sofa", "object_0", "object_1"]
    cream, blue = np.array([0.9, 0.87, 0.75]), np.array([0.8, 0.86, 0.95])
    dark, leaves, books = np.array([0.2, 0.2, 0.22]), np.array([0.1, 0.35, 0.1]), np.array([0.5, 0.15, 0.1])
    outline = rng.random(600) < 0.15
    boards = (np.abs(case[:, 2] - 0.63) < 0.06) | (np.abs(case[:, 2] - 1.26) < 0.06)
    own = np.concatenate([np.where((wall[:, 0] < 2)[:, None], cream, blue), np.tile(dark, (900, 1)),
                          np.tile(blue, (150, 1)), np.tile(leaves, (600, 1)), np.where(boards[:, None], blue, books)])
    seen_colours = own.copy()
    seen_colours[5050:5650][outline] = blue  # the plant's edge, seen against the wall behind
    jitter = lambda c: np.clip(c + 0.01 * rng.normal(size=c.shape), 0, 1)  # noqa: E731
    centres = np.array([[-1.0, 1.0, 1.5], [-1.0, 2.0, 1.5]])
    labels = label.copy()
    _seen_like_the_wall_to_walls(points, labels, names, (points, rgb_to_lab(jitter(seen_colours))), centres,
                                 np.array([0.0, 0.0, 1.0]), 0.06, SEEN_REACH * 2.7, set(),
                                 own=rgb_to_lab(jitter(own)))
    assert (labels[4900:5050] == 0).mean() > 0.9  # the clump
    assert (labels[4000:4900] == 1).all() and (labels[5050:5650] == 2).all()
    assert (labels[5650:] == 3).mean() > 0.95  # measured 0.97-0.995 over seeds 0-5; all its boards: 0.87
    without = label.copy()  # across the plane the wall is cream there: without its own colours it stays
    _seen_like_the_wall_to_walls(points, without, names, (points, rgb_to_lab(jitter(seen_colours))), centres,
                                 np.array([0.0, 0.0, 1.0]), 0.06, SEEN_REACH * 2.7, set())
    assert (without[4900:5050] == 1).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_a_bookcase_beside_a_wall_found_inside_its_cluster_is_no_wall(seed):
    """The fresh living room's east wall, a thick slab no scene-wide plane holds, was clustered with the
    bookcase standing out from the north wall beside it; the fullest vertical plane in that cluster was a
    slant through the corner, and all behind it (the bookcase) became a wall that took the wallpaper. A
    wall found there is square to the walls known, reaches up to the ceiling (the bookcase's front, the
    fullest square plane, does not) and takes the east wall only."""
    rng = np.random.default_rng(seed)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    shell = np.r_[np.c_[6 * u, 6 * v, 0 * u], np.c_[6 * u, 6 * v, 2.7 + 0 * u], np.c_[0 * u, 6 * v, 2.7 * u],
                  np.c_[6 * u, 0 * v, 2.7 * v], np.c_[6 * u, 6 + 0 * u, 2.7 * v]]
    shell_colours = np.repeat([[0.55, 0.4, 0.25], [0.95, 0.95, 0.95], [0.7, 0.75, 0.8], [0.7, 0.75, 0.8], WALLPAPER],
                              n, axis=0)
    east = np.c_[6.0 - 0.6 * rng.random(2500) ** 2, 3.3 + 2.7 * rng.random(2500), 2.7 * rng.random(2500)]
    case = _box(rng, (4.4, 5.62, 0.0), (5.8, 6.0, 1.9), 3000)
    books = rng.choice(np.array([[0.6, 0.1, 0.1], [0.1, 0.2, 0.5], [0.15, 0.15, 0.15]]), len(case))
    means = np.concatenate([shell, east, case])
    colours = np.concatenate([shell_colours, np.tile([[0.62, 0.7, 0.62]], (len(east), 1)), books])
    regions = label_gaussians(means, np.ones(len(means)), _room_cameras((3.0, 3.0, 1.5)), colors=colours, seed=seed)
    names = np.array(regions.names)[regions.labels]
    roles = np.array([role(name) for name in names])
    assert (roles[len(shell):len(shell) + len(east)] == "wall").mean() > 0.9
    front = np.isclose(case[:, 1], 5.62) & (case[:, 2] > 0.15)
    assert (roles[len(shell) + len(east):][front] == "object").mean() > 0.75


def test_a_picture_is_what_most_codebook_draws_find():
    """Five draws: one picture found by four of them (each a little bigger or smaller), another by two;
    the first is kept with the Gaussians most of its finders agree on, the second is not."""
    from occlurestyle.stylize.wall_pictures import consensus

    def span(a, b):
        mask = np.zeros(100, bool)
        mask[a:b] = True
        return mask

    found = [span(10, 30), span(60, 70), span(12, 30), span(10, 32), span(60, 71), span(11, 29)]
    pictures = consensus(found, 5)
    assert len(pictures) == 1 and np.array_equal(pictures[0], np.arange(11, 30))
    assert consensus(found[:2], 5) == []  # a picture one draw of five finds is none


def test_two_slices_of_one_thick_wall_are_one_wall_and_a_bookcase_front_is_not():
    """RANSAC cuts a wall's 20 cm thick layer of Gaussians into two planes a few degrees apart, and which
    one takes the wall's pictures depends on its draw; a bookcase's front 40 cm out stays apart."""
    from occlurestyle.stylize.regions import _join_wall_slices

    rng = np.random.default_rng(0)
    x, z = 6 * rng.random(4000), 2.7 * rng.random(4000)
    main = np.c_[x, 6.0 + 0.01 * rng.normal(size=4000), z]
    slanted = np.c_[x[:1500], 5.8 + 0.1 * z[:1500] / 2.7, z[:1500]]  # 2 degrees off, 10-20 cm before it
    front = np.c_[4 + rng.random(800), np.full(800, 5.6), 2 * rng.random(800)]
    side = np.c_[np.zeros(1000), 6 * rng.random(1000), 2.7 * rng.random(1000)]
    points = np.concatenate([main, slanted, front, side])
    starts = np.cumsum([0, 4000, 1500, 800, 1000])
    walls = [np.arange(a, b) for a, b in zip(starts[:-1], starts[1:])]
    joined = _join_wall_slices(points, walls, 2.7)
    assert len(joined) == 3
    assert np.array_equal(joined[0], np.arange(5500))
    assert np.array_equal(joined[1], walls[2]) and np.array_equal(joined[2], walls[3])


@pytest.fixture(scope="module")
def stylized_run(tmp_path_factory):
    """A run whose background model is the sample room's surface (no training), stylized by colour with
    the room's own style exemplar (same room re-skinned, known labels) from 3 of its 6 cameras."""
    from conftest import make_true_run

    from occlurestyle.render.gaussians import init_from_points, save_ply
    from occlurestyle.scenes.generate import write_style_exemplar
    from occlurestyle.scenes.surface import sample_surface
    from occlurestyle.stages.stylize import StylizeOptions, stylize

    root = tmp_path_factory.mktemp("stylize")
    run, scene = make_true_run(root / "run", width=128, height=96, stride=15, points=500)
    surface = sample_surface(scene, 60_000, seed=1)
    params = init_from_points(surface["points"], surface["colors"], sh_degree=1, opacity=0.95, scale_factor=0.7)
    save_ply(params, run / "splat" / "background.ply")
    write_style_exemplar("living_room", root / "style")
    stylize(run, StylizeOptions(style=root / "style" / "style.png", style_labels=root / "style" / "labels.png",
                                method="colour", key_views=3, fit_steps=150))
    return run, scene, root / "style"


def test_stylized_room_takes_each_region_from_its_match_and_keeps_structure(stylized_run):
    from occlurestyle.eval.style import region_style_distances
    from occlurestyle.recon.registration_files import read_cameras
    from occlurestyle.render.gaussians import load_ply, render_views
    from occlurestyle.stylize.regions import SceneRegions

    run, scene, style_dir = stylized_run
    info = json.loads((run / "stylize" / "matches.json").read_text())
    matches = info["matches"]
    assert info["lightness"] == "transport"  # the colour stylizer's own rule, recorded as used
    assert {"scene": "floor", "style": "floor"}.items() <= next(m for m in matches if m["scene"] == "floor").items()
    cameras = read_cameras(run / "colmap" / "sparse" / "0")
    held = [i for i, n in enumerate(cameras.names) if n not in info["key_views"]]  # views the fit never saw
    assert len(held) == 3
    viewmats, Ks = torch.tensor(cameras.viewmats[held]).float(), torch.tensor(cameras.Ks[held]).float()
    original = load_ply(run / "splat" / "background.ply")
    stylized = load_ply(run / "splat" / "stylized.ply")
    assert torch.equal(original["means"], stylized["means"]) and torch.equal(original["scales"], stylized["scales"])
    before = render_views(original, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    after = render_views(stylized, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()

    regions = SceneRegions.load(run / "stylize" / "scene_regions.json", len(original["means"]))
    labels = render_labels(original, regions.labels, len(regions.names), cameras.viewmats[held], cameras.Ks[held],
                           cameras.width, cameras.height)
    style = load_style(style_dir / "style.png", style_dir / "labels.png")
    distances = region_style_distances(before, after, labels, regions.names, matches, style)
    assert distances["floor"]["reduction"] > 0.6 and distances["overall"]["reduction"] > 0.7, distances
    # floor gets floor: the stylized floor is closer to the style's floor than to its walls
    floor_pixels = after[labels == regions.names.index("floor")]
    assert sliced_wasserstein(floor_pixels, style.colors("floor")) < sliced_wasserstein(floor_pixels,
                                                                                        style.colors("wall_north"))
    correlation = np.mean([structure_correlation(a, b) for a, b in zip(before, after)])
    assert correlation > 0.8, correlation
    assert info["structure_kept"] >= info["keep_structure"]

    semantics = np.stack([scene.render(int(cameras.names[i][:6]))["semantics"] for i in held])
    classes = {c["id"]: c["name"] for c in json.loads((style_dir / "labels.json").read_text())["classes"]}
    accuracy = label_accuracy(labels, regions.names, semantics, classes)
    assert accuracy["floor_recall"] > 0.9 and accuracy["accuracy"] > 0.75, accuracy


def test_strength_zero_keeps_the_original_colours(stylized_run, tmp_path):
    from occlurestyle.errors import InputError
    from occlurestyle.render.gaussians import load_ply
    from occlurestyle.stages.stylize import StylizeOptions, stylize

    run, _, style_dir = stylized_run
    stylize(run, StylizeOptions(style=style_dir / "style.png", strength=0.0,
                                scene_labels=run / "stylize" / "scene_regions.json", fit_steps=10))
    original, kept = load_ply(run / "splat" / "background.ply"), load_ply(run / "splat" / "stylized.ply")
    assert torch.allclose(original["sh0"], kept["sh0"], atol=1e-5)
    with pytest.raises(InputError, match="train"):
        stylize(tmp_path, StylizeOptions(style=style_dir / "style.png"))
    with pytest.raises(InputError, match="strength"):
        stylize(run, StylizeOptions(style=style_dir / "style.png", strength=2.0))
    with pytest.raises(InputError, match="fit_steps must be at least 1"):
        stylize(run, StylizeOptions(style=style_dir / "style.png", fit_steps=0))


def test_external_stylized_key_views_are_fitted_through_the_cli(stylized_run, tmp_path):
    """Export key views, "stylize" them outside (a colour inversion stands in for any 2D tool), fit them
    back with --stylized-views: renders at the key views reproduce the external images."""
    from typer.testing import CliRunner

    from occlurestyle import media
    from occlurestyle.cli import app
    from occlurestyle.recon.registration_files import read_cameras
    from occlurestyle.render.gaussians import load_ply, render_views

    run, _, _ = stylized_run
    runner = CliRunner()
    exported = tmp_path / "key_views"
    result = runner.invoke(app, ["stylize", str(run), "--export-key-views", str(exported), "--key-views", "2"])
    assert result.exit_code == 0, result.output
    views = json.loads((exported / "cameras.json").read_text())["views"]
    assert len(views) == 2 and (exported / f"{views[0]['name']}_depth.npy").is_file()
    outside = tmp_path / "outside"
    outside.mkdir()
    for view in views:
        media.write_image(outside / f"{view['name']}.png", 255 - media.read_image(exported / f"{view['name']}.png"))
    result = runner.invoke(app, ["stylize", str(run), "--stylized-views", str(outside)])
    assert result.exit_code == 0, result.output
    cameras = read_cameras(run / "colmap" / "sparse" / "0")
    picks = [cameras.names.index(f"{v['name']}.png") for v in views]
    rendered = render_views(load_ply(run / "splat" / "stylized.ply"), torch.tensor(cameras.viewmats[picks]).float(),
                            torch.tensor(cameras.Ks[picks]).float(), cameras.width, cameras.height)["rgb"].numpy()
    wanted = np.stack([media.read_image(outside / f"{v['name']}.png") for v in views]).astype(np.float32) / 255
    assert np.abs(rendered - wanted).mean() < 0.06
    result = runner.invoke(app, ["stylize", str(run), "--stylized-views", str(tmp_path / "missing")])
    assert result.exit_code != 0 and "does not exist" in str(result.exception)


def test_a_stricter_structure_budget_softens_the_lightness_and_keeps_more(stylized_run):
    from occlurestyle.stages.stylize import StylizeOptions, stylize
    from occlurestyle.stylize.stylizers import SOFTENING_STEPS

    run, _, style_dir = stylized_run
    kept = {}
    for budget in (0.0, 0.99):
        stylize(run, StylizeOptions(style=style_dir / "style.png", style_labels=style_dir / "labels.png", key_views=3,
                                    method="colour", fit_steps=60, keep_structure=budget,
                                    scene_labels=run / "stylize" / "scene_regions.json"))
        info = json.loads((run / "stylize" / "matches.json").read_text())
        kept[budget] = (info["softening"], info["structure_kept"])
    assert kept[0.0][0] == 0  # no budget: the first, strongest step is taken
    softening, structure = kept[0.99]
    assert structure >= 0.99 or softening == len(SOFTENING_STEPS) - 1
    assert structure > kept[0.0][1]


def test_materials_lay_the_style_floor_on_the_floor_seen_from_cameras_the_fit_never_used(stylized_run):
    """The materials stylizer gives the floor the style floor's checker (its light/dark spread, far above
    the wooden floor's; its small-patch texture: the patch distance to the style floor at most half the
    room's own) and palette, at the views the fit never saw."""
    from occlurestyle.eval.style import at_focal, patch_distance, region_patches
    from occlurestyle.recon.registration_files import read_cameras
    from occlurestyle.render.gaussians import load_ply, render_views
    from occlurestyle.stages.stylize import StylizeOptions, stylize
    from occlurestyle.stylize.regions import SceneRegions

    run, _, style_dir = stylized_run
    stylize(run, StylizeOptions(style=style_dir / "style.png", style_labels=style_dir / "labels.png",
                                method="materials", key_views=3, fit_steps=150,
                                scene_labels=run / "stylize" / "scene_regions.json"))
    info = json.loads((run / "stylize" / "matches.json").read_text())
    floor_match = next(m for m in info["matches"] if m["scene"] == "floor")
    assert floor_match["transfer"] == "material" and info["lightness"] == "rank"
    assert "rectified" in floor_match["material"]["style_sample"]
    cameras = read_cameras(run / "colmap" / "sparse" / "0")
    held = [i for i, n in enumerate(cameras.names) if n not in info["key_views"]]
    viewmats, Ks = torch.tensor(cameras.viewmats[held]).float(), torch.tensor(cameras.Ks[held]).float()
    original = load_ply(run / "splat" / "background.ply")
    before = render_views(original, viewmats, Ks, cameras.width, cameras.height)["rgb"].numpy()
    after = render_views(load_ply(run / "splat" / "stylized.ply"), viewmats, Ks, cameras.width,
                         cameras.height)["rgb"].numpy()
    regions = SceneRegions.load(run / "stylize" / "scene_regions.json")
    labels = render_labels(original, regions.labels, len(regions.names), cameras.viewmats[held], cameras.Ks[held],
                           cameras.width, cameras.height)
    floor = labels == regions.names.index("floor")
    style = load_style(style_dir / "style.png", style_dir / "labels.png")
    spread = {name: rgb_to_lab(pixels)[:, 0].std() for name, pixels in
              (("style", style.colors("floor")), ("before", before[floor]), ("after", after[floor]))}
    assert spread["after"] > 0.5 * spread["style"] and spread["after"] > 1.5 * spread["before"], spread
    assert sliced_wasserstein(after[floor], style.colors("floor")) < 0.5 * sliced_wasserstein(
        before[floor], style.colors("floor"))
    # patches compared at the same angular resolution: the exemplar records its camera
    style_focal = json.loads((style_dir / "labels.json").read_text())["camera"]["K"][0][0]
    seen_alike = at_focal(style, float(cameras.Ks[0][0, 0]), style_focal)
    style_patches = region_patches(seen_alike.image, seen_alike.labels == style.names.index("floor"))
    distance = {name: patch_distance(np.concatenate([region_patches(v, f, limit=1500) for v, f in zip(views, floor)]),
                                     style_patches) for name, views in (("before", before), ("after", after))}
    print("floor patch distance to the style's", distance)
    assert distance["after"] < 0.5 * distance["before"], distance


def test_the_patch_distance_sees_texture_not_palette():
    from occlurestyle.eval.style import patch_distance, region_patches

    rng = np.random.default_rng(3)
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w]
    everywhere = np.ones((h, w), bool)

    def stripes(phase):
        wave = 0.5 + 0.25 * np.sin(2 * np.pi * (xx + phase) / 8.0)
        return np.clip(wave[..., None] * np.array([0.6, 0.4, 0.3]) * 1.4, 0, 1)

    def noise(seed):
        return np.clip(0.5 + 0.15 * np.random.default_rng(seed).normal(size=(h, w, 3)), 0, 1)

    def patches(image, region=everywhere):
        return region_patches(image, region, seed=int(rng.integers(1 << 30)))

    same = patch_distance(patches(stripes(0)), patches(stripes(3)))  # the same material, elsewhere
    from occlurestyle.stylize.transfer import lab_to_rgb

    repainted = lab_to_rgb(rgb_to_lab(stripes(3)) + np.array([5.0, -20.0, 15.0], np.float32))  # another palette
    recoloured = patch_distance(patches(stripes(0)), patches(repainted))
    other = patch_distance(patches(stripes(0)), patches(noise(1)))
    flat = patch_distance(patches(stripes(0)), patches(np.full((h, w, 3), 0.5)))
    noise_again = patch_distance(patches(noise(1)), patches(noise(2)))
    print(f"same {same:.2f}, noise {noise_again:.2f}, recoloured {recoloured:.2f}, other {other:.2f}, flat {flat:.2f}")
    assert same < 1.0 and noise_again < 1.0  # a texture's patches against another sample of it
    assert recoloured < 1.0  # a new palette on the same pattern: as near as the pattern elsewhere
    assert min(other, flat) > 5 * max(same, noise_again)  # another pattern, or none, is far

    half = everywhere.copy()
    half[:, w // 2 - 3:] = False  # only patches wholly inside the region: the flat left half, none of the noise
    mixed = np.full((h, w, 3), 0.4)
    mixed[:, w // 2:] = noise(4)[:, w // 2:]
    inside = patches(mixed, half)
    assert len(inside) > 0 and np.abs(inside).max() < 1e-3
    assert region_patches(mixed, np.zeros((h, w), bool)).shape == (0, 7 * 7 * 3)  # no patch fits: none


def test_a_shelf_on_a_wall_above_the_cameras_is_no_ceiling_when_none_is_in_view():
    """A 4×5 m room filmed below its ceiling: floor, walls 2.7 m high, a shelf board on the far wall at
    1.8 m (above the cameras' 1.5 m). The board is level and dense, but the walls go on above it: taken
    for the ceiling, it had made every wall Gaussian above it "ceiling" too."""
    rng = np.random.default_rng(0)
    n = 3000
    u, v = rng.random(n), rng.random(n)
    floor = np.c_[4 * u, 5 * v, 0 * u]
    walls = np.r_[np.c_[0 * u, 5 * v, 2.7 * u], np.c_[4 + 0 * u, 5 * v, 2.7 * u],
                  np.c_[4 * u, 0 * v, 2.7 * v], np.c_[4 * u, 5 + 0 * v, 2.7 * v]]
    board = np.c_[1 + 2 * u, 4.75 + 0.25 * v, 1.8 + 0.01 * rng.random(n)]
    truth = np.array(["floor"] * n + ["wall"] * (4 * n) + ["object"] * n)
    means = np.concatenate([floor, walls, board])
    regions = label_gaussians(means, np.ones(len(truth)), _room_cameras([2.0, 2.5, 1.5]))
    predicted = np.array([role(regions.names[i]) for i in regions.labels])
    assert "ceiling" not in regions.names
    assert (predicted[truth == "wall"] == "wall").mean() > 0.9
    assert (predicted[truth == "floor"] == "floor").mean() > 0.9
