"""OccluReStyle3D: restyle a room video in 3D from one style image, people composited back by depth."""

__version__ = "0.1.0"
