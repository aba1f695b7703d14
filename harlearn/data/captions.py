"""Image-caption pairs for CLIP: a SynthHAR dataset's items with the captions of their scenes.

:class:`CaptionDataset` wraps a dataset in the Stanford40 layout (a :class:`~harlearn.data.Stanford40`
on a SynthHAR root, or its :class:`~harlearn.data.InMemory` cache) and adds to each item the
captions derived from the image's sidecar annotation (:mod:`harlearn.data.synthhar.captions`):
``caption`` (one string) and, with a tokenizer, ``text`` (its token ids ``[L]``, which
:func:`harlearn.data.collate` stacks to ``[B, L]``). With ``hold_out=True`` it leaves out the
images of the held-out verb-object combinations
(:func:`~harlearn.data.synthhar.captions.held_out_classes`), for CLIP's training split.

:func:`caption_datasets` is what a chapter calls: the profile's cached SynthHAR splits as
(training, test) caption datasets.

Not a paper's method: the data side of CLIP (Radford et al., arXiv:2103.00020), whose 400M
(image, text) pairs came from the web; ours are generated from what each scene holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from .synthhar import captions as C

__all__ = ["CaptionDataset", "caption_datasets"]


def _image_ids(dataset: Dataset) -> list[str]:
    ids = getattr(dataset, "image_ids", None)
    if ids is None and hasattr(dataset, "column"):
        ids = dataset.column("image_id")
    if ids is None or any(i is None for i in ids):
        raise ValueError(
            "CaptionDataset needs every item's image_id without decoding the images: wrap a Stanford40 "
            "dataset, or an InMemory cache that keeps the 'image_id' key (cached_datasets(..., "
            "train_keys=('image', 'label', 'image_id')))."
        )
    return list(ids)


class CaptionDataset(Dataset):
    """(image, caption) items from a SynthHAR dataset in the Stanford40 layout.

    Args:
        dataset: a Stanford40-layout dataset of item dicts with ``image_ids`` (``Stanford40``) or
            ``column("image_id")`` (``InMemory``), and ``classes`` / ``targets``.
        root: the dataset root holding ``Extras/`` (default ``dataset.root``).
        template: which caption an item gets: ``"random"`` (a template drawn on every access
            with torch's global generator, which :func:`harlearn.train.fit` reseeds every epoch:
            an augmentation), an ``int`` (always that template: deterministic, for evaluation
            and retrieval) or ``"all"`` (``captions``, every template; ``text`` is then
            ``[NUM_TEMPLATES, L]``).
        tokenizer: texts -> token ids ``[n, L]`` (:func:`harlearn.clip.get_tokenizer`); None: no
            ``text`` key.
        hold_out: leave out the images of the held-out verb-object combinations.

    Each item is the wrapped item plus ``caption`` (str; ``captions``, a list, for ``"all"``)
    and, with a tokenizer, ``text`` (``LongTensor [L]`` or ``[NUM_TEMPLATES, L]``).

    Attributes:
        classes: the wrapped dataset's classes.
        targets: the labels of the kept items.
        facts: the :class:`~harlearn.data.synthhar.captions.SceneFacts` of the kept items.
        indices: the kept items' indices in the wrapped dataset.

    Raises:
        FileNotFoundError: an image has no sidecar (real data: captions are SynthHAR's only).
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        root: str | os.PathLike | None = None,
        template: str | int = "random",
        tokenizer: Callable[[list[str]], torch.Tensor] | None = None,
        hold_out: bool = False,
    ) -> None:
        if not (template in ("random", "all") or (isinstance(template, int) and 0 <= template < C.NUM_TEMPLATES)):
            raise ValueError(f"template must be 'random', 'all' or an int in 0..{C.NUM_TEMPLATES - 1}, got {template!r}.")
        root = root if root is not None else getattr(dataset, "root", None)
        if root is None:
            raise ValueError("CaptionDataset needs the dataset root (where Extras/ is): pass root=.")
        self.dataset, self.root, self.template, self.tokenizer = dataset, Path(root), template, tokenizer
        self.classes = list(getattr(dataset, "classes", []) or [])
        facts = [C.read_scene_facts(self.root, i) for i in _image_ids(dataset)]
        held = set(C.held_out_classes()) if hold_out else set()
        self.indices = [i for i, f in enumerate(facts) if not held.intersection(f.actions)]
        self.facts = [facts[i] for i in self.indices]
        targets = list(getattr(dataset, "targets", []) or [])
        self.targets = [targets[i] for i in self.indices] if targets else []

    def __len__(self) -> int:
        return len(self.indices)

    def captions(self, index: int) -> tuple[str, ...]:
        """Every caption of item ``index`` (no image is decoded)."""
        return C.captions(self.facts[index])

    def texts(self, template: int = 0) -> list[str]:
        """Caption ``template`` of every item, in order (e.g. the queries of text-to-image retrieval)."""
        return [C.caption(f, template) for f in self.facts]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[self.indices[index]])
        facts = self.facts[index]
        if self.template == "all":
            item["captions"] = list(C.captions(facts))
            if self.tokenizer is not None:
                item["text"] = self.tokenizer(item["captions"])  # [NUM_TEMPLATES, L]
            return item
        k = int(torch.randint(C.NUM_TEMPLATES, ())) if self.template == "random" else int(self.template)
        item["caption"] = C.caption(facts, k)
        if self.tokenizer is not None:
            item["text"] = self.tokenizer([item["caption"]])[0]  # [L]
        return item

    def __repr__(self) -> str:
        return f"CaptionDataset({len(self)} items, template={self.template!r}, root='{self.root}')"


def caption_datasets(
    profile: Any = None,
    image_size: int | None = None,
    *,
    tokenizer: Callable[[list[str]], torch.Tensor] | None = None,
    hold_out: bool = True,
    train_template: str | int = "random",
    test_template: str | int = 0,
    train_keys: Sequence[str] = ("image", "label", "image_id"),
    eval_keys: Sequence[str] = ("image", "label", "image_id", "boxes"),
) -> tuple[CaptionDataset, CaptionDataset]:
    """The profile's SynthHAR (Stanford40 layout) as (training, test) caption datasets.

    The images are decoded once at ``image_size`` (:func:`harlearn.data.cached_datasets`, with
    flip-and-shift augmentation on the training split); the training split leaves out the
    held-out combinations when ``hold_out``; the test split keeps every class.

    Args:
        profile: a :class:`harlearn.profiles.Profile` or its name (default: the current one).
        image_size: the network's input side (default the profile's).
        tokenizer: see :class:`CaptionDataset`.
        hold_out: leave the held-out combinations out of the training split.
        train_template: the training split's ``template``.
        test_template: the test split's ``template``.
        train_keys: the item keys the training cache keeps (``image_id`` is needed).
        eval_keys: the item keys the test cache keeps (``image_id`` is needed).

    Raises:
        FileNotFoundError: the profile reads real data, which has no captions.
    """
    from .course import cached_datasets

    train, test = cached_datasets(profile, image_size, layout="stanford40", train_keys=tuple(train_keys),
                                  eval_keys=tuple(eval_keys))
    return (
        CaptionDataset(train, template=train_template, tokenizer=tokenizer, hold_out=hold_out),
        CaptionDataset(test, template=test_template, tokenizer=tokenizer),
    )
