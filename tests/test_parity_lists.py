"""Parity with tf.Transform on list features: every analyzer and mapper on SparseTensor and RaggedTensor inputs.

As in tf.Transform, analyzers reduce over a list's values, mappers keep the
structure (a SparseTensor's indices, a RaggedTensor's row splits), and
``reduce_instance_dims=False`` on a SparseTensor reduces per column. The
goldens are tf.Transform's outputs on this data (``make goldens``); one test
runs tf.Transform live so they cannot go stale unnoticed.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import preprocessing as pp
from tests.goldens import golden_case, read_golden
from tests.harness import run_featurebeam, run_tft_with_spec

pytestmark = pytest.mark.slow

ROWS = 240
SCHEMA = pp.Schema(
    (
        pp.Feature("x", "float", shape="varlen"),
        pp.Feature("n", "int", shape="varlen"),
        pp.Feature("s", "string", shape="ragged"),
        pp.Feature("d", "float"),
    )
)
FEATURE_SPEC = {
    "x": tf.io.VarLenFeature(tf.float32),
    "n": tf.io.VarLenFeature(tf.int64),
    "s": tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
    "d": tf.io.FixedLenFeature([], tf.float32),
}
WORDS = np.array([b"taxi", b"cab", b"fare", b"tip", b"cash", b"card", b"airport", b"loop", b"", b"night"], object)


def make_data(seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 5, ROWS)
    return {
        "x": [rng.gamma(2.0, 3.0, k).astype(np.float32) for k in lengths],
        "n": [rng.integers(-20, 40, k).astype(np.int64) for k in rng.integers(0, 4, ROWS)],
        "s": [
            rng.choice(WORDS, k, p=np.linspace(2, 1, len(WORDS)) / np.linspace(2, 1, len(WORDS)).sum())
            for k in rng.integers(0, 6, ROWS)
        ],
        "d": rng.normal(0, 1, ROWS).astype(np.float32),
    }


def _per_row(value, like):
    return tf.zeros_like(like, dtype=value.dtype) + value


def make_fn(tx):
    def preprocessing_fn(inputs):
        x, n, s, d = inputs["x"], inputs["n"], inputs["s"], inputs["d"]
        return {
            "mean_x": _per_row(tx.mean(x), d),
            "var_n": _per_row(tx.var(n), d),
            "min_x": _per_row(tx.min(x), d),
            "max_n": _per_row(tx.max(n), d),
            "sum_n": _per_row(tx.sum(n), tf.cast(d, tf.int64)),
            "size_s": _per_row(tx.size(s), tf.cast(d, tf.int64)),
            "z_x": tx.scale_to_z_score(x),
            "z_n": tx.scale_to_z_score(n),
            "s01_x": tx.scale_to_0_1(x),
            "mm_n": tx.scale_by_min_max(n, output_min=-1.0, output_max=1.0),
            "bucket_x": tx.bucketize(x, 4),
            "applied_n": tx.apply_buckets(n, [[0, 10, 20]]),
            "vocab_s": tx.compute_and_apply_vocabulary(s),
            "vocab_s_oov": tx.compute_and_apply_vocabulary(s, top_k=4, num_oov_buckets=2),
            "vocab_n": tx.compute_and_apply_vocabulary(n, frequency_threshold=3, default_value=-9),
            "hash_s": tx.hash_strings(s, 11),
        }

    return preprocessing_fn


@golden_case("lists")
def lists_case():
    return make_fn, FEATURE_SPEC, make_data()


OUTPUTS = sorted(
    ["mean_x", "var_n", "min_x", "max_n", "sum_n", "size_s", "z_x", "z_n", "s01_x", "mm_n"]
    + ["bucket_x", "applied_n", "vocab_s", "vocab_s_oov", "vocab_n", "hash_s"]
)


@pytest.fixture(scope="module")
def featurebeam_outputs():
    outputs, _ = run_featurebeam(make_fn(pp), SCHEMA, make_data(), batch_size=53)
    return outputs


def _same(name: str, want: np.ndarray, got: np.ndarray) -> None:
    assert len(got) == len(want), name
    if want.dtype != object:  # a dense output
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6, err_msg=name)
        return
    for row, (w, g) in enumerate(zip(want, got, strict=True)):
        assert len(g) == len(w), f"{name} row {row}: {g} vs {w}"
        if len(w) and np.asarray(w).dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6, err_msg=f"{name} row {row}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{name} row {row}")


@pytest.mark.parametrize("name", OUTPUTS)
def test_list_outputs_match_tf_transform_goldens(featurebeam_outputs, name):
    _same(name, read_golden("lists")[name], featurebeam_outputs[name])


def test_list_outputs_keep_their_structure(featurebeam_outputs):
    data = make_data()
    for name, source in (("z_x", "x"), ("vocab_s", "s"), ("hash_s", "s"), ("applied_n", "n")):
        assert [len(row) for row in featurebeam_outputs[name]] == [len(row) for row in data[source]], name


def test_goldens_are_tf_transforms_live(featurebeam_outputs):
    """One live tf.Transform run: the committed goldens are what tf.Transform computes today."""
    live = run_tft_with_spec(make_fn(tft), FEATURE_SPEC, make_data())
    golden = read_golden("lists")
    assert sorted(live) == sorted(golden) == OUTPUTS
    for name in OUTPUTS:
        _same(name, golden[name], live[name])
