"""Gaussian rasterization (CPU numba backend and gsplat CUDA backend), camera paths, video writing."""
