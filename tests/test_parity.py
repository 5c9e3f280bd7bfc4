"""Parity with tensorflow-transform: the same preprocessing_fn, the same data, the same outputs.

Each preprocessing_fn is written once against a module argument ``tx``: it runs
as ``tx = tensorflow_transform`` and as ``tx = preprocessing``.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import preprocessing as pp
from tests.harness import run_featurebeam, run_tft

pytestmark = pytest.mark.slow

SCHEMA = pp.Schema.of({"x": "float", "i": "int", "c": "string", "k": "float", "f": "float"})
BUCKET_OUTPUTS = ("bucket_x", "bucket_few", "buckets_applied", "bucket_vec")


def make_data(n=1200, seed=7):
    rng = np.random.default_rng(seed)
    # Token counts with deliberate ties: 'b' and 'd' tie, 'e' and 'f' tie.
    counts = {"a": 300, "b": 250, "d": 250, "c": 200, "e": 80, "f": 80, "g": 30, "h": 10}
    tokens = np.array([t for t, k in counts.items() for _ in range(k)], dtype=object)
    rng.shuffle(tokens)
    tokens = tokens[:n]
    return {
        "x": rng.normal(10.0, 3.0, n).astype(np.float32),
        "i": rng.integers(-50, 50, n).astype(np.int64),
        "c": tokens,
        "k": np.full(n, 4.5, np.float32),  # a constant column
        "f": rng.choice(np.array([1.0, 2.0, 7.0], np.float32), n),  # few distinct values
    }


def _broadcast(value, like):
    return tf.zeros_like(like, dtype=value.dtype) + value


def _per_row(value, like, size=None):
    """A ``[k]`` analyzer result on every row; padded to ``size`` when ``k`` is known only at run time."""
    if size is not None:
        pad = tf.zeros([], value.dtype) if value.dtype != tf.string else tf.constant("", tf.string)
        value = tf.reshape(tf.pad(value, [[0, size - tf.size(value)]], constant_values=pad), [size])
    return tf.tile(tf.expand_dims(tf.reshape(value, [-1]), 0), [tf.shape(like)[0], 1])


def _histograms(tx, x, i, c):
    counts, boundaries = tx.histogram(tx.scale_to_0_1(x))
    given, _ = tx.histogram(x, boundaries=tf.constant([0.0, 5.0, 8.0, 10.0, 12.0, 15.0, 20.0]))
    spread, spread_boundaries = tx.histogram(x, boundaries=6)
    tokens, elements = tx.histogram(c, categorical=True)
    numbers, values = tx.histogram(i % 7, categorical=True)
    return {
        "hist_counts": _per_row(counts, x),
        "hist_boundaries": _per_row(boundaries, x),
        "hist_given": _per_row(given, x),
        "hist_spread": _per_row(spread, x),
        "hist_spread_boundaries": _per_row(spread_boundaries, x),
        "hist_cat_counts": _per_row(tokens, x, size=10),
        "hist_cat_elements": _per_row(elements, x, size=10),
        "hist_int_counts": _per_row(numbers, x, size=10),
        "hist_int_values": _per_row(values, x, size=10),
    }


def make_fn(tx):
    def preprocessing_fn(inputs):
        x, i, c, k, f = (inputs[name] for name in ("x", "i", "c", "k", "f"))
        vec = tf.stack([x, tf.cast(i, tf.float32), x * x], axis=1)
        centred = x - tx.mean(x)
        scaled = tx.scale_to_0_1(x)
        return {
            "mean_x": _broadcast(tx.mean(x), x),
            "mean_i": _broadcast(tx.mean(i), x),
            "var_x": _broadcast(tx.var(x), x),
            "min_i": _broadcast(tx.min(i), i),
            "max_x": _broadcast(tx.max(x), x),
            "sum_i": _broadcast(tx.sum(i), i),
            "sum_x": _broadcast(tx.sum(x), x),
            "size_x": _broadcast(tx.size(x), i),
            "z": tx.scale_to_z_score(x),
            "z_int": tx.scale_to_z_score(i),
            "z_vec": tx.scale_to_z_score(vec, elementwise=True),
            "z_const": tx.scale_to_z_score(k),
            "s01": scaled,
            "s01_const": tx.scale_to_0_1(k),
            "s01_vec": tx.scale_to_0_1(vec, elementwise=True),
            "minmax": tx.scale_by_min_max(i, output_min=-1.0, output_max=1.0),
            "vocab": tx.compute_and_apply_vocabulary(c),
            "vocab_top_oov": tx.compute_and_apply_vocabulary(c, top_k=3, num_oov_buckets=2),
            "vocab_threshold": tx.compute_and_apply_vocabulary(c, frequency_threshold=80, default_value=-7),
            "vocab_applied": tx.apply_vocabulary(c, tx.vocabulary(c, top_k=2), default_value=-3),
            "vocab_int": tx.compute_and_apply_vocabulary(i % 7),
            "hash": tx.hash_strings(c, 7),
            "hash_keyed": tx.hash_strings(c, 7, key=[123, 456]),
            "bucket_x": tx.bucketize(x, 10),
            "bucket_few": tx.bucketize(f, 5),
            "buckets_applied": tx.apply_buckets(x, tx.quantiles(x, 4, 0.01)),
            "bucket_vec": tx.bucketize(vec, 4, elementwise=True),
            # Chained analyzers (phase 2). tensorflow-transform 1.21 on Beam 2.77
            # fails on 3-phase functions, so those are checked against numpy in
            # test_pipeline.py instead.
            "chained": centred / tx.max(tf.abs(centred)),
            "vocab_of_buckets": tx.compute_and_apply_vocabulary(
                tf.strings.join([c, tf.strings.as_string(tx.bucketize(x, 3))], separator="_")
            ),
            **_histograms(tx, x, i, c),
        }

    return preprocessing_fn


@pytest.fixture(scope="module")
def outputs():
    data = make_data()
    expected = run_tft(make_fn(tft), SCHEMA, data)
    actual, _ = run_featurebeam(make_fn(pp), SCHEMA, data)
    return expected, actual


def test_same_output_columns(outputs):
    expected, actual = outputs
    assert sorted(actual) == sorted(expected)


def _compare(name, want, got):
    assert got.shape == want.shape, name
    if name in BUCKET_OUTPUTS:
        assert got.dtype == want.dtype == np.int64, name
        agree = np.mean(got == want)
        assert agree >= 0.99, f"{name}: buckets agree on {agree:.4f} of rows"
        assert np.max(np.abs(got - want)) <= 1, name
    elif want.dtype == object:
        np.testing.assert_array_equal(got, want, err_msg=name)
    elif want.dtype.kind == "f":
        # tf.Transform's instance dicts hold Python floats; its output schema says float32.
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5, atol=1e-6, err_msg=name)
    else:
        assert got.dtype == np.int64 and want.dtype.kind == "i", name
        np.testing.assert_array_equal(got, want, err_msg=name)


OUTPUT_NAMES = [
    "mean_x",
    "mean_i",
    "var_x",
    "min_i",
    "max_x",
    "sum_i",
    "sum_x",
    "size_x",
    "z",
    "z_int",
    "z_vec",
    "z_const",
    "s01",
    "s01_const",
    "s01_vec",
    "minmax",
    "vocab",
    "vocab_top_oov",
    "vocab_threshold",
    "vocab_applied",
    "vocab_int",
    "hash",
    "hash_keyed",
    "bucket_x",
    "bucket_few",
    "buckets_applied",
    "bucket_vec",
    "chained",
    "vocab_of_buckets",
    "hist_counts",
    "hist_boundaries",
    "hist_given",
    "hist_spread",
    "hist_spread_boundaries",
    "hist_cat_counts",
    "hist_cat_elements",
    "hist_int_counts",
    "hist_int_values",
]


@pytest.mark.parametrize("name", OUTPUT_NAMES)
def test_output_matches_tft(outputs, name):
    expected, actual = outputs
    _compare(name, expected[name], actual[name])


def make_edge_fn(tx):
    def preprocessing_fn(inputs):
        c, i = inputs["c"], inputs["i"]
        return {
            # No token reaches the threshold: tf.Transform's dummy-token vocabulary.
            "empty_vocab_oov": tx.compute_and_apply_vocabulary(c, frequency_threshold=10_000, num_oov_buckets=3),
            "empty_vocab_default": tx.compute_and_apply_vocabulary(c, frequency_threshold=10_000, default_value=-5),
            "empty_int_vocab": tx.compute_and_apply_vocabulary(i, frequency_threshold=10_000, num_oov_buckets=2),
            "top1": tx.compute_and_apply_vocabulary(c, top_k=1, default_value=-2),
        }

    return preprocessing_fn


def test_edge_vocabularies_match_tft():
    data = make_data(n=300, seed=11)
    expected = run_tft(make_edge_fn(tft), SCHEMA, data)
    actual, _ = run_featurebeam(make_edge_fn(pp), SCHEMA, data)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        _compare(name, expected[name], actual[name])
