"""Tests of harlearn.metrics against scikit-learn and independent reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from harlearn import metrics as M


# ---- independent references ------------------------------------------------------------------


def devkit_vocap(scores, gt):
    """A literal port of the PASCAL VOC devkit (VOCevalcls.m + VOCap.m), written with loops.

    ``[so, si] = sort(-out); tp = gt(si) > 0; fp = gt(si) < 0; ...`` then ``VOCap(rec, prec)``.
    MATLAB's ``sort`` is stable, so ties keep their input order.
    """
    idx = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable
    tp, fp, ctp, cfp = [], [], 0, 0
    for i in idx:
        ctp += 1 if gt[i] > 0 else 0
        cfp += 1 if gt[i] <= 0 else 0
        tp.append(ctp)
        fp.append(cfp)
    npos = sum(1 for g in gt if g > 0)
    rec = [t / npos for t in tp]
    prec = [t / (t + f) for t, f in zip(tp, fp)]
    mrec = [0.0] + rec + [1.0]
    mpre = [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return ap


def loop_retrieval(dist, qlab, glab, ranks=(1, 5), self_mode=False):
    """Retrieval mAP / Rank-k with one query at a time and plain Python lists."""
    aps, hits = [], {k: [] for k in ranks}
    for q in range(len(qlab)):
        gallery = [j for j in range(len(glab)) if not (self_mode and j == q)]
        gallery.sort(key=lambda j: dist[q][j])
        match = [glab[j] == qlab[q] for j in gallery]
        if not any(match):
            continue
        found, precs = 0, []
        for r, m in enumerate(match, start=1):
            if m:
                found += 1
                precs.append(found / r)
        aps.append(sum(precs) / len(precs))
        for k in ranks:
            hits[k].append(any(match[:k]))
    out = {"mAP": sum(aps) / len(aps)}
    out.update({f"rank{k}": sum(hits[k]) / len(hits[k]) for k in ranks})
    return out


# ---- average precision -----------------------------------------------------------------------


def test_average_precision_equals_sklearn_tie_free_and_with_ties():
    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(2, 80))
        y = rng.integers(0, 2, n)
        if y.sum() == 0:
            y[0] = 1
        s = rng.random(n)
        if trial % 2:  # many ties: sklearn mode groups them exactly like sklearn
            s = np.round(s, 1)
        assert M.average_precision(s, y, "sklearn") == pytest.approx(
            skm.average_precision_score(y, s), abs=1e-12
        )


def test_average_precision_voc_equals_devkit():
    rng = np.random.default_rng(1)
    for trial in range(100):
        n = int(rng.integers(2, 80))
        y = rng.choice([-1, 1], n)
        if (y > 0).sum() == 0:
            y[0] = 1
        s = rng.random(n)
        if trial % 2:  # ties: both sort stably, so they agree here too
            s = np.round(s, 1)
        voc = M.average_precision(s, y, "voc")
        assert voc == pytest.approx(devkit_vocap(s.tolist(), y.tolist()), abs=1e-12)
        # interpolation can only raise precision, so VOC AP >= the step-wise AP (no ties)
        if trial % 2 == 0:
            assert voc >= M.average_precision(s, y, "sklearn") - 1e-12


def test_average_precision_hand_example_and_edge_cases():
    # ranking: +, -, +  -> precisions at hits 1 and 2/3
    s, y = np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])
    assert M.average_precision(s, y, "sklearn") == pytest.approx((1 + 2 / 3) / 2)
    assert M.average_precision(s, y, "voc") == pytest.approx((1 + 2 / 3) / 2)
    assert M.average_precision([0.1, 0.9], [0, 1]) == 1.0
    assert math.isnan(M.average_precision([0.1, 0.9], [0, 0]))
    # tie handling of the VOC mode is the stable sort: the first of the tied items ranks first
    assert M.average_precision([0.5, 0.5], [1, 0], "voc") == 1.0
    assert M.average_precision([0.5, 0.5], [0, 1], "voc") == 0.5
    assert M.average_precision([0.5, 0.5], [0, 1], "sklearn") == 0.5  # grouped
    with pytest.raises(ValueError):
        M.average_precision([0.1], [1], "11point")
    # torch tensors in, float out
    out = M.average_precision(torch.tensor([0.9, 0.1]), torch.tensor([1, 0]))
    assert isinstance(out, float) and out == 1.0


def test_per_class_and_mean_average_precision():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(50, 4))
    labels = rng.integers(0, 3, 50)  # class 3 never occurs -> NaN
    ap = M.per_class_average_precision(scores, labels, "sklearn")
    assert ap.shape == (4,) and np.isnan(ap[3])
    for c in range(3):
        assert ap[c] == pytest.approx(skm.average_precision_score(labels == c, scores[:, c]))
    assert M.mean_average_precision(scores, labels, "sklearn") == pytest.approx(ap[:3].mean())
    # multi-hot targets, torch in
    multi = (rng.random((50, 4)) < 0.3).astype(np.float32)
    multi[0] = 1
    ap2 = M.per_class_average_precision(torch.from_numpy(scores), torch.from_numpy(multi))
    for c in range(4):
        assert ap2[c] == pytest.approx(devkit_vocap(scores[:, c].tolist(), multi[:, c].tolist()))
    assert math.isnan(M.mean_average_precision(scores, np.zeros((50, 4))))


# ---- classification --------------------------------------------------------------------------


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert M.accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert M.accuracy(np.array([0, 1, 1]), [0, 1, 1]) == 1.0
    multi_hot = np.array([[1, 1], [1, 0], [0, 1]])  # correct when the top class is positive
    assert M.accuracy(logits, multi_hot) == pytest.approx(1 / 3)


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", None])
@pytest.mark.parametrize("num_classes", [None, 7])
def test_precision_recall_f1_equals_sklearn(average, num_classes):
    rng = np.random.default_rng(3)
    t = rng.integers(0, 5, 60)
    p = np.where(rng.random(60) < 0.5, t, rng.integers(0, 6, 60))  # class 5 only predicted
    ours = M.precision_recall_f1(torch.from_numpy(p), t, num_classes, average=average)
    labels = list(range(num_classes)) if num_classes else None
    P, R, F, _ = skm.precision_recall_fscore_support(
        t, p, labels=labels, average=average, zero_division=0
    )
    np.testing.assert_allclose(ours["precision"], P, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], R, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], F, atol=1e-12)


def test_confusion_matrix_equals_sklearn():
    rng = np.random.default_rng(4)
    t, p = rng.integers(0, 6, 100), rng.integers(0, 6, 100)
    cm = M.confusion_matrix(p, t, 8)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(t, p, labels=range(8)))
    assert cm[t[0], p[0]] >= 1 and cm.sum() == 100  # rows are the true classes
    logits = np.eye(6)[p] * 5.0
    np.testing.assert_array_equal(M.confusion_matrix(logits, t), skm.confusion_matrix(t, p))
    with pytest.raises(ValueError):
        M.confusion_matrix([0, 9], [0, 1], 3)


def test_summary():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(40, 3))
    t = rng.integers(0, 3, 40)
    out = M.summary(logits, t, ["a", "b", "c"])
    assert out["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == t))
    assert out["f1"] == pytest.approx(skm.f1_score(t, logits.argmax(1), average="macro"))
    probs = torch.from_numpy(logits).softmax(1).numpy()
    assert out["mAP"] == pytest.approx(M.mean_average_precision(probs, t))
    assert set(out["per_class"]) == {"a", "b", "c"}
    assert out["per_class"]["b"]["support"] == int((t == 1).sum())
    multi = M.summary(logits, np.eye(3)[t], None)  # multi-hot: no P/R/F1
    assert math.isnan(multi["f1"]) and not math.isnan(multi["mAP"])


# ---- retrieval -------------------------------------------------------------------------------


def test_retrieval_metrics_equal_loop_and_sklearn():
    rng = np.random.default_rng(6)
    Q, G = 23, 41
    dist = rng.random((Q, G))
    qlab = rng.integers(0, 6, Q)
    glab = rng.integers(0, 5, G)  # label 5 has no gallery match -> skipped
    qlab[0] = 5
    ours = M.retrieval_metrics(torch.from_numpy(dist), qlab, torch.from_numpy(glab),
                               ranks=(1, 3, 5))
    ref = loop_retrieval(dist.tolist(), qlab.tolist(), glab.tolist(), ranks=(1, 3, 5))
    assert set(ours) == {"mAP", "rank1", "rank3", "rank5"}
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12)
    valid = [q for q in range(Q) if (glab == qlab[q]).any()]
    sk = np.mean([skm.average_precision_score(glab == qlab[q], -dist[q]) for q in valid])
    assert ours["mAP"] == pytest.approx(sk, abs=1e-12)


def test_retrieval_string_labels_and_no_match():
    dist = np.array([[0.1, 0.5], [0.9, 0.2]])
    out = M.retrieval_metrics(dist, ["run", "jump"], ["jump", "run"], ranks=(1,))
    assert out == {"mAP": pytest.approx(0.5), "rank1": 0.0}
    with pytest.raises(ValueError, match="No query"):
        M.retrieval_metrics(dist, [0, 0], [1, 1])


def test_self_retrieval_metrics():
    rng = np.random.default_rng(7)
    N = 37
    x = rng.normal(size=(N, 4))
    dist = ((x[:, None] - x[None]) ** 2).sum(-1)  # self-distance 0: must be removed
    labels = rng.integers(0, 5, N)
    labels[-1] = 9  # a singleton: no match once itself is removed -> skipped
    ours = M.self_retrieval_metrics(dist, labels)
    ref = loop_retrieval(dist.tolist(), labels.tolist(), labels.tolist(), self_mode=True)
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12)
    for q in range(3):
        keep = np.arange(N) != q
        ap = skm.average_precision_score(labels[keep] == labels[q], -dist[q, keep])
        single = M.retrieval_metrics(dist[q : q + 1, keep], labels[q : q + 1], labels[keep])
        assert single["mAP"] == pytest.approx(ap, abs=1e-12)


def test_retrieval_is_vectorised():
    n = 1500  # a 1500 x 1500 matrix in well under a second; 5532 x 5532 takes ~1.5 s
    emb = torch.randn(n, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(1))
    out = M.self_retrieval_metrics(torch.cdist(emb, emb), labels)
    assert 0 < out["mAP"] < 1 and 0 <= out["rank1"] <= out["rank5"] <= 1
