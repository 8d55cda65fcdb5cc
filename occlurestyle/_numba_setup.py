"""Numba settings shared by every module with compiled kernels; import it before defining them.

Threading layer: prefers OpenMP. numba tries TBB first, and the TBB that open3d ships is too old for
it, which only costs a warning, but a confusing one. A user's NUMBA_THREADING_LAYER still wins.

Fast-math flags: never `fastmath=True`. With every flag on (reassociation and contraction together),
the code a process compiles and the code a later process loads from numba's cache give float32 results
that differ in the last bits (seen on 4% of a render's pixels), which grew into different trained models
between a run that compiled the kernels and one that did not. Any set without one of the two is
repeatable, so kernels take one of these:
"""

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]

# element-wise loops: fused multiply-adds allowed, no reordering of sums
FAST_ELEMENTWISE = {"nnan", "ninf", "nsz", "arcp", "afn", "contract"}
# loops that sum over pixels: reordered into vector lanes (as wide as the CPU's), no fused multiply-adds
FAST_REDUCTIONS = {"nnan", "ninf", "nsz", "arcp", "afn", "reassoc"}
