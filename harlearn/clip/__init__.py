"""Vision and language: CLIP, its contrastive loss and zero-shot classification.

Paper: Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
ICML 2021, arXiv:2103.00020. Production reference: open_clip (mlfoundations/open_clip, 3.x):
the configuration fields and parameter names are open_clip's, so its state dicts load here with
``strict=True`` and the embeddings agree (``tests/test_clip.py``).

One concept a module:

- :mod:`.transformer`: the residual attention block and its stack (``ln_1``, ``attn.in_proj_weight``,
  ``mlp.c_fc``, ...), shared by both towers; :class:`QuickGELU`;
- :mod:`.vision`: :class:`VisionTower`, CLIP's ViT image encoder;
- :mod:`.backbone`: :class:`BackboneTower`, a course backbone (``harlearn.models.backbones``,
  ``harlearn.transformers``, ``harlearn.zoo``) as the image tower (open_clip's ``trunk`` /
  ``head.proj``);
- :mod:`.text`: :class:`TextTower`, the causal text transformer read at the end-of-text token;
- :mod:`.model`: :class:`CLIP` (``CLIP(embed_dim, vision_cfg, text_cfg)``), the learned
  temperature (``logit_scale``: init ``log(1/0.07)``, clamped at ``log(100)``), and
  ``CLIP.lock_image_tower()`` (LiT, arXiv:2111.07991: a pretrained image tower kept fixed);
- :mod:`.loss`: :func:`clip_loss` (open_clip's ``ClipLoss``), :func:`clip_loss_fn` for
  :func:`harlearn.train.fit`;
- :mod:`.zero_shot`: :func:`build_zero_shot_classifier` (prompt-template ensembles, open_clip's
  function), :func:`zero_shot_logits`;
- :mod:`.tokenizer`: :func:`get_tokenizer`, open_clip's BPE tokenizer (ships in its wheel);
- :mod:`.pretrained`: :func:`pretrained_clip`, open_clip's checkpoints (e.g. ViT-B-32) for the
  ``full`` profile, with a clear error offline.

Image-caption data for SynthHAR: :mod:`harlearn.data.synthhar.captions` (the caption grammar and
the held-out verb-object combinations) and :class:`harlearn.data.captions.CaptionDataset`.

Usage::

    from harlearn.clip import CLIP, clip_loss, get_tokenizer, build_zero_shot_classifier
    model = CLIP(128, dict(layers=4, width=128, head_width=32, patch_size=8, image_size=64),
                 dict(context_length=32, width=128, heads=4, layers=4))
    tokenizer = get_tokenizer(context_length=32)
    image_features, text_features, scale = model(images, tokenizer(captions))
    loss = clip_loss(image_features, text_features, scale)
"""

from .backbone import BackboneTower, strip_classifier
from .loss import clip_logits, clip_loss, clip_loss_fn
from .model import CLIP, LOGIT_SCALE_INIT, LOGIT_SCALE_MAX, CLIPTextCfg, CLIPVisionCfg
from .pretrained import pretrained_clip, pretrained_preprocess
from .text import TextTower, causal_mask
from .tokenizer import get_tokenizer, tokenize
from .transformer import Attention, LayerScale, QuickGELU, ResidualAttentionBlock, Transformer
from .vision import VisionTower
from .zero_shot import build_zero_shot_classifier, class_prompts, zero_shot_logits

__all__ = [
    "CLIP", "CLIPVisionCfg", "CLIPTextCfg", "LOGIT_SCALE_INIT", "LOGIT_SCALE_MAX",
    "VisionTower", "BackboneTower", "strip_classifier", "TextTower", "causal_mask",
    "Attention", "LayerScale", "QuickGELU", "ResidualAttentionBlock", "Transformer",
    "clip_logits", "clip_loss", "clip_loss_fn",
    "build_zero_shot_classifier", "class_prompts", "zero_shot_logits",
    "get_tokenizer", "tokenize", "pretrained_clip", "pretrained_preprocess",
]
