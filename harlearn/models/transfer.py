"""Transfer learning helpers: a fresh classification head, a frozen body, parameter groups.

:func:`finetune_model` replaces a classifier's head by a new linear layer (optionally freezing
everything else: linear probing); :func:`head_parameters` and :func:`backbone_parameters` split
the parameters for per-group learning rates. They work on the course's CNNs (VGG's
``classifier[6]``, ResNet's and GoogLeNet's ``fc``, DenseNet's ``classifier``), on models naming
their head with a ``head_name`` attribute (ConViT) and on torchvision's classifiers.

Not a paper's method: the standard fine-tuning recipe (e.g. Yosinski et al., "How transferable
are features in deep neural networks?", arXiv:1411.1792). The new head keeps PyTorch's default
initialisation.
"""

from __future__ import annotations

from typing import TypeVar

from torch import nn

__all__ = ["finetune_model", "head_parameters", "backbone_parameters"]

ModelT = TypeVar("ModelT", bound=nn.Module)


def _head_name(model: nn.Module) -> str:
    """Dotted name of the model's final ``nn.Linear`` (``fc``, ``classifier``, ``classifier.6``)."""
    name = getattr(model, "head_name", None)
    if name is not None:
        return name
    # torchvision (and most) classifiers: fc, classifier, or a Sequential classifier ending in a Linear.
    for candidate in ("fc", "classifier", "head"):
        module = getattr(model, candidate, None)
        if isinstance(module, nn.Linear):
            return candidate
        if isinstance(module, nn.Sequential) and len(module) and isinstance(module[-1], nn.Linear):
            return f"{candidate}.{len(module) - 1}"
    raise TypeError(
        f"Cannot find the classification head of {type(model).__name__}: give the model a "
        "head_name attribute naming its final nn.Linear (e.g. head_name = 'fc')."
    )


def finetune_model(model: ModelT, num_classes: int, *, freeze_backbone: bool = False) -> ModelT:
    """Prepare a (pretrained) classifier for a new task: a fresh head, optionally a frozen body.

    The head is VGG's ``classifier[6]``, ResNet's and GoogLeNet's ``fc``, DenseNet's
    ``classifier`` (torchvision's models work too). It is replaced by a new ``nn.Linear``
    with the same input width, PyTorch's default initialisation, and the old head's device
    and dtype.

    Args:
        model: The model, changed in place.
        num_classes: Output logits of the new head.
        freeze_backbone: If ``True``, every parameter outside the head gets
            ``requires_grad=False`` (linear probing); if ``False``, every parameter is
            trainable. BatchNorm running statistics still update in ``train()`` mode; call
            ``eval()`` on the frozen modules to keep them fixed.

    Returns:
        The same model, for chaining.
    """
    name = _head_name(model)
    old = model.get_submodule(name)
    new = nn.Linear(old.in_features, num_classes).to(device=old.weight.device, dtype=old.weight.dtype)
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)
    for parameter in backbone_parameters(model):
        parameter.requires_grad = not freeze_backbone
    for parameter in head_parameters(model):
        parameter.requires_grad = True
    return model


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the classification head (see :func:`finetune_model`).

    Args:
        model: One of the course's CNNs, or a torchvision classifier.

    Returns:
        The head's weight and bias, e.g. for a parameter group with a larger learning rate::

            torch.optim.SGD([{"params": backbone_parameters(m), "lr": 1e-3},
                             {"params": head_parameters(m), "lr": 1e-2}], momentum=0.9)
    """
    return list(model.get_submodule(_head_name(model)).parameters())


def backbone_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter not in the classification head, frozen or not.

    Args:
        model: One of the course's CNNs, or a torchvision classifier.

    Returns:
        The parameters of the model minus :func:`head_parameters`, in registration order.
    """
    head = {id(p) for p in head_parameters(model)}
    return [p for p in model.parameters() if id(p) not in head]
