"""Running a preprocessing_fn on a few in-memory columns, without Beam.

Every analyzer runs its own accumulator (``create``, ``add``, ``extract``) over
the one batch, phase after phase, then the fn is applied with the results
frozen in: the same tracing, specs and graph as a pipeline, in one process.
For trying a fn and for the examples in this package's docstrings; data that
does not fit in memory goes through ``beam_jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa
import tensorflow as tf

from featurebeam_base import types
from preprocessing._columns import feed, from_arrow, to_arrow
from preprocessing._planning import plan
from preprocessing._runner import AnalyzerInputs
from preprocessing._schema import Feature, Schema
from preprocessing._tracing import trace


def _feature_of(name: str, values: np.ndarray) -> Feature:
    """The raw feature a column of values stands for; a column of lists is ``varlen``."""
    lists = [v for v in values if isinstance(v, (list, tuple, np.ndarray))] if values.dtype == object else []
    if lists:
        flat = np.asarray([item for row in lists for item in row])
        kind = "string" if flat.dtype.kind in "OSU" or not flat.size else types.of_dtype(flat.dtype.name).name
        return Feature(name, kind, shape=types.VARLEN)
    if values.dtype.kind in "OSU":
        return Feature(name, "string")
    return Feature(name, types.of_dtype(values.dtype.name).name, shape=values.shape[1:])


def _encoded(value):
    return value.encode() if isinstance(value, str) else value


def _column(values, feature: Feature) -> pa.Array:
    arrow_type = feature.feature_type.arrow_type
    if feature.is_list:
        return pa.array([[_encoded(v) for v in row] for row in values], type=pa.list_(arrow_type))
    values = np.asarray(values)
    if feature.type == "string":
        return pa.array([_encoded(v) for v in values.reshape(-1)], type=arrow_type)
    flat = pa.array(values.reshape(-1), type=arrow_type)
    for size in reversed(values.shape[1:]):
        flat = pa.FixedSizeListArray.from_arrays(flat, size)
    return flat


def _batch(columns: Mapping[str, np.ndarray], schema: Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([_column(columns[f.name], f) for f in schema.features], schema.names)


def _as_rows(value):
    """A fetched output: dense arrays as they are; a list output as one array per row."""
    if isinstance(value, (tf.compat.v1.SparseTensorValue, tf.compat.v1.ragged.RaggedTensorValue)):
        return from_arrow(to_arrow(value))
    return value


def run_in_memory(
    preprocessing_fn: Callable, columns: Mapping[str, np.ndarray], schema: Schema | None = None
) -> dict[str, np.ndarray]:
    """Analyze ``columns`` and transform them with ``preprocessing_fn``; returns its outputs.

    ``columns`` maps each raw feature to its values, one element per row:
    numbers or bytes/str (a list per row makes a ``varlen`` feature, a
    SparseTensor in the fn; a 2-D array a ``[k]`` feature). ``schema`` says otherwise (``ragged``, ``[k]``).
    A list output comes back as one numpy array per row.

    Examples
    --------
    >>> fn = lambda inputs: {"z": pp.scale_to_z_score(inputs["x"])}
    >>> run_in_memory(fn, {"x": np.array([2.0, 4.0], np.float32)})
    {'z': array([-1.,  1.], dtype=float32)}
    """
    columns = {name: values if isinstance(values, list) else np.asarray(values) for name, values in columns.items()}
    if schema is None:
        schema = Schema(
            tuple(
                _feature_of(name, np.asarray(values, dtype=object) if isinstance(values, list) else values)
                for name, values in columns.items()
            )
        )
    batch = _batch(columns, schema)
    values: dict[str, tuple] = {}
    for specs in plan(preprocessing_fn, schema).phases:
        inputs = AnalyzerInputs(preprocessing_fn, schema, values, {s.key for s in specs})(batch)
        for spec in specs:
            values[spec.key] = spec.extract(spec.add(spec.create(), inputs[spec.key]))
    traced = trace(preprocessing_fn, schema, values)
    feed_dict = {}
    for name, tensor in traced.inputs.items():
        feed_dict.update(feed(tensor, batch.column(name), schema[name].type))
    with tf.compat.v1.Session(graph=traced.graph) as session:
        with traced.graph.as_default():
            session.run(tf.compat.v1.tables_initializer())
        outputs = session.run(dict(traced.outputs), feed_dict=feed_dict)
    return {name: _as_rows(value) for name, value in outputs.items()}
