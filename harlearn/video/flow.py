"""Optical flow: how far every pixel moved between two frames, and how to look at it.

Papers: Farnebäck, *Two-Frame Motion Estimation Based on Polynomial Expansion*, SCIA 2003 (the
classical dense flow computed here, through OpenCV's ``calcOpticalFlowFarneback``); Simonyan and
Zisserman, *Two-Stream Convolutional Networks for Action Recognition in Videos*, NeurIPS 2014,
arXiv:1406.2199 (flow as a network's input: ``2 (T-1)`` stacked ``x, y`` displacement channels);
Teed and Deng, *RAFT*, ECCV 2020, arXiv:2003.12039 (the learned flow of the ``full`` profile,
``torchvision.models.optical_flow.raft_small``, through :func:`raft_flow`).

A flow field is ``[2, H, W]``: ``(dx, dy)`` in pixels from frame ``t`` to frame ``t + 1``; a clip
of ``T`` frames has ``T - 1`` of them, ``[T-1, 2, H, W]`` (the lecture's ``[H x W x 2] x T``).
:func:`flow_image` draws one as colours (``torchvision.utils.flow_to_image``: the hue is the
direction, the saturation the speed). A still background has zero flow, so the flow of a
SynthHAR clip *is* its actor's motion.

Where this departs from the two-stream paper: the flow is computed on the fly from decoded
frames (the paper precomputes TV-L1 flow and stores it as JPEGs); it is clipped to
``+-max_flow`` pixels and divided by it (:func:`flow_input`), the usual stand-in for the paper's
rescaling to ``[0, 255]``.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["farneback_flow", "clip_flow", "flow_image", "flow_input", "raft", "raft_flow"]


def _cv2():
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - a dependency of harlearn
        raise ImportError("Farneback flow needs OpenCV: pip install opencv-python-headless") from err
    return cv2


def _gray(frame: np.ndarray) -> np.ndarray:
    """``uint8 [H, W]`` from an RGB frame ``[H, W, 3]`` (uint8, or float in [0, 1])."""
    if frame.dtype != np.uint8:
        frame = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _cv2().cvtColor(np.ascontiguousarray(frame), _cv2().COLOR_RGB2GRAY)


def farneback_flow(
    first: np.ndarray, second: np.ndarray, *, pyr_scale: float = 0.5, levels: int = 3, winsize: int = 9,
    iterations: int = 3, poly_n: int = 5, poly_sigma: float = 1.1,
) -> np.ndarray:
    """Dense flow from ``first`` to ``second`` (OpenCV's Farneback).

    Args:
        first, second: RGB frames ``[H, W, 3]`` (uint8, or float in [0, 1]).
        pyr_scale, levels: the image pyramid (each level ``pyr_scale`` times smaller).
        winsize: averaging window; larger is smoother and finds faster motion (OpenCV's
            tutorial uses 15 on 640 x 480 frames; 9 suits SynthHAR's 64 px).
        iterations, poly_n, poly_sigma: OpenCV's other arguments (its tutorial's values).

    Returns:
        float32 ``[2, H, W]``: ``(dx, dy)`` in pixels; pixel ``(x, y)`` of ``first`` is seen at
        ``(x + dx, y + dy)`` in ``second``.
    """
    flow = _cv2().calcOpticalFlowFarneback(
        _gray(first), _gray(second), None, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, 0
    )  # [H, W, 2]
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)


def clip_flow(video: torch.Tensor | np.ndarray, **kwargs) -> torch.Tensor:
    """The Farneback flow between consecutive frames of a clip.

    Args:
        video: One clip, ``[3, T, H, W]`` (a :class:`harlearn.data.UCF101` item's ``video``,
            float in [0, 1]) or ``uint8 [T, H, W, 3]`` (:func:`harlearn.data.video_io.read_video`).
        **kwargs: :func:`farneback_flow`'s arguments.

    Returns:
        float32 ``[T-1, 2, H, W]``.
    """
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().permute(1, 2, 3, 0).numpy()  # [T, H, W, 3]
    frames = np.asarray(video)
    return torch.from_numpy(np.stack([farneback_flow(a, b, **kwargs) for a, b in zip(frames[:-1], frames[1:])]))


def flow_image(flow: torch.Tensor, max_flow: float | None = None) -> torch.Tensor:
    """Flow as colours, ``torchvision.utils.flow_to_image``: hue = direction, saturation = speed.

    Args:
        flow: ``[2, H, W]`` or ``[N, 2, H, W]`` in pixels.
        max_flow: the speed drawn fully saturated; default the largest in ``flow`` (torchvision's
            normalisation), so that fields of one figure share one scale when given.

    Returns:
        uint8 ``[3, H, W]`` or ``[N, 3, H, W]``.
    """
    from torchvision.utils import flow_to_image

    flow = flow.float()
    if max_flow is not None:  # torchvision divides by the largest norm: add a corner of norm max_flow, then drop it
        pad = torch.zeros_like(flow[..., :1, :1])
        pad[..., 0, :, :] = max_flow
        norm = flow.norm(dim=-3, keepdim=True).clamp_min(1e-9)  # [..., 1, H, W]
        flow = flow * (max_flow / norm).clamp(max=1.0)  # faster than max_flow: drawn at max_flow
        flow = torch.cat([flow, pad.expand(*flow.shape[:-1], 1)], dim=-1)
        return flow_to_image(flow)[..., :-1]
    return flow_to_image(flow)


def flow_input(flow: torch.Tensor, max_flow: float = 4.0) -> torch.Tensor:
    """A flow stream's input: clipped to ``+-max_flow`` pixels and scaled into ``[-1, 1]``.

    Args:
        flow: ``[T-1, 2, H, W]`` (one clip) or ``[B, T-1, 2, H, W]``.
        max_flow: the speed, in pixels per frame, that maps to 1.

    Returns:
        The same shape, float32.
    """
    return torch.clamp(flow.float(), -max_flow, max_flow) / max_flow


def raft(pretrained: bool = True) -> torch.nn.Module:
    """torchvision's ``raft_small``, with its weights (trained on FlyingChairs + FlyingThings3D).

    Args:
        pretrained: load the weights (torch hub's cache; downloaded on first use; a random
            stand-in in smoke mode); ``False``: random weights, the same code path offline.

    Returns:
        The model in eval mode.
    """
    from torchvision.models.optical_flow import Raft_Small_Weights, raft_small

    if not pretrained:
        return raft_small(weights=None).eval()
    from harlearn.models.backbones.weights import load_torchvision_model

    return load_torchvision_model(raft_small, Raft_Small_Weights.DEFAULT, "RAFT's optical-flow weights").eval()


@torch.no_grad()
def raft_flow(video: torch.Tensor, model: torch.nn.Module | None = None, num_flow_updates: int = 12) -> torch.Tensor:
    """Learned flow (RAFT, ``torchvision.models.optical_flow.raft_small``) between consecutive frames.

    Args:
        video: One clip ``[3, T, H, W]`` in [0, 1]; ``H`` and ``W`` divisible by 8 and at least
            128 (RAFT's correlation pyramid; upsample smaller frames first).
        model: a RAFT model; default :func:`raft` (``raft_small`` with torchvision's weights,
            downloaded on first use; offline, pass ``raft(pretrained=False)``, whose flow is
            meaningless but whose code path is the same).
        num_flow_updates: RAFT's refinement iterations (torchvision's default: 12).

    Returns:
        float32 ``[T-1, 2, H, W]``: the last of RAFT's refinements.
    """
    model = (model if model is not None else raft()).eval()
    frames = video.transpose(0, 1) * 2 - 1  # [T, 3, H, W] in [-1, 1], RAFT's input range
    return model(frames[:-1], frames[1:], num_flow_updates=num_flow_updates)[-1].float()
