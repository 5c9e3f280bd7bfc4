"""Tests for analyzers._quantile_sketch.QuantilesSketch against tfx_bsl's QuantilesSketch.

tfx_bsl (a declared test dependency) is the oracle: on inputs where both
sketches are exact the outputs must be equal bit for bit; on large inputs the
rank error must stay within the documented bound and the bucket assignments
must agree with tfx_bsl's on nearly every row.
"""

from __future__ import annotations

import pickle
import time
import zlib

import numpy as np
import pyarrow as pa
import pytest
from tfx_bsl import sketches as tfx_sketches

from analyzers._quantile_sketch import QuantilesSketch

MAX_NUM_VALUES = 1 << 32


# -- helpers -------------------------------------------------------------------
def tfx_quantiles(values, weights, epsilon, num_features, num_quantiles, batch_size=None):
    """tfx_bsl's output as tf.Transform's QuantilesCombiner obtains it."""
    values = np.asarray(values, np.float64).reshape(-1, num_features)
    sketch = tfx_sketches.QuantilesSketch(epsilon, MAX_NUM_VALUES, num_features)
    batch_size = batch_size or max(len(values), 1)
    for start in range(0, len(values), batch_size):
        flat = pa.array(np.ravel(values[start : start + batch_size]))
        if weights is None:
            sketch.AddValues(flat)
        else:
            sketch.AddValues(flat, pa.array(np.asarray(weights[start : start + batch_size], float)))
    result = sketch.GetQuantiles(num_quantiles).to_pylist()
    if not result:
        return np.empty((num_features, 0))
    return np.array(result, np.float64)


def reference_quantiles(values, weights, num_quantiles):
    """Literal port of tfx_bsl's GenerateQuantiles over the exact distribution."""
    values = np.asarray(values, np.float64)
    weights = np.ones(values.size) if weights is None else np.asarray(weights, np.float64)
    keep = ~np.isnan(values) & (weights > 0)
    distinct, inverse = np.unique(values[keep], return_inverse=True)
    if distinct.size == 0:
        return np.empty(0)
    w = np.bincount(inverse, weights=weights[keep], minlength=distinct.size)
    max_rank = np.cumsum(w)
    min_rank = max_rank - w
    out, cur, n = [], 0, distinct.size
    for rank in range(num_quantiles + 1):
        d_2 = 2 * (rank * max_rank[-1] / num_quantiles)
        nxt = cur + 1
        while nxt < n and d_2 >= min_rank[nxt] + max_rank[nxt]:
            nxt += 1
        cur = nxt - 1
        if nxt == n or d_2 < (min_rank[cur] + w[cur]) + (max_rank[nxt] - w[nxt]):
            out.append(distinct[cur])
        else:
            out.append(distinct[nxt])
    return np.array(out)


def rank_errors(data, weights, quantiles):
    """Distance of each quantile's true rank interval [r-(v), r+(v)] to i*W/q."""
    order = np.argsort(data, kind="stable")
    xs = data[order]
    cw = np.concatenate([[0.0], np.cumsum(weights[order])])
    total = cw[-1]
    q = quantiles.size - 1
    target = np.arange(q + 1) * total / q
    below = cw[np.searchsorted(xs, quantiles, side="left")]
    upto = cw[np.searchsorted(xs, quantiles, side="right")]
    return np.maximum(0.0, np.maximum(below - target, target - upto)), total


def buckets(boundaries, x):
    """Bucket index = number of inner boundaries <= x."""
    return np.searchsorted(boundaries[1:-1], x, side="right")


def sketch_of(values, weights=None, epsilon=0.01, num_features=1, batch_size=10_000):
    sketch = QuantilesSketch(epsilon, num_features)
    for start in range(0, len(values), batch_size):
        sketch.add(
            values[start : start + batch_size],
            None if weights is None else weights[start : start + batch_size],
        )
    return sketch


def stored_entries(sketch):
    return sum(s.size for s in sketch._levels if s is not None)


# -- exactness -----------------------------------------------------------------
def random_small_case(rng):
    num_features = int(rng.integers(1, 4))
    n = int(rng.integers(1, 300))
    kind = int(rng.integers(0, 5))
    shape = (n, num_features)
    if kind == 0:
        values = rng.normal(size=shape)
    elif kind == 1:  # ints as floats, heavy ties
        values = rng.integers(0, 8, size=shape).astype(float)
    elif kind == 2:  # one to three distinct values
        values = rng.choice(np.array([-2.5, 0.0, 7.0])[: rng.integers(1, 4)], size=shape)
    elif kind == 3:
        values = rng.integers(-1000, 1000, size=shape).astype(float)
    else:
        values = rng.choice([-np.inf, -1.0, 0.5, 3.0, np.inf], size=shape)
    if rng.random() < 0.3:
        values[rng.random(shape) < 0.15] = np.nan
    weights = None
    if rng.random() < 0.5:
        # Multiples of 1/4: rank sums are exact in float64 in any order.
        weights = rng.integers(0, 12, size=n) / 4.0
        if rng.random() < 0.3:
            weights[rng.random(n) < 0.1] = np.nan
        if rng.random() < 0.2:
            weights[rng.random(n) < 0.1] = -1.0
    return values, weights, num_features, int(rng.integers(2, 21)), float(rng.choice([0.01, 0.05]))


def test_small_inputs_equal_tfx_bsl_exactly():
    rng = np.random.default_rng(20240601)
    compared = 0
    for _ in range(300):
        values, weights, num_features, num_quantiles, epsilon = random_small_case(rng)
        expected = tfx_quantiles(values, weights, epsilon, num_features, num_quantiles)
        # Our sketch: random batches, each in its own sketch, merged in order.
        sketch = QuantilesSketch(epsilon, num_features)
        cuts = np.sort(rng.integers(0, len(values), size=int(rng.integers(0, 4))))
        for part in np.split(np.arange(len(values)), cuts):
            shard = QuantilesSketch(epsilon, num_features)
            shard.add(
                values[part] if num_features > 1 else values[part, 0],
                None if weights is None else weights[part],
            )
            sketch.merge(shard)
        got = sketch.quantiles(num_quantiles)
        usable = ~np.isnan(values)
        if weights is not None:
            usable &= (weights > 0)[:, None]
        has_values = usable.any(axis=0)
        if has_values.any() and not has_values.all():
            # tfx_bsl's rows are misaligned when only some features are empty.
            assert np.isnan(got[~has_values]).all()
            continue
        assert got.shape == expected.shape
        assert np.array_equal(got, expected), (values, weights, num_quantiles)
        for j in range(num_features if got.size else 0):
            assert np.array_equal(got[j], reference_quantiles(values[:, j], weights, num_quantiles))
        compared += 1
    assert compared > 250


@pytest.mark.parametrize(
    "batches, num_quantiles, expected",
    [
        # Cases from tfx_bsl's own quantiles_sketch_test.py.
        (
            [np.linspace(1, 100, 100), np.linspace(101, 200, 100), np.linspace(201, 300, 100)],
            5,
            [1, 61, 121, 181, 241, 300],
        ),
        ([[1, 2, 3, 4], [2, 2, 2, 2], [1, 2, 3, 4]], 3, [1, 2, 3, 4]),
        ([100 * [0]], 3, [0, 0, 0, 0]),
    ],
)
def test_known_tfx_bsl_cases(batches, num_quantiles, expected):
    sketch = QuantilesSketch(0.01)
    for batch in batches:
        sketch.add(np.asarray(batch, np.float64))
    np.testing.assert_array_equal(sketch.quantiles(num_quantiles), [expected])


def test_weighted_case_from_tfx_bsl():
    sketch = QuantilesSketch(0.01)
    sketch.add(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 1.0, 1.0, 1.0, 20.0]))
    expected = tfx_quantiles([1, 2, 3, 4, 5], [1, 1, 1, 1, 20], 0.01, 1, 4)
    np.testing.assert_array_equal(sketch.quantiles(4), expected)


@pytest.mark.parametrize("num_shards", [1, 2, 7])
@pytest.mark.parametrize("num_features", [1, 3])
def test_sharded_merges_equal_one_pass(num_shards, num_features):
    """Many rows, few distinct values: several levels, still exact."""
    rng = np.random.default_rng(num_shards * 10 + num_features)
    n = 30_000
    values = rng.integers(-400, 400, size=(n, num_features)).astype(float)
    values[rng.random(values.shape) < 0.02] = np.nan
    weights = rng.integers(1, 4, size=n).astype(float)
    column_or_rows = values if num_features > 1 else values[:, 0]
    one_pass = sketch_of(column_or_rows, weights, 0.01, num_features, batch_size=997)
    expected = one_pass.quantiles(17)

    order = rng.permutation(n)
    shards = []
    for part in np.array_split(order, num_shards):
        shard = QuantilesSketch(0.01, num_features)
        start = 0
        while start < part.size:  # uneven batches
            step = int(rng.integers(1, 6000))
            rows = part[start : start + step]
            shard.add(values[rows] if num_features > 1 else values[rows, 0], weights[rows])
            start += step
        if rng.random() < 0.5:
            shard.compact()
        shards.append(pickle.loads(pickle.dumps(shard)))
    # Merge in a random order, pickling the partial result in between.
    rng.shuffle(shards)
    while len(shards) > 1:
        i = int(rng.integers(0, len(shards) - 1))
        left, right = shards.pop(i), shards.pop(i)
        left.merge(right)
        shards.append(pickle.loads(pickle.dumps(left)))
    got = shards[0].quantiles(17)

    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, tfx_quantiles(values, weights, 0.01, num_features, 17, 997))
    for j in range(num_features):
        np.testing.assert_array_equal(got[j], reference_quantiles(values[:, j], weights, 17))


# -- large inputs: error bound and agreement with tfx_bsl ----------------------
def _many_small_merges(x, epsilon):
    parts = []
    for start in range(0, x.size, 1000):
        part = QuantilesSketch(epsilon)
        part.add(x[start : start + 1000])
        part.compact()
        parts.append(pickle.loads(pickle.dumps(part)))
    while len(parts) > 1:  # pairwise tree, as a combiner tree would
        merged = []
        for a, b in zip(parts[::2], parts[1::2]):
            a.merge(b)
            merged.append(a)
        if len(parts) % 2:
            merged.append(parts[-1])
        parts = merged
    return parts[0]


def _data(name, n, rng):
    if name == "normal":
        return rng.normal(size=n)
    if name == "lognormal":
        return rng.lognormal(sigma=2.0, size=n)
    if name == "heavy_ties":
        return rng.integers(0, 30_000, size=n).astype(float)
    if name == "few_distinct":
        return rng.choice([1.0, 2.0, 3.0], p=[0.7, 0.2, 0.1], size=n)
    if name == "sorted":
        return np.sort(rng.normal(size=n))
    if name == "reversed":
        return np.sort(rng.exponential(size=n))[::-1].copy()
    raise AssertionError(name)


LARGE_CASES = [
    ("normal", 1_000_000, 0.01),
    ("normal", 1_000_000, 0.001),
    ("lognormal", 500_000, 0.01),
    ("heavy_ties", 500_000, 0.01),
    ("heavy_ties", 500_000, 0.001),
    ("few_distinct", 300_000, 0.01),
    ("sorted", 1_000_000, 0.01),
    ("sorted", 500_000, 0.001),
    ("reversed", 500_000, 0.01),
    ("reversed", 500_000, 0.001),
    ("many_small_merges", 300_000, 0.01),
    ("many_small_merges", 300_000, 0.001),
]


@pytest.mark.parametrize("name, n, epsilon", LARGE_CASES)
def test_large_input_rank_error_and_tfx_agreement(name, n, epsilon):
    rng = np.random.default_rng(zlib.crc32(f"{name}/{n}/{epsilon}".encode()))
    x = _data("normal" if name == "many_small_merges" else name, n, rng)
    if name == "many_small_merges":
        sketch = _many_small_merges(x, epsilon)
    else:
        sketch = sketch_of(x, None, epsilon)
    num_quantiles_list = [10, 20] if epsilon >= 0.01 else [10, 100]
    for num_quantiles in num_quantiles_list:
        got = sketch.quantiles(num_quantiles)[0]
        errors, total = rank_errors(x, np.ones(n), got)
        assert total == n
        # Proved bound epsilon*N/2 (and so the advertised epsilon*N).
        assert errors.max() <= epsilon * n / 2, errors.max() / (epsilon * n)
        assert got[0] == x.min() and got[-1] == x.max()

        expected = tfx_quantiles(x, None, epsilon, 1, num_quantiles, 10_000)[0]
        ours, theirs = buckets(got, x), buckets(expected, x)
        assert np.mean(ours == theirs) >= 0.99
        assert np.abs(ours - theirs).max() <= 1


@pytest.mark.parametrize("epsilon", [0.01, 0.001])
def test_large_weighted_input_rank_error(epsilon):
    rng = np.random.default_rng(7)
    n = 400_000
    x = rng.lognormal(size=n)
    w = rng.exponential(size=n)
    w[rng.random(n) < 0.05] = 0.0  # ignored rows
    sketch = sketch_of(x, w, epsilon)
    got = sketch.quantiles(50)[0]
    errors, total = rank_errors(x, w, got)
    assert errors.max() <= epsilon * total / 2
    expected = tfx_quantiles(x, w, epsilon, 1, 50, 10_000)[0]
    keep = w > 0
    ours, theirs = buckets(got, x[keep]), buckets(expected, x[keep])
    assert np.mean(ours == theirs) >= 0.99
    assert np.abs(ours - theirs).max() <= 1


def test_three_features_large():
    rng = np.random.default_rng(3)
    n = 200_000
    values = np.stack(
        [rng.normal(size=n), rng.integers(0, 50, size=n).astype(float), rng.exponential(size=n)],
        axis=1,
    )
    values[rng.random(values.shape) < 0.1] = np.nan
    sketch = sketch_of(values, None, 0.01, num_features=3)
    got = sketch.quantiles(10)
    expected = tfx_quantiles(values, None, 0.01, 3, 10, 10_000)
    assert got.shape == expected.shape == (3, 11)
    for j in range(3):
        col = values[:, j][~np.isnan(values[:, j])]
        errors, total = rank_errors(col, np.ones(col.size), got[j])
        assert errors.max() <= 0.01 * total / 2
        assert np.mean(buckets(got[j], col) == buckets(expected[j], col)) >= 0.99
    np.testing.assert_array_equal(got[1], expected[1])  # 50 distinct values: exact


# -- memory --------------------------------------------------------------------
def test_memory_is_bounded_and_pickle_small():
    rng = np.random.default_rng(11)
    epsilon = 0.01
    sketch = QuantilesSketch(epsilon)
    block = sketch._block_size
    capacity = sketch._buffer_capacity
    sizes = {}
    for batch in range(400):  # 4e6 values
        sketch.add(rng.normal(size=10_000))
        rows = (batch + 1) * 10_000
        if rows in (250_000, 1_000_000, 4_000_000):
            levels = (rows // capacity).bit_length()
            # level 0 (< capacity entries) + at most block + 2 per upper level
            assert stored_entries(sketch) <= capacity + levels * (block + 2)
            sketch.compact()
            assert sketch._buffer_rows == 0
            sizes[rows] = len(pickle.dumps(sketch))
            assert sizes[rows] <= 40 * (capacity + levels * (block + 2))
    # Logarithmic, not linear, in the data: 4e6 float64 inputs are 32 MB.
    assert sizes[4_000_000] < 0.02 * 4_000_000 * 8
    assert sizes[1_000_000] < 400_000


def test_compact_after_every_merge_stays_bounded():
    rng = np.random.default_rng(12)
    x = rng.normal(size=1_000_000)
    sketch = QuantilesSketch(0.01)
    for start in range(0, x.size, 5_000):
        part = QuantilesSketch(0.01)
        part.add(x[start : start + 5_000])
        part.compact()
        sketch.merge(part)
        sketch.compact()
    levels = (x.size // sketch._buffer_capacity).bit_length()
    assert stored_entries(sketch) <= sketch._buffer_capacity + levels * (sketch._block_size + 2)
    errors, _ = rank_errors(x, np.ones(x.size), sketch.quantiles(100)[0])
    assert errors.max() <= 0.01 * x.size / 2


def test_adding_batches_is_cheap():
    x = np.random.default_rng(13).normal(size=1_000_000)
    start = time.perf_counter()
    sketch_of(x, None, 0.01)
    # About 0.05 s here; a generous bound only catches per-element Python work.
    assert time.perf_counter() - start < 5.0


# -- edge cases ----------------------------------------------------------------
@pytest.mark.parametrize("num_features", [1, 3])
def test_empty_sketch(num_features):
    sketch = QuantilesSketch(0.01, num_features)
    assert sketch.quantiles(5).shape == (num_features, 0)
    sketch.compact()
    sketch.merge(QuantilesSketch(0.01, num_features))
    assert sketch.quantiles(5).shape == (num_features, 0)
    assert pickle.loads(pickle.dumps(sketch)).quantiles(5).shape == (num_features, 0)
    assert tfx_quantiles(np.empty((0, num_features)), None, 0.01, num_features, 5).shape == (
        num_features,
        0,
    )


def test_all_nan_and_unusable_weights():
    sketch = QuantilesSketch(0.01)
    sketch.add(np.full(1000, np.nan))
    sketch.add(np.arange(3.0), np.array([0.0, -1.0, np.nan]))
    assert sketch.quantiles(4).shape == (1, 0)
    assert tfx_quantiles(np.full(10, np.nan), None, 0.01, 1, 4).shape == (1, 0)
    sketch3 = QuantilesSketch(0.01, 3)
    sketch3.add(np.full((100, 3), np.nan))
    sketch3.compact()
    assert sketch3.quantiles(4).shape == (3, 0)


def test_three_features_flat_and_2d_input_and_tfx():
    rng = np.random.default_rng(4)
    values = rng.integers(0, 20, size=(500, 3)).astype(float)
    values[:, 2] *= -1.5
    weights = rng.integers(1, 5, size=500).astype(float)
    from_2d = QuantilesSketch(0.01, 3)
    from_2d.add(values, weights)
    from_flat = QuantilesSketch(0.01, 3)
    from_flat.add(values.ravel(), weights)  # tfx_bsl's flat C-order layout
    expected = tfx_quantiles(values, weights, 0.01, 3, 6)
    np.testing.assert_array_equal(from_2d.quantiles(6), expected)
    np.testing.assert_array_equal(from_flat.quantiles(6), expected)


def test_feature_without_values_gets_nan_row():
    sketch = QuantilesSketch(0.01, 2)
    sketch.add(np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]]))
    got = sketch.quantiles(2)
    np.testing.assert_array_equal(got[0], [1.0, 2.0, 3.0])
    assert np.isnan(got[1]).all()


def test_add_and_merge_mutate_self_only():
    rng = np.random.default_rng(5)
    batch = rng.normal(size=100)
    kept = batch.copy()
    a = QuantilesSketch(0.01)
    a.add(batch)
    batch[:] = 1e9  # the caller reuses its buffer
    b = QuantilesSketch(0.01)
    b.add(rng.normal(size=50_000))
    b_before = b.quantiles(10)
    a.merge(b)
    a.add(rng.normal(size=30_000))
    np.testing.assert_array_equal(b.quantiles(10), b_before)
    assert a.quantiles(2)[0, -1] < 1e9
    # quantiles() does not change the accumulator.
    a.quantiles(7)
    c = QuantilesSketch(0.01)
    c.add(kept)
    np.testing.assert_array_equal(c.quantiles(3), reference_quantiles(kept, None, 3)[None])


def test_self_merge_doubles_weights():
    sketch = QuantilesSketch(0.01)
    sketch.add(np.array([1.0, 2.0, 3.0, 4.0]))
    sketch.merge(sketch)
    expected = reference_quantiles(np.tile([1.0, 2.0, 3.0, 4.0], 2), None, 4)
    np.testing.assert_array_equal(sketch.quantiles(4)[0], expected)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        QuantilesSketch(0.0)
    with pytest.raises(ValueError):
        QuantilesSketch(0.01, 0)
    sketch = QuantilesSketch(0.01, 2)
    with pytest.raises(ValueError):
        sketch.add(np.zeros((4, 3)))
    with pytest.raises(ValueError):
        sketch.add(np.zeros(5))
    with pytest.raises(ValueError):
        sketch.add(np.zeros((4, 2)), np.ones(3))
    with pytest.raises(ValueError):
        sketch.quantiles(1)
    with pytest.raises(ValueError):
        sketch.merge(QuantilesSketch(0.02, 2))
