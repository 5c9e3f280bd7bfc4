"""TensorFlow Data Validation's histograms, from quantile boundaries and cumulative counts.

TFDV (1.16, the newest release; its protos equal tensorflow-metadata 1.21's)
builds every histogram of a numeric feature from one quantile query, ``q`` and
``c`` = ``GetQuantilesAndCumulativeWeights(1000)`` of tfx_bsl's sketch (1001
boundaries and the weight ``<=`` each):

- ``median`` is the middle boundary ``q[500]`` (the upper median of exact data:
  6.0 for 1..10);
- the QUANTILES histogram takes every 100th boundary (10 buckets); a bucket's
  weight is the difference of cumulative counts, spread evenly over a run of
  buckets with the same upper bound, and the mass at the minimum (``c[0]``)
  goes to the leading buckets equal to the first one;
- the STANDARD histogram has 10 equal-width buckets from the finite minimum to
  the finite maximum, filled from the 1000 fine quantile buckets assuming
  uniform mass inside each (so counts are fractional), with point buckets for
  -inf and +inf before and after.

These functions follow those rules (written from their description and checked
against TFDV's output, see tests/test_statistics.py), in numpy. Sums run in
TFDV's order (bucket by bucket), so results match to the last bit or so.
"""

from __future__ import annotations

import numpy as np

Buckets = tuple[np.ndarray, np.ndarray, np.ndarray]  # low bounds, high bounds, weights


def median(quantiles: np.ndarray) -> float:
    """The middle boundary (the mean of the two middle ones for an even count)."""
    size = quantiles.size
    middle = size // 2
    if size % 2:
        return float(quantiles[middle])
    return float((quantiles[middle - 1] + quantiles[middle]) / 2.0)


def quantile_buckets(boundaries: np.ndarray, cumulative: np.ndarray) -> Buckets:
    """Buckets between consecutive boundaries, with TFDV's weights.

    A bucket's weight is the increase of the cumulative count over it. Runs of
    buckets sharing their upper bound share their total weight evenly; the
    weight at the first boundary (the minimum's mass) is spread over the
    leading buckets identical to the first.

    >>> low, high, weights = quantile_buckets(np.array([1.0, 1.0, 2.0, 3.0]), np.array([2.0, 2.0, 3.0, 4.0]))
    >>> list(zip(low.tolist(), high.tolist(), weights.tolist()))
    [(1.0, 1.0, 2.0), (1.0, 2.0, 1.0), (2.0, 3.0, 1.0)]
    """
    cumulative = cumulative.astype(np.float64)
    low, high = boundaries[:-1], boundaries[1:]
    weights = np.diff(cumulative)
    if low.size == 0:
        return low, high, weights
    run_starts = np.flatnonzero(np.concatenate([[True], high[1:] != high[:-1]]))
    run_ends = np.append(run_starts[1:], high.size)
    for start, end in zip(run_starts, run_ends):
        if end - start > 1:
            weights[start:end] = weights[start:end].sum() / (end - start)
    same_as_first = (low == low[0]) & (high == high[0])
    leading = int(np.argmin(same_as_first)) if not same_as_first.all() else low.size
    if leading:
        weights[:leading] += cumulative[0] / leading
    return low, high, weights


def quantiles_histogram(quantiles: np.ndarray, cumulative: np.ndarray, factor: int = 100) -> Buckets:
    """The QUANTILES histogram: every ``factor``-th boundary of a fine quantile query."""
    boundaries = np.concatenate([quantiles[:1], quantiles[factor::factor]])
    counts = np.concatenate([cumulative[:1], cumulative[factor::factor]])
    return quantile_buckets(boundaries, counts)


def _strip_infinities(quantiles, cumulative, finite_max: float, num_pos_inf: float):
    """Boundaries without -inf and +inf; returns them with the -inf count."""
    neg = int(np.searchsorted(quantiles, -np.inf, side="right"))
    num_neg_inf = 0.0
    if neg:
        num_neg_inf = float(cumulative[neg - 1])
        quantiles, cumulative = quantiles[neg:], cumulative[neg:] - num_neg_inf
    if num_pos_inf:
        pos = int(np.searchsorted(quantiles, np.inf, side="left"))
        finite_count = cumulative[-1] - num_pos_inf
        quantiles = np.append(quantiles[:pos], finite_max)
        cumulative = np.append(cumulative[:pos], finite_count)
    return quantiles, cumulative, num_neg_inf


def _overlaps(low: np.ndarray, high: np.ndarray, left: float, right: float, first: bool) -> np.ndarray:
    """The fraction of each fine bucket inside ``[left, right]`` (uniform mass inside a bucket).

    A point bucket on the left edge counts only in the first output bucket
    (the one before it already holds it otherwise).
    """
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        conditions = [
            (low == high) & (low == left),
            high < left,
            low > right,
            (left <= low) & (right >= high),
            left <= low,
            right >= high,
        ]
        choices = [
            np.full(low.shape, 1.0 if first else 0.0),
            np.zeros(low.shape),
            np.zeros(low.shape),
            np.ones(low.shape),
            (right - low) / width,
            (high - left) / width,
        ]
        return np.select(conditions, choices, (right - left) / width)


def standard_histogram(
    quantiles: np.ndarray,
    cumulative: np.ndarray,
    finite_min: float,
    finite_max: float,
    num_pos_inf: float,
    num_buckets: int = 10,
) -> Buckets:
    """The STANDARD histogram: ``num_buckets`` equal-width buckets over the finite range.

    ``quantiles``/``cumulative`` are a fine quantile query (1001 boundaries)
    over every non-NaN value; ``finite_min``/``finite_max`` the extremes of the
    finite values (+inf/-inf when there are none). A constant feature gets one
    point bucket; -inf and +inf values get point buckets of their own.
    """
    if not np.isfinite(finite_min) and not np.isfinite(finite_max):
        return np.array([finite_min]), np.array([finite_max]), np.array([float(cumulative[-1])])
    quantiles, cumulative, num_neg_inf = _strip_infinities(quantiles, cumulative, finite_max, num_pos_inf)
    fine_low, fine_high, fine_weights = quantile_buckets(quantiles, cumulative)
    if finite_min == finite_max:
        edges = np.array([finite_min, finite_max])
    else:
        edges = np.linspace(finite_min, finite_max, num_buckets + 1)
        if not np.isfinite(edges).all():  # overflow: TFDV gives up with an empty histogram
            empty = np.empty(0)
            return empty, empty, empty
    counts = np.empty(edges.size - 1)
    for i in range(edges.size - 1):
        contributions = _overlaps(fine_low, fine_high, edges[i], edges[i + 1], i == 0) * fine_weights
        counts[i] = np.cumsum(contributions)[-1] if contributions.size else 0.0  # bucket by bucket, as TFDV
    low, high = edges[:-1], edges[1:]
    if num_neg_inf:
        low, high, counts = np.append(-np.inf, low), np.append(-np.inf, high), np.append(num_neg_inf, counts)
    if num_pos_inf:
        low, high, counts = np.append(low, np.inf), np.append(high, np.inf), np.append(counts, float(num_pos_inf))
    return low, high, counts
