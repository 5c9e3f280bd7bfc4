"""End to end through the ``featurebeam`` command, in subprocesses, checking real values."""

from __future__ import annotations

import glob
import json
import os
import pty
import re
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS_PER_FILE = 400
COMPANIES = ["Flash Cab", "City Service", "Sun Taxi", "Globe", "Zip"]

pytestmark = pytest.mark.slow

FN = textwrap.dedent(
    """
    import tensorflow as tf

    import preprocessing as pp


    def preprocessing_fn(inputs):
        fare = inputs["fare"]
        centred = fare - pp.mean(fare, name="fare_mean")  # phase 0
        return {
            "row_id": inputs["row_id"],
            "fare_z": pp.scale_to_z_score(fare, name="fare_z"),
            "centred_01": pp.scale_to_0_1(centred, name="centred_01"),  # phase 1: needs the mean
            "company_id": pp.compute_and_apply_vocabulary(inputs["company"], num_oov_buckets=1, name="company_vocab"),
            "miles_bucket": pp.bucketize(inputs["miles"], num_buckets=4, name="miles_bucket"),
        }


    def reads_a_missing_column(inputs):
        return {"x": pp.scale_to_z_score(inputs["fair"])}


    def raises(inputs):
        ratio = inputs["fare"] / 2
        return helper(ratio)


    def helper(ratio):
        raise ValueError("my fn is broken")
    """
)


def raw_table(seed: int, rows: int, start: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    company = rng.choice(COMPANIES, rows, p=[0.4, 0.25, 0.2, 0.1, 0.05]).astype(object)
    company[rng.random(rows) < 0.05] = None
    return pa.table(
        {
            "row_id": pa.array(np.arange(start, start + rows), pa.int64()),
            "fare": pa.array(rng.gamma(2.0, 6.0, rows).round(2), pa.float64()),
            "miles": pa.array(rng.exponential(3.0, rows).round(3), pa.float32()),
            "company": pa.array(company, pa.string()),
        }
    )


# What TensorFlow's C++ runtime prints when it is imported, before any setting can silence it.
# The CLI hides it, unless `import beam_jobs` itself imports TensorFlow (see test_quiet_run_prints_nothing).
_IMPORT_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\).*|[IWE]\d{4} .*"
    r"|To enable the following instructions.*)\n",
    re.M,
)


def featurebeam(*args, cwd=None, stderr=subprocess.PIPE, timeout=240) -> subprocess.CompletedProcess:
    """Run the command; ``.stderr`` without TensorFlow's import-time lines, ``.raw_stderr`` as is."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    result = subprocess.run(
        [sys.executable, "-m", "beam_jobs.cli", *map(str, args)],
        cwd=cwd or ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=timeout,
    )
    result.raw_stderr = result.stderr
    if result.stderr is not None:
        result.stderr = _IMPORT_NOISE.sub("", result.stderr)
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("featurebeam_cli")
    (root / "data").mkdir()
    tables = [raw_table(seed, ROWS_PER_FILE, seed * ROWS_PER_FILE) for seed in range(3)]
    for index, table in enumerate(tables):
        pq.write_table(table, root / "data" / f"rides-{index}.parquet")
    (root / "eval").mkdir()
    pcsv.write_csv(raw_table(99, 200, 10_000), root / "eval" / "eval.csv")
    (root / "fns").mkdir()
    (root / "fns" / "rides_fn.py").write_text(FN)
    job = {
        "input": {"path": "data/*.parquet", "schema": {"company": {"type": "string", "default": ""}}},
        "preprocessing_fn": "fns/rides_fn.py:preprocessing_fn",
        "output": {"path": "out/run"},
    }
    (root / "job.yaml").write_text(yaml.safe_dump(job))
    return {"root": root, "raw": pa.concat_tables(tables), "job": root / "job.yaml"}


@pytest.fixture(scope="module")
def run_output(workspace):
    result = featurebeam("run", workspace["job"], cwd="/")
    assert result.returncode == 0, result.stderr
    return workspace["root"] / "out" / "run", result


ANALYZERS_JSON = os.path.join("transform_fn", "assets.extra", "analyzers.json")


def analyzers_of(output) -> dict:
    with open(os.path.join(output, ANALYZERS_JSON)) as handle:
        return {record["key"]: record for record in json.load(handle)["analyzers"]}


def joined(output, raw: pa.Table) -> dict[str, np.ndarray]:
    """Transformed columns aligned with the raw rows through the passed-through row_id."""
    table = pq.read_table(os.path.join(output, "transformed_data")).sort_by("row_id")
    assert table.column("row_id").to_pylist() == raw.column("row_id").to_pylist()
    return {name: table.column(name).to_numpy() for name in table.column_names}


def hand_vocabulary(tokens) -> list[bytes]:
    """tf.Transform's order: descending count, ties by descending token bytes."""
    values, counts = np.unique(np.array([t.encode() for t in tokens], dtype=object), return_counts=True)
    return [t for _, t in sorted(zip(counts, values, strict=True), key=lambda ct: (-ct[0], [-b for b in ct[1]]))]


def test_run_writes_the_layout_and_run_json(run_output, workspace):
    output, result = run_output
    assert sorted(os.listdir(output)) == [
        "report.html",
        "run.json",
        "statistics",
        "transform_fn",
        "transformed_data",
        "transformed_metadata",
    ]
    assert os.path.isfile(output / "transform_fn" / "saved_model.pb")
    assert os.path.isfile(output / "transformed_metadata" / "schema.pbtxt")
    parts = sorted(os.listdir(output / "transformed_data"))
    assert parts and all(
        p.startswith("part-") and p.endswith(".parquet") and f"-of-{len(parts):05d}" in p for p in parts
    )
    run = json.loads((output / "run.json").read_text())
    assert run["command"] == "run" and run["status"] == "succeeded"
    assert run["rows"] == {"read": 1200, "written": 1200}
    assert run["analysis_phases"] == 2 and run["analyzers"] == 5
    files = run["inputs"]["files"]
    assert [os.path.basename(f["path"]) for f in files] == ["rides-0.parquet", "rides-1.parquet", "rides-2.parquet"]
    assert all(f["size_bytes"] == os.path.getsize(f["path"]) for f in files)
    assert run["job"]["preprocessing_fn"] == f"{workspace['root'] / 'fns' / 'rides_fn.py'}:preprocessing_fn"
    assert run["job"]["output"]["path"] == str(output)
    assert run["schema"]["company"] == {"type": "string", "default": ""}
    assert set(run["versions"]) >= {"featurebeam", "apache_beam", "tensorflow", "pyarrow", "numpy", "python"}
    assert run["timings_s"]["total"] >= run["timings_s"]["pipeline"] > 0
    assert "read 1,200 rows from 3 parquet file(s)" in result.stdout
    assert "rows read" not in result.stderr  # no progress line when stderr is not a terminal
    siblings = os.listdir(output.parent)
    assert siblings == ["run"], "no staging directories are left behind"


def test_run_computes_the_right_values(run_output, workspace):
    output, _ = run_output
    raw = workspace["raw"]
    got = joined(output, raw)
    fare = raw.column("fare").to_numpy().astype(np.float32)
    # z-score, from the written data
    assert abs(got["fare_z"].mean()) < 1e-5 and abs(got["fare_z"].std() - 1) < 1e-4
    np.testing.assert_allclose(got["fare_z"], (fare - fare.mean()) / fare.std(), rtol=1e-4, atol=1e-5)
    # two phases: min/max of (fare - mean) scales to exactly [0, 1]
    assert got["centred_01"].min() == pytest.approx(0.0, abs=1e-6) and got["centred_01"].max() == pytest.approx(1.0)
    # vocabulary ids match a hand computation; nulls were filled with the default "", which (as in
    # tf.Transform) is not a vocabulary token, so it lands in the one OOV bucket
    companies = [c if c is not None else "" for c in raw.column("company").to_pylist()]
    vocabulary = [t for t in hand_vocabulary(companies) if t]
    assert len(vocabulary) == 5
    ids = [vocabulary.index(c.encode()) if c else len(vocabulary) for c in companies]
    np.testing.assert_array_equal(got["company_id"], ids)
    # quantile buckets: boundaries from the analysis; about a quarter of the rows in each bucket
    analyzers = analyzers_of(output)
    boundaries = np.array(analyzers["miles_bucket/quantiles"]["values"]["bucket_boundaries"]).reshape(-1)
    miles = raw.column("miles").to_numpy()
    np.testing.assert_array_equal(got["miles_bucket"], np.searchsorted(boundaries, miles, side="right"))
    assert np.all(np.abs(np.bincount(got["miles_bucket"], minlength=4) - 300) < 30)
    # analyzers.json holds the values the transform_fn froze
    assert analyzers["fare_mean/mean_and_var"]["phase"] == 0 and analyzers["centred_01/min_and_max"]["phase"] == 1
    assert analyzers["fare_z/mean_and_var"]["values"]["mean"] == pytest.approx(float(fare.mean()), rel=1e-5)
    assert analyzers["fare_z/mean_and_var"]["values"]["var"] == pytest.approx(float(fare.var()), rel=1e-4)
    vocab = analyzers["company_vocab/vocabulary"]
    assert vocab["vocabulary_size"] == len(vocabulary) and vocab["top_tokens"] == [t.decode() for t in vocabulary]


# --- statistics and validate --------------------------------------------


def statistics_of(output):
    """``OUTPUT/statistics/FeatureStats.pb``: a plain serialized DatasetFeatureStatisticsList, as TFX writes it."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    data = (output / "statistics" / "FeatureStats.pb").read_bytes()
    return statistics_pb2.DatasetFeatureStatisticsList.FromString(data)


def features_by_name(statistics) -> dict:
    return {f.path.step[0]: f for f in statistics.datasets[0].features}


def without_moments(statistics):
    """The statistics with mean and std_dev cleared (they depend on the merge order in their last bits)."""
    copy = type(statistics)()
    copy.CopyFrom(statistics)
    for feature in copy.datasets[0].features:
        if feature.HasField("num_stats"):
            feature.num_stats.ClearField("mean")
            feature.num_stats.ClearField("std_dev")
    return copy


def as_read(raw: pa.Table) -> pa.RecordBatch:
    """The raw table with the types featurebeam reads (float32, int64, binary), nulls kept."""
    types = {"row_id": pa.int64(), "fare": pa.float32(), "miles": pa.float32(), "company": pa.binary()}
    return pa.record_batch([raw.column(n).combine_chunks().cast(t) for n, t in types.items()], list(types))


def test_run_writes_the_statistics_of_every_raw_column(run_output, workspace):
    from analyzers._statistics import compute_statistics

    output, result = run_output
    statistics = statistics_of(output)
    assert len(statistics.datasets) == 1 and statistics.datasets[0].num_examples == 1200
    features = features_by_name(statistics)
    assert list(features) == ["company", "fare", "miles", "row_id"]
    raw = workspace["raw"]
    fare = raw.column("fare").to_numpy().astype(np.float32).astype(np.float64)
    numbers = features["fare"].num_stats
    assert numbers.mean == pytest.approx(fare.mean(), rel=1e-12)
    assert numbers.std_dev == pytest.approx(fare.std(), rel=1e-12)  # population standard deviation, as TFDV
    assert (numbers.min, numbers.max) == (fare.min(), fare.max())
    assert numbers.median == np.sort(fare)[600]  # TFDV's median: the upper middle value
    assert numbers.common_stats.num_missing == 0 and numbers.common_stats.num_non_missing == 1200
    # Missing values are counted before `input.schema.company.default` fills them for the fn.
    companies = raw.column("company").to_pylist()
    strings = features["company"].string_stats
    assert strings.common_stats.num_missing == companies.count(None) > 0
    present = [c for c in companies if c is not None]
    assert strings.unique == 5 and strings.avg_length == pytest.approx(np.mean([len(c) for c in present]), rel=1e-6)
    assert [(v.value, v.frequency) for v in strings.top_values] == [
        (c.decode(), present.count(c.decode())) for c in hand_vocabulary(present)
    ]
    # The whole file equals the statistics computed in one process from the same rows.
    expected = compute_statistics(
        [as_read(raw)], [("row_id", "int"), ("fare", "float"), ("miles", "float"), ("company", "string")]
    )
    assert without_moments(statistics) == without_moments(expected)
    run = json.loads((output / "run.json").read_text())
    assert run["statistics"] == str(output / "statistics" / "FeatureStats.pb")
    assert run["report"] == str(output / "report.html")
    assert f"statistics: {output / 'statistics' / 'FeatureStats.pb'}" in result.stdout
    page = (output / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "http" not in page and page.count("<svg") == 4


def skewed(raw: pa.Table) -> pa.Table:
    """The training rows drifted: fare doubled, a new company in 30% of the rows, miles gone, a new column,
    row_id as text."""
    rows = raw.num_rows
    company = [("Brand New Cab" if i % 10 < 3 else c) for i, c in enumerate(raw.column("company").to_pylist())]
    return pa.table(
        {
            "row_id": pa.array([f"r{i}" for i in range(rows)]),
            "fare": pa.array(raw.column("fare").to_numpy() * 2),
            "company": pa.array(company, pa.string()),
            "tip": pa.array(np.ones(rows)),
        }
    )


def test_validate_reports_skew_and_drift_and_exits_3(run_output, workspace, tmp_path):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    from analyzers import _drift

    output, _ = run_output
    new = skewed(workspace["raw"])
    pq.write_table(new, tmp_path / "new.parquet")
    result = featurebeam(
        "validate", workspace["job"], "--set", f"input.path={tmp_path / 'new.parquet'}",
        "--baseline", output, "--output", tmp_path / "checked",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("featurebeam validate: 6 anomalies in 5 features\n")
    document = json.loads((tmp_path / "checked" / "anomalies.json").read_text())
    kinds = {name: [a["kind"] for a in found] for name, found in document["anomalies"].items()}
    assert kinds == {
        "company": ["unseen_values", "linf"],
        "fare": ["jsd"],
        "miles": ["missing_column"],
        "row_id": ["type_change"],
        "tip": ["new_column"],
    }
    assert document["num_examples"] == {"baseline": 1200, "new": 1200}
    # The measured values, from the two statistics files.
    baseline, checked = statistics_of(output), statistics_of(tmp_path / "checked")
    base, now = features_by_name(baseline), features_by_name(checked)
    jsd = document["anomalies"]["fare"][0]
    new_hist, base_hist = _drift.standard_histogram(now["fare"]), _drift.standard_histogram(base["fare"])
    assert jsd["value"] == _drift.histogram_jsd(*new_hist, *base_hist) > 0.1 and jsd["threshold"] == 0.1
    unseen, linf = document["anomalies"]["company"]
    present = [c for c in new.column("company").to_pylist() if c is not None]
    assert unseen["value"] == pytest.approx(present.count("Brand New Cab") / len(present), rel=1e-12)
    assert "'Brand New Cab'" in unseen["description"] and unseen["tfdv_type"] == "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
    assert linf["value"] == pytest.approx(unseen["value"], rel=1e-12)  # the new value is the largest difference
    assert "'Brand New Cab'" in linf["description"]
    assert (
        document["anomalies"]["row_id"][0]["value"] == "string"
        and document["anomalies"]["row_id"][0]["threshold"] == "int"
    )
    for feature, check in (("company", "unseen_values"), ("fare", "jsd"), ("miles", "missing_column")):
        assert re.search(rf"^  {feature} +{check} ", result.stdout, re.M), result.stdout
    # TFDV's format too, and the report with the anomalies first.
    proto = text_format.Parse((tmp_path / "checked" / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies())
    assert sorted(proto.anomaly_info) == sorted(kinds)
    assert (
        proto.anomaly_info["fare"].reason[0].type == anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH
    )
    page = (tmp_path / "checked" / "report.html").read_text()
    assert page.index("6 anomalies") < page.index('id="feature-company"') < page.index('id="feature-row_id"')
    assert page.index('id="feature-tip"') < page.index("</body>")


def test_validate_thresholds_come_from_the_job_file(run_output, workspace, tmp_path):
    output, _ = run_output
    pq.write_table(skewed(workspace["raw"]).drop(["row_id", "tip"]), tmp_path / "new.parquet")
    job = yaml.safe_load(workspace["job"].read_text())
    job["input"]["path"] = str(tmp_path / "new.parquet")
    job["output"]["path"] = str(tmp_path / "trained")
    job["validation"] = {"unseen": 0.5, "features": {"fare": {"jsd": 1.0}, "company": {"linf": 0.9, "unseen": 0.2}}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    result = featurebeam("validate", tmp_path / "job.yaml", "--baseline", output, "--quiet")
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    default_output = tmp_path / "trained-validation"  # output.path + "-validation"
    document = json.loads((default_output / "anomalies.json").read_text())
    assert {n: [a["kind"] for a in f] for n, f in document["anomalies"].items()} == {
        "company": ["unseen_values"],  # 30% > 0.2 for company; fare's jsd is below 1
        "miles": ["missing_column"],
        "row_id": ["missing_column"],
    }
    assert document["thresholds"]["features"]["fare"]["jsd"] == 1.0 and document["thresholds"]["unseen"] == 0.5
    assert document["measurements"]["fare"]["jsd"] > 0.1


def test_validate_the_baseline_data_finds_no_anomalies(run_output, workspace, tmp_path):
    output, _ = run_output
    result = featurebeam("validate", workspace["job"], "--baseline", output, "--output", tmp_path / "same")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("featurebeam validate: no anomalies\n")
    document = json.loads((tmp_path / "same" / "anomalies.json").read_text())
    assert document["anomalies"] == {} and document["status"] == "no anomalies"
    assert document["measurements"]["fare"] == {"missing": 0.0, "nan": 0.0, "jsd": 0.0}
    assert document["measurements"]["company"]["linf"] == 0.0
    assert without_moments(statistics_of(tmp_path / "same")) == without_moments(statistics_of(output))


def test_validate_without_a_baseline_statistics_file_is_exit_2(workspace, tmp_path):
    (tmp_path / "old").mkdir()
    result = featurebeam("validate", workspace["job"], "--baseline", tmp_path / "old", "--output", tmp_path / "v")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"featurebeam: error: `--baseline` {tmp_path / 'old'} has no statistics/FeatureStats.pb"
    )
    assert not (tmp_path / "v").exists()


def test_inspect_shows_what_was_learned_and_the_signatures(run_output):
    output, _ = run_output
    result = featurebeam("inspect", output)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Analyzers (5, in 2 phases):" in text
    assert (
        "fare_z/mean_and_var: mean = " in text
        and "company_vocab/vocabulary: vocabulary of 5 tokens (top: 'Flash Cab'" in text
    )
    assert "miles_bucket/quantiles: bucket_boundaries = [" in text
    assert "vocab_company_vocab_vocabulary: 5 entries; top: 'Flash Cab'" in text
    assert "serving_default" in text and "transform_examples" in text
    assert "fare: float32 [None]" in text and "company_id: int64 [None]" in text
    from beam_jobs._inspect import inspect_output  # what `inspect --json` prints

    info = json.loads(json.dumps(inspect_output(str(output))))
    serving = info["signatures"]["serving_default"]
    assert serving["inputs"] == {
        "company": {"dtype": "string", "shape": [None]},
        "fare": {"dtype": "float32", "shape": [None]},
        "miles": {"dtype": "float32", "shape": [None]},
        "row_id": {"dtype": "int64", "shape": [None]},
    }
    assert sorted(serving["outputs"]) == ["centred_01", "company_id", "fare_z", "miles_bucket", "row_id"]
    assert info["signatures"]["transform_examples"]["inputs"] == {"examples": {"dtype": "string", "shape": [None]}}


def test_the_transform_fn_serves_from_tensorflow_and_keras(run_output, workspace):
    import tensorflow as tf

    output, _ = run_output
    raw = workspace["raw"].slice(0, 5)
    inputs = {
        "company": tf.constant([c or "" for c in raw.column("company").to_pylist()]),
        "fare": tf.constant(raw.column("fare").to_numpy(), tf.float32),
        "miles": tf.constant(raw.column("miles").to_numpy(), tf.float32),
        "row_id": tf.constant(raw.column("row_id").to_numpy(), tf.int64),
    }
    expected = joined(output, workspace["raw"])
    served = tf.saved_model.load(str(output / "transform_fn")).signatures["serving_default"](**inputs)
    np.testing.assert_allclose(served["fare_z"].numpy(), expected["fare_z"][:5], rtol=1e-6)
    np.testing.assert_array_equal(served["company_id"].numpy(), expected["company_id"][:5])
    import keras

    layer = keras.layers.TFSMLayer(str(output / "transform_fn"), call_endpoint="transform_fn")
    features = layer(inputs)
    np.testing.assert_array_equal(np.asarray(features["miles_bucket"]), expected["miles_bucket"][:5])


def test_transform_applies_an_existing_transform_fn(run_output, workspace, tmp_path):
    output, _ = run_output
    result = featurebeam(
        "transform",
        workspace["job"],
        "--transform-fn",
        output,
        "--set",
        f"input.path={workspace['root'] / 'eval' / 'eval.csv'}",
        "--set",
        f"output.path={tmp_path / 'eval_out'}",
        "--set",
        "output.format=tfrecord",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    out = tmp_path / "eval_out"
    assert sorted(os.listdir(out)) == [
        "run.json",
        "transform_fn",
        "transformed_data",
        "transformed_metadata",
    ]
    run = json.loads((out / "run.json").read_text())
    assert (
        run["command"] == "transform" and run["rows"] == {"read": 200, "written": 200} and run["analysis_phases"] == 0
    )
    import tensorflow as tf

    spec = {
        "row_id": tf.io.FixedLenFeature([], tf.int64),
        "fare_z": tf.io.FixedLenFeature([], tf.float32),
        "company_id": tf.io.FixedLenFeature([], tf.int64),
    }
    records = list(tf.data.TFRecordDataset(sorted(glob.glob(str(out / "transformed_data" / "*.tfrecord.gz"))), "GZIP"))
    parsed = {k: v.numpy() for k, v in tf.io.parse_example(tf.stack(records), spec).items()}
    order = np.argsort(parsed["row_id"])
    eval_raw = pcsv.read_csv(workspace["root"] / "eval" / "eval.csv")
    stats = analyzers_of(output)["fare_z/mean_and_var"]["values"]  # learned on the training run, not on eval
    fare = eval_raw.column("fare").to_numpy().astype(np.float32)
    np.testing.assert_allclose(
        parsed["fare_z"][order], (fare - stats["mean"]) / np.sqrt(stats["var"]), rtol=1e-4, atol=1e-5
    )
    vocabulary = analyzers_of(output)["company_vocab/vocabulary"]["top_tokens"]
    companies = [c if c is not None else "" for c in eval_raw.column("company").to_pylist()]
    ids = [vocabulary.index(c) if c in vocabulary else len(vocabulary) for c in companies]
    np.testing.assert_array_equal(parsed["company_id"][order], ids)


def test_analyze_without_statistics_writes_only_the_transform_fn(workspace, tmp_path):
    result = featurebeam("analyze", workspace["job"], "--no-statistics", "--set", f"output.path={tmp_path / 'fn_only'}")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "fn_only")) == [
        "run.json",
        "transform_fn",
        "transformed_metadata",
    ]
    assert json.loads((tmp_path / "fn_only" / "run.json").read_text())["rows"] == {"read": 1200, "written": 0}


def test_declarative_job_with_tfrecord_output(workspace, tmp_path):
    job = {
        "input": {
            "path": str(workspace["root"] / "data"),
            "schema": {"company": {"type": "string", "default": "none"}},
        },
        "features": [
            {"name": "row_id", "transform": "identity"},
            {"name": "fare", "transform": "scale_to_z_score", "output": "fare_z"},
            {"name": "company", "transform": "compute_and_apply_vocabulary", "top_k": 2, "num_oov_buckets": 1},
            {"name": "company", "transform": "hash_strings", "hash_buckets": 5, "output": "company_hash"},
        ],
        "output": {"path": str(tmp_path / "out"), "format": "tfrecord", "num_shards": 2},
        "statistics": False,
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    result = featurebeam("run", tmp_path / "job.yaml")
    assert result.returncode == 0, result.stderr
    assert not {"statistics", "report.html"} & set(os.listdir(tmp_path / "out"))  # `statistics: false`
    names = sorted(os.listdir(tmp_path / "out" / "transformed_data"))
    assert names == ["part-00000-of-00002.tfrecord.gz", "part-00001-of-00002.tfrecord.gz"]
    import tensorflow as tf

    spec = {
        "row_id": tf.io.FixedLenFeature([], tf.int64),
        "fare_z": tf.io.FixedLenFeature([], tf.float32),
        "company": tf.io.FixedLenFeature([], tf.int64),
        "company_hash": tf.io.FixedLenFeature([], tf.int64),
    }
    records = list(tf.data.TFRecordDataset([str(tmp_path / "out" / "transformed_data" / n) for n in names], "GZIP"))
    parsed = {k: v.numpy() for k, v in tf.io.parse_example(tf.stack(records), spec).items()}
    order = np.argsort(parsed["row_id"])
    raw = workspace["raw"]
    assert parsed["row_id"][order].tolist() == raw.column("row_id").to_pylist()
    assert abs(parsed["fare_z"].mean()) < 1e-5 and abs(parsed["fare_z"].std() - 1) < 1e-4
    companies = [c if c is not None else "none" for c in raw.column("company").to_pylist()]
    top2 = hand_vocabulary(companies)[:2]
    want = [top2.index(c.encode()) if c.encode() in top2 else 2 for c in companies]
    np.testing.assert_array_equal(parsed["company"][order], want)
    assert set(parsed["company_hash"]) <= set(range(5))


def test_multi_process_runner_gives_the_same_results(run_output, workspace, tmp_path):
    output, _ = run_output
    result = featurebeam(
        "run",
        workspace["job"],
        "--set",
        f"output.path={tmp_path / 'mp'}",
        "--set",
        "pipeline_options.direct_num_workers=2",
        "--set",
        "pipeline_options.direct_running_mode=multi_processing",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "mp" / "run.json").read_text())["rows"] == {"read": 1200, "written": 1200}
    # Determinism: the same analyzer values and vocabulary files, byte for byte, from worker processes.
    assert (tmp_path / "mp" / ANALYZERS_JSON).read_bytes() == (output / ANALYZERS_JSON).read_bytes()
    assets = sorted(os.listdir(output / "transform_fn" / "assets"))
    assert assets == sorted(os.listdir(tmp_path / "mp" / "transform_fn" / "assets")) and assets
    for name in assets:
        mp_asset = tmp_path / "mp" / "transform_fn" / "assets" / name
        assert mp_asset.read_bytes() == (output / "transform_fn" / "assets" / name).read_bytes(), name
    single, multi = analyzers_of(output), analyzers_of(tmp_path / "mp")
    assert single.keys() == multi.keys()
    for key, record in single.items():
        if "values" in record:
            for name, value in record["values"].items():
                np.testing.assert_allclose(multi[key]["values"][name], value, rtol=1e-6, err_msg=key)
        else:
            assert multi[key]["top_tokens"] == record["top_tokens"]
    a, b = joined(output, workspace["raw"]), joined(tmp_path / "mp", workspace["raw"])
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, err_msg=name)
    # The statistics too: the same file but for the last bits of means and deviations (merge order).
    single, multi = (statistics_of(path) for path in (output, tmp_path / "mp"))
    for feature in single.datasets[0].features:
        if feature.HasField("num_stats"):
            for name in ("mean", "std_dev"):
                got = getattr(features_by_name(multi)[feature.path.step[0]].num_stats, name)
                assert got == pytest.approx(getattr(feature.num_stats, name), rel=1e-12)
    assert without_moments(single) == without_moments(multi)


# --- failures -------------------------------------------------------------


def test_failed_run_leaves_the_earlier_output_untouched(run_output, workspace):
    output, _ = run_output
    before = {p: os.path.getmtime(p) for p in glob.glob(str(output / "**"), recursive=True)}
    run_json = (output / "run.json").read_bytes()
    result = featurebeam("run", workspace["job"], "--set", "input.schema.company.default=null")
    assert result.returncode == 2
    nulls = sum(c is None for c in workspace["raw"].slice(0, ROWS_PER_FILE).column("company").to_pylist())
    assert result.stderr.startswith(
        f"featurebeam: error: {workspace['root'] / 'data' / 'rides-0.parquet'}: "
        f"column 'company' has {nulls} null values"
    )
    assert "set `input.schema.company.default` to fill them" in result.stderr
    assert "Traceback" not in result.stderr
    assert (output / "run.json").read_bytes() == run_json
    assert {p: os.path.getmtime(p) for p in glob.glob(str(output / "**"), recursive=True)} == before
    assert os.listdir(output.parent) == ["run"]


def test_bad_config_is_one_message_and_exit_2(workspace):
    result = featurebeam("run", workspace["job"], "--set", "output.format=csvv")
    assert result.returncode == 2
    assert result.stderr == "featurebeam: error: `output.format` must be one of 'parquet', 'tfrecord'; got 'csvv'\n"


def test_fn_reading_a_missing_column_lists_the_available_ones(workspace):
    result = featurebeam(
        "run",
        workspace["job"],
        "--set",
        "preprocessing_fn=" + str(workspace["root"] / "fns" / "rides_fn.py") + ":reads_a_missing_column",
    )
    assert result.returncode == 2
    assert result.stderr == (
        "featurebeam: error: preprocessing_fn: preprocessing_fn reads feature 'fair', which the data does not have; "
        "available features: company, fare, miles, row_id\n"
    )


def test_fn_that_raises_shows_the_users_own_traceback(workspace):
    result = featurebeam(
        "analyze",
        workspace["job"],
        "--set",
        "preprocessing_fn=" + str(workspace["root"] / "fns" / "rides_fn.py") + ":raises",
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "featurebeam: error: preprocessing_fn raised ValueError: my fn is broken"
    assert lines[1] == "Traceback (your code):"
    assert (
        "rides_fn.py" in result.stderr
        and "in helper" in result.stderr
        and 'raise ValueError("my fn is broken")' in result.stderr
    )
    assert "site-packages" not in result.stderr and "beam_jobs" not in result.stderr


def test_importing_beam_jobs_does_not_import_tensorflow():
    # The CLI quiets TensorFlow's start-up logging before TensorFlow is first
    # imported; a package-level import of it would print that noise.
    code = "import sys, beam_jobs; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_quiet_run_prints_nothing(workspace, tmp_path):
    result = featurebeam("run", workspace["job"], "--quiet", "--set", f"output.path={tmp_path / 'q'}")
    assert result.returncode == 0
    assert result.stdout == "" and result.raw_stderr == ""


def test_progress_on_a_terminal(workspace, tmp_path):
    main, secondary = pty.openpty()
    try:
        result = featurebeam("run", workspace["job"], "--set", f"output.path={tmp_path / 'tty'}", stderr=secondary)
        os.close(secondary)
        secondary = None
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
        if secondary is not None:
            os.close(secondary)
    assert result.returncode == 0
    progress = b"".join(chunks).decode()
    # every pass over the 1,200 input rows, in the order the job runs them
    assert "\rrun: rows read 1,200 · phase1 1,200 · transform 1,200 · written 1,200" in progress


def test_inspect_reads_a_transform_fn_alone(run_output, tmp_path):
    import shutil

    from beam_jobs._inspect import format_inspection, inspect_output

    output, _ = run_output
    copy = tmp_path / "python_api_output"
    shutil.copytree(output / "transform_fn", copy / "transform_fn")  # as AnalyzeDataset leaves it
    info = inspect_output(str(copy))
    records = {r["key"]: r for r in info["analyzers"]}
    expected = analyzers_of(output)
    assert records.keys() == expected.keys()
    assert records["fare_z/mean_and_var"]["values"] == pytest.approx(expected["fare_z/mean_and_var"]["values"])
    assert records["company_vocab/vocabulary"]["top_tokens"] == expected["company_vocab/vocabulary"]["top_tokens"]
    assert "Analyzers (5, in 2 phases):" in format_inspection(info)


def test_empty_input_is_an_error_and_writes_nothing(tmp_path):
    pq.write_table(raw_table(0, 0, 0), tmp_path / "empty.parquet")
    job = {"input": {"path": "empty.parquet"}, "features": [{"name": "fare", "transform": "scale_to_z_score"}]}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump({**job, "output": {"path": "out"}}))
    result = featurebeam("run", tmp_path / "job.yaml")
    assert result.returncode == 2
    assert result.stderr == (
        f"featurebeam: error: `input.path` {tmp_path / 'empty.parquet'}: "
        "the input files have no rows; nothing was written\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["empty.parquet", "job.yaml"]
