"""Per-key analyzers against numpy: split into shards, merged in varied orders, pickled; and the mappers in memory.

tf.Transform's per-key variance is ``E[x^2] - E[x]^2`` per float32 batch (it
can even come out negative); featurebeam's is the exact population variance,
which these tests check against numpy in float64.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import tensorflow as tf

import preprocessing as pp
from analyzers import CountPerKeySpec, MeanAndVarPerKeySpec, MinAndMaxPerKeySpec, QuantilesPerKeySpec
from analyzers._quantile_sketch import QuantilesSketch
from preprocessing.engine import run_in_memory

RNG = np.random.default_rng(11)
N = 700
KEYS = RNG.choice(np.array([b"a", b"b", b"c d", b"\xc3\xa9", b""], object), N, p=[0.4, 0.3, 0.15, 0.1, 0.05])
VALUES = RNG.normal(1e4, 3.0, N)  # a large mean: where E[x^2] - E[x]^2 loses everything
VALUES[::97] = np.nan


def accumulate(spec, inputs: tuple, parts: int, seed: int):
    order = np.random.default_rng(seed).permutation(N)
    accumulators = [spec.add(spec.create(), tuple(a[chunk] for a in inputs)) for chunk in np.array_split(order, parts)]
    merged = pickle.loads(pickle.dumps(accumulators.pop(seed % len(accumulators))))
    for other in accumulators:
        merged = spec.merge(merged, pickle.loads(pickle.dumps(other)))
    return spec.extract(spec.compact(merged))


def by_key(function):
    keys = sorted(set(KEYS.tolist()))
    return keys, [function(VALUES[KEYS == k]) for k in keys]


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_mean_and_var_per_key(parts):
    spec = MeanAndVarPerKeySpec(output_dtype="float64")
    keys, means, variances = accumulate(spec, (KEYS, VALUES), parts, parts)
    expected_keys, stats = by_key(lambda v: (np.nanmean(v), np.nanvar(v)))
    assert keys.tolist() == expected_keys
    np.testing.assert_allclose(means, [m for m, _ in stats], rtol=1e-13)
    np.testing.assert_allclose(variances, [v for _, v in stats], rtol=1e-9)


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_min_and_max_per_key_propagate_nan(parts):
    spec = MinAndMaxPerKeySpec()
    values = np.where(np.isnan(VALUES) & (KEYS != b"a"), 5.0, VALUES).astype(np.float32)
    keys, minimum, maximum = accumulate(spec, (KEYS, values), parts, parts)
    for key, low, high in zip(keys.tolist(), minimum, maximum):
        mine = values[KEYS == key]
        if key == b"a":
            assert np.isnan(low) and np.isnan(high)
        else:
            assert (low, high) == (mine.min(), mine.max())


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_count_per_key(parts):
    keys, counts = accumulate(CountPerKeySpec(), (KEYS,), parts, parts)
    expected_keys, expected = by_key(len)
    assert keys.tolist() == expected_keys and counts.tolist() == expected


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_quantiles_per_key_equal_one_sketch_per_key(parts):
    values = np.round(np.nan_to_num(VALUES, nan=1e4) - 1e4, 1)
    spec = QuantilesPerKeySpec(num_buckets=4, epsilon=0.01)
    keys, boundaries, scale, shift, num_buckets = accumulate(spec, (KEYS, values), parts, parts)
    rows = []
    for key in keys.tolist():
        sketch = QuantilesSketch(0.01)
        sketch.add(values[KEYS == key])
        rows.append(sketch.quantiles(4)[0, 1:-1])
    matrix = np.array(rows, np.float32)
    assert int(num_buckets) == 4 and len(boundaries) == 2 * len(keys) + 1
    for k in range(len(keys)):  # the key's boundaries, scaled into [k, k + 1]
        np.testing.assert_allclose(boundaries[2 * k + 1 : 2 * k + 3], (matrix[k, 1:] * scale[k] + shift[k]), rtol=1e-6)
        np.testing.assert_allclose(matrix[k, 0] * scale[k] + shift[k], k, atol=1e-5)


def test_a_key_file_lists_keys_by_sha1_with_numpy_numbers():
    import hashlib

    spec = MinAndMaxPerKeySpec(key_vocabulary_filename="f")
    (entries,) = spec.extract(
        spec.add(spec.create(), (np.array([b"x", b"y", b"x"], object), np.array([0.0, 2.5, 1e-5])))
    )
    expected = sorted([b"-0.0,1e-05 x", b"-2.5,2.5 y"], key=lambda e: hashlib.sha1(e.split(b" ")[1]).digest())
    assert entries.tolist() == expected


# ---------------------------------------------------------------------------
# The mappers


def z_reference(x, keys):
    out = np.empty(len(x))
    for key in set(keys.tolist()):
        mine = keys == key
        mean, std = x[mine].mean(), x[mine].std()
        out[mine] = (x[mine] - mean) / std if std else x[mine] - mean
    return out


def test_z_score_per_key_dense_file_and_in_memory_agree():
    x = (np.arange(12) % 7 * 1.5).astype(np.float32)
    keys = np.array([b"a b", b"c"] * 6, object)  # a key with a space works in a key file too

    def fn(inputs):
        return {
            "z": pp.scale_to_z_score_per_key(inputs["x"], inputs["k"]),
            "z_file": pp.scale_to_z_score_per_key(inputs["x"], inputs["k"], key_vocabulary_filename="z"),
            "z64": pp.scale_to_z_score_per_key(tf.cast(inputs["x"], tf.float64), inputs["k"]),
        }

    result = run_in_memory(fn, {"x": x, "k": keys})
    np.testing.assert_allclose(result["z"], z_reference(x.astype(np.float64), keys), rtol=1e-6)
    np.testing.assert_array_equal(result["z_file"], result["z"])
    assert result["z64"].dtype == np.float64


def test_per_key_over_sparse_and_ragged_values():
    rows = [[1.0, 2.0], [], [10.0], [3.0, 30.0, 20.0]]
    keys = np.array([b"a", b"b", b"b", b"a"], object)
    flat = np.array([1.0, 2.0, 3.0, 30.0, 20.0, 10.0])
    flat_keys = np.array([b"a"] * 5 + [b"b"])

    def fn(inputs):
        return {
            "z": pp.scale_to_z_score_per_key(inputs["x"], inputs["k"]),
            "scaled": pp.scale_to_0_1_per_key(inputs["x"], inputs["k"]),
        }

    result = run_in_memory(fn, {"x": [np.array(r, np.float32) for r in rows], "k": keys})
    z = z_reference(flat, flat_keys)
    np.testing.assert_allclose(np.concatenate(result["z"]), z[[0, 1, 5, 2, 3, 4]], rtol=1e-6)
    assert [list(r) for r in result["scaled"]][1] == []
    np.testing.assert_allclose(result["scaled"][3], [(3 - 1) / 29, 1.0, 19 / 29], rtol=1e-6)
    np.testing.assert_allclose(result["scaled"][2], [1 / (1 + np.exp(-10.0))], rtol=1e-6)  # one value: sigmoid


def test_per_key_instance_values_and_elementwise():
    x = np.array([[1.0, 5.0], [3.0, 7.0], [10.0, 10.0], [20.0, 30.0]], np.float32)
    keys = np.array([b"a", b"a", b"b", b"b"], object)

    def fn(inputs):
        return {
            "row": pp.scale_to_z_score_per_key(inputs["x"], inputs["k"]),
            "column": pp.scale_to_z_score_per_key(inputs["x"], inputs["k"], elementwise=True),
        }

    schema = pp.Schema((pp.Feature("x", "float", shape=(2,)), pp.Feature("k", "string")))
    result = run_in_memory(fn, {"x": x, "k": keys}, schema)
    np.testing.assert_allclose(result["row"][:2], (x[:2] - 4.0) / np.sqrt(5.0), rtol=1e-6)
    np.testing.assert_allclose(result["column"][:, 0], [-1, 1, -1, 1], rtol=1e-6)
    np.testing.assert_allclose(result["column"][2:, 1], [-1, 1], rtol=1e-6)


def test_bucketize_per_key_and_count_per_key_with_integer_keys():
    def fn(inputs):
        keys, counts = pp.count_per_key(inputs["i"])
        buckets = pp.bucketize_per_key(inputs["x"], tf.strings.as_string(inputs["i"]), num_buckets=2)
        return {
            "buckets": buckets,
            "keys": tf.tile(keys[None, :], [tf.shape(inputs["i"])[0], 1]),
            "counts": tf.tile(counts[None, :], [tf.shape(inputs["i"])[0], 1]),
        }

    result = run_in_memory(
        fn, {"x": np.array([1, 2, 3, 4, 9, 8, 7, 6, 5, 5], np.float32), "i": np.array([2] * 4 + [10] * 4 + [3] * 2)}
    )
    assert result["keys"][0].tolist() == [10, 2, 3]  # ordered as strings, as tf.Transform
    assert result["counts"][0].tolist() == [4, 4, 2]
    # one boundary per key (3, 8, 5): each key's own, which tf.Transform gets wrong for keys after the first
    assert result["buckets"].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 1, 1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, k, i: pp.scale_to_z_score_per_key(x, i), "`key` must be a tf.string tensor"),
        (lambda x, k, i: pp.bucketize_per_key(x, k, 1), "`num_buckets` must be an integer >= 2"),
        (
            lambda x, k, i: pp.scale_to_0_1_per_key(
                tf.stack([x, x], 1), k, elementwise=True, key_vocabulary_filename="f"
            ),
            "`key_vocabulary_filename` must be None with `elementwise=True`",
        ),
        (lambda x, k, i: pp.scale_by_min_max_per_key(x, k, 1.0, 0.0), "`output_max` must be greater than `output_min`"),
    ],
)
def test_argument_errors(call, message):
    from preprocessing import engine

    schema = pp.Schema.of({"x": "float", "k": "string", "i": "int"})
    with pytest.raises(pp.PreprocessingError, match=message.replace("(", r"\(")):
        engine.trace(lambda inputs: {"out": call(inputs["x"], inputs["k"], inputs["i"])}, schema)
