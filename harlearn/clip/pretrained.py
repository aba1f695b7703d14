"""open_clip's pretrained CLIP checkpoints in harlearn's CLIP: the ``full`` profile's zero-shot model.

:func:`pretrained_clip` builds :class:`harlearn.clip.CLIP` from open_clip's shipped
configuration of a named model (``ViT-B-32`` by default), asks open_clip for the checkpoint
(``open_clip.create_model(name, pretrained=tag)``: open_clip downloads it, from the Hugging
Face hub or its URL, checks it and converts OpenAI's format) and loads that model's state dict
into ours with ``strict=True``: the names are open_clip's, so nothing is renamed.

Offline it fails at once with one sentence saying what to do: when ``HF_HUB_OFFLINE`` is set or
the checkpoint's host cannot be reached within a few seconds, unless the file is already in the
Hugging Face cache (then it is read from there) or ``pretrained`` is the path of a checkpoint
file (open_clip's ``.pt`` / ``.bin`` / ``.safetensors``). In smoke mode (``HARLEARN_SMOKE=1``) the
checkpoint is replaced by a random stand-in with its keys and shapes
(:func:`harlearn.pretrained_source.open_clip_stand_in`), loaded by the same strict load.

:func:`pretrained_preprocess` gives the input size and normalisation the checkpoint expects,
from open_clip's local metadata (no download).

Default checkpoint: ``("ViT-B-32", "openai")``, OpenAI's own weights (QuickGELU), one of the
models whose zero-shot numbers the paper reports; pass ``pretrained="laion2b_s34b_b79k"`` for
open_clip's LAION-2B one.

Not a paper's method: plumbing around open_clip's public ``create_model``,
``get_model_config`` and ``get_pretrained_cfg``.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from harlearn import pretrained_source
from harlearn._offline import offline_env, unreachable

from .model import CLIP

__all__ = ["pretrained_clip", "pretrained_preprocess", "DEFAULT_MODEL", "DEFAULT_PRETRAINED"]

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "openai"
#: open_clip's weight files in a Hugging Face repository, in its order of preference.
_HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def _unavailable() -> type[RuntimeError]:
    from harlearn.transformers.pretrained import PretrainedWeightsUnavailable

    return PretrainedWeightsUnavailable


def _pretrained_cfg(model_name: str, pretrained: str) -> dict[str, Any]:
    import open_clip

    if open_clip.get_model_config(model_name) is None:
        raise ValueError(f"open_clip has no model named {model_name!r}; see open_clip.list_models().")
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"open_clip has no checkpoint {pretrained!r} for {model_name}: use one of {tags}, or the path of a checkpoint file."
        )
    return cfg


def _hf_repo(cfg: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(repo id, file name or None)`` of a checkpoint's Hugging Face source."""
    hub = cfg.get("hf_hub", "")
    if not hub:
        return None, None
    repo, filename = os.path.split(hub)
    return repo, filename or None


def _cached_file(cfg: dict[str, Any]) -> str | None:
    """The checkpoint's file in the local Hugging Face cache, if it is there."""
    repo, filename = _hf_repo(cfg)
    if repo is None:
        return None
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of timm and open_clip
        return None
    for name in ((filename,) if filename else _HF_FILES):
        found = try_to_load_from_cache(repo, name, cache_dir=constants.HF_HUB_CACHE)
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


def _endpoint(cfg: dict[str, Any]) -> str:
    if _hf_repo(cfg)[0]:
        try:
            from huggingface_hub import constants

            return constants.ENDPOINT
        except ImportError:  # pragma: no cover
            return "https://huggingface.co"
    return cfg.get("url") or "https://huggingface.co"


def _open_clip_state(model_name: str, pretrained: str, quick_gelu: bool) -> dict[str, Any]:
    """The checkpoint's state dict, as open_clip's model holding it gives it."""
    import open_clip

    if pretrained_source.stand_ins_active():
        return pretrained_source.open_clip_stand_in(model_name, quick_gelu)
    if os.path.isfile(pretrained):
        source = pretrained
    else:
        cfg = _pretrained_cfg(model_name, pretrained)
        source = _cached_file(cfg) or pretrained
        if source == pretrained:  # not cached: a download
            why = "HF_HUB_OFFLINE is set" if offline_env() else None
            endpoint = _endpoint(cfg)
            if why is None and (err := unreachable(endpoint)) is not None:
                why = f"{urllib.parse.urlparse(endpoint).hostname} cannot be reached ({type(err).__name__}: {err})"
            if why is not None:
                raise _unavailable()(_offline_message(model_name, pretrained, cfg, why))
    try:
        model = open_clip.create_model(model_name, pretrained=source, force_quick_gelu=quick_gelu)
    except Exception as err:  # a failed download or a corrupt file: the same one sentence
        if os.path.isfile(source):
            raise
        raise _unavailable()(_offline_message(model_name, pretrained, _pretrained_cfg(model_name, pretrained),
                                              f"the download failed ({type(err).__name__}: {err})")) from err
    return model.state_dict()


def _offline_message(model_name: str, pretrained: str, cfg: dict[str, Any], why: str) -> str:
    repo = _hf_repo(cfg)[0]
    fetch = f"huggingface-cli download {repo}" if repo else f"download {cfg.get('url')}"
    return (
        f"Cannot download open_clip's {model_name} checkpoint {pretrained!r}: {why}. Use the book profile "
        f"(HARLEARN_PROFILE=book: it trains a small CLIP on SynthHAR and needs no download), or on a connected "
        f"machine run `{fetch}` and copy the Hugging Face cache (HF_HOME) here, or pass pretrained= the path "
        "of the checkpoint file."
    )


def pretrained_clip(
    model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED, *, quick_gelu: bool | None = None
) -> CLIP:
    """A :class:`~harlearn.clip.CLIP` holding one of open_clip's pretrained checkpoints, in eval mode.

    Args:
        model_name: an open_clip model name (``open_clip.list_models()``), e.g. ``"ViT-B-32"``.
        pretrained: an open_clip checkpoint tag for that model (``"openai"``,
            ``"laion2b_s34b_b79k"``, ...; ``open_clip.list_pretrained_tags_by_model(name)``), or
            the path of a checkpoint file.
        quick_gelu: the activation the checkpoint was trained with; default: what open_clip's
            metadata says for the tag (True for OpenAI's), False for a file.

    Returns:
        The model with the checkpoint's weights (loaded with ``strict=True``), in eval mode.

    Raises:
        ValueError: an unknown model or tag.
        harlearn.transformers.pretrained.PretrainedWeightsUnavailable: the checkpoint is not
            cached and cannot be downloaded (raised at once offline, with what to do).
    """
    if quick_gelu is None:
        quick_gelu = False if os.path.isfile(pretrained) else bool(_pretrained_cfg(model_name, pretrained).get("quick_gelu", False))
    state = _open_clip_state(model_name, pretrained, quick_gelu)
    model = CLIP.from_open_clip_config(model_name, quick_gelu=quick_gelu)
    model.load_state_dict(state, strict=True)
    return model.eval()


def pretrained_preprocess(model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED) -> dict[str, Any]:
    """What a checkpoint's images must look like: ``image_size``, ``mean``, ``std``, ``interpolation``.

    From open_clip's local configuration and metadata (no download); open_clip's own
    preprocessing resizes the shorter side to ``image_size`` (bicubic), centre-crops, and
    normalises with ``mean`` / ``std`` (OpenAI's, unless the tag says otherwise).
    """
    import open_clip
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    cfg = _pretrained_cfg(model_name, pretrained)
    size = open_clip.get_model_config(model_name)["vision_cfg"].get("image_size", 224)
    return {
        "image_size": size,
        "mean": tuple(cfg.get("mean") or OPENAI_DATASET_MEAN),
        "std": tuple(cfg.get("std") or OPENAI_DATASET_STD),
        "interpolation": cfg.get("interpolation", "bicubic"),
    }
