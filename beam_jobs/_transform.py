"""Writing the transform_fn and applying it to RecordBatches."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from beam_jobs._filesystem import local_copy, upload_tree
from beam_jobs._layout import TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR
from featurebeam_base.paths import is_remote, local_path
from preprocessing import Schema, engine

__all__ = ["TRANSFORM_FN_DIR", "TRANSFORMED_METADATA_DIR", "ApplyTransformFn", "WriteTransformFn"]


def write_transform_fn(
    values: dict, preprocessing_fn: Callable, schema: Schema, plan: engine.Plan, output_dir: str
) -> str:
    """Export the SavedModel and transformed_metadata under ``output_dir``; return ``output_dir``.

    ``output_dir`` may be remote (gs://...): the export is written locally, then uploaded.
    """
    local_dir = local_path(output_dir) if not is_remote(output_dir) else tempfile.mkdtemp(prefix="featurebeam_export_")
    columns = engine.export_to(
        preprocessing_fn, schema, values, os.path.join(local_dir, TRANSFORM_FN_DIR), plan.records(values)
    )
    engine.write_transformed_metadata(os.path.join(local_dir, TRANSFORMED_METADATA_DIR), columns)
    if is_remote(output_dir):
        upload_tree(local_dir, output_dir)
        shutil.rmtree(local_dir, ignore_errors=True)
    return output_dir


class WriteTransformFn(beam.PTransform):
    """``{key: result}`` singleton -> the output directory holding ``transform_fn/``."""

    def __init__(self, preprocessing_fn: Callable, schema: Schema, plan: engine.Plan, output_dir: str):
        super().__init__()
        self._fn, self._schema, self._plan, self._output_dir = preprocessing_fn, schema, plan, output_dir

    def expand(self, values):
        return values | "Export" >> beam.Map(write_transform_fn, self._fn, self._schema, self._plan, self._output_dir)


class _ApplyTransformFn(beam.DoFn):
    """Runs the exported SavedModel on each RecordBatch; loaded once per DoFn instance."""

    def __init__(self):
        self._loaded_from = None
        self._transform_fn = None

    def process(self, batch: pa.RecordBatch, output_dir: str):
        if self._loaded_from != output_dir:
            # Only transform_fn/ is fetched, not the transformed data beside it.
            self._transform_fn = engine.TransformFn(local_copy(FileSystems.join(output_dir, TRANSFORM_FN_DIR)))
            self._names = sorted(self._transform_fn.output_names)
            self._loaded_from = output_dir
        if batch.num_rows == 0:
            return
        outputs = self._transform_fn(batch)
        yield pa.RecordBatch.from_arrays([outputs[name] for name in self._names], self._names)


class ApplyTransformFn(beam.PTransform):
    """``(PCollection[RecordBatch], transform_fn dir singleton)`` -> transformed RecordBatches."""

    def expand(self, batches_and_transform_fn):
        batches, transform_fn = batches_and_transform_fn
        return batches | "Transform" >> beam.ParDo(_ApplyTransformFn(), beam.pvalue.AsSingleton(transform_fn))
