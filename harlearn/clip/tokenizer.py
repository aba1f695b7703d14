"""The text tokenizer: open_clip's own byte-pair encoding, used as it is.

Paper: Radford et al., arXiv:2103.00020, section 2.4: "a lower-cased byte pair encoding (BPE)
representation of the text with a 49,152 vocab size (Sennrich et al., 2015)", bracketed by
start- and end-of-text tokens (49,406 and 49,407, the two largest ids of the 49,408), padded with
0 to the context length; a text too long is cut and its last token replaced by end-of-text.

Nothing here re-implements it: :func:`get_tokenizer` returns ``open_clip.tokenizer.SimpleTokenizer``
(or, for a named open_clip model, ``open_clip.get_tokenizer(name)``). The BPE merges ship inside
the open_clip wheel (``bpe_simple_vocab_16e6.txt.gz``), so tokenising needs no network.
open_clip is imported on first use (it takes seconds), not when :mod:`harlearn.clip` is.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["get_tokenizer", "tokenize"]


def get_tokenizer(context_length: int = 77, model_name: str | None = None) -> Callable[..., torch.Tensor]:
    """open_clip's tokenizer: ``tokenizer(list_of_texts) -> LongTensor [n, context_length]``.

    Args:
        context_length: tokens per text, start and end included (CLIP: 77); must equal the text
            tower's ``context_length``.
        model_name: an open_clip model name (e.g. ``"ViT-B-32"``): its own tokenizer, with its
            own context length (``context_length`` is then ignored).

    Returns:
        The tokenizer object; calling it on a string or a list of strings returns the ids.
    """
    import open_clip

    if model_name is not None:
        return open_clip.get_tokenizer(model_name)
    return open_clip.tokenizer.SimpleTokenizer(context_length=context_length)


def tokenize(texts: str | list[str], context_length: int = 77) -> torch.Tensor:
    """Token ids ``[n, context_length]`` of ``texts`` (open_clip's ``tokenize``)."""
    import open_clip

    return open_clip.tokenize(texts, context_length=context_length)
