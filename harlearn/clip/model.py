"""CLIP: an image tower and a text tower trained to agree, with open_clip's configuration and names.

Paper: Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
ICML 2021, arXiv:2103.00020. Production reference: ``open_clip.model.CLIP`` (open_clip 3.x),
built from the same configuration fields::

    vision_cfg = dict(layers=2, width=64, head_width=32, patch_size=8, image_size=32)
    text_cfg = dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2)
    ours = CLIP(embed_dim=32, vision_cfg=vision_cfg, text_cfg=text_cfg)
    ours.load_state_dict(open_clip.model.CLIP(32, vision_cfg, text_cfg).state_dict(), strict=True)

after which ``encode_image`` and ``encode_text`` agree with open_clip's (``tests/test_clip.py``).
The image tower can instead be a course backbone (:class:`~harlearn.clip.backbone.BackboneTower`,
``CLIP(embed_dim, None, text_cfg, visual=...)``), as CLIP's ResNet variants.

The learned temperature: ``logit_scale`` is a scalar parameter, initialised at ``log(1/0.07)``
(the paper's initial temperature 0.07), used as ``exp(logit_scale)`` (``forward`` returns it
exponentiated, as open_clip's does) and **clamped to at most log(100)** "to prevent scaling
the logits by more than 100, which we found necessary to prevent training instability"
(paper, section 2.5). open_clip's training loop clamps the parameter in place after every
optimizer step (``open_clip_train/train.py``: ``logit_scale.clamp_(0, math.log(100))``); here
:meth:`CLIP.forward` does the same in-place clamp at the start of every training-mode call,
i.e. after the previous step and before the value is used, which gives the same sequence of
temperatures without a hook in the training loop (:func:`harlearn.train.fit` has none).
:meth:`CLIP.clamp_logit_scale_` is the same clamp, for a loop of one's own.

Departures from open_clip: no ``logit_bias`` (SigLIP), no custom / Hugging Face text towers,
no ``output_dict`` mode, no ModifiedResNet (see :mod:`.backbone`); the configuration
dataclasses hold only the fields this implementation supports, and reject the others.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import BackboneTower
from .text import TextTower
from .transformer import QuickGELU
from .vision import VisionTower

__all__ = ["CLIP", "CLIPVisionCfg", "CLIPTextCfg", "LOGIT_SCALE_INIT", "LOGIT_SCALE_MAX"]

#: ``log(1 / 0.07)``: the paper's initial temperature, 0.07.
LOGIT_SCALE_INIT = math.log(1 / 0.07)
#: ``log(100)``: the largest logit scale (the logits are never multiplied by more than 100).
LOGIT_SCALE_MAX = math.log(100)


@dataclass
class CLIPVisionCfg:
    """The ViT image tower's configuration (open_clip's ``CLIPVisionCfg`` field names)."""

    layers: int = 12  # transformer blocks (an int: the ViT; open_clip's tuples mean its ResNet, not here)
    width: int = 768  # token width C
    head_width: int = 64  # width of one attention head; width // head_width heads
    mlp_ratio: float = 4.0  # MLP hidden width / C
    patch_size: int = 16  # patch side p
    image_size: int | tuple[int, int] = 224  # input side
    ls_init_value: float | None = None  # layer scale (None: none)
    pool_type: str = "tok"  # "tok": the class token (CLIP); "avg": mean of the patch tokens


@dataclass
class CLIPTextCfg:
    """The text tower's configuration (open_clip's ``CLIPTextCfg`` field names)."""

    context_length: int = 77  # tokens per text L, start and end tokens included
    vocab_size: int = 49408  # BPE vocabulary (open_clip's tokenizer: 49,408)
    width: int = 512  # token width C
    heads: int = 8  # attention heads
    layers: int = 12  # transformer blocks
    mlp_ratio: float = 4.0  # MLP hidden width / C
    ls_init_value: float | None = None  # layer scale (None: none)


def _cfg(cls: type, cfg: Any, what: str) -> Any:
    """A config dataclass from a dataclass or a dict; open_clip-only fields must keep open_clip's defaults."""
    if isinstance(cfg, cls):
        return cfg
    if dataclasses.is_dataclass(cfg):
        cfg = dataclasses.asdict(cfg)
    if not isinstance(cfg, dict):
        raise TypeError(f"{what} must be a dict or a {cls.__name__}, got {type(cfg).__name__}.")
    known = {f.name for f in dataclasses.fields(cls)}
    unsupported = {k: v for k, v in cfg.items() if k not in known and not _is_open_clip_default(cls, k, v)}
    if unsupported:
        raise ValueError(
            f"{what} sets open_clip options this CLIP does not implement: {sorted(unsupported)}; "
            f"supported fields: {sorted(known)}."
        )
    return cls(**{k: v for k, v in cfg.items() if k in known})


def _is_open_clip_default(cls: type, key: str, value: Any) -> bool:
    """Whether ``value`` is open_clip's default for the field ``key`` (so ignoring it changes nothing)."""
    try:
        from open_clip.model import CLIPTextCfg as OC_Text, CLIPVisionCfg as OC_Vision
    except ImportError:  # pragma: no cover - open_clip is a dependency
        return False
    oc = OC_Vision if cls is CLIPVisionCfg else OC_Text
    fields = {f.name: f for f in dataclasses.fields(oc)}
    if key not in fields:
        return False
    field = fields[key]
    default = field.default if field.default is not dataclasses.MISSING else None
    return value == default


class CLIP(TextTower):
    """CLIP (arXiv:2103.00020): ``encode_image``, ``encode_text``, and a learned temperature.

    Args:
        embed_dim: Width ``D`` of the joint image-text embedding space.
        vision_cfg: The ViT image tower (:class:`CLIPVisionCfg` or a dict of its fields:
            ``layers``, ``width``, ``head_width``, ``patch_size``, ``image_size``, ...); ignored
            (may be None) when ``visual`` is given.
        text_cfg: The text tower (:class:`CLIPTextCfg` or a dict: ``context_length``,
            ``vocab_size``, ``width``, ``heads``, ``layers``, ...).
        quick_gelu: Use :class:`~harlearn.clip.transformer.QuickGELU` in both towers (OpenAI's
            checkpoints) instead of ``nn.GELU``.
        init_logit_scale: Initial ``logit_scale`` (default ``log(1/0.07)``).
        visual: An image tower to use instead of the ViT of ``vision_cfg``, mapping images
            ``[B, 3, H, W]`` to ``[B, embed_dim]``, e.g. a
            :class:`~harlearn.clip.backbone.BackboneTower` around a course backbone.

    Example:
        >>> model = CLIP(32, dict(layers=1, width=32, head_width=16, patch_size=8, image_size=32),
        ...              dict(context_length=16, width=32, heads=2, layers=1))
        >>> image_features, text_features, scale = model(torch.randn(2, 3, 32, 32),
        ...                                               torch.randint(1, 100, (2, 16)))
        >>> image_features.shape, text_features.shape, round(float(scale), 2)
        (torch.Size([2, 32]), torch.Size([2, 32]), 14.29)
    """

    def __init__(
        self,
        embed_dim: int,
        vision_cfg: CLIPVisionCfg | dict[str, Any] | None,
        text_cfg: CLIPTextCfg | dict[str, Any],
        quick_gelu: bool = False,
        init_logit_scale: float = LOGIT_SCALE_INIT,
        *,
        visual: nn.Module | None = None,
    ) -> None:
        act = QuickGELU if quick_gelu else nn.GELU
        t = _cfg(CLIPTextCfg, text_cfg, "text_cfg")
        super().__init__(embed_dim, t.context_length, t.vocab_size, t.width, t.heads, t.layers,
                         t.mlp_ratio, t.ls_init_value, act)
        self.embed_dim = embed_dim
        if visual is None:
            if vision_cfg is None:
                raise ValueError("CLIP needs a vision_cfg, or an image tower passed as visual=.")
            v = _cfg(CLIPVisionCfg, vision_cfg, "vision_cfg")
            if not isinstance(v.layers, int):
                raise ValueError("vision_cfg.layers must be an int (a ViT); for a CNN tower pass visual=BackboneTower(...).")
            visual = VisionTower(v.image_size, v.patch_size, v.width, v.layers, v.head_width, embed_dim,
                                 v.mlp_ratio, v.ls_init_value, v.pool_type, act)
        self.visual = visual
        self.logit_scale = nn.Parameter(torch.ones([]) * init_logit_scale)  # a scalar, as open_clip's

    def lock_image_tower(self, unlock_projection: bool = True) -> "CLIP":
        """Freeze the image tower, as LiT does (Zhai et al., *LiT: Zero-Shot Transfer with
        Locked-image text Tuning*, CVPR 2022, arXiv:2111.07991): only the text tower (and
        ``logit_scale``) learn to agree with a pretrained image tower.

        Its parameters get ``requires_grad=False`` (:func:`harlearn.train.fit` optimises only
        the others) and it stays in eval mode when the model is put in training mode, so its
        BatchNorm statistics do not move either. open_clip's ``lock_image_tower()`` also
        freezes the projection; here it stays trainable unless ``unlock_projection=False``
        (a new projection on a course checkpoint has to learn).

        Args:
            unlock_projection: keep the projection into the joint space trainable
                (``VisionTower.proj``, ``BackboneTower.head``).

        Returns:
            The model, for chaining.
        """
        for p in self.visual.parameters():
            p.requires_grad = False
        if unlock_projection:
            if isinstance(self.visual, VisionTower):
                self.visual.proj.requires_grad = True
            elif isinstance(self.visual, BackboneTower):
                for p in self.visual.head.parameters():
                    p.requires_grad = True
        self._image_tower_locked = True
        return self.train(self.training)

    def train(self, mode: bool = True) -> "CLIP":
        """``nn.Module.train``, keeping a locked image tower's trunk in eval mode (see :meth:`lock_image_tower`)."""
        super().train(mode)
        if getattr(self, "_image_tower_locked", False):
            (self.visual.trunk if isinstance(self.visual, BackboneTower) else self.visual).eval()
        return self

    @torch.no_grad()
    def clamp_logit_scale_(self, max_value: float = LOGIT_SCALE_MAX) -> None:
        """Clamp ``logit_scale`` in place to ``[0, max_value]`` (open_clip's clamp after each step)."""
        self.logit_scale.clamp_(0.0, max_value)

    def encode_image(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Image embeddings ``[B, D]`` of images ``[B, 3, H, W]`` (L2-normalised when asked)."""
        features = self.visual(image)  # [B, D]
        return F.normalize(features, dim=-1) if normalize else features

    # encode_text(text [B, L], normalize=False) -> [B, D] comes from TextTower.

    def forward(
        self, image: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        """Normalised embeddings of both modalities and the temperature, as open_clip's ``CLIP``.

        In training mode ``logit_scale`` is first clamped in place to at most ``log(100)`` (see
        the module docstring).

        Args:
            image: Images ``[B, 3, H, W]``, or None.
            text: Token ids ``[B, L]``, or None.

        Returns:
            ``(image_features [B, D] | None, text_features [B, D] | None, exp(logit_scale))``,
            the features L2-normalised; ``exp(logit_scale)`` multiplies their cosine similarities
            into logits (:func:`harlearn.clip.loss.clip_loss`).
        """
        if self.training:
            self.clamp_logit_scale_()
        image_features = self.encode_image(image, normalize=True) if image is not None else None
        text_features = self.encode_text(text, normalize=True) if text is not None else None
        return image_features, text_features, self.logit_scale.exp()

    @classmethod
    def from_open_clip_config(cls, model_name: str, **kwargs: Any) -> "CLIP":
        """The architecture of one of open_clip's named models (e.g. ``"ViT-B-32"``), random weights.

        Reads the JSON configuration shipped inside open_clip (no download). ``kwargs`` go to
        :class:`CLIP` (e.g. ``quick_gelu=True`` for OpenAI's checkpoints).

        Raises:
            ValueError: open_clip knows no such model, or its configuration uses options this
                CLIP does not implement.
        """
        import open_clip

        cfg = open_clip.get_model_config(model_name)
        if cfg is None:
            raise ValueError(f"open_clip has no model named {model_name!r}; see open_clip.list_models().")
        extra = {k: v for k, v in cfg.items() if k not in ("embed_dim", "vision_cfg", "text_cfg")}
        if extra.pop("quick_gelu", False):
            kwargs.setdefault("quick_gelu", True)
        if extra:
            raise ValueError(f"open_clip's {model_name} sets {sorted(extra)}, which this CLIP does not implement.")
        return cls(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], **kwargs)
