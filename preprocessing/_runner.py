"""Computing analyzer inputs from batches: one traced graph and one Session per worker, one run per batch."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import pyarrow as pa
import tensorflow as tf

from preprocessing._columns import feed, to_feed
from preprocessing._schema import Schema
from preprocessing._tracing import trace


def component_tensors(tensor) -> list[tf.Tensor]:
    """The dense tensors a feature's tensor is made of (a SparseTensor's three, a RaggedTensor's two)."""
    if isinstance(tensor, tf.SparseTensor):
        return [tensor.indices, tensor.values, tensor.dense_shape]
    if isinstance(tensor, tf.RaggedTensor):
        return [tensor.flat_values, *tensor.nested_row_splits]
    return [tensor]


def _raw_sources(inputs: Mapping) -> dict:
    """Tensors an analyzer may consume that are a raw column (or a list column's values), by ref."""
    sources = {}
    for name, tensor in inputs.items():
        if isinstance(tensor, tf.SparseTensor):
            sources[tensor.values.ref()] = (name, "values")
        elif isinstance(tensor, tf.RaggedTensor):
            sources[tensor.flat_values.ref()] = (name, "values")
        else:
            sources[tensor.ref()] = (name, "column")
    return sources


class AnalyzerInputs:
    """Computes the inputs of a set of analyzers for one RecordBatch.

    The preprocessing_fn is traced once, with the results of earlier phases as
    constants. Inputs that are raw features (or a list feature's values) are
    taken from the batch directly, without a TensorFlow call; the rest come
    from one ``Session.run``.
    """

    def __init__(self, preprocessing_fn: Callable, schema: Schema, values: Mapping[str, tuple], keys: Collection[str]):
        traced = trace(preprocessing_fn, schema, values)
        raw_sources = _raw_sources(traced.inputs)
        self._schema = schema
        self._layout: list[tuple[str, list[tuple[str, object]]]] = []
        fetches: dict[str, tf.Tensor] = {}
        for call in traced.calls:
            if call.key not in keys:
                continue
            sources = []
            for i, tensor in enumerate(call.inputs):
                raw = raw_sources.get(tensor.ref())
                if raw is not None:
                    sources.append(("raw", raw))
                else:
                    fetch_name = f"{call.key}:{i}"
                    fetches[fetch_name] = tensor
                    sources.append(("fetch", fetch_name))
            self._layout.append((call.key, sources))
        upstream = _upstream_op_names(fetches.values())
        self._feeds = {
            name: tensor
            for name, tensor in traced.inputs.items()
            if any(part.op.name in upstream for part in component_tensors(tensor))
        }
        self._fetches = fetches
        self._session = None
        if fetches:
            self._session = tf.compat.v1.Session(graph=traced.graph)
            with traced.graph.as_default():
                self._session.run(tf.compat.v1.tables_initializer())

    def __call__(self, batch: pa.RecordBatch) -> dict[str, tuple]:
        fetched = {}
        if self._session is not None:
            feed_dict = {}
            for name, tensor in self._feeds.items():
                feed_dict.update(feed(tensor, batch.column(name), self._schema[name].type))
            fetched = self._session.run(self._fetches, feed_dict=feed_dict)
        result = {}
        for key, sources in self._layout:
            arrays = []
            for kind, source in sources:
                if kind == "raw":
                    arrays.append(_raw_column(batch, *source, self._schema))
                else:
                    arrays.append(fetched[source])
            result[key] = tuple(arrays)
        return result


def _upstream_op_names(tensors) -> set[str]:
    seen: set[str] = set()
    stack = [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def _raw_column(batch: pa.RecordBatch, name: str, part: str, schema: Schema):
    column = batch.column(name)
    if part == "values":  # a list column's values, in row order
        column = column.flatten()
    feature_type = schema[name].type
    # Strings stay Arrow: vocabulary counting works on Arrow without Python objects.
    if feature_type == "string":
        return column
    return to_feed(column, feature_type)
