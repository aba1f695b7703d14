"""The recipe of every course checkpoint, held in code: what ``make zoo`` trains, and how.

A :class:`Recipe` names an architecture and its constructor arguments, the pretraining corpus
(:mod:`harlearn.data.synthhar.corpus`) and its arguments, the objective (multi-label
classification of the corpus's 29 labels with binary cross-entropy, or MAE's masked-patch
reconstruction), the input size, the training configuration handed to
:func:`harlearn.train.fit` (every :class:`~harlearn.train.TrainConfig` field it changes) and
the seed. :func:`harlearn.zoo.build` trains exactly this; the manifest stores
:meth:`Recipe.as_dict` beside the weights, and ``tests/test_zoo.py`` checks that the two agree
for every shipped checkpoint.

The sizes are the book's (``book`` profile): the CNNs at the width and input side their
chapters use (96 px), the transformers as chapter 4 builds them (64-px images, 8x8 patches for
the ViT, 4x4 for Swin). The optimiser settings are the course's recipe families
(:data:`harlearn.experiments.RECIPES`: ``cnn``, ``cnn-nobn``, ``transformer``, ``mae``),
copied here so that a later change to a chapter's recipe cannot silently change a checkpoint.
The epochs are sized by the measurements in ``harlearn/zoo/README.md``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Recipe", "RECIPES", "CORPUS", "ARCHITECTURES", "recipe", "names"]

#: The pretraining corpus every checkpoint learns from (arguments of ``corpus_root``).
CORPUS: dict[str, int] = {"images": 20_000, "val_images": 1_000, "image_size": 128, "seed": 0}

#: Architecture name -> ``"module:factory"`` (imported on use; the factory takes ``num_classes``).
ARCHITECTURES: dict[str, str] = {
    "resnet50": "harlearn.models.backbones:resnet50",
    "vgg16": "harlearn.models.backbones:vgg16",
    "densenet121": "harlearn.models.backbones:densenet121",
    "googlenet": "harlearn.models.backbones:googlenet",
    "vit": "harlearn.transformers.vit:VisionTransformer",
    "swin": "harlearn.transformers.swin:SwinTransformer",
    "mae": "harlearn.transformers.mae:MaskedAutoencoder",
}

# The course's optimiser families (harlearn.experiments.RECIPES), as TrainConfig fields; amp only
# acts on CUDA (bf16 autocast where supported), as in experiments.recipe.
_CNN = dict(optimizer="adamw", lr=3e-3, weight_decay=0.05, schedule="cosine", warmup_epochs=0.5, channels_last=True, amp=True)
_CNN_NOBN = dict(optimizer="adamw", lr=3e-4, weight_decay=0.05, schedule="cosine", warmup_epochs=1.0, channels_last=True, amp=True)
_TRANSFORMER = dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, schedule="cosine", warmup_epochs=1.0, grad_clip=1.0, amp=True)
_MAE = dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, schedule="cosine", warmup_epochs=1.0, betas=(0.9, 0.95), amp=True)


@dataclass(frozen=True)
class Recipe:
    """How one course checkpoint is made.

    Attributes:
        name: the registry name (``zoo.load(name)``); also the weight file's stem.
        architecture: a key of :data:`ARCHITECTURES`.
        kwargs: constructor arguments besides ``num_classes`` (for ``"mae"``: ``encoder``, the
            ``VisionTransformer`` arguments, and the ``MaskedAutoencoder`` ones).
        image_size: the network's input side in pixels (the corpus images are resized to it).
        objective: ``"multilabel"`` (BCE on the corpus labels) or ``"mae"`` (masked patches).
        train: :class:`~harlearn.train.TrainConfig` fields (``epochs``, ``lr``, ...).
        seed: seeds the initialisation and ``TrainConfig.seed`` (shuffling, augmentation).
        corpus: arguments of :func:`harlearn.data.synthhar.corpus.corpus_root`.
        augment: ``"flip_shift"`` (random flip and shift on every access) or ``"none"``.
        used_by: the chapters that start from it (documentation).
        note: one sentence on what it is.
    """

    name: str
    architecture: str
    kwargs: dict[str, Any]
    image_size: int
    objective: str
    train: dict[str, Any]
    seed: int = 0
    corpus: dict[str, int] = field(default_factory=lambda: dict(CORPUS))
    augment: str = "flip_shift"
    used_by: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown architecture {self.architecture!r}: use one of {sorted(ARCHITECTURES)}.")
        if self.objective not in ("multilabel", "mae"):
            raise ValueError(f"Unknown objective {self.objective!r}: use 'multilabel' or 'mae'.")
        if (self.objective == "mae") != (self.architecture == "mae"):
            raise ValueError("The 'mae' objective goes with the 'mae' architecture, and only with it.")

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON data (tuples become lists), as the manifest stores it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with some fields changed (e.g. a tiny one for a test)."""
        return dataclasses.replace(self, **changes)


_VIT = dict(img_size=64, patch_size=8, embed_dim=64, depth=4, num_heads=4)  # experiments.course_vit("book")
_SWIN = dict(img_size=64, patch_size=4, embed_dim=24, depths=(2, 2, 2), num_heads=(2, 4, 8), window_size=4)  # chapter 4

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe(
        "resnet50_w8", "resnet50", dict(base_width=8, zero_init_residual=True), 96, "multilabel",
        dict(_CNN, epochs=15, batch_size=64), used_by=("03_attention", "07_convit"),
        note="The course's narrow ResNet-50 (base_width 8, chapters 3 and 7; ConViT's trunk).",
    ),
    Recipe(
        "resnet50_w16", "resnet50", dict(base_width=16, zero_init_residual=True), 96, "multilabel",
        dict(_CNN, epochs=8, batch_size=64), used_by=("02_cnn_baselines",),
        note="Chapter 2's ResNet-50 (base_width = the book's width, 16).",
    ),
    Recipe(
        "vgg16_w8", "vgg16", dict(base_width=8), 96, "multilabel",
        dict(_CNN_NOBN, epochs=12, batch_size=64), used_by=("02_cnn_baselines",),
        note="Chapter 2's VGG-16 (half the book's width, 8; no BatchNorm, a ten times smaller rate).",
    ),
    Recipe(
        "densenet121_w16", "densenet121", dict(base_width=16), 96, "multilabel",
        dict(_CNN, epochs=6, batch_size=64), used_by=("02_cnn_baselines",),
        note="Chapter 2's DenseNet-121 (base_width 16).",
    ),
    Recipe(
        "googlenet_w8", "googlenet", dict(base_width=8), 96, "multilabel",
        dict(_CNN, epochs=8, batch_size=64), used_by=("02_cnn_baselines",),
        note="Chapter 2's GoogLeNet for fine-tuning (base_width 8, with BatchNorm), the source its full profile takes from ImageNet.",
    ),
    Recipe(
        "vit_ch4", "vit", dict(_VIT), 64, "multilabel",
        dict(_TRANSFORMER, epochs=30, batch_size=64), used_by=("04_vision_transformers",),
        note="Chapter 4's ViT: 64-px images, 8x8 patches (64 tokens), 4 blocks of width 64, 4 heads.",
    ),
    Recipe(
        "swin_ch4", "swin", dict(_SWIN, drop_path_rate=0.0), 64, "multilabel",
        dict(_TRANSFORMER, epochs=12, batch_size=64), used_by=("04_vision_transformers",),
        note="Chapter 4's Swin: 64-px images, 4x4 patches, 3 stages (2, 2, 2) of width 24, 48, 96, windows of 4.",
    ),
    Recipe(
        "mae_vit_ch5", "mae",
        dict(encoder=dict(_VIT), decoder_dim=32, decoder_depth=1, decoder_num_heads=4, mask_ratio=0.75), 64, "mae",
        dict(_MAE, epochs=60, batch_size=64), used_by=("05_masked_autoencoders",),
        note="Chapter 5's MAE (chapter 4's ViT as encoder, a one-block decoder), pretrained far longer than the chapter can.",
    ),
)}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a clear error for an unknown one."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"No zoo recipe called {name!r}: choose one of {', '.join(RECIPES)}.") from None


def names() -> list[str]:
    """Every recipe name, in registry order."""
    return list(RECIPES)
