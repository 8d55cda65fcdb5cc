"""Who occludes what: person masks (pluggable maskers), mask clean-up, person depth, person layers and
depth-ordered compositing. Must not train Gaussians."""
