"""Numeric analyzer specs (mean/var, min/max, sum, size) against one-pass numpy.

Every dataset is shuffled, split into 1, 2 and 7 shards, each shard fed in
several batches (as a generator) to its own accumulator; every accumulator is
pickled and unpickled, then merged forward, reversed and tree-wise. The result
must equal numpy's answer over the whole array, whatever the split and order.
"""

from __future__ import annotations

import functools
import pickle
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from analyzers import MeanAndVarSpec, MinMaxSpec, SizeSpec, SumSpec

INT64_MAX = np.iinfo(np.int64).max  # 9223372036854775807
RTOL = 1e-6


# -- driving specs ---------------------------------------------------------------
def make_spec(family: str, x: np.ndarray, reduce_instance_dims: bool):
    feature_shape = tuple(x.shape[1:])
    if family == "mean_var":
        return MeanAndVarSpec(feature_shape, reduce_instance_dims, "float32", key="k")
    if family == "min_max":
        return MinMaxSpec(feature_shape, reduce_instance_dims, x.dtype.name, key="k")
    if family == "sum":
        return SumSpec(feature_shape, reduce_instance_dims, x.dtype.name, key="k")
    if family == "size":
        return SizeSpec(feature_shape, reduce_instance_dims, key="k")
    raise ValueError(family)


def cut_points(rng, n: int, parts: int) -> list[int]:
    """``parts - 1`` sorted cut points in ``[0, n]``; pieces may be empty."""
    return sorted(rng.integers(0, n + 1, size=parts - 1).tolist())


def accumulate(spec, batches):
    """One accumulator fed from an iterable (a generator: add must not need a list)."""
    accumulator = spec.create()
    for batch in batches:
        accumulator = spec.add(accumulator, (batch,))
    return accumulator


def roundtrip(accumulator):
    return pickle.loads(pickle.dumps(accumulator))


def merge_forward(spec, accumulators):
    return functools.reduce(spec.merge, accumulators)


def merge_reversed(spec, accumulators):
    return functools.reduce(spec.merge, accumulators[::-1])


def merge_tree(spec, accumulators):
    level = list(accumulators)
    while len(level) > 1:
        paired = [spec.merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


MERGE_ORDERS = {"forward": merge_forward, "reversed": merge_reversed, "tree": merge_tree}


def sharded_accumulators(spec, x: np.ndarray, num_shards: int, rng) -> list:
    """Shuffle rows, cut into shards, feed each shard in several batches, pickle each."""
    shuffled = x[rng.permutation(len(x))]
    accumulators = []
    for shard in np.split(shuffled, cut_points(rng, len(shuffled), num_shards)):
        num_batches = int(rng.integers(1, 5))
        batches = np.split(shard, cut_points(rng, len(shard), num_batches))
        accumulators.append(roundtrip(accumulate(spec, (b for b in batches))))
    return accumulators


# -- numpy references ------------------------------------------------------------
def _columns(x: np.ndarray, reduce_instance_dims: bool) -> tuple[list[np.ndarray], tuple[int, ...]]:
    if reduce_instance_dims:
        return [x.ravel()], ()
    width = int(np.prod(x.shape[1:], dtype=np.int64))
    flat = x.reshape(len(x), width)
    return [flat[:, j] for j in range(width)], tuple(x.shape[1:])


def reference(family: str, x: np.ndarray, reduce_instance_dims: bool) -> tuple[np.ndarray, ...]:
    columns, shape = _columns(x, reduce_instance_dims)
    if family == "mean_var":
        means, variances = [], []
        for column in columns:
            finite = column.astype(np.float64)
            finite = finite[np.isfinite(finite)]
            means.append(np.mean(finite) if finite.size else 0.0)
            variances.append(np.var(finite, ddof=0) if finite.size else 0.0)
        return (
            np.array(means, np.float64).reshape(shape).astype(np.float32),
            np.array(variances, np.float64).reshape(shape).astype(np.float32),
        )
    if family == "min_max":
        if x.dtype.kind == "f":
            empty_min, empty_max = np.inf, -np.inf
        else:
            empty_min, empty_max = INT64_MAX, -INT64_MAX
        minima = [np.min(c) if c.size else empty_min for c in columns]
        maxima = [np.max(c) if c.size else empty_max for c in columns]
        return (
            np.array(minima, x.dtype).reshape(shape),
            np.array(maxima, x.dtype).reshape(shape),
        )
    if family == "sum":
        wide = np.float64 if x.dtype.kind == "f" else np.int64
        return (np.array([np.sum(c.astype(wide)) for c in columns], wide).reshape(shape).astype(x.dtype),)
    if family == "size":
        return (np.array([c.size for c in columns], np.int64).reshape(shape),)
    raise ValueError(family)


EXPECTED_DTYPES = {
    "mean_var": lambda x: (np.float32, np.float32),
    "min_max": lambda x: (x.dtype, x.dtype),
    "sum": lambda x: (x.dtype,),
    "size": lambda x: (np.int64,),
}


def assert_outputs(family, actual, x, reduce_instance_dims, *, rtol=RTOL, atol=(0.0, 0.0)):
    expected = reference(family, x, reduce_instance_dims)
    assert isinstance(actual, tuple) and len(actual) == len(expected)
    shape = () if reduce_instance_dims else tuple(x.shape[1:])
    for i, (got, want, dtype) in enumerate(zip(actual, expected, EXPECTED_DTYPES[family](x), strict=True)):
        assert np.dtype(got.dtype) == np.dtype(dtype), f"output {i}: dtype {got.dtype}, expected {dtype}"
        assert np.shape(got) == shape, f"output {i}: shape {np.shape(got)}, expected {shape}"
        if family in ("min_max", "size") or np.dtype(dtype).kind == "i":
            np.testing.assert_array_equal(got, want, err_msg=f"output {i}")
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol[min(i, len(atol) - 1)], err_msg=f"output {i}")


# -- datasets --------------------------------------------------------------------
N = 240


def _nan_inf(rng):
    x = rng.normal(0.0, 2.0, size=(N, 3)).astype(np.float32)
    x[rng.choice(N, 7, replace=False), 0] = np.nan
    x[rng.choice(N, 5, replace=False), 1] = np.inf
    x[rng.choice(N, 5, replace=False), 2] = -np.inf
    return x


def _nan_only(rng):
    x = rng.normal(1.0, 1.0, size=N).astype(np.float32)
    x[rng.choice(N, 3, replace=False)] = np.nan
    return x


def _both_infinities(rng):
    x = rng.normal(1.0, 1.0, size=N).astype(np.float32)
    x[5], x[77] = np.inf, -np.inf
    return x


def _constant_columns(rng):
    x = rng.normal(0.0, 1.0, size=(N, 3)).astype(np.float32)
    x[:, 1] = np.float32(3.7)
    x[:, 2] = np.float32(-0.1)
    return x


def _all_nan_column(rng):
    x = rng.normal(0.0, 1.0, size=(N, 3)).astype(np.float32)
    x[:, 2] = np.nan
    return x


DATASETS = {
    "float32_n": lambda rng: rng.normal(2.0, 3.0, size=N).astype(np.float32),
    "float32_n3": lambda rng: rng.normal([0.5, 5.0, -3.0], [1.0, 2.0, 0.5], size=(N, 3)).astype(np.float32),
    "int64_n": lambda rng: rng.integers(-1000, 1000, size=N, dtype=np.int64),
    "int64_n3": lambda rng: rng.integers(-50, 50, size=(N, 3), dtype=np.int64),
    "float32_nan_inf_n3": _nan_inf,
    "float32_nan_n": _nan_only,
    "float32_both_infinities_n": _both_infinities,
    "float32_all_nan_column_n3": _all_nan_column,
    "float32_constant_columns_n3": _constant_columns,
    "float32_constant_n": lambda rng: np.full(N, 3.7, np.float32),
    "int64_constant_n3": lambda rng: np.full((N, 3), -12345, np.int64),
    "float32_offset_1e6_n": lambda rng: (1e6 + rng.normal(0.0, 1.0, size=N)).astype(np.float32),
    "float32_offset_1e6_n3": lambda rng: (1e6 + rng.normal(0.0, 1.0, size=(N, 3))).astype(np.float32),
    # E[x^2] - E[x]^2 in float64 is noise here (x^2 ~ 1e18, ulp 128), the variance is ~4.
    "int64_offset_1e9_n3": lambda rng: 10**9 + rng.integers(-3, 4, size=(N, 3), dtype=np.int64),
    "float32_empty_n": lambda rng: np.zeros(0, np.float32),
    "float32_empty_n3": lambda rng: np.zeros((0, 3), np.float32),
    "int64_empty_n": lambda rng: np.zeros(0, np.int64),
    "int64_empty_n3": lambda rng: np.zeros((0, 3), np.int64),
}
FAMILIES = ["mean_var", "min_max", "sum", "size"]


def dataset(name: str):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return DATASETS[name](rng), rng


@pytest.mark.parametrize("num_shards", [1, 2, 7])
@pytest.mark.parametrize("reduce_instance_dims", [True, False], ids=["reduce", "per_feature"])
@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("family", FAMILIES)
def test_sharded_merge_equals_numpy(family, name, reduce_instance_dims, num_shards):
    x, rng = dataset(name)
    spec = make_spec(family, x, reduce_instance_dims)
    with np.errstate(invalid="ignore"):  # inf + -inf = NaN is the expected sum
        accumulators = sharded_accumulators(spec, x, num_shards, rng)
        for order, merge in MERGE_ORDERS.items():
            fresh = [roundtrip(a) for a in accumulators]  # merges mutate their first argument
            actual = spec.extract(merge(spec, fresh))
            try:
                assert_outputs(family, actual, x, reduce_instance_dims)
            except AssertionError as error:
                raise AssertionError(f"merge order {order!r}: {error}") from None


# -- hand-computed cases ---------------------------------------------------------
def run(family: str, x: np.ndarray, reduce_instance_dims: bool, batches) -> tuple[np.ndarray, ...]:
    spec = make_spec(family, x, reduce_instance_dims)
    return spec.extract(roundtrip(accumulate(spec, batches)))


@pytest.mark.parametrize("shape", [(0,), (0, 3)])
def test_empty_input_values(shape):
    out_shape = shape[1:]
    for dtype in (np.float32, np.int64):
        x = np.zeros(shape, dtype)
        batches = [x, x[:0]]

        mean, var = run("mean_var", x, False, batches)
        np.testing.assert_array_equal(mean, np.zeros(out_shape, np.float32))
        np.testing.assert_array_equal(var, np.zeros(out_shape, np.float32))

        minimum, maximum = run("min_max", x, False, batches)
        if dtype is np.float32:
            np.testing.assert_array_equal(minimum, np.full(out_shape, np.inf, np.float32))
            np.testing.assert_array_equal(maximum, np.full(out_shape, -np.inf, np.float32))
        else:
            np.testing.assert_array_equal(minimum, np.full(out_shape, 9223372036854775807, np.int64))
            np.testing.assert_array_equal(maximum, np.full(out_shape, -9223372036854775807, np.int64))
        assert minimum.dtype == maximum.dtype == dtype

        (total,) = run("sum", x, True, batches)
        assert total.dtype == dtype and total == 0
        (size,) = run("size", x, True, batches)
        assert size.dtype == np.int64 and size == 0
        (size,) = run("size", x, False, batches)
        np.testing.assert_array_equal(size, np.zeros(out_shape, np.int64))


def test_nan_and_infinity_semantics_by_hand():
    x = np.array([1.0, np.nan, 3.0, np.inf], np.float32)
    mean, var = run("mean_var", x, True, [x[:2], x[2:]])
    assert mean == np.float32(2.0) and var == np.float32(1.0)  # NaN and inf ignored
    minimum, maximum = run("min_max", x, True, [x[:1], x[1:]])
    assert np.isnan(minimum) and np.isnan(maximum)
    (total,) = run("sum", x, True, [x])
    assert np.isnan(total)
    (size,) = run("size", x, True, [x])
    assert size == 4  # NaN and inf are counted

    y = np.array([1.0, 3.0, np.inf, -np.inf], np.float32)
    minimum, maximum = run("min_max", y, True, [y[:3], y[3:]])
    assert minimum == -np.inf and maximum == np.inf
    mean, var = run("mean_var", y, True, [y])
    assert mean == 2.0 and var == 1.0


def test_nan_in_one_shard_propagates_through_merge():
    spec = MinMaxSpec((2,), False, "float32", key="k")
    clean = accumulate(spec, [np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)])
    dirty = accumulate(spec, [np.array([[np.nan, 0.5]], np.float32)])
    for first, second in ((clean, dirty), (dirty, clean)):
        minimum, maximum = spec.extract(spec.merge(roundtrip(first), roundtrip(second)))
        np.testing.assert_array_equal(minimum, np.array([np.nan, 0.5], np.float32))
        np.testing.assert_array_equal(maximum, np.array([np.nan, 4.0], np.float32))

    spec = SumSpec((2,), False, "float32", key="k")
    clean = accumulate(spec, [np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)])
    dirty = accumulate(spec, [np.array([[np.nan, 0.5]], np.float32)])
    (total,) = spec.extract(spec.merge(clean, dirty))
    np.testing.assert_array_equal(total, np.array([np.nan, 6.5], np.float32))


def test_constant_column_variance_is_exactly_zero():
    rng = np.random.default_rng(7)
    x = _constant_columns(rng)
    spec = MeanAndVarSpec((3,), False, "float32", key="k")
    accumulators = sharded_accumulators(spec, x, 7, rng)
    mean, var = spec.extract(merge_tree(spec, accumulators))
    assert var[1] == 0.0 and var[2] == 0.0
    assert mean[1] == np.float32(3.7) and mean[2] == np.float32(-0.1)
    assert var[0] > 0.5

    spec = MeanAndVarSpec((), True, "float32", key="k")
    constant = np.full(1000, 0.1, np.float32)
    mean, var = spec.extract(merge_forward(spec, sharded_accumulators(spec, constant, 7, rng)))
    assert var == 0.0 and mean == np.float32(0.1)


def test_large_offset_variance_is_accurate():
    """Values around 1e6 with std 1, added a few rows at a time: Chan's merge keeps var exact."""
    rng = np.random.default_rng(11)
    x = (1e6 + rng.normal(0.0, 1.0, size=(3000, 2))).astype(np.float32)
    spec = MeanAndVarSpec((2,), False, "float32", key="k")
    accumulators = [accumulate(spec, [x[i : i + 3]]) for i in range(0, len(x), 3)]
    mean, var = spec.extract(merge_tree(spec, [roundtrip(a) for a in accumulators]))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, np.mean(x64, axis=0).astype(np.float32), rtol=RTOL)
    np.testing.assert_allclose(var, np.var(x64, axis=0).astype(np.float32), rtol=RTOL)
    assert np.all(np.abs(var - 1.0) < 0.1)

    # Same on int64 values around 1e9, where E[x^2] - E[x]^2 even in float64 is noise.
    ints = 10**9 + rng.integers(-3, 4, size=5000, dtype=np.int64)
    spec = MeanAndVarSpec((), True, "float32", key="k")
    mean, var = spec.extract(merge_forward(spec, [accumulate(spec, [ints[i : i + 7]]) for i in range(0, 5000, 7)]))
    np.testing.assert_allclose(var, np.var(ints.astype(np.float64)), rtol=RTOL)
    np.testing.assert_allclose(mean, np.float32(np.mean(ints.astype(np.float64))), rtol=RTOL)


@pytest.mark.parametrize("family", FAMILIES)
def test_merge_mutates_only_the_first_accumulator(family):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    spec = make_spec(family, x, False)
    first, second = accumulate(spec, [x[:10]]), accumulate(spec, [x[10:]])
    second_before = spec.extract(roundtrip(second))
    merged = spec.merge(first, second)
    for before, after in zip(second_before, spec.extract(second), strict=True):
        np.testing.assert_array_equal(before, after)
    assert_outputs(family, spec.extract(merged), x, False)
    # Later changes to the merged result do not leak into the other accumulator.
    spec.add(merged, (np.full((4, 3), 1e3, np.float32),))
    for before, after in zip(second_before, spec.extract(second), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("family", FAMILIES)
def test_add_does_not_keep_the_input_batch(family):
    """Beam may reuse a batch's buffers after add_input: the accumulator must own its state."""
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    spec = make_spec(family, x, False)
    batch = x.copy()
    accumulator = accumulate(spec, [batch])
    batch[:] = -1e9
    assert_outputs(family, spec.extract(accumulator), x, False)


# -- property tests: merged shards == one pass ---------------------------------
_FLOAT32 = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, width=32),
    st.sampled_from([np.nan, np.inf, -np.inf]),
)
_INT64 = st.integers(min_value=-(10**9), max_value=10**9)


@st.composite
def sharded_input(draw):
    dtype = draw(st.sampled_from([np.float32, np.int64]))
    n = draw(st.integers(0, 40))
    shape = draw(st.sampled_from([(n,), (n, 3), (n, 2, 2)]))
    x = draw(hnp.arrays(dtype, shape, elements=_FLOAT32 if dtype is np.float32 else _INT64))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=7)))
    order = draw(st.permutations(range(len(cuts) + 1)))
    batch_size = draw(st.integers(1, 8))
    reduce_instance_dims = draw(st.booleans())
    return x, cuts, order, batch_size, reduce_instance_dims


@np.errstate(invalid="ignore")  # inf + -inf = NaN is the expected sum
def check_merged_equals_one_pass(family, data):
    x, cuts, order, batch_size, reduce_instance_dims = data
    spec = make_spec(family, x, reduce_instance_dims)
    shards = np.split(x, cuts)
    accumulators = [
        roundtrip(accumulate(spec, (shard[i : i + batch_size] for i in range(0, max(len(shard), 1), batch_size))))
        for shard in shards
    ]
    merged = merge_forward(spec, [accumulators[i] for i in order])
    one_pass = accumulate(spec, [x])
    finite = x[np.isfinite(x)].astype(np.float64)
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    # Different summation orders differ by a few float64 ulps of the data's scale.
    atol = (1e-9 * scale, 1e-9 * scale**2) if family == "mean_var" else (1e-9 * scale * max(x.size, 1),)
    assert_outputs(family, spec.extract(merged), x, reduce_instance_dims, atol=atol)
    assert_outputs(family, spec.extract(one_pass), x, reduce_instance_dims, atol=atol)


_SETTINGS = settings(max_examples=50, deadline=None)


@_SETTINGS
@given(sharded_input())
def test_property_mean_var_merged_shards_equal_one_pass(data):
    check_merged_equals_one_pass("mean_var", data)


@_SETTINGS
@given(sharded_input())
def test_property_min_max_merged_shards_equal_one_pass(data):
    check_merged_equals_one_pass("min_max", data)


@_SETTINGS
@given(sharded_input())
def test_property_sum_merged_shards_equal_one_pass(data):
    check_merged_equals_one_pass("sum", data)


@_SETTINGS
@given(sharded_input())
def test_property_size_merged_shards_equal_one_pass(data):
    check_merged_equals_one_pass("size", data)
