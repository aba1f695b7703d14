"""Region-aware image-based human action retrieval, and the baselines it is compared with.

Paper: Wang, Zhao and Gui, "Region-aware Image-based Human Action Retrieval with Transformers",
Computer Vision and Image Understanding 249 (2024), arXiv:2407.09924 (RIART). Given a query image
and one anchored person in it, find gallery images of the same action.

* :mod:`.proposals`: the anchored person and the ranked context regions of every image
  (``rank_context_proposals``, ``anchor_boxes_from_batch``, ``context_boxes_from_batch``).
* :mod:`.model`: the fusion transformer and the model (``FusionTransformer``,
  ``RegionAwareActionNet``, ``build_backbone``), and running it on collated batches
  (``batch_forward``, ``batch_embedding``, ``retrieval_loss_fn``).
* :mod:`.baselines`: one global descriptor per image (``GeM``, ``GlobalPoolRetrieval``, the
  BNNeck strong baseline with ``batch_hard_triplet_loss`` and ``reid_loss_fn``).

Each module's docstring lists where it departs from its paper. Everything that
``harlearn.models.retrieval`` (a single module before) and ``harlearn.models.retrieval_baselines``
exposed is importable from here, including ``masked_block_forward`` and the ``TOKEN_*`` ids.
"""

from harlearn.models.retrieval.baselines import (
    BNNeckNet,
    GeM,
    GlobalPoolRetrieval,
    batch_hard_triplet_loss,
    gem,
    reid_loss_fn,
)
from harlearn.models.retrieval.model import (
    TOKEN_CONTEXT,
    TOKEN_GLOBAL,
    TOKEN_PERSON,
    FusionTransformer,
    RegionAwareActionNet,
    batch_embedding,
    batch_forward,
    build_backbone,
    masked_block_forward,
    retrieval_loss_fn,
)
from harlearn.models.retrieval.proposals import (
    WithContextBoxes,
    anchor_boxes_from_batch,
    context_boxes_from_batch,
    rank_context_proposals,
    with_context_boxes,
)

__all__ = [
    "TOKEN_PERSON",
    "TOKEN_GLOBAL",
    "TOKEN_CONTEXT",
    "rank_context_proposals",
    "masked_block_forward",
    "FusionTransformer",
    "build_backbone",
    "RegionAwareActionNet",
    "anchor_boxes_from_batch",
    "context_boxes_from_batch",
    "WithContextBoxes",
    "with_context_boxes",
    "batch_forward",
    "batch_embedding",
    "retrieval_loss_fn",
    "gem",
    "GeM",
    "GlobalPoolRetrieval",
    "BNNeckNet",
    "batch_hard_triplet_loss",
    "reid_loss_fn",
]
