"""Semantic stylization of the background Gaussians from one style image: scene and style regions,
their correspondence, colour and texture transfer, fitting the Gaussians to key views. The stage that
runs them is stages/stylize.py."""
