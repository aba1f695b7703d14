"""CLIP's text tower: a causal transformer over BPE tokens, read at the end-of-text token.

Paper: Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
arXiv:2103.00020, section 2.4: "a 63M-parameter 12-layer 512-wide model with 8 attention heads
[...] on a lower-cased byte pair encoding (BPE) representation of the text with a 49,152 vocab
size [...] The text sequence is bracketed with [SOS] and [EOS] tokens and the activations of the
highest layer of the transformer at the [EOS] token are treated as the feature representation
of the text which is layer normalized and then linearly projected into the multi-modal
embedding space. Masked self-attention was used in the text encoder". Production reference:
the text half of ``open_clip.model.CLIP`` (``token_embedding``, ``positional_embedding``,
``transformer.resblocks.*``, ``ln_final``, ``text_projection``; ``attn_mask`` is a
non-persistent buffer, in no state dict).

Tokens come from open_clip's tokenizer (:func:`harlearn.clip.tokenizer.get_tokenizer`): ids
``[B, L]`` padded with 0, where the end-of-text token has the largest id of the vocabulary, so
``text.argmax(-1)`` finds it (open_clip's ``pool_type="argmax"``).

Departures from open_clip: the causal mask is boolean (True = may attend) instead of additive
``-inf``; open_clip's other pooling modes, ``embed_cls``, padding masks and the projection
with a bias are left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .transformer import Transformer

__all__ = ["TextTower", "causal_mask"]


def causal_mask(n: int) -> torch.Tensor:
    """Boolean ``[n, n]``: token ``i`` may attend to tokens ``j <= i`` only (True = may attend)."""
    return torch.ones(n, n, dtype=torch.bool).tril()


class TextTower(nn.Module):
    """CLIP's text encoder: token ids ``[B, L]`` -> embedding ``[B, D]``.

    :class:`harlearn.clip.CLIP` *is* a text tower with an image tower added (it subclasses this
    class), because open_clip's ``CLIP`` keeps the text parameters at the top level of its state
    dict (``token_embedding.weight``, not ``text.token_embedding.weight``), as OpenAI's did.

    Args:
        embed_dim: Width ``D`` of the joint embedding space.
        context_length: Tokens per text ``L`` (77 in CLIP).
        vocab_size: BPE vocabulary size (49,408 for open_clip's tokenizer).
        width: Token width ``C``.
        heads: Attention heads.
        layers: Transformer blocks.
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        ls_init_value: Layer scale (None: none).
        act_layer: The MLP's activation (``QuickGELU`` for OpenAI's weights).
    """

    def __init__(
        self,
        embed_dim: int,
        context_length: int = 77,
        vocab_size: int = 49408,
        width: int = 512,
        heads: int = 8,
        layers: int = 12,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
        act_layer: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.context_length, self.vocab_size = context_length, vocab_size
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))  # [L, C]
        self.transformer = Transformer(width, layers, heads, mlp_ratio, ls_init_value, act_layer)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))  # [C, D]
        self.register_buffer("attn_mask", causal_mask(context_length), persistent=False)  # [L, L]
        # open_clip's TextTransformer.init_parameters
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        self.transformer.init_gpt2_()
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Embed tokenised texts.

        Args:
            text: Token ids ``[B, L]`` (``L <= context_length``), from the tokenizer.
            normalize: L2-normalise the embeddings.

        Returns:
            Text embeddings ``[B, D]``.
        """
        L = text.shape[1]
        x = self.token_embedding(text)  # [B, L, C]
        x = x + self.positional_embedding[:L].to(x.dtype)  # [B, L, C]
        x = self.transformer(x, attn_mask=self.attn_mask[:L, :L])  # [B, L, C], each token sees its past
        x = self.ln_final(x)  # [B, L, C]
        eot = text.argmax(dim=-1)  # [B]: the end-of-text token has the largest id
        x = x[torch.arange(x.shape[0], device=x.device), eot]  # [B, C]
        x = x @ self.text_projection  # [B, C] @ [C, D] -> [B, D]
        return F.normalize(x, dim=-1) if normalize else x

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        """Text embeddings ``[B, D]`` (not normalised) of token ids ``[B, L]``."""
        return self.encode_text(text)
