"""A loaded transform_fn SavedModel, applied to RecordBatches: one Session per process, one run per batch.

It runs the ``serving_default`` signature: a list column is fed as its flat
parts (``_signatures``) and a list output comes back as a list array.
"""

from __future__ import annotations

import pyarrow as pa
import tensorflow as tf

from featurebeam_base import types
from preprocessing._columns import list_array, list_parts, sparse_value, to_arrow, to_feed
from preprocessing._export import read_interface
from preprocessing._signatures import SERVING_SIGNATURE, flat_input_names


class TransformFn:
    """A loaded transform_fn SavedModel, applied to RecordBatches of raw features."""

    def __init__(self, export_dir: str):
        self.features, self.columns = read_interface(export_dir)
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self._session, [tf.compat.v1.saved_model.tag_constants.SERVING], export_dir
            )
        signature = meta_graph.signature_def[SERVING_SIGNATURE]
        self._inputs = {name: self._graph.get_tensor_by_name(info.name) for name, info in signature.inputs.items()}
        self._outputs = {name: self._graph.get_tensor_by_name(info.name) for name, info in signature.outputs.items()}

    @property
    def output_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def _feed(self, batch: pa.RecordBatch) -> dict:
        feed = {}
        for feature in self.features:
            column = batch.column(feature.name)
            names = flat_input_names(feature)
            if feature.shape == types.VARLEN:
                parts = sparse_value(*list_parts(column, feature.type))
            elif feature.shape == types.RAGGED:
                parts = list_parts(column, feature.type)
            else:
                parts = (to_feed(column, feature.type),)
            feed.update({self._inputs[name]: part for name, part in zip(names, parts)})
        return feed

    def __call__(self, batch: pa.RecordBatch) -> dict[str, pa.Array]:
        """The outputs for one batch, as Arrow arrays (list outputs as list arrays)."""
        fetched = self._session.run(self._outputs, feed_dict=self._feed(batch))
        return {column.name: _arrow_output(column.name, column.is_list, fetched) for column in self.columns}


def _arrow_output(name: str, is_list: bool, fetched: dict) -> pa.Array:
    if is_list:
        return list_array(fetched[f"{name}$row_splits"], fetched[f"{name}$values"])
    return to_arrow(fetched[name])
