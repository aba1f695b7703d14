"""CLIP's ViT image tower, with open_clip's parameter names.

Paper: Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
arXiv:2103.00020, section 2.4 (the ViT image encoder, with "an additional layer normalization
to the combined patch and position embeddings before the transformer"); the ViT itself is
Dosovitskiy et al., arXiv:2010.11929. Production reference: ``open_clip.transformer.VisionTransformer``;
its state dict loads here by name (``conv1``, ``class_embedding``, ``positional_embedding``,
``ln_pre``, ``transformer.resblocks.*``, ``ln_post``, ``proj``).

How it differs from the course's classifier ViT (:class:`harlearn.transformers.vit.VisionTransformer`,
timm's names): the patch convolution has no bias, a LayerNorm (``ln_pre``) comes before the
blocks, and the head is a bias-free projection matrix ``proj`` ``[C, D]`` into the joint
image-text space instead of a classifier. The heads are ``width // head_width`` (open_clip's
configuration names the head width, not the head count).

Departures from open_clip: only the original CLIP design (learnable position embeddings,
class-token or average pooling, LayerNorm before pooling); patch dropout, attentional pooling,
sin-cos position embeddings, ``final_ln_after_pool`` and ``output_tokens`` are left out.
"""

from __future__ import annotations

import torch
from torch import nn

from .transformer import Transformer

__all__ = ["VisionTower"]


def _pair(x: int | tuple[int, int]) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


class VisionTower(nn.Module):
    """The ViT image encoder of CLIP: image ``[B, 3, H, W]`` -> embedding ``[B, D]``.

    Args:
        image_size: Input side ``H = W`` (or ``(H, W)``), a multiple of ``patch_size``.
        patch_size: Patch side ``p``.
        width: Token width ``C``.
        layers: Number of transformer blocks.
        head_width: Width ``d`` of one attention head; ``h = C / d`` heads.
        output_dim: Width ``D`` of the joint embedding space (CLIP's ``embed_dim``).
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        ls_init_value: Layer scale (None: none, as CLIP).
        pool_type: ``"tok"`` reads the class token (CLIP), ``"avg"`` averages the patch tokens.
        act_layer: The MLP's activation (``QuickGELU`` for OpenAI's weights).
    """

    def __init__(
        self,
        image_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        width: int = 768,
        layers: int = 12,
        head_width: int = 64,
        output_dim: int = 512,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
        pool_type: str = "tok",
        act_layer: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        if pool_type not in ("tok", "avg"):
            raise ValueError(f"pool_type must be 'tok' or 'avg', got {pool_type!r}.")
        self.image_size = _pair(image_size)
        self.patch_size = _pair(patch_size)
        if self.image_size[0] % self.patch_size[0] or self.image_size[1] % self.patch_size[1]:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}: "
                "choose an image size the patches tile exactly."
            )
        if width % head_width:
            raise ValueError(f"width ({width}) must be a multiple of head_width ({head_width}).")
        self.grid_size = (self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1])
        self.output_dim, self.pool_type = output_dim, pool_type
        scale = width**-0.5

        self.conv1 = nn.Conv2d(3, width, kernel_size=self.patch_size, stride=self.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))  # [C]
        num_tokens = self.grid_size[0] * self.grid_size[1] + 1  # patches + the class token
        self.positional_embedding = nn.Parameter(scale * torch.randn(num_tokens, width))  # [N+1, C]
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, width // head_width, mlp_ratio, ls_init_value, act_layer)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))  # [C, D]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens, class token, position embeddings and ``ln_pre``.

        Args:
            x: Images ``[B, 3, H, W]``.

        Returns:
            Tokens ``[B, N+1, C]``, the class token first.
        """
        x = self.conv1(x)  # [B, C, H/p, W/p]
        x = x.flatten(2).transpose(1, 2)  # [B, C, N] -> [B, N, C]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # [B, 1, C]
        x = torch.cat([cls, x], dim=1)  # [B, N+1, C]
        x = x + self.positional_embedding.to(x.dtype)  # [B, N+1, C]
        return self.ln_pre(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded, normalised tokens ``[B, N+1, C]`` of images ``[B, 3, H, W]``."""
        return self.ln_post(self.transformer(self.embed(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image embeddings ``[B, D]`` (not L2-normalised) of images ``[B, 3, H, W]``."""
        x = self.forward_features(x)  # [B, N+1, C]
        pooled = x[:, 0] if self.pool_type == "tok" else x[:, 1:].mean(dim=1)  # [B, C]
        return pooled @ self.proj  # [B, C] @ [C, D] -> [B, D]
