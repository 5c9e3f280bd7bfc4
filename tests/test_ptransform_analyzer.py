"""``pp.experimental.ptransform_analyzer``: the contract, in memory, on Beam, and through the command.

What the PTransform receives (one tuple of numpy arrays per batch, strings as
object arrays of bytes), what it must return (one single-element PCollection
per output) and the errors that say what was expected otherwise. Parity of the
results with tf.Transform is in tests/test_parity_numeric.py.
"""

from __future__ import annotations

import json
import textwrap

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml

import preprocessing as pp
from featurebeam_base.errors import PreprocessingError
from preprocessing import engine
from tests.harness import run_featurebeam
from tests.test_cli import featurebeam

pytestmark = pytest.mark.slow


def _describe(batch):
    return "|".join(f"{array.dtype}{list(array.shape)}" for array in batch)


class WhatItSees(beam.PTransform):
    """Outputs: the number of batches, the rows over all batches, each batch's dtypes and shapes, and the strings."""

    def expand(self, batches):
        count = batches | "Count" >> beam.combiners.Count.Globally()
        rows = batches | "Rows" >> beam.Map(lambda batch: len(batch[0])) | "Sum" >> beam.CombineGlobally(sum)
        seen = batches | "Describe" >> beam.Map(_describe) | "All" >> beam.combiners.ToList() | beam.Map(sorted)
        strings = (
            batches
            | "Strings" >> beam.FlatMap(lambda batch: [type(s).__name__ + ":" + s.decode() for s in batch[2]])
            | "Distinct" >> beam.Distinct()
            | "AllStrings" >> beam.combiners.ToList()
            | "Sorted" >> beam.Map(sorted)
        )
        return count, rows, seen, strings


def observing_fn(inputs):
    x, c = inputs["x"], inputs["c"]
    count, rows, seen, strings = pp.experimental.ptransform_analyzer(
        [x, tf.stack([x, x], axis=1), c],
        WhatItSees(),
        [tf.int64, tf.int64, tf.string, tf.string],
        [[], [], [None], [None]],
    )
    zeros = tf.zeros_like(x, tf.int64)
    return {
        "batches": zeros + count,
        "rows": zeros + rows,
        "seen": tf.tile(tf.expand_dims(tf.strings.reduce_join(seen, separator=" "), 0), [tf.shape(x)[0]]),
        "strings": tf.tile(tf.expand_dims(tf.strings.reduce_join(strings, separator=","), 0), [tf.shape(x)[0]]),
        # a second phase: an analyzer over a result of the user's
        "z_of_rows": pp.scale_to_z_score(x * tf.cast(rows, tf.float32)),
    }


COLUMNS = {"x": np.arange(1.0, 8.0, dtype=np.float32), "c": np.array(list("abcabca"), dtype=object)}
SCHEMA = pp.Schema.of({"x": "float", "c": "string"})


def test_the_ptransform_gets_one_tuple_of_numpy_arrays_per_batch_on_beam():
    out, _ = run_featurebeam(observing_fn, SCHEMA, COLUMNS, batch_size=3)
    assert out["batches"].tolist() == [3] * 7 and out["rows"].tolist() == [7] * 7
    last, full = b"float32[1]|float32[1, 2]|object[1]", b"float32[3]|float32[3, 2]|object[3]"
    assert out["seen"][0] == b" ".join([last, full, full])  # batches of 3, 3 and 1 rows
    assert out["strings"][0] == b"bytes:a,bytes:b,bytes:c"
    x = COLUMNS["x"] * 7
    np.testing.assert_allclose(out["z_of_rows"], (x - x.mean()) / x.std(), rtol=1e-6)


def test_in_memory_it_runs_on_a_local_direct_runner_over_the_one_batch():
    out = engine.run_in_memory(observing_fn, COLUMNS)
    assert out["batches"][0] == 1 and out["rows"][0] == 7
    assert out["seen"][0] == b"float32[7]|float32[7, 2]|object[7]"


class Emits(beam.PTransform):
    def __init__(self, *values):
        super().__init__()
        self._values = values

    def expand(self, batches):
        outputs = tuple(
            batches.pipeline | f"Output{i}" >> beam.Create(list(value)) for i, value in enumerate(self._values)
        )
        return outputs if len(outputs) > 1 else outputs[0]


def analyzing(ptransform, dtypes, shapes):
    def fn(inputs):
        results = pp.experimental.ptransform_analyzer([inputs["x"]], ptransform, dtypes, shapes, name="mine")
        return {"y": inputs["x"] + tf.cast(tf.reduce_sum(results[0]), tf.float32)}

    return fn


PREFIX = "pp.experimental.ptransform_analyzer: output 0 of Emits (analyzer 'mine') "


@pytest.mark.parametrize(
    "emitted, dtypes, shapes, problem",
    [
        ([[1.0, 2.0]], [tf.float32], [[]], "must be a PCollection of exactly one element (the result for the whole "),
        (
            [[]],
            [tf.float32],
            [[]],
            "must be a PCollection of exactly one element (the result for the whole dataset); got 0 elements",
        ),
        ([[[1.5, 2.0]]], [tf.int64], [[2]], "must be integers for tf.int64; got a float64 value [1.5, 2.0]"),
        ([[[1.0, 2.0, 3.0]]], [tf.float32], [[2]], "must have shape [2] (as declared in output_shapes); got shape [3]"),
        ([[1.0]], [tf.float32, tf.float32], [[], []], None),
    ],
)
def test_what_breaks_the_contract_is_named_in_memory(emitted, dtypes, shapes, problem):
    with pytest.raises(PreprocessingError) as caught:
        engine.run_in_memory(analyzing(Emits(*emitted), dtypes, shapes), {"x": np.ones(3, np.float32)})
    if problem is None:
        assert str(caught.value) == (
            "pp.experimental.ptransform_analyzer: Emits (analyzer 'mine') returned 1 PCollection(s); "
            "output_dtypes declares 2"
        )
    else:
        assert str(caught.value).startswith(PREFIX + problem)


def test_what_breaks_the_contract_is_named_on_beam():
    with pytest.raises(Exception) as caught:
        run_featurebeam(
            analyzing(Emits([1.0, 2.0]), [tf.float32], [[]]),
            pp.Schema.of({"x": "float"}),
            {"x": np.ones(3, np.float32)},
        )
    chain, error = [], caught.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    found = [e for e in chain if isinstance(e, PreprocessingError)]
    assert found and str(found[0]).startswith(PREFIX + "must be a PCollection of exactly one element")


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda x: pp.experimental.ptransform_analyzer([x], lambda pcoll: pcoll, [tf.float32], [[]]),
            "pp.experimental.ptransform_analyzer: `ptransform` must be a beam.PTransform; got function",
        ),
        (
            lambda x: pp.experimental.ptransform_analyzer([x], Emits([1.0]), [tf.float32], [[], []]),
            "pp.experimental.ptransform_analyzer: `output_shapes` must hold one shape per output dtype (1); got 2",
        ),
        (
            lambda x: pp.experimental.ptransform_analyzer(
                [tf.sparse.from_dense(tf.expand_dims(x, 1))], Emits([1.0]), [tf.float32], [[]]
            ),
            (
                "pp.experimental.ptransform_analyzer: `inputs` must hold dense tensors (as tf.Transform's); item 0 is "
                "a SparseTensor"
            ),
        ),
        (
            lambda x: pp.experimental.ptransform_analyzer([x], Emits([1.0]), [tf.float32], [[]], [b"a"]),
            "pp.experimental.ptransform_analyzer: `output_asset_default_values` is not supported yet (asset outputs",
        ),
    ],
)
def test_argument_errors_at_trace_time(call, message):
    with pytest.raises(pp.PreprocessingError) as caught:
        engine.trace(lambda inputs: {"y": call(inputs["x"])[0] + inputs["x"]}, pp.Schema.of({"x": "float"}))
    assert str(caught.value).startswith(message)


def test_a_cacheable_ptransform_analyzer_says_what_to_do_instead():
    from tensorflow_transform import experimental as tft_experimental

    cacheable = tft_experimental.CacheablePTransformAnalyzer(
        Emits([1.0]), Emits([1.0]), Emits([1.0]), tft_experimental.SimpleJsonPTransformAnalyzerCacheCoder()
    )
    with pytest.raises(pp.ArgumentError, match="a CacheablePTransformAnalyzer is not supported .* chain its three"):
        engine.trace(
            lambda inputs: {"y": pp.experimental.ptransform_analyzer([inputs["x"]], cacheable, [tf.float32], [[]])[0]},
            pp.Schema.of({"x": "float"}),
        )


FN_FILE = textwrap.dedent(
    """
    import apache_beam as beam
    import numpy as np
    import tensorflow as tf

    import preprocessing as pp


    class MedianFare(beam.PTransform):
        '''The exact median: every fare gathered in one place (fine for a column that fits in memory).'''

        def expand(self, batches):
            return (
                batches
                | beam.FlatMap(lambda batch: batch[0].tolist())
                | beam.combiners.ToList()
                | beam.Map(lambda fares: float(np.median(fares)) if fares else 0.0)
            )


    def preprocessing_fn(inputs):
        fare = inputs["fare"]
        (median,) = pp.experimental.ptransform_analyzer([fare], MedianFare(), [tf.float32], [[]], name="median")
        return {"above_median": tf.cast(fare > median, tf.int64)}
    """
)


def test_a_users_ptransform_from_the_fn_file_runs_through_the_command(tmp_path):
    fare = np.random.default_rng(2).gamma(2.0, 6.0, 600).astype(np.float32)
    for part in range(2):
        pq.write_table(pa.table({"fare": fare[part * 300 : (part + 1) * 300]}), tmp_path / f"rides-{part}.parquet")
    (tmp_path / "fn.py").write_text(FN_FILE)
    job = {
        "input": {"path": "rides-*.parquet"},
        "preprocessing_fn": "fn.py:preprocessing_fn",
        "output": {"path": "out"},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    # (worker processes get a user's module by value: tests/test_extending.py runs one there)
    result = featurebeam("run", tmp_path / "job.yaml")
    assert result.returncode == 0, result.stderr
    median = float(np.median(fare.astype(np.float64)))
    above = pq.read_table(tmp_path / "out" / "transformed_data").column("above_median").to_numpy()
    assert sorted(above.tolist()) == sorted((fare > np.float32(median)).astype(np.int64).tolist())
    records = json.loads((tmp_path / "out" / "transform_fn" / "assets.extra" / "analyzers.json").read_text())
    record = next(r for r in records["analyzers"] if r["key"] == "median")
    assert record["analyzer"] == "ptransform_analyzer" and record["parameters"]["ptransform"] == "MedianFare"
    assert record["values"]["output_0"] == pytest.approx(median, rel=1e-6)
