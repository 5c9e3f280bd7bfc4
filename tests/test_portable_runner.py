"""Beam's portability layer, run here: a job service and a worker pool on loopback ports, started and
stopped by this module (``beam_jobs.local_portable``), and jobs submitted to them by the ``featurebeam``
command with ``--runner PortableRunner``.

The example jobs and a 3-phase job with NaNs and bad records give the same rows, analyzers and
vocabularies as the DirectRunner, and run.json counts the same (counted as data, not from metrics).
Every wait is bounded: the services must start within 120 s and each job finish within 240 s, so a
hang fails the test instead of blocking the suite; the fixture stops both services either way.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from beam_jobs.local_portable import LocalPortableServices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB_TIMEOUT_S = 240
ANALYZERS_JSON = os.path.join("transform_fn", "assets.extra", "analyzers.json")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    with LocalPortableServices(str(tmp_path_factory.mktemp("portable_services")), start_timeout_s=120) as running:
        yield running


def run_portable(services, job: str, output, *overrides: str, workers: int = 1) -> subprocess.CompletedProcess:
    """``featurebeam run JOB --runner PortableRunner`` against the services, bounded in time."""
    sets = [f"pipeline_options.{key}={value}" for key, value in services.options.items()]
    sets += [f"pipeline_options.sdk_worker_parallelism={workers}", f"output.path={output}", *overrides]
    command = [sys.executable, "-m", "beam_jobs.cli", "run", job, "--runner", "PortableRunner", "--quiet"]
    for item in sets:
        command += ["--set", item]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT_S,
    )


def run_direct(job: str, output, *overrides: str) -> dict:
    from beam_jobs import _run
    from beam_jobs._job import load_job

    return _run.execute(load_job(job, [f"output.path={output}", *overrides]), "run")


def run_json(output) -> dict:
    with open(os.path.join(output, "run.json")) as handle:
        return json.load(handle)


def parquet_rows(output) -> pa.Table:
    table = pa.concat_tables(pq.read_table(p) for p in sorted(glob.glob(f"{output}/transformed_data/*.parquet")))
    return table.sort_by([(name, "ascending") for name in table.column_names])


def example_rows(output) -> pa.Table:
    import tensorflow as tf

    columns: dict[str, list] = {}
    for path in sorted(glob.glob(f"{output}/transformed_data/*.tfrecord.gz")):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                columns.setdefault(name, []).append(getattr(feature, kind).value[0])
    table = pa.table(columns)
    return table.sort_by([(name, "ascending") for name in table.column_names])


def assert_same_outputs(direct, portable, rows) -> None:
    """Same rows, same analyzers.json, same vocabulary files."""
    want, got = rows(direct), rows(portable)
    assert got.schema == want.schema and got.num_rows == want.num_rows > 0
    for name in want.column_names:  # exactly equal, NaN included
        np.testing.assert_array_equal(got.column(name).to_numpy(), want.column(name).to_numpy(), err_msg=name)
    with open(os.path.join(direct, ANALYZERS_JSON), "rb") as a, open(os.path.join(portable, ANALYZERS_JSON), "rb") as b:
        assert b.read() == a.read()  # every analyzer's values, byte for byte (as the multi-process DirectRunner)
    assets = sorted(os.listdir(os.path.join(direct, "transform_fn", "assets")))
    assert assets == sorted(os.listdir(os.path.join(portable, "transform_fn", "assets")))
    for name in assets:
        with open(os.path.join(direct, "transform_fn", "assets", name), "rb") as a:
            with open(os.path.join(portable, "transform_fn", "assets", name), "rb") as b:
                assert a.read() == b.read(), name


def test_rides_job_with_two_sdk_workers_matches_the_direct_runner(services, tmp_path):
    job = os.path.join(ROOT, "configs", "rides", "job.yaml")
    direct = run_direct(job, tmp_path / "direct")
    result = run_portable(services, job, tmp_path / "portable", workers=2)
    assert result.returncode == 0, result.stderr
    assert (
        f"featurebeam: warning: `input.path` is a local path ({ROOT}/configs/rides/data/*.parquet); " in result.stderr
    )
    assert "PortableRunner workers reach it only if they run on this machine" in result.stderr
    assert_same_outputs(tmp_path / "direct", tmp_path / "portable", parquet_rows)
    summary = run_json(tmp_path / "portable")
    assert summary["rows"] == direct["rows"] == {"read": 6000, "written": 6000}
    assert summary["rows_per_pass"] == direct["rows_per_pass"] == {"read": 6000, "transform": 6000, "written": 6000}
    assert summary["warnings"][0].startswith("`input.path` is a local path")
    assert not os.path.exists(tmp_path / "portable" / "counts")  # counted beside the output, not published
    with open(services.worker_pool_log) as log:
        started = [line for line in log if "started SDK worker" in line]
    assert len(started) == 2  # this job's two SDK worker processes


def test_declarative_job_matches_the_direct_runner(services, tmp_path):
    job = os.path.join(ROOT, "configs", "rides_declarative", "job.yaml")
    direct = run_direct(job, tmp_path / "direct")
    result = run_portable(services, job, tmp_path / "portable")
    assert result.returncode == 0, result.stderr
    assert_same_outputs(tmp_path / "direct", tmp_path / "portable", example_rows)
    assert run_json(tmp_path / "portable")["rows"] == direct["rows"]
    assert direct["rows"]["read"] == direct["rows"]["written"] > 0


THREE_PHASES = textwrap.dedent(
    """
    import preprocessing as pp


    def preprocessing_fn(inputs):
        x = inputs["x"]
        centred = x - pp.mean(x, name="x_mean")                       # phase 0
        z = pp.scale_to_z_score(centred, name="centred_z")             # phase 1: needs the mean
        return {
            "z": z,
            "z_bucket": pp.bucketize(z, num_buckets=3, name="z_bucket"),  # phase 2: quantiles of z
            "c_id": pp.compute_and_apply_vocabulary(inputs["c"], num_oov_buckets=1, name="c_vocab"),
            "n_01": pp.scale_to_0_1(inputs["n"], name="n_01"),
            "y": inputs["y"],
        }
    """
)


def write_three_phase_job(folder) -> str:
    """Two Parquet files: NaN and infinite values in `y`, non-numbers in the int column `n` (bad records)."""
    rng = np.random.default_rng(13)
    data = folder / "data"
    data.mkdir()
    for index in range(2):
        rows = 150
        y = rng.normal(size=rows)
        y[[3, 40]] = np.nan
        y[77] = np.inf
        n = rng.integers(0, 100, rows).astype(str).astype(object)
        n[[5 + index, 90]] = "abc"
        table = pa.table(
            {
                "x": rng.gamma(2.0, 3.0, rows),
                "y": y,
                "c": rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1]),
                "n": pa.array(n, pa.string()),
            }
        )
        pq.write_table(table, data / f"part-{index}.parquet")
    (folder / "fn.py").write_text(THREE_PHASES)
    job = {
        "input": {"path": "data/*.parquet", "schema": {"n": "int"}, "on_bad_record": "skip"},
        "preprocessing_fn": "fn.py:preprocessing_fn",
        "output": {"path": "out"},
    }
    (folder / "job.yaml").write_text(yaml.safe_dump(job))
    return str(folder / "job.yaml")


def test_three_phase_job_with_nans_and_bad_records_counts_the_same(services, tmp_path):
    job = write_three_phase_job(tmp_path)
    direct = run_direct(job, tmp_path / "direct")
    assert direct["analysis_phases"] == 3
    result = run_portable(services, job, tmp_path / "portable")
    assert result.returncode == 0, result.stderr
    assert_same_outputs(tmp_path / "direct", tmp_path / "portable", parquet_rows)
    summary = run_json(tmp_path / "portable")
    assert summary["rows"] == direct["rows"] == {"read": 296, "written": 296}  # 300 rows, 4 bad
    assert summary["rows_per_pass"] == direct["rows_per_pass"]
    assert summary["rows_per_pass"] == {"read": 296, "phase1": 296, "phase2": 296, "transform": 296, "written": 296}
    assert summary["non_finite_values"] == direct["non_finite_values"] == {"y": 6}
    files = {str(tmp_path / "data" / f"part-{i}.parquet"): {"records": 2, "rows": 2} for i in range(2)}
    assert {k: v for k, v in summary["rejected"].items() if k != "path"} == {"records": 4, "rows": 4, "files": files}
    assert summary["rejected"]["path"] == str(tmp_path / "portable" / "rejected")
    assert "featurebeam: warning: column 'y' has 6 NaN or infinite values" in result.stderr
    assert "featurebeam: warning: skipped 4 bad records (4 rows) in 2 file(s)" in result.stderr

    def rejected_lines(output):
        return sorted(line for p in glob.glob(f"{output}/rejected/*.jsonl") for line in open(p))

    assert rejected_lines(tmp_path / "portable") == rejected_lines(tmp_path / "direct")
    assert len(rejected_lines(tmp_path / "portable")) == 4


def test_a_missing_job_service_or_worker_pool_is_an_error_not_a_wait(services):
    from beam_jobs._portable import check_endpoints
    from beam_jobs.local_portable import free_port
    from featurebeam_base.errors import ConfigError

    check_endpoints(services.options, timeout_s=30)  # both answer
    nobody = f"localhost:{free_port()}"
    with pytest.raises(ConfigError, match=rf"^`pipeline_options.job_endpoint` {nobody}: no job service answers there"):
        check_endpoints({**services.options, "job_endpoint": nobody}, timeout_s=1)
    with pytest.raises(ConfigError, match=rf"^`pipeline_options.environment_config` {nobody}: no worker pool answers"):
        check_endpoints({**services.options, "environment_config": nobody}, timeout_s=1)
