"""Drawing primitives and the rasteriser that SynthHAR scenes are made of.

A SynthHAR image is a list of flat primitives (thick poly-lines, polygons, discs and rings)
in a 2D frame whose unit is the standing height of a person, with ``x`` to the right and
``y`` down (the ground is ``y = 0``, so everything above it has ``y < 0``). Each primitive
carries a depth ``z`` (larger is nearer the viewer) and the index of the scene *part* it
belongs to (a person, an object, or ``-1`` for scenery). :func:`rasterize` paints them back
to front into an RGB image and, with the same shapes, into an 8-bit label map in which each
person's visible pixels carry its label: occlusion comes for free from the painting order.

Everything here is plain numpy + Pillow and is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["Prim", "Part", "Group", "extents", "ellipse_pts", "rot", "shade", "mix", "rasterize"]

Color = tuple[int, int, int]


@dataclass
class Prim:
    """One flat shape.

    Attributes:
        kind: ``"line"`` (poly-line with round caps), ``"poly"`` (filled polygon),
            ``"disc"`` (filled circle) or ``"ring"`` (circle outline).
        pts: points, shape (K, 2); a disc or ring has one point, its centre.
        size: line width, or circle radius, in frame units.
        fill: RGB colour.
        z: depth, larger is nearer the viewer (drawn later).
        owner: index of the part it belongs to in the scene's part list, ``-1`` for scenery.
        occludes: whether it is painted into the label map (``False`` for shadows).
        width: outline width of a ring, in frame units.
    """

    kind: str
    pts: np.ndarray
    size: float
    fill: Color
    z: float = 0.0
    owner: int = -1
    occludes: bool = True
    width: float = 0.0

    def moved(self, mat: np.ndarray, offset: np.ndarray, scale: float, dz: float = 0.0) -> "Prim":
        """A copy mapped by ``p -> p @ mat.T + offset`` with sizes multiplied by ``scale``."""
        return Prim(
            self.kind, self.pts @ mat.T + offset, self.size * scale, self.fill,
            self.z + dz, self.owner, self.occludes, self.width * scale,
        )

    def extent(self) -> np.ndarray:
        """The axis-aligned box ``[x1, y1, x2, y2]`` the shape covers."""
        pad = _pad(self)
        lo, hi = self.pts.min(0) - pad, self.pts.max(0) + pad
        return np.array([lo[0], lo[1], hi[0], hi[1]])


@dataclass
class Part:
    """A thing the annotations talk about: a person or an object.

    Attributes:
        kind: ``"person"`` or ``"object"``.
        name: the object name (``"bike"``, ...) or ``"person"``.
        role: ``"actor"``/``"bystander"`` for persons, ``"prop"``/``"distractor"`` for objects.
        action: the SynthHAR class of an actor, ``None`` otherwise.
        keypoints: (17, 2) COCO keypoints of a person, in the same frame as the primitives.
        hidden: (17,) bool, keypoints hidden by the person's own head (the far eye and ear).
    """

    kind: str
    name: str
    role: str
    action: str | None = None
    keypoints: np.ndarray | None = None
    hidden: np.ndarray | None = None


@dataclass
class Group:
    """Primitives and parts built together in one local frame (an actor with its props, ...)."""

    prims: list[Prim] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)

    def add_part(self, part: Part) -> int:
        """Append a part and return its index (use it as ``owner`` of its primitives)."""
        self.parts.append(part)
        return len(self.parts) - 1

    def extend(self, prims: list[Prim], owner: int | None = None) -> None:
        """Append primitives, setting their owner when ``owner`` is given."""
        for p in prims:
            if owner is not None:
                p.owner = owner
            self.prims.append(p)

    def bounds(self) -> np.ndarray:
        """The box ``[x1, y1, x2, y2]`` around every primitive that occludes (shadows excluded)."""
        return extents([p for p in self.prims if p.occludes])

    def moved(self, scale: float, dx: float, dy: float, dz: float = 0.0, flip: bool = False) -> "Group":
        """A copy scaled by ``scale``, optionally mirrored (``x -> -x``), then shifted by ``(dx, dy)``.

        Mirroring is only for groups without people (a mirrored person would swap its
        anatomical left and right); people are built facing either way instead.
        """
        mat = np.array([[-scale if flip else scale, 0.0], [0.0, scale]])
        off = np.array([dx, dy])
        out = Group([p.moved(mat, off, scale, dz) for p in self.prims], [])
        for part in self.parts:
            kp = None if part.keypoints is None else part.keypoints @ mat.T + off
            out.parts.append(Part(part.kind, part.name, part.role, part.action, kp, part.hidden))
        return out


def _pad(p: Prim) -> float:
    return p.size if p.kind in ("disc", "ring") else (p.size / 2 if p.kind == "line" else 0.0)


def extents(prims: list[Prim]) -> np.ndarray:
    """The box ``[x1, y1, x2, y2]`` around all of ``prims`` (same as merging their ``extent()``)."""
    pts = np.concatenate([p.pts for p in prims])  # [K, 2]
    pad = np.repeat(np.array([_pad(p) for p in prims]), [len(p.pts) for p in prims])[:, None]  # [K, 1]
    lo, hi = (pts - pad).min(0), (pts + pad).max(0)
    return np.array([lo[0], lo[1], hi[0], hi[1]])


def rot(deg: float) -> np.ndarray:
    """The 2x2 matrix rotating image vectors by ``deg`` degrees (clockwise on screen, y down)."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s], [s, c]])


def ellipse_pts(cx: float, cy: float, rx: float, ry: float, deg: float = 0.0, n: int = 18) -> np.ndarray:
    """Points (n, 2) of an ellipse with radii ``rx``, ``ry`` rotated by ``deg``."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1) @ rot(deg).T
    return pts + np.array([cx, cy])


def shade(color: Color, k: float) -> Color:
    """``color`` scaled by ``k`` (k < 1 darker, k > 1 lighter), clipped to 0..255."""
    return tuple(int(min(255, max(0, round(c * k)))) for c in color)  # type: ignore[return-value]


def mix(a: Color, b: Color, t: float) -> Color:
    """Linear blend ``(1 - t) * a + t * b``."""
    return tuple(int(round((1 - t) * x + t * y)) for x, y in zip(a, b))  # type: ignore[return-value]


def _draw(draw: ImageDraw.ImageDraw, p: Prim, color) -> None:
    """Paint one primitive whose coordinates are already in pixels."""
    if p.kind == "line":
        w = max(1, int(round(p.size)))
        pts = [tuple(q) for q in p.pts]
        draw.line(pts, fill=color, width=w, joint="curve" if len(pts) > 2 else None)
        if w >= 3:
            r = p.size / 2
            for x, y in (pts[0], pts[-1]):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
    elif p.kind == "poly":
        draw.polygon([tuple(q) for q in p.pts], fill=color)
    elif p.kind == "disc":
        (x, y), r = p.pts[0], max(p.size, 0.5)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
    elif p.kind == "ring":
        (x, y), r = p.pts[0], max(p.size, 1.0)
        draw.ellipse([x - r, y - r, x + r, y + r], outline=color, width=max(1, int(round(p.width))))
    else:  # pragma: no cover - a programming error, not a user error
        raise ValueError(f"unknown primitive kind {p.kind!r}")


def rasterize(
    image: Image.Image, prims: list[Prim], labels: dict[int, int]
) -> tuple[Image.Image, Image.Image]:
    """Paint ``prims`` (already in pixel coordinates) back to front.

    Args:
        image: the RGB background, painted over in place.
        prims: primitives in pixels; drawn in order of increasing ``z`` (stable for ties).
        labels: part index -> label written into the label map (persons); any other owner
            writes 0, so an object in front of a person removes those pixels from its mask.

    Returns:
        ``(image, label_map)``: the painted image and an ``L``-mode label map of the same size.
    """
    lab = Image.new("L", image.size, 0)
    d_img, d_lab = ImageDraw.Draw(image), ImageDraw.Draw(lab)
    order = sorted(range(len(prims)), key=lambda i: prims[i].z)
    for i in order:
        p = prims[i]
        _draw(d_img, p, p.fill)
        if p.occludes:
            _draw(d_lab, p, labels.get(p.owner, 0))
    return image, lab
