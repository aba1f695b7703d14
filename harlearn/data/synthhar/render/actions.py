"""The 16 SynthHAR actions: each is a pose plus a relation between the person and an object.

Every builder takes the image's random generator, a :class:`~.figure.Body` and a facing sign
``s`` (+1: towards +x, -1: towards -x) and returns a :class:`~.canvas.Group` (the actor and its
props) in a frame whose unit is the actor's standing height, with the ground at ``y = 0``.

The five confusable pairs share their objects and differ only in the relation or the pose:

- bike: *riding* (on the saddle, hands on the handlebar, feet on the pedals) vs *fixing*
  (crouching beside the bike, hands at a wheel);
- horse: *riding* (sitting on its back, holding the reins) vs *feeding* (standing at its
  head, one hand at its mouth);
- book: *reading* (held open in front, both hands) vs *writing* (lying on a table, a pen in
  one hand);
- hands: *applauding* (hands together in front of the chest) vs *waving* (one or both arms
  raised);
- phone: *phoning* (at the ear) vs *texting* (in both hands in front, head down).

Every pose is jittered (joint targets, lean, head tilt, view angle, stance), so two images
of one class never repeat, and several classes overlap on purpose (jumping and waving both
raise arms; texting and applauding both bring the hands together in front).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .canvas import Group, Part, Prim, ellipse_pts
from .figure import ANKLE_H, LEFT, RIGHT, Body, Figure, _vec
from . import objects as ob

__all__ = [
    "CLASSES", "CONFUSABLE_PAIRS", "VOC_ACTIONS", "VOC_MAPPING", "DISTRACTOR_OBJECTS",
    "CLASS_OBJECTS", "DESIGNATED_DISTRACTOR", "BUILDERS", "build_actor", "build_bystander",
    "add_person", "add_sprite",
]

#: The SynthHAR classes (Stanford40 names), sorted as in ``ImageSplits/actions.txt``.
CLASSES: tuple[str, ...] = (
    "applauding", "feeding_a_horse", "fixing_a_bike", "jumping", "phoning", "playing_guitar",
    "reading", "riding_a_bike", "riding_a_horse", "running", "taking_photos", "texting_message",
    "using_a_computer", "walking_the_dog", "waving_hands", "writing_on_a_book",
)
#: Pairs that share objects and differ only in pose or person-object relation.
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("riding_a_bike", "fixing_a_bike"),
    ("riding_a_horse", "feeding_a_horse"),
    ("reading", "writing_on_a_book"),
    ("applauding", "waving_hands"),
    ("phoning", "texting_message"),
)
#: The ten scored PASCAL VOC 2012 actions, in devkit order.
VOC_ACTIONS: tuple[str, ...] = (
    "jumping", "phoning", "playinginstrument", "reading", "ridingbike", "ridinghorse",
    "running", "takingphoto", "usingcomputer", "walking",
)
#: SynthHAR class -> VOC action; the classes not listed are VOC's ``other``.
VOC_MAPPING: dict[str, str] = {
    "jumping": "jumping", "phoning": "phoning", "playing_guitar": "playinginstrument",
    "reading": "reading", "riding_a_bike": "ridingbike", "riding_a_horse": "ridinghorse",
    "running": "running", "taking_photos": "takingphoto", "using_a_computer": "usingcomputer",
    "walking_the_dog": "walking",
}
#: Objects that can appear as distractors (the objects that define some class).
DISTRACTOR_OBJECTS: tuple[str, ...] = ("bike", "book", "camera", "dog", "guitar", "horse", "laptop", "phone")
#: Objects each class is drawn with (its props); they are never its uniform distractors.
CLASS_OBJECTS: dict[str, tuple[str, ...]] = {
    "applauding": (), "feeding_a_horse": ("horse",), "fixing_a_bike": ("bike",), "jumping": (),
    "phoning": ("phone",), "playing_guitar": ("guitar",), "reading": ("book",),
    "riding_a_bike": ("bike",), "riding_a_horse": ("horse",), "running": (),
    "taking_photos": ("camera",), "texting_message": ("phone",), "using_a_computer": ("laptop",),
    "walking_the_dog": ("dog",), "waving_hands": (), "writing_on_a_book": ("book",),
}
#: The object that ``context_bias`` ties to each class in the training split. Each object is
#: designated for two classes, and the two classes of a confusable pair get different ones,
#: so a biased model can take the shortcut that separates the pair.
DESIGNATED_DISTRACTOR: dict[str, str] = {
    "applauding": "guitar", "waving_hands": "laptop",
    "riding_a_bike": "dog", "fixing_a_bike": "camera",
    "riding_a_horse": "book", "feeding_a_horse": "phone",
    "reading": "bike", "writing_on_a_book": "dog",
    "phoning": "guitar", "texting_message": "horse",
    "jumping": "laptop", "running": "book", "playing_guitar": "phone",
    "taking_photos": "horse", "using_a_computer": "camera", "walking_the_dog": "bike",
}


# ---- helpers ------------------------------------------------------------------------------------
def add_person(g: Group, fig: Figure, role: str, action: str | None) -> int:
    """Add a figure's primitives and keypoints to ``g`` as one person part; return its index."""
    kp, hidden = fig.keypoints()
    i = g.add_part(Part("person", "person", role, action, kp, hidden))
    g.extend(fig.prims(), i)
    return i


def add_sprite(g: Group, sp: ob.Sprite, role: str | None = "prop") -> int:
    """Add a sprite to ``g``: as an annotated object part, or as scenery when ``role`` is None."""
    if role is None:
        g.extend(sp.prims, -1)
        return -1
    i = g.add_part(Part("object", sp.name, role))
    g.extend(sp.prims, i)
    return i


def shadow(g: Group, x: float, w: float, y: float = 0.0) -> None:
    """A soft ground shadow (not an occluder) centred at ``x``."""
    g.prims.append(Prim("poly", ellipse_pts(x, y, w, 0.025, 0, 14), 0.0, (0, 0, 0), -5.0, -1, occludes=False))


def _near(fig: Figure) -> float:
    """The side (LEFT/RIGHT) facing the viewer."""
    return RIGHT if fig.sy >= 0 else LEFT


def _other_arm(fig: Figure, side: float, rng: np.random.Generator) -> None:
    """A relaxed pose for the free arm: hanging, swinging, on the hip or in a pocket."""
    r = rng.random()
    if r < 0.5:
        fig.hang_arm(side, swing=rng.normal(0, 0.05))
    elif r < 0.75:
        hip = fig.j["left_hip" if side > 0 else "right_hip"]
        fig.set_arm(side, hip + _vec(0.0, side * 0.07, 0.03), _vec(-0.4, side, 0))
    else:
        hip = fig.j["left_hip" if side > 0 else "right_hip"]
        fig.set_arm(side, hip + _vec(0.05, side * 0.02, -0.02), _vec(-1, side * 0.3, 0))


def _standing(body: Body, yaw: float, rng: np.random.Generator, x: float = 0.0, stride: float | None = None) -> Figure:
    fig = Figure(body, yaw, (x, -(body.stand_hip - rng.uniform(0.0, 0.015))))
    fig.stand_legs(rng, stride=rng.uniform(-0.1, 0.1) if stride is None else stride, stance=rng.uniform(0.0, 0.06))
    return fig


def _seated(body: Body, yaw: float, rng: np.random.Generator, seat: np.ndarray) -> Figure:
    """A figure sitting on a seat at 2D point ``seat`` with thighs forward, feet on the ground."""
    fig = Figure(body, yaw, (seat[0], seat[1] - 0.035))
    h = fig.hip2d_ground()
    for side in (LEFT, RIGHT):
        fig.set_leg(side, _vec(body.thigh + rng.uniform(-0.02, 0.06), side * (body.hip_half + rng.uniform(0, 0.03)), -(h - ANKLE_H)), _vec(0.2, 0, 1))
    return fig


def _yaw_any(rng: np.random.Generator, lim: float = 85.0) -> float:
    return float(rng.uniform(-lim, lim))


def _yaw_side(rng: np.random.Generator, s: float, lo: float = 62.0, hi: float = 90.0) -> float:
    return float(s * rng.uniform(lo, hi))


def _mat(flip: bool, scale: float = 1.0, deg: float = 0.0, squash: float = 1.0) -> np.ndarray:
    return ob.linear(scale, deg, flip, squash)


# ---- pose-only classes --------------------------------------------------------------------------
def applauding(rng, body, s) -> Group:
    g = Group()
    fig = _standing(body, _yaw_any(rng, 60), rng)
    fig.set_torso(lean=rng.normal(0, 4), head_tilt=rng.normal(0, 8))
    neck = fig.j["neck_base"]
    c = _vec(neck[0] + rng.uniform(0.12, 0.22), rng.normal(0, 0.015), neck[2] - rng.uniform(0.03, 0.17))
    gap = rng.uniform(0.0, 0.035)
    for side in (LEFT, RIGHT):
        fig.set_arm(side, c + _vec(0, side * (0.012 + gap), rng.normal(0, 0.01)), _vec(-0.3, side, -0.8))
    add_person(g, fig, "actor", "applauding")
    shadow(g, 0.0, 0.16)
    return g


def waving_hands(rng, body, s) -> Group:
    g = Group()
    fig = _standing(body, _yaw_any(rng, 70), rng)
    fig.set_torso(lean=rng.normal(0, 4), side_lean=rng.normal(0, 4), head_tilt=rng.normal(-3, 6))
    first = LEFT if rng.random() < 0.5 else RIGHT
    sides = (first, -first) if rng.random() < 0.35 else (first,)
    for side in sides:
        sh = fig.shoulder(side)
        hand = sh + _vec(rng.uniform(-0.03, 0.12), side * rng.uniform(0.06, 0.26), rng.uniform(0.16, 0.3))
        fig.set_arm(side, hand, _vec(0.1, side, -0.7))
    if len(sides) == 1:
        _other_arm(fig, -first, rng)
    add_person(g, fig, "actor", "waving_hands")
    shadow(g, 0.0, 0.16)
    return g


def jumping(rng, body, s) -> Group:
    g = Group()
    lift, tuck = rng.uniform(0.1, 0.26), rng.uniform(0.04, 0.2)
    reach = 0.98 * body.leg - tuck
    fig = Figure(body, _yaw_any(rng, 90), (0.0, -(ANKLE_H + lift + reach)))
    fig.set_torso(lean=rng.normal(3, 7), head_tilt=rng.normal(-5, 6))
    star = rng.random() < 0.35
    for side in (LEFT, RIGHT):
        spread = rng.uniform(0.08, 0.2) if star else rng.uniform(0.0, 0.04)
        fig.set_leg(side, _vec(rng.uniform(-0.14, 0.02), side * (body.hip_half + spread), -reach), _vec(1, side * 0.3, 0.4))
        sh = fig.shoulder(side)
        hand = sh + _vec(rng.uniform(-0.05, 0.12), side * rng.uniform(0.04, 0.28 if star else 0.16), rng.uniform(0.18, 0.3))
        fig.set_arm(side, hand, _vec(0, side, -0.4))
    add_person(g, fig, "actor", "jumping")
    shadow(g, 0.0, 0.13)
    return g


def running(rng, body, s) -> Group:
    g = Group()
    hip_h = body.stand_hip - rng.uniform(0.03, 0.08) + rng.uniform(0.0, 0.07)
    fig = Figure(body, _yaw_side(rng, s), (0.0, -hip_h))
    fig.set_torso(lean=rng.uniform(8, 24), head_tilt=rng.uniform(-18, -5))
    lead = LEFT if rng.random() < 0.5 else RIGHT
    g0 = -(hip_h - ANKLE_H)
    fig.set_leg(lead, _vec(rng.uniform(0.14, 0.27), lead * body.hip_half, g0 + rng.uniform(0.0, 0.1)), _vec(1, 0, 0.3))
    fig.set_leg(-lead, _vec(-rng.uniform(0.2, 0.32), -lead * body.hip_half, g0 + rng.uniform(0.1, 0.26)), _vec(1, 0, -0.3))
    sh = fig.shoulder(lead)
    fig.set_arm(lead, sh + _vec(-rng.uniform(0.02, 0.14), 0.02 * lead, -rng.uniform(0.2, 0.27)), _vec(-1, 0, 0))
    sh = fig.shoulder(-lead)
    fig.set_arm(-lead, sh + _vec(rng.uniform(0.1, 0.22), -0.02 * lead, -rng.uniform(0.08, 0.2)), _vec(-0.3, 0, -1))
    add_person(g, fig, "actor", "running")
    shadow(g, 0.0, 0.2)
    return g


# ---- person + small object ----------------------------------------------------------------------
def phoning(rng, body, s) -> Group:
    g = Group()
    walk = rng.random() < 0.25
    fig = _standing(body, _yaw_any(rng, 75), rng, stride=rng.uniform(0.15, 0.3) * (1 if rng.random() < 0.5 else -1) if walk else None)
    fig.set_torso(lean=rng.normal(0, 4), side_lean=rng.normal(0, 3), head_tilt=rng.normal(3, 8))
    side = _near(fig) if (abs(fig.sy) > 0.5 and rng.random() < 0.85) else (LEFT if rng.random() < 0.5 else RIGHT)
    c, hu, hf, hl = fig.head
    r = body.head_r
    ph = c + hl * side * r * 1.1 + hf * r * 0.25 - hu * r * 0.15
    fig.set_arm(side, ph - hu * 0.035 + hl * side * 0.02, _vec(0.3, side * 0.6, -1))
    _other_arm(fig, -side, rng)
    add_person(g, fig, "actor", "phoning")
    p2 = fig.to2d(ph)
    tilt = np.rad2deg(np.arctan2(*(fig.to2d(ph - hu) - p2)[::-1])) - 90 + rng.normal(0, 12)
    add_sprite(g, ob.phone(rng, rng.uniform(0.9, 1.2)).placed(p2[0], p2[1], _mat(False, 1.0, tilt), fig.depth(ph) + 0.005))
    shadow(g, 0.0, 0.16)
    return g


def texting_message(rng, body, s) -> Group:
    g = Group()
    walk = rng.random() < 0.2
    fig = _standing(body, _yaw_any(rng, 70), rng, stride=rng.uniform(0.15, 0.28) if walk else None)
    fig.set_torso(lean=rng.uniform(0, 10), head_tilt=rng.uniform(22, 45))
    neck = fig.j["neck_base"]
    ph = _vec(neck[0] + rng.uniform(0.17, 0.26), rng.normal(0, 0.02), neck[2] - rng.uniform(0.14, 0.28))
    for side in (LEFT, RIGHT):
        fig.set_arm(side, ph + _vec(-0.01, side * rng.uniform(0.02, 0.035), -0.012), _vec(-0.5, side * 0.5, -1))
    add_person(g, fig, "actor", "texting_message")
    p2 = fig.to2d(ph)
    prof = abs(fig.sy)
    deg = np.sign(fig.sy) * rng.uniform(-70, -40) * prof + rng.normal(0, 8)
    add_sprite(g, ob.phone(rng, rng.uniform(0.9, 1.2)).placed(p2[0], p2[1], _mat(False, 1.0, deg, 1.0 - 0.35 * prof), fig.depth(ph) + 0.02))
    shadow(g, 0.0, 0.16)
    return g


def taking_photos(rng, body, s) -> Group:
    g = Group()
    fig = _standing(body, _yaw_any(rng, 90), rng)
    fig.set_torso(lean=rng.normal(2, 5), head_tilt=rng.normal(0, 6))
    c, hu, hf, hl = fig.head
    cam = c + hf * rng.uniform(0.1, 0.13) + hu * rng.normal(0, 0.01)
    for side in (LEFT, RIGHT):
        fig.set_arm(side, cam + hl * side * 0.055 - hu * 0.015, _vec(-0.2, side * 0.6, -1))
    add_person(g, fig, "actor", "taking_photos")
    p2 = fig.to2d(cam)
    prof = abs(fig.sy) > 0.6
    sp = ob.camera(rng, rng.uniform(0.9, 1.15), profile=prof)
    add_sprite(g, sp.placed(p2[0], p2[1], _mat(fig.sy < 0, 1.0, rng.normal(0, 5)), fig.depth(cam) + 0.04))
    shadow(g, 0.0, 0.16)
    return g


def reading(rng, body, s) -> Group:
    g = Group()
    seated = rng.random() < 0.35
    yaw = _yaw_side(rng, s, 40, 90) if seated else _yaw_any(rng)
    if seated:
        ch = ob.chair(rng, rng.uniform(0.24, 0.28), back=rng.random() < 0.6)
        flip = np.sin(np.deg2rad(yaw)) < 0
        chp = ch.placed(0.0, 0.0, _mat(flip), -0.3)
        add_sprite(g, chp)
        fig = _seated(body, yaw, rng, chp.anchors["seat"])
    else:
        fig = _standing(body, yaw, rng)
    fig.set_torso(lean=rng.uniform(-6, 10), head_tilt=rng.uniform(10, 30))
    neck = fig.j["neck_base"]
    bk = _vec(neck[0] + rng.uniform(0.2, 0.28), rng.normal(0, 0.02), neck[2] - rng.uniform(0.0, 0.15))
    for side in (LEFT, RIGHT):
        fig.set_arm(side, bk + _vec(-0.02, side * rng.uniform(0.08, 0.11), -0.05), _vec(-0.5, side * 0.5, -1))
    add_person(g, fig, "actor", "reading")
    p2 = fig.to2d(bk)
    prof = abs(fig.sy)
    tilt = np.sign(fig.sy) * rng.uniform(10, 30) * prof
    sp = ob.book(rng, rng.uniform(0.95, 1.2), open_=True)
    add_sprite(g, sp.placed(p2[0], p2[1], ob.rot(tilt) @ np.diag([1.0 - 0.6 * prof, 1.0]), fig.depth(bk) + 0.02))
    shadow(g, 0.0, 0.16)
    return g


def playing_guitar(rng, body, s) -> Group:
    g = Group()
    yaw = _yaw_any(rng, 65)
    if rng.random() < 0.3:
        ch = ob.chair(rng, rng.uniform(0.24, 0.3), back=False)
        chp = ch.placed(0.0, 0.0, _mat(False), -0.3)
        add_sprite(g, chp)
        fig = _seated(body, yaw, rng, chp.anchors["seat"])
    else:
        fig = _standing(body, yaw, rng)
    fig.set_torso(lean=rng.normal(3, 5), head_tilt=rng.uniform(5, 25))
    gb = _vec(0.13, -0.05, rng.uniform(0.0, 0.1))
    gh = gb + _vec(0.05, rng.uniform(0.3, 0.38), rng.uniform(0.15, 0.3))
    b2, h2 = fig.to2d(gb), fig.to2d(gh)
    size = rng.uniform(0.95, 1.15)
    d2 = h2 - b2
    deg = np.rad2deg(np.arctan2(d2[1], d2[0]))
    fore = float(np.clip(np.linalg.norm(d2) / np.linalg.norm(gh - gb), 0.45, 1.0))
    gs = ob.guitar(rng, size).placed(b2[0], b2[1], ob.rot(deg) @ np.diag([fore, 1.0]), fig.depth(gb) + 0.01)
    fig.set_arm(RIGHT, gb + _vec(0.05, 0.02, 0.02), _vec(-0.3, -0.6, -1))
    fret = gb + 0.72 * (gh - gb) + _vec(0.04, 0, -0.02)
    fig.set_arm(LEFT, fret, _vec(-0.2, 0.4, -1))
    add_person(g, fig, "actor", "playing_guitar")
    add_sprite(g, gs)
    shadow(g, 0.0, 0.16)
    return g


# ---- person + table ----------------------------------------------------------------------------
def _at_table(rng, body, s, head_tilt, lean):
    """A person (seated or standing) at a table in front of them; returns (group, fig, top_y, near_x)."""
    g = Group()
    yaw = _yaw_side(rng, s, 55, 90)
    flip = s < 0
    if rng.random() < 0.75:
        seat_h = rng.uniform(0.24, 0.28)
        ch = ob.chair(rng, seat_h, back=rng.random() < 0.7).placed(0.0, 0.0, _mat(flip), -0.4)
        add_sprite(g, ch, "prop")
        fig = _seated(body, yaw, rng, ch.anchors["seat"])
        top_h = seat_h + rng.uniform(0.15, 0.2)
    else:
        fig = _standing(body, yaw, rng, stride=0.0)
        top_h = rng.uniform(0.5, 0.56)
    near_x = s * rng.uniform(0.1, 0.17)
    length = rng.uniform(0.55, 0.8)
    tb = ob.table(rng, top_h, length).placed(near_x, 0.0, _mat(flip), -0.3)
    add_sprite(g, tb, "prop")
    fig.set_torso(lean=lean, head_tilt=head_tilt)
    return g, fig, -top_h - 0.025, near_x


def writing_on_a_book(rng, body, s) -> Group:
    g, fig, top_y, near_x = _at_table(rng, body, s, rng.uniform(20, 40), rng.uniform(12, 30))
    bx = near_x + s * rng.uniform(0.16, 0.26)
    sp = ob.book(rng, rng.uniform(0.9, 1.15), open_=rng.random() < 0.8)
    bks = sp.placed(bx, top_y - 0.005, ob.linear(1.0, 0, s < 0, 0.3), -0.1)
    near = _near(fig)
    hand2d = np.array([bx - s * rng.uniform(0.0, 0.06), top_y - rng.uniform(0.045, 0.07)])
    fig.set_arm(near, fig.from2d(hand2d, near * 0.1), _vec(-1, near * 0.4, -0.4))
    rest2d = np.array([bx - s * rng.uniform(0.06, 0.12), top_y - 0.03])
    fig.set_arm(-near, fig.from2d(rest2d, -near * 0.12), _vec(-1, -near * 0.4, -0.4))
    add_person(g, fig, "actor", "writing_on_a_book")
    add_sprite(g, bks)
    w = fig.to2d(fig.j["left_wrist" if near > 0 else "right_wrist"])
    tip = np.array([w[0] + s * 0.03, top_y - 0.01])
    ang = np.rad2deg(np.arctan2(w[0] - tip[0], tip[1] - w[1]))
    add_sprite(g, ob.pen(rng, rng.uniform(0.9, 1.2)).placed(tip[0], tip[1], ob.rot(ang), 0.3))
    return g


def using_a_computer(rng, body, s) -> Group:
    g, fig, top_y, near_x = _at_table(rng, body, s, rng.uniform(0, 18), rng.uniform(-2, 15))
    hinge_x = near_x + s * rng.uniform(0.3, 0.4)
    lp = ob.laptop(rng, rng.uniform(0.95, 1.15), rng.uniform(95, 120)).placed(hinge_x, top_y + 0.012, _mat(s < 0), -0.1)
    keys = lp.anchors["keys"]
    for side in (LEFT, RIGHT):
        fig.set_arm(side, fig.from2d(keys + np.array([-s * rng.uniform(0.0, 0.04), -0.015]), side * rng.uniform(0.05, 0.09)), _vec(-1, side * 0.4, -0.5))
    add_person(g, fig, "actor", "using_a_computer")
    add_sprite(g, lp)
    return g


# ---- person + animal or bike --------------------------------------------------------------------
def walking_the_dog(rng, body, s) -> Group:
    g = Group()
    stride = rng.uniform(0.14, 0.3)
    fig = Figure(body, _yaw_side(rng, s, 55, 90), (0.0, -(body.stand_hip - 0.02 - stride * 0.08)))
    fig.stand_legs(rng, stride=stride * (1 if rng.random() < 0.5 else -1), stance=0.01)
    fig.set_torso(lean=rng.uniform(0, 8), head_tilt=rng.normal(5, 8))
    side = LEFT if rng.random() < 0.5 else RIGHT
    sh = fig.shoulder(side)
    fig.set_arm(side, sh + _vec(rng.uniform(0.12, 0.26), side * 0.04, -rng.uniform(0.2, 0.29)), _vec(-1, 0, -0.3))
    fig.hang_arm(-side, swing=rng.normal(0, 0.07))
    add_person(g, fig, "actor", "walking_the_dog")
    ahead = rng.random() < 0.85
    dx = s * rng.uniform(0.45, 0.75) * (1 if ahead else -1)
    dg = ob.dog(rng, rng.uniform(0.95, 1.3)).placed(dx, 0.0, _mat(s < 0), 0.1 if rng.random() < 0.5 else -0.15)
    add_sprite(g, dg)
    hand = fig.to2d(fig.j["left_wrist" if side > 0 else "right_wrist"])
    col = dg.anchors["collar"]
    mid = 0.5 * (hand + col) + np.array([0.0, rng.uniform(0.0, 0.06)])
    leash = ob.Sprite("leash")
    leash.line([hand, mid, col], 0.013, [(200, 30, 30), (30, 30, 30), (30, 60, 160), (40, 140, 60)][int(rng.integers(4))], 0.2)
    add_sprite(g, leash)
    shadow(g, 0.0, 0.18)
    shadow(g, dx, 0.14)
    return g


def _bike(rng, body, s, crank=None):
    size = body.leg / 0.47 * rng.uniform(0.95, 1.05)
    return ob.bike(rng, size, crank).placed(0.0, 0.0, _mat(s < 0))


def riding_a_bike(rng, body, s) -> Group:
    g = Group()
    bk = _bike(rng, body, s)
    a = bk.anchors
    fig = Figure(body, _yaw_side(rng, s, 68, 90), (a["saddle"][0], a["saddle"][1] - 0.03))
    lean = rng.uniform(18, 45)
    fig.set_torso(lean=lean, head_tilt=-0.5 * lean + rng.normal(0, 5))
    near = _near(fig)
    for side in (LEFT, RIGHT):
        fig.set_arm(side, fig.from2d(a["grip"], side * 0.11), _vec(-0.3, side * 0.3, -1))
        pedal = a["pedal_near"] if side == near else a["pedal_far"]
        fig.set_leg(side, fig.from2d(pedal + np.array([0.0, -ANKLE_H]), side * body.hip_half), _vec(1, 0, 0.4))
    add_person(g, fig, "actor", "riding_a_bike")
    add_sprite(g, bk)
    shadow(g, 0.0, 0.42)
    return g


def fixing_a_bike(rng, body, s) -> Group:
    g = Group()
    bk = _bike(rng, body, s)
    a = bk.anchors
    R = float(a["radius"][0])
    front = rng.random() < 0.5
    hub = a["front_hub"] if front else a["rear_hub"]
    out = 1.0 if hub[0] > 0 else -1.0  # from the bike's centre towards this wheel
    crouch = rng.uniform(0.2, 0.34)
    if rng.random() < 0.6:  # at the end of the bike, in profile, facing the wheel
        x = hub[0] + out * (R + rng.uniform(0.1, 0.2))
        fig = Figure(body, -out * rng.uniform(60, 90), (x, -crouch))
        z_bike = -0.3
    else:  # in front of the bike, three-quarter back view, at the hub
        x = hub[0] + out * rng.uniform(0.05, 0.15)
        fig = Figure(body, -out * rng.uniform(110, 155), (x, -crouch))
        z_bike = -0.4
    h = fig.hip2d_ground()
    for side in (LEFT, RIGHT):
        fig.set_leg(side, _vec(rng.uniform(-0.04, 0.12), side * (body.hip_half + rng.uniform(0.0, 0.05)), -(h - ANKLE_H)), _vec(1, side * 0.2, 0.6))
    fig.set_torso(lean=rng.uniform(22, 50), head_tilt=rng.uniform(5, 30))
    rim = hub + np.array([out * R * 0.85, -R * rng.uniform(0.1, 0.5)])
    near = _near(fig)
    fig.set_arm(near, fig.from2d(rim, near * 0.07), _vec(-0.3, near * 0.5, -1))
    other = hub + np.array([out * R * rng.uniform(0.0, 0.5), R * rng.uniform(-0.3, 0.4)])
    fig.set_arm(-near, fig.from2d(other, -near * 0.07), _vec(-0.3, -near * 0.5, -1))
    add_person(g, fig, "actor", "fixing_a_bike")
    bk = bk.placed(0.0, 0.0, None, z_bike)
    add_sprite(g, bk)
    if rng.random() < 0.5:  # a wrench in the near hand
        w = fig.to2d(fig.j["left_wrist" if near > 0 else "right_wrist"])
        wr = ob.Sprite("wrench")
        wr.line([w, w + np.array([out * 0.02, 0.07])], 0.015, (150, 150, 160), 0.3)
        add_sprite(g, wr, None)
    shadow(g, 0.0, 0.42)
    shadow(g, x, 0.12)
    return g


def _horse(rng, body, s, head_down=0.0, saddle=False):
    return ob.horse(rng, rng.uniform(0.95, 1.1), head_down, saddle).placed(0.0, 0.0, _mat(s < 0))


def riding_a_horse(rng, body, s) -> Group:
    g = Group()
    hs = _horse(rng, body, s, rng.uniform(0, 0.25), saddle=rng.random() < 0.7)
    back = hs.anchors["back"]
    fig = Figure(body, _yaw_side(rng, s, 70, 90), (back[0], back[1] - 0.03))
    fig.set_torso(lean=rng.uniform(-5, 15), head_tilt=rng.normal(0, 6))
    for side in (LEFT, RIGHT):
        fig.set_leg(side, _vec(rng.uniform(-0.03, 0.1), side * 0.2, -rng.uniform(0.34, 0.42)), _vec(1, side * 0.4, 0.2))
        fig.set_arm(side, _vec(rng.uniform(0.18, 0.28), side * 0.08, rng.uniform(0.0, 0.1)), _vec(-0.5, side * 0.3, -1))
    add_person(g, fig, "actor", "riding_a_horse")
    add_sprite(g, hs)
    near = _near(fig)
    hand = fig.to2d(fig.j["left_wrist" if near > 0 else "right_wrist"])
    reins = ob.Sprite("reins")
    reins.line([hand, hs.anchors["mouth"]], 0.01, (40, 25, 15), 0.25)
    add_sprite(g, reins, None)
    shadow(g, 0.0, 0.45)
    return g


def feeding_a_horse(rng, body, s) -> Group:
    g = Group()
    hs = _horse(rng, body, s, rng.uniform(0.3, 1.0), saddle=rng.random() < 0.3)
    mouth = hs.anchors["mouth"]
    if rng.random() < 0.65:  # in front of the horse's head, facing it
        x = mouth[0] + s * rng.uniform(0.2, 0.36)
        fig = _standing(body, -s * rng.uniform(50, 90), rng, x=x)
        z_horse = -0.3
    else:  # beside its neck, nearer the viewer
        x = hs.anchors["shoulder"][0] + s * rng.uniform(0.05, 0.2)
        fig = _standing(body, s * rng.uniform(30, 80), rng, x=x)
        z_horse = -0.4
    fig.set_torso(lean=rng.uniform(0, 15), head_tilt=rng.uniform(-5, 20))
    near = _near(fig)
    fig.set_arm(near, fig.from2d(mouth + np.array([0.0, 0.01]), near * 0.05), _vec(-0.3, near * 0.4, -1))
    if rng.random() < 0.4:
        fig.set_arm(-near, fig.from2d(hs.anchors["head"], -near * 0.05), _vec(-0.3, -near * 0.4, -1))
    else:
        _other_arm(fig, -near, rng)
    add_person(g, fig, "actor", "feeding_a_horse")
    add_sprite(g, hs.placed(0.0, 0.0, None, z_horse))
    w = fig.to2d(fig.j["left_wrist" if near > 0 else "right_wrist"])
    food = ob.Sprite("food")
    food.line([w, w + np.array([-s * 0.05, 0.01])], 0.022, (240, 130, 20), 0.3)
    add_sprite(g, food, None)
    shadow(g, 0.0, 0.45)
    shadow(g, x, 0.14)
    return g


BUILDERS: dict[str, Callable[..., Group]] = {
    "applauding": applauding, "feeding_a_horse": feeding_a_horse, "fixing_a_bike": fixing_a_bike,
    "jumping": jumping, "phoning": phoning, "playing_guitar": playing_guitar, "reading": reading,
    "riding_a_bike": riding_a_bike, "riding_a_horse": riding_a_horse, "running": running,
    "taking_photos": taking_photos, "texting_message": texting_message,
    "using_a_computer": using_a_computer, "walking_the_dog": walking_the_dog,
    "waving_hands": waving_hands, "writing_on_a_book": writing_on_a_book,
}


def build_actor(action: str, rng: np.random.Generator, body: Body) -> Group:
    """The actor of ``action`` with its props, facing a random way (see module docstring)."""
    s = 1.0 if rng.random() < 0.5 else -1.0
    return BUILDERS[action](rng, body, s)


def build_bystander(rng: np.random.Generator, body: Body) -> Group:
    """A person doing none of the actions: standing idle, arms down, on hips, behind the back or crossed."""
    g = Group()
    fig = _standing(body, float(rng.uniform(-180, 180)), rng, stride=rng.uniform(-0.12, 0.12))
    fig.set_torso(lean=rng.normal(0, 4), side_lean=rng.normal(0, 3), head_tilt=rng.normal(0, 8), head_turn=rng.normal(0, 20))
    r = rng.random()
    for side in (LEFT, RIGHT):
        if r < 0.45:
            _other_arm(fig, side, rng)
        elif r < 0.65:
            fig.hang_arm(side, swing=rng.normal(0, 0.04))
        elif r < 0.85:  # hands behind the back
            fig.set_arm(side, _vec(-0.1, side * 0.03, 0.02), _vec(-0.5, side, 0))
        else:  # arms crossed
            sh = fig.shoulder(-side)
            fig.set_arm(side, sh + _vec(0.1, 0.03 * side, -0.14 - 0.02 * side), _vec(0, side, -1))
    add_person(g, fig, "bystander", None)
    shadow(g, 0.0, 0.15)
    return g
