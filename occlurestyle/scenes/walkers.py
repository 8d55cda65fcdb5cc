"""Articulated walking people for the sample scenes: a capsule skeleton whose limbs swing as it walks.

A `Walker` follows a polyline on the floor at constant speed (back and forth when it reaches an
end; speed 0 stands still) and produces its textured parts posed for any time t. With real people
(scenes/cutouts.py) the walker gives a cut-out its path and height, and its capsules cast the shadow.
Body frame: x forward, y left, z up, origin on the floor under the pelvis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Part, rotation_x, rotation_y, rotation_z
from .textures import Fabric, Multi, Solid, Stripes, Texture

SKIN_TONES = [(0.87, 0.70, 0.58), (0.72, 0.53, 0.40), (0.52, 0.36, 0.26), (0.95, 0.80, 0.70)]
HAIR_COLORS = [(0.10, 0.07, 0.05), (0.35, 0.22, 0.12), (0.75, 0.60, 0.35), (0.20, 0.20, 0.20)]
SHIRT_COLORS = [(0.80, 0.15, 0.15), (0.15, 0.35, 0.75), (0.95, 0.75, 0.20), (0.20, 0.55, 0.30), (0.55, 0.25, 0.60), (0.95, 0.50, 0.15)]
PANTS_COLORS = [(0.15, 0.22, 0.40), (0.55, 0.48, 0.32), (0.12, 0.12, 0.13), (0.35, 0.30, 0.28)]

STRIDE = 1.3  # metres walked per full gait cycle


@dataclass
class Outfit:
    skin: Texture
    hair: Texture
    shirt: Texture
    sleeves: Texture
    pants: Texture
    shoes: Texture

    @classmethod
    def random(cls, seed: int) -> "Outfit":
        rng = np.random.default_rng(seed)
        skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
        shirt_color = SHIRT_COLORS[rng.integers(len(SHIRT_COLORS))]
        kind = rng.integers(3)
        if kind == 0:
            shirt = Stripes(seed, shirt_color, (0.92, 0.92, 0.88), width=rng.uniform(0.03, 0.06))
        elif kind == 1:
            shirt = Fabric(seed, shirt_color, check=rng.uniform(0.05, 0.09))
        else:
            shirt = Solid(seed, shirt_color, noise=0.2, scale=20.0)
        long_sleeves = rng.random() < 0.5
        return cls(
            skin=Solid(seed + 1, skin, noise=0.08, scale=15.0),
            hair=Solid(seed + 2, HAIR_COLORS[rng.integers(len(HAIR_COLORS))], noise=0.3, scale=25.0),
            shirt=shirt,
            sleeves=shirt if long_sleeves else Solid(seed + 1, skin, noise=0.08, scale=15.0),
            pants=Solid(seed + 3, PANTS_COLORS[rng.integers(len(PANTS_COLORS))], noise=0.25, scale=20.0),
            shoes=Solid(seed + 4, (0.08, 0.07, 0.07), noise=0.2),
        )


@dataclass
class Walker:
    """One person walking along `waypoints` (floor x, y) at `speed` m/s, starting `start` metres in."""

    waypoints: np.ndarray
    height: float = 1.75
    speed: float = 1.1
    start: float = 0.0
    seed: int = 0
    instance: int = 1
    clip: int | None = None  # which of the scene's cut-out clips this person wears (default: by instance)

    def __post_init__(self):
        self.waypoints = np.asarray(self.waypoints, np.float64)
        seg = np.diff(self.waypoints, axis=0)
        self._seg_len = np.linalg.norm(seg, axis=1)
        self._cum = np.concatenate([[0.0], np.cumsum(self._seg_len)])
        self.outfit = Outfit.random(self.seed)

    def clip_for(self, clips: int) -> int:
        return (self.instance - 1 if self.clip is None else self.clip) % clips

    @property
    def path_length(self) -> float:
        return float(self._cum[-1])

    def floor_position(self, t: float) -> tuple[np.ndarray, float, float]:
        """Position on the floor, heading (yaw) and distance walked at time t (seconds)."""
        walked = self.start + self.speed * t
        period = 2 * self.path_length
        s = walked % period
        backwards = s > self.path_length
        if backwards:
            s = period - s
        k = int(np.clip(np.searchsorted(self._cum, s, side="right") - 1, 0, len(self._seg_len) - 1))
        frac = (s - self._cum[k]) / max(self._seg_len[k], 1e-9)
        a, b = self.waypoints[k], self.waypoints[k + 1]
        pos = a + frac * (b - a)
        direction = (a - b) if backwards else (b - a)
        return pos, float(np.arctan2(direction[1], direction[0])), walked

    def parts(self, t: float) -> list[Part]:
        """The body's parts posed at time t, in world coordinates."""
        pos, yaw, walked = self.floor_position(t)
        phase = 2 * np.pi * walked / STRIDE
        H = self.height
        o = self.outfit
        body_rot = rotation_z(yaw)
        bob = 0.015 * (1 - np.cos(2 * phase))
        body_origin = np.array([pos[0], pos[1], bob])
        parts: list[Part] = []

        def add(name, label_tex, kind, dims, joint, rot, scale=(1.0, 1.0, 1.0)):
            part = Part(
                name=f"person{self.instance}_{name}", label="person", kind=kind, dims=dims, texture=label_tex,
                rotation=body_rot @ rot, translation=body_rot @ np.asarray(joint) + body_origin,
                scale=np.asarray(scale, np.float64), instance=self.instance,
            )
            parts.append(part)
            return part

        def end_of(joint, rot, length):
            return np.asarray(joint) + rot @ np.array([0.0, 0.0, -length])

        # legs: hip flexion swings the thigh, the knee bends mostly while the leg swings forward
        hip_z, thigh, shin = 0.53 * H, 0.235 * H, 0.235 * H
        for side, sign in (("l", 1.0), ("r", -1.0)):
            swing = np.sin(phase) * sign
            hip_angle = 0.42 * swing
            knee = 0.08 + 0.75 * max(0.0, np.cos(phase) * sign)
            hip = np.array([0.0, 0.09 * sign, hip_z])
            r_thigh = rotation_y(-hip_angle)
            add(f"thigh_{side}", o.pants, "capsule", (0.075, thigh), hip, r_thigh)
            knee_pos = end_of(hip, r_thigh, thigh)
            r_shin = r_thigh @ rotation_y(knee)
            add(f"shin_{side}", o.pants, "capsule", (0.055, shin), knee_pos, r_shin)
            ankle = end_of(knee_pos, r_shin, shin)
            foot = Part(
                name=f"person{self.instance}_foot_{side}", label="person", kind="box", dims=(0.25, 0.09, 0.07),
                texture=o.shoes, rotation=body_rot @ rotation_y(-0.3 * max(0.0, np.cos(phase) * sign)),
                translation=body_rot @ (ankle + np.array([0.06, 0.0, -0.035])) + body_origin, instance=self.instance,
            )
            parts.append(foot)

        # torso: an elliptical capsule from the shoulders to the pelvis, a little bob and twist
        torso_r = 0.13
        twist = rotation_z(0.08 * np.sin(phase))
        shoulder_z = 0.80 * H
        add("torso", o.shirt, "capsule", (torso_r, shoulder_z - hip_z - torso_r), np.array([0, 0, shoulder_z - 0.01]),
            twist, scale=(0.72, 1.25, 1.0))
        add("neck", o.skin, "capsule", (0.05, 0.05), np.array([0.0, 0.0, 0.865 * H]), np.eye(3))
        head_tex = Multi(self.seed, default=o.skin, faces={"top": o.hair})
        add("head", head_tex, "sphere", (0.105,), np.array([0.01, 0.0, 0.925 * H]), np.eye(3), scale=(1.0, 0.9, 1.12))

        # arms swing opposite to the legs, elbows bend a little more on the forward swing
        upper, fore = 0.165 * H, 0.15 * H
        for side, sign in (("l", 1.0), ("r", -1.0)):
            swing = -np.sin(phase) * sign
            shoulder = twist @ np.array([0.0, 0.2 * sign, shoulder_z - 0.03])
            r_upper = rotation_y(-0.38 * swing) @ rotation_x(0.07 * sign)
            add(f"upper_arm_{side}", o.shirt, "capsule", (0.047, upper), shoulder, r_upper)
            elbow = end_of(shoulder, r_upper, upper)
            r_fore = r_upper @ rotation_y(-(0.25 + 0.3 * max(0.0, swing)))
            add(f"forearm_{side}", o.sleeves, "capsule", (0.04, fore), elbow, r_fore)
            wrist = end_of(elbow, r_fore, fore + 0.04)
            add(f"hand_{side}", o.skin, "sphere", (0.045,), wrist, r_fore, scale=(0.8, 0.6, 1.2))
        return parts
