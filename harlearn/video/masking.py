"""Which space-time tokens a video masked autoencoder hides: tube, random and frame masking.

Paper: Tong et al., *VideoMAE: Masked Autoencoders are Data-Efficient Learners for
Self-Supervised Video Pre-Training*, NeurIPS 2022, arXiv:2203.12602 (Sec. 3.3); code followed:
MCG-NJU/VideoMAE ``masking_generator.py`` (``TubeMaskingGenerator``).

Neighbouring frames are nearly the same picture. If each frame hides its own random patches,
the decoder can copy a hidden patch from the next frame, where that spot is visible: the task
leaks through time and teaches little. **Tube masking** hides the *same* spatial positions in
every frame (a tube through time), so a hidden patch has no visible copy anywhere in the clip
and must be inferred from its context; at VideoMAE's 90 % ratio only one patch in ten is seen.

Masks are boolean ``[B, N]`` over the tokens in time-major order (token
``n = i * patches_per_frame + j`` is patch ``j`` of token frame ``i``, the order of
:class:`~harlearn.video.tubelet.TubeletEmbed`), ``True`` = hidden, VideoMAE's
``bool_masked_pos``. ``frames`` counts token frames (``T / tubelet_size``), as VideoMAE's
``window_size[0]``.

Where this departs from VideoMAE: the masks are drawn with torch (an optional
``torch.Generator``) instead of ``np.random.shuffle``, a batch at a time; the count of hidden
patches per frame is VideoMAE's ``int(ratio * patches_per_frame)``. :func:`random_token_masking`
and :func:`frame_masking` are the paper's ablations (Table 1c), and :func:`apply_mask` turns a
mask into the ``(kept tokens, mask, ids_restore)`` triple of
:func:`harlearn.transformers.mae.random_masking`, so the MAE decoder is reused unchanged.
"""

from __future__ import annotations

import torch

__all__ = ["tube_masking", "random_token_masking", "frame_masking", "apply_mask"]


def _check(frames: int, patches_per_frame: int, ratio: float) -> None:
    if frames < 1 or patches_per_frame < 1:
        raise ValueError(f"frames and patches_per_frame must be >= 1, got {frames} and {patches_per_frame}.")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"The mask ratio must be in [0, 1), got {ratio}.")


def _random_order(batch: int, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """``[batch, n]``: an independent random permutation of ``0 .. n-1`` per row."""
    device = generator.device if generator is not None else None
    return torch.rand(batch, n, generator=generator, device=device).argsort(dim=1)


def tube_masking(
    batch: int, frames: int, patches_per_frame: int, ratio: float = 0.9, generator: torch.Generator | None = None
) -> torch.Tensor:
    """VideoMAE's tube masking: the same ``int(ratio * patches_per_frame)`` positions hidden in every frame.

    Args:
        batch: Number of clips ``B`` (each gets its own tube pattern).
        frames: Token frames ``T / t``.
        patches_per_frame: Tokens per token frame, ``(H/p)(W/p)``.
        ratio: Fraction of each frame's patches hidden (0.9 in VideoMAE).
        generator: Random generator (for reproducible masks).

    Returns:
        Boolean ``[B, frames * patches_per_frame]``, True = hidden; every row hides exactly
        ``frames * int(ratio * patches_per_frame)`` tokens.
    """
    _check(frames, patches_per_frame, ratio)
    hidden = int(ratio * patches_per_frame)
    order = _random_order(batch, patches_per_frame, generator)  # [B, S]: a shuffle of the positions
    per_frame = torch.zeros(batch, patches_per_frame, dtype=torch.bool, device=order.device)
    per_frame.scatter_(1, order[:, :hidden], True)  # [B, S]: the first `hidden` of the shuffle are hidden
    return per_frame.repeat(1, frames)  # [B, T*S]: the same pattern in every frame (a tube)


def random_token_masking(
    batch: int, frames: int, patches_per_frame: int, ratio: float = 0.9, generator: torch.Generator | None = None
) -> torch.Tensor:
    """MAE's random masking over all space-time tokens (the ablation that leaks through time).

    Args:
        batch, frames, patches_per_frame, ratio, generator: as :func:`tube_masking`.

    Returns:
        Boolean ``[B, frames * patches_per_frame]``, True = hidden; every row hides
        ``frames * int(ratio * patches_per_frame)`` tokens (as many as tube masking), anywhere.
    """
    _check(frames, patches_per_frame, ratio)
    n = frames * patches_per_frame
    order = _random_order(batch, n, generator)  # [B, N]
    mask = torch.zeros(batch, n, dtype=torch.bool, device=order.device)
    return mask.scatter_(1, order[:, : frames * int(ratio * patches_per_frame)], True)


def frame_masking(
    batch: int, frames: int, patches_per_frame: int, ratio: float = 0.875, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Whole token frames hidden (VideoMAE's frame-masking ablation, 87.5 % = 7 of 8 frames).

    Args:
        batch, frames, patches_per_frame, generator: as :func:`tube_masking`.
        ratio: Fraction of the token frames hidden: ``int(ratio * frames)`` of them.

    Returns:
        Boolean ``[B, frames * patches_per_frame]``, True = hidden.
    """
    _check(frames, patches_per_frame, ratio)
    order = _random_order(batch, frames, generator)  # [B, T]
    per_clip = torch.zeros(batch, frames, dtype=torch.bool, device=order.device)
    per_clip.scatter_(1, order[:, : int(ratio * frames)], True)  # [B, T]
    return per_clip.repeat_interleave(patches_per_frame, dim=1)  # [B, T*S]: a hidden frame hides all its patches


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the visible tokens, in :func:`harlearn.transformers.mae.random_masking`'s output format.

    Args:
        x: Tokens ``[B, N, D]``.
        mask: Boolean ``[B, N]``, True = hidden, with the same number of hidden tokens in every row.

    Returns:
        ``(x_kept, mask, ids_restore)``: the visible tokens ``[B, N_keep, D]`` in their original
        order, ``mask`` as float ``[B, N]`` (1 = removed, MAE's convention) and ``ids_restore``
        ``[B, N]``: appending ``N - N_keep`` mask tokens to ``x_kept`` and gathering with it puts
        every token back in place.
    """
    B, N, D = x.shape
    if mask.shape != (B, N) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be boolean [B, N] = [{B}, {N}], got {mask.dtype} {tuple(mask.shape)}.")
    counts = mask.sum(dim=1)
    if not bool((counts == counts[0]).all()):
        raise ValueError("Every clip must hide the same number of tokens (tube, random and frame masking do).")
    mask = mask.to(x.device)
    keep = N - int(counts[0])
    ids_shuffle = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)  # [B, N]: visible first, each group in order
    ids_restore = torch.argsort(ids_shuffle, dim=1)  # [B, N]: the inverse permutation
    x_kept = torch.gather(x, 1, ids_shuffle[:, :keep, None].expand(-1, -1, D))  # [B, N_keep, D]
    return x_kept, mask.to(x.dtype), ids_restore
