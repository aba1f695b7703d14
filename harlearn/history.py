"""The per-epoch record of a training run: :class:`History`.

Written by :func:`harlearn.train.fit` (and so by every model's training in the course), saved in
its checkpoints, read by :func:`harlearn.viz.plot_history`. It lives in its own small module so
that anything (models included) can read or build a history without importing the training
loop; ``harlearn.train.History`` is the same class.

Not a paper's method: a list of dicts with column access.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

__all__ = ["History"]


class History:
    """Per-epoch records of a :func:`harlearn.train.fit` run.

    Each record is a dict with ``epoch`` (1-based), ``train_loss``, ``train_acc`` (NaN when the
    loss function gives no logits), ``val_loss``, ``val_acc``, ``val_map`` (NaN without
    validation data or logits), any named loss terms of the loss function (e.g. the detector's
    ``loss_classifier``), ``lr`` (of the epoch's last step) and ``seconds``. ``history["val_acc"]`` is the list of one key over the epochs,
    ``history[-1]`` a record, ``history.last`` the last record.
    """

    def __init__(self, records: list[dict[str, float]] | None = None) -> None:
        self.records: list[dict[str, float]] = list(records or [])

    def append(self, record: dict[str, float]) -> None:
        """Add one epoch's record."""
        self.records.append(dict(record))

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self.records[key]
        if self.records and key not in self.records[0]:
            raise KeyError(f"{key!r} is not in the history; keys: {self.keys()}.")
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, last={self.last})"

    def keys(self) -> list[str]:
        """The record keys, in order."""
        return list(self.records[0]) if self.records else []

    @property
    def last(self) -> dict[str, float] | None:
        """The last epoch's record (None before the first epoch)."""
        return self.records[-1] if self.records else None

    def as_dict(self) -> dict[str, list]:
        """``{key: [value per epoch]}``, e.g. for ``pandas.DataFrame(history.as_dict())``."""
        return {k: self[k] for k in self.keys()}

    @classmethod
    def from_dict(cls, columns: dict[str, list]) -> "History":
        """The inverse of :meth:`as_dict`."""
        n = len(next(iter(columns.values()), []))
        return cls([{k: v[i] for k, v in columns.items()} for i in range(n)])

    def best(self, key: str, mode: str | None = None) -> dict[str, float]:
        """The record of the best epoch by ``key`` (NaN values ignored).

        Args:
            key: a record key, e.g. ``"val_map"``.
            mode: ``"max"`` or ``"min"``; default ``"min"`` for keys containing ``loss``.

        Returns:
            The whole record, e.g. ``history.best("val_map")["epoch"]``.
        """
        mode = mode or ("min" if "loss" in key else "max")
        scored = [r for r in self.records if not math.isnan(float(r[key]))]
        if not scored:
            raise ValueError(f"No epoch has a value for {key!r}.")
        pick = max if mode == "max" else min
        return pick(scored, key=lambda r: r[key])
