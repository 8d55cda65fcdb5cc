"""Built-in sample scenes with ground truth (procedural rooms, real people cut from clips or capsule
bodies), ray-cast with open3d. At the edge: nothing but the CLI, eval and tests imports it."""
