"""Grad-CAM (harlearn.viz.grad_cam) against a hand computation, and on a ConViT."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harlearn.models.convit import ConViT, ConViTWithPersonBranch
from harlearn.viz import grad_cam


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.relu = nn.ReLU(inplace=True)  # in place right after the target layer
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.relu(self.conv2(torch.relu(self.conv1(x))))  # [B, 8, H/2, W/2]
        return {"logits": self.fc(x.mean(dim=(2, 3)))}


def _manual_grad_cam(model, x, classes):
    A = model.conv2(torch.relu(model.conv1(x)))  # [B, 8, h, w]
    logits = model.fc(torch.relu(A).mean(dim=(2, 3)))
    grads = torch.autograd.grad(logits.gather(1, classes[:, None]).sum(), A)[0]
    cam = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * A).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return cam / cam.flatten(1).amax(1)[:, None, None]


def test_grad_cam_matches_a_hand_computation():
    torch.manual_seed(0)
    model = TinyCNN()
    x = torch.randn(3, 3, 12, 10)
    with torch.no_grad():
        top = model(x)["logits"].argmax(1)
    torch.testing.assert_close(grad_cam(model, x, model.conv2), _manual_grad_cam(model, x, top))
    classes = torch.tensor([1, 0, 3])
    heat = grad_cam(model, x, model.conv2, class_index=classes)
    torch.testing.assert_close(heat, _manual_grad_cam(model, x, classes))
    torch.testing.assert_close(
        grad_cam(model, x, model.conv2, class_index=2), _manual_grad_cam(model, x, torch.tensor([2, 2, 2]))
    )
    one = grad_cam(model, x[0], model.conv2, class_index=2)  # a single [3, H, W] image
    torch.testing.assert_close(one, _manual_grad_cam(model, x[:1], torch.tensor([2])))


def test_grad_cam_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = TinyCNN().train()
    for p in model.conv1.parameters():
        p.requires_grad_(False)  # a partly frozen model
    x = torch.randn(2, 3, 12, 10)
    with torch.no_grad():  # works inside no_grad, and leaves it on
        heat = grad_cam(model, x, model.conv2)
        assert not torch.is_grad_enabled()
    assert heat.shape == (2, 12, 10) and not heat.requires_grad
    assert model.training and all(p.grad is None for p in model.parameters())
    assert not model.conv1.weight.requires_grad and model.conv2.weight.requires_grad
    assert len(model.conv2._forward_hooks) == 0
    with pytest.raises(ValueError, match="did not run"):
        grad_cam(model, x, nn.Conv2d(3, 3, 1))


def test_grad_cam_on_a_convit_final_map():
    torch.manual_seed(0)
    model = ConViT(3, base_width=4, image_size=64, mlp_ratio=1.0)
    x = torch.randn(2, 3, 64, 64)
    heat = grad_cam(model, x, model.vit2)
    assert heat.shape == (2, 64, 64) and torch.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1
    assert all(h.max() == 1 or h.max() == 0 for h in heat)

    person = ConViTWithPersonBranch(3, base_width=4, image_size=64, mlp_ratio=1.0)
    boxes = torch.tensor([[0.0, 0, 30, 60], [20, 5, 60, 60]])
    heat = grad_cam(person, x, person.convit.vit2, forward=lambda m, im: m(im, boxes))
    assert heat.shape == (2, 64, 64) and torch.isfinite(heat).all()
