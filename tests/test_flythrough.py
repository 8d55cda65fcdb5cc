"""Flythrough planning: coverage of a view by what the training cameras saw, and paths kept inside it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occlurestyle.cameras import look_at
from occlurestyle.errors import InputError
from occlurestyle.layout import RunLayout
from occlurestyle.pipeline import RunConfig, check_inputs
from occlurestyle.recon.registration_files import read_run_cameras
from occlurestyle.render.coverage import SeenSurface
from occlurestyle.render.gaussians import init_from_points, load_ply
from occlurestyle.render.planning import MIN_COVERAGE, SIZES, plan_flythrough

UP = np.array([0.0, -1.0, 0.0])  # OpenCV world: y down
WIDTH, HEIGHT = 96, 72
K = np.array([[80.0, 0, WIDTH / 2], [0, 80.0, HEIGHT / 2], [0, 0, 1]])


def corner_room(pillar: bool = False) -> dict:
    """Opaque splats on a back wall (z = 6, x in [-5, 5]) and a floor (y = 2), optionally a pillar in
    front of the wall (x in [-0.3, 0.3], z = 3)."""
    s = np.arange(-5, 5.001, 0.1)
    wall = np.stack(np.meshgrid(s, np.arange(-3, 2.001, 0.1), [6.0]), -1).reshape(-1, 3)
    floor = np.stack(np.meshgrid(s, [2.0], np.arange(0, 6.001, 0.1)), -1).reshape(-1, 3)
    parts = [wall, floor]
    if pillar:
        parts.append(np.stack(np.meshgrid(np.arange(-0.3, 0.301, 0.05), np.arange(-3, 2.001, 0.05), [3.0]),
                              -1).reshape(-1, 3))
    points = np.concatenate(parts)
    colors = np.random.default_rng(0).uniform(0.2, 0.8, (len(points), 3))
    return init_from_points(points, colors, sh_degree=0, opacity=0.99, scale_factor=1.5)


def cameras_along_x(n: int = 10) -> np.ndarray:
    """`n` cameras on a line 1.5 either side of the origin, all looking at the wall."""
    return np.array([look_at(np.array([x, 0.0, 0.0]), np.array([0.3 * x, 0.5, 6.0]), UP)
                     for x in np.linspace(-1.5, 1.5, n)])


def test_coverage_is_full_where_the_cameras_looked_and_nil_behind_them():
    cameras = cameras_along_x()
    seen = SeenSurface(corner_room(), cameras, np.repeat(K[None], len(cameras), 0), WIDTH, HEIGHT)
    between = look_at(np.array([0.1, 0.0, 0.0]), np.array([0.0, 0.5, 6.0]), UP)
    away = look_at(np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.5, -6.0]), UP)
    far_side = look_at(np.array([4.0, 0.0, 1.0]), np.array([9.0, 0.5, 6.0]), UP)  # mostly past the wall's end
    shares = seen.coverage(np.stack([between, away, far_side]), np.repeat(K[None], 3, 0))
    assert shares[0] > 0.97 and shares[1] == 0.0 and shares[2] < 0.5


def test_a_surface_hidden_from_every_camera_is_not_seen():
    cameras = cameras_along_x(4)[1:3]  # two cameras close together: the pillar hides the same wall strip
    seen = SeenSurface(corner_room(pillar=True), cameras, np.repeat(K[None], len(cameras), 0), WIDTH, HEIGHT)
    behind_pillar = np.array([[0.0, 0.0, 6.0]])
    in_view = np.array([[2.0, 0.0, 6.0], [-2.0, 1.0, 6.0]])
    assert seen.seen_counts(behind_pillar).tolist() == [0]
    assert seen.seen_counts(in_view).tolist() == [2, 2]



def reference_seen_counts(seen: SeenSurface, world: np.ndarray, viewer: np.ndarray | None) -> np.ndarray:
    """SeenSurface.seen_counts written camera by camera in numpy, as its docstring reads. Element-wise sums
    in the kernel's order (no BLAS, whose fused multiply-adds differ by CPU), so the two agree bit for bit."""
    x, y, z_world = world[:, 0], world[:, 1], world[:, 2]

    def length(a, b, c):
        return np.maximum(np.sqrt(a * a + b * b + c * c), 1e-12)

    count = np.zeros(len(world), int)
    for viewmat, K, own_depth, centre in zip(seen.viewmats, seen.Ks, seen.depths, seen.centres):
        cam = [x * viewmat[r, 0] + y * viewmat[r, 1] + z_world * viewmat[r, 2] + viewmat[r, 3] for r in range(3)]
        z = cam[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = cam[0] / z * K[0, 0] + K[0, 2]
            v = cam[1] / z * K[1, 1] + K[1, 2]
        inside = (z > 1e-3) & (u >= 0) & (u < seen.width) & (v >= 0) & (v < seen.height)
        own = np.full(len(world), np.inf)
        own[inside] = own_depth[v[inside].astype(int), u[inside].astype(int)]
        ok = inside & (np.abs(own - z) <= seen.tolerance * z)
        if viewer is not None:
            ax, ay, az = x - centre[0], y - centre[1], z_world - centre[2]
            tx, ty, tz = x - viewer[0], y - viewer[1], z_world - viewer[2]
            ok &= (ax * tx + ay * ty + az * tz) / length(tx, ty, tz) / length(ax, ay, az) >= seen.min_cosine
        count += ok
    return count


def test_seen_counts_agree_with_a_camera_by_camera_reference():
    """The compiled kernel against the plain numpy rule on points on, in front of and behind the surfaces,
    with and without a viewer; the surface points must be seen by some cameras, not none or all."""
    cameras = cameras_along_x()
    seen = SeenSurface(corner_room(pillar=True), cameras, np.repeat(K[None], len(cameras), 0), WIDTH, HEIGHT)
    rng = np.random.default_rng(0)
    on_wall = np.column_stack([rng.uniform(-6, 6, 400), rng.uniform(-3, 2, 400), np.full(400, 6.0)])
    anywhere = rng.uniform([-6, -4, -2], [6, 3, 8], (400, 3))
    world = np.concatenate([on_wall, anywhere])
    viewer = np.array([0.5, 0.2, 0.8])
    plain, angled = seen.seen_counts(world), seen.seen_counts(world, viewer)
    assert np.array_equal(plain, reference_seen_counts(seen, world, None))
    assert np.array_equal(angled, reference_seen_counts(seen, world, viewer))
    assert 0 < np.count_nonzero(angled[:400]) < np.count_nonzero(plain[:400]) < 400


def test_a_surface_seen_only_from_far_round_is_not_covered():
    """A wall point seen from 40 degrees round from where the cameras looked counts only when the angle
    limit allows it; from the cameras' own side, the cameras within the limit count."""
    cameras = cameras_along_x()
    Ks = np.repeat(K[None], len(cameras), 0)
    wall_point = np.array([[0.0, 0.5, 6.0]])
    swung = np.array([6.0 * np.sin(np.radians(40)), 0.5, 6.0 - 6.0 * np.cos(np.radians(40))])
    strict = SeenSurface(corner_room(), cameras, Ks, WIDTH, HEIGHT)  # rays within 10 degrees
    lenient = SeenSurface(corner_room(), cameras, Ks, WIDTH, HEIGHT, max_angle=90.0)
    assert strict.seen_counts(wall_point, swung).tolist() == [0]
    assert lenient.seen_counts(wall_point, swung).tolist() == [10]
    centres = np.array([-v[:3, :3].T @ v[:3, 3] for v in cameras])
    viewer = np.array([0.0, 0.5, 0.5])  # in front of the middle cameras: the six within 10 degrees count
    rays = (wall_point - centres) / np.linalg.norm(wall_point - centres, axis=1, keepdims=True)
    within = int((rays @ ((wall_point[0] - viewer) / np.linalg.norm(wall_point[0] - viewer)) >= np.cos(np.radians(10))).sum())
    assert 0 < within < 10 and strict.seen_counts(wall_point, viewer).tolist() == [within]
    assert strict.seen_counts(wall_point).tolist() == [10]


@pytest.mark.parametrize("kind", ["orbit", "dolly", "spline"])
def test_planned_paths_stay_inside_what_was_seen(kind):
    cameras = cameras_along_x()
    Ks = np.repeat(K[None], len(cameras), 0)
    params = corner_room()
    planner_view = SeenSurface(params, cameras, Ks, WIDTH, HEIGHT, scale=0.5)
    planned = plan_flythrough(kind, cameras, K, planner_view)
    full_size = SeenSurface(params, cameras, Ks, WIDTH, HEIGHT)
    assert full_size.coverage(planned.viewmats, np.repeat(K[None], len(planned.viewmats), 0)).mean() >= 0.95
    if kind == "orbit":  # the widest arc leaves the room; planning had to narrow it
        boldest = planned.tried[0]
        assert boldest[1] == SIZES["orbit"][0] and boldest[2] < 0.95 and planned.size != SIZES["orbit"][0]


def test_an_orbit_turns_about_the_up_it_is_given():
    """The registration's up (`colmap/gravity.json`) sets the orbit's axis and its cameras' roll: their x
    axes are level and their centres keep one height by that up, not by the cameras' own."""
    cameras = cameras_along_x()
    seen = SeenSurface(corner_room(), cameras, np.repeat(K[None], len(cameras), 0), WIDTH, HEIGHT, scale=0.5)
    roll = np.radians(8.0)
    tilted = np.array([np.sin(roll), -np.cos(roll), 0.0])  # UP rolled 8 degrees about the z axis
    for up in (UP, tilted):
        planned = plan_flythrough("orbit", cameras, K, seen, min_coverage=0.95, up=up)  # an arc wide enough to tell
        centres = np.array([-v[:3, :3].T @ v[:3, 3] for v in planned.viewmats])
        other = tilted if up is UP else UP
        assert np.abs(planned.viewmats[:, 0, :3] @ up).max() < 1e-9 and np.ptp(centres @ up) < 1e-9
        assert np.abs(planned.viewmats[:, 0, :3] @ other).max() > 0.1 and np.ptp(centres @ other) > 0.1


def test_auto_keeps_the_passing_path_that_shows_the_most():
    cameras = cameras_along_x()
    seen = SeenSurface(corner_room(), cameras, np.repeat(K[None], len(cameras), 0), WIDTH, HEIGHT, scale=0.5)
    chosen = plan_flythrough("auto", cameras, K, seen)
    each = {kind: plan_flythrough(kind, cameras, K, seen) for kind in ("orbit", "spline", "dolly")}
    passing = {kind: p.shown for kind, p in each.items() if p.coverage >= MIN_COVERAGE and p.worst_coverage >= 0.85}
    assert passing and chosen.kind == max(passing, key=passing.get)
    assert np.allclose(chosen.viewmats, each[chosen.kind].viewmats)


def test_an_unknown_flythrough_fails_before_any_work(tmp_path):
    with pytest.raises(InputError, match="unknown flythrough 'sideways'"):
        check_inputs(RunConfig.create(tmp_path / "v.mp4", tmp_path / "s.png", render={"flythrough": "sideways"}))


def test_the_run_flythrough_is_covered_as_the_filmed_views_are(small_run):
    """The sample run's model has holes where its walls lack texture (500 steps), so even the filmed
    views are not fully covered: the planned path must be covered as well as they are, at full size."""
    run, _, _, _ = small_run
    path = json.loads((run / "renders" / "flythrough" / "path.json").read_text())
    layout = RunLayout(run)
    cameras = read_run_cameras(layout)
    seen = SeenSurface(load_ply(layout.background_ply), cameras.viewmats, cameras.Ks, cameras.width,
                       cameras.height)
    filmed = seen.coverage(cameras.viewmats, cameras.Ks).mean()
    flown = seen.coverage(np.array(path["viewmats"]), np.array(path["Ks"])).mean()
    assert path["kind"] == "orbit" and path["coverage"] >= min(0.95, path["filmed_coverage"] - 0.01)
    assert flown >= min(0.95, filmed - 0.02), (flown, filmed)
