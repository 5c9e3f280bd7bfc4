"""Runners and their options, offline: names and classes, option values read by their own types,
Beam's own validation as user errors, local-path warnings, and the Flink and Spark translation."""

from __future__ import annotations

import os
import socket
import time

import pytest
import yaml

from beam_jobs._job import load_job
from beam_jobs._runner_options import check_paths_for_runner, ignored_options, resolved_options
from beam_jobs._runners import DirectRunnerWithoutPrism, pipeline_runner, resolve_runner
from featurebeam_base.errors import ConfigError, InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RIDES = os.path.join(ROOT, "configs", "rides", "job.yaml")


def job_with(tmp_path, runner="DirectRunner", overrides=(), **pipeline_options):
    job = {
        "input": {"path": os.path.join(ROOT, "configs", "rides", "data", "*.parquet")},
        "preprocessing_fn": os.path.join(ROOT, "configs", "rides", "fns", "rides.py") + ":preprocessing_fn",
        "output": {"path": str(tmp_path / "out")},
        "runner": runner,
        "pipeline_options": pipeline_options,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return load_job(str(path), list(overrides))


def error_of(tmp_path, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        resolved_options(job_with(tmp_path, *args, **kwargs))
    return str(caught.value)


# --- runners by name or class ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("DirectRunner", "local"),
        ("FnApiRunner", "local"),
        ("PrismRunner", "local"),
        ("PortableRunner", "portable"),
        ("FlinkRunner", "portable"),
        ("SparkRunner", "portable"),
        ("DataflowRunner", "dataflow"),
        ("apache_beam.runners.portability.flink_runner.FlinkRunner", "portable"),
        ("apache_beam.runners.direct.direct_runner.BundleBasedDirectRunner", "local"),
    ],
)
def test_any_beam_runner_by_name_or_class(name, kind):
    runner = resolve_runner(name)
    assert runner.kind == kind and runner.name == name


def test_unknown_runner_names_and_classes_are_config_errors():
    with pytest.raises(ConfigError, match=r"got 'PortabelRunner' \(did you mean 'PortableRunner'\?\)$"):
        resolve_runner("PortabelRunner")
    with pytest.raises(ConfigError, match=r"^`runner` 'no_such_package.Runner': cannot import no_such_package"):
        resolve_runner("no_such_package.Runner")
    with pytest.raises(ConfigError, match=r"apache_beam.runners.runner has no Beam runner class 'PipelineState'"):
        resolve_runner("apache_beam.runners.runner.PipelineState")


def test_direct_runner_skips_the_prism_attempt_and_prism_stays_available():
    assert isinstance(pipeline_runner(resolve_runner("DirectRunner")), DirectRunnerWithoutPrism)
    assert type(pipeline_runner(resolve_runner("PrismRunner"))).__name__ == "PrismRunner"


@pytest.mark.parametrize(("runner", "prism_attempts"), [("DirectRunner", 1), ("featurebeam", 0)])
def test_direct_runner_without_prism_never_looks_for_prism(monkeypatch, runner, prism_attempts):
    import apache_beam as beam
    from apache_beam.runners.direct.direct_runner import DirectRunner
    from apache_beam.runners.portability import prism_runner
    from apache_beam.testing.util import assert_that, equal_to

    attempts = []

    def no_prism(*args, **kwargs):
        attempts.append(args)
        raise RuntimeError("Unable to fetch remote prism binary")  # what Beam meets offline

    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", no_prism)
    with beam.Pipeline(runner=DirectRunnerWithoutPrism() if runner == "featurebeam" else DirectRunner()) as pipeline:
        total = pipeline | beam.Create([1, 2, 3]) | beam.CombineGlobally(sum)
        assert_that(total, equal_to([6]))
    assert len(attempts) == prism_attempts


# --- option values -------------------------------------------------------------


def test_set_reads_a_pipeline_option_as_beams_command_line_would(tmp_path):
    job = job_with(
        tmp_path,
        "FlinkRunner",
        [
            "pipeline_options.flink_master=[local]",
            "pipeline_options.flink_version=1.20",
            "pipeline_options.parallelism=2",
            "pipeline_options.experiments=[a, b]",
            "pipeline_options.flink_submit_uber_jar=true",
        ],
    )
    options = resolved_options(job)
    assert options["flink_master"] == "[local]"  # not the YAML list ['local']
    assert options["flink_version"] == "1.20"  # not the number 1.2
    assert options["parallelism"] == 2
    assert options["experiments"] == ["a", "b"]
    assert options["flink_submit_uber_jar"] is True


def test_option_values_from_the_job_file_are_checked_against_their_option(tmp_path):
    message = error_of(tmp_path, "FlinkRunner", flink_version=1.2)
    assert message == (
        "`pipeline_options.flink_version` must be one of '1.19', '1.20', '2.0', '2.1', '2.2'; got 1.2 "
        "(YAML read it as a number: quote it, '1.20')"
    )
    message = error_of(tmp_path, "FlinkRunner", flink_master=["local"])
    assert message == (
        "`pipeline_options.flink_master` must be a single value; got ['local'] "
        "(in YAML, quote a value written in brackets: '[local]')"
    )
    assert error_of(tmp_path, overrides=["pipeline_options.direct_num_workers=two"]) == (
        "`pipeline_options.direct_num_workers` must be an integer; got 'two'"
    )


def test_beams_own_validation_is_a_config_error_naming_the_option(tmp_path):
    message = error_of(tmp_path, "FlinkRunner", environment_type="EXTERNAL")
    assert message.startswith("`pipeline_options.environment_config` is required with `environment_type: EXTERNAL`")
    message = error_of(tmp_path, "FlinkRunner", environment_type="LOOPBACK", environment_config="localhost:1")
    assert message == (
        "`pipeline_options.environment_config`: Option environment_config is not compatible with environment "
        "type LOOPBACK (Beam's check of the options for FlinkRunner)"
    )


def test_portable_runner_needs_a_job_service(tmp_path):
    assert error_of(tmp_path, "PortableRunner").startswith(
        "`pipeline_options.job_endpoint` is required for PortableRunner: the address of a job service"
    )


# --- local paths and options of other runners ------------------------------------


def test_local_paths_with_a_portable_runner_are_a_warning_saying_when_they_work(tmp_path):
    job = job_with(tmp_path, "FlinkRunner")
    notes = check_paths_for_runner(job, dry_run=False)
    assert notes[0] == (
        f"`input.path` is a local path ({job.input.path}); FlinkRunner workers reach it only if they run on "
        "this machine or see it at the same path on a shared filesystem (otherwise use a path every worker "
        "can reach, such as gs://, s3:// or hdfs://)"
    )
    assert notes[1].startswith(f"`output.path` is a local path ({job.output.path}); FlinkRunner workers reach it")
    assert check_paths_for_runner(job_with(tmp_path, "DirectRunner"), dry_run=False) == []


def test_options_of_another_runner_are_a_warning(tmp_path):
    job = job_with(tmp_path, "FlinkRunner", direct_num_workers=2, parallelism=2)
    assert ignored_options(job) == [
        "`pipeline_options.direct_num_workers` is a DirectRunner option (DirectOptions); FlinkRunner ignores it"
    ]
    assert ignored_options(job_with(tmp_path, "DirectRunner", direct_num_workers=2)) == []


# --- Flink and Spark: the pipeline translates to the portable proto, offline ---------------


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("runner", "options", "environment", "job_service"),
    [
        (
            "FlinkRunner",
            ["flink_master=localhost:8081", "environment_type=EXTERNAL", "environment_config=localhost:50000"],
            "EXTERNAL: a worker pool at localhost:50000",
            "beam-runners-flink-2.2-job-server-2.77.0.jar",
        ),
        ("FlinkRunner", ["flink_master=[local]"], "LOOPBACK: workers in the launching process", "flink-2.2"),
        (
            "SparkRunner",
            [
                "spark_master_url=spark://localhost:7077",
                "environment_type=PROCESS",
                "environment_config={}".format('{"command": "/opt/apache/beam/boot"}'),
            ],
            "PROCESS: command /opt/apache/beam/boot",
            "beam-runners-spark-3-job-server-2.77.0.jar",
        ),
    ],
)
def test_flink_and_spark_jobs_translate_offline(tmp_path, no_network, runner, options, environment, job_service):
    from beam_jobs import _run

    job = job_with(tmp_path, runner, [f"pipeline_options.{option}" for option in options])
    summary = _run.execute(job, "run", dry_run=True)
    portable = summary["portable_job"]
    assert portable["environments"] == [environment]
    assert job_service in portable["job_service"]
    assert portable["transforms"] > 30  # two passes over the input, the analyzers, the export and the write
    assert summary["analysis_phases"] == 1 and summary["analyzers"] == 5
    assert os.listdir(tmp_path) == ["job.yaml"]  # nothing written


# --- bounded and refused network calls ------------------------------------------------


def test_within_gives_up_after_its_bound_and_passes_errors_through():
    from beam_jobs._network import within

    started = time.monotonic()
    with pytest.raises(InputError, match=r"^could not reach gs://b/x within 0.3 s \(a dry run does not wait longer"):
        within(0.3, "gs://b/x", lambda: time.sleep(30))
    assert time.monotonic() - started < 5
    assert within(5, "x", lambda: 42) == 42
    with pytest.raises(KeyError):
        within(5, "x", lambda: {}["missing"])


def test_offline_turns_a_connection_attempt_into_could_not_reach():
    from beam_jobs._network import offline

    def retries_forever():
        while True:  # as Google's clients retry: every error but a BaseException is caught
            try:
                socket.create_connection(("storage.googleapis.com", 443), timeout=60)
            except Exception:
                continue

    with pytest.raises(InputError, match=r"^could not reach storage.googleapis.com:443: building the job tried"):
        with offline("the job"):
            retries_forever()
    assert socket.create_connection.__module__ == "socket"  # restored
