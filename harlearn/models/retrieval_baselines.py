"""Retrieval baselines (GeM, BNNeck, batch-hard triplet): a re-export of
:mod:`harlearn.models.retrieval.baselines`, so that old imports keep working.

Papers: Radenović et al., arXiv:1711.02512 (GeM); Luo et al., arXiv:1903.07321 (BNNeck);
Hermans et al., arXiv:1703.07737 (batch-hard triplet). Where the code departs from them is in
:mod:`harlearn.models.retrieval.baselines`.
"""

from harlearn.models.retrieval.baselines import (  # noqa: F401
    BNNeckNet,
    GeM,
    GlobalPoolRetrieval,
    batch_hard_triplet_loss,
    gem,
    reid_loss_fn,
)

__all__ = ["gem", "GeM", "GlobalPoolRetrieval", "BNNeckNet", "batch_hard_triplet_loss", "reid_loss_fn"]
