"""The layout of a featurebeam output folder: one name per part."""

TRANSFORM_FN_DIR = "transform_fn"  # the SavedModel (analyzer records in assets.extra/analyzers.json)
TRANSFORMED_METADATA_DIR = "transformed_metadata"  # the output schema, in tf.Transform's format
DATA_DIR = "transformed_data"  # part-*.parquet or part-*.tfrecord.gz
REJECTED_DIR = "rejected"  # bad records set aside (`input.on_bad_record: skip`)
RUN_FILE = "run.json"  # what the run did
ERRORS_DIR = "errors"  # user errors reported by workers (staging only, never published)
STATISTICS_DIR = "statistics"  # FeatureStats.pb: the raw input's statistics, as TFX's StatisticsGen writes them
STATISTICS_FILE = "FeatureStats.pb"
REPORT_FILE = "report.html"  # the statistics (and, after `validate`, the anomalies) as one page
ANOMALIES_FILE = "anomalies.json"  # `validate`: what differs from the baseline
RAW_SCHEMA_FILE = "metadata/schema.pbtxt"  # the raw input's schema, tensorflow_metadata text format
COUNTS_DIR = "counts"  # rows, NaNs and bad records counted by the pipeline, for run.json (staging only)
