"""Gaussian rasterization (`rasterization()`: CPU numba backend, gsplat's CUDA backend), the Gaussian
model's parameters and .ply files, camera paths and their planning, video writing."""


def __getattr__(name: str):
    if name == "rasterization":  # loaded on first use: it brings torch and the numba kernels
        from .rasterizer import rasterization

        return rasterization
    raise AttributeError(f"module 'occlurestyle.render' has no attribute {name!r}")
