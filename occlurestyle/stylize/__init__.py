"""Semantic stylization of the background Gaussians from one style image."""
