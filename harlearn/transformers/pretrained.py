"""timm's pretrained weights, offline-safe: the local cache first, one clear sentence when absent.

timm fetches pretrained weights from the Hugging Face hub (``timm.create_model(name,
pretrained=True)``). Offline, the hub client retries for about 50 seconds before it gives up
with an error that does not say what to do. :func:`create_timm_pretrained` instead

1. looks for the weights file in the local caches: the Hugging Face cache
   (``huggingface_hub.try_to_load_from_cache``; ``HF_HOME`` / ``HF_HUB_CACHE`` move it) and
   torch hub's (``torch.hub.get_dir()/checkpoints/<file of the cfg's url>``), and when it is
   there hands that file to timm (``pretrained_cfg_overlay=dict(file=...)``): no network;
2. otherwise, when ``HF_HUB_OFFLINE`` is set or the hub's host cannot be reached within a
   few seconds (one TCP connection, no retries), raises :class:`PretrainedWeightsUnavailable`
   at once;
3. otherwise lets timm download as usual (and turns any failure into the same one sentence).

In smoke mode (``HARLEARN_SMOKE=1``) none of this runs: timm gets a random stand-in with the
checkpoint's keys and shapes as its own ``state_dict`` source (:mod:`harlearn.pretrained_source`)
and loads it exactly as it loads a downloaded file.

:func:`pretrained_normalization` reads a checkpoint's input mean and std from timm's local
pretrained config (no download): timm's default ``vit_small_patch16_224`` is the AugReg
checkpoint, normalised with mean = std = 0.5, while DeiT-S (``deit_small_patch16_224``, the
same architecture) uses ImageNet's mean and std.

Not a paper's method: plumbing. It relies on timm's public ``create_model``,
``get_pretrained_cfg`` and ``pretrained_cfg_overlay``, and on ``huggingface_hub``'s cache layout.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import torch
from torch import nn

from harlearn import pretrained_source
from harlearn._offline import PROBE_TIMEOUT, offline_env, unreachable

__all__ = [
    "PretrainedWeightsUnavailable",
    "timm_pretrained_cfg",
    "timm_weights_file",
    "create_timm_pretrained",
    "pretrained_normalization",
    "OFFLINE_ADVICE",
    "PROBE_TIMEOUT",
]

#: What to do without the weights, appended to every error of this module.
OFFLINE_ADVICE = (
    "use the book profile (HARLEARN_PROFILE=book, which needs no pretrained weights), put the "
    "weights in the Hugging Face cache (on a connected machine: huggingface-cli download {repo}, "
    "then copy the cache, HF_HOME, here) or in torch hub's cache ({torch_cache}), or pass pretrained=False"
)

#: The weight files timm looks for in a Hugging Face repo, in its order of preference.
_HF_FILES = ("model.safetensors", "pytorch_model.bin")

class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached locally nor downloadable (offline, blocked)."""


def timm_pretrained_cfg(name: str) -> Any:
    """timm's pretrained config of ``name`` (``arch`` or ``arch.tag``; a local lookup).

    Args:
        name: a timm model name, e.g. ``"deit_small_patch16_224"``.

    Returns:
        timm's ``PretrainedCfg`` (``hf_hub_id``, ``url``, ``mean``, ``std``, ...).

    Raises:
        ValueError: timm knows no pretrained weights under that name.
    """
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        raise ValueError(f"timm has no pretrained weights named {name!r}: check the model name.")
    return cfg


def pretrained_normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The input normalisation a timm checkpoint was trained with, from timm's local config.

    Args:
        name: a timm model name, with or without a tag (``"vit_small_patch16_224"`` is timm's
            default tag, ``augreg_in21k_ft_in1k``; ``"deit_small_patch16_224"`` is DeiT-S).

    Returns:
        ``(mean, std)``, one value per channel.
    """
    cfg = timm_pretrained_cfg(name)
    return tuple(float(v) for v in cfg.mean), tuple(float(v) for v in cfg.std)


def _hf_repo(cfg: Any) -> tuple[str | None, str | None]:
    """``(repo id, revision)`` of the config's Hugging Face source (``repo@revision``)."""
    hub_id = getattr(cfg, "hf_hub_id", None)
    if not hub_id:
        return None, None
    repo, _, revision = hub_id.partition("@")
    return repo, revision or None


def _torch_hub_file(cfg: Any) -> str | None:
    url = cfg.url[0] if isinstance(cfg.url, (tuple, list)) else cfg.url
    if not url:
        return None
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urllib.parse.urlparse(url).path))


def timm_weights_file(name: str) -> tuple[str, bool] | None:
    """Where the weights of timm model ``name`` already are on this machine, if anywhere.

    Args:
        name: a timm model name.

    Returns:
        ``(path, custom_load)`` (``custom_load``: the file is in the checkpoint's original
        format, e.g. the AugReg ``.npz``, which timm reads with the model's own loader), or
        None when neither the Hugging Face cache nor torch hub's cache holds it.
    """
    cfg = timm_pretrained_cfg(name)
    repo, revision = _hf_repo(cfg)
    if repo is not None:
        try:
            from huggingface_hub import constants, try_to_load_from_cache
        except ImportError:  # timm without the hub client: only torch hub's cache
            pass
        else:
            files = (cfg.hf_hub_filename,) if getattr(cfg, "hf_hub_filename", None) else _HF_FILES
            for filename in files:
                found = try_to_load_from_cache(repo, filename, cache_dir=constants.HF_HUB_CACHE, revision=revision)
                if isinstance(found, str) and os.path.isfile(found):
                    return found, False
    local = _torch_hub_file(cfg)
    if local is not None and os.path.isfile(local):
        return local, bool(getattr(cfg, "custom_load", False))
    return None


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants

        return constants.ENDPOINT
    except ImportError:
        return "https://huggingface.co"


def create_timm_pretrained(name: str, **kwargs: Any) -> nn.Module:
    """``timm.create_model(name, pretrained=True, **kwargs)``, from the local cache when there.

    Args:
        name: a timm model name, e.g. ``"deit_small_patch16_224"``.
        **kwargs: passed to ``timm.create_model`` (``num_classes``, ``img_size``, ``in_chans``...).

    Returns:
        timm's model with the pretrained weights (timm adapts the head, the input channels and
        the position embeddings to ``kwargs``).

    Raises:
        PretrainedWeightsUnavailable: the weights are not cached and cannot be downloaded; raised
            at once (within about ``PROBE_TIMEOUT`` seconds) when offline, with what to do.
    """
    import timm

    cfg = timm_pretrained_cfg(name)
    if pretrained_source.stand_ins_active():  # smoke mode: a random stand-in through timm's own loading
        overlay = dict(state_dict=pretrained_source.timm_stand_in(name))
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    repo = _hf_repo(cfg)[0] or f"timm/{name}"
    advice = OFFLINE_ADVICE.format(repo=repo, torch_cache=os.path.join(torch.hub.get_dir(), "checkpoints"))
    prefix = f"Could not load the pretrained weights of {name!r} through timm"
    local = timm_weights_file(name)
    if local is not None:  # no network at all
        path, custom_load = local
        overlay = dict(file=path, custom_load=custom_load)
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    endpoint = _hub_endpoint() if _hf_repo(cfg)[0] else (_torch_hub_url(cfg) or _hub_endpoint())
    why = "HF_HUB_OFFLINE is set" if offline_env() else None
    if why is None:
        err = unreachable(endpoint)
        if err is not None:
            why = f"{urllib.parse.urlparse(endpoint).hostname} cannot be reached ({type(err).__name__}: {err})"
    if why is not None:
        raise PretrainedWeightsUnavailable(
            f"{prefix}: they are not in the Hugging Face cache (repo {repo!r}) and {why}; {advice}."
        )
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as err:  # hub/network errors come in many types; all mean "no weights"
        raise PretrainedWeightsUnavailable(
            f"{prefix} ({type(err).__name__}: {err}); {advice}."
        ) from err


def _torch_hub_url(cfg: Any) -> str | None:
    url = cfg.url[0] if isinstance(cfg.url, (tuple, list)) else cfg.url
    return url or None
