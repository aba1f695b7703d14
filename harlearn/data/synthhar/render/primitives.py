"""Pose primitives: a person posed limb by limb at random, for the pretraining corpus.

The course's 16 actions (:mod:`.actions`) are whole poses tied to an object. The pretraining
corpus (:mod:`harlearn.data.synthhar.corpus`) needs people that do *none of them in
particular*: :func:`build_posed_person` draws each body part's state independently (the legs,
each arm, the trunk, the head, the view, sometimes a small object in one hand) and returns the
person together with the names of the states it drew. Those names are the corpus's person
labels (:data:`PRIMITIVES`); none of them is an action of the course.

The states are drawn independently, so most combinations are not any action (a raised arm and
a hand on the hip while crouching); a few combinations resemble one (a hand at the head while
holding a phone), the way ImageNet's photographs contain people doing things without being
labelled with what they do. Every state is jittered, as the actions are.

Same frame as :mod:`.actions`: the unit is the person's standing height, the ground is
``y = 0``, and the function returns a :class:`~.canvas.Group` holding the person (role
``"actor"``, no action) and its props (a chair to sit on, a held object).
"""

from __future__ import annotations

import numpy as np

from . import objects as ob
from .actions import _mat, add_person, add_sprite, shadow
from .canvas import Group
from .figure import ANKLE_H, LEFT, RIGHT, Body, Figure, _vec

__all__ = ["LEG_STATES", "ARM_STATES", "VIEWS", "PRIMITIVES", "HELD_OBJECTS", "build_posed_person"]

#: One per person: what the legs do (with probabilities).
LEG_STATES: dict[str, float] = {
    "legs_straight": 0.3, "legs_striding": 0.2, "legs_crouched": 0.17, "legs_seated": 0.18, "feet_off_ground": 0.15,
}
#: One per arm, drawn for each arm independently (with probabilities); ``hands_joined`` sets both.
ARM_STATES: dict[str, float] = {
    "arm_down": 0.26, "arm_raised": 0.16, "arm_forward": 0.16, "arm_sideways": 0.14, "hand_on_hip": 0.14, "hand_at_head": 0.14,
}
#: One per person: which way the person is seen (yaw ranges in degrees, either sign).
VIEWS: dict[str, tuple[float, float]] = {"facing_viewer": (0.0, 35.0), "side_view": (65.0, 110.0), "back_view": (145.0, 180.0)}
#: Small objects a hand can hold.
HELD_OBJECTS: tuple[str, ...] = ("phone", "book", "camera")
#: Every person label, in a fixed order.
PRIMITIVES: tuple[str, ...] = (
    *LEG_STATES, *ARM_STATES, "hands_joined", "leaning_forward", "head_down", *VIEWS, "holding_object",
)

_P_JOINED = 0.1  # both hands together in front of the chest
_P_LEAN = 0.3  # trunk leaning forward (>= 18 degrees)
_P_HEAD_DOWN = 0.25  # head nodded down (>= 25 degrees)
_P_HOLD = 0.3  # a small object in one hand


def _pick(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    p = np.array([table[n] for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _legs(state: str, body: Body, yaw: float, rng: np.random.Generator, g: Group) -> Figure:
    """A figure whose legs are in ``state`` (a seated one gets a chair, added to ``g``)."""
    if state == "legs_straight":
        fig = Figure(body, yaw, (0.0, -(body.stand_hip - rng.uniform(0.0, 0.015))))
        fig.stand_legs(rng, stride=rng.uniform(-0.08, 0.08), stance=rng.uniform(0.0, 0.08))
    elif state == "legs_striding":
        stride = rng.uniform(0.22, 0.34) * (1 if rng.random() < 0.5 else -1)
        fig = Figure(body, yaw, (0.0, -(body.stand_hip - 0.02 - abs(stride) * 0.08)))
        fig.stand_legs(rng, stride=stride, stance=0.01)
    elif state == "legs_crouched":
        fig = Figure(body, yaw, (0.0, -rng.uniform(0.2, 0.32)))
        h = fig.hip2d_ground()
        for side in (LEFT, RIGHT):
            ankle = _vec(rng.uniform(-0.04, 0.12), side * (body.hip_half + rng.uniform(0.0, 0.06)), -(h - ANKLE_H))
            fig.set_leg(side, ankle, _vec(1, side * 0.2, 0.6))
    elif state == "legs_seated":
        seat_h = rng.uniform(0.24, 0.3)
        chair = ob.chair(rng, seat_h, back=rng.random() < 0.6).placed(0.0, 0.0, _mat(np.sin(np.deg2rad(yaw)) < 0), -0.3)
        add_sprite(g, chair)
        seat = chair.anchors["seat"]
        fig = Figure(body, yaw, (seat[0], seat[1] - 0.035))
        h = fig.hip2d_ground()
        for side in (LEFT, RIGHT):
            ankle = _vec(body.thigh + rng.uniform(-0.02, 0.06), side * (body.hip_half + rng.uniform(0, 0.04)), -(h - ANKLE_H))
            fig.set_leg(side, ankle, _vec(0.2, 0, 1))
    elif state == "feet_off_ground":
        lift, tuck = rng.uniform(0.1, 0.24), rng.uniform(0.04, 0.2)
        reach = 0.98 * body.leg - tuck
        fig = Figure(body, yaw, (0.0, -(ANKLE_H + lift + reach)))
        for side in (LEFT, RIGHT):
            ankle = _vec(rng.uniform(-0.14, 0.04), side * (body.hip_half + rng.uniform(0.0, 0.12)), -reach)
            fig.set_leg(side, ankle, _vec(1, side * 0.3, 0.4))
    else:  # pragma: no cover - the tables above are the only states
        raise ValueError(f"unknown leg state {state!r}")
    return fig


def _arm(fig: Figure, side: float, state: str, rng: np.random.Generator) -> None:
    """Place arm ``side`` in ``state``."""
    sh = fig.shoulder(side)
    if state == "arm_down":
        fig.hang_arm(side, swing=rng.normal(0, 0.05))
    elif state == "arm_raised":  # hand above the head
        hand = sh + _vec(rng.uniform(-0.03, 0.12), side * rng.uniform(0.04, 0.22), rng.uniform(0.2, 0.3))
        fig.set_arm(side, hand, _vec(0.1, side, -0.7))
    elif state == "arm_forward":  # reaching straight ahead at shoulder height
        hand = sh + _vec(rng.uniform(0.25, 0.3), side * rng.uniform(-0.02, 0.06), rng.uniform(-0.06, 0.06))
        fig.set_arm(side, hand, _vec(0.0, side * 0.3, -1))
    elif state == "arm_sideways":  # stretched out to the side
        hand = sh + _vec(rng.uniform(-0.04, 0.06), side * rng.uniform(0.26, 0.3), rng.uniform(-0.06, 0.08))
        fig.set_arm(side, hand, _vec(-1, 0, -0.3))
    elif state == "hand_on_hip":
        hip = fig.j["left_hip" if side > 0 else "right_hip"]
        fig.set_arm(side, hip + _vec(0.0, side * 0.07, 0.03), _vec(-0.4, side, 0))
    elif state == "hand_at_head":  # at the ear, the back of the head or on top
        c, hu, hf, hl = fig.head
        r = fig.b.head_r
        where = rng.integers(3)
        hand = c + hl * side * r * 1.1 + hu * r * (rng.uniform(-0.2, 0.4) if where == 0 else 0.9 if where == 1 else 0.3) - hf * r * (0.6 if where == 2 else 0.0)
        fig.set_arm(side, hand - hu * 0.03, _vec(0.2, side * 0.8, -0.6))
    else:  # pragma: no cover
        raise ValueError(f"unknown arm state {state!r}")


def _held(g: Group, fig: Figure, side: float, rng: np.random.Generator) -> str:
    """Put a small object in the hand of arm ``side``; return its name."""
    name = HELD_OBJECTS[int(rng.integers(len(HELD_OBJECTS)))]
    wrist = fig.j["left_wrist" if side > 0 else "right_wrist"]
    p2 = fig.to2d(wrist)
    z = fig.depth(wrist) + 0.01
    if name == "phone":
        sp = ob.phone(rng, rng.uniform(0.9, 1.2)).placed(p2[0], p2[1], _mat(False, 1.0, rng.normal(0, 25)), z)
    elif name == "book":
        sp = ob.book(rng, rng.uniform(0.9, 1.2), open_=bool(rng.random() < 0.4)).placed(p2[0], p2[1] + 0.02, _mat(False, 1.0, rng.normal(0, 20)), z)
    else:
        sp = ob.camera(rng, rng.uniform(0.9, 1.15), profile=bool(rng.random() < 0.5)).placed(p2[0], p2[1], _mat(fig.sy < 0, 1.0, rng.normal(0, 10)), z)
    add_sprite(g, sp)
    return name


def build_posed_person(rng: np.random.Generator, body: Body) -> tuple[Group, list[str], list[str]]:
    """A person with independently drawn pose primitives.

    Args:
        rng: the image's random generator.
        body: proportions and colours.

    Returns:
        ``(group, primitives, props)``: the person (role ``"actor"``, action ``None``) with a
        chair and a held object when drawn; the names of its primitives (a subset of
        :data:`PRIMITIVES`, in that order); the names of its props (``"chair"``, a held object).
    """
    g = Group()
    view = list(VIEWS)[int(rng.integers(len(VIEWS)))]
    lo, hi = VIEWS[view]
    yaw = float(rng.uniform(lo, hi) * (1 if rng.random() < 0.5 else -1))
    legs = _pick(rng, LEG_STATES)
    fig = _legs(legs, body, yaw, rng, g)
    props = ["chair"] if legs == "legs_seated" else []
    lean = rng.uniform(18, 40) if rng.random() < _P_LEAN else rng.normal(0, 4)
    nod = rng.uniform(25, 45) if rng.random() < _P_HEAD_DOWN else rng.normal(0, 8)
    fig.set_torso(lean=lean, side_lean=rng.normal(0, 3), head_tilt=nod)
    found = {legs, view}
    if lean >= 18:
        found.add("leaning_forward")
    if nod >= 25:
        found.add("head_down")
    if rng.random() < _P_JOINED:
        neck = fig.j["neck_base"]
        c = _vec(neck[0] + rng.uniform(0.12, 0.24), rng.normal(0, 0.015), neck[2] - rng.uniform(0.03, 0.2))
        gap = rng.uniform(0.0, 0.03)
        for side in (LEFT, RIGHT):
            fig.set_arm(side, c + _vec(0, side * (0.012 + gap), rng.normal(0, 0.01)), _vec(-0.3, side, -0.8))
        found.add("hands_joined")
        arms = {}
    else:
        arms = {side: _pick(rng, ARM_STATES) for side in (LEFT, RIGHT)}
        for side, state in arms.items():
            _arm(fig, side, state, rng)
        found.update(arms.values())
    add_person(g, fig, "actor", None)
    free = [side for side, state in arms.items() if state != "hand_on_hip"]
    if free and rng.random() < _P_HOLD:
        props.append(_held(g, fig, free[int(rng.integers(len(free)))], rng))
        found.add("holding_object")
    shadow(g, 0.0, 0.16)
    return g, [p for p in PRIMITIVES if p in found], props
