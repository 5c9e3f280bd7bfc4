"""Computing analyzer inputs from batches: one traced graph and one Session per worker, one run per batch."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import pyarrow as pa
import tensorflow as tf

from preprocessing._columns import to_feed
from preprocessing._schema import Schema
from preprocessing._tracing import trace


class AnalyzerInputs:
    """Computes the inputs of a set of analyzers for one RecordBatch.

    The preprocessing_fn is traced once, with the results of earlier phases as
    constants. Inputs that are raw features are taken from the batch directly,
    without a TensorFlow call; the rest come from one ``Session.run``.
    """

    def __init__(
        self,
        preprocessing_fn: Callable,
        schema: Schema,
        values: Mapping[str, tuple],
        keys: Collection[str],
    ):
        traced = trace(preprocessing_fn, schema, values)
        raw_by_tensor = {tensor.ref(): name for name, tensor in traced.inputs.items()}
        self._schema = schema
        self._layout: list[tuple[str, list[tuple[str, object]]]] = []
        fetches: dict[str, tf.Tensor] = {}
        for call in traced.calls:
            if call.key not in keys:
                continue
            sources = []
            for i, tensor in enumerate(call.inputs):
                raw = raw_by_tensor.get(tensor.ref())
                if raw is not None:
                    sources.append(("raw", raw))
                else:
                    fetch_name = f"{call.key}:{i}"
                    fetches[fetch_name] = tensor
                    sources.append(("fetch", fetch_name))
            self._layout.append((call.key, sources))
        upstream = _upstream_op_names(fetches.values())
        needed = [name for name, tensor in traced.inputs.items() if tensor.op.name in upstream]
        self._feeds = {name: traced.inputs[name] for name in needed}
        self._fetches = fetches
        self._session = None
        if fetches:
            self._session = tf.compat.v1.Session(graph=traced.graph)
            with traced.graph.as_default():
                self._session.run(tf.compat.v1.tables_initializer())

    def __call__(self, batch: pa.RecordBatch) -> dict[str, tuple]:
        fetched = {}
        if self._session is not None:
            feed = {
                tensor: to_feed(batch.column(name), self._schema[name].type) for name, tensor in self._feeds.items()
            }
            fetched = self._session.run(self._fetches, feed_dict=feed)
        result = {}
        for key, sources in self._layout:
            arrays = []
            for kind, name in sources:
                if kind == "raw":
                    arrays.append(_raw_column(batch.column(name), self._schema[name].type))
                else:
                    arrays.append(fetched[name])
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


def _raw_column(column: pa.Array, feature_type: str):
    # Strings stay Arrow: vocabulary counting works on Arrow without Python objects.
    if feature_type == "string":
        return column
    return to_feed(column, feature_type)
