"""Two streams, fused late: appearance (RGB frames) and motion (stacked optical flow).

Paper: Simonyan and Zisserman, *Two-Stream Convolutional Networks for Action Recognition in
Videos*, NeurIPS 2014, arXiv:1406.2199. Frame averaging as the simplest video model: Karpathy
et al., *Large-scale Video Classification with Convolutional Neural Networks*, CVPR 2014
("single frame" and "late fusion"), and TSN (Wang et al., ECCV 2016, arXiv:1608.00859).

* :class:`FrameAverage`: any still-image classifier on every frame, the logits averaged: the
  still-image model taken to video. It sees *which* frames there are, never their order, so a
  clip and the same clip played backwards get the same scores (the time-reversal pairs of
  SynthHAR clips are exactly what it cannot learn).
* :func:`stack_flow`: ``T - 1`` flow fields as one ``2 (T-1)``-channel image, the paper's
  motion-stream input, for any 2D CNN built with that many input channels.
* :class:`TwoStream`: an RGB stream and a flow stream trained together; the class scores are
  fused late, by averaging the two streams' softmax probabilities (the paper's "by averaging";
  its other choice is an SVM on the scores). ``forward`` returns the log of the fused
  probabilities, so the cross-entropy of ``harlearn.train`` trains it as it is.

Where this departs from the paper: the streams are trained jointly on the fused score (the paper
trains each on its own, then fuses; :func:`fuse` fuses two separately trained streams' logits).
"""

from __future__ import annotations


import torch
import torch.nn as nn

__all__ = ["FrameAverage", "stack_flow", "fuse", "TwoStream"]


class FrameAverage(nn.Module):
    """A still-image classifier applied to every frame, its logits averaged over time.

    Args:
        model: maps images ``[B, C, H, W]`` to logits ``[B, K]``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Clips ``[B, C, T, H, W]`` -> logits ``[B, K]``, the mean of the ``T`` frames' logits."""
        B, C, T, H, W = video.shape
        frames = video.transpose(1, 2).reshape(B * T, C, H, W)  # [B*T, C, H, W]
        return self.model(frames).view(B, T, -1).mean(dim=1)  # [B, K]


def stack_flow(flow: torch.Tensor) -> torch.Tensor:
    """Flow fields as one multi-channel image: ``[B, T-1, 2, H, W] -> [B, 2(T-1), H, W]`` (dx, dy of each step)."""
    B, S, two, H, W = flow.shape
    return flow.reshape(B, S * two, H, W)


def fuse(*logits: torch.Tensor, weights: list[float] | None = None) -> torch.Tensor:
    """Late fusion: the log of the (weighted) average of the streams' softmax probabilities.

    Args:
        *logits: ``[B, K]`` per stream.
        weights: one per stream (default equal); they are normalised to sum to 1.

    Returns:
        ``[B, K]`` log-probabilities (``argmax`` is the fused prediction).
    """
    w = torch.tensor(weights if weights is not None else [1.0] * len(logits), dtype=logits[0].dtype, device=logits[0].device)
    w = w / w.sum()
    logp = torch.stack([z.log_softmax(dim=-1) for z in logits])  # [S, B, K]
    return torch.logsumexp(logp + w.log()[:, None, None], dim=0)  # log sum_s w_s p_s, without underflow


class TwoStream(nn.Module):
    """Late fusion of an appearance stream and a motion stream.

    Args:
        rgb: maps clips ``[B, 3, T, H, W]`` to logits (e.g. :class:`FrameAverage` of a CNN).
        flow: maps stacked flow ``[B, 2(T-1), H, W]`` to logits (a 2D CNN with ``2(T-1)`` input channels).
        rgb_weight: the appearance stream's share of the fused probability (the paper weighs
            the flow stream more when fusing by averaging; 0.5 is plain averaging).
    """

    def __init__(self, rgb: nn.Module, flow: nn.Module, rgb_weight: float = 0.5) -> None:
        super().__init__()
        if not 0.0 < rgb_weight < 1.0:
            raise ValueError(f"rgb_weight must lie in (0, 1), got {rgb_weight}.")
        self.rgb, self.flow, self.rgb_weight = rgb, flow, rgb_weight

    def forward(self, video: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Fused log-probabilities ``[B, K]``.

        Args:
            video: ``[B, 3, T, H, W]``.
            flow: ``[B, T-1, 2, H, W]`` (:func:`~harlearn.video.flow.flow_input` of each clip's flow).
        """
        return fuse(self.rgb(video), self.flow(stack_flow(flow)), weights=[self.rgb_weight, 1 - self.rgb_weight])

    def streams(self, video: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each stream's own logits ``([B, K], [B, K])``, to score them alone."""
        return self.rgb(video), self.flow(stack_flow(flow))


