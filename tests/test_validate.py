"""The checks of ``featurebeam validate`` (beam_jobs._anomalies), on statistics of hand-made batches."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from analyzers import _drift
from analyzers._statistics import compute_statistics
from beam_jobs._anomalies import compare, to_anomalies_proto
from beam_jobs._job import ValidationConfig, _Validation


def stats(**columns):
    batch = pa.record_batch(columns)
    kinds = {pa.float32(): "float", pa.int64(): "int", pa.binary(): "string"}
    return compute_statistics([batch], [(name, kinds[column.type]) for name, column in columns.items()])


def config(**thresholds) -> ValidationConfig:
    return _Validation().check(thresholds, "validation")


def floats(values):
    return pa.array(values, pa.float32())


def strings(values):
    return pa.array([None if v is None else v.encode() for v in values], pa.binary())


def kinds(anomalies):
    return [(a.feature, a.kind) for a in anomalies]


def test_identical_data_has_no_anomalies_and_zero_distances():
    base = stats(x=floats(np.arange(60.0)), s=strings(list("aabbbc") * 10))
    anomalies, measured = compare(base, base, config())
    assert anomalies == []
    assert measured == {
        "s": {"missing": 0.0, "unseen": 0.0, "linf": 0.0, "linf_value": "c"},
        "x": {"missing": 0.0, "nan": 0.0, "jsd": 0.0},
    }


def test_a_distance_equal_to_its_threshold_is_not_an_anomaly():
    base = stats(s=strings(["a"] * 6 + ["b"] * 4))
    new = stats(s=strings(["a"] * 5 + ["b"] * 5))
    distance = _drift.linf_distance({"a": 5, "b": 5}, {"a": 6, "b": 4})[0]
    assert compare(base, new, config(linf=0.1))[0] == []  # 0.09999999999999998
    anomalies, _ = compare(base, new, config(linf=distance / 2))
    assert [(a.kind, a.value, a.threshold) for a in anomalies] == [("linf", distance, distance / 2)]


def test_jsd_threshold_and_per_feature_overrides():
    base = stats(x=floats(np.arange(100.0)), y=floats(np.arange(100.0)))
    new = stats(x=floats(np.arange(100.0) + 50), y=floats(np.arange(100.0) + 50))
    anomalies, measured = compare(base, new, config(jsd=0.1, features={"y": {"jsd": 0.9}}))
    assert kinds(anomalies) == [("x", "jsd")]
    assert anomalies[0].value == measured["x"]["jsd"] == measured["y"]["jsd"]
    base_hist, new_hist = (_drift.standard_histogram(s.datasets[0].features[0]) for s in (base, new))
    assert measured["x"]["jsd"] == _drift.histogram_jsd(*new_hist, *base_hist) > 0.1


def test_missing_values_above_the_baseline_fraction():
    base = stats(x=floats([1.0] * 90 + [None] * 10))  # 10% missing
    slightly = stats(x=floats([1.0] * 891 + [None] * 109))  # 10.9%: within the default 0.01
    more = stats(x=floats([1.0] * 88 + [None] * 12))  # 12%
    assert compare(base, slightly, config())[0] == []
    anomalies, _ = compare(base, more, config())
    assert [(a.kind, a.value, a.threshold) for a in anomalies] == [
        ("missing_values", 0.12, pytest.approx(0.11, abs=1e-15))
    ]
    assert anomalies[0].tfdv_type == "FEATURE_TYPE_LOW_FRACTION_PRESENT"
    assert compare(base, more, config(missing=0.05))[0] == []


def test_nan_where_the_baseline_had_none():
    base = stats(x=floats([1.0, 2.0, 3.0, 4.0]), y=floats([1.0, math.nan, 3.0, 4.0]))
    new = stats(x=floats([1.0, 2.0, math.nan, 4.0]), y=floats([1.0, math.nan, math.nan, 4.0]))
    anomalies, measured = compare(base, new, config(jsd=1))
    assert [(a.feature, a.kind, a.value) for a in anomalies] == [("x", "nan_values", 0.25)]  # y had NaN already
    assert measured["y"]["nan"] == 0.5
    assert compare(base, new, config(jsd=1, nan=0.25))[0] == []


def test_values_outside_the_baseline_domain():
    base = stats(s=strings(list("abc") * 10))
    new = stats(s=strings(list("abc") * 9 + ["d", "e", "d"]))
    anomalies, measured = compare(base, new, config(linf=1))
    assert [(a.kind, a.value) for a in anomalies] == [("unseen_values", 0.1)]
    assert anomalies[0].description.startswith(
        "10% of its values are not among the baseline's 3 values: 'd' (6.67%), 'e'"
    )
    assert compare(base, new, config(linf=1, unseen=0.1))[0] == []
    # A baseline with more distinct values than a domain holds (TFDV: 100) has no domain to check.
    wide = stats(s=strings([f"v{i}" for i in range(150)]))
    assert "unseen" not in compare(wide, stats(s=strings(["new"] * 10)), config(linf=1))[1]["s"]


def test_schema_changes():
    base = stats(a=floats([1.0]), b=pa.array([1], pa.int64()), c=strings(["x"]))
    new = stats(b=strings(["1"]), c=strings(["x"]), d=floats([2.0]))
    anomalies, _ = compare(base, new, config())
    assert [(a.feature, a.kind, a.value, a.threshold) for a in anomalies] == [
        ("a", "missing_column", None, None),
        ("b", "type_change", "string", "int"),
        ("d", "new_column", "float", None),
    ]
    assert [a.tfdv_type for a in anomalies] == ["SCHEMA_MISSING_COLUMN", "UNEXPECTED_DATA_TYPE", "SCHEMA_NEW_COLUMN"]


def test_the_raw_schema_adds_columns_and_sets_types():
    schema = text_format.Parse(
        'feature { name: "b" type: FLOAT } feature { name: "e" type: BYTES } feature { name: "f" type: INT }',
        schema_pb2.Schema(),
    )
    base = stats(b=pa.array([1], pa.int64()))
    new = stats(b=pa.array([1], pa.int64()), f=pa.array([3], pa.int64()))
    anomalies, measured = compare(base, new, config(), schema)
    assert [(a.feature, a.kind, a.value, a.threshold) for a in anomalies] == [
        ("b", "type_change", "int", "float"),  # the schema's type wins
        ("e", "missing_column", None, None),
    ]
    assert "f" not in measured  # in the schema only: nothing to compare its distribution with


def test_anomalies_as_tfdv_proto():
    base = stats(x=floats(np.arange(10.0)), s=strings(list("ab") * 5))
    new = stats(x=floats(np.arange(10.0) + 20), s=strings(list("cd") * 5))
    anomalies, measured = compare(base, new, config())
    proto = to_anomalies_proto(anomalies, measured, config())
    assert sorted(proto.anomaly_info) == ["s", "x"]
    reasons = [r.type for r in proto.anomaly_info["s"].reason]
    assert reasons == [
        anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES,
        anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    ]
    assert proto.anomaly_info["s"].short_description == "Multiple errors"
    drift = {
        info.path.step[0]: [(m.type, m.value, m.threshold) for m in info.drift_measurements]
        for info in proto.drift_skew_info
    }
    Measurement = anomalies_pb2.DriftSkewInfo.Measurement
    assert drift == {"s": [(Measurement.L_INFTY, 0.5, 0.1)], "x": [(Measurement.JENSEN_SHANNON_DIVERGENCE, 1.0, 0.1)]}
