"""Pretraining-corpus scenes: posed people and free-standing objects, labelled by what is there.

:func:`render_corpus_scene` is :func:`.scene.render_scene`'s sibling for the pretraining corpus
(:mod:`harlearn.data.synthhar.corpus`): one to three people posed by :mod:`.primitives`
(nobody does a course action on purpose), zero to three objects standing free in the scene,
the same backgrounds, clutter, occluders, perspective and painting as the course images
(:mod:`.scene`'s own helpers). It returns the render and the image's labels: which objects
are in it (:data:`OBJECTS`) and which pose primitives its people show (:data:`~.primitives.PRIMITIVES`),
plus ``several_people``.

What "an object is in it" means: the object was drawn with a box inside the image (it may be
partly hidden by a person in front of it, as in a photograph). Tables are annotated objects
here (in the course scenes a table is scenery).
"""

from __future__ import annotations

import numpy as np

from . import objects as ob
from .actions import add_sprite, shadow
from .canvas import Group
from .figure import random_body
from .primitives import PRIMITIVES, build_posed_person
from .scene import DEFAULT_DIFFICULTY, Difficulty, Rendered, _background, _choose, _occluder, _paint

__all__ = ["OBJECTS", "CORPUS_LABELS", "PERSON_COUNT_PROBS", "FREE_OBJECT_PROBS", "render_corpus_scene", "free_object"]

#: The objects the corpus labels (every object the renderer draws except the pen).
OBJECTS: tuple[str, ...] = ("bike", "book", "camera", "chair", "dog", "guitar", "horse", "laptop", "phone", "table")
#: The corpus's label space, in column order: objects, then person primitives, then the count.
CORPUS_LABELS: tuple[str, ...] = (*OBJECTS, *PRIMITIVES, "several_people")
#: Probabilities of 1, 2, 3 people.
PERSON_COUNT_PROBS: tuple[float, ...] = (0.5, 0.35, 0.15)
#: Probabilities of 0, 1, 2, 3 free-standing objects.
FREE_OBJECT_PROBS: tuple[float, ...] = (0.2, 0.4, 0.28, 0.12)
_FREE = ("bike", "book", "camera", "chair", "dog", "guitar", "horse", "laptop", "phone", "table")


def free_object(name: str, rng: np.random.Generator) -> Group:
    """An object of class ``name`` standing on the ground (small ones on an annotated table)."""
    g = Group()
    flip = bool(rng.random() < 0.5)
    if name == "bike":
        add_sprite(g, ob.bike(rng, rng.uniform(0.95, 1.1)).placed(0, 0, ob.linear(flip=flip)), "distractor")
        shadow(g, 0.0, 0.4)
    elif name == "horse":
        add_sprite(g, ob.horse(rng, rng.uniform(0.9, 1.1), rng.uniform(0, 1), bool(rng.random() < 0.3)).placed(0, 0, ob.linear(flip=flip)), "distractor")
        shadow(g, 0.0, 0.45)
    elif name == "dog":
        add_sprite(g, ob.dog(rng, rng.uniform(1.0, 1.4)).placed(0, 0, ob.linear(flip=flip)), "distractor")
        shadow(g, 0.0, 0.15)
    elif name == "guitar":
        size = rng.uniform(1.0, 1.25)
        add_sprite(g, ob.guitar(rng, size).placed(0, -0.09 * size, ob.linear(deg=-90 + rng.normal(0, 12))), "distractor")
        shadow(g, 0.0, 0.1)
    elif name == "chair":
        add_sprite(g, ob.chair(rng, rng.uniform(0.24, 0.3), back=bool(rng.random() < 0.7)).placed(0, 0, ob.linear(flip=flip)), "distractor")
        shadow(g, 0.0, 0.12)
    elif name == "camera":
        legs, top = ob.tripod(rng, rng.uniform(0.6, 0.8))
        add_sprite(g, legs, None)
        add_sprite(g, ob.camera(rng, rng.uniform(1.4, 1.8), profile=bool(rng.random() < 0.5)).placed(top[0], top[1] - 0.03, ob.linear(flip=flip)), "distractor")
    else:  # table, or laptop / book / phone on a table
        h, length = rng.uniform(0.38, 0.5), rng.uniform(0.35, 0.6)
        add_sprite(g, ob.table(rng, h, length).placed(-length / 2, 0.0), "distractor")
        top = -h - 0.025
        if name == "laptop":
            add_sprite(g, ob.laptop(rng, rng.uniform(1.3, 1.6), rng.uniform(95, 125)).placed(0.12, top + 0.012, ob.linear(flip=flip), 0.1), "distractor")
        elif name == "book":
            add_sprite(g, ob.book(rng, rng.uniform(1.6, 2.1), open_=bool(rng.random() < 0.5)).placed(0.0, top - 0.07, ob.linear(deg=rng.normal(0, 8)), 0.1), "distractor")
        elif name == "phone":
            add_sprite(g, ob.phone(rng, rng.uniform(1.8, 2.4)).placed(0.0, top - 0.1, ob.linear(deg=rng.normal(0, 10)), 0.1), "distractor")
        shadow(g, 0.0, 0.3)
    return g


def render_corpus_scene(
    rng: np.random.Generator, size: int, *, difficulty: Difficulty = DEFAULT_DIFFICULTY, supersample: int = 2
) -> tuple[Rendered, list[list[str]], list[str]]:
    """Render one corpus image.

    Args:
        rng: the image's random generator (its draw sequence is independent of ``size``).
        size: output side in pixels.
        difficulty: the course's knobs; the corpus uses its clutter, occluder and noise settings
            (the people and objects are drawn by the corpus's own counts).
        supersample: render at this multiple of ``size`` then downsample.

    Returns:
        ``(render, primitives, labels)``: the image with its label map, persons (in drawing
        order of the people) and objects; each person's primitive names; the image's labels,
        a subset of :data:`CORPUS_LABELS` in that order.
    """
    dif = difficulty
    n_people = _choose(rng, PERSON_COUNT_PROBS) + 1
    people = [build_posed_person(rng, random_body(rng, child=bool(rng.random() < 0.12))) for _ in range(n_people)]
    n_free = _choose(rng, FREE_OBJECT_PROBS)
    free = [free_object(_FREE[int(rng.integers(len(_FREE)))], rng) for _ in range(n_free)]

    # layout on a ground plane, as render_scene lays out its actors: a row of people, objects around
    ground_y = rng.uniform(0.86, 0.98)
    horizon = rng.uniform(0.3, min(0.62, ground_y - 0.25))
    groups = [g for g, _, _ in people]
    ks = [1.0] + [rng.uniform(0.7, 1.0) for _ in groups[1:]]
    bounds = [g.bounds() for g in groups]
    widths = [b[2] - b[0] for b in bounds]
    gaps = [rng.uniform(-0.05, 0.25) for _ in groups]
    feet = [horizon + k * (ground_y - horizon) for k in ks]
    s_max = min((f - 0.02) / (k * -b[1]) for f, k, b in zip(feet, ks, bounds))
    row = sum(k * w * (1 + gap) for k, w, gap in zip(ks, widths, gaps))
    s_max = min(s_max, 0.96 / row)
    S = s_max * rng.uniform(0.7, 1.0)
    x = rng.uniform(0.02, max(0.02, 0.98 - S * row))
    placed: list[tuple[float, Group, int]] = []
    boxes = []
    for i in rng.permutation(len(groups)):
        k, b = ks[i], bounds[i]
        sc = S * k
        g = groups[i].moved(sc, x - sc * b[0], feet[i])
        boxes.append(g.bounds())
        placed.append((10.0 + k, g, int(i)))
        x += sc * widths[i] * (1 + gaps[i])
    for g in free:
        k = rng.uniform(0.45, 0.95)
        b = g.bounds()
        sc = S * k
        w = sc * (b[2] - b[0])
        xl = rng.uniform(-0.1, max(-0.1, 1.1 - w))
        placed.append((k, g.moved(sc, xl - sc * b[0], horizon + k * (ground_y - horizon)), -1))

    desc, bg_prims = _background(rng, horizon, int(rng.integers(dif.clutter[0], dif.clutter[1] + 1)))
    occ = _occluder(rng, boxes[int(rng.integers(len(boxes)))]) if rng.random() < dif.occluder_p else []
    post = dict(
        bright=rng.uniform(0.9, 1.1), contrast=rng.uniform(0.85, 1.1), sat=rng.uniform(0.75, 1.15),
        noise=rng.uniform(*dif.noise), blur=bool(rng.random() < 0.1), seed=int(rng.integers(2**63)),
    )
    r = _paint(placed, bg_prims, occ, desc, horizon, post, size, supersample)
    primitives = [list(p) for _, p, _ in people]
    present = {o["name"] for o in r.objects} | {p for ps in primitives for p in ps}
    if n_people > 1:
        present.add("several_people")
    return r, primitives, [name for name in CORPUS_LABELS if name in present]
