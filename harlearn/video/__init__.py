"""Beyond one frame: video transformers, masking for video pre-training, motion and pose.

One concept a module:

* :mod:`.tubelet`: :class:`TubeletEmbed`, a clip as ``t x p x p`` tubelet tokens (``t = 1``:
  uniform frame sampling), and ViViT's inflation of a 2D patch embedding;
* :mod:`.vivit`: :class:`ViViT` with ``variant="joint" | "factorised_encoder" |
  "factorised_attention"`` (models 1-3), :func:`space_time_masks`, :func:`vivit_from_vit`;
* :mod:`.swin3d`: :class:`SwinTransformer3d` (Video Swin) with torchvision's arguments and
  parameter names, 3D (shifted) windows, :func:`swin3d_t` / ``_s`` / ``_b``;
* :mod:`.masking`: :func:`tube_masking` (VideoMAE), :func:`random_token_masking`,
  :func:`frame_masking`, :func:`apply_mask`;
* :mod:`.videomae`: :class:`VideoMAE` (MAE's code with tubelets, tube masking and a 1D table),
  :func:`videomae_loss_fn`; fine-tune with :func:`harlearn.transformers.mae.encoder_to_classifier`;
* :mod:`.flow`: optical flow, Farneback (OpenCV: :func:`farneback_flow`, :func:`clip_flow`) and
  RAFT (:func:`raft_flow`), drawn with :func:`flow_image`, scaled for a network by :func:`flow_input`;
* :mod:`.two_stream`: :class:`FrameAverage` (a still-image model on every frame),
  :func:`stack_flow`, :func:`fuse`, :class:`TwoStream` (late fusion);
* :mod:`.skeleton`: :class:`SkeletonGCN` (a small ST-GCN over joints x frames),
  :func:`normalize_skeleton`, :func:`normalized_adjacency`.
"""

from harlearn.video.flow import clip_flow, farneback_flow, flow_image, flow_input, raft, raft_flow
from harlearn.video.masking import apply_mask, frame_masking, random_token_masking, tube_masking
from harlearn.video.skeleton import (
    GraphConv,
    SkeletonGCN,
    STGCNBlock,
    detect_keypoints,
    keypoint_rcnn,
    normalize_skeleton,
    normalized_adjacency,
)
from harlearn.video.swin3d import (
    PatchEmbed3d,
    PatchMerging,
    ShiftedWindowAttention3d,
    SwinTransformer3d,
    SwinTransformerBlock3d,
    relative_position_index_3d,
    shifted_window_mask_3d,
    swin3d_b,
    swin3d_s,
    swin3d_t,
    window_partition_3d,
    window_reverse_3d,
)
from harlearn.video.tubelet import TubeletEmbed
from harlearn.video.two_stream import FrameAverage, TwoStream, fuse, stack_flow
from harlearn.video.videomae import VideoMAE, tubelet_patchify, tubelet_unpatchify, videomae_loss_fn
from harlearn.video.vivit import FactorisedAttentionBlock, ViViT, space_time_masks, vivit_from_vit

__all__ = [
    "TubeletEmbed",
    "ViViT",
    "FactorisedAttentionBlock",
    "space_time_masks",
    "vivit_from_vit",
    "SwinTransformer3d",
    "SwinTransformerBlock3d",
    "ShiftedWindowAttention3d",
    "PatchEmbed3d",
    "PatchMerging",
    "window_partition_3d",
    "window_reverse_3d",
    "relative_position_index_3d",
    "shifted_window_mask_3d",
    "swin3d_t",
    "swin3d_s",
    "swin3d_b",
    "tube_masking",
    "random_token_masking",
    "frame_masking",
    "apply_mask",
    "VideoMAE",
    "tubelet_patchify",
    "tubelet_unpatchify",
    "videomae_loss_fn",
    "farneback_flow",
    "clip_flow",
    "flow_image",
    "flow_input",
    "raft",
    "raft_flow",
    "FrameAverage",
    "stack_flow",
    "fuse",
    "TwoStream",
    "SkeletonGCN",
    "STGCNBlock",
    "GraphConv",
    "normalize_skeleton",
    "normalized_adjacency",
    "keypoint_rcnn",
    "detect_keypoints",
]
