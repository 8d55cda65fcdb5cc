"""The `register` stage: COLMAP registration of the frames with the people masked (recon/colmap.py):
`colmap/sparse/0`, `transforms.json`, `colmap/points.ply`, `registration.json`."""

from __future__ import annotations

from pathlib import Path

from ..layout import RunLayout
from ..recon.colmap import RegistrationOptions, register

Options = RegistrationOptions


def outputs(layout: RunLayout, options: RegistrationOptions) -> tuple[Path, ...]:
    return (layout.sparse, layout.transforms)


def run(layout: RunLayout, options: RegistrationOptions, progress: bool = True, verbose: bool = False) -> Path:
    return register(layout.root, options, progress=progress, verbose=verbose)
