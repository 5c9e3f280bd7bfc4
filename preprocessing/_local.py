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
from preprocessing._columns import to_feed
from preprocessing._planning import plan
from preprocessing._runner import AnalyzerInputs
from preprocessing._schema import Feature, Schema
from preprocessing._tracing import trace


def _feature_of(name: str, values: np.ndarray) -> Feature:
    if values.dtype.kind in "OSU":
        return Feature(name, "string")
    return Feature(name, types.of_dtype(values.dtype.name).name)


def _batch(columns: Mapping[str, np.ndarray], schema: Schema) -> pa.RecordBatch:
    arrays = []
    for feature in schema.features:
        values = columns[feature.name]
        if feature.type == "string":
            values = [v.encode() if isinstance(v, str) else v for v in values]
        arrays.append(pa.array(values, type=feature.feature_type.arrow_type))
    return pa.RecordBatch.from_arrays(arrays, schema.names)


def run_in_memory(preprocessing_fn: Callable, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Analyze ``columns`` and transform them with ``preprocessing_fn``; returns its outputs.

    ``columns`` maps each raw feature to a 1-D numpy array (float, integer,
    or bytes/str objects), one value per row.

    Examples
    --------
    >>> fn = lambda inputs: {"z": pp.scale_to_z_score(inputs["x"])}
    >>> run_in_memory(fn, {"x": np.array([2.0, 4.0], np.float32)})
    {'z': array([-1.,  1.], dtype=float32)}
    """
    columns = {name: np.asarray(values) for name, values in columns.items()}
    schema = Schema(tuple(_feature_of(name, values) for name, values in columns.items()))
    batch = _batch(columns, schema)
    values: dict[str, tuple] = {}
    for specs in plan(preprocessing_fn, schema).phases:
        inputs = AnalyzerInputs(preprocessing_fn, schema, values, {s.key for s in specs})(batch)
        for spec in specs:
            values[spec.key] = spec.extract(spec.add(spec.create(), inputs[spec.key]))
    traced = trace(preprocessing_fn, schema, values)
    feed = {tensor: to_feed(batch.column(name), schema[name].type) for name, tensor in traced.inputs.items()}
    with tf.compat.v1.Session(graph=traced.graph) as session:
        with traced.graph.as_default():
            session.run(tf.compat.v1.tables_initializer())
        return session.run(dict(traced.outputs), feed_dict=feed)
