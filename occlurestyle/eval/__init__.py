"""Metrics (temporal warping error, leakage onto people, background PSNR vs ground truth, pose error,
mask IoU), the inpaint-then-stylize baseline and the HTML report. Not imported by the pipeline stages."""
