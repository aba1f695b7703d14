"""harlearn.layers.transformer: TransformerBlock masks (key padding, attention mask), the ViT init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harlearn.layers.attention import MultiHeadSelfAttention, combine_masks
from harlearn.layers.transformer import TransformerBlock, init_vit_weights


def _block(dim: int = 16, heads: int = 4) -> TransformerBlock:
    torch.manual_seed(0)
    return TransformerBlock(dim, heads).eval()


@pytest.mark.parametrize("return_attention", [False, True])  # fused path, then the reference path
def test_key_padding_mask_equals_running_on_the_unpadded_tokens(return_attention):
    block = _block()
    torch.manual_seed(1)
    x = torch.randn(2, 6, 16)
    x[0, 4:] = 1e3 * torch.randn(2, 16)  # garbage padding in sample 0
    real = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])  # True = a real token
    out = block(x, return_attention, key_padding_mask=real)
    out, attn = out if return_attention else (out, None)
    torch.testing.assert_close(out[0, :4], block(x[:1, :4])[0])  # sample 0 without its padding
    torch.testing.assert_close(out[1], block(x[1:])[0])  # sample 1 has no padding
    if attn is not None:
        assert attn[0, :, :, 4:].abs().max() == 0  # nobody attends to padding
        torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 6))


def test_attn_mask_is_causal_and_both_paths_agree():
    block = _block()
    torch.manual_seed(2)
    x = torch.randn(2, 5, 16)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()  # query i sees keys 0..i
    fused = block(x, attn_mask=causal)
    reference, attn = block(x, return_attention=True, attn_mask=causal)
    torch.testing.assert_close(fused, reference)
    assert attn.triu(diagonal=1).abs().max() == 0
    changed = x.clone()
    changed[:, 3:] += 5.0  # later tokens change; earlier outputs must not
    torch.testing.assert_close(block(changed, attn_mask=causal)[:, :3], fused[:, :3])
    # a mask of all True is the same as no mask; masks combine (causal and padding)
    torch.testing.assert_close(block(x, attn_mask=torch.ones(5, 5, dtype=torch.bool)), block(x))
    real = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    both = block(x, attn_mask=causal, key_padding_mask=real)
    torch.testing.assert_close(both[0, :3], block(x[:1, :3], attn_mask=causal[:3, :3])[0])


def test_a_query_with_no_key_stays_finite_and_masks_are_checked():
    block = _block()
    x = torch.randn(1, 3, 16)
    out = block(x, key_padding_mask=torch.zeros(1, 3, dtype=torch.bool))  # nothing is real
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, block(x))  # falls back to attending to every key
    with pytest.raises(TypeError, match="boolean"):
        block(x, attn_mask=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="key_padding_mask"):
        block(x, key_padding_mask=torch.ones(1, 4, dtype=torch.bool))
    assert combine_masks(None, None, 1, 3) is None
    attention = MultiHeadSelfAttention(16, 4)
    assert attention(x, attn_mask=torch.ones(3, 3, dtype=torch.bool)).shape == (1, 3, 16)


def test_init_vit_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.LayerNorm(256), nn.Embedding(10, 256), nn.Conv2d(3, 4, 3))
    with torch.no_grad():
        model[1].weight.fill_(3.0)
        model[1].bias.fill_(3.0)
        model[0].bias.fill_(3.0)
    conv = model[3].weight.clone()
    init_vit_weights(model)
    assert model[0].bias.abs().max() == 0
    assert (model[1].weight == 1).all() and (model[1].bias == 0).all()
    for weight in (model[0].weight, model[2].weight):
        assert abs(float(weight.detach().std()) - 0.02) < 0.002
    assert torch.equal(model[3].weight, conv)  # convolutions keep their init
    # the same seed gives the same weights
    torch.manual_seed(5)
    a = TransformerBlock(16, 4)
    init_vit_weights(a)
    torch.manual_seed(5)
    b = TransformerBlock(16, 4)
    init_vit_weights(b)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
