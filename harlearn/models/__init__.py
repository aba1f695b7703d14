"""Models of the course: the CNN baselines and (in later chapters) the papers' models.

The CNN baselines, with torchvision's parameter names so its ImageNet weights load by name:
:func:`vgg16`, :func:`resnet50`, :func:`googlenet`, :func:`densenet121`; and the transfer
learning helpers :func:`finetune_model`, :func:`head_parameters`, :func:`backbone_parameters`.
See :mod:`harlearn.models.cnn`.
"""

from harlearn.models.cnn import (
    VGG,
    DenseNet,
    GoogLeNet,
    ResNet,
    backbone_parameters,
    densenet121,
    finetune_model,
    googlenet,
    head_parameters,
    resnet50,
    vgg16,
)

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
    detection_targets,
    fasterrcnn,
    train_detector,
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
from harlearn.models.retrieval_baselines import (  # GeM, BNNeck, batch-hard triplet (retrieval baselines)
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
