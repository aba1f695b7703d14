"""The registry of course checkpoints: a JSON manifest and weight files, read, verified and loaded.

A registry is a folder holding ``manifest.json`` and one ``<name>.pt`` per checkpoint (a state
dict, floating-point tensors in half precision). The one shipped with the package is
``harlearn/zoo/weights/`` (package data); ``$HARLEARN_ZOO`` or a ``registry=`` argument points
at another one (a test's, or one rebuilt elsewhere). The manifest::

    {"format": "harlearn-zoo-1",
     "checkpoints": {"<name>": {"name", "architecture", "kwargs", "num_classes", "image_size",
                                "file", "sha256", "bytes", "dtype", "seed", "recipe",
                                "pretraining": {"corpus", "version", "arguments", "labels",
                                                "objective", "val_map", "chance_map"},
                                "history": [{"epoch", "train_loss", ..., "val_map"}, ...],
                                "trained_with": {"device", "hardware", "torch", "seconds"}}}}

:func:`load` checks the file's sha256 against the manifest *before* reading it, reads it with
``torch.load(..., weights_only=True)``, builds the architecture and loads the weights
strictly; with ``num_classes`` it puts a fresh classification head on top. The models keep the
course's (timm-style) ``forward_features`` / ``forward_head``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .recipes import ARCHITECTURES

__all__ = [
    "MANIFEST", "FORMAT", "ENV_VAR", "ZooIntegrityError", "registry_dir", "read_manifest", "write_entry",
    "list_checkpoints", "info", "load", "sha256_of", "construct", "replace_head", "find", "initialise",
    "head_prefix",
]

MANIFEST = "manifest.json"
FORMAT = "harlearn-zoo-1"
#: Environment variable naming another registry folder.
ENV_VAR = "HARLEARN_ZOO"
_PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"


class ZooIntegrityError(ValueError):
    """A checkpoint file does not match the sha256 its manifest records."""


def registry_dir(registry: str | os.PathLike | None = None) -> Path:
    """The registry folder: ``registry``, else ``$HARLEARN_ZOO``, else the package's ``harlearn/zoo/weights/``."""
    if registry is not None:
        return Path(registry).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else _PACKAGE_WEIGHTS


def read_manifest(registry: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest of a registry (an empty one when the folder has none yet)."""
    path = registry_dir(registry) / MANIFEST
    if not path.is_file():
        return {"format": FORMAT, "checkpoints": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"The zoo manifest {path} is not valid JSON ({err}): restore it from the package or rebuild with `make zoo`.") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"The zoo manifest {path} has format {manifest.get('format')!r}, not {FORMAT!r}: update harlearn or rebuild with `make zoo`.")
    return manifest


def write_entry(entry: dict[str, Any], registry: str | os.PathLike | None = None) -> Path:
    """Add or replace one checkpoint's entry in the manifest, atomically (temp file + rename)."""
    folder = registry_dir(registry)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(folder)
    manifest["checkpoints"][entry["name"]] = entry
    manifest["checkpoints"] = dict(sorted(manifest["checkpoints"].items()))
    text = json.dumps(manifest, indent=1, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{MANIFEST}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / MANIFEST


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def list_checkpoints(registry: str | os.PathLike | None = None) -> list[str]:
    """The names of the checkpoints in the registry, sorted."""
    return sorted(read_manifest(registry)["checkpoints"])


def info(name: str, registry: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest entry of checkpoint ``name`` (``architecture``, ``sha256``, ``pretraining``, ``history``, ...)."""
    entries = read_manifest(registry)["checkpoints"]
    if name not in entries:
        have = ", ".join(sorted(entries)) or "none"
        raise ValueError(
            f"No course checkpoint called {name!r} in {registry_dir(registry)} (it has: {have}); "
            f"build it with `python -m harlearn.zoo build {name}` (or `make zoo`)."
        )
    return json.loads(json.dumps(entries[name]))  # a copy the caller may change


# ---- building models ----------------------------------------------------------------------------
def construct(architecture: str, kwargs: dict[str, Any], num_classes: int) -> nn.Module:
    """Build an architecture of :data:`~harlearn.zoo.recipes.ARCHITECTURES` with its constructor arguments.

    JSON lists become tuples (``depths``, ``num_heads``). For ``"mae"``, ``kwargs["encoder"]``
    builds the ``VisionTransformer`` encoder (``num_classes=0``) and the rest goes to
    ``MaskedAutoencoder``; ``num_classes`` is unused.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown zoo architecture {architecture!r}: use one of {sorted(ARCHITECTURES)}.")
    module, _, attr = ARCHITECTURES[architecture].partition(":")
    factory = getattr(importlib.import_module(module), attr)
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if architecture == "mae":
        enc = kw.pop("encoder")
        enc = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(enc).items()}
        return factory(construct("vit", enc, 0), **kw)
    return factory(num_classes=num_classes, **kw)


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """A fresh ``num_classes``-way classification head on a zoo model (for the MAE: a ViT classifier).

    CNNs: :func:`harlearn.models.finetune_model` (VGG's ``classifier[6]``, ResNet's and
    GoogLeNet's ``fc``, DenseNet's ``classifier``); ViT: ``head``; Swin: ``head.fc``; a
    ``MaskedAutoencoder``: :func:`harlearn.transformers.mae.encoder_to_classifier` (MAE's
    fine-tuning set-up: average pooling, ``fc_norm``, a head initialised with std 2e-5).
    """
    from harlearn.models.transfer import finetune_model
    from harlearn.transformers.mae import MaskedAutoencoder, encoder_to_classifier
    from harlearn.transformers.swin import SwinHead, SwinTransformer
    from harlearn.transformers.vit import VisionTransformer

    if isinstance(model, MaskedAutoencoder):
        return encoder_to_classifier(model, num_classes)
    if isinstance(model, SwinTransformer):
        model.head = SwinHead(model.num_features, num_classes)
    elif isinstance(model, VisionTransformer):
        model.head = nn.Linear(model.embed_dim, num_classes) if num_classes > 0 else nn.Identity()
    else:
        return finetune_model(model, num_classes)
    model.num_classes = num_classes
    return model


def _check_file(name: str, entry: dict[str, Any], folder: Path) -> Path:
    path = folder / entry["file"]
    fix = f"reinstall harlearn, or rebuild it with `python -m harlearn.zoo build {name}` (make zoo)"
    if not path.is_file():
        raise FileNotFoundError(f"The weight file {path} of course checkpoint {name!r} is missing: {fix}.")
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise ZooIntegrityError(
            f"The weight file {path} of course checkpoint {name!r} does not match the sha256 in its "
            f"manifest ({digest[:12]}... instead of {entry['sha256'][:12]}...): it is corrupt or was changed; {fix}."
        )
    return path


def load(
    name: str,
    num_classes: int | None = None,
    *,
    registry: str | os.PathLike | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """A course checkpoint as a model: hash checked, ``weights_only`` read, strict load, optional new head.

    Args:
        name: a checkpoint name (:func:`list_checkpoints`).
        num_classes: when given, the pretrained head (the corpus's labels) is replaced by a fresh
            ``num_classes``-way one (see :func:`replace_head`; for the MAE entry this returns
            the ViT classifier built from its encoder). ``None`` keeps the pretrained model.
        registry: another registry folder (default ``$HARLEARN_ZOO`` or the package's).
        map_location: where the weights are read to.

    Returns:
        The model in float32, in training mode (as the course's factories return them), with
        ``forward_features`` / ``forward_head`` (the MAE entry without ``num_classes`` is the
        ``MaskedAutoencoder``; its ``encoder`` has them).

    Raises:
        ValueError: no such checkpoint.
        FileNotFoundError: the weight file is missing.
        ZooIntegrityError: the weight file's sha256 differs from the manifest's.
    """
    folder = registry_dir(registry)
    entry = info(name, folder)
    path = _check_file(name, entry, folder)
    state = torch.load(path, map_location=map_location, weights_only=True)
    model = construct(entry["architecture"], entry["kwargs"], entry["num_classes"])
    model.load_state_dict(state, strict=True)  # copies (and up-casts) the half-precision tensors
    if num_classes is not None:
        model = replace_head(model, num_classes)
    return model


# ---- starting a model the caller built from a checkpoint --------------------------------------
def _architecture_of(model: nn.Module) -> str:
    """The zoo architecture name of a model instance, by its class or a base class.

    (By class name, so that this module imports no model code: the factories import it.)
    """
    names = {"ResNet": "resnet50", "VGG": "vgg16", "DenseNet": "densenet121", "GoogLeNet": "googlenet",
             "SwinTransformer": "swin", "VisionTransformer": "vit"}
    for cls in type(model).__mro__:
        if cls.__module__.startswith("harlearn.") and cls.__name__ in names:
            return names[cls.__name__]
    raise TypeError(f"The zoo has no checkpoints for a {type(model).__name__}; it holds {sorted(ARCHITECTURES)}.")


def head_prefix(model: nn.Module) -> str:
    """The dotted name of the classification head, whose weights :func:`initialise` leaves alone."""
    from harlearn.models.transfer import _head_name
    from harlearn.transformers.swin import SwinTransformer
    from harlearn.transformers.vit import VisionTransformer

    if isinstance(model, SwinTransformer):
        return "head.fc"
    if isinstance(model, VisionTransformer):
        return "head"
    return _head_name(model)


def _body(shapes: dict[str, Any], head: str) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, the head left out."""
    return {k: tuple(v.shape if hasattr(v, "shape") else v) for k, v in shapes.items()
            if not (k == head or k.startswith(head + "."))}


def _entry_shapes(entry: dict[str, Any]) -> dict[str, Any]:
    """The state dict of an entry's architecture, built from its manifest arguments (random weights: only shapes are read)."""
    return dict(construct(entry["architecture"], entry["kwargs"], entry["num_classes"]).state_dict())


def find(model: nn.Module, registry: str | os.PathLike | None = None) -> str:
    """The supervised checkpoint whose body fits ``model`` exactly: the same parameter names and shapes.

    The head is left out of the comparison (the course task has its own classes), and so are
    constructor arguments that change no weight (``zero_init_residual``, drop rates). The MAE
    checkpoint is not a candidate: load it by name (``zoo.load("mae_vit_ch5", num_classes)``).

    Raises:
        ValueError: no shipped checkpoint fits; the message lists what the zoo has.
    """
    architecture = _architecture_of(model)
    head = head_prefix(model)
    wanted = _body(model.state_dict(), head)
    entries = read_manifest(registry)["checkpoints"]
    candidates = [n for n, e in sorted(entries.items()) if e["architecture"] == architecture]
    for name in candidates:
        if _body(_entry_shapes(entries[name]), head) == wanted:
            return name
    have = "; ".join(f"{n} {json.dumps(entries[n]['kwargs'])}" for n in candidates) or "none"
    raise ValueError(
        f"No course checkpoint fits this {architecture}: its layer shapes match none of the zoo's {architecture} "
        f"checkpoints ({have}). Build the model with a checkpoint's arguments, train one with "
        "`python -m harlearn.zoo build`, or start from random weights (pretrained=False)."
    )


def initialise(model: nn.Module, name: str | None = None, *, registry: str | os.PathLike | None = None) -> nn.Module:
    """Load a course checkpoint's body into ``model`` (built by the caller, with its own head), in place.

    This is what ``pretrained="zoo"`` does in the course's CNN factories (``resnet50``,
    ``vgg16``, ``densenet121``, ``googlenet``) and how a chapter starts a ``VisionTransformer`` or
    ``SwinTransformer`` it built: the caller keeps its constructor arguments (its number of
    classes, drop rates), the checkpoint supplies every weight but the head's. The sha256 is checked
    before the file is read, the file is read with ``weights_only=True``, and every body parameter
    must be there with its shape (strict, the head excepted).

    Args:
        model: the freshly built model.
        name: the checkpoint (default: the one :func:`find` picks for the model).
        registry: another registry folder.

    Returns:
        ``model`` with the checkpoint's weights (float32) and its own head; ``model.zoo_checkpoint``
        names the checkpoint.
    """
    folder = registry_dir(registry)
    name = name or find(model, folder)
    entry = info(name, folder)
    path = _check_file(name, entry, folder)
    state = torch.load(path, map_location="cpu", weights_only=True)
    head = head_prefix(model)
    own = model.state_dict()
    body = {k: v for k, v in state.items() if k in _body(state, head)}
    missing = [k for k in _body(own, head) if k not in body]
    wrong = [k for k, v in body.items() if k not in own or tuple(own[k].shape) != tuple(v.shape)]
    if missing or wrong:
        raise ValueError(
            f"Course checkpoint {name!r} does not fit this {type(model).__name__}: {len(missing)} of its parameters "
            f"are missing from the file and {len(wrong)} have another shape or name (e.g. {(missing + wrong)[:3]}); "
            f"build the model with the checkpoint's arguments ({json.dumps(entry['kwargs'])})."
        )
    with torch.no_grad():
        for k, v in body.items():
            own[k].copy_(v.to(own[k].dtype))
    model.zoo_checkpoint = name  # what it started from, for a chapter's table
    return model
