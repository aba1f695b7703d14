"""SynthHAR clip scenes: one actor moving through ``T`` frames of a scene that stays put.

:func:`render_clip` is :func:`.scene.render_scene`'s sibling for clips. Everything random is
drawn once, before the first frame: the actor's body and motion (:mod:`.motions`), the
bystanders, the distractor objects, the background, clutter and occluder, the photometric
jitter. The layout is fitted to the actor's extent *over the whole clip* (so the person keeps
one scale and place while moving), then each frame is painted by :func:`.scene._paint` with
the actor at that frame's time. Only the pixel noise is drawn anew per frame, as a camera's.

A static camera, static bystanders (they stand idle) and static objects: the only motion in
a clip is the action's, which is what the optical-flow chapter measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .actions import DISTRACTOR_OBJECTS, build_bystander
from .canvas import Group
from .figure import random_body
from .motions import CLIP_OBJECTS, build_motion
from .scene import DEFAULT_DIFFICULTY, Difficulty, _background, _choose, _occluder, _paint, distractor_group

__all__ = ["RenderedClip", "render_clip"]


@dataclass
class RenderedClip:
    """One rendered clip: ``T`` frames and each frame's annotations (0-based pixel coordinates)."""

    frames: list[Image.Image]
    persons: list[list[dict]]  # per frame: the actor first, then the bystanders that show
    objects: list[list[dict]]  # per frame: props, then distractors


def render_clip(
    rng: np.random.Generator,
    action: str,
    size: int,
    frames: int,
    *,
    bystanders: bool = True,
    difficulty: Difficulty = DEFAULT_DIFFICULTY,
    supersample: int = 2,
) -> RenderedClip:
    """Render one clip of class ``action``.

    Args:
        rng: the clip's random generator (its draws do not depend on ``size`` or ``frames``).
        action: a clip class (:data:`.motions.CLIP_CLASSES`).
        size: frame side in pixels.
        frames: number of frames ``T``; frame ``k`` shows clip time ``k / (T - 1)``.
        bystanders: add idle bystanders.
        difficulty: clutter, occlusion and scale knobs (as the still images').
        supersample: render at this multiple of ``size``, then downsample.

    Returns:
        The frames and their person and object records.
    """
    dif = difficulty
    pose = build_motion(action, rng, random_body(rng))
    n_by = _choose(rng, dif.bystander_probs) if bystanders else 0
    bys = [build_bystander(rng, random_body(rng, child=bool(rng.random() < 0.15))) for _ in range(n_by)]
    pool = [o for o in DISTRACTOR_OBJECTS if o not in CLIP_OBJECTS[action]]
    dis = [distractor_group(str(pool[int(rng.integers(len(pool)))]), rng) for _ in range(_choose(rng, dif.distractor_probs))]

    times = [k / max(frames - 1, 1) for k in range(frames)]
    actor = [pose(u) for u in times]  # one group per frame, in the actor's frame
    b = np.array([g.bounds() for g in actor])
    b = np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])  # the extent over the clip
    ground_y = rng.uniform(0.86, 0.98)
    horizon = rng.uniform(0.3, min(0.62, ground_y - 0.25))
    s_max = min((ground_y - 0.02) / -b[1], 0.96 / (b[2] - b[0]))
    S = s_max * rng.uniform(*dif.fill)
    x = rng.uniform(0.02, max(0.02, 0.98 - S * (b[2] - b[0])))
    dx = x - S * b[0]
    box = np.array([dx + S * b[0], ground_y + S * b[1], dx + S * b[2], ground_y + S * b[3]])

    static: list[tuple[float, Group, int]] = []
    for g, k in [(g, rng.uniform(0.45, 0.85)) for g in dis] + [(g, rng.uniform(0.45, 0.85)) for g in bys]:
        gb = g.bounds()
        w = S * k * (gb[2] - gb[0])
        xl = rng.uniform(-0.1, max(-0.1, 1.1 - w))
        static.append((k, g.moved(S * k, xl - S * k * gb[0], horizon + k * (ground_y - horizon)), -1))
    desc, bg_prims = _background(rng, horizon, int(rng.integers(dif.clutter[0], dif.clutter[1] + 1)))
    occ = _occluder(rng, box) if rng.random() < dif.occluder_p else []
    post = dict(
        bright=rng.uniform(0.9, 1.1), contrast=rng.uniform(0.85, 1.1), sat=rng.uniform(0.75, 1.15),
        noise=rng.uniform(*dif.noise), blur=bool(rng.random() < 0.1), seed=int(rng.integers(2**62)),
    )

    out = RenderedClip([], [], [])
    for k, g in enumerate(actor):
        g = g.moved(S, dx, ground_y)
        for part in g.parts:
            if part.kind == "person":
                part.action = action
        r = _paint([(11.0, g, 0)] + static, bg_prims, occ, desc, horizon, dict(post, seed=post["seed"] + k), size, supersample)
        out.frames.append(r.image)
        out.persons.append(r.persons)
        out.objects.append(r.objects)
    return out
