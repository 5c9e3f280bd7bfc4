"""``pp`` functions take tf.Transform's signatures and check their arguments at trace time.

Every message names the function the user called; a misspelt argument names
the nearest valid one; an argument featurebeam does not support yet says so.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import preprocessing as pp
from preprocessing import engine

SCHEMA = pp.Schema.of({"x": "float", "i": "int", "c": "string"})
FUNCTIONS = sorted(name for name in pp.__all__ if inspect.isfunction(getattr(pp, name)))


def test_every_function_is_tf_transforms():
    assert set(FUNCTIONS) <= set(tft.__all__)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_signature_is_tf_transforms(name):
    ours = inspect.signature(getattr(pp, name)).parameters
    theirs = inspect.signature(getattr(tft, name)).parameters
    assert list(ours) == list(theirs)
    for parameter, reference in zip(ours.values(), theirs.values()):
        assert parameter.kind == reference.kind, parameter.name
        assert parameter.default == reference.default, parameter.name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_have_type_hints(name):
    function = getattr(pp, name)
    hints = inspect.get_annotations(inspect.unwrap(function))
    assert set(hints) == set(inspect.signature(function).parameters) | {"return"}


def error_tracing(fn) -> str:
    with pytest.raises(pp.PreprocessingError) as caught:
        engine.trace(fn, SCHEMA)
    return str(caught.value)


def test_a_misspelt_argument_names_the_nearest_one():
    message = error_tracing(lambda inputs: {"v": pp.compute_and_apply_vocabulary(inputs["c"], topk=5)})
    assert message.startswith("pp.compute_and_apply_vocabulary has no argument `topk` (did you mean `top_k`?)")


def test_an_argument_not_supported_yet_says_so():
    from preprocessing._api import api_function

    @api_function(unsupported={"labels": "supervised ranking is not implemented yet"})
    def ranked(x, labels=None):
        return x

    message = error_tracing(lambda inputs: {"v": ranked(inputs["c"], labels=inputs["i"])})
    assert message == "pp.ranked: `labels` is not supported yet (supervised ranking is not implemented yet)"
    # its default value is fine
    engine.trace(lambda inputs: {"v": ranked(inputs["c"], labels=None)}, SCHEMA)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, i, c: pp.bucketize(x, 0), "pp.bucketize: `num_buckets` must be an integer >= 1; got 0"),
        (lambda x, i, c: pp.bucketize(x, 2.5), "pp.bucketize: `num_buckets` must be an integer >= 1; got 2.5"),
        (lambda x, i, c: pp.quantiles(x, 4, 1.5), "pp.quantiles: `epsilon` must be a number in (0, 1); got 1.5"),
        (lambda x, i, c: pp.bucketize(x, 4, epsilon=0), "pp.bucketize: `epsilon` must be a number in (0, 1); got 0"),
        (lambda x, i, c: pp.max(c), "pp.max: `x` must be a numeric (float or integer) tensor; got a tf.string tensor"),
        (lambda x, i, c: pp.var(c), "pp.var: `x` must be a numeric (float or integer) tensor; got a tf.string tensor"),
        (
            lambda x, i, c: pp.vocabulary(x),
            "pp.vocabulary: `x` must be a tf.string or integer tensor; got a tf.float32 tensor",
        ),
        (lambda x, i, c: pp.vocabulary(c, top_k=-1), "pp.vocabulary: `top_k` must be an integer >= 1; got -1"),
        (
            lambda x, i, c: pp.scale_by_min_max(x, 1.0, 0.0),
            "pp.scale_by_min_max: `output_max` must be greater than `output_min` (1); got 0",
        ),
        (lambda x, i, c: pp.hash_strings(c, 0), "pp.hash_strings: `hash_buckets` must be an integer >= 1; got 0"),
        (
            lambda x, i, c: pp.hash_strings(i, 4),
            "pp.hash_strings: `strings` must be a tf.string tensor; got a tf.int64 tensor",
        ),
        (
            lambda x, i, c: pp.scale_to_z_score(x, elementwise="yes"),
            "pp.scale_to_z_score: `elementwise` must be True or False; got 'yes'",
        ),
        (
            lambda x, i, c: pp.apply_buckets(x, [1.0, 2.0]),
            "pp.apply_buckets: `bucket_boundaries` must have rank 2 (shape [1, n]); got shape (2,)",
        ),
        (
            lambda x, i, c: pp.vocabulary(c, file_format="csv"),
            "pp.vocabulary: `file_format` must be one of 'text', 'tfrecord_gzip'; got 'csv'",
        ),
        (lambda x, i, c: pp.histogram(x, boundaries=1), "pp.histogram: `boundaries` must be an integer >= 2; got 1"),
    ],
)
def test_argument_errors_name_the_function_called_at_trace_time(call, message):
    assert error_tracing(lambda inputs: {"out": call(inputs["x"], inputs["i"], inputs["c"])}) == message


def test_errors_are_argument_errors_with_the_argument_named():
    with pytest.raises(pp.ArgumentError) as caught:
        engine.trace(lambda inputs: {"b": pp.bucketize(inputs["x"], -3)}, SCHEMA)
    assert (caught.value.function, caught.value.argument) == ("bucketize", "num_buckets")


def test_a_valid_call_traces_and_runs():
    fn = lambda inputs: {"b": pp.bucketize(inputs["x"], num_buckets=2, epsilon=0.01, elementwise=False)}  # noqa: E731
    result = engine.run_in_memory(fn, {"x": np.array([1.0, 2.0, 3.0, 4.0], np.float32)})
    np.testing.assert_array_equal(result["b"], [0, 0, 1, 1])
    assert tf.executing_eagerly()  # tracing happens in graphs of its own
