"""VideoMAE: the masked autoencoder on clips, with tube masking at a very high ratio.

Paper: Tong, Song, Wang and Wang, *VideoMAE: Masked Autoencoders are Data-Efficient Learners for
Self-Supervised Video Pre-Training*, NeurIPS 2022, arXiv:2203.12602. Code followed:
MCG-NJU/VideoMAE (``modeling_pretrain.py``, ``masking_generator.py``, ``engine_for_pretraining.py``).

VideoMAE is MAE (:mod:`harlearn.transformers.mae`) with three changes, and this module is
exactly those three, as a subclass of :class:`~harlearn.transformers.mae.MaskedAutoencoder`:

1. **tokens are tubelets**: the encoder is a joint space-time ViT,
   ``ViViT(variant="joint")`` with ``2 x 16 x 16`` tubelets (:meth:`VideoMAE.patchify` cuts the
   clip into the same cubes for the target: ``t*p*p*C`` values each);
2. **tube masking at 90 %** (:func:`~harlearn.video.masking.tube_masking`): the same positions
   are hidden in every frame, so a hidden cube cannot be copied from a neighbouring frame
   (:meth:`VideoMAE.mask`; ``masking="random"`` or ``"frame"`` for the paper's ablations);
3. **position table**: VideoMAE's 1D sine-cosine table over the ``N`` tokens in time-major
   order (:meth:`VideoMAE.position_table`).

The decoder, the loss on the hidden cubes (``norm_pix_loss`` normalises each cube, VideoMAE's
default), :func:`~harlearn.transformers.mae.mae_loss_fn` (through :func:`videomae_loss_fn`) and
:func:`~harlearn.transformers.mae.encoder_to_classifier` (it calls ``ViViT.rebuild``) are MAE's.

Where this departs from VideoMAE's code: the encoder keeps MAE's class token (VideoMAE's
pre-training encoder has none), so MAE's decoder is reused as it is; the encoder's weights are
kept as built (VideoMAE re-initialises them with xavier-uniform); the decoder sees all tokens and
the loss counts the hidden ones (VideoMAE's decoder head predicts only the hidden ones: the same
loss, a little more decoder compute).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from harlearn.layers.posembed import sinusoidal_embedding_1d
from harlearn.transformers.mae import MaskedAutoencoder
from harlearn.video.masking import apply_mask, frame_masking, random_token_masking, tube_masking
from harlearn.video.vivit import ViViT

__all__ = ["VideoMAE", "tubelet_patchify", "tubelet_unpatchify", "videomae_loss_fn", "MASKINGS"]

MASKINGS: dict[str, Callable[..., torch.Tensor]] = {"tube": tube_masking, "random": random_token_masking, "frame": frame_masking}


def tubelet_patchify(video: torch.Tensor, t: int, p: int) -> torch.Tensor:
    """Cut clips into flattened ``t x p x p`` cubes, in the tokens' order.

    Args:
        video: Clips ``[B, C, T, H, W]``; ``T`` divisible by ``t``, ``H`` and ``W`` by ``p``.
        t: Tubelet length.
        p: Patch side.

    Returns:
        ``[B, N, t*p*p*C]`` with ``N = (T/t)(H/p)(W/p)`` time-major; each row holds the cube's
        values frame by frame, row-major, channels last (VideoMAE's ``(p0 p1 p2) c``).
    """
    B, C, T, H, W = video.shape
    if T % t or H % p or W % p:
        raise ValueError(f"Clip size (T={T}, H={H}, W={W}) is not divisible by the tubelet ({t}, {p}, {p}).")
    x = video.reshape(B, C, T // t, t, H // p, p, W // p, p)  # [B, C, T', t, h, p, w, p]
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # [B, T', h, w, t, p, p, C]
    return x.reshape(B, (T // t) * (H // p) * (W // p), t * p * p * C)  # [B, N, t*p*p*C]


def tubelet_unpatchify(x: torch.Tensor, t: int, p: int, grid: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of :func:`tubelet_patchify`.

    Args:
        x: Cubes ``[B, N, t*p*p*C]``.
        t: Tubelet length.
        p: Patch side.
        grid: ``(T', h, w)`` with ``T' h w = N``.

    Returns:
        Clips ``[B, C, T' t, h p, w p]``.
    """
    B, N, D = x.shape
    Tg, h, w = grid
    C = D // (t * p * p)
    x = x.reshape(B, Tg, h, w, t, p, p, C)  # [B, T', h, w, t, p, p, C]
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # [B, C, T', t, h, p, w, p]
    return x.reshape(B, C, Tg * t, h * p, w * p)


class VideoMAE(MaskedAutoencoder):
    """A masked autoencoder for clips: a joint ViViT encoder on the visible cubes, MAE's decoder.

    Args:
        encoder: ``ViViT(variant="joint", global_pool="token")`` to pre-train (its head is
            unused: build it with ``num_classes=0``); its ``pos_embed`` becomes the fixed table.
        decoder_dim: Decoder width (VideoMAE-B: 384).
        decoder_depth: Decoder blocks (VideoMAE: 4).
        decoder_num_heads: Decoder heads.
        norm_pix_loss: Regress per-cube normalised values (VideoMAE's default: True).
        mask_ratio: Fraction of each frame's patches hidden (VideoMAE: 0.9).
        masking: ``"tube"`` (VideoMAE), ``"random"`` (MAE's, over all tokens) or ``"frame"``.
    """

    def __init__(
        self,
        encoder: ViViT,
        decoder_dim: int = 384,
        decoder_depth: int = 4,
        decoder_num_heads: int = 6,
        norm_pix_loss: bool = True,
        mask_ratio: float = 0.9,
        masking: str = "tube",
    ) -> None:
        if not isinstance(encoder, ViViT) or encoder.variant != "joint":
            raise ValueError("VideoMAE pre-trains a joint space-time encoder: pass ViViT(variant='joint', global_pool='token').")
        if masking not in MASKINGS:
            raise ValueError(f"masking must be one of {sorted(MASKINGS)}, got {masking!r}.")
        super().__init__(encoder, decoder_dim, decoder_depth, decoder_num_heads, norm_pix_loss, mask_ratio)
        self.masking = masking

    # ---- the three changes -------------------------------------------------------------------
    def position_table(self, dim: int) -> torch.Tensor:
        """VideoMAE's table: 1D sine-cosine over the ``N`` tokens in time-major order, ``[N, dim]``."""
        return sinusoidal_embedding_1d(self.encoder.patch_embed.num_patches, dim)

    @property
    def patch_dim(self) -> int:
        """Values per cube: ``t * p * p * C_in``."""
        return self.encoder.tubelet_size * self.patch_size**2 * self.encoder.in_chans

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """The reconstruction target: :func:`tubelet_patchify` of the clips, ``[B, N, t*p*p*C_in]``."""
        return tubelet_patchify(imgs, self.encoder.tubelet_size, self.patch_size)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """Cubes ``[B, N, t*p*p*C_in]`` back to clips ``[B, C_in, T, H, W]`` (to show predictions)."""
        return tubelet_unpatchify(x, self.encoder.tubelet_size, self.patch_size, self.encoder.grid_size)

    def mask(
        self, x: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tube (or random, frame) masking of the tokens ``[B, N, C]`` -> ``(x_kept, mask, ids_restore)``."""
        frames, S = self.encoder.grid_size[0], self.encoder.patch_embed.patches_per_frame
        hidden = MASKINGS[self.masking](x.shape[0], frames, S, mask_ratio, generator)  # [B, N] bool
        return apply_mask(x, hidden)


def videomae_loss_fn(mask_ratio: float | None = None, key: str = "video") -> Callable[[VideoMAE, dict[str, Any]], tuple[torch.Tensor, None]]:
    """VideoMAE's pre-training loss for ``harlearn.train.fit``: ``(vmae(batch[key]).loss, None)``.

    Args:
        mask_ratio: Fraction hidden; ``None`` uses the model's.
        key: The batch key holding the clips ``[B, C, T, H, W]``.

    Returns:
        ``loss_fn(model, batch) -> (loss, None)``.
    """

    def loss_fn(model: VideoMAE, batch: dict[str, Any]) -> tuple[torch.Tensor, None]:
        loss, _, _ = model(batch[key], mask_ratio=mask_ratio)
        return loss, None

    return loss_fn
