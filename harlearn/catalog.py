"""Every model of the course by name, built the way its chapter builds it, for the ``harlearn`` command.

``harlearn train resnet50-cbam --data stanford40`` needs, for a name, what the chapters write
by hand: the model at the profile's size, its training recipe (:func:`harlearn.experiments.recipe`
with the family and changes its chapter uses) and its loss. :data:`MODELS` holds one
:class:`ModelSpec` per name; :func:`build_model` builds one.

Sizes follow the chapters: in ``ci`` and ``book`` the narrow widths a CPU trains in minutes, in
``full`` (or with ImageNet weights, which exist only for them) the production widths. With
``pretrained`` the recipe becomes the course's fine-tuning one (``"finetune"``: 1e-4 for ImageNet
weights, the from-scratch rate for the course checkpoints), as in chapters 3, 4 and 7.

Not a paper's method: a table of the course's own choices (see each chapter for why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from harlearn import profiles

__all__ = ["ModelSpec", "MODELS", "build_model", "model_names", "unknown_model_message"]


@dataclass(frozen=True)
class ModelSpec:
    """How the course builds and trains one model."""

    name: str  # the command-line name
    summary: str  # one line for ``harlearn train --help``
    chapter: str  # where the course teaches it
    family: str  # the from-scratch recipe family (harlearn.experiments.RECIPES)
    build: Callable[..., nn.Module]  # build(num_classes, image_size, P, full_width, pretrained)
    loss: Callable[[], Any] | None = None  # a factory of its loss_fn (None: the default loss)
    task: str = "classification"  # or "retrieval" (scored by mAP / Rank-k of its embeddings)
    layouts: tuple[str, ...] = ("stanford40", "voc")  # the data layouts it trains on
    changes: dict[str, Any] = field(default_factory=dict)  # recipe changes of its chapter
    imagenet: bool = True  # whether ImageNet weights exist for it
    image_size: Callable[[profiles.Profile], int] | None = None  # its input side (default P.image_size)


# ---- builders (imports inside: importing the catalog stays light) -------------------------------


def _width(P: profiles.Profile, full_width: bool, narrow: int) -> int:
    return 64 if full_width else narrow


def _small_cnn(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
    from harlearn.models.small import small_cnn

    if pretrained == "zoo":
        raise ValueError("There is no course checkpoint for 'small-cnn': train it from scratch (--pretrained none).")
    return small_cnn(num_classes, P.width)


def _backbone(factory: str, narrow: Callable[[profiles.Profile], int]):
    def build(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
        from harlearn.models import backbones

        return getattr(backbones, factory)(num_classes, pretrained, base_width=_width(P, full_width, narrow(P)))

    return build


def _attention(kind: str | None):
    """Chapter 3's ResNet-50 (narrow, zero-initialised residuals) with SE, CBAM or a non-local block."""

    def build(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
        from harlearn.layers import add_attention
        from harlearn.models.backbones import resnet50

        model = resnet50(num_classes, pretrained, base_width=_width(P, full_width, P.width // 2),
                         zero_init_residual=True)
        if kind == "se":
            add_attention(model, "se", reduction=16)
        elif kind == "cbam":
            add_attention(model, "cbam", reduction=16, kernel_size=7)
        elif kind == "nonlocal":
            add_attention(model, "nonlocal", nonlocal_layer="layer2")  # chapter 3: one block in res3
        return model

    return build


def _vit_size(P: profiles.Profile) -> int:
    from harlearn.experiments import course_vit

    return course_vit(P)[0]


def _vit(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
    """Chapter 4's ViT: ViT-S/16 at full width (timm's weights when pretrained), else the course's small one."""
    from harlearn.experiments import course_vit
    from harlearn.transformers import VisionTransformer, vit_small_patch16_224

    if full_width:
        return vit_small_patch16_224(pretrained=pretrained, num_classes=num_classes, img_size=image_size)
    _, kwargs = course_vit(P)
    return _from_zoo(VisionTransformer(image_size, num_classes=num_classes, **kwargs), pretrained)


def _from_zoo(model: nn.Module, pretrained) -> nn.Module:
    """``model`` started from the course checkpoint that fits it when ``pretrained == "zoo"``."""
    if pretrained == "zoo":
        from harlearn import zoo

        zoo.initialise(model)
    return model


def _swin(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
    """Chapter 4's Swin: Swin-T at full width (timm's weights when pretrained), else three small stages."""
    from harlearn.transformers import SwinTransformer, swin_tiny_patch4_window7_224

    if full_width:
        return swin_tiny_patch4_window7_224(pretrained=bool(pretrained), num_classes=num_classes,
                                            img_size=image_size)
    return _from_zoo(SwinTransformer(image_size, num_classes=num_classes, drop_path_rate=0.0, patch_size=4,
                                     embed_dim=P.width + P.width // 2, depths=(2, 2, 2), num_heads=(2, 4, 8),
                                     window_size=4), pretrained)


def _lga(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
    """Chapter 6: LGA on a ResNet-50 whose last stage is dilated (stride 16), zero-initialised residuals."""
    from harlearn.models.backbones import resnet50
    from harlearn.models.lga import LossGuidedActivationNet

    width = _width(P, full_width, 8)
    backbone = resnet50(pretrained=pretrained, base_width=width, zero_init_residual=True,
                        replace_stride_with_dilation=[False, False, True])
    backbone.fc = nn.Identity()  # the LGA model's own fc classifies
    return LossGuidedActivationNet(num_classes, backbone=backbone, base_width=width)


def _lga_loss():
    from harlearn.models.lga import lga_loss_fn

    return lga_loss_fn(1.0)  # the paper's weight of the mask loss


def _convit(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
    from harlearn.models.convit import ConViT

    return ConViT(num_classes, pretrained=pretrained, base_width=_width(P, full_width, 8), image_size=image_size)


def _retrieval(num_classes: int, image_size: int, P, full_width: bool, pretrained) -> nn.Module:
    """Chapter 8: RIART on a ResNet whose last stage is dilated; ResNet-26 (2 blocks a stage) when narrow."""
    from harlearn.models.retrieval import RegionAwareActionNet, build_backbone

    layers = (3, 4, 6, 3) if full_width else (2, 2, 2, 2)
    backbone = build_backbone("resnet50", pretrained, base_width=_width(P, full_width, P.width // 2),
                              layers=layers, replace_stride_with_dilation=[False, False, True])
    return RegionAwareActionNet(num_classes, backbone, k=10, roi_size=(7, 7) if full_width else (3, 3))


def _retrieval_loss():
    from harlearn.models.retrieval import retrieval_loss_fn

    return retrieval_loss_fn  # context regions: SynthHAR's sidecar boxes and the other persons


_SPECS = [
    ModelSpec("small-cnn", "four conv-BN-ReLU-pool stages (chapters 1 and 4)", "01_data", "cnn", _small_cnn,
              imagenet=False),
    ModelSpec("vgg16", "VGG-16, no BatchNorm (half width on a CPU)", "02_cnn_baselines", "cnn-nobn",
              _backbone("vgg16", lambda P: P.width // 2)),
    ModelSpec("resnet50", "ResNet-50 v1.5", "02_cnn_baselines", "cnn", _backbone("resnet50", lambda P: P.width)),
    ModelSpec("googlenet", "GoogLeNet (Inception v1)", "02_cnn_baselines", "cnn",
              _backbone("googlenet", lambda P: P.width)),
    ModelSpec("densenet121", "DenseNet-121", "02_cnn_baselines", "cnn", _backbone("densenet121", lambda P: P.width)),
    ModelSpec("resnet50-plain", "chapter 3's ResNet-50 without attention (the baseline of the three below)",
              "03_attention", "cnn", _attention(None)),
    ModelSpec("resnet50-se", "ResNet-50 with Squeeze-and-Excitation in every bottleneck", "03_attention", "cnn",
              _attention("se")),
    ModelSpec("resnet50-cbam", "ResNet-50 with CBAM in every bottleneck", "03_attention", "cnn", _attention("cbam")),
    ModelSpec("resnet50-nonlocal", "ResNet-50 with one non-local block in res3", "03_attention", "cnn",
              _attention("nonlocal")),
    ModelSpec("vit", "Vision Transformer (ViT-S/16 in full, a small ViT on 8x8 patches otherwise)",
              "04_vision_transformers", "transformer", _vit, image_size=_vit_size),
    ModelSpec("swin", "Swin Transformer (Swin-T in full, three small stages otherwise)", "04_vision_transformers",
              "transformer", _swin, image_size=_vit_size),
    ModelSpec("lga", "Loss-Guided Activation on a dilated ResNet-50 (needs person boxes)",
              "06_loss_guided_activation", "cnn", _lga, loss=_lga_loss),
    ModelSpec("convit", "ConViT: ResNet-50 with a ViT layer after layer3 and layer4", "07_convit", "cnn", _convit,
              changes={"grad_clip": 5.0}),
    ModelSpec("retrieval", "region-aware action retrieval (person, context regions, image; scored by mAP / Rank-k)",
              "08_action_retrieval", "cnn", _retrieval, loss=_retrieval_loss, task="retrieval",
              layouts=("stanford40",)),
]

#: The course's models by command-line name.
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def model_names() -> list[str]:
    """The valid model names, in course order."""
    return list(MODELS)


def unknown_model_message(name: str) -> str:
    """The one sentence for a name that is not a course model."""
    return f"Unknown model {name!r}: choose one of {', '.join(MODELS)}."


def build_model(
    name: str,
    num_classes: int,
    *,
    profile: profiles.Profile | str | None = None,
    image_size: int | None = None,
    full_width: bool | None = None,
    pretrained: bool | str = False,
) -> nn.Module:
    """The course model ``name``, built as its chapter builds it.

    Args:
        name: a key of :data:`MODELS`.
        num_classes: outputs of its classifier.
        profile: sets the narrow widths (default: the current profile).
        image_size: its input side (default :func:`default_image_size`).
        full_width: production widths (default: in the ``full`` profile or with ``pretrained``).
        pretrained: ImageNet weights through torchvision / timm (``True``, ``"imagenet"`` or a
            weights name), or ``"zoo"``: the course checkpoint that fits the model as built at the
            profile's narrow width (:func:`harlearn.zoo.find`).

    Returns:
        The model, in training mode.

    Raises:
        ValueError: an unknown name, or ImageNet weights for a model that has none.
    """
    if name not in MODELS:
        raise ValueError(unknown_model_message(name))
    spec = MODELS[name]
    P = _profile(profile)
    imagenet = bool(pretrained) and pretrained != "zoo"
    if imagenet and not spec.imagenet:
        raise ValueError(f"There are no ImageNet weights for {name!r}: train it from scratch (--pretrained none).")
    if full_width is None:
        full_width = P.name == "full" or imagenet
    size = image_size or default_image_size(name, P)
    return spec.build(num_classes, size, P, full_width, pretrained)


def default_image_size(name: str, profile: profiles.Profile | str | None = None) -> int:
    """The input side the course trains ``name`` at in ``profile``."""
    P = _profile(profile)
    spec = MODELS[name]
    return spec.image_size(P) if spec.image_size is not None else P.image_size


def _profile(profile: profiles.Profile | str | None) -> profiles.Profile:
    if profile is None:
        return profiles.current()
    return profiles.get(profile) if isinstance(profile, str) else profile
