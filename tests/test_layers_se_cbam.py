"""harlearn.layers.se and harlearn.layers.cbam: the definitions, and equality with timm."""

import pytest
import torch
import torch.nn.functional as F
from timm.layers import SEModule
from timm.layers.cbam import CbamModule
from timm.layers.cbam import ChannelAttn

from harlearn.layers import CBAM, ChannelGate, SpatialGate, SqueezeExcite


def _randomize_bn(bn: torch.nn.BatchNorm2d) -> None:
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)


# --- SqueezeExcite ------------------------------------------------------------------------------


def test_se_matches_the_equations():
    torch.manual_seed(0)
    se = SqueezeExcite(32, reduction=8)
    x = torch.randn(2, 32, 5, 6)
    z = x.mean(dim=(2, 3))  # squeeze: [B, C]
    w1, b1 = se.fc1.weight[:, :, 0, 0], se.fc1.bias  # [C/r, C]
    w2, b2 = se.fc2.weight[:, :, 0, 0], se.fc2.bias  # [C, C/r]
    s = torch.sigmoid(F.relu(z @ w1.T + b1) @ w2.T + b2)  # excite: [B, C]
    torch.testing.assert_close(se(x), x * s[:, :, None, None])
    torch.testing.assert_close(se.excitation(x), s[:, :, None, None])
    assert se.hidden_channels == 4


@pytest.mark.parametrize("channels", [64, 256])
def test_se_equals_timm_semodule(channels):
    torch.manual_seed(0)
    ours = SqueezeExcite(channels)
    theirs = SEModule(channels, rd_channels=channels // 16)
    theirs.load_state_dict(ours.state_dict(), strict=True)  # same names and shapes: fc1, fc2
    x = torch.randn(2, channels, 7, 7)
    torch.testing.assert_close(ours(x), theirs(x))


def test_se_hidden_width_differs_from_timm_default_for_narrow_layers():
    # documented difference: timm rounds C/16 to a multiple of 8 (at least 8)
    assert SqueezeExcite(64).hidden_channels == 4 and SEModule(64).fc1.out_channels == 8
    assert SqueezeExcite(256).hidden_channels == SEModule(256).fc1.out_channels == 16
    assert SqueezeExcite(8).hidden_channels == 1


# --- CBAM ---------------------------------------------------------------------------------------


def test_channel_gate_equals_timm_with_biases():
    torch.manual_seed(0)
    ours = ChannelGate(64, reduction=16)
    theirs = ChannelAttn(64, rd_channels=4, mlp_bias=True)  # timm's default has no MLP biases
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 64, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x))


def test_channel_gate_uses_avg_and_max_through_one_mlp():
    torch.manual_seed(0)
    gate = ChannelGate(16, reduction=4)
    x = torch.randn(3, 16, 4, 5)

    def mlp(v):  # [B, C] -> [B, C]
        h = F.relu(v @ gate.fc1.weight[:, :, 0, 0].T + gate.fc1.bias)
        return h @ gate.fc2.weight[:, :, 0, 0].T + gate.fc2.bias

    a = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))  # [B, C]
    torch.testing.assert_close(gate(x), x * a[:, :, None, None])


def test_spatial_gate_pools_max_then_mean():
    gate = SpatialGate(kernel_size=3).eval()
    with torch.no_grad():  # a kernel that reads only the centre of input channel c, BN = identity
        gate.bn.weight.fill_(1.0)
        gate.bn.running_var.fill_(1.0 - gate.bn.eps)
    x = torch.randn(2, 8, 5, 5)
    for c, pooled in [(0, x.amax(dim=1, keepdim=True)), (1, x.mean(dim=1, keepdim=True))]:
        with torch.no_grad():
            gate.conv.weight.zero_()
            gate.conv.weight[0, c, 1, 1] = 1.0
        torch.testing.assert_close(gate.attention(x), torch.sigmoid(pooled))


def test_spatial_gate_starts_at_one_half():
    cbam = CBAM(32)
    x = torch.randn(2, 32, 6, 6)
    for mode in (True, False):
        cbam.train(mode)
        torch.testing.assert_close(cbam.spatial.attention(x), torch.full((2, 1, 6, 6), 0.5))


def _timm_cbam_state_dict(ours: CBAM) -> dict:
    """Our CBAM's weights under timm's names, the [max, mean] kernel turned into [mean, max]."""
    sd = {}
    for key, value in ours.state_dict().items():
        if key == "spatial.conv.weight":
            sd["spatial.conv.conv.weight"] = value[:, [1, 0]]  # swap the two pooled input channels
        elif key.startswith("spatial.bn."):
            sd["spatial.conv.bn." + key[len("spatial.bn.") :]] = value
        else:
            sd[key] = value  # channel.fc1.*, channel.fc2.*
    return sd


@pytest.mark.parametrize("training", [True, False])
def test_cbam_equals_timm_cbammodule_after_mapping(training):
    torch.manual_seed(0)
    ours = CBAM(64, reduction=16, kernel_size=7)
    _randomize_bn(ours.spatial.bn)  # away from the zero init, so the spatial gate matters
    theirs = CbamModule(64, rd_channels=4, spatial_kernel_size=7, mlp_bias=True)
    theirs.load_state_dict(_timm_cbam_state_dict(ours), strict=True)
    ours.train(training)
    theirs.train(training)
    x = torch.randn(4, 64, 8, 8)
    torch.testing.assert_close(ours(x), theirs(x))


def test_cbam_hidden_width_and_defaults_differ_from_timm():
    # documented differences: timm rounds C/16 to the nearest integer and has no MLP biases
    assert CBAM(24).channel.fc1.out_channels == 1
    assert CbamModule(24).channel.fc1.out_channels == 2
    assert CbamModule(64).channel.fc1.bias is None and CBAM(64).channel.fc1.bias is not None


def test_cbam_is_channel_then_spatial():
    torch.manual_seed(0)
    cbam = CBAM(32, reduction=8, kernel_size=5).eval()
    _randomize_bn(cbam.spatial.bn)
    x = torch.randn(2, 32, 6, 6)
    refined = x * cbam.channel.attention(x)
    expected = refined * cbam.spatial.attention(refined)
    torch.testing.assert_close(cbam(x), expected)
    assert cbam(x).shape == x.shape


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="odd"):
        CBAM(32, kernel_size=4)
    with pytest.raises(ValueError, match="positive"):
        SqueezeExcite(0)
