"""A skeleton-sequence classifier: actions from joints x frames, blind to the scene.

Paper: Yan, Xiong and Lin, *Spatial Temporal Graph Convolutional Networks for Skeleton-Based
Action Recognition* (ST-GCN), AAAI 2018, arXiv:1801.07455. Code consulted: open-mmlab/mmskeleton.

A pose sequence is ``[B, T, V, 3]``: ``V = 17`` COCO keypoints ``(x, y, visibility)`` in each of
``T`` frames (SynthHAR clips' sidecar; in ``full``, keypoints from a pose estimator such as
torchvision's Keypoint R-CNN). ST-GCN treats it as a graph per frame (joints linked by the
bones of :data:`~harlearn.data.synthhar.render.figure.SKELETON`) and alternates two
convolutions, each block ``x -> relu(x + temporal(graph(x)))``:

* :class:`GraphConv` (spatial): every joint's features become a weighted mean of its own and
  its neighbours', ``X' = A_hat X W`` with ``A_hat = D^-1/2 (A + I) D^-1/2``
  (:func:`normalized_adjacency`; ST-GCN's "uniform" partition, plus its learnable edge
  importance, ``edge_importance``);
* a temporal convolution over each joint's own track (kernel ``k x 1``).

:func:`normalize_skeleton` makes the input scene-free: coordinates relative to the hips' mean
position over the clip, divided by the mean torso length, so the model sees the pose and its
motion, not where in the frame or how large the person is. That is why a skeleton model ignores
a context shift that fools an RGB model.

Where this departs from ST-GCN: two-dimensional keypoints with a visibility channel instead of
3D joints with confidences; the "uniform" partition only (the paper's "spatial configuration"
partition splits ``A`` in three); small widths for a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from harlearn.data.synthhar.render.figure import SKELETON

__all__ = ["normalized_adjacency", "normalize_skeleton", "GraphConv", "STGCNBlock", "SkeletonGCN", "keypoint_rcnn",
           "detect_keypoints"]

_HIPS, _SHOULDERS = (11, 12), (5, 6)  # COCO indices


def normalized_adjacency(num_joints: int = 17, edges: Sequence[tuple[int, int]] = SKELETON) -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` of the skeleton graph (symmetric, self-loops included), ``[V, V]``."""
    A = torch.eye(num_joints)
    for i, j in edges:
        A[i, j] = A[j, i] = 1.0
    d = A.sum(dim=1).rsqrt()  # [V]
    return d[:, None] * A * d[None, :]


def normalize_skeleton(keypoints: torch.Tensor) -> torch.Tensor:
    """Scene-free coordinates: centred on the clip's mean hip position, scaled by its mean torso length.

    Args:
        keypoints: ``[B, T, V, 3]`` (x, y in pixels; visibility 0 / 1 / 2, COCO's) or ``[T, V, 3]``.

    Returns:
        Same shape: x, y relative and scale-free (a person is about 3 units tall), visibility / 2.
    """
    single = keypoints.ndim == 3
    kp = keypoints[None] if single else keypoints
    xy, vis = kp[..., :2].float(), kp[..., 2:].float()
    hips = xy[:, :, list(_HIPS)].mean(dim=2)  # [B, T, 2]
    shoulders = xy[:, :, list(_SHOULDERS)].mean(dim=2)  # [B, T, 2]
    centre = hips.mean(dim=1)[:, None, None]  # [B, 1, 1, 2]: one centre per clip, so motion stays
    torso = (shoulders - hips).norm(dim=-1).mean(dim=1).clamp_min(1e-3)[:, None, None, None]  # [B, 1, 1, 1]
    out = torch.cat([(xy - centre) / torso, vis / 2], dim=-1)
    return out[0] if single else out


class GraphConv(nn.Module):
    """Spatial graph convolution on ``[B, C, T, V]``: ``x -> W x`` per joint, then mixed over ``A_hat``.

    Args:
        in_channels, out_channels: feature widths.
        adjacency: ``[V, V]`` normalised adjacency (a buffer), weighted by a learnable
            ``edge_importance`` of the same shape (initialised to ones, as ST-GCN).
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.register_buffer("adjacency", adjacency.clone())
        self.edge_importance = nn.Parameter(torch.ones_like(adjacency))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, V] -> [B, C_out, T, V]``."""
        x = self.proj(x)  # [B, C_out, T, V]
        return torch.einsum("bctv,vw->bctw", x, self.adjacency * self.edge_importance)  # joint v's message to joint w


class STGCNBlock(nn.Module):
    """ST-GCN's block: graph conv, BN, ReLU, temporal conv, BN, residual, ReLU.

    Args:
        in_channels, out_channels: widths.
        adjacency: ``[V, V]``.
        temporal_kernel: frames the temporal convolution spans (odd).
        stride: temporal stride.
        dropout: dropout between the two convolutions.
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor, temporal_kernel: int = 5,
                 stride: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, adjacency)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), ((temporal_kernel - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels), nn.Dropout(dropout),
        )
        if in_channels == out_channels and stride == 1:
            self.residual: nn.Module = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)), nn.BatchNorm2d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, V] -> [B, C_out, T / stride, V]``."""
        return self.relu(self.tcn(self.gcn(x)) + self.residual(x))


class SkeletonGCN(nn.Module):
    """A small ST-GCN over COCO keypoint sequences.

    Args:
        num_classes: classes.
        num_joints: ``V`` (17 for COCO).
        in_channels: values per joint (x, y, visibility).
        widths: channels of the blocks (the second and later halve time when they widen).
        temporal_kernel: frames each temporal convolution spans.
        dropout: dropout inside the blocks.
        normalize: apply :func:`normalize_skeleton` to the input first.
    """

    def __init__(self, num_classes: int, num_joints: int = 17, in_channels: int = 3, widths: Sequence[int] = (32, 32, 64),
                 temporal_kernel: int = 5, dropout: float = 0.0, normalize: bool = True) -> None:
        super().__init__()
        A = normalized_adjacency(num_joints)
        self.normalize = normalize
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)  # ST-GCN's input normalisation, per joint and channel
        blocks, c = [], in_channels
        for i, w in enumerate(widths):
            blocks.append(STGCNBlock(c, w, A, temporal_kernel, stride=2 if (i > 0 and w != c) else 1, dropout=dropout))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, num_classes)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        """Pose sequences ``[B, T, V, 3]`` -> logits ``[B, num_classes]``."""
        x = normalize_skeleton(keypoints) if self.normalize else keypoints.float()
        B, T, V, C = x.shape
        x = self.data_bn(x.permute(0, 2, 3, 1).reshape(B, V * C, T))  # [B, V*C, T]
        x = x.view(B, V, C, T).permute(0, 2, 3, 1)  # [B, C, T, V]
        x = self.blocks(x)  # [B, C', T', V]
        return self.head(x.mean(dim=(2, 3)))  # global average over time and joints


def keypoint_rcnn(pretrained: bool = True, min_size: int = 800, max_size: int = 1333, **kwargs) -> nn.Module:
    """torchvision's Keypoint R-CNN (ResNet-50-FPN, COCO keypoints): the pose estimator of ``full``.

    ``weights_backbone=None`` always: the detector's own COCO file holds the backbone too, so the
    separate ImageNet backbone file torchvision would fetch first is never needed (offline, it
    would be one more download to fail).

    Args:
        pretrained: load the COCO weights (a random stand-in in smoke mode); ``False``: random.
        min_size, max_size: torchvision's resizing of the input (short side, long side bound).
        **kwargs: more ``KeypointRCNN`` arguments (e.g. ``rpn_post_nms_top_n_test``).

    Returns:
        The model in eval mode.
    """
    from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights, keypointrcnn_resnet50_fpn

    options = dict(weights_backbone=None, min_size=min_size, max_size=max_size, **kwargs)
    if not pretrained:
        return keypointrcnn_resnet50_fpn(weights=None, num_classes=2, **options).eval()
    from harlearn.models.backbones.weights import load_torchvision_model

    return load_torchvision_model(keypointrcnn_resnet50_fpn, KeypointRCNN_ResNet50_FPN_Weights.COCO_V1,
                                  "Keypoint R-CNN's COCO weights", **options).eval()


@torch.no_grad()
def detect_keypoints(model: nn.Module, video: torch.Tensor) -> torch.Tensor:
    """The most confident person's 17 COCO keypoints in every frame of a clip.

    Args:
        model: a Keypoint R-CNN (:func:`keypoint_rcnn`).
        video: ``[3, T, H, W]`` in ``[0, 1]``.

    Returns:
        ``[T, 17, 3]``: ``x, y`` in pixels and visibility 2 where the model found a person, all
        zeros in a frame without one (the format of SynthHAR's sidecar keypoints).
    """
    device = next(model.parameters()).device
    frames = list(video.transpose(0, 1).to(device))  # T images [3, H, W]
    out = torch.zeros(len(frames), 17, 3)
    for t, det in enumerate(model(frames)):
        if len(det["scores"]):
            best = int(det["scores"].argmax())
            out[t, :, :2] = det["keypoints"][best, :, :2].float().cpu()
            out[t, :, 2] = 2.0
    return out
