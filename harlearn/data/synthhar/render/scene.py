"""SynthHAR scenes: background, clutter, bystanders, distractor objects, and the final render.

:func:`render_scene` lays one or more actor groups (from :mod:`.actions`) on a ground plane
seen in perspective (things further away stand higher and are drawn smaller), adds people
doing nothing in particular (bystanders), objects of other classes (distractors), sometimes
a foreground occluder, and paints everything over a textured indoor or outdoor background.
It returns the image, the person label map and the annotation records.

All random choices happen in frame units before the pixel size is known, so one seed gives
the same scene at 64, 128 or 256 pixels; only the final pixel noise depends on the size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from . import objects as ob
from .actions import add_sprite, build_actor, build_bystander, shadow
from .canvas import Group, Part, Prim, ellipse_pts, extents, mix, rasterize, shade
from .figure import random_body

__all__ = ["Difficulty", "DEFAULT_DIFFICULTY", "Rendered", "render_scene", "distractor_group"]


@dataclass(frozen=True)
class Difficulty:
    """The knobs that make SynthHAR harder or easier (calibrated for a small CNN; see the benchmark).

    Attributes:
        bystander_probs: probabilities of 0, 1, 2, ... bystanders in a Stanford40 image.
        distractor_probs: probabilities of 0, 1, 2, ... uniform distractor objects.
        occluder_p: probability of a foreground occluder in front of an actor.
        fill: range of the actor's share of the largest size that still fits the image.
        clutter: range of the number of background clutter shapes.
        second_actor_p: probability of a second actor doing the same action (Stanford40).
        noise: range of the pixel noise standard deviation (0-255 scale).
    """

    bystander_probs: tuple[float, ...] = (0.55, 0.35, 0.1)
    distractor_probs: tuple[float, ...] = (0.45, 0.4, 0.15)
    occluder_p: float = 0.12
    fill: tuple[float, float] = (0.78, 1.0)
    clutter: tuple[int, int] = (2, 6)
    second_actor_p: float = 0.08
    noise: tuple[float, float] = (1.0, 4.0)


DEFAULT_DIFFICULTY = Difficulty()
_DARKEN = [int(v * 0.55) for v in range(256)] * 3  # lookup table for shadows


@dataclass
class Rendered:
    """One rendered image with its annotations (0-based pixel coordinates)."""

    image: Image.Image
    labels: np.ndarray  # uint8 [H, W]: 0 background, i = persons[i - 1]
    persons: list[dict]
    objects: list[dict]


# ---- distractor objects standing in the scene ---------------------------------------------------
def distractor_group(name: str, rng: np.random.Generator, role: str = "distractor") -> Group:
    """A free-standing object of class ``name`` on the ground (small ones on a stand)."""
    g = Group()
    flip = bool(rng.random() < 0.5)
    if name == "bike":
        add_sprite(g, ob.bike(rng, rng.uniform(0.95, 1.1)).placed(0, 0, ob.linear(flip=flip)), role)
        shadow(g, 0.0, 0.4)
    elif name == "horse":
        add_sprite(g, ob.horse(rng, rng.uniform(0.9, 1.1), rng.uniform(0, 1), rng.random() < 0.3).placed(0, 0, ob.linear(flip=flip)), role)
        shadow(g, 0.0, 0.45)
    elif name == "dog":
        add_sprite(g, ob.dog(rng, rng.uniform(1.0, 1.4)).placed(0, 0, ob.linear(flip=flip)), role)
        shadow(g, 0.0, 0.15)
    elif name == "guitar":
        size = rng.uniform(1.0, 1.25)
        add_sprite(g, ob.guitar(rng, size).placed(0, -0.09 * size, ob.linear(deg=-90 + rng.normal(0, 12))), role)
        shadow(g, 0.0, 0.1)
    elif name == "camera":
        legs, top = ob.tripod(rng, rng.uniform(0.6, 0.8))
        add_sprite(g, legs, None)
        add_sprite(g, ob.camera(rng, rng.uniform(1.4, 1.8), profile=bool(rng.random() < 0.5)).placed(top[0], top[1] - 0.03, ob.linear(flip=flip)), role)
    else:  # laptop, book, phone: on a small table
        h, length = rng.uniform(0.38, 0.5), rng.uniform(0.35, 0.5)
        add_sprite(g, ob.table(rng, h, length).placed(-length / 2, 0.0), None)
        top = -h - 0.025
        if name == "laptop":
            add_sprite(g, ob.laptop(rng, rng.uniform(1.3, 1.6), rng.uniform(95, 125)).placed(0.12, top + 0.012, ob.linear(flip=flip), 0.1), role)
        elif name == "book":
            if rng.random() < 0.5:
                for i in range(int(rng.integers(1, 4))):
                    add_sprite(g, ob.book(rng, rng.uniform(1.5, 2.0), open_=False).placed(rng.normal(0, 0.02), top - 0.02 - 0.035 * i, ob.linear(deg=90, squash=0.25), 0.1 + 0.01 * i), role)
            else:
                add_sprite(g, ob.book(rng, rng.uniform(1.6, 2.1), open_=True).placed(0.0, top - 0.07, ob.linear(deg=rng.normal(0, 8)), 0.1), role)
        else:
            add_sprite(g, ob.phone(rng, rng.uniform(1.8, 2.4)).placed(0.0, top - 0.1, ob.linear(deg=rng.normal(0, 10)), 0.1), role)
    return g


# ---- backgrounds --------------------------------------------------------------------------------
def _rand_col(rng, lo=40, hi=230) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def _background(rng: np.random.Generator, horizon: float, n_clutter: int) -> tuple[dict, list[Prim]]:
    """Background description (gradient colours, texture seed) and clutter primitives in the unit frame."""
    outdoor = bool(rng.random() < 0.55)
    if outdoor:
        sky = [(110, 160, 220), (170, 200, 235), (200, 200, 205), (235, 180, 140), (140, 170, 200)][int(rng.integers(5))]
        top, mid = shade(sky, rng.uniform(0.75, 0.95)), mix(sky, (255, 255, 255), rng.uniform(0.1, 0.4))
        ground = [(90, 140, 60), (120, 150, 70), (150, 130, 100), (120, 120, 120), (200, 180, 140), (80, 110, 50)][int(rng.integers(6))]
    else:
        top = _rand_col(rng, 120, 240)
        mid = shade(top, rng.uniform(0.85, 1.05))
        ground = [(150, 110, 70), (190, 160, 120), (120, 120, 125), (200, 200, 195), (110, 80, 60)][int(rng.integers(5))]
    desc = dict(
        top=top, mid=mid, ground=ground, far=shade(ground, rng.uniform(0.8, 1.0)),
        texture=rng.normal(0, 1, (3, 10, 10)), tex_amp=rng.uniform(3, 10), outdoor=outdoor,
    )
    prims: list[Prim] = []
    z = -2000.0
    h = horizon
    if outdoor:
        for _ in range(int(rng.integers(0, 4))):  # hills, buildings, trees along the horizon
            kind = rng.random()
            x = rng.uniform(-0.1, 1.1)
            if kind < 0.35:
                w, hh = rng.uniform(0.08, 0.25), rng.uniform(0.1, 0.35)
                col = shade(_rand_col(rng, 90, 200), 0.9)
                prims.append(Prim("poly", np.array([[x, h], [x + w, h], [x + w, h - hh], [x, h - hh]]), 0, col, z))
                for wy in np.arange(h - hh + 0.03, h - 0.02, 0.05):
                    prims.append(Prim("line", np.array([[x + 0.015, wy], [x + w - 0.015, wy]]), 0.012, shade(col, 0.6), z + 0.1))
            elif kind < 0.75:
                th = rng.uniform(0.08, 0.25)
                prims.append(Prim("line", np.array([[x, h + 0.01], [x, h - th]]), 0.02, (90, 60, 35), z))
                prims.append(Prim("disc", np.array([[x, h - th]]), rng.uniform(0.04, 0.09), (int(rng.integers(30, 90)), int(rng.integers(100, 160)), int(rng.integers(30, 80))), z + 0.1))
            else:
                prims.append(Prim("poly", ellipse_pts(x, h, rng.uniform(0.15, 0.4), rng.uniform(0.05, 0.12), 0, 20), 0, shade(desc["ground"], 0.8), z - 0.5))
        if rng.random() < 0.5:  # a path or road across the ground
            y0 = rng.uniform(h + 0.05, 1.0)
            prims.append(Prim("poly", np.array([[-0.1, y0], [1.1, y0 + rng.uniform(-0.1, 0.1)], [1.1, y0 + 0.12], [-0.1, y0 + 0.1]]), 0, shade(desc["ground"], rng.uniform(0.7, 1.2)), z + 0.2))
    else:
        if rng.random() < 0.5:  # wallpaper stripes or tiles
            step = rng.uniform(0.04, 0.12)
            col = shade(desc["top"], rng.uniform(0.8, 0.95))
            for x in np.arange(rng.uniform(0, step), 1.0, step):
                prims.append(Prim("line", np.array([[x, 0.0], [x, h]]), step * 0.3, col, z))
        for _ in range(int(rng.integers(0, 3))):  # windows, doors, frames, shelves
            x, y = rng.uniform(0, 0.9), rng.uniform(0.05, max(0.06, h - 0.2))
            w, hh = rng.uniform(0.08, 0.25), rng.uniform(0.08, 0.3)
            frame = _rand_col(rng, 30, 200)
            prims.append(Prim("poly", np.array([[x, y], [x + w, y], [x + w, y + hh], [x, y + hh]]), 0, frame, z + 0.1))
            inner = (160, 200, 240) if rng.random() < 0.5 else _rand_col(rng)
            prims.append(Prim("poly", np.array([[x + 0.01, y + 0.01], [x + w - 0.01, y + 0.01], [x + w - 0.01, y + hh - 0.01], [x + 0.01, y + hh - 0.01]]), 0, inner, z + 0.2))
        if rng.random() < 0.5:  # floor planks or tiles
            col = shade(desc["ground"], 0.8)
            for y in np.arange(h + 0.03, 1.0, rng.uniform(0.04, 0.09)):
                prims.append(Prim("line", np.array([[0.0, y], [1.0, y]]), 0.006, col, z + 0.05))
    for _ in range(n_clutter):  # random shapes: balls, boxes, poles, blobs
        kind = rng.random()
        x, y = rng.uniform(0, 1), rng.uniform(0.05, 1.0)
        col = _rand_col(rng, 20, 240)
        r = rng.uniform(0.015, 0.07)
        if kind < 0.3:
            prims.append(Prim("disc", np.array([[x, y]]), r, col, z + 1))
        elif kind < 0.6:
            prims.append(Prim("poly", np.array([[x - r, y - r * rng.uniform(0.5, 2)], [x + r, y - r], [x + r, y + r], [x - r, y + r]]) @ ob.rot(rng.normal(0, 15)).T, 0, col, z + 1))
        elif kind < 0.8:
            prims.append(Prim("line", np.array([[x, y], [x + rng.normal(0, 0.1), y + rng.uniform(-0.25, 0.05)]]), rng.uniform(0.006, 0.02), col, z + 1))
        else:
            prims.append(Prim("poly", np.array([[x, y - r * 1.5], [x + r, y + r], [x - r, y + r]]), 0, col, z + 1))
    return desc, prims


def _paint_background(desc: dict, horizon: float, px: int) -> Image.Image:
    """Vertical gradients above and below the horizon plus a smooth colour texture, as an image."""
    n = 64
    ys = (np.arange(n) + 0.5) / n
    top, mid, far, ground = (np.array(desc[k], np.float32) for k in ("top", "mid", "far", "ground"))
    t_up = np.clip(ys / max(horizon, 1e-3), 0, 1)[:, None]
    t_dn = np.clip((ys - horizon) / max(1 - horizon, 1e-3), 0, 1)[:, None]
    col = np.where((ys < horizon)[:, None], top * (1 - t_up) + mid * t_up, far * (1 - t_dn) + ground * t_dn)  # [n, 3]
    grad = Image.fromarray(np.uint8(np.clip(col + 0.5, 0, 255))[:, None, :]).resize((px, px), Image.BILINEAR)
    tex = np.uint8(np.clip(desc["texture"] * desc["tex_amp"] + 128.5, 0, 255)).transpose(1, 2, 0)  # [10, 10, 3]
    tex = Image.fromarray(np.ascontiguousarray(tex)).resize((px, px), Image.BILINEAR)
    return ImageChops.add(grad, tex, 1.0, -128)


# ---- composition --------------------------------------------------------------------------------
def _occluder(rng: np.random.Generator, box: np.ndarray) -> list[Prim]:
    """A bush, post or crate in front of the lower or side part of ``box`` (unit frame)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    kind = rng.random()
    z = 5000.0
    if kind < 0.45:  # bush over the bottom
        cx = rng.uniform(x1, x2)
        col = (int(rng.integers(20, 70)), int(rng.integers(90, 150)), int(rng.integers(20, 70)))
        return [Prim("disc", np.array([[cx + rng.normal(0, w * 0.15), y2 + rng.uniform(-0.02, 0.04)]]), rng.uniform(0.04, 0.08) + 0.12 * w, shade(col, rng.uniform(0.8, 1.2)), z + i * 0.01) for i in range(3)]
    if kind < 0.75:  # a post or pole on one side
        x = rng.choice([x1 + rng.uniform(0, 0.3) * w, x2 - rng.uniform(0, 0.3) * w])
        return [Prim("line", np.array([[x, 1.1], [x + rng.normal(0, 0.02), y1 - rng.uniform(-0.1, 0.2) * h]]), rng.uniform(0.02, 0.05), _rand_col(rng, 30, 180), z)]
    # a crate at the bottom corner
    cw, ch = rng.uniform(0.12, 0.25) * 0.8, rng.uniform(0.1, 0.25) * h
    x = rng.choice([x1 - cw * 0.5, x2 - cw * 0.5])
    col = _rand_col(rng, 60, 200)
    return [
        Prim("poly", np.array([[x, y2 + 0.02], [x + cw, y2 + 0.02], [x + cw, y2 - ch], [x, y2 - ch]]), 0, col, z),
        Prim("line", np.array([[x, y2 - ch / 2], [x + cw, y2 - ch / 2]]), 0.008, shade(col, 0.6), z + 0.01),
    ]


def _choose(rng: np.random.Generator, probs: tuple[float, ...]) -> int:
    return int(rng.choice(len(probs), p=np.asarray(probs) / np.sum(probs)))


def render_scene(
    rng: np.random.Generator,
    actions: list[str],
    size: int,
    *,
    pool: list[str],
    designated: str | None = None,
    bystanders: bool = True,
    difficulty: Difficulty = DEFAULT_DIFFICULTY,
    supersample: int = 2,
) -> Rendered:
    """Render one image.

    Args:
        rng: the image's random generator (its whole draw sequence is independent of ``size``).
        actions: the actors' classes, one per annotated person, left to right in a row.
        size: output side in pixels.
        pool: objects from which the uniform distractors are drawn.
        designated: an object placed prominently beside the actors (``context_bias``), or None.
        bystanders: whether to add unannotated bystanders.
        difficulty: clutter, occlusion and scale knobs.
        supersample: render at this multiple of ``size`` then downsample (antialiasing).

    Returns:
        The image with its label map, persons (actors first, in ``actions`` order, then
        bystanders) and objects (props, then distractors).
    """
    dif = difficulty
    # --- what is in the scene
    actions = list(actions)
    if rng.random() < dif.second_actor_p and len(actions) == 1:  # now and then two people do it
        actions.append(actions[0])
    actors = [build_actor(a, rng, random_body(rng)) for a in actions]
    n_by = _choose(rng, dif.bystander_probs) if bystanders else 0
    bys = [build_bystander(rng, random_body(rng, child=bool(rng.random() < 0.15))) for _ in range(n_by)]
    n_dis = _choose(rng, dif.distractor_probs) if pool else 0
    dis = [distractor_group(str(pool[int(rng.integers(len(pool)))]), rng) for _ in range(n_dis)]
    # the designated distractor has its own generator, so adding it changes nothing else
    prom_rng = np.random.default_rng(int(rng.integers(2**63)))
    prom = distractor_group(designated, prom_rng) if designated else None

    # --- layout on a ground plane in the unit frame (0..1, y down)
    ground_y = rng.uniform(0.86, 0.98)
    horizon = rng.uniform(0.3, min(0.62, ground_y - 0.25))
    multi = len(actors) > 1
    ks = [1.0] + [rng.uniform(0.78, 1.0) for _ in actors[1:]] if multi else [1.0]
    bounds = [g.bounds() for g in actors]
    widths = [b[2] - b[0] for b in bounds]
    overlap = [rng.uniform(0.0, 0.12) for _ in actors]
    feet = [horizon + k * (ground_y - horizon) for k in ks]
    s_max = min((f - 0.02) / (k * -b[1]) for f, k, b in zip(feet, ks, bounds))
    row = sum(k * w * (1 - o) for k, w, o in zip(ks, widths, overlap))
    s_max = min(s_max, 0.96 / row)
    S = s_max * rng.uniform(*dif.fill) if not multi else s_max * rng.uniform(0.85, 1.0)
    x = rng.uniform(0.02, max(0.02, 0.98 - S * row))
    order = rng.permutation(len(actors)) if multi else [0]
    placed: list[tuple[float, Group, int]] = []  # (depth key, group in the unit frame, actor index or -1)
    actor_boxes = []
    for i in order:
        k, b = ks[i], bounds[i]
        sc = S * k
        g = actors[i].moved(sc, x - sc * b[0], feet[i])
        actor_boxes.append(g.bounds())
        placed.append((10.0 + k, g, int(i)))
        x += sc * widths[i] * (1 - overlap[i])
    ab = np.array(actor_boxes)
    union = np.array([ab[:, 0].min(), ab[:, 1].min(), ab[:, 2].max(), ab[:, 3].max()])

    def put(g: Group, k: float, x_range: tuple[float, float], key: float, gen: np.random.Generator) -> None:
        b = g.bounds()
        sc = S * k
        w = sc * (b[2] - b[0])
        lo, hi = x_range
        xl = gen.uniform(lo, max(lo, hi - w))
        placed.append((key, g.moved(sc, xl - sc * b[0], horizon + k * (ground_y - horizon)), -1))

    if prom is not None:  # beside the actors, on the side with more room, as large as them
        k = prom_rng.uniform(0.82, 0.97)
        w = S * k * (prom.bounds()[2] - prom.bounds()[0])
        left_room, right_room = union[0], 1 - union[2]
        if left_room > right_room:
            rng_x = (max(-0.25 * w, union[0] - w * prom_rng.uniform(0.8, 1.0)), union[0] + 0.15 * w)
        else:
            rng_x = (union[2] - 0.15 * w, min(1 + 0.25 * w, union[2] + w))
        put(prom, k, rng_x, 5.0 + k, prom_rng)
    for g in dis:
        k = rng.uniform(0.45, 0.85)
        put(g, k, (-0.1, 1.1), k, rng)
    for g in bys:  # behind the actors (further back when several actors fill the row)
        k = rng.uniform(0.4, 0.7) if multi else rng.uniform(0.45, 0.85)
        put(g, k, (-0.12, 1.12), k, rng)

    desc, bg_prims = _background(rng, horizon, int(rng.integers(dif.clutter[0], dif.clutter[1] + 1)))
    occ = _occluder(rng, actor_boxes[int(rng.integers(len(actor_boxes)))]) if rng.random() < dif.occluder_p else []
    post = dict(
        bright=rng.uniform(0.9, 1.1), contrast=rng.uniform(0.85, 1.1), sat=rng.uniform(0.75, 1.15),
        noise=rng.uniform(*dif.noise), blur=bool(rng.random() < 0.1), seed=int(rng.integers(2**63)),
    )

    # --- paint (everything below depends on the pixel size)
    return _paint(placed, bg_prims, occ, desc, horizon, post, size, supersample)


def _paint(placed, bg_prims, occ, desc, horizon, post, size, ss) -> Rendered:
    """Turn the unit-frame scene into pixels and annotation records."""
    px = size * ss
    unit = np.eye(2) * px
    zero = np.zeros(2)
    prims: list[Prim] = [p.moved(unit, zero, px) for p in bg_prims + occ]
    shadows: list[Prim] = []
    parts, labels = [], {}
    placed = sorted(enumerate(placed), key=lambda t: (t[1][0], t[0]))
    actor_parts, bystander_parts, prop_parts, dis_parts = [], [], [], []
    for rank, (_, (key, g, actor)) in enumerate(placed):
        base = len(parts)
        for part in g.parts:
            kp = None if part.keypoints is None else part.keypoints * px
            parts.append(Part(part.kind, part.name, part.role, part.action, kp, part.hidden))
        for p in g.prims:
            q = p.moved(unit, zero, px, 100.0 * rank)
            q.owner = p.owner + base if p.owner >= 0 else -1
            (prims if p.occludes else shadows).append(q)
        for i, part in enumerate(g.parts):
            idx = base + i
            if part.kind == "person":
                if part.role == "actor":
                    actor_parts.append((actor, idx))
                else:
                    bystander_parts.append(idx)
            else:
                (prop_parts if part.role == "prop" else dis_parts).append(idx)
    # actors keep the order of ``actions`` (groups were sorted by depth for painting)
    person_order = [idx for _, idx in sorted(actor_parts)] + bystander_parts
    for lab, idx in enumerate(person_order, start=1):
        labels[idx] = lab

    img = _paint_background(desc, horizon, px)
    if shadows:
        m = Image.new("L", img.size, 0)
        d = ImageDraw.Draw(m)
        for p in shadows:
            d.polygon([tuple(q) for q in p.pts], fill=70)
        img = Image.composite(img.point(_DARKEN), img, m.filter(ImageFilter.BoxBlur(max(1, ss))))
    img, lab = rasterize(img, prims, labels)
    img = img.reduce(ss) if ss > 1 else img
    lab = lab.resize((size, size), Image.NEAREST) if ss > 1 else lab
    img = _post(img, post)
    lab_np = np.asarray(lab, np.uint8).copy()

    def to_px(p: np.ndarray) -> np.ndarray:
        return (p - (ss - 1) / 2) / ss

    by_owner: dict[int, list[Prim]] = {}
    for q in prims:
        if q.owner >= 0:
            by_owner.setdefault(q.owner, []).append(q)
    boxes = {i: extents(ps) for i, ps in by_owner.items()}

    def part_box(idx: int, mask: np.ndarray | None) -> np.ndarray | None:
        b = to_px(boxes[idx].reshape(2, 2)).reshape(4)
        if mask is not None and mask.any():
            ys, xs = np.nonzero(mask)
            b = np.array([min(b[0], xs.min()), min(b[1], ys.min()), max(b[2], xs.max()), max(b[3], ys.max())])
        b = np.array([np.floor(b[0]), np.floor(b[1]), np.ceil(b[2]), np.ceil(b[3])])
        b = np.clip(b, 0, size - 1)
        if b[2] <= b[0] or b[3] <= b[1]:
            return None
        return b

    persons = []
    keep = []
    for lab_i, idx in enumerate(person_order, start=1):
        mask = lab_np == lab_i
        part = parts[idx]
        if part.role == "bystander" and mask.sum() < 12:
            continue  # hidden or cut off: not annotated (its label is cleared below)
        keep.append(lab_i)
        box = part_box(idx, mask)
        kps = []
        kp = to_px(part.keypoints)
        for j, (xk, yk) in enumerate(kp):
            if not (0 <= xk <= size - 1 and 0 <= yk <= size - 1):
                kps.append([0.0, 0.0, 0])
                continue
            xi, yi = int(round(xk)), int(round(yk))
            win = lab_np[max(0, yi - 1): yi + 2, max(0, xi - 1): xi + 2]
            v = 2 if (not part.hidden[j] and (win == lab_i).any()) else 1
            kps.append([round(float(xk), 2), round(float(yk), 2), v])
        persons.append({"box": [float(v) for v in box], "keypoints": kps, "action": part.action, "role": part.role})
    remap = np.zeros(256, np.uint8)
    for new, old in enumerate(keep, start=1):
        remap[old] = new
    lab_np = remap[lab_np]
    objects = []
    for idx in prop_parts + dis_parts:
        box = part_box(idx, None)
        if box is not None:
            objects.append({"name": parts[idx].name, "box": [float(v) for v in box], "role": parts[idx].role})
    return Rendered(img, lab_np, persons, objects)


def _post(img: Image.Image, post: dict) -> Image.Image:
    """Photometric jitter (saturation, contrast, brightness), optional blur and pixel noise."""
    a = np.asarray(img, np.float32)
    gray = a.mean(2, keepdims=True)
    sat, con, bri = post["sat"], post["contrast"], post["bright"]
    # brightness * (contrast * (gray + sat * (a - gray) - 128) + 128), folded into one affine map
    a = (con * bri * sat) * a + (con * bri * (1 - sat)) * gray + (bri * 128 * (1 - con) + 0.5)
    if post["noise"] > 0:
        a += np.random.default_rng(post["seed"]).standard_normal(a.shape, dtype=np.float32) * np.float32(post["noise"])
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if post["blur"]:
        out = out.filter(ImageFilter.GaussianBlur(0.6))
    return out
