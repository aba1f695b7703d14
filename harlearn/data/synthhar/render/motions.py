"""SynthHAR clip actions: a person's pose as a function of time, with the same props throughout.

A *motion* is ``motion(rng, body, s) -> pose``: it draws everything random about one clip up
front (the view, the jitter of every joint target, the props' looks, the tempo), then
``pose(u)`` builds the actor :class:`~.canvas.Group` at clip time ``u`` in ``[0, 1]`` without
drawing anything, so consecutive frames differ only by the motion. Props are rebuilt each
frame from the same seed (same colours, same shape) in their moving state (a crank, a lid).

The classes (UCF101-style CamelCase names, :data:`CLIP_CLASSES`) come in three kinds:

* **time-reversal pairs** (:data:`REVERSAL_PAIRS`): ``SittingDown`` / ``StandingUp`` (a chair),
  ``PuttingOnHat`` / ``TakingOffHat``, ``OpeningLaptop`` / ``ClosingLaptop`` (at a table). The
  second of each pair is the first played backwards, ``pose_b(u) = pose_a(1 - u)``, with the
  same distribution of everything else (the pauses before and after the movement are drawn
  from one distribution), so the set of frames of a clip says nothing about its class: only
  their order does;
* a **rhythm pair** (:data:`RHYTHM_PAIRS`): ``FastClapping`` / ``SlowClapping``, the same hands
  meeting in front of the chest on the same path, about three beats per clip against one, from
  a random phase: every single frame is drawn from the same distribution in both classes;
* **appearance classes** (:data:`APPEARANCE_CLASSES`): ``Biking`` (pedalling),
  ``PlayingGuitar`` (strumming), ``WalkingWithDog`` (walking across the scene), ``JumpingJack``:
  a single frame tells them apart, by their objects and poses.

Time is in clip units: a movement takes the clip minus its pauses whatever the frame count,
so a clip of 8 frames and one of 16 show the same action, sampled more or less densely.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import objects as ob
from .actions import _near, _seated, _standing, _yaw_any, _yaw_side, add_person, add_sprite, shadow
from .canvas import Group
from .figure import ANKLE_H, LEFT, RIGHT, Body, Figure, _vec

__all__ = [
    "CLIP_CLASSES", "REVERSAL_PAIRS", "RHYTHM_PAIRS", "APPEARANCE_CLASSES", "MOTIONS", "CLIP_OBJECTS",
    "build_motion", "progress",
]

Pose = Callable[[float], Group]

#: Pairs whose second class is the first played backwards.
REVERSAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("SittingDown", "StandingUp"), ("PuttingOnHat", "TakingOffHat"), ("OpeningLaptop", "ClosingLaptop"),
)
#: Pairs that share every pose and differ only in tempo.
RHYTHM_PAIRS: tuple[tuple[str, str], ...] = (("FastClapping", "SlowClapping"),)
#: Classes one frame solves (their objects and poses differ).
APPEARANCE_CLASSES: tuple[str, ...] = ("Biking", "JumpingJack", "PlayingGuitar", "WalkingWithDog")
#: Every clip class, sorted (the order of ``classInd.txt``, 1-based there).
CLIP_CLASSES: tuple[str, ...] = tuple(sorted([c for p in REVERSAL_PAIRS + RHYTHM_PAIRS for c in p] + list(APPEARANCE_CLASSES)))
#: The objects each clip class is drawn with (never used as its distractors).
CLIP_OBJECTS: dict[str, tuple[str, ...]] = {
    "SittingDown": ("chair",), "StandingUp": ("chair",), "PuttingOnHat": ("hat",), "TakingOffHat": ("hat",),
    "OpeningLaptop": ("laptop", "table", "chair"), "ClosingLaptop": ("laptop", "table", "chair"),
    "FastClapping": (), "SlowClapping": (), "Biking": ("bike",), "JumpingJack": (), "PlayingGuitar": ("guitar",),
    "WalkingWithDog": ("dog",),
}


def progress(u: float, start: float, end: float) -> float:
    """How far a movement that runs from clip time ``start`` to ``end`` has got at ``u``: 0, then a smooth rise, then 1."""
    x = float(np.clip((u - start) / max(end - start, 1e-6), 0.0, 1.0))
    return x * x * (3.0 - 2.0 * x)  # smoothstep: starts and stops gently


def _pauses(rng: np.random.Generator) -> tuple[float, float]:
    """When the movement of a reversal clip starts and ends; the two pauses share one distribution."""
    return float(rng.uniform(0.0, 0.25)), 1.0 - float(rng.uniform(0.0, 0.25))


def _sub(seed: int) -> np.random.Generator:
    """A fresh generator for a prop, the same every frame."""
    return np.random.default_rng(seed)


# ---- time-reversal pairs ------------------------------------------------------------------------
def sitting_down(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """Standing in front of a chair, then sitting on it (``StandingUp``: backwards)."""
    yaw = _yaw_side(rng, s, 50, 90)
    seat_h, back, cseed = rng.uniform(0.24, 0.28), bool(rng.random() < 0.6), int(rng.integers(2**63))
    foot_f, stance = body.thigh + rng.uniform(0.0, 0.06), rng.uniform(0.0, 0.03)
    lean0, lean_mid, tilt = rng.normal(0, 3), rng.uniform(25, 40), rng.normal(0, 6)
    swing = rng.uniform(0.05, 0.15)
    t0, t1 = _pauses(rng)

    def pose(u: float) -> Group:
        k = progress(u, t0, t1)  # 0 standing, 1 seated
        g = Group()
        chp = ob.chair(_sub(cseed), seat_h, back=back).placed(0.0, 0.0, ob.linear(flip=s < 0), -0.3)
        add_sprite(g, chp)
        seat = chp.anchors["seat"]
        ankle_x = seat[0] + s * foot_f
        hip_seated = np.array([seat[0], seat[1] - 0.035])
        hip_standing = np.array([ankle_x - s * 0.03, -(body.stand_hip - 0.01)])
        hip = (1 - k) * hip_standing + k * hip_seated
        hip[0] -= s * 0.06 * np.sin(np.pi * k)  # the hips reach back before they drop
        fig = Figure(body, yaw, (hip[0], hip[1]))
        fig.set_torso(lean=lean0 + lean_mid * np.sin(np.pi * k) + 8 * k, head_tilt=tilt)
        for side in (LEFT, RIGHT):
            lat = side * (body.hip_half + stance)
            fig.set_leg(side, fig.from2d(np.array([ankle_x, -ANKLE_H]), lat), _vec(1, 0, 0.3))
            fig.hang_arm(side, swing=swing * np.sin(np.pi * k))
        add_person(g, fig, "actor", None)
        shadow(g, seat[0] + s * 0.05, 0.18)
        return g

    return pose


def _hat(seed: int, center: np.ndarray, size: float, deg: float, z: float) -> ob.Sprite:
    """A hat: crown and brim, its brim's centre at ``center``."""
    r = _sub(seed)
    col = [(30, 30, 35), (120, 70, 30), (180, 30, 30), (40, 60, 140), (200, 190, 150), (40, 110, 60)][int(r.integers(6))]
    band = [(240, 240, 240), (20, 20, 20), (200, 160, 40)][int(r.integers(3))]
    w, h = 0.075 * size, 0.07 * size
    sp = ob.Sprite("hat")
    sp.poly([[-w * 0.7, 0], [-w * 0.6, -h], [w * 0.6, -h], [w * 0.7, 0]], col)
    sp.line([[-w * 0.68, -h * 0.25], [w * 0.68, -h * 0.25]], 0.012 * size, band, 0.0001)
    sp.line([[-w * 1.25, 0], [w * 1.25, 0]], 0.016 * size, col, 0.0002)
    return sp.placed(center[0], center[1], ob.rot(deg), z)


def putting_on_hat(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """A hat held low in one hand, lifted in an arc and put on the head (``TakingOffHat``: backwards)."""
    yaw = _yaw_any(rng, 70)
    stride, stance, hip_drop = rng.uniform(-0.08, 0.08), rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.015)
    lean, tilt = rng.normal(0, 3), rng.normal(0, 6)
    hand_side = LEFT if rng.random() < 0.5 else RIGHT
    low = _vec(rng.uniform(0.05, 0.14), hand_side * rng.uniform(0.06, 0.12), -rng.uniform(0.35, 0.45))  # from the shoulder
    arc = rng.uniform(0.12, 0.2)
    hseed, hsize, other_swing = int(rng.integers(2**63)), rng.uniform(0.9, 1.15), rng.normal(0, 0.04)
    t0, t1 = _pauses(rng)
    leg_rng_seed = int(rng.integers(2**63))

    def pose(u: float) -> Group:
        k = progress(u, t0, t1)  # 0 hat in hand, 1 hat on head
        g = Group()
        fig = Figure(body, yaw, (0.0, -(body.stand_hip - hip_drop)))
        fig.stand_legs(_sub(leg_rng_seed), stride=stride, stance=stance)
        fig.set_torso(lean=lean, head_tilt=tilt)
        c, hu, hf, hl = fig.head
        top = c + hu * body.head_r * 1.05  # where the hat's brim sits on the head
        sh = fig.shoulder(hand_side)
        start = sh + low
        hand = (1 - k) * start + k * (top + hu * 0.01) + _vec(arc * np.sin(np.pi * k), 0, 0.05 * np.sin(np.pi * k))
        fig.set_arm(hand_side, hand, _vec(-0.2, hand_side * 0.8, -0.6))
        fig.hang_arm(-hand_side, swing=other_swing)
        add_person(g, fig, "actor", None)
        w = fig.to2d(fig.j["left_wrist" if hand_side > 0 else "right_wrist"])
        held = w + np.array([0.0, 0.03])  # hanging from the hand ...
        worn = fig.to2d(top)  # ... or on the head
        centre = (1 - k) * held + k * worn
        deg = (1 - k) * 70 * (1 if fig.sy >= 0 else -1) + k * (-(fig.lean + tilt) * 0.3 * np.sign(fig.sy))
        add_sprite(g, _hat(hseed, centre, hsize, deg, max(fig.depth(top), fig.depth(hand)) + 0.06))
        shadow(g, 0.0, 0.16)
        return g

    return pose


def opening_laptop(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """Seated at a table, lifting a laptop's lid from closed to open (``ClosingLaptop``: backwards)."""
    yaw = _yaw_side(rng, s, 55, 90)
    flip = s < 0
    seat_h, back, cseed = rng.uniform(0.24, 0.28), bool(rng.random() < 0.7), int(rng.integers(2**63))
    top_h, near_f, length, tseed = seat_h + rng.uniform(0.15, 0.2), rng.uniform(0.1, 0.17), rng.uniform(0.55, 0.8), int(rng.integers(2**63))
    hinge_f, lsize, lseed = rng.uniform(0.3, 0.38), rng.uniform(1.3, 1.6), int(rng.integers(2**63))
    closed, opened = rng.uniform(3, 10), rng.uniform(100, 120)
    lean, tilt = rng.uniform(0, 12), rng.uniform(5, 20)
    rest = rng.uniform(0.0, 0.05)
    seat_seed = int(rng.integers(2**63))
    t0, t1 = _pauses(rng)

    def pose(u: float) -> Group:
        k = progress(u, t0, t1)  # 0 closed, 1 open
        g = Group()
        ch = ob.chair(_sub(cseed), seat_h, back=back).placed(0.0, 0.0, ob.linear(flip=flip), -0.4)
        add_sprite(g, ch)
        fig = _seated(body, yaw, _sub(seat_seed), ch.anchors["seat"])
        near_x = s * near_f
        add_sprite(g, ob.table(_sub(tseed), top_h, length).placed(near_x, 0.0, ob.linear(flip=flip), -0.3))
        fig.set_torso(lean=lean, head_tilt=tilt)
        top_y = -top_h - 0.025
        lp = ob.laptop(_sub(lseed), lsize, (1 - k) * closed + k * opened).placed(near_x + s * hinge_f, top_y + 0.012, ob.linear(flip=flip), -0.1)
        near = _near(fig)
        fig.set_arm(near, fig.from2d(lp.anchors["lid"] + np.array([0.0, -0.01]), near * 0.06), _vec(-1, near * 0.4, -0.5))
        fig.set_arm(-near, fig.from2d(lp.anchors["keys"] + np.array([-s * (0.06 + rest), -0.01]), -near * 0.08), _vec(-1, -near * 0.4, -0.5))
        add_person(g, fig, "actor", None)
        add_sprite(g, lp)
        return g

    return pose


def _reversed(motion: Callable[..., Pose]) -> Callable[..., Pose]:
    def backwards(rng: np.random.Generator, body: Body, s: float) -> Pose:
        pose = motion(rng, body, s)
        return lambda u: pose(1.0 - u)

    backwards.__doc__ = f"{motion.__name__}, played backwards."
    return backwards


# ---- the rhythm pair ----------------------------------------------------------------------------
def _clapping(beats: tuple[float, float]) -> Callable[..., Pose]:
    def clapping(rng: np.random.Generator, body: Body, s: float) -> Pose:
        yaw = _yaw_any(rng, 60)
        leg_seed, stride, stance = int(rng.integers(2**63)), rng.uniform(-0.1, 0.1), rng.uniform(0.0, 0.06)
        lean, tilt = rng.normal(0, 4), rng.normal(0, 8)
        fwd, lat, down = rng.uniform(0.12, 0.22), rng.normal(0, 0.015), rng.uniform(0.03, 0.17)
        gap = rng.uniform(0.11, 0.17)  # half the distance between the hands when apart
        freq, phase = rng.uniform(*beats), rng.uniform(0, 2 * np.pi)

        def pose(u: float) -> Group:
            g = Group()
            fig = Figure(body, yaw, (0.0, -body.stand_hip))
            fig.stand_legs(_sub(leg_seed), stride=stride, stance=stance)
            fig.set_torso(lean=lean, head_tilt=tilt)
            neck = fig.j["neck_base"]
            c = _vec(neck[0] + fwd, lat, neck[2] - down)
            open_ = 0.5 * (1 - np.cos(2 * np.pi * freq * u + phase))  # 0: hands together, 1: apart
            for side in (LEFT, RIGHT):
                fig.set_arm(side, c + _vec(-0.02 * open_, side * (0.012 + gap * open_), 0), _vec(-0.3, side, -0.8))
            add_person(g, fig, "actor", None)
            shadow(g, 0.0, 0.16)
            return g

        return pose

    return clapping


# ---- appearance classes -------------------------------------------------------------------------
def biking(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """Pedalling a bike (the crank turns; the rider stays on the saddle)."""
    size, bseed = body.leg / 0.47 * rng.uniform(0.95, 1.05), int(rng.integers(2**63))
    yaw, lean = _yaw_side(rng, s, 68, 90), rng.uniform(18, 45)
    tilt = -0.5 * lean + rng.normal(0, 5)
    crank0, turns = rng.uniform(0, 360), rng.uniform(0.8, 1.4)

    def pose(u: float) -> Group:
        g = Group()
        bk = ob.bike(_sub(bseed), size, crank0 + 360 * turns * u * s).placed(0.0, 0.0, ob.linear(flip=s < 0))
        a = bk.anchors
        fig = Figure(body, yaw, (a["saddle"][0], a["saddle"][1] - 0.03))
        fig.set_torso(lean=lean, head_tilt=tilt)
        near = _near(fig)
        for side in (LEFT, RIGHT):
            fig.set_arm(side, fig.from2d(a["grip"], side * 0.11), _vec(-0.3, side * 0.3, -1))
            pedal = a["pedal_near"] if side == near else a["pedal_far"]
            fig.set_leg(side, fig.from2d(pedal + np.array([0.0, -ANKLE_H]), side * body.hip_half), _vec(1, 0, 0.4))
        add_person(g, fig, "actor", None)
        add_sprite(g, bk)
        shadow(g, 0.0, 0.42)
        return g

    return pose


def jumping_jack(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """Jumping jacks: arms from the sides to overhead and feet apart, back, in a steady rhythm."""
    yaw = _yaw_any(rng, 40)
    reps, phase = rng.uniform(1.5, 2.5), rng.uniform(0, 2 * np.pi)
    spread, reach, hop = rng.uniform(0.12, 0.2), rng.uniform(0.22, 0.32), rng.uniform(0.02, 0.06)
    lean, tilt = rng.normal(0, 3), rng.normal(-3, 5)

    def pose(u: float) -> Group:
        k = 0.5 * (1 - np.cos(2 * np.pi * reps * u + phase))  # 0 closed, 1 star
        g = Group()
        lift = hop * np.sin(np.pi * k)
        fig = Figure(body, yaw, (0.0, -(body.stand_hip + lift)))
        fig.set_torso(lean=lean, head_tilt=tilt)
        h = fig.hip2d_ground()
        for side in (LEFT, RIGHT):
            fig.set_leg(side, _vec(0.0, side * (body.hip_half + 0.02 + spread * k), -(h - ANKLE_H - lift)), _vec(1, side * 0.3, 0.2))
            sh = fig.shoulder(side)
            ang = np.deg2rad(10 + 160 * k)  # the arm's angle from hanging down, out to the side
            hand = sh + 0.95 * body.arm * _vec(0.02, side * np.sin(ang), -np.cos(ang))
            fig.set_arm(side, hand, _vec(0, side, 0.3))
        add_person(g, fig, "actor", None)
        shadow(g, 0.0, 0.16)
        return g

    return pose


def playing_guitar(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """Standing with a guitar, the right hand strumming."""
    yaw = _yaw_any(rng, 65)
    leg_seed, stance = int(rng.integers(2**63)), rng.uniform(0.0, 0.06)
    lean, tilt = rng.normal(3, 5), rng.uniform(5, 25)
    gb = _vec(0.13, -0.05, rng.uniform(0.0, 0.1))
    gh = gb + _vec(0.05, rng.uniform(0.3, 0.38), rng.uniform(0.15, 0.3))
    gsize, gseed = rng.uniform(0.95, 1.15), int(rng.integers(2**63))
    strums, amp, phase = rng.uniform(2.0, 3.5), rng.uniform(0.03, 0.05), rng.uniform(0, 2 * np.pi)

    def pose(u: float) -> Group:
        g = Group()
        fig = Figure(body, yaw, (0.0, -body.stand_hip))
        fig.stand_legs(_sub(leg_seed), stride=0.0, stance=stance)
        fig.set_torso(lean=lean, head_tilt=tilt)
        b2, h2 = fig.to2d(gb), fig.to2d(gh)
        d2 = h2 - b2
        deg = np.rad2deg(np.arctan2(d2[1], d2[0]))
        fore = float(np.clip(np.linalg.norm(d2) / np.linalg.norm(gh - gb), 0.45, 1.0))
        gs = ob.guitar(_sub(gseed), gsize).placed(b2[0], b2[1], ob.rot(deg) @ np.diag([fore, 1.0]), fig.depth(gb) + 0.01)
        strum = amp * np.sin(2 * np.pi * strums * u + phase)
        fig.set_arm(RIGHT, gb + _vec(0.05, 0.02, 0.02 + strum), _vec(-0.3, -0.6, -1))
        fig.set_arm(LEFT, gb + 0.72 * (gh - gb) + _vec(0.04, 0, -0.02), _vec(-0.2, 0.4, -1))
        add_person(g, fig, "actor", None)
        add_sprite(g, gs)
        shadow(g, 0.0, 0.16)
        return g

    return pose


def walking_with_dog(rng: np.random.Generator, body: Body, s: float) -> Pose:
    """Walking across the scene with a dog on a leash (legs and the free arm swing)."""
    yaw = _yaw_side(rng, s, 60, 90)
    stride, steps, phase = rng.uniform(0.18, 0.3), rng.uniform(1.5, 2.5), rng.uniform(0, 2 * np.pi)
    speed = stride * steps * 2 * rng.uniform(0.35, 0.5)  # distance per clip, in heights (the feet slide a little)
    lean, tilt = rng.uniform(0, 8), rng.normal(5, 8)
    side = LEFT if rng.random() < 0.5 else RIGHT
    hold = _vec(rng.uniform(0.12, 0.26), side * 0.04, -rng.uniform(0.2, 0.29))
    dx, dsize, dseed = s * rng.uniform(0.45, 0.75), rng.uniform(0.95, 1.3), int(rng.integers(2**63))
    leash_col = [(200, 30, 30), (30, 30, 30), (30, 60, 160), (40, 140, 60)][int(rng.integers(4))]
    sag = rng.uniform(0.0, 0.06)

    def pose(u: float) -> Group:
        g = Group()
        x = s * speed * (u - 0.5)
        w = np.sin(2 * np.pi * steps * u + phase)  # -1 .. 1: which leg is ahead
        fig = Figure(body, yaw, (x, -(body.stand_hip - 0.02 - 0.03 * abs(w))))
        h = fig.hip2d_ground()
        for leg, k in ((LEFT, 1.0), (RIGHT, -1.0)):
            fig.set_leg(leg, _vec(k * w * stride / 2, leg * (body.hip_half + 0.01), -(h - ANKLE_H) + 0.04 * max(0.0, -k * w)), _vec(1, 0, 0.3))
        fig.set_torso(lean=lean, head_tilt=tilt)
        fig.set_arm(side, fig.shoulder(side) + hold, _vec(-1, 0, -0.3))
        fig.hang_arm(-side, swing=-0.12 * w * (1 if side > 0 else -1))
        add_person(g, fig, "actor", None)
        dg = ob.dog(_sub(dseed), dsize).placed(x + dx, 0.0, ob.linear(flip=s < 0), 0.1)
        add_sprite(g, dg)
        hand = fig.to2d(fig.j["left_wrist" if side > 0 else "right_wrist"])
        col = dg.anchors["collar"]
        leash = ob.Sprite("leash")
        leash.line([hand, 0.5 * (hand + col) + np.array([0.0, sag]), col], 0.013, leash_col, 0.2)
        add_sprite(g, leash, None)
        shadow(g, x, 0.18)
        shadow(g, x + dx, 0.14)
        return g

    return pose


MOTIONS: dict[str, Callable[..., Pose]] = {
    "SittingDown": sitting_down, "StandingUp": _reversed(sitting_down),
    "PuttingOnHat": putting_on_hat, "TakingOffHat": _reversed(putting_on_hat),
    "OpeningLaptop": opening_laptop, "ClosingLaptop": _reversed(opening_laptop),
    "FastClapping": _clapping((2.6, 3.2)), "SlowClapping": _clapping((0.8, 1.1)),
    "Biking": biking, "JumpingJack": jumping_jack, "PlayingGuitar": playing_guitar, "WalkingWithDog": walking_with_dog,
}
assert set(MOTIONS) == set(CLIP_CLASSES)


def build_motion(action: str, rng: np.random.Generator, body: Body) -> Pose:
    """The pose function of clip class ``action``, facing a random way: ``pose(u) -> Group``, ``u`` in ``[0, 1]``."""
    s = 1.0 if rng.random() < 0.5 else -1.0
    return MOTIONS[action](rng, body, s)
