"""Run profiles: one switch that sets every size in every chapter.

`HARLEARN_PROFILE` selects one of three profiles:

- ``ci``: proves the code runs. A notebook finishes in about a minute on two CPU
  cores: tiny images, a few hundred samples, one or two epochs, narrow models.
  A ``ci`` number is never a result.
- ``book`` (the default): CPU-feasible runs on SynthHAR whose numbers mean
  something, with several seeds where a chapter makes a claim. These are the
  outputs the published book shows (a chapter in about five minutes on 2 cores).
- ``full``: a GPU, the real dataset (Stanford40 / VOC 2012 Action),
  ImageNet-pretrained backbones and the papers' hyperparameters.

Where a chapter fine-tunes, ``Profile.weights`` names where the weights come from: ``"imagenet"``
in ``full`` (torchvision / timm), ``"zoo"`` in ``book`` and ``ci`` (the course checkpoints,
:mod:`harlearn.zoo`, pretrained on the SynthHAR pretraining corpus, not on the course actions).
The course's factories take it as their ``pretrained`` argument
(``resnet50(K, pretrained=P.weights, base_width=8)``), so one line of code serves all three
profiles. ``Profile.pretrained`` stays what it was: whether the profile uses ImageNet weights.

``HARLEARN_SMOKE=1`` together with ``HARLEARN_PROFILE=full`` is *smoke mode*: the ``full``
code path cut short so that it runs on a CPU (CI runs every chapter this way). It is the
``full`` profile (same ``name``, image sizes, model widths, ``dataset="real"``,
``pretrained=True``) with only the amount of work cut: ``epochs`` 1, ``max_batches`` 2 (per
epoch, train and evaluation), ``batch_size`` 4, one seed, and ``num_workers`` 0 on a machine
without CUDA (the full value on CUDA, so the worker code path runs on a GPU). ``Profile.smoke``
says so and :meth:`Profile.describe` prints it. The real-format files are read from
``$HARLEARN_DATA/stanford40`` and ``$HARLEARN_DATA/voc2012`` (``harlearn.data.testing`` writes
small ones), and every pretrained checkpoint is replaced by a random stand-in with the
checkpoint's keys and shapes that goes through the same loading code
(:mod:`harlearn.pretrained_source`). ``HARLEARN_SMOKE`` with ``ci`` or ``book`` is an error
(:func:`current` raises): those already run on a CPU, and a smoke run that silently ran
another profile would prove nothing about ``full``.

Chapters read the profile once in their setup cell::

    from harlearn import profiles
    P = profiles.current()
    print(P.describe())
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

__all__ = [
    "Profile", "PROFILES", "current", "get", "device", "ENV_VAR",
    "SMOKE_ENV_VAR", "smoke_requested", "as_smoke",
]

ENV_VAR = "HARLEARN_PROFILE"
DEFAULT = "book"

#: Smoke mode's switch (``1``/``true``/``yes``/``on``; ``0``/``false``/``no``/``off`` or unset: off).
SMOKE_ENV_VAR = "HARLEARN_SMOKE"
#: What smoke mode cuts (see the module docstring); nothing else changes.
SMOKE_EPOCHS = 1
SMOKE_MAX_BATCHES = 2
SMOKE_BATCH_SIZE = 4
SMOKE_SYNTH_IMAGES = 2  # SynthHAR images per class and split, where a full chapter generates SynthHAR (ch. 6)


@dataclass(frozen=True)
class Profile:
    """Every size a chapter needs, in one place."""

    name: str  # "ci" | "book" | "full"
    dataset: str  # "synthhar" or "real" (Stanford40 / VOC 2012 Action)
    image_size: int  # side of the square network input, in pixels
    synth_image_size: int  # side of the images SynthHAR writes to disk
    synth_images_per_class: int  # SynthHAR train images per class (test gets the same count)
    epochs: int  # training epochs for one model
    batch_size: int  # images per optimisation step
    lr: float  # base learning rate for from-scratch training
    width: int  # base channel count of the narrow "small" models (full: production widths)
    seeds: tuple[int, ...]  # seeds for any experiment that reports spread
    pretrained: bool  # ImageNet weights through torchvision/timm (full only)
    num_workers: int  # DataLoader workers
    max_batches: int | None = None  # cap on batches per epoch, train and evaluation (ci, smoke), None for all
    smoke: bool = False  # smoke mode: full's code path with the work cut (HARLEARN_SMOKE=1, see as_smoke)

    @property
    def weights(self) -> str:
        """Where fine-tuned models start: ``"imagenet"`` (``full``) or ``"zoo"`` (the course checkpoints)."""
        return "imagenet" if self.pretrained else "zoo"

    def describe(self, dev: torch.device | None = None) -> str:
        """One line for a chapter's setup cell: which profile, on which device (and "smoke")."""
        dev = dev or device()
        smoke = (
            f" (smoke: full's code path, {self.epochs} epoch x {self.max_batches} batches of"
            f" {self.batch_size}, random stand-ins for the pretrained weights)"
            if self.smoke else ""
        )
        return (
            f"harlearn profile '{self.name}'{smoke} on {dev.type}"
            f" ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'{torch.get_num_threads()} CPU threads'})"
            f": dataset={self.dataset}, image_size={self.image_size}, epochs={self.epochs},"
            f" batch_size={self.batch_size}, seeds={list(self.seeds)}"
        )

    def cap(self, n: int) -> int:
        """How many of ``n`` items a loop outside ``fit`` / ``evaluate`` should process.

        ``n`` in every profile except smoke mode, where it is at most ``max_batches * batch_size``
        (8): e.g. ``detect_persons`` over ``P.cap(len(test_set))`` images, not the whole test set.
        """
        return min(n, self.max_batches * self.batch_size) if self.smoke else n

    def replace(self, **changes) -> "Profile":
        """A copy with some fields changed (e.g. ``P.replace(epochs=1)``)."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        dataset="synthhar",
        image_size=64,
        synth_image_size=96,
        synth_images_per_class=12,
        epochs=1,
        batch_size=32,
        lr=3e-3,
        width=8,
        seeds=(0,),
        pretrained=False,
        num_workers=0,
        max_batches=4,
    ),
    "book": Profile(
        name="book",
        dataset="synthhar",
        image_size=96,
        synth_image_size=128,
        synth_images_per_class=100,
        epochs=12,
        batch_size=64,
        lr=3e-3,
        width=16,
        seeds=(0, 1, 2),
        pretrained=False,
        num_workers=0,
    ),
    "full": Profile(
        name="full",
        dataset="real",
        image_size=224,
        synth_image_size=256,
        synth_images_per_class=400,
        epochs=30,
        batch_size=32,
        lr=1e-3,
        width=64,
        seeds=(0, 1, 2),
        pretrained=True,
        num_workers=4,
    ),
}


def get(name: str) -> Profile:
    """The profile called ``name``; a clear error for an unknown one."""
    try:
        return PROFILES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"Unknown harlearn profile {name!r}: set {ENV_VAR} to one of {sorted(PROFILES)}."
        ) from None


def smoke_requested() -> bool:
    """Whether ``HARLEARN_SMOKE`` asks for smoke mode.

    Raises:
        ValueError: a value that is neither on (``1``, ``true``, ``yes``, ``on``) nor off
            (unset, empty, ``0``, ``false``, ``no``, ``off``).
    """
    value = os.environ.get(SMOKE_ENV_VAR, "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise ValueError(f"{SMOKE_ENV_VAR}={os.environ[SMOKE_ENV_VAR]!r}: use 1 (smoke mode) or 0 (off).")


def as_smoke(profile: Profile | None = None, *, cuda: bool | None = None) -> Profile:
    """The smoke version of the ``full`` profile: its code path, with only the work cut.

    Args:
        profile: the profile to cut (default: ``full``); it must be ``full``.
        cuda: whether CUDA is there (default: ``torch.cuda.is_available()``); without it the
            DataLoaders run in the main process (``num_workers=0``).

    Returns:
        A copy with ``smoke=True``, ``epochs`` 1, ``max_batches`` 2, ``batch_size`` 4 (at most),
        the first seed only, and 2 SynthHAR images per class (for the one ``full`` chapter that
        generates SynthHAR, chapter 6, whose bias knob real data lacks); everything else
        (``name``, image sizes, widths, data, ``pretrained``) unchanged.

    Raises:
        ValueError: a profile other than ``full``.
    """
    profile = profile or PROFILES["full"]
    if profile.name != "full":
        raise ValueError(
            f"{SMOKE_ENV_VAR}=1 runs the full profile's code path cut short; it does not apply to profile "
            f"{profile.name!r}, which already runs on a CPU: set {ENV_VAR}=full, or unset {SMOKE_ENV_VAR}."
        )
    if profile.smoke:
        return profile
    cuda = torch.cuda.is_available() if cuda is None else cuda
    return profile.replace(
        smoke=True,
        epochs=min(profile.epochs, SMOKE_EPOCHS),
        max_batches=SMOKE_MAX_BATCHES,
        batch_size=min(profile.batch_size, SMOKE_BATCH_SIZE),
        seeds=profile.seeds[:1],
        num_workers=profile.num_workers if cuda else 0,
        synth_images_per_class=min(profile.synth_images_per_class, SMOKE_SYNTH_IMAGES),
    )


def current() -> Profile:
    """The profile named by ``HARLEARN_PROFILE`` (``book`` when unset), cut to smoke mode by ``HARLEARN_SMOKE``.

    Raises:
        ValueError: an unknown profile, or ``HARLEARN_SMOKE`` with a profile other than ``full``.
    """
    profile = get(os.environ.get(ENV_VAR, DEFAULT) or DEFAULT)
    return as_smoke(profile) if smoke_requested() else profile


def device() -> torch.device:
    """The best device here: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
