"""Textured primitives of the sample scenes (boxes, capsules, spheres, cylinders) as triangle meshes.

A `Part` knows its mesh in local coordinates, its semantic label and texture, and how to turn a
world-space hit into a surface normal and texture coordinates analytically, so shading is smooth even
where the mesh is coarse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .textures import Multi, Texture

_BOX_TRIANGLES = np.array(
    [
        [0, 2, 1], [0, 3, 2],  # -z
        [4, 5, 6], [4, 6, 7],  # +z
        [0, 1, 5], [0, 5, 4],  # -y
        [3, 7, 6], [3, 6, 2],  # +y
        [0, 4, 7], [0, 7, 3],  # -x
        [1, 2, 6], [1, 6, 5],  # +x
    ],
    np.uint32,
)


def rotation_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def box_mesh(size) -> tuple[np.ndarray, np.ndarray]:
    sx, sy, sz = np.asarray(size, np.float64) / 2
    v = np.array(
        [[-sx, -sy, -sz], [sx, -sy, -sz], [sx, sy, -sz], [-sx, sy, -sz],
         [-sx, -sy, sz], [sx, -sy, sz], [sx, sy, sz], [-sx, sy, sz]]
    )
    return v, _BOX_TRIANGLES.copy()


def _lathe(profile_r: np.ndarray, profile_z: np.ndarray, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Surface of revolution about the local z axis; the first and last profile points are the poles."""
    angles = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = len(profile_r)
    verts = np.zeros((rings, segments, 3))
    verts[..., 0] = profile_r[:, None] * np.cos(angles)
    verts[..., 1] = profile_r[:, None] * np.sin(angles)
    verts[..., 2] = profile_z[:, None]
    verts = verts.reshape(-1, 3)
    tris = []
    for r in range(rings - 1):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            c, d = a + segments, b + segments
            tris += [[a, c, b], [b, c, d]]
    return verts, np.asarray(tris, np.uint32)


def capsule_mesh(radius: float, length: float, segments: int = 16, cap_rings: int = 5):
    """A capsule from z = 0 down to z = -length (a limb hanging from its joint)."""
    t = np.linspace(0, np.pi / 2, cap_rings)
    top_r, top_z = radius * np.sin(t), radius * np.cos(t)
    bottom_r, bottom_z = radius * np.cos(t), -length - radius * np.sin(t)
    return _lathe(np.concatenate([top_r, bottom_r]), np.concatenate([top_z, bottom_z]), segments)


def sphere_mesh(radius: float, segments: int = 20, rings: int = 12):
    t = np.linspace(0, np.pi, rings)
    return _lathe(radius * np.sin(t), radius * np.cos(t), segments)


def cylinder_mesh(radius: float, height: float, segments: int = 24):
    """A closed cylinder from z = 0 up to z = height."""
    r = np.array([0.0, radius, radius, 0.0])
    z = np.array([0.0, 0.0, height, height])
    verts, tris = _lathe(r, z, segments)
    return verts, tris[:, [0, 2, 1]]  # outward winding for this profile direction


@dataclass
class Part:
    """One textured primitive. `rotation`/`translation` map local → world (updated per frame for people)."""

    name: str
    label: str
    kind: str  # "box" | "capsule" | "sphere" | "cylinder"
    dims: tuple  # box: (sx, sy, sz); capsule: (radius, length); sphere: (radius,); cylinder: (radius, height)
    texture: Texture
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: np.ndarray = field(default_factory=lambda: np.ones(3))  # non-uniform local scale (ellipsoidal limbs)
    instance: int = 0  # person id (1..) for people parts, 0 for the room

    def local_mesh(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "box":
            return box_mesh(self.dims)
        if self.kind == "capsule":
            return capsule_mesh(*self.dims)
        if self.kind == "sphere":
            return sphere_mesh(*self.dims)
        if self.kind == "cylinder":
            return cylinder_mesh(*self.dims)
        raise ValueError(f"unknown part kind {self.kind}")

    def world_mesh(self, local: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        verts, tris = local if local is not None else self.local_mesh()
        return (verts * self.scale) @ self.rotation.T + self.translation, tris

    def to_local(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.translation) @ self.rotation) / self.scale

    def shade_inputs(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World normals `[M, 3]` and albedo `[M, 3]` at world `points` on this part's surface."""
        p = self.to_local(points)
        n_local, uv, extent, face = self._normal_uv(p)
        n_world = (n_local / self.scale) @ self.rotation.T
        n_world /= np.linalg.norm(n_world, axis=1, keepdims=True) + 1e-12
        if isinstance(self.texture, Multi):
            albedo = self.texture.default(uv, extent)
            for face_name, tex in self.texture.faces.items():
                sel = face == face_name
                if sel.any():
                    albedo[sel] = tex(uv[sel], extent)
        else:
            albedo = self.texture(uv, extent)
        return n_world, np.clip(albedo, 0.0, 1.0)

    def _normal_uv(self, p: np.ndarray):
        if self.kind == "box":
            half = np.asarray(self.dims, np.float64) / 2
            rel = np.abs(p) / half
            axis = np.argmax(rel, axis=1)
            sign = np.sign(p[np.arange(len(p)), axis])
            n = np.zeros_like(p)
            n[np.arange(len(p)), axis] = sign
            # face coordinates: the two other axes, horizontal first, from the face's min corner
            other = np.array([[1, 2], [0, 2], [0, 1]])[axis]
            rows = np.arange(len(p))
            uv = np.stack([p[rows, other[:, 0]] + half[other[:, 0]], p[rows, other[:, 1]] + half[other[:, 1]]], axis=1)
            # one extent per part is enough for the textures that use it (frames and rugs use their big face)
            big = np.argmin(half)
            ext_axes = [a for a in range(3) if a != big]
            extent = (2 * half[ext_axes[0]], 2 * half[ext_axes[1]])
            face = np.array(["-x", "+x", "-y", "+y", "-z", "+z"])[axis * 2 + (sign > 0)]
            return n, uv, extent, face
        if self.kind in ("capsule", "cylinder", "sphere"):
            r = self.dims[0]
            if self.kind == "capsule":
                axis_z = np.clip(p[:, 2], -self.dims[1], 0.0)
                n = p - np.stack([0 * axis_z, 0 * axis_z, axis_z], axis=1)
                v = -p[:, 2]
            elif self.kind == "sphere":
                n = p.copy()
                v = p[:, 2] + r
            else:
                radial = np.hypot(p[:, 0], p[:, 1])
                n = np.stack([p[:, 0], p[:, 1], np.zeros(len(p))], axis=1)
                cap = radial < r - 1e-3
                n[cap] = [0.0, 0.0, 1.0]
                n[cap & (p[:, 2] < self.dims[1] / 2)] = [0.0, 0.0, -1.0]
                v = p[:, 2]
            n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
            u = np.arctan2(p[:, 1], p[:, 0]) * r
            face = np.full(len(p), "side")
            face[p[:, 2] > 0.6 * r] = "top"
            return n, np.stack([u, v], axis=1), (2 * np.pi * r, self.dims[-1]), face
        raise ValueError(f"unknown part kind {self.kind}")


def box_part(name: str, label: str, lo, hi, texture: Texture, yaw: float = 0.0) -> Part:
    """An axis-aligned (or yawed about its centre) box between corners `lo` and `hi`."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    return Part(name, label, "box", tuple(hi - lo), texture, rotation_z(yaw), (lo + hi) / 2)
