"""Mergeable weighted quantile sketch in pure numpy.

A drop-in for ``tfx_bsl.sketches.QuantilesSketch`` as tf.Transform's
``QuantilesCombiner`` uses it (``tft.quantiles``, ``tft.bucketize``), with the
same quantile-selection rule, so that whenever the sketch is exact the output
equals tfx_bsl's bit for bit.

Summaries
---------
Per feature a *summary* is a sorted list of distinct values ``v_i`` with
``weight w_i``, ``min_rank rmin_i`` and ``max_rank rmax_i``, as in TensorFlow's
boosted-trees ``WeightedQuantilesSummary`` (which tfx_bsl wraps). Writing
``r-(v)``/``r+(v)`` for the total weight of the data ``< v``/``<= v``, every
summary keeps ``rmin_i <= r-(v_i)``, ``r+(v_i) <= rmax_i`` and ``w_i <= weight
of v_i``; the first and last entries are the exact minimum and maximum and
``rmax`` of the last entry is the exact total weight ``W``. Its error ``E`` is
the largest of the gaps ``(rmax_{i+1} - w_{i+1}) - (rmin_i + w_i)`` and of the
entry uncertainties ``rmax_i - rmin_i - w_i``; an exact summary has ``E = 0``.

* build: sort a batch, sum the weights of equal values, cumulate: exact.
* merge: tfx_bsl's merge rule, vectorized; ``E <= E_a + E_b``.
* compress(h): keep the first and last entries and every entry whose
  ``rmin + w`` enters a new multiple of ``h``; at most ``W/h + 2`` entries
  remain and ``E`` grows by less than ``h``.
* query: tfx_bsl's ``GenerateQuantiles`` rule (rank ``d = i*W/q``, step on
  ``(rmin+rmax)/2``); the returned value's true rank interval
  ``[r-(v), r+(v)]`` lies within ``E/2`` of ``d``.

Accumulator and error bound
---------------------------
Rows are first buffered raw (fewer than ``2*block_size`` of them). A full
buffer becomes an exact summary, which lives in level ``lev(n) =
bit_length(n // (2*block_size))`` for its ``n`` rows; two summaries meeting in a
level are merged and the result moves up, binary-counter style. A summary of
level ``k >= 1`` is compressed with ``h = alpha * W`` only when its *op level*
(the highest level at which any of its data was compressed) is below ``k``.
Each datum is therefore compressed at most once per level, in at most ``K``
levels (``K`` is the smallest budget with ``lev(max_num_values) <= K``), and
the compressions of one level cover disjoint data, so their ``h`` add up to at
most ``alpha * W`` per level. Merges add errors, so a final summary has
``E <= K * alpha * W``. With ``alpha = epsilon / K`` every returned quantile has
a rank error of at most ``E/2 <= epsilon * W / 2`` (more precisely
``epsilon * W * lev(N) / (2K)`` for ``N`` rows), whatever the batching, merge
order, pickling and compaction, as long as at most ``max_num_values`` rows are
added. The unused half of ``epsilon`` buys typical accuracy closer to
tfx_bsl's, which keeps about 2.7x more entries per level (it splits
``epsilon`` in three); observed errors are a few percent of ``epsilon * W``.

Memory per feature: fewer than ``2*block_size`` buffered rows, fewer than
``2*block_size`` entries in level 0 and at most ``block_size + 2`` entries in
each of the ``lev(N) <= K`` upper levels, with ``block_size = ceil(K /
epsilon) + 1`` (``K = 21`` and ``block_size = 2101`` for ``epsilon = 0.01`` and
the default ``max_num_values``): ``O(1/epsilon * log N)`` for a given
``max_num_values``, about 200 kB pickled per feature at ``epsilon = 0.01``.

Exactness: nothing is compressed while a feature has at most ``block_size``
distinct values, so small inputs give exact summaries, whose quantiles do not
depend on how the input was batched or merged. Rank sums are float64; with
integer (or otherwise exactly summable) weights they are exact, and then the
output equals tfx_bsl's exactly.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["QuantilesSketch"]


class _Summary:
    """Sorted summaries of all features, concatenated feature after feature.

    Entries of feature ``j`` are ``[offsets[j], offsets[j + 1])``. ``count`` is
    the number of input rows summarized (it sets the level); ``op_level`` the
    highest level at which any of its data was compressed (0: never). Arrays
    are never modified in place, so summaries can be shared between sketches.
    """

    __slots__ = ("offsets", "values", "weights", "min_ranks", "max_ranks", "count", "op_level")

    def __init__(self, offsets, values, weights, min_ranks, max_ranks, count, op_level):
        self.offsets = offsets
        self.values = values
        self.weights = weights
        self.min_ranks = min_ranks
        self.max_ranks = max_ranks
        self.count = int(count)
        self.op_level = int(op_level)

    def __getstate__(self):
        return (
            self.offsets,
            self.values,
            self.weights,
            self.min_ranks,
            self.max_ranks,
            self.count,
            self.op_level,
        )

    def __setstate__(self, state):
        (
            self.offsets,
            self.values,
            self.weights,
            self.min_ranks,
            self.max_ranks,
            self.count,
            self.op_level,
        ) = state

    @property
    def size(self) -> int:
        return int(self.values.size)

    def feature_ids(self) -> np.ndarray:
        num_features = self.offsets.size - 1
        return np.repeat(np.arange(num_features), np.diff(self.offsets))

    def totals(self) -> np.ndarray:
        """Total weight per feature (0 for a feature without entries)."""
        ends = self.offsets[1:]
        nonempty = ends > self.offsets[:-1]
        out = np.zeros(ends.size, np.float64)
        out[nonempty] = self.max_ranks[ends[nonempty] - 1]
        return out


def _empty_summary(num_features: int, count: int) -> _Summary:
    empty = np.empty(0, np.float64)
    return _Summary(np.zeros(num_features + 1, np.int64), empty, empty, empty, empty, count, 0)


def _build(values: np.ndarray, weights: np.ndarray | None) -> _Summary:
    """Exact summary of a ``[n, num_features]`` batch (NaN values skipped).

    ``weights`` (``[n]``) must already be positive; ``None`` means all ones.
    """
    n, num_features = values.shape
    if num_features == 1 and weights is None:
        # float32 input is sorted as float32 (faster), then widened: the order is the same
        flat = np.sort(values[:, 0])
        flat = flat[: n - int(np.count_nonzero(np.isnan(flat)))].astype(np.float64, copy=False)
        flat_weights = None
        counts = np.array([flat.size], np.int64)
    elif num_features == 1:
        col = values[:, 0].astype(np.float64, copy=False)
        order = np.argsort(col)
        flat = col[order]
        valid = n - int(np.count_nonzero(np.isnan(flat)))
        flat = flat[:valid]
        flat_weights = weights[order[:valid]]
        counts = np.array([flat.size], np.int64)
    else:
        by_feature = np.ascontiguousarray(values.T, dtype=np.float64)
        if weights is None:
            ordered = np.sort(by_feature, axis=1)
        else:
            order = np.argsort(by_feature, axis=1)
            ordered = np.take_along_axis(by_feature, order, axis=1)
        valid = ~np.isnan(ordered)  # NaNs sort last in each row
        counts = valid.sum(axis=1)
        flat = ordered[valid]
        flat_weights = None if weights is None else weights[order][valid]
    m = flat.size
    if m == 0:
        return _empty_summary(num_features, n)
    first = np.empty(m, bool)
    first[0] = True
    np.not_equal(flat[1:], flat[:-1], out=first[1:])
    if num_features > 1:
        feature_ids = np.repeat(np.arange(num_features), counts)
        first[1:] |= feature_ids[1:] != feature_ids[:-1]
    starts = np.flatnonzero(first)
    values_u = flat[starts]
    if flat_weights is None:
        weights_u = np.diff(np.append(starts, m)).astype(np.float64)
    else:
        weights_u = np.add.reduceat(flat_weights, starts)
    # Cumulative weights, summed feature by feature from 0 exactly like tfx_bsl.
    if num_features == 1:
        offsets = np.array([0, values_u.size], np.int64)
        max_ranks = np.cumsum(weights_u)
    else:
        features_u = feature_ids[starts]
        offsets = np.searchsorted(features_u, np.arange(num_features + 1)).astype(np.int64)
        positions = np.arange(values_u.size) - offsets[features_u]
        padded = np.zeros((num_features, int(np.diff(offsets).max())), np.float64)
        padded[features_u, positions] = weights_u
        max_ranks = np.cumsum(padded, axis=1)[features_u, positions]
    min_ranks = np.empty_like(max_ranks)
    min_ranks[1:] = max_ranks[:-1]
    min_ranks[offsets[:-1][np.diff(offsets) > 0]] = 0.0
    return _Summary(offsets, values_u, weights_u, min_ranks, max_ranks, n, 0)


def _side_contribution(summary: _Summary, is_mine, group_start, group_end, group_features):
    """Rank contributions of one merge input to each merged entry.

    For an entry present in ``summary``: its own weight and ranks. Otherwise
    weight 0, min rank ``rmin + w`` of the largest smaller entry (0 if none) and
    max rank ``rmax - w`` of the smallest larger entry (the total if none).
    """
    n = summary.size
    seen = np.cumsum(is_mine)
    before = np.where(group_start > 0, seen[np.maximum(group_start - 1, 0)], 0)
    last = seen[group_end] - 1  # last own entry at or before the group
    present = seen[group_end] > before
    own_features = summary.feature_ids()
    last_c = np.clip(last, 0, n - 1)
    succ_c = np.clip(last + 1, 0, n - 1)
    has_pred = (last >= 0) & (own_features[last_c] == group_features)
    has_succ = (last + 1 < n) & (own_features[succ_c] == group_features)
    w, rmin, rmax = summary.weights, summary.min_ranks, summary.max_ranks
    pred_min = np.where(has_pred, rmin[last_c] + w[last_c], 0.0)
    succ_max = np.where(has_succ, rmax[succ_c] - w[succ_c], summary.totals()[group_features])
    weights = np.where(present, w[last_c], 0.0)
    min_ranks = np.where(present, rmin[last_c], pred_min)
    max_ranks = np.where(present, rmax[last_c], succ_max)
    return weights, min_ranks, max_ranks


def _merge_order(base: _Summary, other: _Summary) -> np.ndarray:
    """Stable sort permutation of ``concat(base, other)`` by (feature, value).

    Ties keep ``base`` first. Both inputs are sorted already, so this is a
    merge: one stable argsort (two runs) for one feature, per-feature
    ``searchsorted`` for a few long features, else a two-key stable sort.
    """
    num_features = base.offsets.size - 1
    if num_features == 1:
        return np.argsort(np.concatenate([base.values, other.values]), kind="stable")
    na, nb = base.size, other.size
    if (na + nb) >= 256 * num_features:
        # Position of each entry in the merged order: its own index plus the
        # number of entries of the other input that go before it.
        before_a = np.empty(na, np.int64)
        before_b = np.empty(nb, np.int64)
        oa, ob = base.offsets, other.offsets
        for f in range(num_features):
            a = base.values[oa[f] : oa[f + 1]]
            b = other.values[ob[f] : ob[f + 1]]
            before_a[oa[f] : oa[f + 1]] = np.searchsorted(b, a, side="left") + ob[f]
            before_b[ob[f] : ob[f + 1]] = np.searchsorted(a, b, side="right") + oa[f]
        order = np.empty(na + nb, np.int64)
        order[np.arange(na) + before_a] = np.arange(na)
        order[np.arange(nb) + before_b] = np.arange(na, na + nb)
        return order
    values = np.concatenate([base.values, other.values])
    features = np.concatenate([base.feature_ids(), other.feature_ids()])
    if num_features <= np.iinfo(np.uint16).max:
        features = features.astype(np.uint16)  # stable sort of uint16 is a radix sort
    by_value = np.argsort(values, kind="stable")
    return by_value[np.argsort(features[by_value], kind="stable")]


def _merge(base: _Summary, other: _Summary) -> _Summary:
    """tfx_bsl's ``WeightedQuantilesSummary::Merge`` for all features at once."""
    count = base.count + other.count
    op_level = max(base.op_level, other.op_level)
    if other.size == 0 or base.size == 0:
        src = base if other.size == 0 else other
        return _Summary(src.offsets, src.values, src.weights, src.min_ranks, src.max_ranks, count, op_level)
    num_features = base.offsets.size - 1
    order = _merge_order(base, other)
    is_base = order < base.size
    sorted_values = np.concatenate([base.values, other.values])[order]
    m = order.size
    first = np.empty(m, bool)
    first[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=first[1:])
    if num_features > 1:
        sorted_features = np.concatenate([base.feature_ids(), other.feature_ids()])[order]
        first[1:] |= sorted_features[1:] != sorted_features[:-1]
    else:
        sorted_features = np.zeros(m, np.int64)
    group_start = np.flatnonzero(first)
    group_end = np.append(group_start[1:], m) - 1
    group_features = sorted_features[group_start]
    wa, mina, maxa = _side_contribution(base, is_base, group_start, group_end, group_features)
    wb, minb, maxb = _side_contribution(other, ~is_base, group_start, group_end, group_features)
    offsets = np.searchsorted(group_features, np.arange(num_features + 1)).astype(np.int64)
    return _Summary(offsets, sorted_values[group_start], wa + wb, mina + minb, maxa + maxb, count, op_level)


def _compress(summary: _Summary, alpha: float, block_size: int, level: int) -> _Summary:
    """Drop entries of the features with more than ``block_size`` entries.

    Keeps, per such feature, the first and last entries and each entry whose
    ``rmin + w`` is the first to reach a new multiple of ``h = alpha * W``:
    at most ``1/alpha + 2`` entries, and the error grows by less than ``h``.
    """
    sizes = np.diff(summary.offsets)
    big = sizes > block_size
    if not big.any():
        return summary
    feature_ids = summary.feature_ids()
    step = alpha * summary.totals()
    next_min = summary.min_ranks + summary.weights
    bucket = np.floor(next_min / step[feature_ids])
    keep = ~big[feature_ids]
    keep[1:] |= bucket[1:] > bucket[:-1]
    nonempty = sizes > 0
    keep[summary.offsets[:-1][nonempty]] = True
    keep[summary.offsets[1:][nonempty] - 1] = True
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    offsets = kept_before[summary.offsets].astype(np.int64)
    return _Summary(
        offsets,
        summary.values[keep],
        summary.weights[keep],
        summary.min_ranks[keep],
        summary.max_ranks[keep],
        summary.count,
        level,
    )


def _generate_quantiles(summary: _Summary, feature: int, num_quantiles: int) -> tuple[np.ndarray, np.ndarray]:
    """tfx_bsl's ``GenerateQuantilesAndCumulativeWeights`` for one feature.

    Returns ``num_quantiles + 1`` values and, for each, the max rank of its
    entry: an upper bound of the weight of the data ``<=`` it, exact when the
    summary is.
    """
    lo, hi = int(summary.offsets[feature]), int(summary.offsets[feature + 1])
    values = summary.values[lo:hi]
    weights = summary.weights[lo:hi]
    min_ranks = summary.min_ranks[lo:hi]
    max_ranks = summary.max_ranks[lo:hi]
    n = values.size
    ranks = np.arange(num_quantiles + 1, dtype=np.float64)
    # Same float operations as C++: 2 * (rank * total / num_quantiles).
    d_2 = 2.0 * (ranks * max_ranks[-1] / float(num_quantiles))
    # First entry (from index 1 on) whose min_rank + max_rank exceeds d_2; the
    # sums are non-decreasing, the running max only guards float rounding.
    mid_2 = np.maximum.accumulate(min_ranks + max_ranks)
    nxt = np.maximum(np.searchsorted(mid_2, d_2, side="right"), 1)
    cur = nxt - 1
    nxt_c = np.minimum(nxt, n - 1)
    take_cur = (nxt >= n) | (d_2 < (min_ranks[cur] + weights[cur]) + (max_ranks[nxt_c] - weights[nxt_c]))
    chosen = np.where(take_cur, cur, nxt_c)
    return values[chosen], max_ranks[chosen]


def _sketch_spec(epsilon: float, max_num_values: int) -> tuple[int, int, float]:
    """Smallest level budget ``K`` with ``lev(max_num_values) <= K``.

    Returns ``(K, block_size, alpha)`` with ``alpha = epsilon / K`` and
    ``block_size = ceil(1 / alpha) + 1``.
    """
    for levels in range(1, 129):
        alpha = epsilon / levels
        block_size = math.ceil(1.0 / alpha) + 1
        if (max_num_values // (2 * block_size)).bit_length() <= levels:
            return levels, block_size, alpha
    raise ValueError("max_num_values is too large")  # pragma: no cover


class QuantilesSketch:
    """Mergeable weighted quantile sketch with tfx_bsl's quantile semantics.

    Accumulator: per feature, sorted summaries (values, weights, min_ranks,
    max_ranks as numpy arrays) in binary-counter levels plus an unsorted buffer
    of raw rows. ``add``, ``merge`` and ``compact`` mutate ``self`` only.

    Parameters
    ----------
    epsilon : float
        Rank error bound: each returned quantile's rank is within
        ``epsilon * W`` of its target rank (proved: ``epsilon * W / 2``), ``W``
        the feature's total weight.
    num_features : int, default 1
        Number of independent features (tfx_bsl's ``num_streams``).
    max_num_values : int, default 2**32
        Upper bound on the number of rows for which the bound is guaranteed.

    Notes
    -----
    tfx_bsl gives a third of ``epsilon`` to each of its three stages (stream,
    ``Compact``, final query). Here compaction and the final query add no
    error, and the stream alone is proved to stay within ``epsilon * W / 2``;
    see the module docstring. Output for exact summaries equals tfx_bsl's.
    """

    def __init__(self, epsilon: float, num_features: int = 1, max_num_values: int = 1 << 32):
        epsilon = float(epsilon)
        if not 0.0 < epsilon < 1.0:
            raise ValueError(f"epsilon must be in (0, 1), got {epsilon}")
        if int(num_features) < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}")
        if int(max_num_values) < 1:
            raise ValueError(f"max_num_values must be >= 1, got {max_num_values}")
        self._epsilon = epsilon
        self._num_features = int(num_features)
        self._max_num_values = int(max_num_values)
        self._init_derived()
        self._buffer_values: list[np.ndarray] = []
        self._buffer_weights: list[np.ndarray | None] = []
        self._buffer_rows = 0
        self._levels: list[_Summary | None] = []

    def _init_derived(self) -> None:
        self._num_levels, self._block_size, self._alpha = _sketch_spec(self._epsilon, self._max_num_values)
        self._buffer_capacity = 2 * self._block_size

    # -- pickling: plain numpy arrays and ints --------------------------------
    def __getstate__(self):
        values, weights = self._buffer_arrays()
        levels = [None if s is None else s.__getstate__() for s in self._levels]
        return {
            "epsilon": self._epsilon,
            "num_features": self._num_features,
            "max_num_values": self._max_num_values,
            "buffer_values": values,
            "buffer_weights": weights,
            "levels": levels,
        }

    def __setstate__(self, state):
        self._epsilon = state["epsilon"]
        self._num_features = state["num_features"]
        self._max_num_values = state["max_num_values"]
        self._init_derived()
        values, weights = state["buffer_values"], state["buffer_weights"]
        self._buffer_values = [] if values is None else [values]
        self._buffer_weights = [] if values is None else [weights]
        self._buffer_rows = 0 if values is None else values.shape[0]
        self._levels = []
        for level_state in state["levels"]:
            if level_state is None:
                self._levels.append(None)
            else:
                summary = _Summary.__new__(_Summary)
                summary.__setstate__(level_state)
                self._levels.append(summary)

    # -- public API ------------------------------------------------------------
    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add a batch of rows.

        Parameters
        ----------
        values : array_like of float
            Shape ``[n]`` when ``num_features == 1``, else ``[n, num_features]``
            (C order, feature ``j`` is column ``j``); a flat array of
            ``n * num_features`` values in that C order is accepted too, as
            tfx_bsl's ``AddValues`` takes it. NaN values are ignored.
        weights : array_like of float, optional
            One weight per row, shape ``[n]``. Rows whose weight is NaN, zero or
            negative are ignored, as tfx_bsl does. Default: all 1.
        """
        f = self._num_features
        values = np.asarray(values)
        if values.dtype != np.float32:  # float32 is kept: sorted as it is, widened exactly afterwards
            values = values.astype(np.float64, copy=False)
        if values.ndim == 1:
            if values.size % f:
                raise ValueError(f"{values.size} values do not split into {f} features")
            values = values.reshape(-1, f)
        elif values.ndim != 2 or values.shape[1] != f:
            raise ValueError(f"values must have shape [n] or [n, {f}], got {values.shape}")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64).reshape(-1)
            if weights.size != values.shape[0]:
                raise ValueError(f"got {weights.size} weights for {values.shape[0]} rows of values")
            usable = weights > 0  # False for NaN
            if not usable.all():
                values, weights = values[usable], weights[usable]
            if weights.size and (weights == 1.0).all():
                weights = None
        if f == 1:
            usable = ~np.isnan(values[:, 0])
        else:
            usable = ~np.isnan(values).all(axis=1)
        if not usable.all():
            values = values[usable]
            weights = None if weights is None else weights[usable]
        n = values.shape[0]
        if n == 0:
            return
        if self._buffer_rows + n < self._buffer_capacity:
            self._buffer_values.append(np.array(values, copy=True))
            self._buffer_weights.append(None if weights is None else np.array(weights, copy=True))
            self._buffer_rows += n
            return
        self._buffer_values.append(values)
        self._buffer_weights.append(weights)
        self._buffer_rows += n
        self._flush()

    def merge(self, other: QuantilesSketch) -> None:
        """Merge ``other`` into ``self`` (``other`` is left unchanged).

        Parameters
        ----------
        other : QuantilesSketch
            A sketch with the same ``epsilon``, ``num_features`` and
            ``max_num_values``.
        """
        if not isinstance(other, QuantilesSketch):
            raise TypeError(f"cannot merge {type(other).__name__} into QuantilesSketch")
        if (other._epsilon, other._num_features, other._max_num_values) != (
            self._epsilon,
            self._num_features,
            self._max_num_values,
        ):
            raise ValueError("cannot merge sketches with different parameters")
        buffer_values = list(other._buffer_values)
        buffer_weights = list(other._buffer_weights)
        buffer_rows = other._buffer_rows
        summaries = [s for s in other._levels if s is not None]
        # Buffers and summaries are never modified in place: sharing is safe.
        self._buffer_values.extend(buffer_values)
        self._buffer_weights.extend(buffer_weights)
        self._buffer_rows += buffer_rows
        for summary in summaries:
            self._insert(summary)
        if self._buffer_rows >= self._buffer_capacity:
            self._flush()

    def compact(self) -> None:
        """Turn the raw buffer into summaries, before shipping the accumulator.

        Afterwards the sketch holds, per feature, fewer than
        ``2 * block_size`` entries in level 0 and at most ``block_size + 2``
        in each upper level. Adds no error.
        """
        self._flush()

    def quantiles(self, num_quantiles: int) -> np.ndarray:
        """Quantile boundaries, including the minimum and the maximum.

        Parameters
        ----------
        num_quantiles : int
            Number of quantile buckets, ``>= 2``.

        Returns
        -------
        numpy.ndarray
            float64, shape ``[num_features, num_quantiles + 1]``: entry ``i``
            of a row is the value selected for rank ``i * W / num_quantiles``
            (entry 0 the minimum, the last the maximum). Shape
            ``[num_features, 0]`` if no value was added at all. A feature
            without values while others have some gets a row of NaN (tfx_bsl
            returns misaligned rows there).
        """
        return self.quantiles_and_cumulative_weights(num_quantiles)[0]

    def quantiles_and_cumulative_weights(self, num_quantiles: int) -> tuple[np.ndarray, np.ndarray]:
        """Quantile boundaries and the cumulative weight at each, as tfx_bsl's
        ``GetQuantilesAndCumulativeWeights``.

        Parameters
        ----------
        num_quantiles : int
            Number of quantile buckets, ``>= 2``.

        Returns
        -------
        tuple of numpy.ndarray
            ``quantiles()``'s boundaries and, with the same shape, for each
            boundary ``v`` the total weight of the values ``<= v``: exact for an
            exact summary (then equal to tfx_bsl's), otherwise an upper bound
            within the rank error (tfx_bsl's is an upper bound too).
        """
        num_quantiles = int(num_quantiles)
        if num_quantiles < 2:
            raise ValueError(f"num_quantiles must be >= 2, got {num_quantiles}")
        final = self._final_summary()
        f = self._num_features
        if final.size == 0:
            return np.empty((f, 0), np.float64), np.empty((f, 0), np.float64)
        out = np.full((f, num_quantiles + 1), np.nan)
        weights = np.full((f, num_quantiles + 1), np.nan)
        for feature in np.flatnonzero(np.diff(final.offsets) > 0):
            out[feature], weights[feature] = _generate_quantiles(final, int(feature), num_quantiles)
        return out, weights

    # -- internals -------------------------------------------------------------
    def _level_of(self, count: int) -> int:
        return (count // self._buffer_capacity).bit_length()

    def _buffer_arrays(self):
        if not self._buffer_rows:
            return None, None
        values = np.concatenate(self._buffer_values) if len(self._buffer_values) > 1 else (self._buffer_values[0])
        if all(w is None for w in self._buffer_weights):
            weights = None
        else:
            weights = np.concatenate(
                [np.ones(v.shape[0]) if w is None else w for v, w in zip(self._buffer_values, self._buffer_weights)]
            )
        return values, weights

    def _flush(self) -> None:
        values, weights = self._buffer_arrays()
        self._buffer_values, self._buffer_weights, self._buffer_rows = [], [], 0
        if values is not None:
            self._insert(_build(values, weights))

    def _maybe_compress(self, summary: _Summary) -> _Summary:
        level = self._level_of(summary.count)
        if level > summary.op_level:
            return _compress(summary, self._alpha, self._block_size, level)
        return summary

    def _insert(self, summary: _Summary) -> None:
        summary = self._maybe_compress(summary)
        level = self._level_of(summary.count)
        while True:
            if level >= len(self._levels):
                self._levels.extend([None] * (level + 1 - len(self._levels)))
            resident = self._levels[level]
            if resident is None:
                self._levels[level] = summary
                return
            self._levels[level] = None
            summary = self._maybe_compress(_merge(summary, resident))
            level = self._level_of(summary.count)

    def _final_summary(self) -> _Summary:
        final = _empty_summary(self._num_features, 0)
        for summary in self._levels:
            if summary is not None:
                final = _merge(final, summary)
        values, weights = self._buffer_arrays()
        if values is not None:
            final = _merge(final, _build(values, weights))
        return final
