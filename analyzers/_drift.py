"""Distances between two datasets' distributions of a feature, as TensorFlow Data Validation measures skew and drift.

- ``linf_distance``: categorical features. Each side's rank histogram
  (``{value: count}``) is normalised by its own total; the distance is the
  largest absolute difference of a value's share, and that value is reported
  (on a tie, the last value in byte order, as TFDV does).
- ``histogram_jsd``: numeric features. The Jensen-Shannon divergence (log base
  2, at most 1) of two histograms (TFDV uses the STANDARD ones). When their
  bucket boundaries differ, both are re-bucketed onto the union of the
  boundaries, assuming uniform mass inside a bucket; zero-width (point) buckets
  are compared value by value and never merged with ranges.

TFDV (1.16, its newest release) puts each side's NaN mass, and each side's
infinite mass, in a bucket of its own that the other side never shares, and
drops NaN counts whenever it re-buckets: identical histograms with NaNs then
have a divergence of 0.2. ``histogram_jsd`` compares NaN, -inf and +inf masses
bucket to bucket instead; ``tfdv_nan_and_inf=True`` reproduces TFDV's way. The
two agree whenever neither side has NaN or infinite values.

>>> round(histogram_jsd([(0.0, 2.0, 10.0)], 0, [(1.0, 3.0, 10.0)], 0), 6)
0.5
>>> linf_distance({"a": 4, "b": 3, "c": 2, "d": 1}, {"a": 1, "b": 4, "c": 1, "d": 4})
(0.30000000000000004, 'd')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Bucket = tuple[float, float, float]  # low, high, count


def _shares(counts: Mapping[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: count / total for label, count in counts.items()} if total else {}


def linf_distance(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[float, str]:
    """The L-infinity distance of two value distributions, and the value where it is reached."""
    shares_a, shares_b = _shares(a), _shares(b)
    distance, label = 0.0, ""
    for value in sorted(set(shares_a) | set(shares_b), key=lambda v: v.encode("utf-8")):
        difference = abs(shares_a.get(value, 0.0) - shares_b.get(value, 0.0))
        if difference >= distance:
            distance, label = difference, value
    return distance, label


def _divergence(p: Sequence[float], q: Sequence[float]) -> float | None:
    """JSD (log base 2, capped at 1) of two non-negative vectors, each normalised by its own sum."""
    total_p, total_q = sum(p), sum(q)
    if total_p <= 0 or total_q <= 0:
        return None
    result = 0.0
    for x, y in zip(p, q):
        x, y = x / total_p, y / total_q
        m = (x + y) / 2
        if x > 0:
            result += 0.5 * x * math.log2(x / m)
        if y > 0:
            result += 0.5 * y * math.log2(y / m)
    return min(result, 1.0)


def categorical_jsd(a: Mapping[str, float], b: Mapping[str, float]) -> float | None:
    """The Jensen-Shannon divergence of two value distributions (``{value: count}``)."""
    labels = sorted(set(a) | set(b), key=lambda v: v.encode("utf-8"))
    return _divergence([a.get(v, 0.0) for v in labels], [b.get(v, 0.0) for v in labels])


class _Parts:
    """A histogram split as TFDV aligns it: finite ranges, point masses, infinite masses."""

    def __init__(self, buckets: Sequence[Bucket]):
        self.ranges: list[Bucket] = []
        self.points: dict[float, float] = {}
        self.infinite: dict[str, float] = {}  # "-inf", "+inf", "other" (no finite value at all)
        for low, high, count in buckets:
            if math.isfinite(low) and math.isfinite(high):
                if low == high:
                    self.points[low] = self.points.get(low, 0.0) + count
                else:
                    self.ranges.append((low, high, count))
            else:
                side = "-inf" if low == high == -math.inf else "+inf" if low == high == math.inf else "other"
                self.infinite[side] = self.infinite.get(side, 0.0) + count

    def edges(self) -> list[float]:
        return sorted({edge for low, high, _ in self.ranges for edge in (low, high)})

    def rebucketed(self, edges: Sequence[float]) -> list[float]:
        """Counts on consecutive ``edges``, each range's mass spread uniformly over it."""
        counts = []
        for left, right in zip(edges[:-1], edges[1:]):
            total = 0.0
            for low, high, count in self.ranges:
                overlap = min(right, high) - max(left, low)
                if overlap > 0:
                    total += count * overlap / (high - low)
            counts.append(total)
        return counts


def histogram_jsd(
    a: Sequence[Bucket], nan_a: float, b: Sequence[Bucket], nan_b: float, *, tfdv_nan_and_inf: bool = False
) -> float | None:
    """The Jensen-Shannon divergence of two histograms (``(low, high, count)`` buckets and NaN counts).

    None when a side holds no mass at all (TFDV then measures nothing).
    """
    parts_a, parts_b = _Parts(a), _Parts(b)
    edges_a, edges_b = parts_a.edges(), parts_b.edges()
    if edges_a != edges_b:
        edges = sorted(set(edges_a) | set(edges_b))
        p, q = parts_a.rebucketed(edges), parts_b.rebucketed(edges)
        if tfdv_nan_and_inf:  # TFDV rebuilds the re-bucketed histograms without their NaN counts
            nan_a = nan_b = 0
    else:
        p, q = [c for _, _, c in parts_a.ranges], [c for _, _, c in parts_b.ranges]
    for value in sorted(set(parts_a.points) | set(parts_b.points)):
        p.append(parts_a.points.get(value, 0.0))
        q.append(parts_b.points.get(value, 0.0))
    if tfdv_nan_and_inf:
        infinite_a, infinite_b = sum(parts_a.infinite.values()), sum(parts_b.infinite.values())
        if infinite_a:
            p, q = p + [infinite_a], q + [0.0]
        if infinite_b:
            p, q = p + [0.0], q + [infinite_b]
        if nan_a > 0 or nan_b > 0:
            p, q = p + [0.0, nan_a], q + [nan_b, 0.0]
    else:
        for side in ("-inf", "+inf", "other"):
            if side in parts_a.infinite or side in parts_b.infinite:
                p.append(parts_a.infinite.get(side, 0.0))
                q.append(parts_b.infinite.get(side, 0.0))
        if nan_a > 0 or nan_b > 0:
            p, q = p + [nan_a], q + [nan_b]
    return _divergence(p, q)


# -- from tensorflow_metadata FeatureNameStatistics protos -----------------------


def rank_counts(feature) -> dict[str, float]:
    """A string feature's ``{value: count}`` from its rank histogram (empty for other features)."""
    counts: dict[str, float] = {}
    if feature.HasField("string_stats"):
        for bucket in feature.string_stats.rank_histogram.buckets:
            counts[bucket.label] = counts.get(bucket.label, 0.0) + bucket.sample_count
    return counts


def standard_histogram(feature) -> tuple[list[Bucket], float] | None:
    """A numeric feature's STANDARD histogram as buckets, with its NaN count; None if it has none."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if not feature.HasField("num_stats"):
        return None
    for histogram in feature.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.STANDARD:
            buckets = [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets]
            return buckets, histogram.num_nan
    return None
