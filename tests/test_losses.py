"""harlearn.losses.init_prior_bias: a head starts at the training set's class rates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harlearn.losses import classification_loss, init_prior_bias


def test_multihot_targets_start_each_sigmoid_at_its_positive_rate():
    targets = torch.zeros(40, 3)
    targets[:4, 0] = 1  # 10 %
    targets[:20, 1] = 1  # 50 %
    targets[:, 2] = 0  # no positive: clipped to eps, not -inf
    head = nn.Linear(5, 3)
    weight = head.weight.detach().clone()
    assert init_prior_bias(head, targets.tolist()) is head
    rates = torch.sigmoid(head.bias.detach())
    torch.testing.assert_close(rates[:2], torch.tensor([0.1, 0.5]))
    assert torch.isfinite(head.bias).all() and rates[2] < 1e-2
    torch.testing.assert_close(head.weight, weight)  # only the bias moves


def test_the_prior_lowers_the_first_loss_of_a_sparse_multilabel_head():
    torch.manual_seed(0)
    targets = (torch.rand(256, 10) < 0.06).float()
    x = torch.randn(256, 8)
    head = nn.Linear(8, 10)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
    before = classification_loss(head(x), {"labels": targets})
    init_prior_bias(head, targets)
    after = classification_loss(head(x), {"labels": targets})
    assert before > 0.69 and after < 0.25  # log 2 against the rate's entropy, about 0.23


def test_class_indices_give_the_log_class_frequencies():
    head = nn.Linear(4, 3)
    init_prior_bias(head, [0, 0, 1, 2])
    torch.testing.assert_close(head.bias.detach().softmax(0), torch.tensor([0.5, 0.25, 0.25]))


def test_bad_targets_say_what_is_wrong():
    with pytest.raises(ValueError, match="3 classes, the layer 2"):
        init_prior_bias(nn.Linear(4, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        init_prior_bias(nn.Linear(4, 2), [0, 2])
