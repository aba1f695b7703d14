"""The ``harlearn`` command: prepare a dataset, train a course model, evaluate a checkpoint.

After the course a student runs its models on their own data and hardware without copying
notebook cells::

    harlearn data stanford40 --download                      # or: harlearn data synthhar
    harlearn train resnet50-cbam --data stanford40 --profile full --out runs/cbam
    harlearn eval runs/cbam/best.pt --split test --json runs/cbam/test.json

``harlearn train`` builds the model as its chapter does (:mod:`harlearn.catalog`), takes the
course's recipe for it (:func:`harlearn.experiments.recipe`) and trains it with the loop every
chapter uses (:func:`harlearn.train.fit`), into a run folder: ``config.json`` (everything needed
to rebuild the model), ``history.csv`` / ``history.json``, ``best.pt`` and ``last.pt``.
``--resume`` continues an interrupted run exactly. A tenth of the training split (``--val-fraction``)
is held out to choose ``best.pt``; the test split is only for ``harlearn eval``.

Several GPUs or machines: PyTorch's launcher starts one process per GPU and the same loop
trains data-parallel (see :mod:`harlearn.distributed`)::

    torchrun --nproc_per_node=4 -m harlearn train resnet50 --data stanford40 --profile full

Every mistake a user can make (an unknown model, dataset or split, a missing folder or file)
gets one sentence that says what is valid, and exit status 2.

Not a paper's method: the shape of timm's ``train.py`` and MMAction2's ``tools/train.py``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "DATASETS"]

#: The data names of ``train`` and ``eval``: (the loader's layout, the dataset's default root).
DATASETS = {
    "synthhar": "stanford40",  # SynthHAR read in the Stanford40 layout (one action per image)
    "synthhar-voc": "voc",  # SynthHAR read in the VOC layout (one item per person, multi-hot)
    "stanford40": "stanford40",
    "voc": "voc",
}
#: What ``harlearn data`` prepares.
PREPARE = ("synthhar", "stanford40", "voc")
#: The split ``eval`` scores by default, per layout.
EVAL_SPLIT = {"stanford40": "test", "voc": "val"}
RUN_FILES = ("config.json", "history.csv", "history.json", "best.pt", "last.pt")


class CommandError(Exception):
    """A mistake the user can fix: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``harlearn`` (``--help`` on the command and on every verb)."""
    from harlearn import __version__

    parser = argparse.ArgumentParser(
        prog="harlearn",
        description="Human Action Recognition in Still Images: prepare data, train the course's models, evaluate them.",
        epilog="Several GPUs: torchrun --nproc_per_node=N -m harlearn train ... (see README).",
    )
    parser.add_argument("--version", action="version", version=f"harlearn {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="{data,train,eval,zoo}")
    verbs.required = True

    data = verbs.add_parser("data", help="prepare a dataset (SynthHAR) or fetch one (Stanford40, VOC)",
                            description="Generate SynthHAR, or check (and with --download fetch) Stanford40 "
                                        "or PASCAL VOC 2012 Action in their official layouts.")
    data.add_argument("name", metavar="NAME", help=f"one of {', '.join(PREPARE)}")
    data.add_argument("--root", type=Path, help="the dataset folder (default: under $HARLEARN_DATA)")
    data.add_argument("--download", action="store_true", help="fetch the official archives when missing")
    data.add_argument("--profile", help="sizes SynthHAR (ci, book, full; default $HARLEARN_PROFILE or book)")

    from harlearn.catalog import MODELS

    models = "\n".join(f"  {n:<18} {s.summary}" for n, s in MODELS.items())
    train = verbs.add_parser(
        "train", help="train a course model", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a course model with the course's recipe and training loop into a run folder.",
        epilog=f"models:\n{models}\n\nSeveral GPUs: torchrun --nproc_per_node=N -m harlearn train MODEL ... "
               "(--batch-size stays the global batch).")
    train.add_argument("model", metavar="MODEL", help="a course model (listed below)")
    _data_arguments(train)
    train.add_argument("--profile", help="ci, book or full: sizes, epochs, batch (default $HARLEARN_PROFILE or book)")
    train.add_argument("--epochs", type=int, help="passes over the training split (default: the profile's)")
    train.add_argument("--batch-size", type=int, help="images per step, over all processes (default: the profile's)")
    train.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    train.add_argument("--image-size", type=int, help="input side in pixels (default: the model's in the profile)")
    train.add_argument("--pretrained", metavar="SOURCE",
                       help="imagenet (torchvision / timm weights), a weights name (e.g. IMAGENET1K_V2), zoo (the course "
                            "checkpoint that fits the model at the profile's width), a checkpoint or state-dict file, or none (default: imagenet in the full profile, else none)")
    train.add_argument("--out", type=Path, help="the run folder (default: runs/MODEL-DATA)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    train.add_argument("--val-fraction", type=float, default=0.1,
                       help="fraction of the training split held out to choose best.pt (0: best = last; default 0.1)")
    train.add_argument("--seed", type=int, default=0, help="seeds the initial weights, hold-out, order, augmentation, dropout")
    train.add_argument("--max-batches", type=int, help="cap on batches per epoch (default: the profile's)")
    train.add_argument("--workers", type=int, help="DataLoader worker processes (default: the profile's)")
    train.add_argument("--sync-bn", action="store_true", help="with several processes: synchronised BatchNorm")

    ev = verbs.add_parser("eval", help="evaluate a checkpoint",
                          description="Score a checkpoint of `harlearn train` on a split: accuracy, macro precision, "
                                      "recall and F1, mAP (the retrieval model: mAP and Rank-k).")
    ev.add_argument("checkpoint", metavar="CHECKPOINT", type=Path, help="best.pt / last.pt of a run folder, or the folder")
    _data_arguments(ev, required=False)
    ev.add_argument("--split", help="default: test (Stanford40 layout) or val (VOC layout)")
    ev.add_argument("--json", metavar="FILE", help="also write the scores as JSON (- for standard output)")
    ev.add_argument("--rerank", action="store_true", help="retrieval: also k-reciprocal re-ranking")
    ev.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    ev.add_argument("--max-batches", type=int, help="score only the first batches (a quick check)")

    zoo = verbs.add_parser("zoo", help="the course checkpoints: list, info NAME, build NAME|all",
                           description="The course checkpoints (harlearn.zoo): list them, show one entry, or "
                                       "rebuild them from their recipes (build all is make zoo).")
    zoo.add_argument("--registry", help="registry folder (default $HARLEARN_ZOO or the package's)")
    zoo_verbs = zoo.add_subparsers(dest="zoo_verb", metavar="{list,info,build}", required=True)
    zoo_verbs.add_parser("list", help="the checkpoints and the recipes not built yet")
    zoo_info = zoo_verbs.add_parser("info", help="one checkpoint's manifest entry, as JSON")
    zoo_info.add_argument("name")
    zoo_build = zoo_verbs.add_parser("build", help="train checkpoints from their recipes ('all': every one)")
    zoo_build.add_argument("names", nargs="+")
    zoo_build.add_argument("--device", help="cpu, cuda, ... (default: the best one here)")
    zoo_build.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    return parser


def _data_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--data", required=required, metavar="NAME",
                        help=f"one of {', '.join(DATASETS)}" + ("" if required else " (default: the training data)"))
    parser.add_argument("--root", type=Path, help="the dataset folder (default: where `harlearn data NAME` puts it)")


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


def _profile(name: str | None):
    from harlearn import profiles

    try:
        return profiles.get(name) if name else profiles.current()
    except ValueError as err:
        raise CommandError(f"Unknown profile {name!r}: use ci, book or full.") from err


def _check_data_name(name: str, valid) -> None:
    if name not in valid:
        raise CommandError(f"Unknown dataset {name!r}: use one of {', '.join(valid)}.")


def _default_root(name: str, P) -> Path:
    from harlearn.data import course

    if name.startswith("synthhar"):
        from harlearn.data.synthhar import synthhar_root

        return synthhar_root(P, progress=sys.stderr.isatty())  # generated on first use
    return course.data_home() / course.REAL_ROOTS[DATASETS[name]]


def _open(name: str, root: Path, split: str, transform, download: bool = False):
    """The loader of ``name``'s layout on ``root``; a missing folder says how to get it."""
    from harlearn.data import Stanford40, VOCAction

    layout = DATASETS[name]
    synthetic = name.startswith("synthhar")
    if not root.exists() and not download:
        fix = f"harlearn data synthhar --root {root}" if synthetic else f"harlearn data {name} --root {root} --download"
        raise CommandError(f"No dataset folder at {root}: create it with `{fix}`, or pass the --root where it is.")
    cls = Stanford40 if layout == "stanford40" else VOCAction
    try:
        return cls(root, split=split, transform=transform, download=download)
    except FileNotFoundError as err:
        hint = "" if download or synthetic else f" (`harlearn data {name} --download` fetches it)"
        raise CommandError(f"{err}{hint}") from err
    except (ConnectionError, ValueError) as err:  # offline, a changed or unsafe archive, a malformed file
        raise CommandError(str(err)) from err


def _check_split(name: str, split: str) -> None:
    from harlearn.data import Stanford40, VOCAction

    splits = (Stanford40 if DATASETS[name] == "stanford40" else VOCAction).SPLITS
    if split not in splits:
        raise CommandError(f"Unknown split {split!r} for {name}: use one of {', '.join(splits)}.")


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def cmd_data(args: argparse.Namespace) -> int:
    """``harlearn data NAME``: generate SynthHAR, or check / fetch a real dataset."""
    if args.name not in PREPARE:
        raise CommandError(f"Unknown dataset {args.name!r}: use one of {', '.join(PREPARE)}.")
    P = _profile(args.profile)
    start = time.perf_counter()
    if args.name == "synthhar":
        from harlearn.data.synthhar import make_synthhar, synthhar_root

        if args.root is None:
            root = synthhar_root(P, progress=True)
        else:
            try:
                root = make_synthhar(args.root, images_per_class=P.synth_images_per_class,
                                     image_size=P.synth_image_size, progress=True)
            except FileExistsError as err:
                raise CommandError(str(err).replace("overwrite=True", "delete it first")) from err
        names = ("synthhar", "synthhar-voc")
    else:
        from harlearn.data import course

        root = args.root or course.data_home() / course.REAL_ROOTS[args.name]
        names = (args.name,)
    lines = []
    for name in names:
        layout = DATASETS[name]
        splits = ("train", "test") if layout == "stanford40" else ("train", "val")
        counts = []
        for split in splits:
            data = _open(name, Path(root), split, None, download=args.download)
            counts.append(f"{len(data)} {split}")
        lines.append(f"{name} ({layout} layout): {', '.join(counts)}, {len(data.classes)} classes")
    print(f"{args.name} at {root} ({time.perf_counter() - start:.1f} s)")
    for line in lines:
        print(f"  {line}")
    return 0


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def _holdout(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """``(train indices, validation indices)``: a seeded random ``fraction`` of ``range(n)`` held out."""
    import numpy as np

    if not 0.0 <= fraction < 1.0:
        raise CommandError(f"--val-fraction must lie in [0, 1), got {fraction}.")
    order = np.random.default_rng(seed).permutation(n)
    k = math.ceil(fraction * n) if fraction > 0 else 0
    return sorted(order[k:].tolist()), sorted(order[:k].tolist())


def _pretrained(source: str | None, P) -> tuple[bool | str, Path | None]:
    """``(pretrained argument of the factories, weights file to load)`` for ``--pretrained SOURCE``."""
    if source is None:
        return P.pretrained, None
    if source.lower() in ("none", "false", "scratch"):
        return False, None
    if source.lower() in ("imagenet", "true"):
        return True, None
    if source.lower() == "zoo":  # the course checkpoint whose body fits the model (harlearn.zoo.find)
        return "zoo", None
    path = Path(source).expanduser()
    if path.suffix in (".pt", ".pth", ".bin") or path.exists():
        if not path.is_file():
            raise CommandError(f"No weights file at {path}: pass an existing .pt/.pth file, imagenet, or none.")
        return False, path
    return source, None  # a torchvision / timm weights name, checked by the factory


def _load_weights(model, path: Path) -> str:
    """Load a checkpoint's (or a state dict's) weights by name; mismatched shapes (a new head) are skipped."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CommandError(f"Cannot read weights from {path} ({err}): pass a harlearn checkpoint or a state dict.") from err
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a harlearn checkpoint
    if not isinstance(state, dict):
        raise CommandError(f"{path} holds no state dict: pass a harlearn checkpoint or a state dict.")
    own = model.state_dict()
    keep = {k: v for k, v in state.items() if k in own and getattr(v, "shape", None) == own[k].shape}
    if not keep:
        raise CommandError(f"No weight of {path} fits this model (no name and shape in common).")
    model.load_state_dict(keep, strict=False)
    return f"{len(keep)} of {len(own)} tensors loaded from {path}"


def _write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, default=_json_default)
        f.write("\n")
    _publish(tmp, path)


def _publish(tmp: str, path: Path) -> None:
    """Rename ``tmp`` to ``path`` with ordinary file permissions (mkstemp makes them private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _clean(obj: Any) -> Any:
    """NaN -> None, recursively (JSON has no NaN)."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _write_history(out: Path, history) -> None:
    columns = history.keys()
    _write_json(out / "history.json", _clean(history.as_dict()))
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".history.csv.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for record in history:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()})
    _publish(tmp, out / "history.csv")


def _one_at_a_time(fn):
    """``fn()`` in every process: rank 0 first, then the first process of each other machine, then the rest.

    What the first call writes (a dataset generated on first use) the later ones find, on a shared
    file system or on each machine's own; no two processes write the same folder at once.
    """
    from harlearn import distributed

    if not distributed.is_distributed():
        return fn()
    rank, local = distributed.rank(), int(os.environ.get("LOCAL_RANK", "0"))
    result = None
    for turn in (rank == 0, rank != 0 and local == 0, local != 0):
        if turn:
            result = fn()
        distributed.barrier()
    return result


def cmd_train(args: argparse.Namespace) -> int:
    """``harlearn train MODEL --data NAME``: the course's recipe and loop, into a run folder."""
    from harlearn import catalog, distributed

    if args.model not in catalog.MODELS:
        raise CommandError(catalog.unknown_model_message(args.model))
    _check_data_name(args.data, DATASETS)
    spec = catalog.MODELS[args.model]
    layout = DATASETS[args.data]
    if layout not in spec.layouts:
        valid = ", ".join(n for n, lay in DATASETS.items() if lay in spec.layouts)
        raise CommandError(f"{args.model} trains on single-label data: use --data {valid}.")
    P = _profile(args.profile)
    for flag in ("epochs", "batch_size", "image_size", "max_batches"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise CommandError(f"--{flag.replace('_', '-')} must be a positive integer, got {value}.")
    if args.lr is not None and not args.lr > 0:
        raise CommandError(f"--lr must be positive, got {args.lr}.")
    pretrained, weights_file = _pretrained(args.pretrained, P)
    if pretrained and pretrained != "zoo" and not spec.imagenet:
        if args.pretrained is not None:
            raise CommandError(f"There are no ImageNet weights for {args.model}: use --pretrained none or a checkpoint.")
        pretrained = False  # the full profile's default: this model trains from scratch

    distributed.init_from_env()  # under torchrun: one of several processes
    main_process = distributed.is_main()
    say = print if main_process else (lambda *a, **k: None)
    out = args.out or Path("runs") / f"{args.model}-{args.data}"
    if (out / "last.pt").exists() and not args.resume:
        raise CommandError(f"{out} already holds a run: pass --resume to continue it, or another --out.")
    if args.resume and (out / "config.json").exists():
        saved = json.loads((out / "config.json").read_text())
        if (saved.get("model"), saved.get("data")) != (args.model, args.data):
            raise CommandError(f"{out} holds a run of {saved.get('model')} on {saved.get('data')}: resume it "
                               "with the same MODEL and --data, or pass another --out.")

    from harlearn import experiments
    from harlearn.data import transforms as T

    # SynthHAR is generated on first use: by one process per machine, never by two at once
    root = Path(args.root) if args.root else _one_at_a_time(lambda: _default_root(args.data, P))
    size = args.image_size or catalog.default_image_size(args.model, P)
    real = args.data in ("stanford40", "voc")
    train_tf = T.train_transform(size, randaugment=real)  # SynthHAR: crops and flips, as in chapter 2
    train_full = _open(args.data, root, "train", train_tf)
    plain = _open(args.data, root, "train", T.eval_transform(size))
    classes = list(train_full.classes)
    train_idx, val_idx = _holdout(len(train_full), args.val_fraction, args.seed)
    from torch.utils.data import Subset

    train_set = Subset(train_full, train_idx)
    val_set = Subset(plain, val_idx) if val_idx else None

    from harlearn.train import fit, seed_everything

    full_width = P.name == "full" or (bool(pretrained) and pretrained != "zoo")  # the zoo's are narrow
    seed_everything(args.seed)  # the initial weights (DDP copies rank 0's to the others)
    try:
        model = catalog.build_model(args.model, len(classes), profile=P, image_size=size,
                                    full_width=full_width, pretrained=pretrained)
    except (RuntimeError, ValueError) as err:  # ImageNet weights offline, no fitting course checkpoint: one sentence
        raise CommandError(str(err)) from err
    loaded = _load_weights(model, weights_file) if weights_file else None
    family = "finetune" if (pretrained or weights_file) else spec.family
    changes = dict(spec.changes)
    for flag, key in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"),
                      ("max_batches", "max_batches"), ("workers", "num_workers")):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    config = experiments.recipe(P, family, seed=args.seed, checkpoint_dir=str(out), progress=True,
                                sync_batchnorm=args.sync_bn, **changes)

    record = {
        "model": args.model, "data": args.data, "root": str(root), "layout": layout, "profile": P.name,
        "image_size": size, "full_width": full_width, "pretrained": args.pretrained or (pretrained or "none"),
        "weights_loaded": loaded, "classes": classes, "num_classes": len(classes), "task": spec.task,
        "recipe_family": family, "train_config": dataclasses.asdict(config), "seed": args.seed,
        "val_fraction": args.val_fraction, "train_items": len(train_idx), "val_items": len(val_idx),
        "world_size": distributed.world_size(), "command": sys.argv,
    }
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "config.json", record)
    say(f"{args.model} on {args.data} ({root}): {len(train_idx)} training / {len(val_idx)} validation items, "
        f"{len(classes)} classes, {size} px, profile {P.name}, recipe {family!r}, "
        f"{config.epochs} epoch{'s' if config.epochs != 1 else ''} of batch {config.batch_size}" +
        (f" over {distributed.world_size()} processes" if distributed.world_size() > 1 else "") + f" -> {out}")
    if loaded:
        say(f"  {loaded}")

    loss_fn = spec.loss() if spec.loss is not None else None
    try:
        history = fit(model, train_set, val_set, config, loss_fn=loss_fn, resume=args.resume)
    except ValueError as err:  # a batch size the processes cannot share, a resume not every one can see
        raise CommandError(str(err)) from err
    except RuntimeError as err:
        if "Non-finite loss" in str(err) or "corrupt" in str(err):
            raise CommandError(str(err)) from err
        raise
    if main_process:
        if val_set is None or not (out / "best.pt").exists():  # no validation score: best = last
            shutil.copyfile(out / "last.pt", out / "best.pt")
        _write_history(out, history)
        last = history.last
        shown = " ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float) and not math.isnan(v))
        say(f"done: {shown}\nrun folder {out}: {', '.join(RUN_FILES)}")
    distributed.barrier()
    distributed.destroy()
    return 0


# --------------------------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------------------------


def _run_config(checkpoint: Path) -> tuple[Path, dict]:
    if checkpoint.is_dir():
        checkpoint = checkpoint / "best.pt"
    if not checkpoint.is_file():
        raise CommandError(f"No checkpoint at {checkpoint}: pass best.pt or last.pt of a `harlearn train` run folder.")
    config = checkpoint.parent / "config.json"
    if not config.is_file():
        raise CommandError(f"No config.json beside {checkpoint}: harlearn eval reads checkpoints of `harlearn train` "
                           "run folders, which hold it.")
    return checkpoint, json.loads(config.read_text())


def _retrieval_scores(model, data, args, device) -> dict[str, float]:
    """Chapter 8's protocol: the split is query and gallery; mAP / Rank-k, optionally re-ranked."""
    from functools import partial

    import numpy as np
    import torch
    import torch.nn.functional as F

    from harlearn import metrics
    from harlearn.inference import predict
    from harlearn.models.retrieval import batch_embedding
    from harlearn.rerank import k_reciprocal_rerank

    out = predict(model, data, device=device, batch_size=args.batch_size, max_batches=args.max_batches,
                  forward=partial(batch_embedding, key="embedding"))
    features, labels = torch.from_numpy(out["logits"]).double(), np.asarray(out["targets"])
    f = F.normalize(features, dim=1)
    dist = (2 - 2 * f @ f.T).clamp(min=0).float()  # squared distance of unit vectors [N, N]
    scores = dict(metrics.self_retrieval_metrics(dist, labels))
    if args.rerank:  # the paper's k1 = 200, k2 = 20 for 5,532 images, scaled to this gallery
        G = len(labels)
        k1, k2 = max(2, round(200 * G / 5532)), max(1, round(20 * G / 5532))
        reranked = k_reciprocal_rerank(dist, dist, dist, k1=k1, k2=k2, lambda_value=0.3)
        scores.update({f"{k}_rerank": v for k, v in metrics.self_retrieval_metrics(reranked, labels).items()})
        scores.update(rerank_k1=k1, rerank_k2=k2)
    return scores


def _table(rows: dict[str, Any]) -> str:
    width = max(len(k) for k in rows)
    lines = []
    for k, v in rows.items():
        shown = "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else (
            f"{100 * v:6.2f} %" if isinstance(v, float) else str(v))
        lines.append(f"  {k:<{width}}  {shown}")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    """``harlearn eval CHECKPOINT``: the metrics the chapters report, as a table and as JSON."""
    from harlearn import catalog, distributed, metrics, profiles

    if distributed.launched_by_torchrun() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise CommandError("harlearn eval runs in one process: start it without torchrun.")
    checkpoint, run = _run_config(args.checkpoint)
    name = args.data or run["data"]
    _check_data_name(name, DATASETS)
    if run["model"] not in catalog.MODELS:
        raise CommandError(catalog.unknown_model_message(run["model"]))
    layout = DATASETS[name]
    if layout != run["layout"]:
        raise CommandError(f"{checkpoint} was trained on the {run['layout']} layout; --data {name} is the {layout} "
                           f"layout: use one of {', '.join(n for n, lay in DATASETS.items() if lay == run['layout'])}.")
    split = args.split or EVAL_SPLIT[layout]
    _check_split(name, split)
    P = profiles.get(run["profile"])
    if args.root:
        root = Path(args.root)
    elif name == run["data"]:
        root = Path(run["root"])
    else:
        root = _default_root(name, P)

    from harlearn.data import transforms as T
    from harlearn.train import load_checkpoint

    data = _open(name, root, split, T.eval_transform(run["image_size"]))
    if list(data.classes) != list(run["classes"]):
        raise CommandError(f"{root} has other classes than the ones {checkpoint} was trained on: evaluate on data "
                           "with the same class list.")
    model = catalog.build_model(run["model"], run["num_classes"], profile=P, image_size=run["image_size"],
                                full_width=run["full_width"], pretrained=False)
    try:
        state = load_checkpoint(checkpoint, model)
    except RuntimeError as err:
        raise CommandError(str(err)) from err
    device = profiles.device()
    start = time.perf_counter()
    if run["task"] == "retrieval":
        scores: dict[str, Any] = _retrieval_scores(model, data, args, device)
        per_class = None
    else:
        from harlearn.inference import predict

        spec = catalog.MODELS[run["model"]]
        out = predict(model, data, device=device, batch_size=args.batch_size, max_batches=args.max_batches,
                      loss_fn=spec.loss() if spec.loss is not None else None)
        summary = metrics.summary(out["logits"], out["targets"], run["classes"])
        per_class = summary.pop("per_class")
        scores = summary
    result = {
        "checkpoint": str(checkpoint), "epoch": state["epoch"], "model": run["model"], "data": name,
        "root": str(root), "split": split, "items": len(data) if args.max_batches is None else
        min(len(data), args.max_batches * args.batch_size), "profile": run["profile"], "scores": scores,
        "per_class": per_class, "seconds": time.perf_counter() - start,
    }
    print(f"{run['model']} (epoch {state['epoch']}) on {name} {split} ({result['items']} items):")
    print(_table({k: v for k, v in scores.items() if not k.startswith("rerank_")}))
    if args.json:
        text = json.dumps(_clean(result), indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            _write_json(Path(args.json), _clean(result))
            print(f"scores written to {args.json}")
    return 0


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def cmd_zoo(args: argparse.Namespace) -> int:
    """``harlearn zoo ...``: the zoo's own command line (``python -m harlearn.zoo``)."""
    from harlearn.zoo.__main__ import main as zoo_main

    argv = ["--registry", args.registry] if args.registry else []
    argv.append(args.zoo_verb)
    if args.zoo_verb == "info":
        argv.append(args.name)
    elif args.zoo_verb == "build":
        argv += list(args.names) + (["--device", args.device] if args.device else []) + (
            ["--no-resume"] if args.no_resume else [])
    return zoo_main(argv)


def main(argv: list[str] | None = None) -> int:
    """Run ``harlearn`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbs = {"data": cmd_data, "train": cmd_train, "eval": cmd_eval, "zoo": cmd_zoo}
    try:
        return verbs[args.verb](args)
    except CommandError as err:
        print(f"harlearn {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harlearn {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
