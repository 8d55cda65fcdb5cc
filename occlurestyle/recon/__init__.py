"""Registration with pycolmap (masks honoured), monocular depth maps, the static-background trainer
and exports (COLMAP model, nerfstudio transforms.json). Imports only downward (render and below)."""
