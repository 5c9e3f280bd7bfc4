"""Beam's portable runner on this machine: a job service and a worker pool, on loopback ports.

    python -m beam_jobs.local_portable [--job-port 8099] [--worker-port 50000]

starts both, prints the pipeline options a job uses to run on them, and runs
until Ctrl-C. The tests and the benchmark use ``LocalPortableServices``, which
starts and stops the same two processes.

These are Beam's own servers (its local job service and its external worker
pool) with three things changed, each a trap met with the plain ones:

- each SDK worker is started as this Python (``sys.executable``), not as
  ``python`` from PATH: with another Python first on PATH the worker dies at
  once and the job waits forever;
- a worker's stdout goes to the pool's stderr, not to a pipe nobody reads
  (a job printing 64 KiB would block forever);
- a worker is given the job's pipeline options, as a Dataflow or Flink worker
  is (from the job service's provision API), and the job service starts
  ``sdk_worker_parallelism`` workers per job (Beam's Python job service
  always starts one).

Workers run in the pool's Python environment, with its PYTHONPATH and
working directory: featurebeam must be importable there (it is, from a
checkout, through ``LocalPortableServices``); packages staged with the job
(``setup_file``, ``requirements_file``) are not installed.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress

_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LOGGER = logging.getLogger("featurebeam.local_portable")


# ---------------------------------------------------------------------------
# The two services, each run as `python -m beam_jobs.local_portable job-service|worker-pool`


def _parallel_beam_job_type():
    from apache_beam.options.pipeline_options import PortableOptions
    from apache_beam.portability.api import beam_job_api_pb2
    from apache_beam.runners.portability import local_job_service
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    class ParallelBeamJob(local_job_service.BeamJob):
        """Beam's local job, run with ``sdk_worker_parallelism`` SDK workers (0: one per core)."""

        def _invoke_runner(self):
            self.set_state(beam_job_api_pb2.JobState.RUNNING)
            # text from a command line, a float from the options' protobuf Struct, or an int
            requested = int(float(self.pipeline_options().view_as(PortableOptions).sdk_worker_parallelism or 1))
            runner = fn_runner.FnApiRunner(provision_info=self._provision_info)
            # What FnApiRunner.run_pipeline does with direct_num_workers; run_via_runner_api (the
            # job service's entry point) leaves it at one worker.
            runner._num_workers = requested if requested > 0 else multiprocessing.cpu_count()  # noqa: SLF001
            return runner.run_via_runner_api(self._pipeline_proto, self.pipeline_options())

    return ParallelBeamJob


def serve_job_service(port: int, port_file: str | None) -> None:
    """Beam's local job service, on ``port`` (0: any); the port is written to ``port_file`` once it serves."""
    from apache_beam.runners.portability.local_job_service import LocalJobServicer

    servicer = LocalJobServicer(beam_job_type=_parallel_beam_job_type())
    port = servicer.start_grpc_server(port)
    if port_file:
        with open(port_file + ".tmp", "w") as handle:
            handle.write(str(port))
        os.replace(port_file + ".tmp", port_file)  # whoever waits for the file sees a whole port number
    _LOGGER.warning("job service listening on localhost:%d", port)
    try:
        _wait_for_signal()
    finally:
        servicer.stop()


def _worker_pool_servicer():
    from apache_beam.portability.api import beam_fn_api_pb2
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer

    class WorkerPool(BeamFnExternalWorkerPoolServicer):
        """Beam's external worker pool, starting each SDK worker as ``python -m beam_jobs.local_portable worker``."""

        def StartWorker(self, request, context):  # noqa: N802 - the gRPC method's name
            command = [
                sys.executable,
                "-m",
                "beam_jobs.local_portable",
                "worker",
                f"--id={request.worker_id}",
                f"--logging_endpoint={request.logging_endpoint.url}",
                f"--provision_endpoint={request.provision_endpoint.url}",
                f"--control_endpoint={request.control_endpoint.url}",
            ]
            try:
                process = subprocess.Popen(command, stdout=sys.stderr.fileno(), close_fds=True)
            except OSError as error:
                return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start {command}: {error}")
            self._worker_processes[request.worker_id] = process
            _LOGGER.warning("started SDK worker %s (pid %d)", request.worker_id, process.pid)
            return beam_fn_api_pb2.StartWorkerResponse()

    return WorkerPool


def serve_worker_pool(port: int) -> None:
    """Beam's external worker pool on ``port``; its workers are stopped at exit (Beam's own atexit hook)."""
    address, server = _worker_pool_servicer().start(use_process=True, port=port)
    _LOGGER.warning("worker pool listening on %s", address)
    try:
        _wait_for_signal()
    finally:
        server.stop(1)


def _wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def worker_main(argv: list[str]) -> None:
    """An SDK worker, started by the pool as Beam's container boot program would be.

    It fetches the job's pipeline options from the provision service, then
    runs Beam's ``sdk_worker_main`` in this process.
    """
    import grpc
    from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc
    from google.protobuf import json_format

    parser = argparse.ArgumentParser(prog="beam_jobs.local_portable worker")
    for name in ("id", "logging_endpoint", "provision_endpoint", "control_endpoint"):
        parser.add_argument(f"--{name}", required=True)
    args, _ = parser.parse_known_args(argv)
    with grpc.insecure_channel(args.provision_endpoint) as channel:
        info = (
            beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
            .GetProvisionInfo(
                beam_provision_api_pb2.GetProvisionInfoRequest(), metadata=[("worker_id", args.id)], timeout=60
            )
            .info
        )
    os.environ.update(
        WORKER_ID=args.id,
        PIPELINE_OPTIONS=json_format.MessageToJson(info.pipeline_options),
        CONTROL_API_SERVICE_DESCRIPTOR=f'url: "{args.control_endpoint}"',
        LOGGING_API_SERVICE_DESCRIPTOR=f'url: "{args.logging_endpoint}"',
        RUNNER_CAPABILITIES=" ".join(info.runner_capabilities),
    )
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main([])


# ---------------------------------------------------------------------------
# Starting and stopping both from Python


def free_port() -> int:
    """A port free on loopback now (another process could take it before it is used: fine on one machine)."""
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


class ServiceError(RuntimeError):
    """A service did not start in time, or stopped."""


class LocalPortableServices:
    """A job service and a worker pool, as two process groups, for the life of a ``with`` block.

    ``options`` are the pipeline options that run a job on them. Every wait is
    bounded (``start_timeout_s``), so a service that does not come up fails
    fast instead of leaving a caller blocked. Their logs are in ``log_dir``.
    """

    def __init__(
        self,
        log_dir: str | None = None,
        *,
        job_port: int = 0,
        worker_port: int = 0,
        start_timeout_s: float = 120.0,
    ):
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="featurebeam-portable-")
        os.makedirs(self.log_dir, exist_ok=True)
        self._job_port, self._worker_port = job_port, worker_port or free_port()
        self._timeout = start_timeout_s
        self._processes: list[subprocess.Popen] = []

    @property
    def options(self) -> dict:
        return {
            "job_endpoint": f"localhost:{self._job_port}",
            "environment_type": "EXTERNAL",
            "environment_config": f"localhost:{self._worker_port}",
            "job_server_timeout": 60,
        }

    @property
    def worker_pool_log(self) -> str:
        return os.path.join(self.log_dir, "worker_pool.log")

    def __enter__(self) -> LocalPortableServices:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, role: str, *args: str) -> subprocess.Popen:
        env = dict(os.environ)
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([_PROJECT_ROOT, *[p for p in paths if p != _PROJECT_ROOT]])
        with open(os.path.join(self.log_dir, f"{role.replace('-', '_')}.log"), "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "beam_jobs.local_portable", role, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group: stopping it stops its workers too
            )
        self._processes.append(process)
        return process

    def start(self) -> None:
        port_file = os.path.join(self.log_dir, "job_service.port")
        with suppress(FileNotFoundError):
            os.unlink(port_file)
        job_service = self._spawn("job-service", f"--port={self._job_port}", f"--port-file={port_file}")
        pool = self._spawn("worker-pool", f"--port={self._worker_port}")
        deadline = time.monotonic() + self._timeout
        while not os.path.exists(port_file):
            self._check_alive(job_service, "job service")
            if time.monotonic() > deadline:
                raise ServiceError(f"the job service did not start within {self._timeout:g} s (log in {self.log_dir})")
            time.sleep(0.1)
        with open(port_file) as handle:
            self._job_port = int(handle.read())
        self._wait_ready(f"localhost:{self._worker_port}", pool, "worker pool", deadline)

    def _check_alive(self, process: subprocess.Popen, what: str) -> None:
        if process.poll() is not None:
            raise ServiceError(f"the {what} exited with status {process.returncode} (log in {self.log_dir})")

    def _wait_ready(self, address: str, process: subprocess.Popen, what: str, deadline: float) -> None:
        import grpc

        channel = grpc.insecure_channel(address)
        try:
            while True:
                self._check_alive(process, what)
                try:
                    grpc.channel_ready_future(channel).result(timeout=1.0)
                    return
                except grpc.FutureTimeoutError:
                    if time.monotonic() > deadline:
                        raise ServiceError(
                            f"the {what} did not answer at {address} within {self._timeout:g} s"
                        ) from None
        finally:
            channel.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM each service's process group (the service and its SDK workers), then SIGKILL what is left."""
        for process in self._processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # workers left in the group, if any
            process.wait()
        self._processes.clear()


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m beam_jobs.local_portable",
        description="Run Beam's portable runner on this machine: a job service and a worker pool.",
    )
    roles = parser.add_subparsers(dest="role")
    job = roles.add_parser("job-service")
    job.add_argument("--port", type=int, default=0)
    job.add_argument("--port-file")
    pool = roles.add_parser("worker-pool")
    pool.add_argument("--port", type=int, required=True)
    roles.add_parser("worker", add_help=False)
    parser.add_argument("--job-port", type=int, default=8099)
    parser.add_argument("--worker-port", type=int, default=50000)
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if args.role == "job-service":
        serve_job_service(args.port, args.port_file)
    elif args.role == "worker-pool":
        serve_worker_pool(args.port)
    elif args.role == "worker":
        worker_main(rest)
    else:
        with LocalPortableServices(job_port=args.job_port, worker_port=args.worker_port) as services:
            print("Beam's portable runner is ready on this machine. Run a job on it with:")
            print("  featurebeam run JOB.yaml --runner PortableRunner \\")
            print(" \\\n".join(f"    --set pipeline_options.{k}={v}" for k, v in services.options.items()))
            print(f"Logs: {services.log_dir}. Ctrl-C stops both.", flush=True)
            with suppress(KeyboardInterrupt):
                _wait_for_signal()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
