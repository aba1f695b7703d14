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

__all__ = ["Profile", "PROFILES", "current", "get", "device", "ENV_VAR"]

ENV_VAR = "HARLEARN_PROFILE"
DEFAULT = "book"


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
    max_batches: int | None = None  # cap on batches per epoch (ci), None for all

    def describe(self, dev: torch.device | None = None) -> str:
        """One line for a chapter's setup cell: which profile, on which device."""
        dev = dev or device()
        return (
            f"harlearn profile '{self.name}' on {dev.type}"
            f" ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'{torch.get_num_threads()} CPU threads'})"
            f": dataset={self.dataset}, image_size={self.image_size}, epochs={self.epochs},"
            f" batch_size={self.batch_size}, seeds={list(self.seeds)}"
        )

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


def current() -> Profile:
    """The profile named by ``HARLEARN_PROFILE`` (``book`` when unset)."""
    return get(os.environ.get(ENV_VAR, DEFAULT) or DEFAULT)


def device() -> torch.device:
    """The best device here: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
