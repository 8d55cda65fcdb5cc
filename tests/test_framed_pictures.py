"""Pictures found by their frames: on the office sample's noisy pale wall a whiteboard's Gaussians have
the wall's colours (white among off-whites), so their codeword histograms do not find it; its frame, in
the wall as the cameras see it, does. A leafy plant against the wall and patterned wallpapers have edges
too, and are no picture."""

import numpy as np

from occlurestyle.stylize.correspond import match_regions
from occlurestyle.stylize.object_shapes import ObjectShape
from occlurestyle.stylize.transfer import rgb_to_lab
from occlurestyle.stylize.wall_pictures import find_framed_pictures

UP, ROOM = np.array([0.0, 0.0, 1.0]), 2.8
BOARD = (2.5, 4.0, 1.1, 1.9)  # x from, to; z from, to (metres) on the wall y = 6


def _wall_colour(x: np.ndarray) -> np.ndarray:
    """A pale green wall, its light falling off by a tenth along it."""
    light = 1.0 - 0.1 * x[:, None] / 7
    return np.array([0.86, 0.93, 0.87]) * light


def _on_board(x, z, margin: float = 0.0):
    return (x > BOARD[0] - margin) & (x < BOARD[1] + margin) & (z > BOARD[2] - margin) & (z < BOARD[3] + margin)


def _seen_wall(thing: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """The wall as rendered from before it, a point every 7 mm: (points, CIELAB), with `thing` on it."""
    x, z = np.meshgrid(np.arange(0, 7, 0.007), np.arange(0, ROOM, 0.007))
    x, z = x.ravel(), z.ravel()
    rgb = _wall_colour(x)
    if thing == "whiteboard":  # white, a grey frame 1.5 cm wide, lines of writing
        rgb[_on_board(x, z, 0.015)] = 0.72
        rgb[_on_board(x, z)] = 0.97
        for k, colour in enumerate(([0.8, 0.1, 0.1], [0.1, 0.2, 0.8], [0.1, 0.6, 0.2])):
            line = _on_board(x, z, -0.1) & (np.abs(z - 1.65 + 0.2 * k - 0.04 * np.sin(25 * x)) < 0.006)
            rgb[line] = colour
    elif thing == "plant":  # a leafy green ball 1 m across before the wall, outlined by its shadow
        inside = np.hypot(x - 3.2, z - 1.4) < 0.5
        rgb[inside] = np.array([0.15, 0.45, 0.15]) * rng.uniform(0.4, 1.3, (inside.sum(), 1))
        rgb[(np.hypot(x - 3.2, z - 1.4) >= 0.5) & (np.hypot(x - 3.2, z - 1.4) < 0.52)] = 0.3
    elif thing == "stripes":  # red stripes 10 cm wide every 30 cm
        rgb[(x % 0.3) < 0.1] = [0.75, 0.2, 0.2]
    elif thing == "wallpaper":  # blue bands 4 cm wide every 30 cm across, and up every 40 cm: boxes of wall
        rgb[((x % 0.4) < 0.04) | ((z % 0.3) < 0.04)] = [0.3, 0.4, 0.8]
    rgb = np.clip(rgb + 0.01 * rng.normal(size=rgb.shape), 0, 1)
    return np.c_[x, np.full(len(x), 6.0), z], rgb_to_lab(rgb)


def _gaussians(thing: str, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The wall's 10,000 Gaussians (centres, CIELAB colours, which lie on the board)."""
    x, z = 7 * rng.random(10000), ROOM * rng.random(10000)
    rgb = _wall_colour(x)
    board = _on_board(x, z) if thing == "whiteboard" else np.zeros(len(x), bool)
    rgb[board] = 0.97
    rgb = np.clip(rgb + 0.03 * rng.normal(size=rgb.shape), 0, 1)
    return np.c_[x, 6 + 0.02 * rng.normal(size=len(x)), z], rgb_to_lab(rgb), board


def test_a_whiteboard_on_a_pale_wall_is_found_by_its_frame_and_nothing_beside_it():
    rng = np.random.default_rng(0)
    points, _, board = _gaussians("whiteboard", rng)
    seen, seen_lab = _seen_wall("whiteboard", rng)
    framed = find_framed_pictures(seen, seen_lab, points, UP, 0.0, ROOM, np.ones(len(points), bool))
    assert len(framed) == 1
    found = np.zeros(len(points), bool)
    found[framed[0]] = True
    assert found[board].mean() > 0.95
    # its frame (1.5 cm) is part of it, and the edges either side of the frame a cell (1.4 cm) each: 4.4-5 cm
    assert not (found & ~_on_board(points[:, 0], points[:, 2], 0.06)).any()


def test_a_plant_against_the_wall_and_patterned_wallpapers_are_no_framed_pictures():
    rng = np.random.default_rng(1)
    points, _, _ = _gaussians("plain", rng)
    for thing in ("plant", "stripes", "wallpaper", "plain"):
        seen, seen_lab = _seen_wall(thing, rng)
        assert find_framed_pictures(seen, seen_lab, points, UP, 0.0, ROOM, np.ones(len(points), bool)) == [], thing


def test_the_larger_scene_picture_takes_the_style_s_whiteboard_and_the_smaller_its_painting():
    """The style's flat things on its walls are its pictures and the objects hanging there; with only
    pictures, every scene picture takes a painting (by name) as before."""
    scene = {"wall_0": 9000.0, "picture": 1400.0, "picture_1": 6000.0, "desk": 5000.0}
    style = {"wall_north": 90000.0, "picture": 3000.0, "whiteboard": 12000.0, "desk": 20000.0, "monitor": 5000.0}
    shapes = ({"desk": ObjectShape(0.0, 0.7, 1.2), "picture": ObjectShape(1.3, 1.9, 0.9),
               "picture_1": ObjectShape(0.9, 1.8, 2.1)},
              {"desk": ObjectShape(0.0, 0.7, 1.2), "whiteboard": ObjectShape(0.7, 1.4, 1.5, hangs=True),
               "monitor": ObjectShape(0.7, 1.0, 0.4)})  # the monitor stands on the desk: not flat on a wall
    partner = {m["scene"]: m["style"] for m in match_regions(scene, style, shapes)}
    assert partner["picture_1"] == "whiteboard" and partner["picture"] == "picture" and partner["desk"] == "desk"
    assert all(m.get("flat") for m in match_regions(scene, style, shapes) if m["scene"].startswith("picture"))
    # a third, smaller picture takes another of the style's paintings, not a second whiteboard
    third = {**scene, "picture_2": 900.0}
    assert {m["scene"]: m["style"] for m in match_regions(third, style, shapes)}["picture_2"] == "picture"
    no_pictures = {n: s for n, s in style.items() if n not in ("whiteboard", "picture")}
    # a picture paired by role with something that is not flat takes its colours, not its image
    assert not any(m.get("flat") for m in match_regions(scene, no_pictures, shapes))
    without = {n: s for n, s in style.items() if n != "whiteboard"}
    partner = {m["scene"]: m["style"] for m in match_regions(scene, without, shapes)}
    assert partner["picture_1"] == "picture" == partner["picture"]
