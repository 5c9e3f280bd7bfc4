"""DataflowRunner, offline: --dry-run constructs the Dataflow job (Beam's dry_run) without GCP.

Everything checkable offline (project, region, bucket names, gs:// paths) is
checked before anything waits on the network; the one network call a dry run
cannot avoid (listing a gs:// input) is bounded to a few seconds. The
subprocess tests run with the network blocked (``BLOCK_NETWORK``), so they
behave the same on machines with and without Internet access.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

from beam_jobs import _gcp_checks
from featurebeam_base.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(ROOT, "configs", "rides", "job.yaml")
# Put on PYTHONPATH of a subprocess, it blocks its network: every connection attempt fails at once.
# Written at test time, not kept under tests/: pytest would import it (--doctest-modules) and block its own.
BLOCK_NETWORK = """
import socket


def _refuse(*args, **kwargs):
    raise OSError(101, "network access blocked by the test")


socket.socket.connect = socket.socket.connect_ex = _refuse
socket.getaddrinfo = socket.create_connection = _refuse
"""


@pytest.fixture(scope="module")
def no_network_path(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("no_network")
    (folder / "sitecustomize.py").write_text(BLOCK_NETWORK)
    return str(folder)


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


def dry_run(no_network: str, *args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, float]:
    """``featurebeam run rides --dry-run ARGS`` with the network blocked; the result and its wall time."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([no_network, ROOT]), "NO_GCE_CHECK": "true"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "beam_jobs.cli", "run", JOB, "--dry-run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - started


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_dry_run_prints_runner_phases_options_staged_files_and_workers(no_network_path):
    result, _ = dry_run(
        no_network_path,
        *DATAFLOW,
        "--set",
        "pipeline_options.machine_type=n2-standard-4",
        "--set",
        "pipeline_options.max_num_workers=10",
        "--set",
        "pipeline_options.sdk_container_image=us-docker.pkg.dev/fake-project/fb/featurebeam:0.1",
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
    assert f"      workflow.tar.gz: source package built from {os.path.join(ROOT, 'setup.py')}" in out
    assert "    container image: us-docker.pkg.dev/fake-project/fb/featurebeam:0.1" in out
    workers = out[out.index("    workers:\n") :]
    assert workers.startswith(
        "    workers:\n      machine_type: n2-standard-4\n      max_num_workers: 10\n"
        "      sdk_container_image: us-docker.pkg.dev/fake-project/fb/featurebeam:0.1\n"
    )
    assert "note: `input.path` is a local path" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "pipeline_options.project=p",
            (
                "`pipeline_options.project` 'p' is not a Google Cloud project ID: a project ID is 6 to 30 "
                "lowercase letters, digits and hyphens, starting with a letter (e.g. 'my-project-123')"
            ),
        ),
        (
            "pipeline_options.temp_location=gs://b/t",
            (
                "`pipeline_options.temp_location` 'gs://b/t' does not name a valid Cloud Storage bucket ('b'): "
                "a bucket name has 3 to 63 characters"
            ),
        ),
        (
            "pipeline_options.num_workers=5",  # with max_num_workers=2 below: Beam's own check, named
            (
                "`pipeline_options.num_workers`: num_workers (5) cannot exceed max_num_workers (2) "
                "(Beam's check of the options for DataflowRunner)"
            ),
        ),
    ],
)
def test_offline_mistakes_are_exit_2_naming_the_option_without_waiting(no_network_path, option, message):
    result, seconds = dry_run(
        no_network_path, *DATAFLOW, "--set", "pipeline_options.max_num_workers=2", "--set", option
    )
    assert result.returncode == 2, result.stderr
    assert last_line(result.stderr) == f"featurebeam: error: {message}"
    assert seconds < 60  # measured 2 to 3 s; Beam alone took 113 s on the bad bucket, then an internal error


@pytest.mark.slow
def test_a_gs_input_that_cannot_be_reached_is_reported_after_a_few_seconds(no_network_path):
    result, seconds = dry_run(no_network_path, *DATAFLOW, "--set", "input.path=gs://fake-bucket/data/*.parquet")
    assert result.returncode == 2, result.stderr
    assert last_line(result.stderr) == (
        "featurebeam: error: could not reach gs://fake-bucket/data/*.parquet within 5 s (a dry run does not wait "
        "longer; check the network and your credentials, e.g. `gcloud auth application-default login`)"
    )
    assert seconds < 60  # the listing alone is bounded to 5 s; Beam's own retries take 120 s


def test_dry_run_needs_no_network_and_ships_featurebeam(monkeypatch, tmp_path):
    from beam_jobs import _run
    from beam_jobs._job import load_job

    def no_network(*args, **kwargs):
        raise OSError("network access attempted during a dry run")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("no-such-package-featurebeam==1.0\n")  # never downloaded by a dry run
    overrides = [DATAFLOW[i + 1] for i in range(2, len(DATAFLOW), 2)]
    overrides.append(f"pipeline_options.requirements_file={requirements}")
    job = load_job(JOB, overrides, runner="DataflowRunner")
    summary = _run.execute(job, "run", dry_run=True)
    dataflow = summary["dataflow_job"]
    assert dataflow["staged_from"]["requirements.txt"] == f"a copy of {requirements}"
    assert open(dataflow["staged_paths"]["requirements.txt"]).read() == requirements.read_text()
    assert summary["pipeline_options"]["requirements_cache"] == "skip"
    assert any("does not download the packages of `pipeline_options.requirements_file`" in n for n in summary["notes"])
    assert dataflow["container_images"] == ["gcr.io/cloud-dataflow/v1beta3/beam_python3.11_sdk:2.77.0"]
    assert dataflow["worker_options"] == {
        "machine_type": "Dataflow's default",
        "max_num_workers": "Dataflow's default (autoscaling)",
    }
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


# --- Google Cloud names, checked locally ------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "problem"),
    [
        ("my-bucket", None),
        ("a.b.example.com", None),
        ("my_bucket.v2", None),
        ("b", "a bucket name has 3 to 63 characters"),
        ("x" * 64, "a bucket name has 3 to 63 characters"),
        ("My-Bucket", "a bucket name has only lowercase letters"),
        ("-bucket", "a bucket name has only lowercase letters"),
        ("bucket-", "a bucket name has only lowercase letters"),
        ("my bucket", "a bucket name has only lowercase letters"),
        ("a..b", "a bucket name has no empty part between dots"),
        ("192.168.5.4", "a bucket name cannot be an IP address"),
        ("goog-data", "a bucket name cannot start with 'goog' or contain 'google'"),
        ("my-g00gle-data", "a bucket name cannot start with 'goog' or contain 'google'"),
    ],
)
def test_bucket_naming_rules(bucket, problem):
    found = _gcp_checks.bucket_problem(bucket)
    assert (found is None) if problem is None else found.startswith(problem), found


@pytest.mark.parametrize(
    ("project", "why"),
    [
        ("p", "a project ID is 6 to 30 lowercase letters"),
        ("123456789012", "it looks like a project number; give the project ID"),
        ("My Project", "it looks like a project name; give the project ID"),
        ("my-project-", "a project ID is 6 to 30 lowercase letters"),
        ("1project", "a project ID is 6 to 30 lowercase letters"),
    ],
)
def test_project_ids(project, why):
    with pytest.raises(
        ConfigError, match=rf"^`pipeline_options.project` '{project}' is not a Google Cloud project ID: "
    ):
        _gcp_checks.check_project(project)
    with pytest.raises(ConfigError, match=why):
        _gcp_checks.check_project(project)


def test_valid_project_ids_regions_and_paths_pass():
    for project in ("my-project", "my-project-123456", "example.com:my-project"):
        _gcp_checks.check_project(project)
    for region in ("us-central1", "europe-west4", "northamerica-northeast1", "me-central2"):
        _gcp_checks.check_region(region)
    _gcp_checks.check_gcs_path("gs://my-bucket/tmp", "pipeline_options.temp_location", needs_object=True)


def test_regions_zones_and_gcs_paths_name_the_option():
    with pytest.raises(
        ConfigError,
        match=r"^`pipeline_options.region` must be a Google Cloud region such as "
        r"'us-central1'; got 'us-central1-a'; 'us-central1-a' is a zone, its region is 'us-central1'$",
    ):
        _gcp_checks.check_region("us-central1-a")
    with pytest.raises(
        ConfigError,
        match=r"^`pipeline_options.temp_location` must name a folder inside the bucket, "
        r"e.g. gs://my-bucket/tmp; got 'gs://my-bucket'$",
    ):
        _gcp_checks.check_gcs_path("gs://my-bucket", "pipeline_options.temp_location", needs_object=True)
    with pytest.raises(
        ConfigError,
        match=r"^`pipeline_options.staging_location` must be a gs:// path for "
        r"DataflowRunner, such as gs://bucket/folder; got 'gs:/my-bucket/staging'$",
    ):
        _gcp_checks.check_gcs_path("gs:/my-bucket/staging", "pipeline_options.staging_location")


def test_a_mistyped_gs_output_path_is_caught_before_the_network(tmp_path):
    from beam_jobs._job import load_job
    from beam_jobs._runner_options import resolved_options

    overrides = [DATAFLOW[i + 1] for i in range(2, len(DATAFLOW), 2) if "output.path" not in DATAFLOW[i + 1]]
    job = load_job(JOB, [*overrides, "output.path=gs:/fake-bucket/out"], runner="DataflowRunner")
    with pytest.raises(
        ConfigError,
        match=r"^`output.path` .*/gs:/fake-bucket/out is a local path with a folder "
        r"named 'gs:': write gs://bucket/...$",
    ):
        resolved_options(job, dry_run=True)


def test_flex_template_launcher_fetches_the_job_and_passes_dataflows_options(tmp_path):
    from beam_jobs import flex_template

    source = tmp_path / "bucket" / "jobs"
    (source / "fns").mkdir(parents=True)
    job = {"input": {"path": "gs://b-1/in/*.csv"}, "preprocessing_fn": "fns/fn.py:fn", "output": {"path": "gs://b-1/o"}}
    (source / "job.yaml").write_text(yaml.safe_dump(job))
    (source / "fns" / "fn.py").write_text("def fn(inputs):\n    return inputs\n")
    flags = [
        f"--job={source / 'job.yaml'}",  # gs:// on Dataflow; any Beam path here
        "--project=my-project",
        "--region=us-central1",
        "--temp_location=gs://b-1/tmp",
        "--overrides=output.num_shards=4; input.batch_size=1024",
    ]
    launched = tmp_path / "launcher"
    launched.mkdir()
    local_job = flex_template.fetch_job(flex_template.job_flag(flags), str(launched))
    assert (launched / "job.yaml").read_text() == (source / "job.yaml").read_text()
    assert (launched / "fns" / "fn.py").read_text() == (source / "fns" / "fn.py").read_text()
    assert flex_template.featurebeam_argv(flags, local_job) == [
        "run",
        local_job,
        "--runner",
        "DataflowRunner",
        "--set",
        "pipeline_options.project=my-project",
        "--set",
        "pipeline_options.region=us-central1",
        "--set",
        "pipeline_options.temp_location=gs://b-1/tmp",
        "--set",
        "output.num_shards=4",
        "--set",
        "input.batch_size=1024",
    ]
    with pytest.raises(SystemExit, match="the `job` parameter"):
        flex_template.job_flag(["--project=my-project"])
