"""Numba settings shared by every module with compiled kernels; import it before defining them.

Prefers the OpenMP threading layer: numba tries TBB first, and the TBB that open3d ships is too old
for it, which only costs a warning, but a confusing one. A user's NUMBA_THREADING_LAYER still wins.
"""

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
