"""Reading raw data into RecordBatches, and writing transformed ones.

Inputs: a file, a folder or a glob on any Beam filesystem (local, gs://, ...)
of Parquet, CSV, JSON Lines or TFRecord (tf.Example) files. Each format is read
with a vectorized reader (``pyarrow.parquet``, ``pyarrow.csv``,
``pyarrow.json``; ``tf.io.parse_example`` over batches of serialized
tf.Examples), then ``conform`` casts every column to its feature type
(float32, int64, binary) and fills nulls from the column's default. Python
only loops over rows to explain an error, never on the way to a batch.

Outputs: ``part-XXXXX-of-YYYYY.parquet`` or ``.tfrecord.gz`` shards. Their
schema is known before the pipeline runs (from the traced preprocessing_fn,
or from an existing transform_fn's signature), so every shard, even an empty
one, has it. tf.Example output maps float outputs to ``float_list``,
integers to ``int64_list`` and strings to ``bytes_list``; a ``[batch, k]``
output becomes a k-value list in every example.

The work is split over private modules; what the rest of featurebeam uses is
re-exported here:
``_inputs`` (listing and opening input files), ``_schema`` (column types and
the resolved raw schema), ``_readers`` (the per-format readers),
``_bad_records`` (records that cannot be read), ``_read`` (conforming,
rebatching, ``ReadBatches``) and ``_write`` (writers, ``WriteBatches``).
"""

from beam_jobs._bad_records import BadRecord
from beam_jobs._inputs import list_input_files
from beam_jobs._read import ReadBatches, _ReadFile
from beam_jobs._schema import resolve_schema
from beam_jobs._write import OutputColumn, WriteBatches, write_json

__all__ = [
    "BadRecord",
    "OutputColumn",
    "ReadBatches",
    "WriteBatches",
    "_ReadFile",
    "list_input_files",
    "resolve_schema",
    "write_json",
]
