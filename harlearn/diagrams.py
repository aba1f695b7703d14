"""Architecture figures of the course, drawn by code (boxes and arrows on matplotlib).

Each function draws one block or model as the course's library builds it (the names, shapes and
order of :mod:`harlearn.layers`, :mod:`harlearn.models` and :mod:`harlearn.transformers`), not as
a paper's figure: where the library departs from the paper (GoogLeNet's "5x5" branch, the
retrieval model's context boxes) the figure shows the library. The chapters show the SVG files
in ``book/figures/``; regenerate them after changing a figure with::

    python -m harlearn.diagrams book/figures

The files are deterministic (no date, fixed ids), so a figure that did not change gives the same
bytes and ``tests/test_diagrams.py`` can check that the committed files are up to date.

Colours name the kind of operation, the same in every figure (:data:`KIND`): convolutions blue,
normalisation and activations grey, attention orange, pooling green, linear layers purple,
losses red, data and tensors pale yellow.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

__all__ = ["KIND", "Diagram", "FIGURES", "write_all",
           "small_cnn", "bottleneck", "inception", "dense_block", "se_cbam", "non_local", "vit",
           "swin", "mae", "lga", "convit", "retrieval", "clip"]

#: Fill colour per kind of operation.
KIND = {
    "conv": "#cfe2f3", "norm": "#e6e6e6", "attn": "#fce5cd", "pool": "#d9ead3", "linear": "#e1d5e7",
    "loss": "#f4cccc", "data": "#fff2cc", "op": "#ffffff",
}


class Diagram:
    """A blank canvas in data units (``width`` x ``height``), y pointing up, with boxes and arrows."""

    def __init__(self, width: float, height: float, title: str | None = None, scale: float = 0.62) -> None:
        self.fig, self.ax = plt.subplots(figsize=(width * scale, height * scale))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.set_aspect("equal")
        self.ax.axis("off")
        if title:
            self.ax.set_title(title, fontsize=10)

    def box(self, x: float, y: float, text: str, kind: str = "op", w: float = 2.6, h: float = 0.7,
            fontsize: float = 7.5) -> tuple[float, float, float, float]:
        """A rounded box centred at ``(x, y)``; returns ``(x, y, w, h)`` for :meth:`arrow`."""
        self.ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                         fc=KIND[kind], ec="#444444", lw=0.8))
        self.ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
        return (x, y, w, h)

    def circle(self, x: float, y: float, text: str = "+", r: float = 0.25) -> tuple[float, float, float, float]:
        """A small round node (a sum, a product, a concatenation)."""
        self.ax.add_patch(plt.Circle((x, y), r, fc="white", ec="#444444", lw=0.8))
        self.ax.text(x, y, text, ha="center", va="center", fontsize=8)
        return (x, y, 2 * r, 2 * r)

    def text(self, x: float, y: float, text: str, fontsize: float = 7, **kw) -> None:
        """A free label (shapes beside arrows, notes)."""
        self.ax.text(x, y, text, fontsize=fontsize, **{"ha": "center", "va": "center", "color": "#333333", **kw})

    def arrow(self, a, b, text: str | None = None, side: str = "right", rad: float = 0.0) -> None:
        """An arrow from box ``a`` to box ``b`` (boxes or ``(x, y)`` points), leaving and entering
        through the facing edges; ``text`` is written beside its middle."""
        (x0, y0), (x1, y1) = self._port(a, b), self._port(b, a)
        self.ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=8, lw=0.8,
                                          color="#444444", connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))
        if text:
            dx = 0.12 if side == "right" else -0.12
            self.text((x0 + x1) / 2 + dx, (y0 + y1) / 2, text, ha="left" if side == "right" else "right",
                      fontsize=6.5)

    def line(self, points: list[tuple[float, float]], arrow: bool = True) -> None:
        """A polyline through ``points`` (a skip connection around a branch), arrow at the end."""
        xs, ys = zip(*points)
        self.ax.plot(xs[:-1], ys[:-1], color="#444444", lw=0.8)
        self.ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>" if arrow else "-", mutation_scale=8,
                                          lw=0.8, color="#444444", shrinkA=0, shrinkB=0))

    def grid(self, x: float, y: float, n: int, m: int, cell: float, colours: Callable[[int, int], str],
             lw: float = 0.4) -> None:
        """An ``n`` x ``m`` grid of cells, lower-left corner at ``(x, y)``, cell ``(i, j)`` coloured
        by ``colours(i, j)`` (row ``i`` from the top)."""
        for i in range(n):
            for j in range(m):
                self.ax.add_patch(Rectangle((x + j * cell, y + (n - 1 - i) * cell), cell, cell, fc=colours(i, j),
                                            ec="#555555", lw=lw))

    @staticmethod
    def _port(a, b) -> tuple[float, float]:
        if len(a) == 2:
            return a
        x, y, w, h = a
        bx, by = b[:2]
        dx, dy = bx - x, by - y
        if abs(dy) * w >= abs(dx) * h:  # leave through the top or the bottom edge
            return (x, y + (h / 2 if dy > 0 else -h / 2))
        return (x + (w / 2 if dx > 0 else -w / 2), y)


# ---------------------------------------------------------------------------------------------
# Chapter 1


def small_cnn() -> plt.Figure:
    """:func:`harlearn.models.small_cnn`: four conv-BN-ReLU-pool stages, pool, linear."""
    d = Diagram(17, 3.2, "small_cnn(n_cls, w): four stages, each halving the side")
    x = d.box(1.2, 1.8, "image\n[B, 3, H, W]", "data", w=2.0, h=0.9)
    prev = x
    for k, c in enumerate(("w", "2w", "4w", "8w")):
        cx = 3.7 + 2.6 * k
        stage = d.box(cx, 1.8, f"3×3 conv, {c}\nBN, ReLU\n2×2 max pool", "conv", w=2.2, h=1.3, fontsize=7)
        d.arrow(prev, stage)
        d.text(cx, 0.8, f"[B, {c}, H/{2 ** (k + 1)}, W/{2 ** (k + 1)}]", fontsize=6)
        prev = stage
    gap = d.box(13.8, 1.8, "global\naverage pool", "pool", w=1.6, h=0.9)
    d.arrow(prev, gap)
    fc = d.box(15.9, 1.8, "linear\n8w → n_cls", "linear", w=1.7, h=0.9)
    d.arrow(gap, fc)
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 2


def bottleneck() -> plt.Figure:
    """A ResNet-50 bottleneck (torchvision's v1.5: the stride on the 3x3 convolution)."""
    d = Diagram(8, 8.4, "Bottleneck: 1×1 reduce, 3×3, 1×1 expand, plus the shortcut")
    x = d.box(3, 7.7, "x  [B, C_in, H, W]", "data", w=3.4)
    c1 = d.box(3, 6.6, "conv1: 1×1, C_mid", "conv")
    n1 = d.box(3, 5.8, "bn1, ReLU", "norm")
    c2 = d.box(3, 4.8, "conv2: 3×3, C_mid, stride s", "conv", w=3.2)
    n2 = d.box(3, 4.0, "bn2, ReLU", "norm")
    c3 = d.box(3, 3.0, "conv3: 1×1, 4·C_mid", "conv")
    n3 = d.box(3, 2.2, "bn3", "norm")
    add = d.circle(3, 1.3)
    out = d.box(3, 0.45, "ReLU → [B, 4·C_mid, H/s, W/s]", "norm", w=3.6)
    for a, b in ((x, c1), (c1, n1), (n1, c2), (c2, n2), (n2, c3), (c3, n3), (n3, add), (add, out)):
        d.arrow(a, b)
    down = d.box(6.5, 4.4, "downsample\n1×1 conv, stride s,\nBN (or identity)", "conv", w=2.4, h=1.2, fontsize=7)
    d.line([(4.7, 7.7), (6.5, 7.7), (6.5, 5.0)])
    d.line([(6.5, 3.8), (6.5, 1.3), (3.25, 1.3)])
    d.text(7.0, 6.5, "shortcut", rotation=90)
    return d.fig


def inception() -> plt.Figure:
    """An Inception module as the library builds it (``branch1`` .. ``branch4``, concatenated)."""
    d = Diagram(13, 6.2, "Inception module: four branches on the same input, concatenated")
    x = d.box(6.5, 5.5, "x  [B, C_in, H, W]", "data", w=3.4)
    xs = (1.8, 5.0, 8.2, 11.3)
    tops = [d.box(xs[0], 4.0, "1×1 conv, #1x1", "conv", w=2.8),
            d.box(xs[1], 4.0, "1×1 conv, #3x3 reduce", "conv", w=2.8),
            d.box(xs[2], 4.0, "1×1 conv, #5x5 reduce", "conv", w=2.8),
            d.box(xs[3], 4.0, "3×3 max pool, stride 1", "pool", w=2.8)]
    mids = [None, d.box(xs[1], 2.8, "3×3 conv, #3x3", "conv", w=2.8),
            d.box(xs[2], 2.8, "3×3 conv, #5x5 *", "conv", w=2.8),
            d.box(xs[3], 2.8, "1×1 conv, pool proj", "conv", w=2.8)]
    cat = d.box(6.5, 1.2, "concatenate channels → [B, #1x1 + #3x3 + #5x5 + pool proj, H, W]", "op", w=10.6)
    for bx, top, mid in zip(xs, tops, mids):
        d.arrow(x, top)
        d.arrow(mid or top, (bx, 1.55))
        if mid:
            d.arrow(top, mid)
    d.text(6.5, 0.3, "every conv is BasicConv2d: conv, BatchNorm, ReLU.   * the paper's 5×5; a 3×3 in torchvision's "
                     "ported weights, and here", fontsize=6.5)
    return d.fig


def dense_block() -> plt.Figure:
    """A DenseNet dense block of four layers: each reads the concatenation of all before it."""
    d = Diagram(14.6, 4.6, "Dense block: every layer reads all earlier maps, adds k channels (growth rate)")
    x = d.box(1.3, 2.3, "x\nC_0 channels", "data", w=1.8, h=1.0)
    prev_cat = x
    for i in range(4):
        cx = 3.6 + 2.6 * i
        layer = d.box(cx, 3.3, "BN-ReLU-1×1 (4k)\nBN-ReLU-3×3 (k)", "conv", w=2.3, h=0.9, fontsize=6.5)
        cat = d.circle(cx, 1.3, "‖")
        d.arrow(prev_cat, layer)
        d.arrow(layer, cat)
        d.line([(prev_cat[0] + prev_cat[2] / 2, 1.3 if i else 2.3), (cx - 0.25, 1.3)])
        d.text(cx, 0.6, f"C_0 + {i + 1}k", fontsize=6.5)
        prev_cat = cat
    t = d.box(13.2, 2.3, "transition\nBN-1×1 conv\n2×2 avg pool", "pool", w=1.6, h=1.2, fontsize=6.5)
    d.arrow(prev_cat, t)
    d.text(7.5, 4.25, "‖ = concatenation along channels", fontsize=6.5)
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 3


def se_cbam() -> plt.Figure:
    """SE and CBAM as the library puts them: on the residual branch, after ``bn3``."""
    d = Diagram(15, 6.6, "Channel and spatial gates on a bottleneck's residual branch (after bn3)")
    d.text(3.2, 6.1, "Squeeze-and-Excitation", fontsize=8.5)
    f = d.box(3.2, 5.3, "F  [B, C, H, W]", "data", w=2.8)
    gap = d.box(3.2, 4.3, "global average pool → [B, C]", "pool", w=3.6)
    fc1 = d.box(3.2, 3.4, "linear C → C/r, ReLU", "linear", w=3.6)
    fc2 = d.box(3.2, 2.5, "linear C/r → C, sigmoid: a", "linear", w=3.6)
    mul = d.circle(3.2, 1.5, "×")
    out = d.box(3.2, 0.6, "a ⊙ F", "data", w=2.8)
    for a, b in ((f, gap), (gap, fc1), (fc1, fc2), (fc2, mul), (mul, out)):
        d.arrow(a, b)
    d.line([(1.8, 5.3), (0.7, 5.3), (0.7, 1.5), (2.95, 1.5)])

    d.text(10.5, 6.1, "CBAM: what, then where", fontsize=8.5)
    f = d.box(10.5, 5.3, "F  [B, C, H, W]", "data", w=2.8)
    avg = d.box(8.7, 4.3, "avg pool → [B, C]", "pool", w=2.4)
    mx = d.box(12.3, 4.3, "max pool → [B, C]", "pool", w=2.4)
    mlp = d.box(10.5, 3.4, "shared MLP (C → C/r → C), add, sigmoid: A_c", "linear", w=5.4)
    m1 = d.circle(10.5, 2.6, "×")
    pools = d.box(10.5, 1.8, "mean and max over C → [B, 2, H, W]", "pool", w=4.6)
    conv = d.box(10.5, 1.0, "7×7 conv → 1, sigmoid: A_s", "conv", w=4.6)
    m2 = d.circle(13.6, 1.0, "×")
    d.text(13.6, 0.35, "A_s ⊙ (A_c ⊙ F)", fontsize=6.5)
    for a, b in ((f, avg), (f, mx), (avg, mlp), (mx, mlp), (mlp, m1), (m1, pools), (pools, conv), (conv, m2)):
        d.arrow(a, b)
    d.line([(9.1, 5.3), (7.2, 5.3), (7.2, 2.6), (10.25, 2.6)])
    d.line([(10.75, 2.6), (13.6, 2.6), (13.6, 1.25)])
    return d.fig


def non_local() -> plt.Figure:
    """The non-local block (embedded Gaussian), between residual blocks of ``layer3``."""
    d = Diagram(12, 6.2, "Non-local block (embedded Gaussian): every position attends to every other")
    x = d.box(6, 5.6, "x  [B, C, H, W]  →  N = HW tokens", "data", w=4.8)
    th = d.box(2.5, 4.3, "θ: 1×1 conv, C/2", "conv")
    ph = d.box(6, 4.3, "φ: 1×1 conv, C/2", "conv")
    g = d.box(9.5, 4.3, "g: 1×1 conv, C/2", "conv")
    att = d.box(4.25, 3.1, "softmax(θ φᵀ)  [B, N, N]", "attn", w=3.6)
    y = d.box(6.8, 2.0, "attention · g  [B, N, C/2]", "attn", w=3.6)
    w = d.box(6.8, 1.1, "W: 1×1 conv → C, BN (init 0)", "conv", w=3.6)
    add = d.circle(10.5, 1.1)
    d.text(10.5, 0.4, "z = x + W(y): the block starts as the identity", fontsize=6.5)
    for a, b in ((x, th), (x, ph), (x, g), (th, att), (ph, att), (att, y), (g, y), (y, w), (w, add)):
        d.arrow(a, b)
    d.line([(8.4, 5.6), (11.5, 5.6), (11.5, 1.1), (10.75, 1.1)])
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 4


def vit() -> plt.Figure:
    """:class:`harlearn.transformers.VisionTransformer`: patches to logits (pre-norm blocks)."""
    d = Diagram(17.6, 7.0, "ViT: an image as a sequence of patch tokens")
    img = d.box(1.3, 6.0, "image\n[B, 3, H, W]", "data", w=2.0, h=0.9)
    d.grid(0.5, 3.4, 3, 3, 0.5, lambda i, j: "#fff2cc")
    d.text(1.25, 3.0, "p × p patches", fontsize=6.5)
    emb = d.box(4.6, 6.0, "patch_embed: p×p conv,\nstride p → [B, N, C]", "conv", w=3.0, h=0.9)
    cls = d.box(4.6, 4.6, "prepend [cls] token,\nadd pos_embed [1, N+1, C]", "op", w=3.0, h=0.9)
    d.arrow(img, emb)
    d.arrow(emb, cls)
    # one pre-norm block: x + MHSA(LN(x)), then + MLP(LN(.))
    d.ax.add_patch(Rectangle((7.1, 1.1), 4.5, 5.4, fc="none", ec="#888888", lw=0.8, ls="--"))
    d.text(9.35, 0.8, "block ℓ, repeated L times", fontsize=7)
    d.ax.plot([9.3], [6.0], "o", color="#444444", ms=3)
    d.line([(6.1, 4.6), (6.7, 4.6), (6.7, 6.0), (9.25, 6.0)])
    n1 = d.box(9.3, 5.35, "LayerNorm", "norm", w=2.4, h=0.5)
    at = d.box(9.3, 4.6, "multi-head self-attention", "attn", w=3.2, h=0.5)
    a1 = d.circle(9.3, 3.9)
    n2 = d.box(9.3, 3.05, "LayerNorm", "norm", w=2.4, h=0.5)
    mlp = d.box(9.3, 2.3, "MLP: C → 4C, GELU → C", "linear", w=3.2, h=0.5)
    a2 = d.circle(9.3, 1.6)
    d.arrow((9.3, 6.0), n1)
    for a, b in ((n1, at), (at, a1), (a1, n2), (n2, mlp), (mlp, a2)):
        d.arrow(a, b)
    d.line([(9.3, 6.0), (11.2, 6.0), (11.2, 3.9), (9.55, 3.9)])  # first skip
    d.ax.plot([9.3], [3.5], "o", color="#444444", ms=3)
    d.line([(9.3, 3.5), (7.5, 3.5), (7.5, 1.6), (9.05, 1.6)])  # second skip
    head_n = d.box(13.2, 1.6, "final LayerNorm", "norm", w=2.2, h=0.55)
    head = d.box(16.0, 1.6, "head on [cls]\nC → n_cls", "linear", w=2.4, h=0.8)
    d.arrow(a2, head_n)
    d.arrow(head_n, head)
    d.text(14.4, 3.2, "tokens keep their shape\n[B, N+1, C] through every block", fontsize=6.5)
    return d.fig


def swin() -> plt.Figure:
    """Swin: window attention, the shifted grid of the next block, and the four-stage pyramid."""
    d = Diagram(17, 7.6, "Swin: attention inside M×M windows; the next block shifts the grid by s = ⌊M/2⌋")
    n, m, cell = 8, 4, 0.42
    palette = ["#cfe2f3", "#fce5cd", "#d9ead3", "#e1d5e7"]
    d.grid(0.6, 3.4, n, n, cell, lambda i, j: palette[(i // m) * 2 + (j // m)])
    d.text(0.6 + n * cell / 2, 3.0, "block ℓ: W-MSA\n2×2 windows of M×M = 4×4 tokens", fontsize=6.5)
    s = m // 2

    def shifted(i: int, j: int) -> str:  # windows of the grid shifted by s (cyclic: the corner ones wrap)
        wi, wj = (i + s) % n // m, (j + s) % n // m
        return palette[wi * 2 + wj]
    d.grid(5.2, 3.4, n, n, cell, shifted)
    d.text(5.2 + n * cell / 2, 3.0, "block ℓ+1: SW-MSA\nshifted by s = 2; wrapped windows masked", fontsize=6.5)
    d.text(9.9, 6.6, "window attention costs O(N·M²),\nnot O(N²): N = HW/p² tokens", fontsize=6.5, ha="left")
    stages = [("patch partition +\nlinear embed", "H/4 × W/4, C"), ("stage 1: 2 blocks", "H/4, C"),
              ("patch merging,\nstage 2: 2 blocks", "H/8, 2C"), ("patch merging,\nstage 3: 6 blocks", "H/16, 4C"),
              ("patch merging,\nstage 4: 2 blocks", "H/32, 8C")]
    prev = d.box(1.2, 1.3, "image", "data", w=1.6, h=0.8)
    for k, (label, shape) in enumerate(stages):
        b = d.box(3.7 + 2.95 * k, 1.3, label, "attn" if k else "conv", w=2.6, h=0.9, fontsize=6.5)
        d.text(3.7 + 2.95 * k, 0.5, shape, fontsize=6.5)
        d.arrow(prev, b)
        prev = b
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 5


def mae() -> plt.Figure:
    """:class:`harlearn.transformers.MaskedAutoencoder`: an encoder on the visible patches only."""
    d = Diagram(17, 5.4, "MAE: encode the visible 25 %, decode all positions, score the masked ones")
    n, cell = 4, 0.45
    keep = {(0, 1), (1, 3), (2, 0), (3, 2)}
    d.grid(0.4, 2.3, n, n, cell, lambda i, j: "#fff2cc")
    d.text(1.3, 1.9, "N patches", fontsize=6.5)
    d.grid(3.0, 2.3, n, n, cell, lambda i, j: "#fff2cc" if (i, j) in keep else "#999999")
    d.text(3.9, 1.9, "random_masking, ρ = 0.75", fontsize=6.5)
    d.arrow((2.3, 3.2), (2.9, 3.2))
    enc = d.box(7.6, 3.2, "encoder (ViT blocks)\non N(1 − ρ) visible\ntokens + pos_embed", "attn", w=3.0, h=1.3,
                fontsize=7)
    d.arrow((4.9, 3.2), enc)
    dec_in = d.box(10.9, 3.2, "decoder_embed,\ninsert mask tokens,\nunshuffle, + pos", "linear", w=2.6, h=1.3,
                   fontsize=7)
    dec = d.box(13.6, 3.2, "decoder\n(narrow ViT blocks)\ndecoder_pred", "attn", w=2.2, h=1.3, fontsize=7)
    loss = d.box(13.6, 1.2, "MSE on the masked\npatches only", "loss", w=2.6, h=0.9)
    d.arrow(enc, dec_in)
    d.arrow(dec_in, dec)
    d.arrow(dec, loss)
    d.text(13.6, 4.2, "pixels of every patch [B, N, p·p·3]", fontsize=6.5)
    d.text(7.6, 4.25, "the expensive part sees only a quarter of the tokens", fontsize=6.5)
    d.text(7.6, 1.2, "fine-tuning: encoder_to_classifier keeps\nthe encoder, drops the decoder", fontsize=6.5)
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 6


def lga() -> plt.Figure:
    """:class:`harlearn.models.lga.LossGuidedActivationNet`: two heads on one backbone."""
    d = Diagram(16, 5.6, "Loss-Guided Activation: a mask loss pulls the shared features to the person")
    img = d.box(1.2, 3.0, "image", "data", w=1.6, h=0.8)
    bb = d.box(4.0, 3.0, "ResNet-50\n(stride 32)", "conv", w=2.4, h=1.0)
    d.arrow(img, bb)
    fc = d.box(7.5, 4.5, "3×3 conv → 1024, ReLU: F_cls", "conv", w=3.6)
    gp = d.box(11.0, 4.5, "average pool, fc", "pool", w=2.4)
    ce = d.box(14.3, 4.5, "L_cls (cross-entropy)", "loss", w=2.6)
    loc = d.box(7.5, 1.5, "localisation head: 3×3 convs\n2048 → 512 → 64 → 32 → 1", "conv", w=3.6, h=0.9)
    hm = d.box(11.0, 1.5, "heatmap Ŷ\n[B, 1, H', W']", "data", w=2.4, h=0.9)
    ml = d.box(14.3, 1.5, "L_mask = ‖Ŷ − Y‖²\nY: from the person box", "loss", w=2.6, h=0.9)
    for a, b in ((bb, fc), (fc, gp), (gp, ce), (bb, loc), (loc, hm), (hm, ml)):
        d.arrow(a, b)
    d.text(7.5, 5.25, "maps read off F_cls: SAM = Σ_k F_cls^k,  PAM = Σ_k w_c*^k F_cls^k", fontsize=6.5)
    d.text(14.3, 3.0, "L = L_cls + λ_mask L_mask", fontsize=7)
    d.text(8, 0.4, "no box at test time: only the classification branch is read", fontsize=6.5)
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 7


def convit() -> plt.Figure:
    """:class:`harlearn.models.convit.ConViT`: ViTs on ResNet-50 feature maps, between stages."""
    d = Diagram(17, 3.4, "ConViT: every feature-map position is a token; a ViT relates them, like a layer")
    steps = [("image\n[B, 3, 224, 224]", "data"), ("conv1 .. layer3\n[B, 1024, 14, 14]", "conv"),
             ("ViT-1 (ViTConvLayer)\n196 tokens of 1024", "attn"), ("layer4\n[B, 2048, 7, 7]", "conv"),
             ("ViT-2 (ViTConvLayer)\n49 tokens of 2048", "attn"), ("average pool, fc\n→ n_cls", "pool")]
    prev = None
    for k, (label, kind) in enumerate(steps):
        b = d.box(1.4 + 2.85 * k, 2.3, label, kind, w=2.55, h=1.0, fontsize=6.5)
        if prev:
            d.arrow(prev, b)
        prev = b
    d.text(8.5, 0.9, "ViTConvLayer: flatten [B, C, h, w] → [B, hw, C], + pos_embed, ViT blocks (no patch projection, "
                     "no [cls]),\nback to [B, C, h, w]: the same shape in and out, every output position sees every input",
           fontsize=6.5)
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 8


def retrieval() -> plt.Figure:
    """:class:`harlearn.models.retrieval.RegionAwareActionNet`: person, context and image, fused."""
    d = Diagram(17, 6.4, "Region-aware action retrieval: three levels of one feature map, fused by a transformer")
    img = d.box(1.3, 3.2, "image +\nanchored\nperson box", "data", w=1.9, h=1.3)
    bb = d.box(3.9, 3.2, "backbone\n→ F [B, D, h, w]", "conv", w=2.4, h=1.0)
    d.arrow(img, bb)
    fa = d.box(7.3, 5.0, "roi_align in the person box\n→ F_a (1 token)", "pool", w=3.4, h=0.9, fontsize=6.5)
    fl = d.box(7.3, 3.2, "roi_align in n_l context boxes\nranked by IoU → F_l", "pool", w=3.4, h=0.9, fontsize=6.5)
    fg = d.box(7.3, 1.4, "global max pool\n→ F_g (1 token)", "pool", w=3.4, h=0.9, fontsize=6.5)
    fus = d.box(11.3, 3.2, "+ position and type\nembeddings;\nfusion transformer\n(3 blocks, 8 heads)", "attn",
                w=2.8, h=1.7, fontsize=6.5)
    ft = d.box(14.4, 4.2, "mean of tokens: F_T\n(the embedding)", "data", w=2.6, h=0.9, fontsize=6.5)
    cls = d.box(14.4, 2.2, "BatchNorm, MLP\n→ n_cls (CE loss)", "linear", w=2.6, h=0.9, fontsize=6.5)
    for a, b in ((bb, fa), (bb, fl), (bb, fg), (fa, fus), (fl, fus), (fg, fus), (fus, ft), (ft, cls)):
        d.arrow(a, b)
    d.text(8.5, 0.3, "retrieval ranks the gallery by the distance between embeddings (F_T or BN(F_T)); "
                     "context boxes here: SynthHAR's annotated objects and people, or a detector", fontsize=6.5)
    return d.fig


# ---------------------------------------------------------------------------------------------
# Chapter 10


def clip() -> plt.Figure:
    """:class:`harlearn.clip.CLIP` as chapter 10 trains it: a locked image tower (LiT), a text tower."""
    d = Diagram(17, 6.6, "CLIP: two towers, one embedding space, a contrastive loss over the batch")
    img = d.box(1.4, 4.8, "N images", "data", w=2.0, h=0.8)
    txt = d.box(1.4, 1.6, "N captions\n\"a person riding\na horse ...\"", "data", w=2.2, h=1.2, fontsize=6.5)
    it = d.box(4.6, 4.8, "image tower\n(zoo ResNet-50, locked)\n+ linear proj", "conv", w=2.9, h=1.2, fontsize=6.5)
    tok = d.box(4.6, 1.6, "tokenizer (BPE),\ntext transformer,\ncausal mask", "attn", w=2.9, h=1.2, fontsize=6.5)
    ie = d.box(8.0, 4.8, "L2-normalise\nimage embeddings", "norm", w=2.4, h=0.9, fontsize=6.5)
    te = d.box(8.0, 1.6, "end-of-text token,\nproj, L2-normalise", "norm", w=2.4, h=0.9, fontsize=6.5)
    for a, b in ((img, it), (txt, tok), (it, ie), (tok, te)):
        d.arrow(a, b)
    n, cell, x0, y0 = 5, 0.5, 10.2, 2.0
    d.grid(x0, y0, n, n, cell, lambda i, j: "#fce5cd" if i == j else "#ffffff")
    d.text(x0 + n * cell / 2, y0 + n * cell + 0.35, "similarities × exp(logit_scale)", fontsize=6.5)
    d.text(x0 + n * cell / 2, y0 - 0.35, "N × N: pair i matches pair i", fontsize=6.5)
    d.arrow(ie, (x0 + n * cell / 2, y0 + n * cell + 0.05))
    d.arrow(te, (x0 - 0.05, y0 + n * cell / 2))
    loss = d.box(15.2, 3.25, "symmetric\ncross-entropy:\nrows (image → text)\nand columns", "loss", w=2.6, h=1.5,
                 fontsize=6.5)
    d.arrow((x0 + n * cell + 0.05, y0 + n * cell / 2), loss)
    d.text(8.5, 0.3, "zero-shot: embed one prompt per class (\"a photo of a person {action}\"), "
                     "predict the class whose text embedding is nearest", fontsize=6.5)
    return d.fig


def vivit() -> plt.Figure:
    """:class:`harlearn.video.ViViT`: tubelets, then the three ways to attend over space and time."""
    d = Diagram(17.6, 7.4, "ViViT: a clip as t×p×p tubelet tokens; three ways to attend over space and time")
    clip = d.box(1.4, 6.2, "clip\n[B, 3, T, H, W]", "data", w=2.2, h=0.9)
    emb = d.box(1.4, 4.7, "TubeletEmbed: Conv3d,\nkernel = stride = t×p×p\n→ T'×S tokens", "conv", w=2.6, h=1.1,
                fontsize=6.5)
    d.arrow(clip, emb)
    palette = ["#cfe2f3", "#fce5cd", "#d9ead3", "#e1d5e7"]
    d.grid(0.45, 1.3, 4, 4, 0.45, lambda i, j: palette[i])
    d.text(1.35, 0.9, "rows: T' token frames\ncolumns: S positions", fontsize=6.5)
    columns = (
        (5.6, "model 1: joint", ["all T'·S tokens attend\nto each other", "L blocks", "[cls] → head"],
         "cost ∝ (T'·S)²"),
        (10.0, "model 2: factorised encoder", ["spatial ViT on each frame\n(S tokens) → frame [cls]",
                                              "temporal transformer\non the T' frame tokens", "[cls] → head"],
         "cost ∝ T'·S² + T'²"),
        (14.4, "model 3: factorised self-attention", ["in each block: attention\nwithin a frame (S tokens)",
                                                     "then across frames at\neach position (T' tokens)",
                                                     "mean of tokens → head"],
         "cost ∝ T'·S² + S·T'²"),
    )
    for x, title, steps, cost in columns:
        d.text(x, 6.7, title, fontsize=7.5)
        boxes = [d.box(x, y, text, kind, w=3.6, h=0.9, fontsize=6.5)
                 for y, text, kind in zip((5.6, 4.2, 2.8), steps, ("attn", "attn", "linear"))]
        for a, b in zip(boxes, boxes[1:]):
            d.arrow(a, b)
        d.text(x, 1.8, cost, fontsize=6.5)
    d.line([(2.75, 4.7), (3.4, 4.7), (3.4, 6.2), (14.4, 6.2)], arrow=False)
    for x, _, _, _ in columns:
        d.arrow((x, 6.2), (x, 6.05))
    return d.fig


#: File stem -> figure function; the chapters show ``book/figures/<stem>.svg``.
FIGURES: dict[str, Callable[[], plt.Figure]] = {
    f.__name__: f for f in (small_cnn, bottleneck, inception, dense_block, se_cbam, non_local, vit, swin, mae, lga,
                            convit, retrieval, clip, vivit)
}


def write_all(folder: str | Path) -> list[Path]:
    """Draw every figure of :data:`FIGURES` into ``folder/<name>.svg``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context({"svg.hashsalt": "harlearn", "svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        for name, draw in FIGURES.items():
            fig = draw()
            path = folder / f"{name}.svg"
            fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "harlearn.diagrams"})
            plt.close(fig)
            paths.append(path)
    return paths


if __name__ == "__main__":  # python -m harlearn.diagrams book/figures
    if len(sys.argv) != 2:
        sys.exit("usage: python -m harlearn.diagrams FOLDER  (the book's figures live in book/figures)")
    for p in write_all(sys.argv[1]):
        print(p)
