"""TensorFlow Data Validation goldens: statistics and drift measurements computed by TFDV itself.

TFDV cannot be installed beside this project's pins (its newest release,
1.16.1, needs pyarrow<11, tensorflow<2.17, tfx-bsl<1.17), so it ran once, in a
separate virtualenv, on the data sets built here, and its outputs are
committed under ``tests/goldens/tfdv/``:

- ``{A,B,C,D}.parquet``: the raw data, one list column per feature (a null is
  an example without the feature; ``[]`` an empty list), as tf.Example holds it;
- ``{A,B,C,D}.FeatureStats.pb``: TFDV's ``DatasetFeatureStatisticsList`` of the
  same examples (``GenerateStatistics`` with the default ``StatsOptions``, on
  a Beam pipeline, from tf.Examples written to TFRecord);
- ``drift.json``: TFDV's ``validate_statistics`` drift measurements (L-infinity
  distance and Jensen-Shannon divergence) of B against A, and of hand-built
  histograms.

Regenerate (about a minute; needs a virtualenv with tensorflow-data-validation
1.16.1, e.g. ``pip install tensorflow-data-validation==1.16.1 tfx-bsl==1.16.1
tensorflow==2.16.2 "numpy<2" "pandas<2" apache-beam[gcp]==2.59.0`` on
Python 3.11)::

    /path/to/tfdv-venv/bin/python tests/tfdv_goldens.py

The goldens of this commit were made with tensorflow-data-validation 1.16.1,
tfx-bsl 1.16.1, tensorflow 2.16.2, tensorflow-metadata 1.16.1, pyarrow 10.0.1
and apache-beam 2.59.0. Imports are inside the functions: this module is
collected by pytest's doctest run, where TFDV is not installed.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens", "tfdv")
NAN, INF = float("nan"), float("inf")


def dataset_a() -> list[dict]:
    """10 examples: scalars, a NaN and infinities, a constant, a list feature with an empty list, missing values."""
    strings = ["a", "a", "a", "a", "b", "b", "b", "c", "c", "h\u00e9llo"]
    multi = [[1.0], [1.0, 2.0], [1.0, 2.0, 3.0], [], [5.0], [6.0, 7.0], [8.0], [9.0], [10.0], [11.0]]
    special = [[NAN], [INF], [-INF], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0]]
    return [
        {
            "f_float": [float(i + 1)],
            "f_int": [[0, 0, 1, 2, 3, 4, 5, 6, 7, 8][i]],
            "f_str": [strings[i]],
            "f_missing": [float(i)] if i < 7 else None,
            "f_multi": multi[i],
            "f_special": special[i],
            "f_const": [5.0],
            "f_nonan": [float(i)],
            "f_type": [i],
            "f_drop": [float(i)],
        }
        for i in range(10)
    ]


def dataset_b() -> list[dict]:
    """A's features shifted, re-weighted, with a NaN, another type, a column dropped and one added."""
    strings = ["a", "b", "b", "b", "b", "c", "d", "d", "d", "d"]
    special = [[NAN], [NAN], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [8.0]]
    return [
        {
            "f_float": [float(i + 6)],
            "f_int": [i],
            "f_str": [strings[i]],
            "f_missing": [float(i)] if i < 4 else None,
            "f_multi": [1.0],
            "f_special": special[i],
            "f_const": [7.0],
            "f_nonan": [NAN] if i == 0 else [float(i)],
            "f_type": [f"x{i}"],
            "f_new": [float(i)],
        }
        for i in range(10)
    ]


def dataset_c() -> list[dict]:
    """3,000 examples: float32 normal values, int lists, string lists (some empty), a sparse float."""
    import numpy as np

    rng = np.random.default_rng(42)
    words = ["alpha", "beta", "gamma", "\u03b4elta", "eps", "zeta"]
    rows = []
    for _ in range(3000):
        rows.append(
            {
                "f_norm": [float(np.float32(rng.normal(3.0, 2.0)))],
                "f_ints": [int(x) for x in rng.integers(0, 21, size=rng.integers(1, 4))],
                "f_mstr": [
                    words[j] for j in rng.choice(6, size=rng.integers(0, 4), p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
                ],
                "f_sparse": [float(np.float32(rng.exponential()))] if rng.random() < 0.3 else None,
            }
        )
    return rows


def dataset_d() -> list[dict]:
    """12,000 examples: beyond the sketches' exact range, 50 categories, bytes that are not UTF-8."""
    import numpy as np

    rng = np.random.default_rng(7)
    categories = [f"cat{i:02d}" for i in range(50)]
    weights = 1.0 / np.arange(1, 51)
    rows = []
    for i in range(12000):
        rows.append(
            {
                "f_wide": [float(np.float32(rng.lognormal(1.0, 0.8)))],
                "f_hour": [int(rng.integers(0, 24))],
                "f_cat": [categories[rng.choice(50, p=weights / weights.sum())]],
                "f_bytes": [b"\xff\xfe" if i % 97 == 0 else b"ok"],
            }
        )
    return rows


DATASETS = {"A": dataset_a, "B": dataset_b, "C": dataset_c, "D": dataset_d}


def _example(row: dict, kinds: dict[str, str]) -> bytes:
    import tensorflow as tf

    features = {}
    for name, values in row.items():
        if values is None:
            continue
        kind = kinds[name]
        if kind == "float":
            features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        elif kind == "int":
            features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        else:
            encoded = [v if isinstance(v, bytes) else v.encode() for v in values]
            features[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=encoded))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def kinds_of(rows: list[dict]) -> dict[str, str]:
    """Each feature's kind (float, int, string), from its first non-empty value."""
    kinds: dict[str, str] = {}
    for row in rows:
        for name, values in row.items():
            if values and name not in kinds:
                value = values[0]
                kinds[name] = "float" if isinstance(value, float) else "int" if isinstance(value, int) else "string"
    for row in rows:  # features holding only empty lists
        for name in row:
            kinds.setdefault(name, "float")
    return kinds


def to_table(rows: list[dict]):
    """The rows as an Arrow table of list columns (null: the example lacks the feature)."""
    import pyarrow as pa

    kinds = kinds_of(rows)
    arrow = {"float": pa.float32(), "int": pa.int64(), "string": pa.binary()}
    names = sorted({name for row in rows for name in row})
    columns = {}
    for name in names:
        values = []
        for row in rows:
            cell = row.get(name)
            if cell is not None and kinds[name] == "string":
                cell = [v if isinstance(v, bytes) else v.encode() for v in cell]
            values.append(cell)
        columns[name] = pa.array(values, pa.list_(arrow[kinds[name]]))
    return pa.table(columns)


def _write_statistics(name: str, rows: list[dict], work: str) -> None:
    import tensorflow as tf
    import tensorflow_data_validation as tfdv

    kinds = kinds_of(rows)
    data = os.path.join(work, f"{name}.tfrecord")
    with tf.io.TFRecordWriter(data) as writer:
        for row in rows:
            writer.write(_example(row, kinds))
    stats = tfdv.generate_statistics_from_tfrecord(data, output_path=os.path.join(work, f"{name}.stats"))
    with open(os.path.join(GOLDEN_DIR, f"{name}.FeatureStats.pb"), "wb") as handle:
        handle.write(stats.SerializeToString(deterministic=True))


def _drift_of_datasets(work: str) -> dict:
    """TFDV's drift measurements of B (current) against A (previous), thresholds 0.01."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

    def load(name):
        with open(os.path.join(GOLDEN_DIR, f"{name}.FeatureStats.pb"), "rb") as handle:
            return statistics_pb2.DatasetFeatureStatisticsList.FromString(handle.read())

    previous, current = load("A"), load("B")
    schema = tfdv.infer_schema(previous)
    for feature in schema.feature:
        feature.ClearField("domain") if feature.HasField("domain") else None
        feature.drift_comparator.jensen_shannon_divergence.threshold = 0.01
        if feature.type == 1:  # BYTES
            feature.drift_comparator.infinity_norm.threshold = 0.01
    schema.ClearField("string_domain")
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=previous)
    measurements = {}
    for info in anomalies.drift_skew_info:
        measurements[".".join(info.path.step)] = {
            anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type): m.value for m in info.drift_measurements
        }
    return measurements


# Hand-built STANDARD histograms (low, high, count) with num_nan, and string rank histograms.
SYNTHETIC = {
    "same_edges_same_nan": ([(0, 1, 4), (1, 2, 4)], 2, [(0, 1, 4), (1, 2, 4)], 2),
    "same_edges_nan_one_side": ([(0, 1, 4), (1, 2, 4)], 2, [(0, 1, 4), (1, 2, 4)], 0),
    "diff_edges_nan_both": ([(0, 1, 4), (1, 2, 4)], 2, [(0, 1.5, 4), (1.5, 2, 4)], 2),
    "identical_no_nan": ([(0, 1, 5), (1, 2, 5)], 0, [(0, 1, 5), (1, 2, 5)], 0),
    "half_overlap": ([(0, 2, 10)], 0, [(1, 3, 10)], 0),
    "disjoint": ([(0, 1, 10)], 0, [(2, 3, 10)], 0),
    "point_vs_range": ([(1, 1, 10)], 0, [(0, 2, 10)], 0),
    "inf_both_sides": (
        [(-INF, -INF, 1), (0, 1, 4), (1, 2, 4), (INF, INF, 1)],
        0,
        [(0, 1, 5), (1, 2, 4), (INF, INF, 1)],
        0,
    ),
    "uneven_edges": ([(0, 1, 3), (1, 3, 5), (3, 4, 2)], 0, [(0, 2, 6), (2, 2.5, 1), (2.5, 4, 3)], 0),
}
SYNTHETIC_STRINGS = {
    "str_shift": ({"a": 4, "b": 3, "c": 2, "h\u00e9llo": 1}, {"a": 1, "b": 4, "c": 1, "d": 4}),
    "str_tie": ({"a": 5, "b": 5}, {"a": 0.0001, "b": 10}),
    "str_eq_threshold": ({"a": 6, "b": 4}, {"a": 5, "b": 5}),
}


def _synthetic_statistics(side: int):
    from tensorflow_metadata.proto.v0 import statistics_pb2

    result = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = result.datasets.add(num_examples=10)
    for name, case in SYNTHETIC.items():
        buckets, num_nan = case[2 * side], case[2 * side + 1]
        feature = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.FLOAT)
        feature.path.step.append(name)
        common = feature.num_stats.common_stats
        common.num_non_missing, common.min_num_values, common.max_num_values = 10, 1, 1
        common.avg_num_values, common.tot_num_values = 1.0, 10
        histogram = feature.num_stats.histograms.add(type=statistics_pb2.Histogram.STANDARD, num_nan=num_nan)
        for low, high, count in buckets:
            histogram.buckets.add(low_value=low, high_value=high, sample_count=count)
    for name, case in SYNTHETIC_STRINGS.items():
        feature = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
        feature.path.step.append(name)
        common = feature.string_stats.common_stats
        common.num_non_missing, common.min_num_values, common.max_num_values = 10, 1, 1
        common.avg_num_values, common.tot_num_values = 1.0, 10
        for rank, (label, count) in enumerate(case[side].items()):
            feature.string_stats.rank_histogram.buckets.add(
                low_rank=rank, high_rank=rank, label=label, sample_count=count
            )
    return result


def _drift_of_synthetic() -> dict:
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    current, previous = _synthetic_statistics(0), _synthetic_statistics(1)
    schema = tfdv.infer_schema(previous)
    for feature in schema.feature:
        feature.ClearField("domain") if feature.HasField("domain") else None
        feature.drift_comparator.jensen_shannon_divergence.threshold = 0.1
        if feature.name in SYNTHETIC_STRINGS:
            feature.drift_comparator.infinity_norm.threshold = 0.1
    schema.ClearField("string_domain")
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=previous)
    measurements = {}
    for info in anomalies.drift_skew_info:
        measurements[".".join(info.path.step)] = {
            anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type): m.value for m in info.drift_measurements
        }
    return measurements


def _jsonable(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def main() -> None:
    import importlib.metadata as metadata

    import pyarrow.parquet as pq

    os.makedirs(GOLDEN_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name, make in DATASETS.items():
            rows = make()
            pq.write_table(
                to_table(rows), os.path.join(GOLDEN_DIR, f"{name}.parquet"), compression="zstd", compression_level=19
            )
            _write_statistics(name, rows, work)
            print(f"{name}: {len(rows)} examples")
        drift = {
            "versions": {
                package: metadata.version(package)
                for package in ("tensorflow-data-validation", "tfx-bsl", "tensorflow-metadata", "tensorflow", "pyarrow")
            },
            "B_vs_A": _drift_of_datasets(work),
            "synthetic": _drift_of_synthetic(),
            "synthetic_cases": _jsonable({"numeric": SYNTHETIC, "strings": SYNTHETIC_STRINGS}),
        }
    with open(os.path.join(GOLDEN_DIR, "drift.json"), "w") as handle:
        json.dump(drift, handle, indent=1, sort_keys=True)
    print(json.dumps(drift["B_vs_A"], indent=1))
    print(json.dumps(drift["synthetic"], indent=1))


if __name__ == "__main__":
    sys.exit(main())
