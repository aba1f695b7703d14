"""Evaluation metrics: average precision, classification scores and retrieval scores.

What the course reports, computed in one place so that every chapter measures the same way:

- **Average precision** (AP) per class and its mean (mAP), the metric of Stanford40 and of
  PASCAL VOC 2012 Action. Two definitions are available:

  * ``interpolation="voc"``: the all-point interpolated AP of the PASCAL VOC devkit (2010 and
    later, ``VOCap`` in the MATLAB devkit; Everingham et al., "The PASCAL Visual Object Classes
    Challenge: A Retrospective", IJCV 2015). Precision is made monotonically decreasing before
    the area under the precision-recall curve is summed.
  * ``interpolation="sklearn"``: the non-interpolated step-wise AP of
    ``sklearn.metrics.average_precision_score`` (the mean of the precision at each recall step).

  **Ties in the scores.** scikit-learn groups tied scores into one threshold. The VOC devkit
  sorts the scores and walks the sorted list one item at a time, so its result on tied scores
  depends on the sort order. Here the ``"voc"`` mode uses a *stable* descending sort: among tied
  scores, the item that comes first in the input is ranked first. The ``"sklearn"`` mode groups
  ties exactly like scikit-learn. On tie-free scores the ``"voc"`` mode equals the devkit and the
  ``"sklearn"`` mode equals scikit-learn.

- **Classification**: :func:`accuracy`, :func:`precision_recall_f1` and :func:`confusion_matrix`
  (equal to scikit-learn's with ``zero_division=0``), and :func:`summary`, a
  ``classification_report``-like dictionary.

- **Retrieval** (the re-identification-style protocol of the retrieval chapter): mAP and Rank-k
  (the CMC curve) from a query-by-gallery distance matrix, vectorised so that 5,532 x 5,532 is
  quick. Queries without any match in the gallery are skipped, as in the Market-1501 protocol.

Every function accepts numpy arrays or torch tensors (on any device) and returns Python floats
or numpy arrays.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

__all__ = [
    "average_precision",
    "per_class_average_precision",
    "mean_average_precision",
    "accuracy",
    "precision_recall_f1",
    "confusion_matrix",
    "summary",
    "retrieval_metrics",
    "self_retrieval_metrics",
]


def _np(x: Any) -> np.ndarray:
    """A numpy copy of ``x`` (tensor on any device, list or array)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def _preds(logits_or_preds: Any) -> np.ndarray:
    """Predicted class indices: the argmax of scores ``[N, C]``, or the given indices ``[N]``."""
    p = _np(logits_or_preds)
    if p.ndim == 2:
        return p.argmax(axis=1)
    if p.ndim != 1:
        raise ValueError(f"Expected scores [N, C] or class indices [N], got shape {p.shape}.")
    return p.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Average precision
# --------------------------------------------------------------------------------------------


def average_precision(scores: Any, targets: Any, interpolation: str = "voc") -> float:
    """Average precision of one binary ranking problem.

    Args:
        scores: ``[N]`` confidence that each item is positive (higher = more confident).
        targets: ``[N]`` ground truth; an item is positive where ``target > 0`` (so ``{0, 1}``,
            booleans and VOC's ``{-1, 1}`` all work).
        interpolation: ``"voc"`` for the PASCAL VOC 2010+ all-point interpolated AP (stable sort,
            ties ranked in input order), or ``"sklearn"`` for the value of
            ``sklearn.metrics.average_precision_score`` (ties grouped).

    Returns:
        The AP in ``[0, 1]``, or NaN when there is no positive item.
    """
    s = _np(scores).astype(np.float64).ravel()
    y = _np(targets).ravel() > 0
    if s.shape != y.shape:
        raise ValueError(f"scores and targets differ in size: {s.shape} vs {y.shape}.")
    if interpolation not in ("voc", "sklearn"):
        raise ValueError(f"interpolation must be 'voc' or 'sklearn', got {interpolation!r}.")
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")

    order = np.argsort(-s, kind="stable")  # descending; ties keep the input order
    s, y = s[order], y[order]
    tp = np.cumsum(y)  # true positives among the top k+1
    fp = np.cumsum(~y)  # false positives among the top k+1

    if interpolation == "sklearn":
        # One operating point per distinct score: the last index of every group of ties.
        last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
        precision = tp[last] / (tp[last] + fp[last])
        recall = tp[last] / n_pos
        return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))

    # VOCap: pad, make precision monotonically decreasing, sum over the recall steps.
    recall = np.r_[0.0, tp / n_pos, 1.0]
    precision = np.r_[0.0, tp / (tp + fp), 0.0]
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _one_vs_rest(targets: Any, num_classes: int) -> np.ndarray:
    """Multi-hot ``[N, C]`` targets from class indices ``[N]`` (or pass multi-hot through)."""
    t = _np(targets)
    if t.ndim == 1:
        onehot = np.zeros((t.size, num_classes), dtype=bool)
        onehot[np.arange(t.size), t.astype(np.int64)] = True
        return onehot
    if t.ndim == 2 and t.shape[1] == num_classes:
        return t > 0
    raise ValueError(
        f"targets must be class indices [N] or multi-hot [N, {num_classes}], got {t.shape}."
    )


def per_class_average_precision(
    scores: Any, targets: Any, interpolation: str = "voc"
) -> np.ndarray:
    """One-vs-rest AP of every class.

    Args:
        scores: ``[N, C]`` class scores (logits or probabilities: AP only uses the ranking of
            the ``N`` items within each class column).
        targets: ``[N]`` class indices (single-label, Stanford40) or ``[N, C]`` multi-hot
            (multi-label, VOC Action; positive where ``> 0``).
        interpolation: ``"voc"`` or ``"sklearn"``, see :func:`average_precision`.

    Returns:
        ``[C]`` float array; NaN for a class without any positive item.
    """
    s = _np(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be [N, C], got shape {s.shape}.")
    t = _one_vs_rest(targets, s.shape[1])
    if t.shape[0] != s.shape[0]:
        raise ValueError(f"scores has {s.shape[0]} rows but targets has {t.shape[0]}.")
    return np.array(
        [average_precision(s[:, c], t[:, c], interpolation) for c in range(s.shape[1])]
    )


def mean_average_precision(scores: Any, targets: Any, interpolation: str = "voc") -> float:
    """Mean of :func:`per_class_average_precision` over the classes that have positives.

    Args:
        scores: ``[N, C]`` class scores.
        targets: ``[N]`` class indices or ``[N, C]`` multi-hot.
        interpolation: ``"voc"`` or ``"sklearn"``, see :func:`average_precision`.

    Returns:
        The mAP in ``[0, 1]``; NaN when no class has a positive item.
    """
    ap = per_class_average_precision(scores, targets, interpolation)
    ap = ap[~np.isnan(ap)]
    return float(ap.mean()) if ap.size else float("nan")


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


def accuracy(logits_or_preds: Any, targets: Any) -> float:
    """Top-1 accuracy.

    Args:
        logits_or_preds: ``[N, C]`` scores (the argmax is the prediction) or ``[N]`` class
            indices.
        targets: ``[N]`` class indices, or ``[N, C]`` multi-hot: then a prediction is correct
            when the predicted class is one of the positive classes.

    Returns:
        The fraction of correct predictions.
    """
    p = _preds(logits_or_preds)
    t = _np(targets)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{p.shape[0]} predictions but {t.shape[0]} targets.")
    if p.size == 0:
        raise ValueError("accuracy of an empty set is undefined.")
    if t.ndim == 2:
        return float(np.mean(t[np.arange(p.size), p] > 0))
    return float(np.mean(p == t.astype(np.int64)))


def confusion_matrix(preds: Any, targets: Any, num_classes: int | None = None) -> np.ndarray:
    """Confusion matrix with rows = true class and columns = predicted class.

    Equal to ``sklearn.metrics.confusion_matrix(targets, preds, labels=range(num_classes))``.

    Args:
        preds: ``[N]`` predicted indices or ``[N, C]`` scores (argmax taken).
        targets: ``[N]`` true class indices.
        num_classes: number of classes ``C``; default: the largest index seen plus one.

    Returns:
        ``[C, C]`` int64 array of counts.
    """
    p, t = _preds(preds), _np(targets).astype(np.int64)
    if p.shape != t.shape:
        raise ValueError(f"preds and targets differ in shape: {p.shape} vs {t.shape}.")
    if num_classes is None:
        num_classes = int(max(p.max(initial=-1), t.max(initial=-1))) + 1
    if p.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= num_classes):
        raise ValueError(f"class indices must lie in [0, {num_classes}).")
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)  # [C_true, C_pred]


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def precision_recall_f1(
    preds: Any, targets: Any, num_classes: int | None = None, average: str | None = "macro"
) -> dict[str, Any]:
    """Precision, recall and F1 of a single-label classifier.

    Equal to ``sklearn.metrics.precision_recall_fscore_support(targets, preds, labels=...,
    average=average, zero_division=0)``.

    Args:
        preds: ``[N]`` predicted indices or ``[N, C]`` scores (argmax taken).
        targets: ``[N]`` true class indices.
        num_classes: score the classes ``0 .. num_classes - 1`` (a class absent from both
            ``preds`` and ``targets`` then counts as 0 in the macro average, like scikit-learn
            with ``labels=range(num_classes)``). Default: the classes present in either.
        average: ``"macro"`` (unweighted class mean), ``"weighted"`` (weighted by support),
            ``"micro"`` (global counts) or ``None`` (per-class arrays).

    Returns:
        ``{"precision", "recall", "f1"}``: floats, or ``[C]`` arrays when ``average`` is None.
    """
    p, t = _preds(preds), _np(targets).astype(np.int64)
    size = num_classes or int(max(p.max(initial=-1), t.max(initial=-1))) + 1
    cm = confusion_matrix(p, t, size)
    labels = np.arange(size) if num_classes else np.union1d(p, t)
    tp = np.diag(cm)[labels]
    pred_count = cm.sum(axis=0)[labels]  # tp + fp
    true_count = cm.sum(axis=1)[labels]  # tp + fn (the support)
    if average == "micro":
        tp, pred_count, true_count = tp.sum(), pred_count.sum(), true_count.sum()
    precision = _divide(tp, pred_count)
    recall = _divide(tp, true_count)
    f1 = _divide(2 * tp, pred_count + true_count)  # 2PR / (P + R) from the counts
    scores = {"precision": precision, "recall": recall, "f1": f1}
    if average is None:
        return scores
    if average == "micro":
        return {k: float(v) for k, v in scores.items()}
    if average == "macro":
        weights = np.ones(len(labels))
    elif average == "weighted":
        weights = true_count.astype(np.float64)
    else:
        raise ValueError(f"average must be 'macro', 'weighted', 'micro' or None, got {average!r}.")
    return {k: float(_divide(np.sum(v * weights), np.sum(weights))) for k, v in scores.items()}


def summary(
    logits: Any, targets: Any, class_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """A ``classification_report``-like summary of a classifier's outputs.

    Single-label targets get accuracy, macro precision / recall / F1 and mAP; multi-hot targets
    (VOC Action) get accuracy (the top class is one of the positives) and mAP only.
    The mAP uses the VOC AP on the softmax probabilities (sigmoid for multi-hot targets).

    Args:
        logits: ``[N, C]`` class scores.
        targets: ``[N]`` class indices or ``[N, C]`` multi-hot.
        class_names: ``C`` names for the per-class table (default ``"0"``, ``"1"``, ...).

    Returns:
        ``{"accuracy", "precision", "recall", "f1", "mAP", "per_class"}`` where ``per_class``
        maps each class name to ``{"AP", "precision", "recall", "f1", "support"}``
        (``pandas.DataFrame(result["per_class"]).T`` makes it a table).
    """
    z = torch.as_tensor(_np(logits)).double()
    t = _np(targets)
    num_classes = z.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for {num_classes} classes.")
    multilabel = t.ndim == 2
    probs = (z.sigmoid() if multilabel else z.softmax(dim=1)).numpy()
    ap = per_class_average_precision(probs, t)
    out: dict[str, Any] = {"accuracy": accuracy(z.numpy(), t)}
    if multilabel:
        support = (t > 0).sum(axis=0)
        per = {"precision": [np.nan] * num_classes, "recall": [np.nan] * num_classes}
        per["f1"] = [np.nan] * num_classes
        out.update(precision=float("nan"), recall=float("nan"), f1=float("nan"))
    else:
        support = np.bincount(t.astype(np.int64), minlength=num_classes)
        per = precision_recall_f1(z.numpy(), t, num_classes, average=None)
        out.update(precision_recall_f1(z.numpy(), t, num_classes, average="macro"))
    out["mAP"] = float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan")
    out["per_class"] = {
        name: {
            "AP": float(ap[c]),
            "precision": float(per["precision"][c]),
            "recall": float(per["recall"][c]),
            "f1": float(per["f1"][c]),
            "support": int(support[c]),
        }
        for c, name in enumerate(names)
    }
    return out


# --------------------------------------------------------------------------------------------
# Retrieval
# --------------------------------------------------------------------------------------------


def _label_ids(*label_arrays: Any) -> list[torch.Tensor]:
    """Map labels of any type (ints, strings) to shared int64 ids, one tensor per input."""
    arrays = [_np(a).ravel() for a in label_arrays]
    _, ids = np.unique(np.concatenate(arrays), return_inverse=True)
    out, start = [], 0
    for a in arrays:
        out.append(torch.from_numpy(ids[start : start + a.size].astype(np.int64)))
        start += a.size
    return out


def _ranked_scores(matches: torch.Tensor, ranks: Sequence[int]) -> tuple[torch.Tensor, ...]:
    """AP and Rank-k hits of queries whose gallery is already sorted by distance.

    Args:
        matches: ``[q, G]`` bool, ``matches[i, j]`` = the j-th nearest gallery item of query i
            has the query's label.
        ranks: the k of the Rank-k scores.

    Returns:
        ``(ap [q], hits [q, len(ranks)], valid [q])``; ``valid`` is False for queries without
        any match (their AP is 0 and must be skipped).
    """
    m = matches.double()  # [q, G]
    n_match = m.sum(dim=1)  # [q]
    position = torch.arange(1, m.shape[1] + 1, dtype=torch.float64)  # 1-based rank [G]
    precision_at_hit = m.cumsum(dim=1) / position * m  # precision where a match is, else 0
    ap = precision_at_hit.sum(dim=1) / n_match.clamp(min=1)
    hits = torch.stack([matches[:, : min(k, m.shape[1])].any(dim=1) for k in ranks], dim=1)
    return ap, hits, n_match > 0


def _retrieval(
    dist: Any, query_ids: torch.Tensor, gallery_ids: torch.Tensor, ranks: Sequence[int],
    exclude_self: bool, chunk: int = 512,
) -> dict[str, float]:
    """Shared body of :func:`retrieval_metrics` and :func:`self_retrieval_metrics`."""
    d = dist.detach().cpu() if isinstance(dist, torch.Tensor) else torch.as_tensor(np.asarray(dist))
    if d.ndim != 2 or d.shape != (query_ids.numel(), gallery_ids.numel()):
        raise ValueError(
            f"dist must be [Q, G] = [{query_ids.numel()}, {gallery_ids.numel()}], got "
            f"{tuple(d.shape)}."
        )
    ranks = tuple(int(k) for k in ranks)
    aps, hits, valid = [], [], []
    for start in range(0, d.shape[0], chunk):  # chunks of queries bound the memory
        rows = d[start : start + chunk]  # [q, G]
        rows = rows if rows.is_floating_point() else rows.double()
        order = torch.sort(rows, dim=1, stable=True).indices  # nearest first; ties: gallery order
        if exclude_self:  # drop each query from its own ranked gallery
            q = torch.arange(start, start + rows.shape[0]).unsqueeze(1)  # [q, 1]
            order = order[order != q].reshape(rows.shape[0], -1)  # [q, G - 1]
        matches = gallery_ids[order] == query_ids[start : start + rows.shape[0]].unsqueeze(1)
        ap, hit, ok = _ranked_scores(matches, ranks)
        aps.append(ap)
        hits.append(hit)
        valid.append(ok)
    ap, hit, ok = torch.cat(aps), torch.cat(hits), torch.cat(valid)
    if not ok.any():
        raise ValueError("No query has a match in the gallery: retrieval mAP is undefined.")
    result = {"mAP": float(ap[ok].mean())}
    for i, k in enumerate(ranks):
        result[f"rank{k}"] = float(hit[ok, i].double().mean())
    return result


def retrieval_metrics(
    dist: Any, query_labels: Any, gallery_labels: Any, ranks: Sequence[int] = (1, 5)
) -> dict[str, float]:
    """mAP and Rank-k of a query set searched in a separate gallery.

    A gallery item is a correct match when it has the query's label. The AP of a query is the
    mean, over all its matches in the gallery, of the precision at the rank of each match (equal
    to ``sklearn.metrics.average_precision_score(matches, -dist[q])`` when no distances tie;
    tied distances are ranked in gallery order). Rank-k is the fraction of queries with a match
    among their k nearest gallery items. Queries without any match in the gallery are skipped.

    Args:
        dist: ``[Q, G]`` distances, smaller = more similar.
        query_labels: ``[Q]`` labels (ints or strings).
        gallery_labels: ``[G]`` labels.
        ranks: the k of the reported Rank-k scores.

    Returns:
        ``{"mAP": ..., "rank1": ..., "rank5": ...}`` (one ``rank{k}`` per k), fractions in
        ``[0, 1]`` averaged over the queries that have a match.

    Raises:
        ValueError: when no query has a match in the gallery.
    """
    q_ids, g_ids = _label_ids(query_labels, gallery_labels)
    return _retrieval(dist, q_ids, g_ids, ranks, exclude_self=False)


def self_retrieval_metrics(
    dist: Any, labels: Any, ranks: Sequence[int] = (1, 5)
) -> dict[str, float]:
    """Retrieval scores when one set is both query and gallery (leave-one-out).

    Every item queries all the *other* items: the query itself is removed from its own ranked
    gallery, whatever its distance to itself. Otherwise as :func:`retrieval_metrics`.

    Args:
        dist: ``[N, N]`` pairwise distances, smaller = more similar.
        labels: ``[N]`` labels.
        ranks: the k of the reported Rank-k scores.

    Returns:
        ``{"mAP": ..., "rank1": ..., "rank5": ...}``.

    Raises:
        ValueError: when no item shares its label with another item.
    """
    (ids,) = _label_ids(labels)
    return _retrieval(dist, ids, ids, ranks, exclude_self=True)
