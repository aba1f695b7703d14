"""harlearn.layers.attention: multi-head self-attention and the non-local block."""

import math

import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Attention as TimmAttention

from harlearn.layers import MultiHeadSelfAttention, NonLocalBlock, attention_reference
from harlearn.layers.attention import NonLocalBlock as NonLocalFromAttention

# --- MultiHeadSelfAttention ---------------------------------------------------------------------


@pytest.mark.parametrize("dim,heads,qkv_bias", [(64, 8, True), (48, 3, False), (16, 1, True)])
def test_reference_and_fused_paths_agree(dim, heads, qkv_bias):
    torch.manual_seed(0)
    mhsa = MultiHeadSelfAttention(dim, num_heads=heads, qkv_bias=qkv_bias, attn_drop=0.3, proj_drop=0.3).eval()
    x = torch.randn(3, 17, dim)
    mhsa.fused = True
    fused = mhsa(x)
    mhsa.fused = False
    reference = mhsa(x)
    torch.testing.assert_close(fused, reference, atol=1e-5, rtol=0)
    out, attn = mhsa(x, return_attention=True)
    torch.testing.assert_close(out, reference)
    assert attn.shape == (3, heads, 17, 17)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, heads, 17))


def test_three_tokens_one_head_by_hand():
    # q = k = v = x (identity projections), d = 2, so scores = x_i . x_j / sqrt(2)
    mhsa = MultiHeadSelfAttention(2, num_heads=1)
    with torch.no_grad():
        mhsa.qkv.weight.copy_(torch.cat([torch.eye(2)] * 3))  # [3C, C]: q, k, v = x
        mhsa.qkv.bias.zero_()
        mhsa.proj.weight.copy_(torch.eye(2))
        mhsa.proj.bias.zero_()
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # [B=1, N=3, C=2]
    # dot products: row 0 = (1, 0, 1), row 1 = (0, 1, 1), row 2 = (1, 1, 2); scaled by 1/sqrt(2)
    s = 1 / math.sqrt(2)
    e1, e2 = math.exp(s), math.exp(2 * s)
    a, b = e1 / (2 * e1 + 1), 1 / (2 * e1 + 1)  # weights of rows 0 and 1: (a, b, a) and (b, a, a)
    c, d = e1 / (2 * e1 + e2), e2 / (2 * e1 + e2)  # row 2: (c, c, d)
    expected_attn = torch.tensor([[a, b, a], [b, a, a], [c, c, d]])
    # out_i = sum_j attn_ij v_j with v = (1,0), (0,1), (1,1)
    expected_out = torch.tensor([[2 * a, a + b], [a + b, 2 * a], [c + d, c + d]])
    out, attn = mhsa(x, return_attention=True)
    torch.testing.assert_close(attn[0, 0], expected_attn)
    torch.testing.assert_close(out[0], expected_out)
    torch.testing.assert_close(mhsa(x)[0], expected_out)  # the fused path too
    # the same numbers, worked out on paper: a = 0.40111, b = 0.19778, c = 0.24826, d = 0.50349
    torch.testing.assert_close(attn[0, 0, 0, 1], torch.tensor(0.19778), atol=1e-5, rtol=0)
    torch.testing.assert_close(attn[0, 0, 2, 2], torch.tensor(0.50349), atol=1e-5, rtol=0)


@pytest.mark.parametrize("fused", [True, False])
def test_equals_timm_vit_attention(fused):
    torch.manual_seed(0)
    ours = MultiHeadSelfAttention(64, num_heads=4, qkv_bias=True).eval()
    theirs = TimmAttention(64, num_heads=4, qkv_bias=True).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)  # qkv.weight, qkv.bias, proj.weight, proj.bias
    ours.fused = fused
    theirs.fused_attn = fused
    x = torch.randn(2, 10, 64)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_attention_dropout_only_in_training():
    torch.manual_seed(0)
    mhsa = MultiHeadSelfAttention(32, num_heads=4, attn_drop=0.5, fused=False)
    x = torch.randn(2, 6, 32)
    mhsa.train()
    assert not torch.allclose(mhsa(x), mhsa(x))
    mhsa.eval()
    torch.testing.assert_close(mhsa(x), mhsa(x))


def test_heads_must_divide_dim():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadSelfAttention(10, num_heads=3)


# --- NonLocalBlock ------------------------------------------------------------------------------


def test_nonlocal_is_exported_from_attention_module():
    assert NonLocalFromAttention is NonLocalBlock


@pytest.mark.parametrize("training", [True, False])
def test_nonlocal_is_identity_at_init(training):
    torch.manual_seed(0)
    block = NonLocalBlock(16).train(training)
    x = torch.randn(2, 16, 5, 7)
    assert torch.equal(block(x), x)


def _nonlocal_by_the_paper(block: NonLocalBlock, x: torch.Tensor, sub_sample: bool, scale: float) -> torch.Tensor:
    """z_i = W_z y_i + x_i, y_i = sum_j exp(theta_i . phi_j) g_j / sum_j exp(theta_i . phi_j) (eval BN)."""

    def conv1x1(conv, t):  # [B, C_in, H, W] -> [B, C_out, H, W]
        return torch.einsum("oc,bchw->bohw", conv.weight[:, :, 0, 0], t) + conv.bias[None, :, None, None]

    theta = conv1x1(block.theta, x)
    phi, g = conv1x1(block.phi, x), conv1x1(block.g, x)
    if sub_sample:
        phi, g = F.max_pool2d(phi, 2), F.max_pool2d(g, 2)
    theta, phi, g = theta.flatten(2), phi.flatten(2), g.flatten(2)  # [B, C_i, N] / [B, C_i, M]
    f = torch.exp(scale * torch.einsum("bci,bcj->bij", theta, phi))  # [B, N, M]
    y = torch.einsum("bij,bcj->bci", f / f.sum(dim=2, keepdim=True), g)  # [B, C_i, N]
    y = y.reshape(x.shape[0], -1, *x.shape[2:])  # [B, C_i, H, W]
    conv, bn = block.W[0], block.W[1]
    wy = (conv1x1(conv, y) - bn.running_mean[None, :, None, None]) / torch.sqrt(
        bn.running_var[None, :, None, None] + bn.eps
    ) * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
    return wy + x


@pytest.mark.parametrize("sub_sample,scaled", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("fused", [True, False])
def test_nonlocal_matches_the_paper(sub_sample, scaled, fused):
    torch.manual_seed(0)
    block = NonLocalBlock(8, inter_channels=4, sub_sample=sub_sample, scaled=scaled, fused=fused).eval()
    with torch.no_grad():  # leave the identity init so W_z y contributes
        block.W[1].weight.uniform_(0.5, 1.5)
        block.W[1].bias.uniform_(-0.5, 0.5)
        block.W[1].running_mean.uniform_(-0.5, 0.5)
        block.W[1].running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 8, 6, 4)
    expected = _nonlocal_by_the_paper(block, x, sub_sample, 0.5 if scaled else 1.0)
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_nonlocal_returns_its_attention_map():
    torch.manual_seed(0)
    block = NonLocalBlock(8, sub_sample=True)
    x = torch.randn(2, 8, 6, 4)
    z, attn = block(x, return_attention=True)
    assert z.shape == x.shape and attn.shape == (2, 24, 6)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 24))
    assert block.inter_channels == 4


def test_attention_reference_softmax_rows():
    q, k, v = torch.randn(2, 5, 3), torch.randn(2, 7, 3), torch.randn(2, 7, 4)
    out, attn = attention_reference(q, k, v, scale=1.0)
    assert out.shape == (2, 5, 4) and attn.shape == (2, 5, 7)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=1.0), atol=1e-5, rtol=0)
