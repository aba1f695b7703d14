"""k-reciprocal re-ranking of a retrieval distance matrix, vectorised in torch.

Paper: Zhun Zhong, Liang Zheng, Donglin Cao and Shaozi Li, "Re-ranking Person
Re-identification with k-reciprocal Encoding", CVPR 2017, arXiv:1701.08398.

Retrieval (find the gallery images showing the same action as a query image) ranks the
gallery by a feature distance. Re-ranking looks at the *neighbourhoods* of the query and of
each gallery image: two images whose nearest neighbours largely coincide are probably
related even when their own distance is not the smallest. :func:`k_reciprocal_rerank` takes
the three distance matrices among the queries and the gallery and returns the re-ranked
query-gallery distance. The steps, each a named helper below (N = Q + G images, query first):

1. **Original distance** (``_original_distance``): the N x N matrix of all pairs, squared
   and divided, for each image, by its largest distance, so every row lies in [0, 1].
2. **Initial ranking** (``_initial_rank``): each image's nearest neighbours, ties broken
   by index.
3. **k-reciprocal neighbours with the 1/2-expansion** (``_reciprocal_mask``,
   ``_expanded_neighbours``): ``R(p, k1)`` keeps the ``g`` among the ``k1 + 1`` nearest
   of ``p`` that also have ``p`` among their own ``k1 + 1`` nearest. It is then expanded:
   for every ``g`` in ``R(p, k1)``, the smaller set ``R(g, round(k1 / 2))`` is added when
   more than 2/3 of it already lies in ``R(p, k1)``. The result is ``R*(p)``.
4. **Gaussian-kernel weights V** (``_gaussian_weights``): ``V[p, g] = exp(-d(p, g))``
   for ``g`` in ``R*(p)``, 0 elsewhere, each row normalised to sum to 1. ``V`` is sparse.
5. **Local query expansion** (``_query_expansion``): each row of ``V`` is replaced by
   the mean of the rows of its ``k2`` nearest neighbours (itself included); skipped when
   ``k2 == 1``.
6. **Jaccard distance** (``_jaccard_distance``): with ``m = sum_k min(V[p, k], V[g, k])``,
   ``d_J(p, g) = 1 - m / (2 - m)`` (the paper's ``1 - sum min / sum max`` for rows summing
   to 1).
7. **Final distance**: ``(1 - lambda) * d_J + lambda * d``, its query x gallery block.

Memory (N = Q + G, c = ``chunk_size``). The only N x N tensor is the normalised original
distance, dense float32: 4 N^2 bytes, about 490 MB for the Stanford40 test set as query and
gallery (N = 11,064). The caller's three input matrices and the Q x G float32 output come on
top. The rankings are N x K (K = ``max(k1 + 1, k2)``); ``V`` and its query-expanded form are
sparse (about ``|R*|`` and ``k2 * |R*|`` entries a row, tens at k1 = 20). Everything else is
per chunk of c rows: a few c x N temporaries (the chunk's distances, masks, a dense
accumulator), the c x (k1 + 1) x (k1 / 2 + 1) candidate sets of step 3, and at most
``_MAX_PAIRS`` (2^19) products in step 6 (more only when a single query row needs more).
No N x N x k tensor is ever formed. Measured on the CPU at N = 11,064 (random 128-d
features, k1 = 20): 0.7 to 0.8 GB resident above the inputs, the dense matrix and the
output included.

Departures from the reference code (``re_ranking`` in torchreid, from the authors' Python
port, which the tests use as the oracle): none in the output; it agrees to float32
rounding (differences of 1e-7 to 1e-6, from summing in another order). How it gets there
differs: a sparse ``V`` instead of a dense N x N one, only the first K neighbours of each
row instead of a full ``argsort``, and chunks of rows instead of Python loops over images.
Two behaviours are kept on purpose:

- As in the reference, the given distances are *squared* before use. torchreid passes
  squared Euclidean distances, so the weights and the ``lambda`` term see their squares
  (the ranking is unaffected). Pass what the reference would get to get its numbers.
- Exactly equal distances are ordered by index (a stable sort). The reference's
  ``np.argsort`` (its default sort is not stable) leaves their order unspecified, so
  where such a tie straddles a neighbour-list cut-off the two may pick different
  neighbours; with the reference's sort made stable they agree there too (a test checks
  this). Query = gallery is such a case: every distance then comes in equal pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["k_reciprocal_rerank"]

# Most (query, gallery, column) products the Jaccard step forms at once (a few tens of MB
# of temporaries); see _query_chunks.
_MAX_PAIRS = 1 << 19


class _CSR(NamedTuple):
    """A sparse float32 matrix in compressed-row form, on any device."""

    crow: torch.Tensor  # [rows + 1] int64: row r's entries are crow[r]:crow[r + 1]
    col: torch.Tensor  # [nnz] int64 column of each entry
    val: torch.Tensor  # [nnz] float32 value of each entry
    n_cols: int  # number of columns


def k_reciprocal_rerank(
    q_g_dist: torch.Tensor | np.ndarray,
    q_q_dist: torch.Tensor | np.ndarray,
    g_g_dist: torch.Tensor | np.ndarray,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    *,
    chunk_size: int = 256,
) -> torch.Tensor | np.ndarray:
    """Re-rank a query-gallery distance matrix with k-reciprocal encoding (Zhong et al. 2017).

    Gives the output of the authors' reference ``re_ranking`` (as shipped in torchreid) on
    the same inputs, computed with batched torch operations on the inputs' device (CUDA
    when ``q_g_dist`` is a CUDA tensor) and in memory bounded by ``chunk_size``.

    Args:
        q_g_dist: Query-gallery distances, shape [Q, G]. Like the reference, the function
            squares them, so pass what torchreid passes (squared Euclidean distances).
        q_q_dist: Query-query distances, shape [Q, Q].
        g_g_dist: Gallery-gallery distances, shape [G, G].
        k1: Neighbourhood size of the k-reciprocal sets (the paper's k1). Lists longer
            than the Q + G images are cut, as in the reference.
        k2: Number of neighbours averaged by the local query expansion (the paper's k2);
            1 switches the expansion off.
        lambda_value: Weight of the original distance in the final one, in [0, 1]
            (the paper's lambda; 0 keeps only the Jaccard distance).
        chunk_size: Rows processed at once. Peak memory beyond the one dense
            (Q + G) x (Q + G) float32 matrix grows linearly with it; on a GPU a larger
            value means fewer, larger kernels.

    Returns:
        The re-ranked distances [Q, G] in float32, a NumPy array when ``q_g_dist`` is one,
        otherwise a tensor on ``q_g_dist``'s device.

    Raises:
        ValueError: If a shape or a parameter is out of range.

    Example:
        >>> import torch
        >>> q, g = torch.randn(3, 8), torch.randn(5, 8)
        >>> d = lambda a, b: torch.cdist(a, b) ** 2
        >>> k_reciprocal_rerank(d(q, g), d(q, q), d(g, g), k1=4, k2=2).shape
        torch.Size([3, 5])
    """
    was_numpy = isinstance(q_g_dist, np.ndarray)
    device = torch.device("cpu") if was_numpy else torch.as_tensor(q_g_dist).device
    q_g, q_q, g_g = (_as_tensor(x, device) for x in (q_g_dist, q_q_dist, g_g_dist))
    dtype = torch.promote_types(torch.promote_types(q_g.dtype, q_q.dtype), g_g.dtype)
    q_g, q_q, g_g = q_g.to(dtype), q_q.to(dtype), g_g.to(dtype)  # as np.concatenate would
    _check_arguments(q_g, q_q, g_g, k1, k2, lambda_value, chunk_size)
    n_query, n = q_g.shape[0], sum(q_g.shape)

    # Neighbour-list lengths, cut at n as the reference's slicing cuts them.
    k1_len = min(n, k1 + 1)  # R(p, k1) is chosen among the k1 + 1 nearest
    half_len = min(n, round(k1 / 2) + 1)  # round half to even, like np.around
    k2_len = min(n, k2)

    with torch.no_grad():
        dist = _original_distance(q_g, q_q, g_g)  # [N, N]
        rank = _initial_rank(dist, max(k1_len, k2_len), chunk_size)  # [N, K]
        weights = _gaussian_weights(dist, rank, k1_len, half_len, chunk_size)  # sparse [N, N]
        if k2 != 1:
            weights = _query_expansion(weights, rank[:, :k2_len], chunk_size)  # sparse [N, N]
        by_column = _transpose(weights, first_row=n_query)  # sparse [N, G]: V[Q:] transposed
        final = torch.empty(n_query, n - n_query, device=device)  # [Q, G]
        for rows in _query_chunks(weights, by_column, n_query, chunk_size):
            jaccard = _jaccard_distance(weights, by_column, rows)  # [c, G]
            final[rows] = jaccard * (1 - lambda_value) + dist[rows, n_query:] * lambda_value
    return final.cpu().numpy() if was_numpy else final


# ----------------------------------------------------------------------------------------
# Step 1-2: original distance and initial ranking
# ----------------------------------------------------------------------------------------


def _original_distance(q_g: torch.Tensor, q_q: torch.Tensor, g_g: torch.Tensor) -> torch.Tensor:
    """The squared, normalised distance among all N = Q + G images (queries first).

    The reference builds ``D = [[q_q, q_g], [q_g^T, g_g]]``, squares it (in the input
    dtype, then float32) and returns ``(D / D.max(axis=0)).T``: row ``i`` is column ``i`` of
    ``D`` divided by its maximum. The same is written here block by block into one float32
    matrix, so no second N x N copy is made.

    Returns:
        Float32 tensor [N, N], every row in [0, 1] (1 at the row's farthest image).
    """
    n_query = q_g.shape[0]
    n = n_query + q_g.shape[1]
    dist = torch.empty(n, n, dtype=torch.float32, device=q_g.device)  # [N, N] = D^T
    dist[:n_query, :n_query] = q_q.T.pow(2)  # [Q, Q]
    dist[:n_query, n_query:] = q_g.pow(2)  # [Q, G]
    dist[n_query:, :n_query] = q_g.T.pow(2)  # [G, Q]
    dist[n_query:, n_query:] = g_g.T.pow(2)  # [G, G]
    dist /= dist.amax(dim=1, keepdim=True)  # [N, N] / [N, 1]
    return dist


def _initial_rank(dist: torch.Tensor, k: int, chunk_size: int) -> torch.Tensor:
    """The k nearest images of every image, nearest first, equal distances by index.

    A full sort of every row is the slow part of the reference; ``torch.topk`` finds the k
    nearest in linear time. Its choice among distances equal to the k-th one is
    unspecified, so rows where such a tie crosses the cut are re-selected by index, and the
    k kept are ordered by (distance, index).

    Returns:
        Int64 tensor [N, k] whose ``rank[i, r]`` is the r-th nearest image to i (usually
        ``rank[i, 0] == i``).
    """
    n = dist.shape[0]
    rank = torch.empty(n, k, dtype=torch.long, device=dist.device)  # [N, k]
    for rows in _chunks(n, chunk_size, dist.device):
        d = dist[rows]  # [c, N]
        kth, nearest = torch.topk(d, k, dim=1, largest=False, sorted=False)  # [c, k] each
        kth = kth.amax(dim=1, keepdim=True)  # [c, 1] the k-th smallest distance
        tied = ((d <= kth).sum(dim=1) > k).nonzero().squeeze(1)  # rows whose cut splits a tie
        if tied.numel():
            below, at = d[tied] < kth[tied], d[tied] == kth[tied]  # [t, N] each
            room = k - below.sum(dim=1, keepdim=True)  # [t, 1] places left for the tie
            keep = below | (at & (at.cumsum(dim=1) <= room))  # [t, N], k True a row
            nearest[tied] = keep.nonzero()[:, 1].view(-1, k)  # [t, k] lowest indices first
        nearest = nearest.sort(dim=1).values  # [c, k] by index ...
        order = d.gather(1, nearest).sort(dim=1, stable=True).indices  # ... then by distance
        rank[rows] = nearest.gather(1, order)  # [c, k]
    return rank


# ----------------------------------------------------------------------------------------
# Step 3-4: k-reciprocal neighbours and their Gaussian weights V
# ----------------------------------------------------------------------------------------


def _reciprocal_mask(rank: torch.Tensor, k: int) -> torch.Tensor:
    """Which of each image's k nearest have it among their own k nearest.

    Every kNN edge ``i -> j`` is encoded as the integer ``i * N + j``; an edge is reciprocal
    when its reverse ``j * N + i`` is an edge too, a set-membership test.

    Returns:
        Bool tensor [N, k], True at ``[i, r]`` when ``rank[i, r]`` is a k-reciprocal
        neighbour of i.
    """
    n = rank.shape[0]
    nbr = rank[:, :k]  # [N, k]
    me = torch.arange(n, device=rank.device).unsqueeze(1).expand_as(nbr)  # [N, k]
    edges = (me * n + nbr).flatten()  # [N k] i -> j
    reverse = (nbr * n + me).flatten()  # [N k] j -> i
    return torch.isin(reverse, edges).view(n, k)  # [N, k]


def _expanded_neighbours(
    rank: torch.Tensor,
    recip: torch.Tensor,
    recip_half: torch.Tensor,
    half_len: int,
    rows: torch.Tensor,
) -> torch.Tensor:
    """``R*(p)`` of each image p in ``rows``: its k-reciprocal set with the 1/2-expansion.

    Args:
        rank: Initial ranking [N, K].
        recip: k-reciprocal mask over the first ``k1 + 1`` columns of ``rank``, [N, k1 + 1].
        recip_half: k-reciprocal mask over the first ``round(k1 / 2) + 1`` columns, [N, h].
        half_len: h, the length of the half-size lists.
        rows: The images p, int64 [c].

    Returns:
        Bool tensor [c, N] whose row p marks ``R*(p)``.
    """
    n, c = rank.shape[0], rows.numel()
    k1_len = recip.shape[1]
    sink = n  # an extra column that swallows masked-out entries of a scatter
    # R(p, k1) as a row mask.
    cand = rank[rows, :k1_len]  # [c, k1 + 1] candidates g of each p
    cand_ok = recip[rows]  # [c, k1 + 1] g is in R(p, k1)
    in_r = torch.zeros(c, n + 1, dtype=torch.bool, device=rank.device)  # [c, N + 1]
    in_r.scatter_(1, torch.where(cand_ok, cand, sink), True)
    # R(g, k1 / 2) of every candidate g, and how much of it already lies in R(p, k1).
    half = rank[cand, :half_len]  # [c, k1 + 1, h]
    half_ok = recip_half[cand]  # [c, k1 + 1, h]
    overlap = (in_r.gather(1, half.flatten(1)).view_as(half) & half_ok).sum(-1)  # [c, k1 + 1]
    size = half_ok.sum(-1)  # [c, k1 + 1] |R(g, k1 / 2)|
    take = cand_ok & (overlap > 2.0 / 3 * size.double())  # the reference's float test
    # R*(p) = R(p, k1) plus the half-size sets of the candidates taken.
    added = torch.where(take.unsqueeze(-1) & half_ok, half, sink)  # [c, k1 + 1, h]
    expanded = in_r.scatter(1, added.flatten(1), True)  # [c, N + 1]
    return expanded[:, :n]  # [c, N]


def _gaussian_weights(
    dist: torch.Tensor, rank: torch.Tensor, k1_len: int, half_len: int, chunk_size: int
) -> _CSR:
    """V: ``exp(-d(p, g))`` over ``g`` in ``R*(p)``, each row normalised to sum to 1.

    Returns:
        Sparse [N, N] float32 matrix, rows ordered, about ``|R*(p)|`` entries in row p.
    """
    n = dist.shape[0]
    recip = _reciprocal_mask(rank, k1_len)  # [N, k1 + 1]
    recip_half = _reciprocal_mask(rank, half_len)  # [N, h]
    parts = []
    for rows in _chunks(n, chunk_size, dist.device):
        expanded = _expanded_neighbours(rank, recip, recip_half, half_len, rows)  # [c, N]
        local, col = expanded.nonzero(as_tuple=True)  # [E], [E] row-major
        weight = torch.exp(-dist[rows[local], col])  # [E]
        total = torch.zeros(rows.numel(), device=dist.device)  # [c]
        total.index_add_(0, local, weight)
        parts.append((rows[local], col, weight / total[local]))
    return _csr_from_coo(*(torch.cat(p) for p in zip(*parts)), n_rows=n, n_cols=n)


# ----------------------------------------------------------------------------------------
# Step 5-6: local query expansion and Jaccard distance
# ----------------------------------------------------------------------------------------


def _query_expansion(weights: _CSR, nearest: torch.Tensor, chunk_size: int) -> _CSR:
    """Replace each row of V by the mean of the rows of its k2 nearest images.

    Args:
        weights: V, sparse [N, N].
        nearest: The k2 nearest of every image (itself included), int64 [N, k2].
        chunk_size: Rows processed at once.

    Returns:
        The expanded V, sparse [N, N], rows ordered.
    """
    n, k2 = nearest.shape
    parts = []
    for rows in _chunks(n, chunk_size, nearest.device):
        owner, col, val = _gather_rows(weights, nearest[rows].flatten())  # [E] each
        acc = torch.zeros(rows.numel(), n, device=val.device)  # [c, N]
        acc.index_put_((owner // k2, col), val, accumulate=True)  # sum of k2 rows
        acc /= k2
        local, col = acc.nonzero(as_tuple=True)  # [E'] row-major
        parts.append((rows[local], col, acc[local, col]))
    return _csr_from_coo(*(torch.cat(p) for p in zip(*parts)), n_rows=n, n_cols=n)


def _jaccard_distance(weights: _CSR, by_column: _CSR, rows: torch.Tensor) -> torch.Tensor:
    """``1 - m / (2 - m)`` with ``m = sum_k min(V[p, k], V[g, k])``, for p in rows, g in gallery.

    ``min(V[p, k], V[g, k])`` is nonzero only where both are, so the sum runs over the
    entries ``(p, k)`` of the query rows and, for each, the gallery entries ``(g, k)`` of
    the same column: one product per pair, gathered flat and summed with ``index_add_``.

    Args:
        weights: V after query expansion, sparse [N, N] (queries first).
        by_column: Its gallery rows transposed, sparse [N, G]: row k lists the gallery
            images g with ``V[g, k] != 0``.
        rows: Query images p, int64 [c].

    Returns:
        Float32 tensor [c, G].
    """
    n_gallery = by_column.n_cols
    owner, col, val = _gather_rows(weights, rows)  # [E]: entries (p, k) of the query rows
    pair, gallery, gallery_val = _gather_rows(by_column, col)  # [P]: (g, k) for each (p, k)
    shared = torch.minimum(val.index_select(0, pair), gallery_val)  # [P]
    target = owner.index_select(0, pair) * n_gallery + gallery  # [P] flat index into [c, G]
    m = torch.zeros(rows.numel() * n_gallery, device=val.device).index_add_(0, target, shared)
    m = m.view(rows.numel(), n_gallery)  # [c, G]
    return 1 - m / (2.0 - m)


def _query_chunks(
    weights: _CSR, by_column: _CSR, n_query: int, chunk_size: int
) -> Iterator[torch.Tensor]:
    """Consecutive query rows for ``_jaccard_distance``, bounded in rows and in pairs.

    A chunk holds at most ``chunk_size`` rows and, unless one row alone has more, at most
    ``_MAX_PAIRS`` (p, g, k) products: hub images that appear in many neighbour sets make
    the count per row uneven, and large temporary tensors are slow to allocate.

    Yields:
        Int64 tensors of query indices.
    """
    owner, col, _ = _gather_rows(weights, torch.arange(n_query, device=weights.crow.device))
    per_column = by_column.crow.diff()  # [N] gallery entries of each column
    pairs = torch.zeros(n_query, dtype=torch.long, device=owner.device)  # [Q]
    pairs.index_add_(0, owner, per_column.index_select(0, col))
    start, total = 0, 0
    for row, count in enumerate(pairs.tolist()):
        if row > start and (row - start == chunk_size or total + count > _MAX_PAIRS):
            yield torch.arange(start, row, device=owner.device)
            start, total = row, 0
        total += count
    yield torch.arange(start, n_query, device=owner.device)


# ----------------------------------------------------------------------------------------
# Small sparse helpers
# ----------------------------------------------------------------------------------------


def _csr_from_coo(
    row: torch.Tensor, col: torch.Tensor, val: torch.Tensor, n_rows: int, n_cols: int
) -> _CSR:
    """Compressed rows from (row, col, val) triplets (any order)."""
    row, order = torch.sort(row, stable=True)  # [nnz]
    crow = torch.zeros(n_rows + 1, dtype=torch.long, device=row.device)  # [rows + 1]
    crow[1:] = torch.cumsum(torch.bincount(row, minlength=n_rows), 0)
    return _CSR(crow, col[order], val[order], n_cols)


def _transpose(m: _CSR, first_row: int = 0) -> _CSR:
    """The transpose of ``m[first_row:]``: shape [columns of m, rows of m - first_row]."""
    n_rows = m.crow.numel() - 1
    row = torch.repeat_interleave(m.crow.diff())  # [nnz] the row of each entry
    keep = row >= first_row  # [nnz]
    col, row, val = m.col[keep], row[keep] - first_row, m.val[keep]
    return _csr_from_coo(col, row, val, n_rows=m.n_cols, n_cols=n_rows - first_row)


def _gather_rows(m: _CSR, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All entries of the given rows (repeats allowed), flattened.

    Returns:
        ``owner`` [E] (position in ``rows`` each entry came from), ``col`` [E], ``val`` [E].
    """
    start = m.crow.index_select(0, rows)  # [R]
    count = m.crow.index_select(0, rows + 1) - start  # [R]
    owner = torch.repeat_interleave(count)  # [E]: 0 count[0] times, 1 count[1] times, ...
    shift = start - (torch.cumsum(count, 0) - count)  # [R] source start - output start
    pos = torch.arange(owner.numel(), device=rows.device) + shift.index_select(0, owner)  # [E]
    return owner, m.col.index_select(0, pos), m.val.index_select(0, pos)


def _chunks(n: int, chunk_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Consecutive index ranges [start, start + chunk_size) covering range(n), as tensors."""
    for start in range(0, n, chunk_size):
        yield torch.arange(start, min(n, start + chunk_size), device=device)


# ----------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------


def _as_tensor(x: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    """A tensor on ``device`` sharing memory with ``x`` where it can."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.require(x, requirements=["C", "W"]))
    return torch.as_tensor(x).to(device)


def _check_arguments(
    q_g: torch.Tensor,
    q_q: torch.Tensor,
    g_g: torch.Tensor,
    k1: int,
    k2: int,
    lambda_value: float,
    chunk_size: int,
) -> None:
    """Raise one clear ValueError for a wrong shape or parameter."""
    if q_g.ndim != 2 or q_g.shape[0] == 0 or q_g.shape[1] == 0:
        got = tuple(q_g.shape)
        raise ValueError(f"q_g_dist must be a non-empty [Q, G] matrix, got shape {got}.")
    n_query, n_gallery = q_g.shape
    for name, matrix, side in (("q_q_dist", q_q, n_query), ("g_g_dist", g_g, n_gallery)):
        if tuple(matrix.shape) != (side, side):
            letter = name[0].upper()
            raise ValueError(
                f"{name} must have shape [{letter}, {letter}] = {(side, side)},"
                f" got {tuple(matrix.shape)}."
            )
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1 and k2 must be at least 1, got k1={k1}, k2={k2}.")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value must lie in [0, 1], got {lambda_value}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}.")
