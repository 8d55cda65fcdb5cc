"""The named sample scenes: room layout, furniture, people's walking paths, camera path and light.

Layouts are fixed per scene so that their guarantees hold for every seed (someone walks behind the
sofa or desk and is partly hidden; someone walks in front of furniture and hides it); the seed
varies textures, colours, clothes and the handheld shake. `style=True` re-skins the same room with
other textures: a style exemplar whose regions are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .geometry import Part, box_part
from .textures import (
    Books,
    Fabric,
    Leaves,
    Painting,
    Plaster,
    Rug,
    Solid,
    Stripes,
    Texture,
    Tiles,
    Wallpaper,
    Whiteboard,
    WoodPlanks,
)
from .walkers import Walker


@dataclass
class CameraPath:
    """A smooth path of eye and look-at waypoints (Catmull-Rom over the clip) plus handheld shake."""

    eyes: np.ndarray
    targets: np.ndarray
    hfov_deg: float = 70.0
    shake_position: float = 0.01  # metres
    shake_rotation_deg: float = 0.4


@dataclass
class Room:
    name: str
    size: tuple[float, float, float]  # x extent, y extent, height; world z is up, floor at z = 0
    parts: list[Part]
    walkers: list[Walker]
    camera: CameraPath
    light_position: np.ndarray
    light_size: float = 0.6
    labels: list[str] = field(default_factory=list)  # semantic classes, id = index + 1
    style_eye: np.ndarray = field(default_factory=lambda: np.zeros(3))
    style_target: np.ndarray = field(default_factory=lambda: np.ones(3))
    description: str = ""


def _jitter(rng: np.random.Generator, color, amount: float = 0.06):
    return tuple(np.clip(np.asarray(color) * (1 + rng.uniform(-amount, amount, 3)), 0, 1))


def _shell(W: float, D: float, H: float, floor: Texture, ceiling: Texture, walls: dict[str, Texture]) -> list[Part]:
    t = 0.2
    return [
        box_part("floor", "floor", (-t, -t, -t), (W + t, D + t, 0.0), floor),
        box_part("ceiling", "ceiling", (-t, -t, H), (W + t, D + t, H + t), ceiling),
        box_part("wall_north", "wall_north", (-t, D, 0.0), (W + t, D + t, H), walls["north"]),
        box_part("wall_south", "wall_south", (-t, -t, 0.0), (W + t, 0.0, H), walls["south"]),
        box_part("wall_east", "wall_east", (W, -t, 0.0), (W + t, D + t, H), walls["east"]),
        box_part("wall_west", "wall_west", (-t, -t, 0.0), (0.0, D + t, H), walls["west"]),
    ]


def _table(label: str, lo, hi, top_tex: Texture, leg_tex: Texture, leg: float = 0.05) -> list[Part]:
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    top_thickness = 0.04
    parts = [box_part(f"{label}_top", label, (x0, y0, z1 - top_thickness), (x1, y1, z1), top_tex)]
    for i, (lx, ly) in enumerate([(x0, y0), (x1 - leg, y0), (x0, y1 - leg), (x1 - leg, y1 - leg)]):
        parts.append(box_part(f"{label}_leg{i}", label, (lx, ly, z0), (lx + leg, ly + leg, z1 - top_thickness), leg_tex))
    return parts


def _shelf(label: str, lo, hi, frame_tex: Texture, books_seed: int, opening: str) -> list[Part]:
    """A bookcase between `lo` and `hi`; `opening` is the side facing the room ('-y' or '+x')."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    b = 0.03
    along = 0 if opening == "-y" else 1  # axis along which the shelves run
    parts = []
    side_lo, side_hi = lo.copy(), hi.copy()
    side_hi[along] = lo[along] + b
    parts.append(box_part(f"{label}_side0", label, side_lo, side_hi, frame_tex))
    side_lo, side_hi = lo.copy(), hi.copy()
    side_lo[along] = hi[along] - b
    parts.append(box_part(f"{label}_side1", label, side_lo, side_hi, frame_tex))
    back_lo, back_hi = lo.copy(), hi.copy()
    if opening == "-y":
        back_lo[1] = hi[1] - b
    else:
        back_hi[0] = lo[0] + b
    parts.append(box_part(f"{label}_back", label, back_lo, back_hi, frame_tex))
    levels = np.linspace(lo[2], hi[2] - b, 5)
    for k, z in enumerate(levels):
        s_lo, s_hi = lo.copy(), hi.copy()
        s_lo[2], s_hi[2] = z, z + b
        parts.append(box_part(f"{label}_board{k}", label, s_lo, s_hi, frame_tex))
        if k < len(levels) - 1:
            book_lo, book_hi = lo.copy(), hi.copy()
            book_lo[along] += b + 0.02
            book_hi[along] -= b + 0.15 * (k % 2 + 1)
            book_lo[2], book_hi[2] = z + b, z + b + 0.85 * (levels[1] - levels[0] - b)
            if opening == "-y":
                book_lo[1] = hi[1] - 0.28
                book_hi[1] = hi[1] - b
            else:
                book_lo[0] = lo[0] + b
                book_hi[0] = lo[0] + 0.28
            parts.append(box_part(f"{label}_books{k}", label, book_lo, book_hi, Books(books_seed + k)))
    return parts


def living_room(seed: int = 0, style: bool = False) -> Room:
    rng = np.random.default_rng(seed)
    W, D, H = 6.0, 6.0, 2.7
    j = lambda c: _jitter(rng, c)  # noqa: E731
    if not style:
        floor = WoodPlanks(seed + 1, light=j((0.74, 0.54, 0.33)), dark=j((0.46, 0.29, 0.15)))
        ceiling = Plaster(seed + 2, j((0.93, 0.92, 0.89)))
        walls = {
            "north": Wallpaper(seed + 3, j((0.82, 0.76, 0.62)), j((0.74, 0.66, 0.52)), j((0.55, 0.33, 0.28))),
            "south": Wallpaper(seed + 4, j((0.80, 0.80, 0.70)), j((0.70, 0.72, 0.60)), j((0.35, 0.45, 0.40))),
            "east": Plaster(seed + 5, j((0.62, 0.70, 0.62)), amount=0.12),
            "west": Wallpaper(seed + 6, j((0.78, 0.70, 0.66)), j((0.70, 0.60, 0.58)), j((0.40, 0.30, 0.45)), stripe=0.09),
        }
        sofa_tex = Fabric(seed + 7, j((0.28, 0.40, 0.55)))
        cushion_tex = Fabric(seed + 8, j((0.75, 0.55, 0.30)), check=0.08)
        table_tex = WoodPlanks(seed + 9, light=j((0.55, 0.36, 0.20)), dark=j((0.35, 0.20, 0.10)), plank_width=0.1)
        leg_tex = Solid(seed + 10, j((0.25, 0.16, 0.09)), noise=0.2)
        rug_tex = Rug(seed + 11, j((0.60, 0.16, 0.14)), j((0.15, 0.20, 0.40)), j((0.90, 0.80, 0.55)))
        shelf_tex = WoodPlanks(seed + 12, light=j((0.80, 0.66, 0.48)), dark=j((0.65, 0.50, 0.34)), plank_width=0.3)
        pot_tex, leaf_tex = Solid(seed + 13, j((0.70, 0.38, 0.22))), Leaves(seed + 14, j((0.20, 0.45, 0.18)))
        lamp_tex = Solid(seed + 15, j((0.15, 0.15, 0.15)))
        shade_tex = Fabric(seed + 16, j((0.95, 0.90, 0.75)))
    else:
        floor = Tiles(seed + 101, (0.92, 0.92, 0.90), (0.12, 0.12, 0.14), (0.5, 0.5, 0.5), size=0.45, checker=True)
        ceiling = Plaster(seed + 102, (0.85, 0.88, 0.95))
        walls = {
            "north": Wallpaper(seed + 103, (0.55, 0.70, 0.85), (0.90, 0.92, 0.95), (0.15, 0.25, 0.55), stripe=0.2),
            "south": Wallpaper(seed + 104, (0.55, 0.70, 0.85), (0.90, 0.92, 0.95), (0.15, 0.25, 0.55), stripe=0.2),
            "east": Stripes(seed + 105, (0.85, 0.35, 0.30), (0.95, 0.85, 0.80), width=0.15, along_u=True),
            "west": Stripes(seed + 106, (0.85, 0.35, 0.30), (0.95, 0.85, 0.80), width=0.15, along_u=True),
        }
        sofa_tex = Fabric(seed + 107, (0.85, 0.65, 0.10), check=0.12, check_color=(0.3, 0.2, 0.1))
        cushion_tex = Fabric(seed + 108, (0.10, 0.45, 0.40))
        table_tex = Solid(seed + 109, (0.95, 0.95, 0.95), noise=0.05)
        leg_tex = Solid(seed + 110, (0.8, 0.75, 0.2))
        rug_tex = Rug(seed + 111, (0.15, 0.45, 0.30), (0.90, 0.90, 0.85), (0.95, 0.55, 0.15))
        shelf_tex = Solid(seed + 112, (0.15, 0.15, 0.18), noise=0.1)
        pot_tex, leaf_tex = Solid(seed + 113, (0.2, 0.3, 0.7)), Leaves(seed + 114, (0.55, 0.70, 0.20))
        lamp_tex = Solid(seed + 115, (0.8, 0.7, 0.3))
        shade_tex = Fabric(seed + 116, (0.9, 0.3, 0.4))

    parts = _shell(W, D, H, floor, ceiling, walls)
    parts.append(box_part("rug", "rug", (1.8, 2.0, 0.0), (4.2, 3.3, 0.012), rug_tex))
    parts += _table("table", (2.45, 2.3, 0.0), (3.55, 2.9, 0.45), table_tex, leg_tex)
    parts += [
        box_part("sofa_seat", "sofa", (1.9, 3.4, 0.0), (4.1, 4.3, 0.40), sofa_tex),
        box_part("sofa_back", "sofa", (1.9, 4.08, 0.40), (4.1, 4.3, 0.88), sofa_tex),
        box_part("sofa_arm_w", "sofa", (1.9, 3.4, 0.40), (2.12, 4.08, 0.62), sofa_tex),
        box_part("sofa_arm_e", "sofa", (3.88, 3.4, 0.40), (4.1, 4.08, 0.62), sofa_tex),
        box_part("sofa_cushion_w", "sofa", (2.14, 3.45, 0.40), (2.99, 4.06, 0.50), cushion_tex),
        box_part("sofa_cushion_e", "sofa", (3.01, 3.45, 0.40), (3.86, 4.06, 0.50), cushion_tex),
    ]
    parts += _shelf("shelf", (4.4, 5.62, 0.0), (5.8, 6.0, 1.9), shelf_tex, seed + 20, opening="-y")
    parts += [
        box_part("picture_north", "picture", (1.0, 5.97, 1.2), (2.4, 6.0, 2.0), Painting(seed + 30)),
        box_part("picture_north2", "picture", (2.9, 5.97, 1.35), (3.7, 6.0, 1.95), Painting(seed + 31)),
        box_part("picture_west", "picture", (0.0, 2.5, 1.2), (0.03, 3.6, 1.9), Painting(seed + 32)),
        box_part("picture_east", "picture", (5.97, 2.6, 1.1), (6.0, 3.6, 1.8), Painting(seed + 33)),
    ]
    parts += [
        Part("plant_pot", "plant", "cylinder", (0.2, 0.45), pot_tex, translation=np.array([0.6, 5.4, 0.0])),
        Part("plant_leaves", "plant", "sphere", (0.38,), leaf_tex, translation=np.array([0.6, 5.4, 0.85]),
             scale=np.array([1.0, 1.0, 1.3])),
        Part("lamp_pole", "lamp", "cylinder", (0.025, 1.45), lamp_tex, translation=np.array([4.7, 4.45, 0.0])),
        Part("lamp_base", "lamp", "cylinder", (0.16, 0.03), lamp_tex, translation=np.array([4.7, 4.45, 0.0])),
        Part("lamp_shade", "lamp", "cylinder", (0.2, 0.3), shade_tex, translation=np.array([4.7, 4.45, 1.35])),
    ]
    walkers = [
        # behind the sofa (legs hidden by its back), and in front of the bookcase (hiding it)
        Walker(np.array([[5.5, 4.85], [0.7, 4.85]]), height=1.78, speed=1.15, start=0.0, seed=seed * 7 + 1, instance=1),
        # across the room between the camera and the table, hiding table, rug and sofa
        Walker(np.array([[5.4, 1.85], [0.8, 1.65]]), height=1.68, speed=1.05, start=0.6, seed=seed * 7 + 2, instance=2),
        # standing still all clip long behind the sofa's west end (legs hidden): motion cues miss her
        Walker(np.array([[2.25, 4.6], [2.25, 4.0]]), height=1.63, speed=0.0, seed=seed * 7 + 3, instance=3, clip=1),
    ]
    camera = CameraPath(
        eyes=np.array([[1.8, 0.55, 1.50], [3.0, 0.80, 1.58], [4.2, 0.60, 1.45]]),
        targets=np.array([[3.5, 4.6, 0.85], [3.0, 4.5, 0.95], [2.5, 4.6, 0.85]]),
        hfov_deg=70.0,
    )
    labels = ["floor", "ceiling", "wall_north", "wall_south", "wall_east", "wall_west", "rug", "table", "sofa",
              "shelf", "picture", "plant", "lamp"]
    return Room(
        "living_room", (W, D, H), parts, walkers, camera, np.array([3.0, 3.0, H - 0.35]), labels=labels,
        style_eye=np.array([0.5, 0.4, 1.8]), style_target=np.array([3.6, 4.6, 0.6]),
        description="6x6x2.7 m living room: plank floor, wallpaper, sofa with cushions, coffee table on a rug, "
        "bookcase, floor lamp, plant, four framed pictures; one person walks behind the sofa and in front of the "
        "bookcase, one crosses between the camera and the table, one stands still behind the sofa's west end.",
    )


def office(seed: int = 0, style: bool = False) -> Room:
    rng = np.random.default_rng(seed + 1000)
    W, D, H = 7.0, 6.0, 2.8
    j = lambda c: _jitter(rng, c)  # noqa: E731
    if not style:
        floor = Tiles(seed + 1, j((0.55, 0.56, 0.58)), j((0.42, 0.44, 0.47)), (0.30, 0.30, 0.30), size=0.5, grout=0.006)
        ceiling = Tiles(seed + 2, (0.93, 0.93, 0.92), (0.90, 0.90, 0.89), (0.70, 0.70, 0.72), size=0.6, grout=0.015)
        walls = {
            "north": Plaster(seed + 3, j((0.85, 0.86, 0.82)), amount=0.1),
            "south": Wallpaper(seed + 4, j((0.80, 0.82, 0.84)), j((0.74, 0.76, 0.80)), j((0.40, 0.45, 0.55))),
            "east": Plaster(seed + 5, j((0.70, 0.78, 0.86)), amount=0.12),
            "west": Stripes(seed + 6, j((0.84, 0.80, 0.70)), j((0.76, 0.72, 0.62)), width=0.25, along_u=True),
        }
        desk_tex = WoodPlanks(seed + 7, light=j((0.82, 0.70, 0.52)), dark=j((0.70, 0.58, 0.42)), plank_width=0.25)
        panel_tex = Solid(seed + 8, j((0.35, 0.37, 0.40)), noise=0.15, scale=20)
        monitor_tex = Painting(seed + 9, frame=(0.05, 0.05, 0.05), border=0.03)
        box_tex = Solid(seed + 10, j((0.66, 0.50, 0.32)), noise=0.22, scale=20)
        cabinet_tex = Stripes(seed + 11, j((0.55, 0.58, 0.60)), j((0.50, 0.53, 0.55)), width=0.3)
        shelf_tex = Solid(seed + 12, j((0.30, 0.30, 0.32)), noise=0.15, scale=20)
        pot_tex, leaf_tex = Solid(seed + 13, j((0.9, 0.9, 0.88))), Leaves(seed + 14, j((0.18, 0.42, 0.20)))
    else:
        floor = WoodPlanks(seed + 101, light=(0.85, 0.70, 0.45), dark=(0.60, 0.42, 0.22), plank_width=0.12)
        ceiling = Plaster(seed + 102, (0.95, 0.90, 0.80))
        walls = {k: Wallpaper(seed + 103, (0.30, 0.45, 0.35), (0.35, 0.52, 0.40), (0.85, 0.75, 0.40))
                 for k in ("north", "south", "east", "west")}
        desk_tex = Solid(seed + 107, (0.15, 0.15, 0.17), noise=0.08)
        panel_tex = Fabric(seed + 108, (0.70, 0.20, 0.20), check=0.1)
        monitor_tex = Painting(seed + 109, frame=(0.9, 0.9, 0.9))
        box_tex = Stripes(seed + 110, (0.2, 0.4, 0.8), (0.9, 0.9, 0.9), width=0.1)
        cabinet_tex = Solid(seed + 111, (0.9, 0.6, 0.1))
        shelf_tex = Solid(seed + 112, (0.9, 0.9, 0.9), noise=0.05)
        pot_tex, leaf_tex = Solid(seed + 113, (0.6, 0.2, 0.2)), Leaves(seed + 114, (0.45, 0.6, 0.15))

    parts = _shell(W, D, H, floor, ceiling, walls)
    for name, x0, x1 in (("a", 1.2, 2.8), ("b", 4.2, 5.8)):
        parts += [
            box_part(f"desk_{name}_top", "desk", (x0, 3.0, 0.72), (x1, 3.75, 0.76), desk_tex),
            box_part(f"desk_{name}_panel", "desk", (x0 + 0.05, 3.0, 0.10), (x1 - 0.05, 3.04, 0.72), panel_tex),
            box_part(f"desk_{name}_side0", "desk", (x0, 3.0, 0.0), (x0 + 0.05, 3.75, 0.72), panel_tex),
            box_part(f"desk_{name}_side1", "desk", (x1 - 0.05, 3.0, 0.0), (x1, 3.75, 0.72), panel_tex),
            box_part(f"monitor_{name}", "monitor", ((x0 + x1) / 2 - 0.3, 3.5, 0.80), ((x0 + x1) / 2 + 0.3, 3.54, 1.18),
                     monitor_tex),
            box_part(f"monitor_{name}_stand", "monitor", ((x0 + x1) / 2 - 0.04, 3.55, 0.76),
                     ((x0 + x1) / 2 + 0.04, 3.6, 0.82), shelf_tex),
        ]
    parts += [
        box_part("boxes_0", "boxes", (5.9, 1.2, 0.0), (6.6, 1.8, 0.5), box_tex),
        box_part("boxes_1", "boxes", (6.0, 1.3, 0.5), (6.5, 1.75, 0.88), box_tex, yaw=0.15),
        box_part("boxes_2", "boxes", (6.1, 2.0, 0.0), (6.7, 2.5, 0.4), box_tex, yaw=-0.1),
        box_part("cabinet", "cabinet", (0.3, 1.0, 0.0), (0.8, 1.6, 1.25), cabinet_tex),
        box_part("whiteboard", "whiteboard", (2.2, 5.97, 0.95), (4.6, 6.0, 2.05), Whiteboard(seed + 15)),
        box_part("picture_east", "picture", (6.97, 3.2, 1.2), (7.0, 4.4, 1.9), Painting(seed + 16)),
        box_part("picture_north", "picture", (5.2, 5.97, 1.3), (6.2, 6.0, 2.0), Painting(seed + 17)),
    ]
    parts += _shelf("shelf", (0.0, 3.9, 0.0), (0.4, 5.5, 2.0), shelf_tex, seed + 20, opening="+x")
    parts += [
        Part("plant_pot", "plant", "cylinder", (0.22, 0.5), pot_tex, translation=np.array([6.5, 5.5, 0.0])),
        Part("plant_leaves", "plant", "sphere", (0.42,), leaf_tex, translation=np.array([6.5, 5.5, 0.95]),
             scale=np.array([1.0, 1.0, 1.4])),
    ]
    walkers = [
        # behind both desks (legs hidden by the modesty panels), in front of the whiteboard
        Walker(np.array([[0.9, 4.35], [6.2, 4.35]]), height=1.80, speed=1.2, start=0.3, seed=seed * 11 + 1, instance=1),
        # across the front of the room, hiding the desks
        Walker(np.array([[6.3, 2.25], [0.9, 2.05]]), height=1.65, speed=1.0, start=0.8, seed=seed * 11 + 2, instance=2),
        # down the west side, in front of the bookcase
        Walker(np.array([[1.0, 5.4], [1.1, 2.4]]), height=1.72, speed=0.9, start=0.0, seed=seed * 11 + 3, instance=3),
    ]
    camera = CameraPath(
        eyes=np.array([[2.4, 0.55, 1.55], [3.5, 0.85, 1.62], [4.6, 0.60, 1.50]]),
        targets=np.array([[4.2, 5.2, 0.85], [3.5, 5.1, 1.0], [2.8, 5.2, 0.85]]),
        hfov_deg=72.0,
    )
    labels = ["floor", "ceiling", "wall_north", "wall_south", "wall_east", "wall_west", "desk", "monitor", "boxes",
              "cabinet", "whiteboard", "picture", "shelf", "plant"]
    return Room(
        "office", (W, D, H), parts, walkers, camera, np.array([3.5, 3.0, H - 0.35]), light_size=0.8, labels=labels,
        style_eye=np.array([1.6, 0.3, 1.9]), style_target=np.array([4.4, 5.0, 0.6]),
        description="7x6x2.8 m office: tiled floor and ceiling, two desks with modesty panels and monitors, "
        "whiteboard, stacked boxes, filing cabinet, bookcase, plant; one person walks behind the desks, one across "
        "the front, one down the side past the bookcase.",
    )


SCENES: dict[str, Callable[..., Room]] = {"living_room": living_room, "office": office}
