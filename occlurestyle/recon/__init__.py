"""Registration with pycolmap (masks honoured), the static-background Gaussian model and its trainer,
and exports (COLMAP model, nerfstudio transforms.json, 3DGS .ply). Must not import from stylize/."""
