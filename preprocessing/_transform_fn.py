"""A loaded transform_fn SavedModel, applied to RecordBatches: one Session per process, one run per batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import tensorflow as tf

from featurebeam_base import types
from preprocessing._columns import to_feed


class TransformFn:
    """A loaded transform_fn SavedModel, applied to RecordBatches of raw features."""

    def __init__(self, export_dir: str, signature: str = "serving_default"):
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self._session, [tf.compat.v1.saved_model.tag_constants.SERVING], export_dir
            )
        signature_def = meta_graph.signature_def[signature]
        self._inputs = {name: self._graph.get_tensor_by_name(info.name) for name, info in signature_def.inputs.items()}
        self._outputs = {
            name: self._graph.get_tensor_by_name(info.name) for name, info in signature_def.outputs.items()
        }
        self.input_types = {name: types.of_dtype(tensor.dtype.name).name for name, tensor in self._inputs.items()}

    @property
    def output_names(self) -> list[str]:
        return list(self._outputs)

    def __call__(self, batch: pa.RecordBatch) -> dict[str, np.ndarray]:
        feed = {tensor: to_feed(batch.column(name), self.input_types[name]) for name, tensor in self._inputs.items()}
        return self._session.run(self._outputs, feed_dict=feed)
