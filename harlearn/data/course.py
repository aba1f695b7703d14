"""Where a chapter's data comes from, for the current profile.

Every chapter's setup cell asks for its datasets the same way::

    from harlearn.data import course_datasets
    train_set, test_set = course_datasets(P, layout="stanford40", train_transform=..., eval_transform=...)

In the ``ci`` and ``book`` profiles that is SynthHAR (generated on first use and cached under
``$HARLEARN_DATA``; one root holds both layouts); in ``full`` it is the real data, each dataset
in a root of its own, read where it is and downloaded on first use when it is not:

* Stanford40 in ``$HARLEARN_DATA/stanford40/`` (the distributed layout: ``JPEGImages/``,
  ``XMLAnnotations/``, ``ImageSplits/``);
* PASCAL VOC 2012 Action in ``$HARLEARN_DATA/voc2012/`` (holding ``VOCdevkit/VOC2012/``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import profiles
from ._common import data_home
from .stanford40 import Stanford40
from .voc_action import VOCAction

__all__ = ["course_root", "course_datasets", "cached_datasets", "REAL_ROOTS"]


#: The folder (under ``data_home()``) of each real dataset, by layout.
REAL_ROOTS = {"stanford40": "stanford40", "voc": "voc2012"}


def course_root(
    profile: profiles.Profile | str | None = None,
    *,
    context_bias: float = 0.0,
    layout: str = "stanford40",
) -> Path:
    """The folder holding the chapter's dataset for ``profile`` and ``layout``.

    Args:
        profile: A :class:`harlearn.profiles.Profile` or its name; default: the current one.
        context_bias: SynthHAR's training-split context bias (see
            :func:`~harlearn.data.synthhar.build.make_synthhar`). The real datasets have whatever
            bias they have, so it must be 0 in the ``full`` profile.
        layout: ``"stanford40"`` (the root :class:`Stanford40` reads) or ``"voc"`` (the root
            :class:`VOCAction` reads).

    Returns:
        SynthHAR's root (the same for both layouts) in ``ci`` and ``book``; in ``full``
        ``data_home()/"stanford40"`` or ``data_home()/"voc2012"``.

    Raises:
        ValueError: an unknown layout, or a context bias with the real data.
    """
    if layout not in REAL_ROOTS:
        raise ValueError(f"Unknown layout {layout!r}: use 'stanford40' or 'voc'.")
    profile = _profile(profile)
    if profile.dataset == "synthhar":
        from .synthhar import synthhar_root

        return synthhar_root(profile, context_bias=context_bias)
    if context_bias:
        raise ValueError(
            f"context_bias={context_bias} only applies to SynthHAR; profile '{profile.name}' reads the "
            "real datasets, whose context bias is what it is: pass context_bias=0.0."
        )
    return data_home() / REAL_ROOTS[layout]


def course_datasets(
    profile: profiles.Profile | str | None = None,
    *,
    layout: str = "stanford40",
    train_transform: Callable | None = None,
    eval_transform: Callable | None = None,
    context_bias: float = 0.0,
) -> tuple[Stanford40 | VOCAction, Stanford40 | VOCAction]:
    """The (train, evaluation) datasets a chapter uses.

    Args:
        profile: A :class:`harlearn.profiles.Profile` or its name; default: the current one.
        layout: ``"stanford40"`` (train / test splits, one label per image) or ``"voc"``
            (train / val splits, one item per person, multi-hot labels).
        train_transform: Transform for the training split's item dicts.
        eval_transform: Transform for the evaluation split's item dicts.
        context_bias: See :func:`course_root`.

    Returns:
        ``(train, test)`` for ``"stanford40"``, ``(train, val)`` for ``"voc"``.
    """
    profile = _profile(profile)
    root = course_root(profile, context_bias=context_bias, layout=layout)
    download = profile.dataset == "real"  # nothing is fetched when the files are there
    if layout == "stanford40":
        return (
            Stanford40(root, split="train", transform=train_transform, download=download),
            Stanford40(root, split="test", transform=eval_transform, download=download),
        )
    if layout == "voc":
        return (
            VOCAction(root, split="train", transform=train_transform, download=download),
            VOCAction(root, split="val", transform=eval_transform, download=download),
        )
    raise ValueError(f"Unknown layout {layout!r}: use 'stanford40' or 'voc'.")


def cached_datasets(
    profile: profiles.Profile | str | None = None,
    image_size: int | None = None,
    *,
    layout: str = "stanford40",
    train_keys: tuple[str, ...] = ("image", "label", "labels"),
    eval_keys: tuple[str, ...] = ("image", "label", "labels", "boxes"),
    context_bias: float = 0.0,
):
    """(train, evaluation) datasets the way the small-image chapters read them.

    In ``ci`` and ``book`` (SynthHAR) every image is resized once to ``image_size`` and kept in
    memory (:class:`harlearn.data.cache.InMemory`); training items get
    :func:`harlearn.data.transforms.flip_shift` on every access. In ``full`` the real files are
    read every epoch through ``transforms.train_transform`` / ``eval_transform``.

    Args:
        profile: A :class:`harlearn.profiles.Profile` or its name; default: the current one.
        image_size: the network's input side (default the profile's ``image_size``).
        layout: see :func:`course_datasets`.
        train_keys: the item keys the cached training split keeps.
        eval_keys: the item keys the cached evaluation split keeps.
        context_bias: See :func:`course_root`.

    Returns:
        ``(train, test)`` (or ``(train, val)`` for ``"voc"``).
    """
    from . import transforms as T
    from .cache import InMemory

    profile = _profile(profile)
    size = image_size or profile.image_size
    if profile.dataset != "synthhar":
        return course_datasets(profile, layout=layout, train_transform=T.train_transform(size),
                               eval_transform=T.eval_transform(size), context_bias=context_bias)
    resize = T.eval_transform(size)
    train, test = course_datasets(profile, layout=layout, train_transform=resize, eval_transform=resize,
                                  context_bias=context_bias)
    return InMemory(train, keys=train_keys, augment=T.flip_shift), InMemory(test, keys=eval_keys)


def _profile(profile: profiles.Profile | str | None) -> profiles.Profile:
    if profile is None:
        return profiles.current()
    return profiles.get(profile) if isinstance(profile, str) else profile
