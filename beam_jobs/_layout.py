"""The layout of a featurebeam output folder: one name per part."""

TRANSFORM_FN_DIR = "transform_fn"  # the SavedModel (analyzer records in assets.extra/analyzers.json)
TRANSFORMED_METADATA_DIR = "transformed_metadata"  # the output schema, in tf.Transform's format
DATA_DIR = "transformed_data"  # part-*.parquet or part-*.tfrecord.gz
REJECTED_DIR = "rejected"  # bad records set aside (`input.on_bad_record: skip`)
RUN_FILE = "run.json"  # what the run did
ERRORS_DIR = "errors"  # user errors reported by workers (staging only, never published)
COUNTS_DIR = "counts"  # rows, NaNs and bad records counted by the pipeline, for run.json (staging only)
