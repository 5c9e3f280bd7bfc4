"""Mutual information of each token with a label: how tf.Transform 1.21 ranks a supervised vocabulary.

A token's score sums, over the label values ``j`` with ``y_j > 0`` rows, the
cell ``n_ij * log2(n * n_ij / (x_i * y_j))`` (not divided by ``n``), where

- ``n`` is the (weighted) number of rows, ``y_j`` the (weighted) rows of label ``j``,
- ``x_i`` the (weighted) occurrences of the token,
- ``n_ij = clip(mean_ij, 1e-6, 1 - 1e-6) * weight_i * count_i``, ``mean_ij``
  being the share of the token's occurrences with label ``j``, rounded to
  float32 as tf.Transform keeps it.

A cell whose ``n_ij`` differs from its expectation ``x_i * y_j / n`` by less
than ``min_diff_from_avg`` is skipped; a token present in every row scores 0.
The adjusted variant subtracts the expected mutual information under the
hypergeometric distribution. Scores are float64; a score to which no cell
contributed is the integer 0, which tf.Transform writes as ``0`` (not ``0.0``).

Sums come in exact (float64), not as tf.Transform's per-batch float32 means,
so the result does not depend on batching; it equals tf.Transform's when
tf.Transform sees the data as one batch. Logarithms go through Python's
``math`` module: numpy's vectorized ``log2`` differs from it in the last bit
for about one value in a thousand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from featurebeam_base.errors import InputError

_log2 = np.frompyfunc(math.log2, 1, 1)
_log = np.frompyfunc(math.log, 1, 1)
_exp = np.frompyfunc(math.exp, 1, 1)


def _math(function, values) -> np.ndarray:
    return np.asarray(function(np.asarray(values, np.float64)), np.float64)


def recommended_min_diff_from_avg(dataset_size: float) -> int:
    """tf.Transform's default ``min_diff_from_avg``: 2 up to 10,000 rows, rising to 25 at 1,000,000."""
    return int(min(25, max(2, (dataset_size - 10000) / (1000000 - 10000) * (25 - 2) + 2)))


@dataclass
class Counts:
    """Occurrences of some tokens (or, for the totals, rows): count, weight sum, weight sum per label."""

    count: np.ndarray  # int64 [T]
    weight: np.ndarray  # float64 [T]
    labels: np.ndarray  # float64 [T, L]

    def means(self, weighted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """tf.Transform's accumulator: float32 label means, float32 mean weight, int64 count."""
        count = self.count.astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if weighted:
                mean = (self.labels / self.weight[:, None]).astype(np.float32)
                weight = (self.weight / count).astype(np.float32)
            else:
                mean = (self.labels / count[:, None]).astype(np.float32)
                weight = np.ones(len(count), np.float32)
        return mean, weight, count


@dataclass
class Scores:
    """One score per token; ``integer`` marks scores that are tf.Transform's integer 0."""

    score: np.ndarray  # float64 [T]
    frequency: np.ndarray  # float64 [T]: the weighted count tf.Transform filters coverage on
    integer: np.ndarray  # bool [T]


def scores(
    tokens: Counts,
    totals: Counts,
    *,
    weighted: bool,
    adjusted: bool,
    min_diff_from_avg: float | None,
    token_names=None,
) -> Scores:
    """The (adjusted) mutual information of every token with the label."""
    size = len(tokens.count)
    label_mean, label_weight, row_count = totals.means(weighted)
    rows = np.array(row_count[0]) if len(row_count) else np.array(np.int64(0))
    global_weight = label_weight[0] if len(label_weight) else np.float32(1.0)
    global_mean = label_mean[0] if len(label_mean) else np.zeros(0, np.float32)
    label_counts = global_mean * global_weight * rows  # float64 [L], as tf.Transform computes it
    n = rows * global_weight
    if min_diff_from_avg is None:
        min_diff_from_avg = recommended_min_diff_from_avg(n)
    if n == 0:
        nan = np.full(size, np.nan)
        return Scores(nan, np.zeros(size), np.zeros(size, bool))
    mean, weight, count = tokens.means(weighted)
    x = count * weight  # float64
    constant = np.round(x) == np.round(n)
    _check_frequencies(x, n, token_names)
    mi = np.zeros(size)
    emi = np.zeros(size)
    floating = np.zeros(size, bool)
    for j, y in enumerate(label_counts):
        if y == 0:
            continue
        local = mean[:, j] if j < mean.shape[1] else np.zeros(size, np.float32)
        nij = np.clip(local, 1e-6, 1 - 1e-6) * weight * count
        with np.errstate(invalid="ignore"):
            take = ~(np.abs(x * y / n - nij) < min_diff_from_avg) & ~constant
        cells = take & (nij != 0) & (x != 0)
        mi[cells] = mi[cells] + _partial_mutual_information(nij[cells], x[cells], y, n)
        floating |= cells
        if adjusted:
            expected = take & (x != 0)
            emi[expected] = emi[expected] + [_expected_mutual_information(float(n), xi, float(y)) for xi in x[expected]]
            floating |= expected
    score = mi - emi if adjusted else mi
    score[constant] = 0.0
    return Scores(score, x, ~floating | constant)


def _check_frequencies(x: np.ndarray, n, token_names) -> None:
    over = np.flatnonzero(np.round(x) > np.round(n))
    if over.size:
        i = over[0]
        name = token_names[int(i)].as_py() if token_names is not None else f"#{i}"
        name = name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else name
        raise InputError(
            f"vocabulary with `labels`: token {name!r} occurs {x[i]:g} times but there are only {float(n):g} rows; "
            "with labels, each row must hold a set of tokens (no token repeated within a row)"
        )


def _partial_mutual_information(nij, x, y, n) -> np.ndarray:
    return nij * ((_math(_log2, nij) + math.log2(n)) - (_math(_log2, x) + math.log2(y)))


def _logfactorial(value: float) -> float:
    return math.lgamma(value + 1)


def _expected_mutual_information(n: float, x: float, y: float) -> float:
    """Expected mutual information of one (token, label) cell under the hypergeometric distribution."""
    coefficient = -math.log2(x) - math.log2(y) + math.log2(n)
    start = int(round(max(0, x + y - n)))
    end = int(round(min(x, y)))
    numerator = _logfactorial(x) + _logfactorial(y) + _logfactorial(n - x) + _logfactorial(n - y)
    denominator = (
        _logfactorial(n)
        + _logfactorial(start)
        + _logfactorial(x - start)
        + _logfactorial(y - start)
        + _logfactorial(n - x - y + start)
    )
    # The denominator of each next probability, updated step by step as tf.Transform does
    # (a cumulative sum adds in the same order, so the rounding is the same).
    steps = np.arange(start, end, dtype=np.int64)
    increments = (_math(_log, steps + 1) - _math(_log, x - steps)) - _math(_log, y - steps)
    increments = increments + _math(_log, (n - x - y) + steps + 1)
    denominators = np.cumsum(np.concatenate([[denominator], increments]))
    probabilities = _math(_exp, numerator - denominators)
    joint = np.arange(start, end + 1, dtype=np.int64)
    nonzero = joint != 0
    terms = joint[nonzero] * (coefficient + _math(_log2, joint[nonzero])) * probabilities[nonzero]
    partial = np.cumsum(np.concatenate([[0.0], terms]))[-1]
    total = np.cumsum(np.concatenate([[0.0], probabilities]))[-1]
    return float(partial / total)
