"""The public API: each name imports in one line from the package and is the object it documents."""

import subprocess
import sys

import torch

import occlurestyle


def test_every_public_name_imports_from_the_package():
    for name in occlurestyle.__all__:
        assert getattr(occlurestyle, name) is not None, name


def test_importing_the_package_loads_no_heavy_module():
    code = "import sys, occlurestyle; print(any(m in sys.modules for m in ('torch', 'numba', 'open3d')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_rasterization_renders_a_gaussian_where_it_stands():
    """One opaque Gaussian 2 m in front of the camera, right of centre, peaks on the pixel it projects to."""
    from occlurestyle import rasterization
    from occlurestyle.render import rasterization as from_render

    assert rasterization is from_render
    means = torch.tensor([[0.49, -0.01, 2.0]])  # projects to (56.5, 23.5): pixel (23, 56)'s centre
    quats, scales = torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.full((1, 3), 0.05)
    K = torch.tensor([[[100.0, 0.0, 32.0], [0.0, 100.0, 24.0], [0.0, 0.0, 1.0]]])
    colors, alphas, _ = rasterization(means, quats, scales, torch.ones(1), torch.ones(1, 3), torch.eye(4)[None], K,
                                      64, 48)
    peak = int(alphas[0, ..., 0].argmax())
    row, col = divmod(peak, 64)
    assert (row, col) == (23, 56)
    assert alphas.max() > 0.9 and colors.shape == (1, 48, 64, 3)
