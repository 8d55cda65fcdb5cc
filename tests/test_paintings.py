"""Paintings: the style's pictures cut out flat from perspective, and laid upright and unmirrored over a
scene picture's rectangle."""

import cv2
import numpy as np


def _painting(height: int, width: int, seed: int) -> np.ndarray:
    """Blobs of every size: no two places alike, so a turned, mirrored or shifted copy differs."""
    rng = np.random.default_rng(seed)
    return sum(cv2.resize(rng.random((n, n, 3), dtype=np.float32), (width, height)) for n in (3, 9, 27)) / 3


def test_each_picture_of_a_style_region_comes_out_flat_largest_first():
    """Two paintings on a wall photographed at a slant (a homography each), under one label: each is
    recovered from its four corners, largest first, close to the painting itself (a quarter turn or a
    mirror of it is far)."""
    from occlurestyle.stylize.paintings import style_paintings

    image = np.full((360, 480, 3), 0.5, np.float32)
    mask = np.zeros((360, 480), bool)
    paintings = [_painting(120, 180, 0), _painting(80, 100, 1)]
    corners = [np.float32([[40, 60], [250, 85], [245, 215], [45, 225]]),  # the larger, its right side farther
               np.float32([[320, 110], [430, 100], [432, 190], [318, 185]])]
    for painting, quad in zip(paintings, corners):
        h, w = painting.shape[:2]
        warp = cv2.getPerspectiveTransform(np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]), quad)
        seen = cv2.warpPerspective(painting, warp, (480, 360), flags=cv2.INTER_LINEAR)
        inside = cv2.warpPerspective(np.ones((h, w), np.uint8), warp, (480, 360), flags=cv2.INTER_NEAREST) > 0
        image[inside] = seen[inside]
        mask |= inside
    found = [flat for flat, _ in style_paintings(image, mask)]
    assert len(found) == 2
    for painting, flat in zip(paintings, found):
        h, w = painting.shape[:2]
        back = cv2.resize(flat, (w, h), interpolation=cv2.INTER_AREA)
        error = np.abs(back - painting)[4:-4, 4:-4].mean()
        mirrored = np.abs(back[:, ::-1] - painting)[4:-4, 4:-4].mean()
        assert error < 0.03 and mirrored > 3 * error, (error, mirrored)


def test_a_rectangle_seen_in_perspective_is_one_with_its_stand_and_an_ellipse_or_an_l_is_not():
    from occlurestyle.stylize.paintings import is_rectangle

    screen = np.zeros((200, 300), np.uint8)
    cv2.fillConvexPoly(screen, np.int32([[60, 50], [230, 70], [228, 150], [62, 160]]), 1)
    with_stand = screen.copy()
    with_stand[150:175, 135:150] = 1  # a monitor's foot under it
    ellipse = cv2.ellipse(np.zeros((200, 300), np.uint8), (150, 100), (90, 50), 10, 0, 360, 1, -1)
    letter_l = screen.copy()
    letter_l[50:110, 150:240] = 0
    assert is_rectangle(screen > 0) and is_rectangle(with_stand > 0)
    assert not is_rectangle(ellipse > 0) and not is_rectangle(letter_l > 0)


def test_a_picture_shows_a_painting_of_the_style_wall_its_own_wall_took_and_else_the_next_in_turn():
    """The office's picture on its north wall took the style's larger painting, which hangs on the east
    wall, and so showed another painting than the truth does."""
    from occlurestyle.stylize.paintings import pick_painting

    hung_on = ["wall_east", "wall_north", None]  # largest first
    assert pick_painting(hung_on, "wall_north", [0, 0, 0]) == 1
    assert pick_painting(hung_on, "wall_north", [0, 3, 0]) == 1  # on its wall, however often handed out
    given = [0, 0, 0]
    for expected in (0, 1, 2, 0):  # no wall known, or none there: largest first, and round
        which = pick_painting(hung_on, None if expected % 2 else "wall_south", given)
        assert which == expected
        given[which] += 1


def test_a_painting_hangs_upright_and_unmirrored_for_whoever_looks_at_it():
    """A picture's Gaussians on the wall y = 5 (z up), looked at from y = 0: the painting's top left
    corner lies at the viewer's top left, whichever way the fitted plane's normal came out."""
    from occlurestyle.stylize.paintings import painting_texture

    rng = np.random.default_rng(0)
    painting = np.zeros((40, 60, 3), np.float32)
    painting[:20, :30] = [1, 0, 0]  # top left red
    painting[:20, 30:] = [0, 1, 0]  # top right green
    painting[20:, :30] = [0, 0, 1]  # bottom left blue
    painting[20:, 30:] = [1, 1, 0]  # bottom right yellow
    x, z = rng.uniform(-1.0, 1.0, 4000), rng.uniform(1.0, 2.0, 4000)
    points = np.stack([x, 5.0 + rng.normal(0, 0.005, 4000), z], 1)
    up = np.array([0.0, 0.0, 1.0])
    probes = np.array([[-0.8, 5.0, 1.9], [0.8, 5.0, 1.9], [-0.8, 5.0, 1.1], [0.8, 5.0, 1.1]])
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], np.float32)
    for viewer_y, flip in ((0.0, False), (10.0, True)):  # from the other side, its left is our right
        texture = painting_texture(painting, points, up, 1.0, np.array([0.0, viewer_y, 1.5]))
        seen = texture.colors(texture.chart.uv(probes))
        wanted = expected[[1, 0, 3, 2]] if flip else expected
        assert np.abs(seen - wanted).max() < 0.05, (viewer_y, seen)
