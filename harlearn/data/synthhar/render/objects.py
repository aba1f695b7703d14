"""SynthHAR objects: bike, horse, dog, guitar, book, phone, camera, laptop, pen, table, chair.

Each builder returns a :class:`Sprite`: primitives in a local frame (unit: a person's standing
height, ``x`` towards the object's front, ``y`` down; ground objects stand on ``y = 0``) plus
named *anchors*, the points an action attaches a body to (a bike's saddle, handlebar grip and
pedals, a horse's back and mouth, a guitar's frets, ...). :meth:`Sprite.placed` maps the
sprite into a group frame with any 2x2 matrix (scale, rotation, mirror, the squash that lays
a book flat on a table).

The shapes are deliberately simple (two wheels and a frame make a bike) but each keeps the
parts that make it recognisable at 64-128 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .canvas import Color, Prim, ellipse_pts, mix, rot, shade

__all__ = [
    "Sprite", "bike", "horse", "dog", "guitar", "book", "phone", "camera", "laptop",
    "pen", "table", "chair", "tripod", "linear",
]


@dataclass
class Sprite:
    """An object in its own frame: primitives plus named anchor points."""

    name: str
    prims: list[Prim] = field(default_factory=list)
    anchors: dict[str, np.ndarray] = field(default_factory=dict)

    def line(self, pts, w, col, z=0.0) -> None:
        """Add a poly-line of width ``w``."""
        self.prims.append(Prim("line", np.asarray(pts, float), w, col, z))

    def poly(self, pts, col, z=0.0) -> None:
        """Add a filled polygon."""
        self.prims.append(Prim("poly", np.asarray(pts, float), 0.0, col, z))

    def disc(self, c, r, col, z=0.0) -> None:
        """Add a filled disc."""
        self.prims.append(Prim("disc", np.asarray([c], float), r, col, z))

    def ring(self, c, r, w, col, z=0.0) -> None:
        """Add a circle outline of width ``w``."""
        self.prims.append(Prim("ring", np.asarray([c], float), r, col, z, width=w))

    def placed(self, x: float, y: float, mat: np.ndarray | None = None, z: float = 0.0) -> "Sprite":
        """A copy mapped by ``p -> mat @ p + (x, y)``, depths shifted by ``z``.

        Sizes (widths, radii) are scaled by ``sqrt(|det mat|)``.
        """
        mat = np.eye(2) if mat is None else np.asarray(mat, float)
        off = np.array([x, y], float)
        k = float(np.sqrt(abs(np.linalg.det(mat))))
        out = Sprite(self.name, [p.moved(mat, off, k, z) for p in self.prims])
        out.anchors = {n: mat @ a + off for n, a in self.anchors.items()}
        return out


def linear(scale: float = 1.0, deg: float = 0.0, flip: bool = False, squash: float = 1.0) -> np.ndarray:
    """The 2x2 matrix: scale, squash ``y`` (lay flat), rotate by ``deg``, then mirror ``x``."""
    m = rot(deg) @ np.diag([scale, scale * squash])
    return np.diag([-1.0, 1.0]) @ m if flip else m


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


# ---- ground objects -----------------------------------------------------------------------------
def bike(rng: np.random.Generator, size: float = 1.0, crank_deg: float | None = None) -> Sprite:
    """A side-view bicycle facing +x, wheels on the ground.

    Anchors: ``saddle``, ``grip``, ``pedal_near``, ``pedal_far``, ``front_hub``, ``rear_hub``,
    ``bb`` (bottom bracket); wheel radius in ``radius``.
    """
    s = size
    col = _pick(rng, [(200, 30, 30), (30, 80, 200), (20, 20, 20), (230, 200, 40), (30, 150, 80), (150, 150, 160), (240, 120, 20)])
    R, wb = 0.19 * s, 0.6 * s
    rear, front = np.array([-wb / 2, -R]), np.array([wb / 2, -R])
    bb = np.array([-0.04 * s, -R + 0.035 * s])
    seat = np.array([-0.13 * s, -R - 0.29 * s])
    st_top = bb + 0.82 * (seat - bb)
    ht_top, ht_bot = np.array([0.2 * s, -R - 0.27 * s]), np.array([0.225 * s, -R - 0.18 * s])
    bar = np.array([0.19 * s, -R - 0.335 * s])
    grip = np.array([0.135 * s, -R - 0.33 * s])
    sp = Sprite("bike")
    tyre = (25, 25, 25)
    for hub in (rear, front):
        sp.ring(hub, R, 0.028 * s, tyre, 0.0)
        sp.ring(hub, R * 0.86, 0.008 * s, (170, 170, 175), 0.0)
        for a in np.linspace(0, np.pi, 4, endpoint=False) + rng.uniform(0, np.pi):
            d = np.array([np.cos(a), np.sin(a)]) * R * 0.84
            sp.line([hub - d, hub + d], 0.005 * s, (160, 160, 165), 0.0)
        sp.disc(hub, 0.018 * s, (90, 90, 95), 0.001)
    w = 0.026 * s
    sp.line([rear, bb, seat], w, col, 0.01)
    sp.line([rear, st_top], w * 0.8, col, 0.01)
    sp.line([st_top, ht_top], w, col, 0.01)
    sp.line([bb, ht_bot], w * 1.1, col, 0.01)
    sp.line([ht_top, front], w, shade(col, 0.8), 0.01)
    sp.line([ht_top, bar, grip], 0.02 * s, (40, 40, 40), 0.02)
    sp.poly([seat + [-0.07 * s, -0.01 * s], seat + [0.05 * s, -0.022 * s], seat + [0.05 * s, -0.002 * s], seat + [-0.07 * s, 0.012 * s]], (30, 30, 30), 0.02)
    sp.disc(bb, 0.04 * s, (110, 110, 115), 0.011)
    a = np.deg2rad(rng.uniform(0, 360) if crank_deg is None else crank_deg)
    crank = 0.085 * s * np.array([np.cos(a), np.sin(a)])
    for k, name, z in ((1, "pedal_near", 0.05), (-1, "pedal_far", -0.05)):
        p = bb + k * crank
        sp.line([bb, p], 0.018 * s, (70, 70, 75), z)
        sp.line([p - [0.03 * s, 0], p + [0.03 * s, 0]], 0.018 * s, (30, 30, 30), z + 0.001)
        sp.anchors[name] = p
    sp.anchors.update(saddle=seat + [-0.01 * s, -0.02 * s], grip=grip, front_hub=front, rear_hub=rear, bb=bb)
    sp.anchors["radius"] = np.array([R, R])
    return sp


def horse(rng: np.random.Generator, size: float = 1.0, head_down: float = 0.0, saddle: bool = False) -> Sprite:
    """A side-view horse facing +x, hooves on the ground.

    Args:
        rng: random generator (colour, leg stance).
        size: scale (1.0: withers at about 0.9 of a person's height).
        head_down: 0 (head up) .. 1 (head lowered, as when eating from a hand).
        saddle: draw a saddle on the back.

    Anchors: ``back`` (where a rider sits), ``mouth``, ``head``, ``withers``, ``shoulder``.
    """
    s = size
    col = _pick(rng, [(120, 72, 40), (80, 50, 30), (40, 30, 25), (200, 190, 180), (160, 110, 60), (130, 130, 130), (220, 200, 160)])
    dark = shade(col, 0.6)
    sp = Sprite("horse")
    bc = np.array([0.0, -0.64 * s])
    sp.poly(ellipse_pts(bc[0], bc[1], 0.36 * s, 0.155 * s, 0, 22), col, 0.0)
    sp.disc(bc + [0.25 * s, 0.0], 0.14 * s, col, 0.0005)
    sp.disc(bc + [-0.26 * s, -0.01 * s], 0.145 * s, col, 0.0005)
    # legs: (hip x, z, stance)
    for x0, z in ((0.24, 0.08), (0.18, -0.08), (-0.26, 0.08), (-0.32, -0.08)):
        hind = x0 < 0
        top = bc + [x0 * s, 0.05 * s]
        sw = rng.uniform(-0.05, 0.05) * s
        knee = top + [(-0.04 if hind else 0.015) * s + sw * 0.5, 0.3 * s]
        hoof = np.array([top[0] + sw, 0.0]) + [0, -0.015 * s]
        c = col if z > 0 else shade(col, 0.8)
        sp.line([top, knee], 0.07 * s, c, z)
        sp.line([knee, hoof], 0.045 * s, c, z)
        sp.line([hoof - [0.02 * s, 0], hoof + [0.025 * s, 0]], 0.035 * s, (30, 25, 20), z + 0.001)
    # neck and head
    hd = float(np.clip(head_down, 0, 1))
    base_top, base_bot = bc + [0.24 * s, -0.12 * s], bc + [0.36 * s, 0.02 * s]
    ang = np.deg2rad(-60 + 95 * hd)  # neck direction from horizontal (negative: up)
    ndir = np.array([np.cos(ang), np.sin(ang)])
    nl = 0.34 * s
    head_base = 0.5 * (base_top + base_bot) + ndir * nl
    nperp = np.array([-ndir[1], ndir[0]])
    sp.poly([base_top, base_bot, head_base + nperp * 0.05 * s, head_base - nperp * 0.05 * s], col, 0.01)
    hang = ang + np.deg2rad(95 - 35 * hd)
    hdir = np.array([np.cos(hang), np.sin(hang)])
    head_c = head_base + hdir * 0.12 * s
    sp.poly(ellipse_pts(head_c[0], head_c[1], 0.15 * s, 0.055 * s, np.rad2deg(hang), 16), col, 0.012)
    mouth = head_base + hdir * 0.26 * s
    sp.disc(mouth - hdir * 0.03 * s, 0.045 * s, shade(col, 0.85), 0.013)
    ear = head_base - ndir * 0.01 * s + nperp * -0.05 * s
    sp.poly([ear, ear - ndir * 0.02 * s + nperp * 0.02 * s - hdir * 0.07 * s, ear + hdir * 0.03 * s], col, 0.011)
    sp.disc(head_base + hdir * 0.07 * s - nperp * 0.025 * s, 0.012 * s, (15, 10, 10), 0.014)
    mane_a = base_top + [-0.02 * s, -0.01 * s]
    sp.line([mane_a, head_base - nperp * 0.045 * s], 0.035 * s, dark, 0.0115)
    tail_a = bc + [-0.36 * s, -0.07 * s]
    sp.line([tail_a, tail_a + [-0.08 * s, 0.12 * s], tail_a + [-0.07 * s, 0.3 * s]], 0.045 * s, dark, -0.01)
    back = bc + [-0.02 * s, -0.16 * s]
    if saddle:
        sp.poly(ellipse_pts(back[0], back[1] + 0.01 * s, 0.1 * s, 0.04 * s, 0, 12), (60, 35, 20), 0.02)
        sp.line([back, back + [0, 0.2 * s]], 0.012 * s, (50, 30, 15), 0.03)
    sp.anchors.update(back=back, mouth=mouth, head=head_c, withers=base_top, shoulder=bc + [0.22 * s, -0.05 * s])
    return sp


def dog(rng: np.random.Generator, size: float = 1.0) -> Sprite:
    """A side-view dog facing +x, paws on the ground. Anchors: ``collar``, ``head``."""
    s = size * rng.uniform(0.85, 1.25)
    col = _pick(rng, [(120, 80, 40), (30, 25, 20), (230, 220, 200), (200, 150, 70), (150, 150, 150), (90, 60, 40)])
    dark = shade(col, 0.6)
    sp = Sprite("dog")
    bc = np.array([0.0, -0.17 * s])
    for x0, z in ((0.1, 0.05), (0.07, -0.05), (-0.1, 0.05), (-0.13, -0.05)):
        top = bc + [x0 * s, 0.02 * s]
        foot = np.array([top[0] + rng.uniform(-0.03, 0.03) * s, -0.008 * s])
        sp.line([top, foot], 0.03 * s, col if z > 0 else shade(col, 0.8), z)
    sp.poly(ellipse_pts(bc[0], bc[1], 0.15 * s, 0.058 * s, 0, 16), col, 0.0)
    head = bc + [0.16 * s, -0.08 * s]
    sp.line([bc + [0.1 * s, -0.01 * s], head], 0.06 * s, col, 0.005)
    sp.disc(head, 0.052 * s, col, 0.01)
    sp.line([head, head + [0.07 * s, 0.02 * s]], 0.04 * s, col, 0.011)
    sp.disc(head + [0.085 * s, 0.015 * s], 0.012 * s, (15, 10, 10), 0.012)
    sp.poly(ellipse_pts(head[0] - 0.02 * s, head[1] + 0.02 * s, 0.018 * s, 0.04 * s, 15, 10), dark, 0.013)
    sp.disc(head + [0.02 * s, -0.015 * s], 0.008 * s, (15, 10, 10), 0.012)
    tail = bc + [-0.14 * s, -0.02 * s]
    sp.line([tail, tail + [-0.05 * s, -0.07 * s]], 0.018 * s, col, -0.01)
    collar = head + [-0.04 * s, 0.04 * s]
    sp.line([collar - [0.0, 0.03 * s], collar + [0.015 * s, 0.02 * s]], 0.015 * s, (200, 30, 30), 0.012)
    sp.anchors.update(collar=collar, head=head)
    return sp


# ---- hand-held objects --------------------------------------------------------------------------
def guitar(rng: np.random.Generator, size: float = 1.0) -> Sprite:
    """A guitar lying along +x (body at the origin, head at +x). Anchors: ``strum``, ``fret``, ``head``."""
    s = size
    wood = _pick(rng, [(190, 120, 50), (150, 80, 30), (200, 40, 30), (30, 30, 30), (230, 180, 90), (40, 70, 150)])
    sp = Sprite("guitar")
    sp.disc([0, 0], 0.09 * s, wood)
    sp.disc([0.105 * s, 0], 0.07 * s, wood, 0.0001)
    sp.disc([0.08 * s, 0], 0.026 * s, (20, 15, 10), 0.0002)
    neck_c = (90, 55, 25)
    sp.line([[0.14 * s, 0], [0.43 * s, 0]], 0.03 * s, neck_c, 0.0003)
    sp.line([[0.43 * s, 0], [0.5 * s, 0]], 0.042 * s, shade(neck_c, 0.8), 0.0003)
    sp.line([[-0.05 * s, 0], [0.43 * s, 0]], 0.006 * s, (230, 230, 220), 0.0004)
    sp.anchors.update(strum=np.array([0.03 * s, 0.0]), fret=np.array([0.35 * s, 0.0]), head=np.array([0.48 * s, 0.0]))
    return sp


def book(rng: np.random.Generator, size: float = 1.0, open_: bool = True) -> Sprite:
    """A book centred on the origin, open (two pages with text lines) or closed. Anchors: ``left``, ``right``."""
    s = size
    cover = _pick(rng, [(160, 30, 30), (30, 60, 140), (30, 110, 60), (120, 60, 20), (200, 160, 40), (90, 40, 110)])
    paper = _pick(rng, [(250, 248, 235), (240, 235, 210), (255, 255, 255)])
    sp = Sprite("book")
    w, h = 0.13 * s, 0.18 * s
    if open_:
        sp.poly([[-w - 0.01 * s, -h / 2 - 0.008 * s], [w + 0.01 * s, -h / 2 - 0.008 * s], [w + 0.01 * s, h / 2 + 0.01 * s], [-w - 0.01 * s, h / 2 + 0.01 * s]], cover)
        for k in (-1, 1):
            sp.poly([[0, -h / 2 + 0.006 * s], [k * w, -h / 2], [k * w, h / 2], [0, h / 2 + 0.006 * s]], paper, 0.0001)
            for i in range(4):
                yy = -h / 2 + (i + 1.2) * h / 5.5
                sp.line([[k * 0.02 * s, yy], [k * (w - 0.02 * s), yy]], 0.007 * s, (120, 120, 130), 0.0002)
        sp.line([[0, -h / 2], [0, h / 2]], 0.006 * s, shade(paper, 0.7), 0.0003)
    else:
        sp.poly([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], cover)
        sp.line([[-w / 2 + 0.012 * s, -h / 2], [-w / 2 + 0.012 * s, h / 2]], 0.012 * s, shade(cover, 0.7), 0.0001)
        sp.line([[w / 2, -h / 2 + 0.01 * s], [w / 2, h / 2 - 0.01 * s]], 0.008 * s, paper, 0.0001)
    sp.anchors.update(left=np.array([-w * 0.8, h * 0.25]), right=np.array([w * 0.8, h * 0.25]))
    return sp


def phone(rng: np.random.Generator, size: float = 1.0) -> Sprite:
    """A smartphone centred on the origin, long side along ``y``."""
    s = size
    body = _pick(rng, [(25, 25, 30), (200, 200, 205), (230, 210, 190), (40, 60, 110), (150, 30, 40)])
    screen = _pick(rng, [(120, 190, 250), (200, 230, 255), (90, 200, 170), (250, 250, 250)])
    w, h = 0.062 * s, 0.11 * s
    sp = Sprite("phone")
    sp.poly([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], body)
    sp.poly([[-w / 2 + 0.008 * s, -h / 2 + 0.012 * s], [w / 2 - 0.008 * s, -h / 2 + 0.012 * s], [w / 2 - 0.008 * s, h / 2 - 0.012 * s], [-w / 2 + 0.008 * s, h / 2 - 0.012 * s]], screen, 0.0001)
    return sp


def camera(rng: np.random.Generator, size: float = 1.0, profile: bool = False) -> Sprite:
    """A camera centred on the origin: seen from the front (lens disc) or in profile (lens along +x)."""
    s = size * 1.15
    body = _pick(rng, [(30, 30, 30), (60, 60, 65), (190, 190, 195)])
    sp = Sprite("camera")
    if profile:
        sp.poly([[-0.035 * s, -0.04 * s], [0.02 * s, -0.04 * s], [0.02 * s, 0.04 * s], [-0.035 * s, 0.04 * s]], body)
        sp.poly([[0.02 * s, -0.028 * s], [0.075 * s, -0.028 * s], [0.075 * s, 0.028 * s], [0.02 * s, 0.028 * s]], shade(body, 0.7) if body[0] > 100 else (15, 15, 15), 0.0001)
        sp.line([[0.076 * s, -0.024 * s], [0.076 * s, 0.024 * s]], 0.008 * s, (90, 140, 200), 0.0002)
        sp.poly([[-0.02 * s, -0.04 * s], [0.0, -0.058 * s], [0.015 * s, -0.04 * s]], body, 0.0001)
    else:
        sp.poly([[-0.065 * s, -0.04 * s], [0.065 * s, -0.04 * s], [0.065 * s, 0.042 * s], [-0.065 * s, 0.042 * s]], body)
        sp.poly([[-0.02 * s, -0.04 * s], [0.0, -0.058 * s], [0.025 * s, -0.04 * s]], body, 0.0001)
        sp.disc([0.005 * s, 0.003 * s], 0.034 * s, (15, 15, 15), 0.0002)
        sp.disc([0.005 * s, 0.003 * s], 0.02 * s, (70, 110, 170), 0.0003)
        sp.disc([-0.045 * s, -0.025 * s], 0.008 * s, (240, 240, 240), 0.0003)
    return sp


def laptop(rng: np.random.Generator, size: float = 1.0, open_deg: float = 105.0) -> Sprite:
    """A laptop in profile standing on ``y = 0``; the user sits on the -x side, the hinge is at +x.

    Anchors: ``keys`` (where the hands type), ``screen``, ``lid`` (the lid's free edge).
    """
    s = size
    shell = _pick(rng, [(180, 180, 185), (60, 60, 65), (30, 30, 35), (200, 190, 170)])
    glow = _pick(rng, [(150, 210, 255), (220, 240, 255), (120, 230, 190)])
    L, t = 0.24 * s, 0.016 * s
    sp = Sprite("laptop")
    sp.poly([[-L, -t], [0, -t], [0, 0], [-L, 0]], shell)
    sp.poly([[-L, -t - 0.018 * s], [0, -t - 0.018 * s], [0, -t], [-L, -t]], shade(shell, 0.8), 0.0001)
    a = np.deg2rad(180 - open_deg)
    d = np.array([-np.cos(a), -np.sin(a)]) * 0.2 * s  # from the hinge, up and back over the keys
    hinge = np.array([0, -t])
    n = np.array([-d[1], d[0]]) / np.linalg.norm(d)
    sp.poly([hinge, hinge + d, hinge + d + n * 0.018 * s, hinge + n * 0.018 * s], shell, 0.0002)
    sp.line([hinge - n * 0.004 * s + d * 0.08, hinge + d * 0.92 - n * 0.004 * s], 0.012 * s, glow, 0.0003)
    sp.anchors.update(keys=np.array([-0.6 * L, -t - 0.01 * s]), screen=hinge + d * 0.5, lid=hinge + d)
    return sp


def pen(rng: np.random.Generator, size: float = 1.0) -> Sprite:
    """A pen from the origin (tip) along -y."""
    s = size
    col = _pick(rng, [(20, 40, 160), (20, 20, 20), (180, 20, 20), (230, 200, 30)])
    sp = Sprite("pen")
    sp.line([[0, 0], [0, -0.1 * s]], 0.014 * s, col)
    sp.line([[0, 0], [0, -0.015 * s]], 0.008 * s, (200, 200, 200), 0.0001)
    return sp


# ---- furniture ----------------------------------------------------------------------------------
WOOD = [(150, 100, 60), (110, 70, 40), (200, 160, 110), (120, 120, 125), (230, 230, 225), (80, 60, 50)]


def table(rng: np.random.Generator, height: float = 0.43, length: float = 0.7) -> Sprite:
    """A side-view table on ``y = 0``, top from ``x = 0`` to ``length`` at ``height``; the top surface shows.

    Anchors: ``top_near`` (edge at x = 0), ``top_far``.
    """
    col = _pick(rng, WOOD)
    sp = Sprite("table")
    t, dep = 0.03, 0.05
    sp.poly([[0, -height], [length, -height], [length + 0.02, -height - dep], [0.02, -height - dep]], shade(col, 1.15))
    sp.poly([[0, -height], [length, -height], [length, -height + t], [0, -height + t]], col, 0.0001)
    for x in (0.04, length - 0.04):
        sp.line([[x, -height + t], [x, 0]], 0.03, shade(col, 0.8), -0.001)
    sp.anchors.update(top_near=np.array([0.0, -height - dep / 2]), top_far=np.array([length, -height - dep / 2]))
    return sp


def chair(rng: np.random.Generator, height: float = 0.26, back: bool = True) -> Sprite:
    """A side-view chair or stool on ``y = 0``; the sitter faces +x. Anchor: ``seat``."""
    col = _pick(rng, WOOD)
    sp = Sprite("chair")
    w = 0.2
    sp.line([[-w / 2, -height], [w / 2, -height]], 0.035, col)
    for x in (-w / 2 + 0.02, w / 2 - 0.02):
        sp.line([[x, -height], [x, 0]], 0.025, shade(col, 0.8), -0.001)
    if back:
        sp.line([[-w / 2, -height], [-w / 2 - 0.03, -height - 0.28]], 0.03, col, -0.002)
    sp.anchors["seat"] = np.array([0.0, -height - 0.02])
    return sp


def tripod(rng: np.random.Generator, height: float = 0.75) -> tuple[Sprite, np.ndarray]:
    """Three tripod legs on ``y = 0`` (scenery) and the point where a camera sits on top."""
    sp = Sprite("tripod")
    top = np.array([0.0, -height])
    for dx in (-0.14, 0.0, 0.14):
        sp.line([top, [dx + rng.uniform(-0.02, 0.02), 0]], 0.015, (50, 50, 50), -0.01 if dx == 0 else 0.0)
    return sp, top + np.array([0.0, -0.045])


def colour_variant(c: Color, rng: np.random.Generator) -> Color:
    """A slightly different shade of ``c`` (so repeated objects are not pixel copies)."""
    return mix(c, (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0), rng.uniform(0, 0.2))
