"""Points sampled on a sample scene's surfaces, with normals and lit colours.

Area-weighted samples over the static room's triangles: a ground-truth point cloud of the room,
used to build realistic synthetic Gaussian models (benchmarks, tests) without reconstruction.
"""

from __future__ import annotations

import numpy as np

from .generate import SampleScene


def sample_surface(scene: SampleScene, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`points [n,3]`, `normals [n,3]`, `colors [n,3]` (albedo lit like the frames, with shadows), and
    `spacing`, the mean distance between neighbouring samples."""
    rng = np.random.default_rng(seed)
    parts = scene.room.parts
    meshes = [part.world_mesh() for part in parts]
    tri_part, tri_corners = [], []
    for index, (verts, tris) in enumerate(meshes):
        tri_corners.append(verts[tris])
        tri_part.append(np.full(len(tris), index))
    corners = np.concatenate(tri_corners)  # [T, 3, 3]
    owner = np.concatenate(tri_part)
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    # keep only what can be seen from inside the room (drop wall and floor faces facing outwards)
    W, D, H = scene.room.size
    centroids = corners.mean(axis=1)
    inside = (np.all(centroids > -1e-3, axis=1) & (centroids[:, 0] < W + 1e-3) & (centroids[:, 1] < D + 1e-3)
              & (centroids[:, 2] < H + 1e-3))
    areas = areas * inside
    pick = rng.choice(len(areas), size=count, p=areas / areas.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    c = corners[pick]
    points = c[:, 0] + u[:, None] * (c[:, 1] - c[:, 0]) + v[:, None] * (c[:, 2] - c[:, 0])

    normals = np.zeros_like(points)
    albedo = np.zeros_like(points)
    for index in np.unique(owner[pick]):
        sel = owner[pick] == index
        normals[sel], albedo[sel] = parts[index].shade_inputs(points[sel])
    # face the room: flip normals pointing out of it (towards the nearest outside)
    centre = np.array([W / 2, D / 2, H / 2])
    outward = np.sum(normals * (centre - points), axis=1) < 0
    normals[outward] *= -1
    lit, _ = scene._light(points, normals, scene.room.light_position, [scene._static])
    return {
        "points": points,
        "normals": normals,
        "colors": np.clip(albedo * lit[:, None], 0.0, 1.0),
        "spacing": float(np.sqrt(areas.sum() / count)),
    }
