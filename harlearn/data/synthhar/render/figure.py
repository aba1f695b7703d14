"""The SynthHAR person: a 17-keypoint COCO skeleton posed in 3D and drawn in 2D.

A :class:`Figure` holds its joints in a body frame ``(f, l, u)``: ``f`` forward, ``l`` to the
person's left, ``u`` up, with the origin at the hip centre. It is seen by an orthographic
camera after turning by ``yaw`` degrees (0: facing the viewer, +90: facing right, -90:
facing left, 180: back to the viewer)::

    x = hip_x + f sin(yaw) + l cos(yaw),   y = hip_y - u,   depth = f cos(yaw) - l sin(yaw)

so one pose description gives a front view, a profile and everything between, and the depth
sorts the limbs (the far arm is drawn behind the torso, the near one in front). Arms and legs
are placed by two-bone inverse kinematics towards a hand or ankle target with a "pole" that
says where the elbow or knee points, which is what lets an action say "hands on the
handlebar, feet on the pedals" instead of listing angles.

Lengths are in units of the standing height (about 1.0 from sole to crown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .canvas import Color, Prim, shade

__all__ = ["KEYPOINTS", "SKELETON", "Body", "Figure", "random_body", "ANKLE_H", "LEFT", "RIGHT"]

#: COCO keypoint names, in COCO order.
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: COCO's limbs as pairs of 0-based keypoint indices, for drawing (the one definition in harlearn).
SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
LEFT, RIGHT = 1.0, -1.0  # sign of the lateral axis for the person's left / right side
ANKLE_H = 0.035  # height of the ankle joint above the sole
OUTLINE = 0.011  # width of the dark contour around body parts

SKIN = [(255, 224, 196), (241, 194, 155), (224, 172, 128), (198, 134, 90), (161, 102, 64), (112, 70, 42), (84, 52, 32)]
HAIR = [(20, 16, 14), (58, 38, 24), (96, 62, 34), (160, 120, 70), (205, 170, 110), (120, 120, 120), (150, 60, 30)]


def _vec(f: float, l: float, u: float) -> np.ndarray:
    return np.array([f, l, u], dtype=float)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else v


def two_bone(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray):
    """Solve a two-segment limb: ``root`` -> middle joint -> end, end as close to ``target`` as it reaches.

    Args:
        root: shoulder or hip, (3,).
        target: where the wrist or ankle should be, (3,).
        l1: upper segment length.
        l2: lower segment length.
        pole: direction the elbow or knee bends towards, (3,).

    Returns:
        ``(middle, end)`` joint positions.
    """
    d = target - root
    dist = float(np.linalg.norm(d))
    u = d / dist if dist > 1e-9 else _vec(0, 0, -1)
    dist = float(np.clip(dist, abs(l1 - l2) + 1e-3, (l1 + l2) * 0.999))
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = np.sqrt(max(l1 * l1 - a * a, 0.0))
    p = pole - np.dot(pole, u) * u
    if np.linalg.norm(p) < 1e-6:
        p = np.cross(u, _vec(0, 1, 0))
    p = _unit(p)
    return root + a * u + h * p, root + dist * u


@dataclass
class Body:
    """Proportions and looks of one person (lengths in standing-height units)."""

    head_r: float = 0.068
    neck: float = 0.035
    torso: float = 0.30
    shoulder_half: float = 0.105
    hip_half: float = 0.075
    upper_arm: float = 0.165
    forearm: float = 0.155
    thigh: float = 0.235
    shin: float = 0.235
    arm_w: float = 0.055
    leg_w: float = 0.075
    chest_depth: float = 0.13
    skin: Color = SKIN[1]
    hair: Color = HAIR[0]
    shirt: Color = (40, 90, 180)
    pants: Color = (50, 50, 60)
    shoes: Color = (30, 30, 30)
    long_sleeves: bool = True
    shorts: bool = False
    hair_long: bool = False

    @property
    def leg(self) -> float:
        """Hip-to-ankle length of a straight leg."""
        return self.thigh + self.shin

    @property
    def arm(self) -> float:
        """Shoulder-to-wrist length of a straight arm."""
        return self.upper_arm + self.forearm

    @property
    def stand_hip(self) -> float:
        """Height of the hip centre above the ground when standing with nearly straight legs."""
        return ANKLE_H + 0.985 * self.leg


def _random_color(rng: np.random.Generator) -> Color:
    h, s, v = rng.random(), rng.uniform(0.25, 0.95), rng.uniform(0.25, 0.95)
    i, fr = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - fr * s), v * (1 - (1 - fr) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (int(r * 255), int(g * 255), int(b * 255))


def random_body(rng: np.random.Generator, child: bool = False) -> Body:
    """A person with random proportions, skin, hair and clothes.

    Args:
        rng: the image's random generator.
        child: bigger head and shorter limbs.

    Returns:
        The body; every length is jittered by a few percent.
    """
    j = lambda: rng.uniform(0.92, 1.08)  # noqa: E731 - tiny local helper
    head = 0.068 * j() * (1.25 if child else 1.0)
    width = rng.uniform(0.9, 1.2)
    pants = _random_color(rng) if rng.random() < 0.5 else [(40, 45, 70), (30, 30, 35), (90, 80, 60), (70, 90, 130)][int(rng.integers(4))]
    return Body(
        head_r=head,
        torso=0.30 * j(),
        shoulder_half=0.105 * width * j(),
        hip_half=0.075 * width,
        upper_arm=0.165 * j(),
        forearm=0.155 * j(),
        thigh=0.235 * j() * (0.92 if child else 1.0),
        shin=0.235 * j() * (0.92 if child else 1.0),
        arm_w=0.064 * width,
        leg_w=0.082 * width,
        chest_depth=0.13 * width,
        skin=SKIN[int(rng.integers(len(SKIN)))],
        hair=HAIR[int(rng.integers(len(HAIR)))],
        shirt=_random_color(rng),
        pants=pants,
        shoes=shade(_random_color(rng), 0.45),
        long_sleeves=bool(rng.random() < 0.6),
        shorts=bool(rng.random() < 0.2),
        hair_long=bool(rng.random() < 0.35),
    )


class Figure:
    """A posable person seen from one side.

    Args:
        body: proportions and colours.
        yaw: degrees the person is turned (0 faces the viewer, 90 faces right).
        hip: 2D position ``(x, y)`` of the hip centre in the group frame.

    Call :meth:`set_torso`, then :meth:`set_arm` and :meth:`set_leg` for both sides (both
    default to a relaxed standing pose), then read :meth:`keypoints` and :meth:`prims`.
    """

    def __init__(self, body: Body, yaw: float, hip: tuple[float, float]) -> None:
        self.b = body
        self.yaw = float(yaw)
        self.sy, self.cy = np.sin(np.deg2rad(yaw)), np.cos(np.deg2rad(yaw))
        self.hip2d = np.array(hip, dtype=float)
        self.j: dict[str, np.ndarray] = {}
        self.set_torso()
        for side in (LEFT, RIGHT):
            self.hang_arm(side)
            self.set_leg(side, _vec(0.0, side * body.hip_half, -(body.stand_hip - ANKLE_H)))

    # ---- frames -------------------------------------------------------------------------------
    def to2d(self, p: np.ndarray) -> np.ndarray:
        """Project a body-frame point (3,) to the group frame (2,)."""
        return np.array([self.hip2d[0] + p[0] * self.sy + p[1] * self.cy, self.hip2d[1] - p[2]])

    def depth(self, p: np.ndarray) -> float:
        """How near the viewer a body-frame point is (larger is nearer)."""
        return float(p[0] * self.cy - p[1] * self.sy)

    def from2d(self, xy, lateral: float = 0.0) -> np.ndarray:
        """The body-frame point that projects to ``xy`` with left-offset ``lateral``.

        Only meaningful for turned figures (``|sin(yaw)|`` not small), e.g. a rider in profile.
        """
        sy = self.sy if abs(self.sy) > 0.2 else (0.2 if self.sy >= 0 else -0.2)
        f = (xy[0] - self.hip2d[0] - lateral * self.cy) / sy
        return _vec(f, lateral, self.hip2d[1] - xy[1])

    # ---- posing -------------------------------------------------------------------------------
    def set_torso(self, lean: float = 0.0, side_lean: float = 0.0, head_tilt: float = 0.0, head_turn: float = 0.0) -> None:
        """Place shoulders, neck and head.

        Args:
            lean: forward lean of the trunk in degrees (negative leans back).
            side_lean: lean towards the person's left in degrees.
            head_tilt: extra nod of the head in degrees (positive looks down).
            head_turn: head yaw relative to the trunk in degrees (positive turns left).
        """
        b = self.b
        a, s = np.deg2rad(lean), np.deg2rad(side_lean)
        up = _vec(np.sin(a) * np.cos(s), np.sin(s), np.cos(a) * np.cos(s))
        self.lean = lean
        sc = b.torso * up
        lat = _vec(0, 1, 0)
        self.j["neck_base"] = sc
        self.j["left_shoulder"] = sc + b.shoulder_half * lat
        self.j["right_shoulder"] = sc - b.shoulder_half * lat
        self.j["left_hip"] = b.hip_half * lat
        self.j["right_hip"] = -b.hip_half * lat
        t = np.deg2rad(lean + head_tilt)
        hu = _vec(np.sin(t), 0, np.cos(t))  # head up
        ht = np.deg2rad(head_turn)
        hf = _vec(np.cos(t) * np.cos(ht), np.sin(ht), -np.sin(t) * np.cos(ht))  # face forward
        hl = _unit(np.cross(hu, hf))  # head left
        neck_top = sc + b.neck * up
        c = neck_top + b.head_r * 0.9 * hu
        r = b.head_r
        self.head = (c, hu, hf, hl)
        self.j["nose"] = c + r * (0.98 * hf - 0.15 * hu)
        self.j["left_eye"] = c + r * (0.72 * hf + 0.38 * hl + 0.18 * hu)
        self.j["right_eye"] = c + r * (0.72 * hf - 0.38 * hl + 0.18 * hu)
        self.j["left_ear"] = c + r * (0.85 * hl - 0.1 * hf)
        self.j["right_ear"] = c + r * (-0.85 * hl - 0.1 * hf)

    def set_arm(self, side: float, hand: np.ndarray, pole: np.ndarray) -> None:
        """Reach the wrist of arm ``side`` (``LEFT``/``RIGHT``) towards body-frame ``hand``, elbow towards ``pole``."""
        name = "left" if side > 0 else "right"
        sh = self.j[f"{name}_shoulder"]
        el, wr = two_bone(sh, np.asarray(hand, float), self.b.upper_arm, self.b.forearm, np.asarray(pole, float))
        self.j[f"{name}_elbow"], self.j[f"{name}_wrist"] = el, wr

    def set_leg(self, side: float, ankle: np.ndarray, pole: np.ndarray | None = None) -> None:
        """Reach the ankle of leg ``side`` towards ``ankle``; the knee bends towards ``pole`` (default forward)."""
        name = "left" if side > 0 else "right"
        hp = self.j[f"{name}_hip"]
        pole = _vec(1, 0, 0.2) if pole is None else np.asarray(pole, float)
        kn, an = two_bone(hp, np.asarray(ankle, float), self.b.thigh, self.b.shin, pole)
        self.j[f"{name}_knee"], self.j[f"{name}_ankle"] = kn, an

    def shoulder(self, side: float) -> np.ndarray:
        """Body-frame shoulder position of ``side``."""
        return self.j["left_shoulder" if side > 0 else "right_shoulder"]

    def hang_arm(self, side: float, swing: float = 0.0, out: float = 0.03, pole=None) -> None:
        """Let an arm hang, swung forward by ``swing`` (body units, negative swings back)."""
        sh = self.shoulder(side)
        drop = np.sqrt(max((0.96 * self.b.arm) ** 2 - swing ** 2, 0.01))
        pole = _vec(-1, side * 0.3, 0) if pole is None else pole
        self.set_arm(side, sh + _vec(swing, side * out, -drop), pole)

    def stand_legs(self, rng: np.random.Generator, stride: float = 0.0, stance: float = 0.03) -> None:
        """Both feet on the ground (``u = -hip height``), the left one ``stride`` ahead."""
        g = -(self.hip2d_ground()) + ANKLE_H
        for side, k in ((LEFT, 1.0), (RIGHT, -1.0)):
            self.set_leg(side, _vec(k * stride / 2 + rng.normal(0, 0.01), side * (self.b.hip_half + stance), g))

    def hip2d_ground(self) -> float:
        """Height of the hip centre above the ground (the group frame's ground is ``y = 0``)."""
        return -float(self.hip2d[1])

    # ---- output -------------------------------------------------------------------------------
    def keypoints(self) -> tuple[np.ndarray, np.ndarray]:
        """COCO keypoints (17, 2) in the group frame and a (17,) mask of those hidden by the head."""
        kp = np.stack([self.to2d(self.j[k]) for k in KEYPOINTS])
        c = self.head[0]
        hidden = np.zeros(17, bool)
        for i in range(5):
            hidden[i] = self.depth(self.j[KEYPOINTS[i]] - c) < -0.15 * self.b.head_r
        return kp, hidden

    def prims(self) -> list[Prim]:
        """The primitives drawing this person (owner left at -1; set it when adding to a group)."""
        b, j = self.b, self.j
        out: list[Prim] = []
        dz = lambda p: self.depth(p)  # noqa: E731

        ol = OUTLINE

        def seg(a, c, w, col, bias=0.0):
            z = 0.5 * (dz(a) + dz(c))
            k = 1.0 - 0.22 * min(max(-z / 0.1, 0.0), 1.0)  # the far side is a little darker
            pts = np.stack([self.to2d(a), self.to2d(c)])
            out.append(Prim("line", pts, w + 2 * ol, shade(col, 0.4 * k), z + bias - 1e-4))  # dark outline
            out.append(Prim("line", pts, w, shade(col, k), z + bias))

        def disc(p, r, col, bias=0.0):
            z = dz(p)
            k = 1.0 - 0.22 * min(max(-z / 0.1, 0.0), 1.0)
            out.append(Prim("disc", self.to2d(p)[None], r + ol, shade(col, 0.4 * k), z + bias - 1e-4))
            out.append(Prim("disc", self.to2d(p)[None], r, shade(col, k), z + bias))

        # legs: thigh, shin, shoe
        for s in ("left", "right"):
            hp, kn, an = j[f"{s}_hip"], j[f"{s}_knee"], j[f"{s}_ankle"]
            seg(hp, kn, b.leg_w, b.pants)
            seg(kn, an, b.leg_w * 0.85, b.skin if b.shorts else b.pants)
            toe = an + _vec(0.075, 0, -ANKLE_H * 0.6)
            seg(an + _vec(-0.012, 0, -ANKLE_H * 0.4), toe, b.leg_w * 0.7, b.shoes, 0.001)
        # arms: upper arm, forearm, hand
        for s in ("left", "right"):
            sh, el, wr = j[f"{s}_shoulder"], j[f"{s}_elbow"], j[f"{s}_wrist"]
            seg(sh, el, b.arm_w, b.shirt, 0.002)
            seg(el, wr, b.arm_w * 0.85, b.shirt if b.long_sleeves else b.skin, 0.002)
            hand = wr + 0.45 * b.arm_w * _unit(wr - el)
            disc(hand, b.arm_w * 0.8, b.skin, 0.003)
        # trunk as a trapezoid whose width follows the turn of the body
        sc, hc = j["neck_base"], _vec(0, 0, 0)
        s2, h2 = self.to2d(sc), self.to2d(hc)
        axis = s2 - h2
        axis = axis / max(np.linalg.norm(axis), 1e-9)
        n = np.array([-axis[1], axis[0]])
        tw = np.hypot(b.shoulder_half * self.cy, 0.5 * b.chest_depth * self.sy) + 0.2 * b.arm_w
        bw = np.hypot((b.hip_half + 0.45 * b.leg_w) * self.cy, 0.5 * b.chest_depth * 0.95 * self.sy)
        top = s2 - 0.012 * axis
        bot = h2 - 0.04 * axis
        poly = np.stack([top + n * tw * 0.75 + 0.02 * axis, top + n * tw, bot + n * bw, bot - n * bw, top - n * tw, top - n * tw * 0.75 + 0.02 * axis])
        zt = dz(0.5 * sc) - 0.02
        out.append(Prim("line", np.concatenate([poly, poly[:1]]), 2 * ol, shade(b.shirt, 0.4), zt - 1e-4))
        out.append(Prim("poly", poly, 0.0, b.shirt, zt))
        # neck and head
        c, hu, hf, hl = self.head
        seg(sc, c - 0.5 * b.head_r * hu, b.arm_w * 0.75, b.skin, 0.01)
        r = b.head_r
        zh = dz(c) + 0.03
        back_view = self.depth(hf) < -0.25
        c2 = self.to2d(c)
        hair_c = self.to2d(c + r * (0.22 * hu - 0.2 * hf))
        face_c = self.to2d(c + r * (-0.06 * hu + 0.1 * hf))
        if b.hair_long:
            tail = self.to2d(c - r * (0.9 * hf + 0.9 * hu))
            out.append(Prim("line", np.stack([hair_c, tail]), r * 1.2, b.hair, zh - 0.001))
        dark = shade(b.hair, 0.5) if sum(b.hair) > 120 else (10, 8, 8)
        if back_view:
            out.append(Prim("disc", c2[None], r + ol, dark, zh - 1e-4))
            out.append(Prim("disc", c2[None], r, b.skin, zh))
            out.append(Prim("disc", self.to2d(c + 0.1 * r * hu)[None], r * 0.97, b.hair, zh + 0.0005))
        else:
            out.append(Prim("disc", hair_c[None], r + ol, dark, zh - 1e-4))
            out.append(Prim("disc", face_c[None], r * 0.88 + ol, shade(b.skin, 0.45), zh - 1e-4))
            out.append(Prim("disc", hair_c[None], r, b.hair, zh))
            out.append(Prim("disc", face_c[None], r * 0.88, b.skin, zh + 0.0005))
            for k in ("left_eye", "right_eye"):
                if self.depth(j[k] - c) > -0.1 * r:
                    out.append(Prim("disc", self.to2d(j[k])[None], r * 0.13, (25, 20, 20), zh + 0.001))
            if abs(self.sy) > 0.5:  # a nose in profile
                out.append(Prim("disc", self.to2d(j["nose"])[None], r * 0.22, b.skin, zh + 0.0008))
        return out

