"""The distant backdrop: a far shell of Gaussians where the cameras saw beyond every registered point (the
sky), none where a room's plain ceiling merely holds no point, and the trainer learning and saving it."""

from __future__ import annotations

import json

import numpy as np
import torch
from conftest import make_true_run

from occlurestyle.cameras import camera_center, intrinsics_from_fov, look_at
from occlurestyle.recon import backdrop
from occlurestyle.recon.backdrop import SPACING, fibonacci_directions, shell_directions

WIDTH, HEIGHT = 160, 120
SKY = np.array([0.4, 0.6, 0.9])


def _cameras(eyes, targets, up=(0.0, 0.0, 1.0)):
    viewmats = np.stack([look_at(e, t, up) for e, t in zip(eyes, targets)])
    Ks = np.stack([intrinsics_from_fov(WIDTH, HEIGHT, 70.0)] * len(viewmats))
    return viewmats, Ks


def _pixel_directions(viewmat, K, rows, cols):
    """World directions of the rays through pixels (rows, cols)."""
    rays = np.stack([(cols + 0.5 - K[0, 2]) / K[0, 0], (rows + 0.5 - K[1, 2]) / K[1, 1], np.ones(len(rows))], 1)
    world = rays @ viewmat[:3, :3]  # R^T applied to each ray
    return world / np.linalg.norm(world, axis=1, keepdims=True)


def _outdoor():
    """A camera walking 6 m along +y (z up), looking ahead and a little to each side: points on the
    ground out to 70 m, fewer the further (as a video's features are), and on a building front 46 m
    ahead, 15 m tall, on the left half; the sky holds none."""
    rng = np.random.default_rng(0)
    ahead = np.exp(rng.uniform(np.log(2), np.log(70), 20000))
    ground = np.stack([ahead * rng.uniform(-0.8, 0.8, 20000), ahead, np.full(20000, -1.6)], 1)
    front = np.stack([rng.uniform(-40, 0, 6000), np.full(6000, 46.0), rng.uniform(-1.6, 15, 6000)], 1)
    eyes = np.stack([np.zeros(13), np.linspace(0, 6, 13), np.zeros(13)], 1)
    targets = eyes + np.stack([np.linspace(-0.3, 0.3, 13), np.ones(13), np.zeros(13)], 1)
    return np.concatenate([ground, front]), *_cameras(eyes, targets)


def test_fibonacci_directions_are_unit_vectors_about_the_spacing_apart():
    directions = fibonacci_directions(3.0)
    assert np.allclose(np.linalg.norm(directions, axis=1), 1)
    cosines = directions @ directions.T
    np.fill_diagonal(cosines, -1)
    nearest = np.degrees(np.arccos(cosines.max(1).clip(-1, 1)))
    assert 0.6 * 3.0 < np.median(nearest) < 1.2 * 3.0
    assert abs(directions.mean(0)).max() < 0.01  # spread over the whole sphere


def test_the_shell_covers_the_sky_over_an_outdoor_walk_and_nothing_the_points_show():
    points, viewmats, Ks = _outdoor()
    frames = lambda i: np.broadcast_to(SKY, (HEIGHT, WIDTH, 3))  # noqa: E731
    nobody = lambda i: np.zeros((HEIGHT, WIDTH), bool)  # noqa: E731
    directions, colours, radius = shell_directions(points, viewmats, Ks, (WIDTH, HEIGHT), frames, nobody)
    assert radius > 2 * 60 and len(directions) > 20
    assert np.allclose(colours, SKY)
    # no shell direction looks at the ground within 12 m (the far ground's few points may leave gaps: the
    # shell lies behind it there; the lowest direction is at 20 m, two spacings off the bound) nor at the
    # building's front
    assert (np.degrees(np.arcsin(directions[:, 2])) > -np.degrees(np.arctan2(1.6, 12))).all()
    azimuth = np.degrees(np.arctan2(directions[:, 0], directions[:, 1]))  # the front spans -41 to 0 degrees
    over_front = (azimuth > -38) & (azimuth < -3)
    elevation_of_roof = np.degrees(np.arctan2(15, 46))
    assert (np.degrees(np.arcsin(directions[over_front, 2])) > elevation_of_roof - 2 * SPACING).all()
    # the sky a middle view sees (above the roof on the left, above the far ground on the right) is covered
    rows, cols = np.mgrid[0:HEIGHT:4, 0:WIDTH:4].reshape(2, -1)
    rays = _pixel_directions(viewmats[6], Ks[6], rows, cols)
    elevation = np.degrees(np.arcsin(rays[:, 2]))
    sky = np.where(rays[:, 0] / rays[:, 1] < -0.05, elevation > elevation_of_roof + 4, elevation > 4)
    assert sky.sum() > 100
    nearest = np.degrees(np.arccos((rays[sky] @ directions.T).max(1).clip(-1, 1)))
    assert (nearest < SPACING).mean() > 0.8


def test_a_room_whose_plain_ceiling_holds_no_point_gets_no_shell(monkeypatch):
    rng = np.random.default_rng(1)
    n = 4000
    u, v = rng.uniform(-1, 1, n), rng.uniform(0, 1, n)
    walls = np.concatenate([
        np.stack([3 * u, np.full(n, 3.0), 2.6 * v], 1), np.stack([3 * u, np.full(n, -3.0), 2.6 * v], 1),
        np.stack([np.full(n, 3.0), 3 * u, 2.6 * v], 1), np.stack([np.full(n, -3.0), 3 * u, 2.6 * v], 1),
        np.stack([3 * u, 3 * rng.uniform(-1, 1, n), np.zeros(n)], 1),  # the floor; the ceiling (z 2.6) has none
    ])
    eyes = np.stack([np.linspace(-1, 1, 12), np.zeros(12), np.full(12, 1.5)], 1)
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    targets = eyes + np.stack([np.cos(angles), np.sin(angles), np.full(12, 0.5)], 1)
    viewmats, Ks = _cameras(eyes, targets)
    frames = lambda i: np.full((HEIGHT, WIDTH, 3), 0.9)  # noqa: E731
    nobody = lambda i: np.zeros((HEIGHT, WIDTH), bool)  # noqa: E731
    directions, _, _ = shell_directions(walls, viewmats, Ks, (WIDTH, HEIGHT), frames, nobody)
    assert len(directions) == 0
    # what tells it from the sky is how near the wall tops around it are: counting emptiness alone, the
    # ceiling would get a shell
    monkeypatch.setattr(backdrop, "FAR", 0.0)
    directions, _, _ = shell_directions(walls, viewmats, Ks, (WIDTH, HEIGHT), frames, nobody)
    assert len(directions) > 20 and (directions[:, 2] > 0.25).all()  # up, at the ceiling


def test_a_persons_pixels_vouch_for_no_sky():
    points, viewmats, Ks = _outdoor()
    frames = lambda i: np.broadcast_to(SKY, (HEIGHT, WIDTH, 3))  # noqa: E731
    everyone = lambda i: np.ones((HEIGHT, WIDTH), bool)  # noqa: E731
    directions, _, _ = shell_directions(points, viewmats, Ks, (WIDTH, HEIGHT), frames, everyone)
    assert len(directions) == 0


def test_training_learns_the_shells_colours_behind_the_model_and_saves_them_with_it(tmp_path, monkeypatch):
    import occlurestyle.recon.mechanisms as mechanisms
    from occlurestyle.recon.registration_files import read_cameras
    from occlurestyle.recon.trainer import TrainOptions, train
    from occlurestyle.render.gaussians import load_ply, sh0_to_rgb

    run, _ = make_true_run(tmp_path / "run", width=64, height=48, stride=9, points=800)
    # a shell of 40 directions everywhere, grey at first: it lies behind the closed room, which hides it
    shell = fibonacci_directions(40.0)

    def grey_shell(points, viewmats, Ks, size, frames, person_masks):
        return shell, np.full((len(shell), 3), 0.5), 100.0

    monkeypatch.setattr(mechanisms, "shell_directions", grey_shell)
    train(run, TrainOptions(steps=40, refine_every=20, checkpoint_every=10_000), progress=False)
    info = json.loads((run / "splat" / "train.json").read_text())
    assert info["backdrop_gaussians"] == len(shell) and "backdrop" in info["mechanisms"]
    params = load_ply(run / "splat" / "background.ply")
    assert len(params["means"]) == info["gaussians"] + len(shell)
    cameras = read_cameras(run / "colmap" / "sparse" / "0")
    far = params["means"][-len(shell):].double() - torch.from_numpy(camera_center(cameras.viewmats).mean(0))
    assert torch.allclose(far.norm(dim=1), torch.tensor(100.0, dtype=torch.float64), rtol=1e-4)  # on the shell
    assert (params["shN"][-len(shell):] == 0).all() and (torch.sigmoid(params["opacities"][-len(shell):]) > 0.99).all()
    # it learnt from the frames: where the room left gaps, the grey moved towards the room's colours
    assert not torch.allclose(sh0_to_rgb(params["sh0"][-len(shell):, 0]), torch.tensor(0.5))
    monkeypatch.setattr(mechanisms, "shell_directions", lambda *a, **k: (np.zeros((0, 3)), np.zeros((0, 3)), 1.0))
    again = tmp_path / "again"
    make_true_run(again, width=64, height=48, stride=9, points=800)
    train(again, TrainOptions(steps=10, refine_every=20, checkpoint_every=10_000), progress=False)
    info = json.loads((again / "splat" / "train.json").read_text())
    assert "backdrop" not in info["mechanisms"]  # no shell: no mechanism, the model as it was
