"""The numeric functions' output dtypes and shapes (against tf.Transform's, traced), argument errors and edge cases.

Tracing needs no data: tf.Transform's functions build their graph in a plain
``tf.Graph``, featurebeam's in ``engine.trace``; both see the same tensors.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import preprocessing as pp
from preprocessing import engine

SCHEMA = pp.Schema.of({"x": "float", "i": "int", "c": "string"})
F16, F32, F64, I32, I64 = tf.float16, tf.float32, tf.float64, tf.int32, tf.int64


def _matrix(x):
    return tf.stack([x, x * 2.0, x * 3.0], axis=1)


# (description, call(tx, x float32 [batch], i int64 [batch]))
CALLS = [
    ("mean float32", lambda tx, x, i: tx.mean(x)),
    ("mean output_dtype=float64", lambda tx, x, i: tx.mean(x, output_dtype=F64)),
    ("mean int64", lambda tx, x, i: tx.mean(i)),
    ("var int64 output_dtype=float64", lambda tx, x, i: tx.var(i, output_dtype=F64)),
    ("scale_to_z_score int64 output_dtype=float16", lambda tx, x, i: tx.scale_to_z_score(i, output_dtype=F16)),
    ("scale_to_z_score float64", lambda tx, x, i: tx.scale_to_z_score(tf.cast(x, F64))),
    ("tukey_location int64", lambda tx, x, i: tx.tukey_location(i)),
    ("tukey_location int32", lambda tx, x, i: tx.tukey_location(tf.cast(i, I32))),
    ("tukey_location output_dtype=float64", lambda tx, x, i: tx.tukey_location(x, output_dtype=F64)),
    ("tukey_scale float64 elementwise", lambda tx, x, i: tx.tukey_scale(_matrix(tf.cast(x, F64)), False)),
    ("tukey_h_params float16", lambda tx, x, i: tx.tukey_h_params(tf.cast(x, F16))),
    ("tukey_h_params elementwise", lambda tx, x, i: tx.tukey_h_params(_matrix(x), reduce_instance_dims=False)),
    ("scale_to_gaussian int64", lambda tx, x, i: tx.scale_to_gaussian(i)),
    ("scale_to_gaussian output_dtype=float64", lambda tx, x, i: tx.scale_to_gaussian(x, output_dtype=F64)),
    ("scale_to_gaussian float64 elementwise", lambda tx, x, i: tx.scale_to_gaussian(_matrix(tf.cast(x, F64)), True)),
    ("quantiles int64", lambda tx, x, i: tx.quantiles(i, 4, 0.01)),
    ("quantiles float64 elementwise", lambda tx, x, i: tx.quantiles(_matrix(tf.cast(x, F64)), 5, 0.01, None, False)),
    ("quantiles weighted", lambda tx, x, i: tx.quantiles(x, 3, 0.01, weights=x)),
    ("bucketize int32", lambda tx, x, i: tx.bucketize(tf.cast(i, I32), 3)),
    ("bucketize elementwise weighted", lambda tx, x, i: tx.bucketize(_matrix(x), 3, weights=x, elementwise=True)),
    (
        "apply_buckets_with_interpolation float64",
        lambda tx, x, i: tx.apply_buckets_with_interpolation(tf.cast(x, F64), [[1.0, 2.0]]),
    ),
    ("apply_buckets_with_interpolation int64", lambda tx, x, i: tx.apply_buckets_with_interpolation(i, [[1, 5]])),
    (
        "apply_buckets_with_interpolation [batch, 3]",
        lambda tx, x, i: tx.apply_buckets_with_interpolation(_matrix(x), tf.constant([[0.5, 1.5]])),
    ),
    ("estimated_probability_density float64", lambda tx, x, i: tx.estimated_probability_density(tf.cast(x, F64))),
    ("estimated_probability_density [batch, 1]", lambda tx, x, i: tx.estimated_probability_density(x[:, None], 5)),
    ("estimated_probability_density categorical", lambda tx, x, i: tx.estimated_probability_density(i, None, True)),
    ("covariance float64", lambda tx, x, i: tx.covariance(_matrix(x), F64)),
    ("covariance float16", lambda tx, x, i: tx.covariance(_matrix(x), F16)),
    ("pca", lambda tx, x, i: tx.pca(_matrix(x), 2, F32)),
    ("histogram categorical int32", lambda tx, x, i: tx.histogram(tf.cast(i, I32), categorical=True)),
]


def _described(result):
    results = result if isinstance(result, tuple) else (result,)
    return [(t.dtype.name, t.shape.as_list() if t.shape.rank is not None else None) for t in results]


def tf_transform_traces(call):
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(F32, [None])
        i = tf.compat.v1.placeholder(I64, [None])
        return _described(call(tft, x, i))


def featurebeam_traces(call):
    seen = []

    def fn(inputs):
        seen.extend(_described(call(pp, inputs["x"], inputs["i"])))
        return {"x": inputs["x"]}

    engine.trace(fn, SCHEMA)
    return seen


@pytest.mark.parametrize("description, call", CALLS, ids=[c[0] for c in CALLS])
def test_output_dtypes_and_shapes_are_tf_transforms(description, call):
    theirs, ours = tf_transform_traces(call), featurebeam_traces(call)
    assert [dtype for dtype, _ in ours] == [dtype for dtype, _ in theirs]
    for (_, our_shape), (_, their_shape) in zip(ours, theirs):
        assert tf.TensorShape(our_shape).is_compatible_with(tf.TensorShape(their_shape)), (our_shape, their_shape)
        assert len(our_shape) == len(their_shape)


def error_tracing(fn) -> str:
    with pytest.raises(pp.PreprocessingError) as caught:
        engine.trace(lambda inputs: {"out": fn(inputs["x"], inputs["i"])}, SCHEMA)
    return str(caught.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda x, i: pp.mean(x, output_dtype=I64),
            "pp.mean: `output_dtype` must be a floating dtype (tf.float16, tf.float32, tf.float64); got tf.int64",
        ),
        (
            lambda x, i: pp.scale_to_gaussian(x, output_dtype=tf.int32),
            (
                "pp.scale_to_gaussian: `output_dtype` must be a floating dtype (tf.float16, tf.float32, tf.float64); "
                "got tf.int32"
            ),
        ),
        (
            lambda x, i: pp.quantiles(_matrix(x), 4, 0.01, weights=x),
            "pp.quantiles: `weights` must have the shape of `x` ([None, 3]), one weight per value; got shape [None]",
        ),
        (
            lambda x, i: pp.bucketize(_matrix(x), 4, weights=_matrix(x), elementwise=True),
            (
                "pp.bucketize: `weights` must have shape [batch] (one weight per row) when instance dims are kept; "
                "got shape [None, 3]"
            ),
        ),
        (
            lambda x, i: pp.covariance(x, F32),
            "pp.covariance: `x` must have shape [batch, d] with d known; got shape [None]",
        ),
        (
            lambda x, i: pp.covariance(_matrix(x), I64),
            "pp.covariance: `dtype` must be a floating dtype (tf.float16, tf.float32, tf.float64); got tf.int64",
        ),
        (
            lambda x, i: pp.pca(_matrix(x), 4, F32),
            "pp.pca: `output_dim` must be at most the number of columns of `x` (3); got 4",
        ),
        (
            lambda x, i: pp.estimated_probability_density(_matrix(x)),
            (
                "pp.estimated_probability_density: `x` must hold one value per row (shape [batch] or [batch, 1]); "
                "got shape [None, 3]"
            ),
        ),
        (
            lambda x, i: pp.apply_buckets_with_interpolation(x, [1.0, 2.0]),
            "pp.apply_buckets_with_interpolation: `bucket_boundaries` must have rank 2 (shape [1, n]); got shape [2]",
        ),
        (
            lambda x, i: pp.apply_pyfunc(abs, F32, False, "abs", x),
            (
                "pp.apply_pyfunc is not supported: a Python function inside the transform_fn cannot be served: "
                "TensorFlow Serving runs no Python"
            ),
        ),
    ],
)
def test_argument_errors(call, message):
    assert error_tracing(call).startswith(message)


def test_list_features_where_tf_transform_takes_none():
    rows = np.empty(3, object)
    rows[:] = [np.array([1.0, 2.0], np.float32), np.array([], np.float32), np.array([3.0], np.float32)]
    for call, message in [
        (pp.covariance, "pp.covariance: `x` must be a dense tf.Tensor of shape [batch, d]; got a SparseTensor"),
        (pp.estimated_probability_density, "pp.estimated_probability_density: `x` must be a dense tf.Tensor"),
    ]:
        fn = (
            (lambda inputs: {"y": call(inputs["v"], F32)})
            if call is pp.covariance
            else (lambda inputs: {"y": call(inputs["v"])})
        )
        with pytest.raises(pp.ArgumentError) as caught:
            engine.run_in_memory(fn, {"v": rows})
        assert str(caught.value).startswith(message)
    schema = pp.Schema((pp.Feature("v", "float", shape="ragged"),))
    with pytest.raises(pp.ArgumentError, match="must be False for a RaggedTensor"):
        engine.run_in_memory(
            lambda inputs: {"y": pp.scale_to_gaussian(inputs["v"], elementwise=True)}, {"v": rows}, schema
        )


def test_edge_cases_of_the_mappers():
    empty = np.zeros(0, np.float32)
    out = engine.run_in_memory(lambda inputs: {"d": pp.estimated_probability_density(inputs["x"])}, {"x": empty})
    assert out["d"].shape == (0,)
    constant = np.full(4, 5.0, np.float32)
    fn = lambda inputs: {  # noqa: E731
        "g": pp.scale_to_gaussian(inputs["x"]),
        "d": pp.estimated_probability_density(inputs["x"] - 4.5),
        "c": pp.estimated_probability_density(inputs["x"], categorical=False, boundaries=[0.0, 10.0]),
    }
    out = engine.run_in_memory(fn, {"x": constant})
    np.testing.assert_array_equal(out["g"], np.zeros(4))  # no spread: x - location
    np.testing.assert_allclose(out["d"], 10.0)  # everything in the bin [0.5, 0.6) of the default ten: 1 / 0.1
    np.testing.assert_allclose(out["c"], 0.1)  # one bin of width 10 holding everything
    with pytest.raises(tf.errors.InvalidArgumentError, match="must hold at least one finite boundary"):
        engine.run_in_memory(
            lambda inputs: {"y": pp.apply_buckets_with_interpolation(inputs["x"], [[float("-inf"), float("inf")]])},
            {"x": constant},
        )
