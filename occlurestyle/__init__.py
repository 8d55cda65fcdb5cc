"""OccluReStyle3D: restyle a room video in 3D from one style image, people composited back by depth.

The public API, each name one import away (`from occlurestyle import rasterization`); loaded on first
use, so `import occlurestyle` stays light:

- `rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height, ...)`: render
  Gaussians with gsplat's interface and conventions (CPU numba kernels; gsplat's CUDA rasterizer for
  tensors on a GPU).
- `RunConfig`, `run(config, out)`: every stage over a run folder, resumable (`RunConfig.create(video,
  style, train={"steps": 2000})`; each stage's options and defaults live in `occlurestyle.stages`).
- The readers of a run folder: `RunLayout(run)` (every path in it), `read_run_cameras(layout)` (the
  registered cameras), `load_ply(path)` (a 3DGS .ply as tensors), `read_masks(run, names, shape)` (the
  person masks), `read_people(folder, name)` (a frame's person layer and depth).
"""

from importlib import import_module

__version__ = "0.1.0"

_API = {
    "rasterization": ("occlurestyle.render.rasterizer", "rasterization"),
    "RunConfig": ("occlurestyle.pipeline", "RunConfig"),
    "run": ("occlurestyle.pipeline", "run_pipeline"),
    "RunLayout": ("occlurestyle.layout", "RunLayout"),
    "read_run_cameras": ("occlurestyle.recon.registration_files", "read_run_cameras"),
    "load_ply": ("occlurestyle.render.gaussians", "load_ply"),
    "read_masks": ("occlurestyle.person_masks", "read_masks"),
    "read_people": ("occlurestyle.occlusion.people", "read_people"),
}
__all__ = list(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'occlurestyle' has no attribute {name!r}")
    module, attribute = _API[name]
    return getattr(import_module(module), attribute)
