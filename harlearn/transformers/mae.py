"""Masked autoencoder (MAE): pre-train a ViT by reconstructing the patches it did not see.

Paper: He et al., *Masked Autoencoders Are Scalable Vision Learners*, CVPR 2022,
arXiv:2111.06377. Code followed: facebookresearch/mae ``models_mae.py`` (forward split into
named steps) and ``main_finetune.py`` (handing the encoder to a classifier).

A random 75% of the patches is removed; the ViT encoder sees only the kept 25% (plus the class
token), which makes pre-training about 3x cheaper. A small decoder receives the encoded kept
tokens and a shared learned ``mask_token`` for every removed patch, all with their position
embeddings, and predicts the pixels of every patch. The loss is the mean squared error on the
removed patches only (optionally with per-patch normalised pixels, ``norm_pix_loss``).

Read top to bottom: :func:`patchify` / :func:`unpatchify`, :func:`random_masking`,
:class:`MaskedAutoencoder` (``forward_encoder``, ``forward_decoder``, ``forward_loss``,
``forward``), :func:`mae_loss_fn` (pre-training with ``harlearn.train.fit``),
:func:`encoder_to_classifier`.

Position embeddings, as in MAE: fixed 2D sine-cosine tables
(``harlearn.layers.posembed.sinusoidal_embedding_2d``, zero row for the class token).

* The encoder's ``pos_embed`` stays the :class:`~harlearn.transformers.vit.VisionTransformer`
  parameter: it is overwritten with the table and frozen (``requires_grad=False``), exactly as
  MAE does, so that it is saved with the encoder and handed to the classifier, where fine-tuning
  makes it learnable again (as MAE's fine-tuning does).
* The decoder's table is a non-persistent buffer (``decoder_pos_embed``): it never changes and
  is not needed after pre-training. MAE stores it as a frozen parameter instead.

Where this departs from MAE's code:

* The encoder is any :class:`~harlearn.transformers.vit.VisionTransformer` passed in (its head
  is unused; build it with ``num_classes=0``). Its weights are kept as they are, apart from
  the position embeddings; MAE re-initialises the encoder (xavier-uniform linears). The decoder
  is initialised as in MAE.
* :func:`random_masking` keeps ``round(L * (1 - mask_ratio))`` tokens; MAE's
  ``int(L * (1 - mask_ratio))`` can drop one to floating point error (``L=100, ratio=0.9``
  keeps 9, not 10). The two agree for the paper's settings (``L=196, ratio=0.75``: 49).
* :func:`patchify` and :func:`unpatchify` accept rectangular images and any channel count.

The position table, the reconstruction target and the masking are methods
(:meth:`~MaskedAutoencoder.position_table`, :meth:`~MaskedAutoencoder.patchify`,
:meth:`~MaskedAutoencoder.mask`), so that the video MAE (:class:`harlearn.video.videomae.VideoMAE`:
tubelets, tube masking) reuses everything else unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from harlearn.layers.posembed import sinusoidal_embedding_2d
from harlearn.layers.transformer import TransformerBlock
from harlearn.transformers.vit import VisionTransformer

__all__ = [
    "patchify",
    "unpatchify",
    "random_masking",
    "MaskedAutoencoder",
    "mae_loss_fn",
    "encoder_to_classifier",
]


def patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """Cut images into flattened patches, MAE's layout (pixels row-major, channels last).

    Args:
        imgs: Images ``[B, C, H, W]``; ``H`` and ``W`` divisible by ``p``.
        p: Patch side.

    Returns:
        Patches ``[B, L, p*p*C]`` with ``L = (H/p)(W/p)`` in row-major grid order.
    """
    B, C, H, W = imgs.shape
    if H % p or W % p:
        raise ValueError(f"Image size ({H}, {W}) is not divisible by the patch size {p}.")
    h, w = H // p, W // p
    x = imgs.reshape(B, C, h, p, w, p)  # [B, C, h, p, w, p]
    x = x.permute(0, 2, 4, 3, 5, 1)  # [B, h, w, p, p, C]
    return x.reshape(B, h * w, p * p * C)  # [B, L, p*p*C]


def unpatchify(x: torch.Tensor, p: int, h: int | None = None, w: int | None = None) -> torch.Tensor:
    """Inverse of :func:`patchify`.

    Args:
        x: Patches ``[B, L, p*p*C]``.
        p: Patch side.
        h: Grid rows ``H/p``; by default the grid is square (``h = w = sqrt(L)``).
        w: Grid columns ``W/p``; by default ``L / h``.

    Returns:
        Images ``[B, C, h*p, w*p]``.
    """
    B, L, D = x.shape
    C = D // (p * p)
    if h is None:
        h = int(round(L**0.5))
    if w is None:
        w = L // h
    if h * w != L or C * p * p != D:
        raise ValueError(f"Cannot unpatchify [B, {L}, {D}] into a {h} x {w} grid of {p} x {p} patches.")
    x = x.reshape(B, h, w, p, p, C)  # [B, h, w, p, p, C]
    x = x.permute(0, 5, 1, 3, 2, 4)  # [B, C, h, p, w, p]
    return x.reshape(B, C, h * p, w * p)  # [B, C, H, W]


def random_masking(
    x: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random subset of the tokens of every sample (MAE's per-sample shuffling).

    Each token gets uniform noise; sorting the noise shuffles the tokens, the first
    ``round(L * (1 - mask_ratio))`` are kept. ``ids_restore`` is the inverse permutation: after
    appending mask tokens to the kept ones, ``gather(..., ids_restore)`` puts every token back
    at its original position.

    Args:
        x: Tokens ``[B, L, D]``.
        mask_ratio: Fraction of tokens to remove, in ``[0, 1)``.
        generator: Random generator for the noise (for reproducible masks).

    Returns:
        ``(x_kept, mask, ids_restore)``: kept tokens ``[B, L_keep, D]`` (in shuffled order),
        ``mask`` ``[B, L]`` with 1 = removed and 0 = kept (in the original order), and
        ``ids_restore`` ``[B, L]``.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}.")
    B, L, D = x.shape
    len_keep = round(L * (1 - mask_ratio))
    noise_device = generator.device if generator is not None else x.device
    noise = torch.rand(B, L, generator=generator, device=noise_device).to(x.device)  # [B, L]
    ids_shuffle = torch.argsort(noise, dim=1)  # [B, L]: ascending noise, small = keep
    ids_restore = torch.argsort(ids_shuffle, dim=1)  # [B, L]: inverse permutation
    ids_keep = ids_shuffle[:, :len_keep]  # [B, L_keep]
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))  # [B, L_keep, D]
    mask = torch.ones(B, L, device=x.device)  # [B, L] in shuffled order: 0 kept, 1 removed
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)  # [B, L] in the original order
    return x_kept, mask, ids_restore


class MaskedAutoencoder(nn.Module):
    """MAE: a ViT encoder on the visible patches and a light transformer decoder for the pixels.

    Args:
        encoder: The ViT to pre-train (its ``patch_embed``, ``cls_token``, ``blocks`` and final
            ``norm`` are used; it must have ``global_pool="token"`` so that it has that norm).
            Its ``pos_embed`` is replaced by the fixed 2D sine-cosine table and frozen.
        decoder_dim: Decoder token width.
        decoder_depth: Number of decoder blocks.
        decoder_num_heads: Attention heads per decoder block.
        norm_pix_loss: Regress per-patch normalised pixels (mean 0, variance 1 per patch), the
            paper's better default for representation quality.
        mask_ratio: Default fraction of patches removed (0.75 in the paper).
    """

    def __init__(
        self,
        encoder: VisionTransformer,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_num_heads: int = 16,
        norm_pix_loss: bool = False,
        mask_ratio: float = 0.75,
    ) -> None:
        super().__init__()
        if encoder.global_pool != "token":
            raise ValueError(
                "MaskedAutoencoder pre-trains the encoder with its final per-token norm, which a "
                "global_pool='avg' ViT does not have; build the encoder with global_pool='token' "
                "and choose the pooling in encoder_to_classifier."
            )
        self.encoder = encoder
        self.patch_size = encoder.patch_size
        self.grid_size = encoder.patch_embed.grid_size  # (H/p, W/p)
        self.norm_pix_loss = norm_pix_loss
        self.mask_ratio = mask_ratio
        with torch.no_grad():  # fixed sin-cos table, class token position = zeros (MAE)
            table = self.position_table(encoder.embed_dim)  # [L, C]
            encoder.pos_embed.copy_(torch.cat([torch.zeros(1, encoder.embed_dim), table])[None])
        encoder.pos_embed.requires_grad_(False)

        # --- decoder --------------------------------------------------------------------------
        self.decoder_embed = nn.Linear(encoder.embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        dec_table = self.position_table(decoder_dim)  # [L, D]
        dec_table = torch.cat([torch.zeros(1, decoder_dim), dec_table])[None]  # [1, L+1, D]
        self.register_buffer("decoder_pos_embed", dec_table, persistent=False)
        self.decoder_blocks = nn.ModuleList(
            [TransformerBlock(decoder_dim, decoder_num_heads, encoder.mlp_ratio) for _ in range(decoder_depth)]
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch_dim)
        self._init_decoder()

    # ---- what a subclass for another input changes (harlearn.video.videomae.VideoMAE) ---------
    def position_table(self, dim: int) -> torch.Tensor:
        """The fixed position table ``[L, dim]`` of the patch tokens: 2D sine-cosine on the grid."""
        gh, gw = self.grid_size
        return sinusoidal_embedding_2d(gh, gw, dim)

    @property
    def patch_dim(self) -> int:
        """Values per patch the decoder predicts: ``p * p * C_in``."""
        return self.patch_size**2 * self.encoder.in_chans

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """The reconstruction target: :func:`patchify` ``[B, L, p*p*C_in]``."""
        return patchify(imgs, self.patch_size)

    def mask(
        self, x: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Which tokens the encoder sees: :func:`random_masking` (``(x_kept, mask, ids_restore)``)."""
        return random_masking(x, mask_ratio, generator)

    def _init_decoder(self) -> None:
        # MAE's initialisation: normal(0.02) mask token, xavier-uniform linear weights, zero biases.
        nn.init.normal_(self.mask_token, std=0.02)
        decoder = [self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred]
        for m in nn.ModuleList(decoder).modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_encoder(
        self, imgs: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode the kept patches.

        Args:
            imgs: Images ``[B, C_in, H, W]``.
            mask_ratio: Fraction of patches removed.
            generator: Random generator of the mask.

        Returns:
            ``(latent, mask, ids_restore)``: encoded tokens ``[B, 1 + L_keep, C]`` (class token
            first), ``mask`` ``[B, L]`` (1 = removed) and ``ids_restore`` ``[B, L]``.
        """
        enc = self.encoder
        x = enc.patch_embed(imgs)  # [B, L, C]
        x = x + enc.pos_embed[:, 1:, :]  # [B, L, C]: positions before shuffling
        x, mask, ids_restore = self.mask(x, mask_ratio, generator)  # [B, L_keep, C]
        cls = (enc.cls_token + enc.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)  # [B, 1, C]
        x = torch.cat([cls, x], dim=1)  # [B, 1+L_keep, C]
        for block in enc.blocks:
            x = block(x)  # [B, 1+L_keep, C]
        return enc.norm(x), mask, ids_restore

    def forward_decoder(self, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Predict the pixels of every patch.

        Args:
            x: Encoded tokens ``[B, 1 + L_keep, C]`` from :meth:`forward_encoder`.
            ids_restore: ``[B, L]`` from the masking.

        Returns:
            Predicted patches ``[B, L, p*p*C_in]`` (the class token is dropped).
        """
        x = self.decoder_embed(x)  # [B, 1+L_keep, D]
        B, L = ids_restore.shape
        D = x.shape[-1]
        mask_tokens = self.mask_token.expand(B, L + 1 - x.shape[1], -1)  # [B, L-L_keep, D]
        patches = torch.cat([x[:, 1:, :], mask_tokens], dim=1)  # [B, L, D] in shuffled order
        patches = torch.gather(patches, 1, ids_restore.unsqueeze(-1).expand(-1, -1, D))  # [B, L, D] unshuffled
        x = torch.cat([x[:, :1, :], patches], dim=1)  # [B, 1+L, D]: class token back in front
        x = x + self.decoder_pos_embed  # [B, 1+L, D]
        for block in self.decoder_blocks:
            x = block(x)  # [B, 1+L, D]
        x = self.decoder_pred(self.decoder_norm(x))  # [B, 1+L, p*p*C_in]
        return x[:, 1:, :]  # [B, L, p*p*C_in]

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the removed patches only.

        Args:
            imgs: Images ``[B, C_in, H, W]``.
            pred: Predicted patches ``[B, L, p*p*C_in]``.
            mask: ``[B, L]``, 1 = removed (counted), 0 = kept (ignored).

        Returns:
            Scalar loss.
        """
        target = self.patchify(imgs)  # [B, L, p*p*C_in]
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)  # [B, L, 1]
            var = target.var(dim=-1, keepdim=True)  # [B, L, 1]
            target = (target - mean) / (var + 1e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)  # [B, L]: mean error per patch
        return (loss * mask).sum() / mask.sum()  # mean over removed patches

    def forward(
        self, imgs: torch.Tensor, mask_ratio: float | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask, encode, decode, score.

        Args:
            imgs: Images ``[B, C_in, H, W]``.
            mask_ratio: Fraction of patches removed (default: the model's ``mask_ratio``).
            generator: Random generator of the mask.

        Returns:
            ``(loss, pred, mask)``: scalar loss, predicted patches ``[B, L, p*p*C_in]``
            (:func:`unpatchify` turns them into images) and ``mask`` ``[B, L]`` (1 = removed).
        """
        mask_ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, generator)
        pred = self.forward_decoder(latent, ids_restore)  # [B, L, p*p*C_in]
        loss = self.forward_loss(imgs, pred, mask)
        return loss, pred, mask


def mae_loss_fn(
    mask_ratio: float | None = None,
) -> Callable[[MaskedAutoencoder, dict[str, Any]], tuple[torch.Tensor, None]]:
    """The MAE's pre-training loss as ``harlearn.train.fit`` takes it: ``fit(mae, data, loss_fn=...)``.

    The returned function runs ``mae(batch["image"], mask_ratio)`` (a fresh random mask per
    image at every step, from the global generator, which ``fit`` seeds per epoch) and returns
    ``(loss, None)``: no logits, so ``fit`` records no accuracy (``train_acc`` is NaN) and, with
    validation data, only ``val_loss``. Labels are never read.

    Args:
        mask_ratio: Fraction of patches removed; ``None`` uses the model's ``mask_ratio``.

    Returns:
        ``loss_fn(mae, batch) -> (loss, None)``.
    """

    def loss_fn(mae: MaskedAutoencoder, batch: dict[str, Any]) -> tuple[torch.Tensor, None]:
        loss, _, _ = mae(batch["image"], mask_ratio=mask_ratio)
        return loss, None

    return loss_fn


def encoder_to_classifier(
    mae: MaskedAutoencoder, num_classes: int, global_pool: str = "avg", drop_path_rate: float = 0.0
) -> VisionTransformer:
    """A new ViT classifier initialised with the MAE-pre-trained encoder (MAE's fine-tuning set-up).

    The classifier has the encoder's architecture and every encoder weight, including the
    sine-cosine ``pos_embed`` (learnable again). New are the ``head`` (truncated normal with
    std 2e-5, as MAE) and, for ``global_pool="avg"`` (MAE's default for fine-tuning), the
    ``fc_norm`` after pooling, while the encoder's final ``norm`` is dropped, as in MAE.

    Args:
        mae: The pre-trained masked autoencoder.
        num_classes: Number of classes of the new head.
        global_pool: ``"avg"`` (MAE's fine-tuning default) or ``"token"``.
        drop_path_rate: Stochastic depth of the classifier (MAE fine-tunes with 0.1).

    Returns:
        The classifier (of the encoder's class: a ``VisionTransformer``, or what the encoder's
        ``rebuild`` gives), on the encoder's device.
    """
    enc = mae.encoder
    if hasattr(enc, "rebuild"):  # an encoder that rebuilds itself, e.g. harlearn.video.ViViT (VideoMAE)
        clf = enc.rebuild(num_classes=num_classes, global_pool=global_pool, drop_path_rate=drop_path_rate)
    else:
        clf = VisionTransformer(
            img_size=enc.img_size, patch_size=enc.patch_size, in_chans=enc.in_chans,
            num_classes=num_classes, embed_dim=enc.embed_dim, depth=enc.depth, num_heads=enc.num_heads,
            mlp_ratio=enc.mlp_ratio, qkv_bias=enc.qkv_bias, global_pool=global_pool,
            drop_path_rate=drop_path_rate,
        )
    state = {k: v for k, v in enc.state_dict().items() if not k.startswith("head.")}
    if global_pool == "avg":
        state = {k: v for k, v in state.items() if not k.startswith("norm.")}
    missing, unexpected = clf.load_state_dict(state, strict=False)
    new = {k for k in missing if not k.startswith(("head.", "fc_norm."))}
    if new or unexpected:  # cannot happen for a VisionTransformer encoder; guards later changes
        raise RuntimeError(f"Encoder and classifier do not match: missing {new}, unexpected {unexpected}.")
    if num_classes > 0:
        nn.init.trunc_normal_(clf.head.weight, std=2e-5)
        nn.init.zeros_(clf.head.bias)
    return clf.to(enc.pos_embed.device)
