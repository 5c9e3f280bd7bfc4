"""Portable runners (PortableRunner, FlinkRunner, SparkRunner): what a dry run shows, what a run needs first.

A dry run translates the pipeline as ``PortableRunner.run`` would before it
contacts a job service: the runner's default environment, the pipeline proto,
Beam's pre-submission optimization, and the graph validation. It stays
offline: Flink's and Spark's job server jars are only fetched by a real run.

Before a real run, the job service (``job_endpoint``) and, when both are on
this machine, the EXTERNAL worker pool are asked whether they answer, for a
few seconds: Beam waits five minutes for a job service, and forever for a
worker that never connects.
"""

from __future__ import annotations

from typing import Any

from apache_beam import __version__ as BEAM_VERSION

from beam_jobs._network import offline
from featurebeam_base.errors import ConfigError

ENDPOINT_TIMEOUT_S = 10.0
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0")


def translate(pipeline, options) -> dict[str, Any]:
    """The portable pipeline a run would submit, built offline (``PortableRunner.run``'s steps before submitting)."""
    from apache_beam.runners.pipeline_utils import validate_pipeline_graph
    from apache_beam.runners.portability.portable_runner import PortableRunner

    runner = pipeline.runner
    with offline(f"the {type(runner).__name__} job"):
        environment = runner.default_environment(options)
        proto = pipeline.to_runner_api(default_environment=environment)
        proto = PortableRunner._optimize_pipeline(proto, options)  # noqa: SLF001 - what run() submits
        validate_pipeline_graph(proto)
    return {
        "transforms": len(proto.components.transforms),
        "environments": sorted(describe_environment(e) for e in proto.components.environments.values()),
        "job_service": job_service(type(runner).__name__, options.get_all_options()),
    }


def describe_environment(environment) -> str:
    """Where the SDK workers of an environment run, in words: ``EXTERNAL worker pool at localhost:50000``."""
    from apache_beam.portability import common_urns, python_urns
    from apache_beam.portability.api import beam_runner_api_pb2

    urn = environment.urn
    if urn == common_urns.environments.EXTERNAL.urn:
        url = beam_runner_api_pb2.ExternalPayload.FromString(environment.payload).endpoint.url
        return f"EXTERNAL: a worker pool at {url}"
    if urn == common_urns.environments.DOCKER.urn:
        image = beam_runner_api_pb2.DockerPayload.FromString(environment.payload).container_image
        return f"DOCKER: container image {image}"
    if urn == common_urns.environments.PROCESS.urn:
        command = beam_runner_api_pb2.ProcessPayload.FromString(environment.payload).command
        return f"PROCESS: command {command}"
    if urn == python_urns.EMBEDDED_PYTHON_LOOPBACK:
        return "LOOPBACK: workers in the launching process"
    return urn


def job_service(runner: str, options: dict[str, Any]) -> str:
    """Which job service a run would submit to, and where Beam gets it."""
    if options.get("job_endpoint"):
        return f"the job service at {options['job_endpoint']}"
    if runner in ("FlinkRunner", "SparkRunner"):
        jar_option = "flink_job_server_jar" if runner == "FlinkRunner" else "spark_job_server_jar"
        if options.get(jar_option):
            return f"Beam's job server started from {options[jar_option]}"
        flavour = f"flink-{options.get('flink_version') or '2.2'}" if runner == "FlinkRunner" else "spark-3"
        jar = f"beam-runners-{flavour}-job-server-{BEAM_VERSION}.jar"
        return (
            f"Beam's job server {jar}, started by the run: from ~/.apache_beam/cache/jars/ if it is there, "
            f"else downloaded from Maven Central (set `{jar_option}` or `job_endpoint` to avoid the download)"
        )
    return "the runner's own job service"


def check_job_endpoint(runner: str, options: dict[str, Any]) -> None:
    """PortableRunner itself needs a job service; FlinkRunner and SparkRunner start one if none is given."""
    if runner == "PortableRunner" and not options.get("job_endpoint"):
        raise ConfigError(
            "`pipeline_options.job_endpoint` is required for PortableRunner: the address of a job service, "
            "e.g. localhost:8099 (`python -m beam_jobs.local_portable` starts one with a worker pool), "
            "or use FlinkRunner or SparkRunner"
        )


def external_address(options: dict[str, Any]) -> str | None:
    """The worker pool address of an EXTERNAL environment, from ``environment_config`` or its environment option."""
    if str(options.get("environment_type", "")).upper() != "EXTERNAL":
        return None
    if options.get("environment_config"):
        return str(options["environment_config"])
    for item in options.get("environment_options") or []:
        key, _, value = str(item).partition("=")
        if key == "external_service_address":
            return value
    return None


def _is_local(address: str) -> bool:
    return address.rsplit(":", 1)[0] in _LOCAL_HOSTS


def check_endpoints(options: dict[str, Any], timeout_s: float = ENDPOINT_TIMEOUT_S) -> None:
    """The job service answers, and so does a worker pool on this machine: else a clear error, not a long wait."""
    endpoint = options.get("job_endpoint")
    if not endpoint:
        return
    _answers(str(endpoint), "job_endpoint", "job service", timeout_s)
    pool = external_address(options)
    if pool and _is_local(pool) and _is_local(str(endpoint)):  # both here: the pool is reachable from here too
        key = "environment_config" if options.get("environment_config") else "environment_options"
        _answers(pool, key, "worker pool", timeout_s)


def _answers(address: str, key: str, what: str, timeout_s: float) -> None:
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError:
        raise ConfigError(
            f"`pipeline_options.{key}` {address}: no {what} answers there (waited {timeout_s:g} s); "
            f"start the {what} first (`python -m beam_jobs.local_portable` starts a job service and a worker pool "
            "on this machine)"
        ) from None
    finally:
        channel.close()
