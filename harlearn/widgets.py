"""Interactive explorers for the chapters, built on ipywidgets.

:class:`PredictionExplorer` shows a classifier's prediction on one image at a time: the image
with its person boxes, the true and the predicted class, and a bar chart of the top-k class
probabilities; a button draws another image (optionally of one class) and a number box picks
one by index. It replaces the Streamlit app of the course notes: it runs inside the notebook,
on the model the chapter has just trained, with nothing to deploy.

Widgets need a live kernel; a built web page cannot run Python. So an explorer can also draw
its current view as an ordinary matplotlib figure (:meth:`PredictionExplorer.render_static`),
which a static page shows where the live controls cannot work.

This module implements no paper's method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from matplotlib.figure import Figure
from torch import nn

from harlearn import viz
from harlearn.losses import logits_of

__all__ = ["PredictionExplorer"]

_ANY_CLASS = -1  # the class filter's "draw from every class" option


class PredictionExplorer:
    """Browse a single-label classifier's predictions on a dataset, one image at a time.

    Display the explorer (make it the last expression of a cell, or ``display(explorer)``)
    to get the live controls: a *Random image* button, a class filter for the random draws
    and the index of the image shown. Use :meth:`render_static` for a plain figure of the
    current view, :meth:`top_k` for the numbers behind the bar chart.

    Args:
        model: A classifier: a batch ``[B, 3, H, W]`` in, logits ``[B, C]`` out (a tuple or
            a dict with ``"logits"`` is fine too, see :func:`harlearn.train.logits_of`).
        dataset: A dataset of item dicts with ``"image"`` (the ``[3, H, W]`` tensor the model
            takes, e.g. after ``harlearn.data.transforms.eval_transform``) and optionally
            ``"label"``, ``"boxes"`` (person boxes, pixel ``xyxy``) and ``"image_id"``.
        class_names: The ``C`` class names, in the order of the logits.
        device: Where the model runs; default the device of its parameters.
        k: Number of classes in the bar chart (at most ``C``).
        seed: Seed of the random draws, so that a notebook run is reproducible.
        index: The first image shown; default a random one.

    Attributes:
        index: The index (into ``dataset``) of the image shown now.
        widget: The ipywidgets layout: the controls above an ``Output`` holding the figure.
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: Any,
        class_names: Sequence[str],
        device: torch.device | str | None = None,
        *,
        k: int = 5,
        seed: int = 0,
        index: int | None = None,
    ) -> None:
        if len(dataset) == 0:
            raise ValueError("PredictionExplorer needs a dataset with at least one item.")
        self.model = model
        self.dataset = dataset
        self.class_names = list(class_names)
        if device is None:
            first = next(model.parameters(), None)
            device = first.device if first is not None else "cpu"
        self.device = torch.device(device)
        self.k = max(1, min(int(k), len(self.class_names)))
        self._rng = np.random.default_rng(seed)
        self._probabilities: dict[int, np.ndarray] = {}
        self._labels: np.ndarray | None = None
        self._drawn: int | None = None  # the index whose view the Output holds
        self.index = int(self._rng.integers(len(dataset))) if index is None else self._check(index)

        self.button = widgets.Button(description="Random image", icon="refresh",
                                     tooltip="Draw another image at random")
        options = [("any class", _ANY_CLASS)] + [(name, c) for c, name in enumerate(self.class_names)]
        self.class_filter = widgets.Dropdown(options=options, value=_ANY_CLASS, description="draw from")
        self.index_box = widgets.BoundedIntText(value=self.index, min=0, max=len(dataset) - 1,
                                                description="image #")
        self.output = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.button, self.class_filter, self.index_box]),
                                    self.output])
        self.button.on_click(lambda _: self.refresh())
        self.index_box.observe(lambda change: self.show(change["new"]), names="value")
        self._redraw()

    # ------------------------------------------------------------------------------------
    # The numbers
    # ------------------------------------------------------------------------------------

    def _check(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < len(self.dataset):
            raise IndexError(f"Image index {index} is outside the dataset (0 to {len(self.dataset) - 1}).")
        return index

    @torch.no_grad()
    def probabilities(self, index: int | None = None) -> np.ndarray:
        """The softmax class probabilities for one image (computed once, then cached).

        Args:
            index: An index into the dataset; default the image shown now.

        Returns:
            A float array ``[C]`` that sums to 1.
        """
        index = self.index if index is None else self._check(index)
        if index not in self._probabilities:
            image = torch.as_tensor(self.dataset[index]["image"]).float()
            was_training = self.model.training
            self.model.to(self.device).eval()
            try:
                batch = image.unsqueeze(0).to(self.device)  # [3, H, W] -> [1, 3, H, W]
                logits = logits_of(self.model(batch))  # [1, C]
            finally:
                self.model.train(was_training)
            if logits.shape[-1] != len(self.class_names):
                raise ValueError(f"The model gives {logits.shape[-1]} logits for {len(self.class_names)} class names.")
            self._probabilities[index] = logits.float().softmax(dim=-1)[0].cpu().numpy()
        return self._probabilities[index]

    def top_k(self, index: int | None = None, k: int | None = None) -> list[tuple[str, float]]:
        """The ``k`` most probable classes of one image, most probable first.

        Args:
            index: An index into the dataset; default the image shown now.
            k: How many classes; default the explorer's ``k``.

        Returns:
            ``[(class name, probability), ...]``, sorted by decreasing probability.
        """
        probs = self.probabilities(index)
        k = self.k if k is None else max(1, min(int(k), len(probs)))
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.class_names[c], float(probs[c])) for c in order]

    def _candidates(self) -> np.ndarray:
        """The indices a random draw may pick: all, or those of the class filter's class."""
        wanted = self.class_filter.value
        if wanted == _ANY_CLASS:
            return np.arange(len(self.dataset))
        if self._labels is None:
            targets = getattr(self.dataset, "targets", None)
            if targets is None:
                targets = [int(self.dataset[i]["label"]) for i in range(len(self.dataset))]
            self._labels = np.asarray(targets)
        return np.flatnonzero(self._labels == wanted)

    # ------------------------------------------------------------------------------------
    # Navigation
    # ------------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Draw another image at random (of the class filter's class, if one is chosen) and show it.

        Returns:
            The new index (different from the previous one whenever there is a choice).
        """
        candidates = self._candidates()
        if len(candidates) > 1:
            candidates = candidates[candidates != self.index]
        if len(candidates) == 0:
            with self.output:
                print(f"No image of class {self.class_names[self.class_filter.value]!r} in this dataset.")
            return self.index
        self.show(int(self._rng.choice(candidates)))
        return self.index

    def show(self, index: int) -> None:
        """Show the image at ``index``.

        Args:
            index: An index into the dataset.
        """
        index = self._check(index)
        if self.index_box.value != index:
            self.index_box.value = index  # its observer calls show(index) again, which draws
            return
        self.index = index
        if index != self._drawn:
            self._redraw()

    # ------------------------------------------------------------------------------------
    # Drawing
    # ------------------------------------------------------------------------------------

    def figure(self, index: int | None = None) -> Figure:
        """The view of one image: the image with its person boxes, and the top-k bar chart.

        Args:
            index: An index into the dataset; default the image shown now.

        Returns:
            A new matplotlib Figure (close it with ``plt.close(fig)`` when done).
        """
        index = self.index if index is None else self._check(index)
        item = self.dataset[index]
        label = int(item["label"]) if "label" in item else None
        top = self.top_k(index)
        probs = self.probabilities(index)
        predicted = int(np.argmax(probs))

        fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8.5, 3.6), width_ratios=(1, 1.25))
        shown = {key: item[key] for key in ("image", "boxes") if key in item}
        viz.draw_item(shown, ax=ax_img)
        verdict = "" if label is None else (" ✓" if predicted == label else " ✗")
        title = [f"#{index} {item.get('image_id', '')}".strip()]
        if label is not None:
            title.append(f"true: {self.class_names[label]}")
        title.append(f"predicted: {self.class_names[predicted]} ({probs[predicted]:.0%}){verdict}")
        ax_img.set_title("\n".join(title), fontsize=9)

        names = [name for name, _ in top][::-1]  # most probable at the top of the chart
        values = [p for _, p in top][::-1]
        colors = ["tab:green" if self.class_names.index(n) == label else
                  ("tab:red" if self.class_names.index(n) == predicted else "0.6") for n in names]
        bars = ax_bar.barh(names, values, color=colors)
        ax_bar.bar_label(bars, labels=[f"{v:.1%}" for v in values], padding=3, fontsize=8)
        ax_bar.set_xlim(0, 1.15)
        ax_bar.set_xlabel("probability")
        ax_bar.set_title(f"top-{len(top)} classes (green: the true class)", fontsize=9)
        ax_bar.tick_params(axis="y", labelsize=8)
        fig.tight_layout()
        return fig

    def _redraw(self) -> None:
        with self.output:
            self.output.clear_output(wait=True)
            fig = self.figure()
            display(fig)
            plt.close(fig)
        self._drawn = self.index

    def render_static(self, index: int | None = None) -> None:
        """Display the current view (or that of ``index``) as a plain figure.

        A built web page shows this where the live widget cannot run.

        Args:
            index: An index into the dataset; default the image shown now.
        """
        fig = self.figure(index)
        display(fig)
        plt.close(fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"PredictionExplorer(index={self.index}, {len(self.dataset)} images, "
                f"{len(self.class_names)} classes, device={self.device.type})")
