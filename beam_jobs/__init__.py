"""Beam pipelines for featurebeam: analyze a dataset, transform it, or both.

Datasets are ``(PCollection[pyarrow.RecordBatch], preprocessing.Schema)`` pairs,
as tf.Transform's are ``(data, metadata)`` pairs::

    with beam.Pipeline() as pipeline:
        batches = pipeline | beam.Create(record_batches)
        transformed, transform_fn = (batches, schema) | AnalyzeAndTransformDataset(
            preprocessing_fn, output_dir="out")

The PTransforms are imported lazily, so that the CLI (``beam_jobs.cli``) can
quiet TensorFlow's start-up logging before TensorFlow is first imported.
"""

import importlib

_EXPORTS = {
    "AnalyzeAndTransformDataset": "beam_jobs._api",
    "AnalyzeDataset": "beam_jobs._api",
    "ComputeStatistics": "beam_jobs._statistics",
    "TransformDataset": "beam_jobs._api",
    "TRANSFORM_FN_DIR": "beam_jobs._transform",
    "TRANSFORMED_METADATA_DIR": "beam_jobs._transform",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'beam_jobs' has no attribute {name!r}")
