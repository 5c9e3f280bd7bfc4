"""DataflowRunner, offline: --dry-run constructs the Dataflow job (Beam's dry_run) without GCP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(ROOT, "configs", "rides", "job.yaml")
DATAFLOW = [
    "--runner",
    "DataflowRunner",
    "--set",
    "pipeline_options.project=fake-project",
    "--set",
    "pipeline_options.region=us-central1",
    "--set",
    "pipeline_options.temp_location=gs://fake-bucket/tmp",
    "--set",
    "output.path=gs://fake-bucket/featurebeam/rides",
]


@pytest.mark.slow
def test_dry_run_prints_runner_phases_options_and_setup_file():
    result = subprocess.run(
        [sys.executable, "-m", "beam_jobs.cli", "run", JOB, "--dry-run", *DATAFLOW],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dry run of `featurebeam run`: the pipeline was built, not run" in out
    assert "  runner: DataflowRunner" in out
    assert "  analysis phases: 1 (5 analyzers)" in out
    assert "    project: fake-project" in out and "    temp_location: gs://fake-bucket/tmp" in out
    assert "    dry_run: True" in out
    assert f"    setup_file: {os.path.join(ROOT, 'setup.py')}" in out
    assert "Dataflow job (constructed offline, not submitted):" in out
    assert "workflow.tar.gz" in out  # the sdist of setup.py that workers install
    assert "note: `input.path` is a local path" in out


def test_dry_run_needs_no_network_and_ships_featurebeam(monkeypatch):
    from beam_jobs import _run
    from beam_jobs._job import load_job

    def no_network(*args, **kwargs):
        raise OSError("network access attempted during a dry run")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    overrides = [DATAFLOW[i + 1] for i in range(2, len(DATAFLOW), 2)]
    job = load_job(JOB, overrides, runner="DataflowRunner")
    summary = _run.execute(job, "run", dry_run=True)
    dataflow = summary["dataflow_job"]
    assert dataflow["setup_file"] == os.path.join(ROOT, "setup.py")
    assert dataflow["transforms"] > 10
    assert summary["pipeline_options"]["dry_run"] is True
    assert summary["pipeline_options"]["setup_file"] == os.path.join(ROOT, "setup.py")
    with tarfile.open(dataflow["staged_paths"]["workflow.tar.gz"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {
        "beam_jobs/cli.py",
        "beam_jobs/_read.py",
        "preprocessing/__init__.py",
        "analyzers/__init__.py",
        "featurebeam_base/errors.py",
        "setup.py",
    } <= names
    assert not os.path.exists(os.path.join(ROOT, "configs", "rides", "gs:"))


def test_dataflow_without_a_project_is_a_config_error():
    from beam_jobs._job import load_job
    from beam_jobs._runner_options import resolved_options
    from featurebeam_base.errors import ConfigError

    job = load_job(JOB, [], runner="DataflowRunner")
    with pytest.raises(ConfigError, match=r"^`pipeline_options.project` is required for DataflowRunner$"):
        resolved_options(job, dry_run=True)


def test_dataflow_outside_dry_run_needs_gcs_paths():
    from beam_jobs._job import load_job
    from beam_jobs._runner_options import check_paths_for_runner
    from featurebeam_base.errors import ConfigError

    overrides = [DATAFLOW[i + 1] for i in range(2, len(DATAFLOW), 2)]
    job = load_job(JOB, overrides, runner="DataflowRunner")
    notes = check_paths_for_runner(job, dry_run=True)
    assert notes == [
        f"`input.path` is a local path ({job.input.path}); DataflowRunner workers cannot reach it: use gs://..."
    ]
    with pytest.raises(ConfigError, match=r"^`input.path` is a local path"):
        check_paths_for_runner(job, dry_run=False)


def test_direct_runner_dry_run_builds_without_writing(tmp_path):
    from beam_jobs import _run
    from beam_jobs._job import load_job

    job = load_job(JOB, [f"output.path={tmp_path / 'out'}"])
    summary = _run.execute(job, "run", dry_run=True)
    assert summary["status"] == "dry run" and summary["runner"] == "DirectRunner"
    assert summary["analysis_phases"] == 1 and summary["analyzers"] == 5
    assert [o["name"] for o in summary["outputs"]] == [
        "fare_z",
        "trip_miles_bucket",
        "trip_minutes_01",
        "company_id",
        "payment_id",
        "big_tipper",
    ]
    assert "dataflow_job" not in summary
    assert os.listdir(tmp_path) == []
