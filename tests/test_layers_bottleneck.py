"""harlearn.layers.bottleneck: SE / CBAM / non-local ResNets built from torchvision's ResNet-50."""

import pytest
import timm
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from harlearn.layers import CBAM, AttentionBottleneck, NonLocalBlock, SqueezeExcite, add_attention

X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def narrow_resnet50() -> ResNet:
    """ResNet-50's structure with a narrow inner width (fast), torchvision's code."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=10, width_per_group=16)


def _open_gates(model: nn.Module) -> None:
    """Make every SE / CBAM gate exactly 1 (sigmoid(100) == 1 in float32)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, SqueezeExcite):
                m.fc2.weight.zero_()
                m.fc2.bias.fill_(100.0)
            elif isinstance(m, CBAM):
                m.channel.fc2.weight.zero_()
                m.channel.fc2.bias.fill_(50.0)  # avg and max branches add up to 100
                m.spatial.bn.weight.zero_()
                m.spatial.bn.bias.fill_(100.0)


@pytest.fixture(scope="module")
def plain_resnet50():
    """torchvision's ResNet-50 (random weights, eval mode) and its logits on X."""
    torch.manual_seed(0)
    plain = torchvision.models.resnet50(weights=None).eval()
    with torch.no_grad():
        return plain, plain(X)


@pytest.mark.parametrize("kind,module", [("se", SqueezeExcite), ("cbam", CBAM)])
def test_resnet50_with_open_gates_equals_plain_and_loads_plain_weights(plain_resnet50, kind, module):
    plain, plain_logits = plain_resnet50
    model = add_attention(torchvision.models.resnet50(weights=None), kind).eval()

    blocks = [b for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for b in layer]
    assert len(blocks) == 16 and all(isinstance(b, AttentionBottleneck) for b in blocks)
    assert all(isinstance(b.attn, module) and b.attn.training is False for b in blocks)

    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    # (load_state_dict does not report a BatchNorm's num_batches_tracked as missing)
    attn_keys = {k for k in model.state_dict() if ".attn." in k and not k.endswith("num_batches_tracked")}
    assert attn_keys and set(result.missing_keys) == attn_keys

    with torch.no_grad():
        _open_gates(model)  # every gate exactly 1: the plain ResNet-50
        torch.testing.assert_close(model(X), plain_logits, atol=1e-5, rtol=1e-5)
        model.layer4[2].attn = nn.Identity()  # the block's forward with attn = identity is torchvision's
        model.layer4[1].attn.apply(_zero_biases)  # a gate that is not 1 changes the output
        assert not torch.allclose(model(X), plain_logits, atol=1e-3)
        model.layer4[1].attn = nn.Identity()
        torch.testing.assert_close(model(X), plain_logits, atol=1e-5, rtol=1e-5)


def _zero_biases(m: nn.Module) -> None:
    if isinstance(getattr(m, "bias", None), torch.Tensor):
        m.bias.zero_()


def test_se_resnet50_equals_timm_seresnet50():
    torch.manual_seed(0)
    theirs = timm.create_model("seresnet50", pretrained=False).eval()
    ours = add_attention(torchvision.models.resnet50(weights=None), "se").eval()
    state = {k.replace(".se.", ".attn."): v for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(X), theirs(X), atol=1e-4, rtol=1e-4)


def test_attention_parameters_get_gradients():
    model = add_attention(narrow_resnet50(), "cbam")
    model(X[:, :, :32, :32]).sum().backward()
    grads = [p.grad for n, p in model.named_parameters() if ".attn." in n]
    assert grads and all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("training", [True, False])
def test_nonlocal_default_is_one_block_before_the_last_of_layer3(training):
    torch.manual_seed(0)
    plain = narrow_resnet50().train(training)
    model = add_attention(narrow_resnet50(), "nonlocal").train(training)
    assert [name for name, _ in model.layer3.named_children()] == ["0", "1", "2", "3", "4", "nonlocal4", "5"]
    assert isinstance(model.layer3.nonlocal4, NonLocalBlock) and model.layer3.nonlocal4.channels == 1024

    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(k.startswith("layer3.nonlocal4.") for k in result.missing_keys)
    with torch.no_grad():  # zero-initialised BN in W: the block is the identity at init
        assert torch.equal(model(X), plain(X))


def test_nonlocal_every_other_block_in_res3_and_res4():
    model = add_attention(narrow_resnet50(), "nonlocal", nonlocal_after=(1, 3, 5))
    model = add_attention(model, "nonlocal", nonlocal_layer="layer2", nonlocal_after=(1, 3))
    assert [n for n, _ in model.layer3.named_children()] == [
        "0", "1", "nonlocal1", "2", "3", "nonlocal3", "4", "5", "nonlocal5",
    ]  # fmt: skip
    assert [n for n, _ in model.layer2.named_children()] == ["0", "1", "nonlocal1", "2", "3", "nonlocal3"]
    assert sum(isinstance(m, NonLocalBlock) for m in model.modules()) == 5


def test_se_and_nonlocal_combine():
    model = add_attention(add_attention(narrow_resnet50(), "se"), "nonlocal", nonlocal_after=(-1,))
    assert isinstance(model.layer3.nonlocal5, NonLocalBlock)
    assert isinstance(model.layer3[5], AttentionBottleneck)
    assert model(X).shape == (2, 10)


def test_errors_are_explained():
    model = add_attention(narrow_resnet50(), "se")
    with pytest.raises(ValueError, match="already has an attention module"):
        add_attention(model, "cbam")
    with pytest.raises(ValueError, match="kind must be"):
        add_attention(narrow_resnet50(), "eca")
    with pytest.raises(ValueError, match="out of range"):
        add_attention(narrow_resnet50(), "nonlocal", nonlocal_after=(6,))
    with pytest.raises(ValueError, match="no stage"):
        add_attention(narrow_resnet50(), "se", layers=("layer5",))
    with pytest.raises(TypeError, match="not a torchvision-style Bottleneck"):
        add_attention(torchvision.models.resnet18(), "se")


def test_works_on_harlearn_resnet50():
    cnn = pytest.importorskip("harlearn.models.cnn")
    torch.manual_seed(0)
    plain = cnn.resnet50(num_classes=5, pretrained=False, base_width=16).eval()
    model = cnn.resnet50(num_classes=5, pretrained=False, base_width=16)
    model = add_attention(model, "cbam").eval()
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == [] and all(".attn." in k for k in result.missing_keys)
    _open_gates(model)
    with torch.no_grad():
        torch.testing.assert_close(model(X), plain(X), atol=1e-5, rtol=1e-5)
