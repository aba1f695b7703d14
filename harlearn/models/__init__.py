"""Models of the course: the CNN baselines and the papers' models.

* :mod:`.backbones`: the CNN baselines, with torchvision's parameter names so its ImageNet
  weights load by name: :func:`vgg16`, :func:`resnet50`, :func:`googlenet`, :func:`densenet121`
  (``harlearn.models.cnn``, ``.vgg``, ``.resnet``, ``.googlenet``, ``.densenet`` re-export them).
* :mod:`.transfer`: :func:`finetune_model`, :func:`head_parameters`, :func:`backbone_parameters`.
* :mod:`.lga` (Loss-Guided Activation), :mod:`.convit` (ConViT), :mod:`.detection` (Faster
  R-CNN), :mod:`.retrieval` (region-aware action retrieval and its baselines).

Models import layers, transformers, ``harlearn.losses`` and ``harlearn.inference``, never the
training loop (``harlearn.train``). ``train_detector``, which is ``harlearn.train.fit`` with the
detector's loss, lives in ``harlearn.train``; the name here resolves to it on first use.
"""

from typing import Any

from harlearn.models.backbones import VGG, DenseNet, GoogLeNet, ResNet, densenet121, googlenet, resnet50, vgg16
from harlearn.models.transfer import backbone_parameters, finetune_model, head_parameters

__all__ = [
    "VGG",
    "ResNet",
    "GoogLeNet",
    "DenseNet",
    "vgg16",
    "resnet50",
    "googlenet",
    "densenet121",
    "finetune_model",
    "head_parameters",
    "backbone_parameters",
]

from harlearn.models.lga import (  # Loss-Guided Activation (Liu et al., arXiv:1812.04194)
    LossGuidedActivationNet,
    box_from_keypoints,
    human_mask_loss,
    lga_loss_fn,
    mask_from_keypoints,
    person_masks,
    predicting_activation_map,
    sum_of_activation_maps,
)

__all__ += [
    "LossGuidedActivationNet",
    "human_mask_loss",
    "person_masks",
    "box_from_keypoints",
    "mask_from_keypoints",
    "sum_of_activation_maps",
    "predicting_activation_map",
    "lga_loss_fn",
]

from harlearn.models.convit import (  # ConViT (Hosseyni, Seyedin, Taheri, arXiv:2307.08994)
    ConViT,
    ConViTWithPersonBranch,
    HumanBranch,
    ViTConvLayer,
    fit_fusion_weights,
    fuse_probabilities,
    person_boxes,
    person_branch_forward,
    person_branch_loss,
    predict_branches,
)
from harlearn.models.detection import (  # Faster R-CNN (Ren et al., arXiv:1506.01497)
    detect_persons,
    detection_images,
    detection_loss_fn,
    detection_targets,
    fasterrcnn,
)

__all__ += [
    "ViTConvLayer",
    "ConViT",
    "HumanBranch",
    "ConViTWithPersonBranch",
    "person_boxes",
    "person_branch_forward",
    "person_branch_loss",
    "predict_branches",
    "fuse_probabilities",
    "fit_fusion_weights",
    "fasterrcnn",
    "detection_images",
    "detection_targets",
    "detection_loss_fn",
    "train_detector",
    "detect_persons",
]

from harlearn.models.retrieval import (  # Region-aware action retrieval (Wang et al., arXiv:2407.09924)
    FusionTransformer,
    RegionAwareActionNet,
    anchor_boxes_from_batch,
    batch_embedding,
    batch_forward,
    build_backbone,
    context_boxes_from_batch,
    rank_context_proposals,
    retrieval_loss_fn,
)
from harlearn.models.retrieval import (  # GeM, BNNeck, batch-hard triplet (retrieval baselines)
    BNNeckNet,
    GeM,
    GlobalPoolRetrieval,
    batch_hard_triplet_loss,
    reid_loss_fn,
)

__all__ += [
    "rank_context_proposals",
    "FusionTransformer",
    "RegionAwareActionNet",
    "build_backbone",
    "anchor_boxes_from_batch",
    "context_boxes_from_batch",
    "batch_forward",
    "batch_embedding",
    "retrieval_loss_fn",
    "GeM",
    "GlobalPoolRetrieval",
    "BNNeckNet",
    "batch_hard_triplet_loss",
    "reid_loss_fn",
]

from harlearn.models.small import small_cnn  # the course's four-layer CNN (chapters 1 and 4)

__all__ += ["small_cnn"]


def __getattr__(name: str) -> Any:
    """``train_detector`` lives with the training loop (models never import it at import time)."""
    if name == "train_detector":
        from harlearn.train import train_detector  # compat alias, resolved lazily (PEP 562)

        return train_detector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
