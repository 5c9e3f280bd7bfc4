"""Beam pipelines for featurebeam: analyze a dataset, transform it, or both.

Datasets are ``(PCollection[pyarrow.RecordBatch], preprocessing.Schema)`` pairs,
as tf.Transform's are ``(data, metadata)`` pairs::

    with beam.Pipeline() as pipeline:
        batches = pipeline | beam.Create(record_batches)
        transformed, transform_fn = (batches, schema) | AnalyzeAndTransformDataset(
            preprocessing_fn, output_dir="out")
"""

from beam_jobs._api import AnalyzeAndTransformDataset, AnalyzeDataset, TransformDataset
from beam_jobs._transform import TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR

__all__ = [
    "TRANSFORMED_METADATA_DIR",
    "TRANSFORM_FN_DIR",
    "AnalyzeAndTransformDataset",
    "AnalyzeDataset",
    "TransformDataset",
]
