"""featurebeam vs tf.Transform on the same job, as whole processes: wall, CPU, peak RSS.

    .venv/bin/python bench/run.py --rows 1000000 --runs 3      # make bench
    .venv/bin/python bench/run.py --rows 1000000 --runs 5 --statistics-cost

Generates the data if missing (bench/generate.py, cached in bench/data/<rows>/),
then runs, alternating, featurebeam (``featurebeam run bench/job.yaml``: Parquet
in, Parquet out) and tf.Transform (``bench/tft_job.py``: TFRecord tf.Example in,
tf.Example out), ``--runs`` times each. Every run is a fresh process; the
numbers are for the whole process, imports included:

- wall: ``time.perf_counter`` around the process;
- CPU: user + system time of the process and its waited-for descendants
  (``getrusage(RUSAGE_CHILDREN)`` before and after);
- peak RSS: the largest sum of RSS over the process tree, sampled every 0.2 s
  from /proc, or the largest single process's VmHWM if that is higher.

Prints medians and ratios, checks the two outputs are the same work
(bench/check.py), and writes bench/results/<rows>-<time>.json (and
latest-<rows>.json). With ``--rows`` above 1M and a latest-1000000.json, also
checks the scaling targets against it.

``--statistics-cost`` runs featurebeam with and without its data statistics
(``--no-statistics``), alternating, instead of featurebeam and tf.Transform,
and checks issue 12's target: statistics add less than 15% wall time.
``--job`` measures another featurebeam job file (its input and output paths
are set as for bench/job.yaml).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
TOOLS = ("featurebeam", "tft")
NO_STATISTICS = "featurebeam_no_statistics"
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024

# Targets from issue 4.
WALL_SPEEDUP_TARGET = 5.0  # tft wall / featurebeam wall at 1M rows
RSS_RATIO_TARGET = 1.0  # featurebeam peak RSS / tft peak RSS at 1M rows
SCALE_RSS_TARGET = 1.5  # 10M peak RSS / 1M peak RSS
SCALE_TIME_TARGET = 11.0  # 10M wall / 1M wall
STATISTICS_COST_TARGET = 0.15  # issue 12: wall with statistics / wall without - 1


# ---------------------------------------------------------------------------
# Measuring a process tree


def _children(pid: int) -> list[int]:
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found.extend(int(c) for c in handle.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return found


def _tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        pending.extend(_children(current))
    return pids


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, VmHWM) in bytes; zeros once the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return rss, hwm


class TreeMemory(threading.Thread):
    """Samples the RSS of a process tree until stopped."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_tree_rss = 0
        self.peak_process_hwm = 0
        self.max_processes = 0
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def sample(self):
        pids = _tree(self.pid)
        total = 0
        for pid in pids:
            rss, hwm = _memory(pid)
            total += rss
            self.peak_process_hwm = max(self.peak_process_hwm, hwm)
        self.peak_tree_rss = max(self.peak_tree_rss, total)
        self.max_processes = max(self.max_processes, len(pids))

    def stop(self):
        self._done.set()
        self.join()


def measure(command: list[str], log_path: str, env: dict, cwd: str = ROOT) -> dict:
    """Run ``command`` to completion; wall, CPU and peak RSS of its process tree."""
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        monitor = TreeMemory(process.pid)
        monitor.start()
        # VmHWM is a high-water mark, so sampling it catches every peak but one
        # in the last interval before the process exits.
        returncode = process.wait()
        wall = time.perf_counter() - started
        monitor.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "returncode": returncode,
        "wall_s": round(wall, 3),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3),
        "user_s": round(after.ru_utime - before.ru_utime, 3),
        "sys_s": round(after.ru_stime - before.ru_stime, 3),
        "peak_rss_mib": round(max(monitor.peak_tree_rss, monitor.peak_process_hwm) / MIB, 1),
        "peak_tree_rss_sampled_mib": round(monitor.peak_tree_rss / MIB, 1),
        "peak_process_hwm_mib": round(monitor.peak_process_hwm / MIB, 1),
        "max_processes": monitor.max_processes,
        "load_average_1min_before": round(load_before, 2),
    }


# ---------------------------------------------------------------------------
# The two jobs


def featurebeam_command(python: str, data: str, output: str, job: str | None = None) -> list[str]:
    """``featurebeam run bench/job.yaml``, as ``python -m beam_jobs.cli`` (what the console script calls).

    Run from the featurebeam source tree measured, which is first on ``sys.path``.
    """
    return [
        python,
        "-m",
        "beam_jobs.cli",
        "run",
        job or os.path.join(BENCH_DIR, "job.yaml"),
        "--set",
        f"input.path={os.path.join(data, 'parquet')}",
        "--set",
        f"output.path={output}",
        "--quiet",
    ]


def tft_command(python: str, data: str, output: str) -> list[str]:
    pattern = os.path.join(data, "tfrecord", "*.tfrecord")
    return [python, os.path.join(BENCH_DIR, "tft_job.py"), "--input", pattern, "--output", output]


def featurebeam_no_statistics_command(python: str, data: str, output: str, job: str | None = None) -> list[str]:
    return [*featurebeam_command(python, data, output, job), "--no-statistics"]


COMMANDS = {"featurebeam": featurebeam_command, "tft": tft_command, NO_STATISTICS: featurebeam_no_statistics_command}


def _internal_timings(output: str) -> dict | None:
    try:
        with open(os.path.join(output, "run.json")) as handle:
            return json.load(handle).get("timings_s")
    except (OSError, ValueError):
        return None


def _tail(path: str, lines: int = 30) -> str:
    with open(path, errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


# ---------------------------------------------------------------------------
# Reporting


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def summarize(runs: dict[str, list[dict]]) -> dict:
    summary = {}
    for tool, tool_runs in runs.items():
        if tool_runs:
            summary[tool] = {key: _median(tool_runs, key) for key in ("wall_s", "cpu_s", "peak_rss_mib")}
    if "featurebeam" in summary and NO_STATISTICS in summary:
        fb, bare = summary["featurebeam"], summary[NO_STATISTICS]
        summary["statistics_cost"] = {
            "wall": round(fb["wall_s"] / bare["wall_s"] - 1, 3),
            "cpu": round(fb["cpu_s"] / bare["cpu_s"] - 1, 3),
            "peak_rss": round(fb["peak_rss_mib"] / bare["peak_rss_mib"] - 1, 3),
        }
    if "featurebeam" in summary and "tft" in summary:
        fb, tft = summary["featurebeam"], summary["tft"]
        summary["ratios"] = {
            "wall_tft_over_featurebeam": round(tft["wall_s"] / fb["wall_s"], 2),
            "cpu_tft_over_featurebeam": round(tft["cpu_s"] / fb["cpu_s"], 2),
            "peak_rss_featurebeam_over_tft": round(fb["peak_rss_mib"] / tft["peak_rss_mib"], 2),
        }
    return summary


def format_table(rows: int, runs: dict[str, list[dict]], summary: dict) -> str:
    count = max(len(r) for r in runs.values())
    lines = [
        f"rows: {rows:,}   runs per tool: {count}   (medians; every run is a whole process)",
        "",
        f"{'':12s} {'wall s':>9s} {'CPU s':>9s} {'peak RSS MiB':>13s}   walls of each run",
    ]
    for tool in runs:
        if tool in summary:
            s = summary[tool]
            walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs[tool])
            name = "no statistics" if tool == NO_STATISTICS else tool
            lines.append(f"{name:13s} {s['wall_s']:8.1f} {s['cpu_s']:9.1f} {s['peak_rss_mib']:13.0f}   {walls}")
    cost = summary.get("statistics_cost")
    if cost:
        added = (
            f"wall {100 * cost['wall']:+.1f}%   CPU {100 * cost['cpu']:+.1f}%   peak RSS {100 * cost['peak_rss']:+.1f}%"
        )
        lines += ["", f"statistics add: {added}"]
    ratios = summary.get("ratios")
    if ratios:
        wall, cpu, rss = (
            ratios[k]
            for k in ("wall_tft_over_featurebeam", "cpu_tft_over_featurebeam", "peak_rss_featurebeam_over_tft")
        )
        lines += [
            "",
            f"tft / featurebeam wall: {wall:.2f}x   CPU: {cpu:.2f}x   featurebeam / tft peak RSS: {rss:.2f}x",
        ]
    return "\n".join(lines)


def baseline_1m(commit: str | None) -> tuple[str, dict] | None:
    """The newest 1M-row featurebeam result of the same featurebeam commit (file name, summary)."""
    candidates = []
    for name in os.listdir(RESULTS_DIR) if os.path.isdir(RESULTS_DIR) else []:
        if not name.startswith("1000000-") or not name.endswith(".json"):
            continue
        with open(os.path.join(RESULTS_DIR, name)) as handle:
            result = json.load(handle)
        if commit and result.get("git_commit") == commit and not result.get("uncommitted_changes"):
            if "featurebeam" in result["summary"]:
                candidates.append((name, result["summary"]["featurebeam"]))
    return max(candidates, key=lambda c: c[0]) if candidates else None


def check_targets(rows: int, summary: dict, commit: str | None = None) -> list[dict]:
    targets = []
    cost = summary.get("statistics_cost")
    if cost:
        targets.append(
            {
                "target": f"statistics add < {100 * STATISTICS_COST_TARGET:g}% wall time (issue 12)",
                "value": cost["wall"],
                "met": cost["wall"] < STATISTICS_COST_TARGET,
            }
        )
    ratios = summary.get("ratios")
    if rows == 1_000_000 and ratios:
        targets.append(
            {
                "target": f"1M rows: featurebeam >= {WALL_SPEEDUP_TARGET:g}x faster (wall) than tft",
                "value": ratios["wall_tft_over_featurebeam"],
                "met": ratios["wall_tft_over_featurebeam"] >= WALL_SPEEDUP_TARGET,
            }
        )
        targets.append(
            {
                "target": "1M rows: featurebeam peak RSS <= tft's",
                "value": ratios["peak_rss_featurebeam_over_tft"],
                "met": ratios["peak_rss_featurebeam_over_tft"] <= RSS_RATIO_TARGET,
            }
        )
    found = baseline_1m(commit) if rows > 1_000_000 and "featurebeam" in summary else None
    if found:
        baseline_file, baseline = found
        if baseline:
            rss = summary["featurebeam"]["peak_rss_mib"] / baseline["peak_rss_mib"]
            wall = summary["featurebeam"]["wall_s"] / baseline["wall_s"]
            factor = rows / 1_000_000
            targets.append(
                {
                    "target": f"{factor:g}M rows: featurebeam peak RSS <= {SCALE_RSS_TARGET}x the 1M run",
                    "baseline": baseline_file,
                    "value": round(rss, 2),
                    "met": rss <= SCALE_RSS_TARGET,
                }
            )
            if rows == 10_000_000:
                targets.append(
                    {
                        "target": f"10M rows: featurebeam wall <= {SCALE_TIME_TARGET:g}x the 1M run",
                        "baseline": baseline_file,
                        "value": round(wall, 2),
                        "met": wall <= SCALE_TIME_TARGET,
                    }
                )
    return targets


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (alternating)")
    parser.add_argument("--only", choices=TOOLS, help="run only one of the two")
    parser.add_argument(
        "--statistics-cost",
        action="store_true",
        help="run featurebeam with and without statistics (--no-statistics), alternating, instead of tft",
    )
    parser.add_argument("--job", help="the featurebeam job file to measure (default: bench/job.yaml)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-check", action="store_true", help="skip comparing the two outputs")
    parser.add_argument(
        "--featurebeam-commit",
        metavar="REV",
        help="run featurebeam as of this commit (extracted with `git archive` into bench/data/src-<sha>/) "
        "instead of the checkout, so edits in progress do not change what is measured",
    )
    args = parser.parse_args(argv)
    tools = [args.only] if args.only else list(TOOLS)
    if args.statistics_cost:
        tools = ["featurebeam", NO_STATISTICS]
    job = os.path.abspath(args.job) if args.job else None
    python = sys.executable

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    generated = subprocess.run(
        [python, os.path.join(BENCH_DIR, "generate.py"), "--rows", str(args.rows), "--seed", str(args.seed)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if generated.returncode:
        print(
            "bench: generating the data failed; rerun `python bench/generate.py --rows N` to see why", file=sys.stderr
        )
        return 1
    data = generated.stdout.strip().splitlines()[-1]
    work = os.path.join(data, "out")
    logs = os.path.join(data, "logs")
    os.makedirs(logs, exist_ok=True)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.featurebeam_commit:
        commit = _git_commit(args.featurebeam_commit)
        src, uncommitted = snapshot(commit), []
    else:
        src, commit = ROOT, _git_commit()
        uncommitted = [path for path in _git_dirty() if not path.startswith("bench/")]
    fb_env = dict(env, PYTHONPATH=os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p))
    runs: dict[str, list[dict]] = {tool: [] for tool in tools}
    print(f"bench: {args.rows:,} rows from {data}; {args.runs} run(s) of {', '.join(tools)}, alternating", flush=True)
    for index in range(args.runs):
        for tool in tools:
            output = os.path.join(work, tool)
            shutil.rmtree(output, ignore_errors=True)
            os.makedirs(os.path.dirname(output), exist_ok=True)
            if tool == "tft":
                command = tft_command(python, data, output)
            else:
                command = COMMANDS[tool](python, data, output, job)
            log_path = os.path.join(logs, f"{stamp}-{tool}-{index}.log")
            if tool != "tft":
                result = measure(command, log_path, fb_env, cwd=src)
            else:
                result = measure(command, log_path, env)
            result["command"] = command
            result["internal_timings_s"] = _internal_timings(output)
            if result["returncode"]:
                print(
                    f"bench: {tool} run {index + 1} failed (exit {result['returncode']}); log {log_path}:",
                    file=sys.stderr,
                )
                print(_tail(log_path), file=sys.stderr)
                return 1
            runs[tool].append(result)
            print(
                f"  {tool:25s} run {index + 1}/{args.runs}: wall {result['wall_s']:7.1f} s   "
                f"CPU {result['cpu_s']:7.1f} s   peak RSS {result['peak_rss_mib']:7.0f} MiB",
                flush=True,
            )

    summary = summarize(runs)
    print()
    print(format_table(args.rows, runs, summary))

    check = None
    if set(tools) == set(TOOLS) and not args.no_check:
        print("\ncomparing the last outputs (sorted columns, vocabulary files):", flush=True)
        check_json = os.path.join(logs, f"{stamp}-check.json")
        checked = subprocess.run(
            [
                python,
                os.path.join(BENCH_DIR, "check.py"),
                "--featurebeam",
                os.path.join(work, "featurebeam"),
                "--tft",
                os.path.join(work, "tft"),
                "--rows",
                str(args.rows),
                "--json",
                check_json,
            ],
            env=env,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            with open(check_json) as handle:
                check = json.load(handle)
        except OSError:
            check = {"ok": False, "failures": [f"check.py exited with {checked.returncode} and wrote no result"]}

    targets = check_targets(args.rows, summary, None if uncommitted else commit)
    if targets:
        print("\ntargets:")
        for target in targets:
            against = f" (vs {target['baseline']})" if "baseline" in target else ""
            print(f"  [{'met' if target['met'] else 'NOT met'}] {target['target']}: {target['value']}{against}")

    result = {
        "rows": args.rows,
        "runs": args.runs,
        "seed": args.seed,
        "job": job or os.path.join(BENCH_DIR, "job.yaml"),
        "started": stamp,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "featurebeam_src": src,
        "git_commit": commit,
        "uncommitted_changes": uncommitted,
        "summary": summary,
        "targets": targets,
        "check": check,
        "runs_detail": runs,
    }
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, f"{args.rows}-{stamp}.json")
    with open(path, "w") as handle:
        json.dump(result, handle, indent=2)
    if not args.only and not args.statistics_cost:
        shutil.copyfile(path, os.path.join(RESULTS_DIR, f"latest-{args.rows}.json"))
    print(f"\nresults: {path}")
    return 0 if check is None or check.get("ok") else 1


def _git_dirty() -> list[str]:
    """Tracked files changed in the checkout (the numbers are for the code on disk)."""
    try:
        lines = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ).stdout.splitlines()
    except OSError:
        return []
    return [line[3:] for line in lines]


def _git_commit(rev: str = "HEAD") -> str | None:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            ).stdout.strip()
            or None
        )
    except OSError:
        return None


def snapshot(commit: str | None) -> str:
    """The source tree of ``commit``, extracted once into bench/data/src-<sha>/."""
    if not commit:
        sys.exit("bench: --featurebeam-commit is not a commit of this repository")
    destination = os.path.join(BENCH_DIR, "data", f"src-{commit[:12]}")
    if not os.path.isdir(destination):
        partial = destination + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=ROOT, stdout=subprocess.PIPE)
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(partial, filter="data")
        if archive.wait():
            sys.exit(f"bench: git archive {commit} failed")
        os.rename(partial, destination)
    return destination


if __name__ == "__main__":
    sys.exit(main())
