"""Explaining a classifier's decision: where in the image its evidence lies.

Two methods, one per family of models:

* :func:`grad_cam` (CNNs, and any model with a feature-map layer, e.g. ConViT's ViT layers):
  Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
  Localization", ICCV 2017, arXiv:1610.02391.
* :func:`attention_rollout` (Vision Transformers, from
  :meth:`~harlearn.transformers.vit.VisionTransformer.get_attention_maps`): Abnar & Zuidema,
  "Quantifying Attention Flow in Transformers", ACL 2020, arXiv:2005.00928.

:func:`harlearn.viz.overlay_heatmap` draws either map over its image. Both functions are also
importable from their former homes (``harlearn.viz.grad_cam``,
``harlearn.transformers.vit.attention_rollout``).

Where this departs from the papers: Grad-CAM reads the activations with a forward hook and
differentiates them with ``torch.autograd.grad`` (the parameters' ``.grad`` stay untouched);
rollout's optional ``discard_ratio`` is a denoising trick of the jacobgil/vit-explain code, not
in the paper (``0``, the default, is the paper's rollout).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from harlearn.losses import logits_of

__all__ = ["grad_cam", "attention_rollout"]


def grad_cam(
    model: torch.nn.Module,
    image: torch.Tensor,
    target_layer: torch.nn.Module,
    class_index: int | Sequence[int] | torch.Tensor | None = None,
    forward: Any = None,
) -> torch.Tensor:
    """Grad-CAM: where in the image the evidence for a class lies, seen from one layer.

    Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization", ICCV 2017, arXiv:1610.02391. With ``A`` the layer's activations
    ``[B, K, h, w]`` and ``y_c`` the class score (the logit, before any softmax)::

        alpha_k = mean over (i, j) of d y_c / d A_k[i, j]      (one weight per channel)
        cam     = ReLU(sum_k alpha_k A_k)                        [B, h, w]

    then ``cam`` is upsampled bilinearly to the image size and divided by its maximum, per
    image. Works on any of the course's models (the output may be a tensor, a tuple or a dict
    with ``"logits"``) and on any layer whose output is a map ``[B, K, h, w]``: a ResNet's
    ``layer4``, a ConViT's ``vit2``. Departure: the activations are read with a forward hook
    and differentiated with ``torch.autograd.grad``, so the parameters' ``.grad`` are left
    untouched.

    The model runs in eval mode (its mode is restored afterwards) with gradients enabled even
    inside ``torch.no_grad()``.

    Args:
        model: The classifier.
        image: Images ``[B, 3, H, W]`` (or one ``[3, H, W]``), as the model takes them.
        target_layer: A submodule of ``model`` whose output is ``[B, K, h, w]``.
        class_index: The class to explain: an int for every image, one per image, or ``None``
            for each image's top-scoring class.
        forward: ``forward(model, image) -> output`` when the model needs more than the image
            (e.g. ``lambda m, x: m(x, boxes)``); default ``model(image)``.

    Returns:
        Heatmaps ``[B, H, W]`` in ``[0, 1]`` (all zeros where no position has positive
        evidence), detached, on the image's device.

    Raises:
        ValueError: The target layer did not run, or its output is not a 4-D map.
    """
    x = image[None] if image.ndim == 3 else image  # [3, H, W] -> [1, 3, H, W]
    x = x.detach().clone().requires_grad_(True)  # so the graph exists even with frozen weights
    store: dict[str, torch.Tensor] = {}

    def hook(module: torch.nn.Module, inputs: Any, output: Any) -> Any:
        activation = output[0] if isinstance(output, (tuple, list)) else output
        store["A"] = activation
        if isinstance(output, torch.Tensor):
            return output.clone()  # later in-place ops (ReLU(inplace=True)) change the clone, not A
        return None

    handle = target_layer.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            output = forward(model, x) if forward is not None else model(x)
            logits = logits_of(output)  # [B, num_classes]
            if "A" not in store:
                raise ValueError(
                    "target_layer did not run in the forward pass: pass a submodule of the model "
                    "that it uses."
                )
            A = store["A"]
            if A.ndim != 4:
                raise ValueError(
                    f"Grad-CAM needs a map [B, K, h, w] from target_layer, got shape {tuple(A.shape)}: "
                    "pick a convolutional stage or a ViTConvLayer."
                )
            if class_index is None:
                index = logits.argmax(dim=1)  # [B]
            else:
                index = torch.as_tensor(class_index, device=logits.device).long().reshape(-1)
                index = index.expand(logits.shape[0]) if index.numel() == 1 else index  # [B]
            score = logits.gather(1, index[:, None]).sum()  # images are independent in eval mode
            (grads,) = torch.autograd.grad(score, A)  # [B, K, h, w]
    finally:
        handle.remove()
        model.train(was_training)
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # [B, K, 1, 1]: global-average-pooled gradients
    cam = torch.relu((alpha * A.detach()).sum(dim=1, keepdim=True))  # [B, 1, h, w]
    cam = F.interpolate(cam.float(), size=x.shape[-2:], mode="bilinear", align_corners=False)  # [B, 1, H, W]
    peak = cam.amax(dim=(2, 3), keepdim=True)  # [B, 1, 1, 1]
    cam = torch.where(peak > 0, cam / peak.clamp_min(1e-12), torch.zeros_like(cam))
    return cam[:, 0].detach()  # [B, H, W]


def attention_rollout(
    attn_maps: list[torch.Tensor], discard_ratio: float = 0.0, head_fusion: str = "mean"
) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, arXiv:2005.00928): how much each token flows into each.

    Each layer's heads are fused into one map ``A``; the residual connection is accounted for by
    ``0.5 * A + 0.5 * I`` (rows renormalised to sum to one) and the layers are multiplied from the
    first to the last: ``R = A_L' ... A_2' A_1'``. Row 0 of ``R`` (class token) reshaped to the patch
    grid is the usual rollout heat map: ``R[:, 0, 1:].reshape(B, H/p, W/p)``.

    Args:
        attn_maps: Per-layer attention ``[B, h, N, N]``, first layer first
            (:meth:`VisionTransformer.get_attention_maps`).
        discard_ratio: Fraction of the smallest fused attention weights set to zero in every layer
            before the residual is added (a denoising trick from the jacobgil/vit-explain code,
            not in the paper); ``0`` is the paper's rollout.
        head_fusion: How heads are fused: ``"mean"`` (the paper), ``"max"`` or ``"min"``.

    Returns:
        Rollout matrix ``[B, N, N]`` whose rows sum to one.
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}.")
    fuse = {"mean": lambda a: a.mean(dim=1), "max": lambda a: a.amax(dim=1), "min": lambda a: a.amin(dim=1)}
    if head_fusion not in fuse:
        raise ValueError(f"head_fusion must be 'mean', 'max' or 'min', got {head_fusion!r}.")
    B, _, N, _ = attn_maps[0].shape
    eye = torch.eye(N, device=attn_maps[0].device, dtype=attn_maps[0].dtype)  # [N, N]
    rollout = eye.expand(B, N, N)  # [B, N, N]
    for attn in attn_maps:
        a = fuse[head_fusion](attn)  # [B, N, N]
        num_discard = int(N * N * discard_ratio)
        if num_discard > 0:
            flat = a.reshape(B, N * N).clone()  # [B, N*N]
            lowest = flat.topk(num_discard, dim=-1, largest=False).indices  # [B, num_discard]
            a = flat.scatter(-1, lowest, 0.0).reshape(B, N, N)  # [B, N, N]
        a = 0.5 * a + 0.5 * eye  # residual connection
        a = a / a.sum(dim=-1, keepdim=True)  # rows sum to one
        rollout = a @ rollout  # [B, N, N]
    return rollout
