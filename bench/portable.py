"""The benchmark job on Beam's portable runner (a local job service, 1 or 2 SDK workers) vs the DirectRunner.

    .venv/bin/python bench/portable.py --rows 1000000 --runs 3

Generates the data if missing (bench/generate.py), starts a job service and a
worker pool on loopback (``beam_jobs.local_portable``; the time they take is
reported once), then runs ``featurebeam run bench/job.yaml`` ``--runs`` times
in each configuration, alternating:

- ``direct``: the DirectRunner, in process (what bench/run.py measures);
- ``direct-mp2``: the DirectRunner with 2 worker processes (``multi_processing``);
- ``portable-1`` and ``portable-2``: PortableRunner with ``sdk_worker_parallelism`` 1 and 2.

For each run: wall time of the command; CPU seconds of every process involved
(the command, the job service, the worker pool and the SDK workers, sampled
from /proc); "cores busy" (that CPU over the wall time); the CPU of each SDK
worker process, the seconds during which at least one, and two at once, used
a fifth of a CPU or more (do both cores work?); and the peak of the summed RSS
of all of them. The output of every configuration is checked against the
DirectRunner's (row count, sorted columns, vocabulary files). Results go to
bench/results/portable-<rows>-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow.parquet as pq

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

import run as bench_run  # noqa: E402 - bench/run.py: process trees, memory, data generation

from beam_jobs.local_portable import LocalPortableServices  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
CONFIGS = {
    "direct": ["--runner", "DirectRunner"],
    "direct-mp2": [
        "--runner",
        "DirectRunner",
        "--set",
        "pipeline_options.direct_num_workers=2",
        "--set",
        "pipeline_options.direct_running_mode=multi_processing",
    ],
    "portable-1": ["--runner", "PortableRunner", "--set", "pipeline_options.sdk_worker_parallelism=1"],
    "portable-2": ["--runner", "PortableRunner", "--set", "pipeline_options.sdk_worker_parallelism=2"],
}


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (a zombie keeps them until it is reaped); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def _is_sdk_worker(pid: int) -> bool:
    """An SDK worker process: the DirectRunner's (sdk_worker_main) or the worker pool's."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ")
    except OSError:
        return False
    return command.startswith(sys.executable.encode()) and (
        b"sdk_worker_main" in command or b"beam_jobs.local_portable worker" in command
    )


class Sampler(threading.Thread):
    """CPU and RSS of the process trees under ``roots``, sampled every 0.1 s while running."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots = roots
        self.baseline: dict[int, float] = {}  # CPU already spent by processes alive at the start
        self.last: dict[int, float] = {}
        self.workers: set[int] = set()
        self.peak_rss = 0
        self._previous: tuple[float, dict[int, float]] | None = None
        self.busy_s = {1: 0.0, 2: 0.0}  # time with at least 1, and at least 2, SDK workers using a CPU
        self._done = threading.Event()
        for pid in self._pids():
            self.baseline[pid] = _cpu_seconds(pid) or 0.0

    def _pids(self) -> list[int]:
        return [pid for root in self.roots for pid in bench_run._tree(root)]  # noqa: SLF001

    def run(self):
        while not self._done.is_set():
            self.sample()
            self._done.wait(0.1)

    def sample(self):
        total_rss = 0
        for pid in self._pids():
            cpu = _cpu_seconds(pid)
            if cpu is not None:
                self.last[pid] = cpu
            total_rss += bench_run._memory(pid)[0]  # noqa: SLF001
            if pid not in self.baseline and pid not in self.workers and _is_sdk_worker(pid):
                self.workers.add(pid)
        self.peak_rss = max(self.peak_rss, total_rss)
        self._count_busy_workers()

    def _count_busy_workers(self) -> None:
        """A worker is busy over a sampling interval if it used at least a fifth of a CPU during it."""
        now = time.monotonic()
        cpu = {pid: self.last[pid] for pid in self.workers if pid in self.last}
        if self._previous is not None:
            then, before = self._previous
            interval = now - then
            busy = sum(1 for pid, value in cpu.items() if value - before.get(pid, value) >= 0.2 * interval)
            for at_least in self.busy_s:
                if busy >= at_least:
                    self.busy_s[at_least] += interval
        self._previous = (now, cpu)

    def stop(self) -> dict:
        self.sample()
        self._done.set()
        self.join()
        spent = {pid: cpu - self.baseline.get(pid, 0.0) for pid, cpu in self.last.items()}
        return {
            "cpu_s": round(sum(spent.values()), 2),
            "sdk_worker_cpu_s": sorted((round(spent[pid], 2) for pid in self.workers), reverse=True),
            "sdk_workers_busy_s": round(self.busy_s[1], 1),
            "two_sdk_workers_busy_s": round(self.busy_s[2], 1),
            "peak_rss_mib": round(self.peak_rss / MIB),
        }


def run_once(config: str, data: str, output: str, services, log_path: str, env: dict) -> dict:
    command = [
        sys.executable,
        "-m",
        "beam_jobs.cli",
        "run",
        os.path.join(BENCH_DIR, "job.yaml"),
        "--set",
        f"input.path={os.path.join(data, 'parquet')}",
        "--set",
        f"output.path={output}",
        "--quiet",
        *CONFIGS[config],
    ]
    roots = []
    if config.startswith("portable"):
        for key, value in services.options.items():
            command += ["--set", f"pipeline_options.{key}={value}"]
        roots = [p.pid for p in services._processes]  # noqa: SLF001 - the job service and the pool
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        sampler = Sampler([process.pid, *roots])
        sampler.start()
        returncode = process.wait()
    wall = time.perf_counter() - started
    measured = sampler.stop()
    if returncode:
        raise SystemExit(f"bench: {config} failed (exit {returncode}); log {log_path}:\n{bench_run._tail(log_path)}")  # noqa: SLF001
    with open(os.path.join(output, "run.json")) as handle:
        timings = json.load(handle)["timings_s"]
    load = os.getloadavg()[0]
    return {
        "wall_s": round(wall, 2),
        **measured,
        "cores_busy": round(measured["cpu_s"] / wall, 2),
        "pipeline_s": timings["pipeline"],
        "load_average_1min_after": round(load, 2),
    }


def same_output(reference: str, other: str) -> list[str]:
    """Differences between two featurebeam outputs of the same job (none: []), rows compared sorted."""
    problems = []
    a = pq.read_table(os.path.join(reference, "transformed_data"))
    b = pq.read_table(os.path.join(other, "transformed_data"))
    if a.num_rows != b.num_rows or a.column_names != b.column_names:
        return [f"{a.num_rows} vs {b.num_rows} rows; columns {a.column_names} vs {b.column_names}"]
    for name in a.column_names:
        x, y = np.sort(a.column(name).to_numpy()), np.sort(b.column(name).to_numpy())
        if not np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True):
            problems.append(f"column {name} differs")
    assets = sorted(os.listdir(os.path.join(reference, "transform_fn", "assets")))
    for name in assets:
        with (
            open(os.path.join(reference, "transform_fn", "assets", name), "rb") as f,
            open(os.path.join(other, "transform_fn", "assets", name), "rb") as g,
        ):
            if f.read() != g.read():
                problems.append(f"vocabulary {name} differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=ROOT)
    generated = subprocess.run(
        [sys.executable, os.path.join(BENCH_DIR, "generate.py"), "--rows", str(args.rows)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    )
    data = generated.stdout.strip().splitlines()[-1]
    work, logs = os.path.join(data, "out-portable"), os.path.join(data, "logs")
    os.makedirs(logs, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[dict]] = {config: [] for config in configs}
    started = time.perf_counter()
    with LocalPortableServices(os.path.join(logs, f"{stamp}-services")) as services:
        startup_s = round(time.perf_counter() - started, 2)
        print(f"bench: job service and worker pool ready in {startup_s} s; {args.rows:,} rows", flush=True)
        for index in range(args.runs):
            for config in configs:
                output = os.path.join(work, config)
                shutil.rmtree(output, ignore_errors=True)
                result = run_once(
                    config, data, output, services, os.path.join(logs, f"{stamp}-{config}-{index}.log"), env
                )
                runs[config].append(result)
                workers = " + ".join(f"{c:.1f}" for c in result["sdk_worker_cpu_s"]) or "-"
                print(
                    f"  {config:11s} run {index + 1}: wall {result['wall_s']:6.1f} s  CPU {result['cpu_s']:6.1f} s  "
                    f"cores busy {result['cores_busy']:.2f}  SDK workers' CPU {workers} s "
                    f"(busy {result['sdk_workers_busy_s']} s, 2 at once {result['two_sdk_workers_busy_s']} s)  "
                    f"peak RSS {result['peak_rss_mib']:,} MiB  load {result['load_average_1min_after']}",
                    flush=True,
                )
    checks = {config: same_output(os.path.join(work, "direct"), os.path.join(work, config)) for config in configs}
    print("\nmedians:")
    summary = {}
    for config, results in runs.items():
        summary[config] = {
            key: statistics.median(r[key] for r in results)
            for key in ("wall_s", "cpu_s", "cores_busy", "pipeline_s", "two_sdk_workers_busy_s", "peak_rss_mib")
        }
        print(f"  {config:11s} " + "  ".join(f"{k} {v:,}" for k, v in summary[config].items()))
        print(f"  {'':11s} output vs direct: {'same' if not checks[config] else '; '.join(checks[config])}")
    os.makedirs(bench_run.RESULTS_DIR, exist_ok=True)
    path = os.path.join(bench_run.RESULTS_DIR, f"portable-{args.rows}-{stamp}.json")
    with open(path, "w") as handle:
        record = {
            "rows": args.rows,
            "services_startup_s": startup_s,
            "summary": summary,
            "runs": runs,
            "checks": checks,
        }
        json.dump({**record, "commit": bench_run._git_commit()}, handle, indent=2)  # noqa: SLF001
    print(f"\nbench: results in {path}")
    return 0 if not any(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
