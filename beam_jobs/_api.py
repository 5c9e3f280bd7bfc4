"""The public PTransforms, mirroring tf.Transform's ``tft_beam`` ones."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import apache_beam as beam

from beam_jobs._analyze import AnalyzeToValues
from beam_jobs._transform import ApplyTransformFn, WriteTransformFn
from beam_jobs._user_code import ship_preprocessing_fn
from featurebeam_base.paths import is_remote, local_path
from preprocessing import engine


class _DatasetTransform(beam.PTransform):
    """Takes ``(batches, schema)``: only ``batches`` is a pipeline input."""

    def _extract_input_pvalues(self, dataset):
        batches, _ = dataset
        return dataset, {"batches": batches}


class AnalyzeDataset(_DatasetTransform):
    """``(batches, schema)`` -> a singleton PCollection: the directory holding ``transform_fn/``.

    Runs every analysis phase of ``preprocessing_fn`` in this pipeline and
    exports the graph with the results frozen in. ``output_dir`` defaults to a
    fresh temporary directory.
    """

    def __init__(self, preprocessing_fn: Callable, output_dir: str | None = None):
        super().__init__()
        ship_preprocessing_fn(preprocessing_fn)
        self._fn = preprocessing_fn
        if output_dir is not None and not is_remote(output_dir):
            output_dir = local_path(output_dir)
        self._output_dir = output_dir or tempfile.mkdtemp(prefix="featurebeam_")

    def expand(self, dataset):
        batches, schema = dataset
        plan = engine.plan(self._fn, schema)
        values = batches | "Analyze" >> AnalyzeToValues(self._fn, schema, plan)
        return values | "WriteTransformFn" >> WriteTransformFn(self._fn, schema, plan, self._output_dir)


class TransformDataset(beam.PTransform):
    """``((batches, schema), transform_fn)`` -> transformed RecordBatches.

    ``transform_fn`` is what ``AnalyzeDataset`` returns, or a directory path.
    """

    def _extract_input_pvalues(self, dataset_and_transform_fn):
        (batches, _), transform_fn = dataset_and_transform_fn
        inputs = {"batches": batches}
        if isinstance(transform_fn, beam.pvalue.PValue):
            inputs["transform_fn"] = transform_fn
        return dataset_and_transform_fn, inputs

    def expand(self, dataset_and_transform_fn):
        (batches, _), transform_fn = dataset_and_transform_fn
        if isinstance(transform_fn, str):
            transform_fn = batches.pipeline | "TransformFnDir" >> beam.Create([transform_fn])
        return (batches, transform_fn) | "ApplyTransformFn" >> ApplyTransformFn()


class AnalyzeAndTransformDataset(_DatasetTransform):
    """``(batches, schema)`` -> ``(transformed batches, transform_fn)``."""

    def __init__(self, preprocessing_fn: Callable, output_dir: str | None = None):
        super().__init__()
        self._fn = preprocessing_fn
        self._output_dir = output_dir

    def expand(self, dataset):
        transform_fn = dataset | "AnalyzeDataset" >> AnalyzeDataset(self._fn, self._output_dir)
        transformed = (dataset, transform_fn) | "TransformDataset" >> TransformDataset()
        return transformed, transform_fn
