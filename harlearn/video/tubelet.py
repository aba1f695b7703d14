"""Tubelet embedding: a clip as a sequence of space-time patch tokens.

Paper: Arnab et al., *ViViT: A Video Vision Transformer*, ICCV 2021, arXiv:2103.15691 (Sec. 3.2,
"Embedding video clips"); Tong et al., *VideoMAE*, NeurIPS 2022, arXiv:2203.12602, uses the same
embedding with ``t = 2``.

ViT cuts an image into ``p x p`` patches; a video model cuts a clip ``[B, C, T, H, W]`` into
``t x p x p`` *tubelets* and projects each one to a token. A ``Conv3d`` with kernel = stride =
``(t, p, p)`` is exactly "flatten every tubelet and apply the same linear layer", in one call.
ViViT's two ways of tokenising a clip are the two ends of one knob:

* ``t = 1``: **uniform frame sampling**, every frame is embedded on its own by a 2D patch
  embedding (``N = T * (H/p) * (W/p)`` tokens);
* ``t > 1``: **tubelet embedding**, each token already fuses ``t`` frames
  (``N = (T/t) * (H/p) * (W/p)``: ``t`` times fewer tokens, so attention costs ``t^2`` less).

Tokens come out in time-major order: token ``n = i * (H/p * W/p) + j * (W/p) + k`` is tubelet
``(i, j, k)``, the order of ``Conv3d``'s output flattened, as in VideoMAE's code.

Where this departs from the papers: none in the computation; the input size is checked (the
papers crop clips to the model's size) and a 2D :class:`~harlearn.layers.transformer.PatchEmbed`
can be *inflated* into a tubelet embedding (:meth:`TubeletEmbed.inflate_from`, ViViT's
"central frame" and "filter inflation" initialisations, Sec. 3.4).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from harlearn.layers.transformer import _pair

__all__ = ["TubeletEmbed"]


class TubeletEmbed(nn.Module):
    """Cut a clip into non-overlapping ``t x p x p`` tubelets and project each one to a token.

    Args:
        img_size: Frame size, ``H = W`` as an int or ``(H, W)``.
        num_frames: Frames per clip ``T``; must be divisible by ``tubelet_size``.
        patch_size: Spatial patch side ``p`` (an int or ``(p_h, p_w)``); must divide the frame size.
        tubelet_size: Frames per token ``t``; ``1`` is uniform frame sampling.
        in_chans: Channels per frame.
        embed_dim: Token width ``C``.
        flatten: Return tokens ``[B, N, C]`` (ViViT, VideoMAE) or keep the grid
            ``[B, T/t, H/p, W/p, C]``.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        num_frames: int = 16,
        patch_size: int | tuple[int, int] = 16,
        tubelet_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 768,
        flatten: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = _pair(img_size)
        self.patch_size = _pair(patch_size)
        self.tubelet_size = int(tubelet_size)
        self.num_frames = int(num_frames)
        if self.img_size[0] % self.patch_size[0] or self.img_size[1] % self.patch_size[1]:
            raise ValueError(
                f"Frame size {self.img_size} is not divisible by patch size {self.patch_size}; "
                "choose a frame size that is a multiple of the patch size."
            )
        if self.tubelet_size < 1 or self.num_frames % self.tubelet_size:
            raise ValueError(
                f"num_frames={self.num_frames} is not divisible by tubelet_size={self.tubelet_size}; "
                "use a clip length that is a multiple of the tubelet size."
            )
        #: ``(T/t, H/p, W/p)``: the token grid.
        self.grid_size = (
            self.num_frames // self.tubelet_size,
            self.img_size[0] // self.patch_size[0],
            self.img_size[1] // self.patch_size[1],
        )
        self.patches_per_frame = self.grid_size[1] * self.grid_size[2]
        self.num_patches = self.grid_size[0] * self.patches_per_frame
        self.flatten = flatten
        kernel = (self.tubelet_size, *self.patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of clips.

        Args:
            x: Clips ``[B, C_in, T, H, W]`` with ``T == num_frames`` and ``(H, W) == img_size``.

        Returns:
            Tokens ``[B, N, C]`` with ``N = (T/t)(H/p)(W/p)`` in time-major order, or
            ``[B, T/t, H/p, W/p, C]`` when ``flatten=False``.
        """
        if x.ndim != 5:
            raise ValueError(f"TubeletEmbed expects clips [B, C, T, H, W], got shape {tuple(x.shape)}.")
        T, H, W = x.shape[-3:]
        if (T, H, W) != (self.num_frames, *self.img_size):
            raise ValueError(
                f"Clip size (T={T}, H={H}, W={W}) does not match the model's "
                f"(num_frames={self.num_frames}, img_size={self.img_size}); sample {self.num_frames} frames "
                "and resize them, or build the model for this size."
            )
        x = self.proj(x)  # [B, C, T/t, H/p, W/p]
        x = x.permute(0, 2, 3, 4, 1)  # [B, T/t, H/p, W/p, C]
        return x.flatten(1, 3) if self.flatten else x  # [B, N, C] or the grid

    @torch.no_grad()
    def inflate_from(self, weight: torch.Tensor, bias: torch.Tensor | None = None, how: str = "central_frame") -> None:
        """Initialise the 3D projection from a 2D patch embedding (ViViT, Sec. 3.4).

        Args:
            weight: A 2D ``PatchEmbed.proj.weight`` ``[C, C_in, p, p]``.
            bias: Its bias ``[C]`` (or None).
            how: ``"central_frame"``: the 2D filter on the middle frame of the tubelet, zeros on
                the others (at initialisation the model is a frame model on the middle frames,
                the paper's better choice); ``"filter_inflation"``: the 2D filter on every frame,
                divided by ``t`` (I3D's inflation: a static clip gives the 2D model's tokens).
        """
        t = self.tubelet_size
        w = weight.to(self.proj.weight)  # [C, C_in, p, p]
        if w.shape != self.proj.weight.shape[:2] + self.proj.weight.shape[3:]:
            raise ValueError(f"2D weight {tuple(w.shape)} does not fit the 3D projection {tuple(self.proj.weight.shape)}.")
        if how == "central_frame":
            w3 = torch.zeros_like(self.proj.weight)  # [C, C_in, t, p, p]
            w3[:, :, t // 2] = w
        elif how == "filter_inflation":
            w3 = w.unsqueeze(2).repeat(1, 1, t, 1, 1) / t  # [C, C_in, t, p, p]
        else:
            raise ValueError(f"how must be 'central_frame' or 'filter_inflation', got {how!r}.")
        self.proj.weight.copy_(w3)
        if bias is not None:
            self.proj.bias.copy_(bias)
