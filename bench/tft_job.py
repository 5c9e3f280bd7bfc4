"""tf.Transform side of the benchmark, as one process: TFRecord tf.Example in, tf.Example out.

    python bench/tft_job.py --input 'bench/data/1000000/tfrecord/*.tfrecord' --output OUT

tf.Transform 1.21's fastest path: TFXIO reads RecordBatches,
``AnalyzeAndTransformDataset(..., output_record_batches=True)``, then
``EncodeTransformedDataset`` to serialized tf.Examples. Writes
``OUT/transformed_data/part-*.tfrecord.gz``, ``OUT/transform_fn`` (with
``OUT/transformed_metadata``) and ``OUT/run.json`` with timings.
"""

from __future__ import annotations

import time

_STARTED = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # last: bench/ must shadow nothing

import apache_beam as beam  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform.beam as tft_beam  # noqa: E402
from generate import COLUMN_TYPES  # noqa: E402
from taxi_fn import tft_preprocessing_fn  # noqa: E402
from tensorflow_transform.tf_metadata import schema_utils  # noqa: E402
from tfx_bsl.public import tfxio  # noqa: E402

_TF_DTYPES = {"float": tf.float32, "int": tf.int64, "string": tf.string}


def raw_feature_spec() -> dict:
    return {name: tf.io.FixedLenFeature([], _TF_DTYPES[kind]) for name, kind in COLUMN_TYPES.items()}


def run(input_pattern: str, output_dir: str) -> dict:
    raw_schema = schema_utils.schema_from_feature_spec(raw_feature_spec())
    examples_tfxio = tfxio.TFExampleRecord(
        file_pattern=input_pattern, telemetry_descriptors=["bench"], schema=raw_schema
    )
    os.makedirs(output_dir, exist_ok=True)
    temp_dir = tempfile.mkdtemp(prefix="tft-tmp-", dir=output_dir)
    started = time.monotonic()
    with beam.Pipeline() as pipeline:
        with tft_beam.Context(temp_dir=temp_dir):
            raw_data = pipeline | "Read" >> examples_tfxio.BeamSource()
            (transformed_data, transformed_metadata), transform_fn = (
                raw_data,
                examples_tfxio.TensorAdapterConfig(),
            ) | "AnalyzeAndTransform" >> tft_beam.AnalyzeAndTransformDataset(
                tft_preprocessing_fn, output_record_batches=True
            )
            _ = (
                (transformed_data, transformed_metadata)
                | "Encode" >> tft_beam.EncodeTransformedDataset()
                | "Write"
                >> beam.io.WriteToTFRecord(
                    os.path.join(output_dir, "transformed_data", "part"), file_name_suffix=".tfrecord.gz"
                )
            )
            _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(output_dir)
    return {"pipeline": round(time.monotonic() - started, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="TFRecord file pattern")
    parser.add_argument("--output", required=True, help="output folder")
    args = parser.parse_args(argv)
    imports = time.monotonic() - _STARTED
    timings = run(args.input, args.output)
    timings["imports"] = round(imports, 3)
    timings["total"] = round(time.monotonic() - _STARTED, 3)
    with open(os.path.join(args.output, "run.json"), "w") as handle:
        json.dump({"timings_s": timings}, handle, indent=2)
    print(f"tf.Transform run: done in {timings['total']:.1f} s ({timings})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
