"""The one camera-centre and one world-up helper every stage uses."""

import numpy as np

from occlurestyle.cameras import camera_center, camera_up, look_at


def _handheld(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cameras walking along x, looking at points below eye level (pitched down), a little rolled."""
    rng = np.random.default_rng(seed)
    eyes = np.c_[np.linspace(0, 3, n), rng.normal(0, 0.05, n), 1.6 + rng.normal(0, 0.02, n)]
    targets = np.c_[rng.uniform(-1, 4, n), 3 + rng.uniform(0, 1, n), rng.uniform(0.0, 0.8, n)]
    viewmats = np.stack([look_at(e, t, up=(0.0, 0.0, 1.0) + rng.normal(0, 0.02, 3)) for e, t in zip(eyes, targets)])
    return viewmats, eyes


def test_camera_center_of_one_and_of_many():
    viewmats, eyes = _handheld()
    assert np.allclose(camera_center(viewmats[3]), eyes[3])
    assert np.allclose(camera_center(viewmats), eyes)


def test_camera_up_finds_the_world_up_of_pitched_cameras():
    viewmats, _ = _handheld()
    up = camera_up(viewmats)
    assert np.degrees(np.arccos(up @ [0, 0, 1])) < 2.0
    mean_y_up = -viewmats[:, 1, :3].mean(0)  # what the cameras' mean -y says: tilted by their pitch
    assert np.degrees(np.arccos(mean_y_up @ [0, 0, 1] / np.linalg.norm(mean_y_up))) > 10.0
