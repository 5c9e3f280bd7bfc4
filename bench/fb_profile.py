"""Where a featurebeam run's time goes: py-spy samples of the whole process, by category.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/fb_profile.py --rows 1000000          # records, then summarizes
    .venv/bin/python bench/fb_profile.py --raw bench/profile/fb-1000000.txt   # summarize a recording again

Records ``featurebeam run bench/job.yaml`` with ``py-spy record --idle
--threads --format raw`` (the data must exist: bench/generate.py). The main
thread runs everything on the DirectRunner (Beam's in-memory FnApiRunner runs
bundles in the calling thread), so its samples are the wall-clock timeline.
Each sample goes to the first category below whose frames it contains; the
summary also lists the functions with the most inclusive and self time.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
RATE = 200  # samples per second

# (category, pattern on "function (file)" frames); first match wins, so order matters.
CATEGORIES = [
    ("imports (Python modules, incl. TensorFlow and Beam)", r"^_find_and_load |^_handle_fromlist "),
    ("prepare: list files, infer schema", r"^(list_input_files|resolve_schema) "),
    ("prepare: load fn, trace + plan phases", r"^(_prepare_analysis|load_preprocessing_fn|preprocessing_fn_of) "),
    ("build the Beam pipeline", r"^_build \(beam_jobs/_run"),
    ("analyze: trace fn in worker (AnalyzerInputs init)", r"^AnalyzerInputs\.__init__ "),
    ("analyze: run TF graph for analyzer inputs", r"^AnalyzerInputs\.__call__ "),
    ("analyze: count/shard vocabulary tokens", r"^(count_tokens|split_by_shard) "),
    (
        "analyze: combines (mean/var, min/max, quantiles, vocab merge + select)",
        r"\(analyzers/|^_select_in_shard |^_final_vocabulary |^_merge_results ",
    ),
    ("export: SavedModel + transformed_metadata", r"^(write_transform_fn|export_to|export_transform_fn) "),
    ("export: analyzers.json", r"^write_analyzers_json "),
    ("transform: load SavedModel", r"^TransformFn\.__init__ "),
    ("transform: run SavedModel on batches", r"^(TransformFn\.__call__|_ApplyTransformFn\.process) "),
    ("read Parquet into RecordBatches", r"^(_ReadFile\.process|_ParquetReader\.batches|rebatch|_conformed|conform) "),
    ("write Parquet", r"^(to_table|_counted) |ParquetWriter|parquetio|WriteBatches|iobase\.py|filebasedsink"),
    ("Beam runner (bundles, coders, side inputs)", r"^Pipeline\.run "),
    ("publish output, run.json", r"^(publish|write_json|rows_from_metrics) "),
    ("CLI / other Python", r"."),
]
NO_PYTHON = "interpreter start-up and exit (no Python frames: loading/unloading native libraries)"


def _frames(stack: str) -> list[str]:
    return [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")[1:]]


def summarize(raw_path: str, top: int = 12) -> str:
    samples = []  # (frames, count) of the main thread
    threads = collections.Counter()
    for line in open(raw_path, encoding="utf-8"):
        stack, count = line.rstrip("\n").rsplit(" ", 1)
        thread = stack.split(";", 1)[0]
        threads[thread] += int(count)
        samples.append((thread, _frames(stack), int(count)))
    main_id = re.match(r"thread \((\d+)\)", next(t for t in threads if t.endswith("MainThread"))).group(1)
    main = [(f, c) for t, f, c in samples if re.match(rf"thread \({main_id}\)", t)]
    total = sum(c for _, c in main)

    by_category = collections.Counter()
    patterns = [(name, re.compile(p)) for name, p in CATEGORIES]
    for frames, count in main:
        if not frames:
            by_category[NO_PYTHON] += count
            continue
        for name, pattern in patterns:
            if any(pattern.search(frame) for frame in frames):
                by_category[name] += count
                break

    inclusive, own = collections.Counter(), collections.Counter()
    for frames, count in main:
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count

    lines = [f"main thread: {total / RATE:.1f} s sampled ({raw_path})", "", "| category | s | % |", "|---|---:|---:|"]
    for name, count in by_category.most_common():
        lines.append(f"| {name} | {count / RATE:.2f} | {100 * count / total:.0f}% |")
    interesting = [
        (frame, count)
        for frame, count in inclusive.most_common()
        if not re.search(
            r"<frozen |^<module> |^_run_module_as_main|^_run_code |^main \(beam_jobs/cli|^_dispatch |^execute ", frame
        )
    ]
    lines += ["", f"top {top} functions by inclusive time (main thread):", ""]
    lines += [f"  {count / RATE:6.2f} s  {frame}" for frame, count in interesting[:top]]
    lines += ["", f"top {top} functions by self time (main thread):", ""]
    lines += [f"  {count / RATE:6.2f} s  {frame}" for frame, count in own.most_common(top)]
    return "\n".join(lines)


def record(rows: int, output: str, src: str = ROOT) -> None:
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    data = os.path.join(BENCH_DIR, "data", str(rows))
    if not os.path.isdir(os.path.join(data, "parquet")):
        sys.exit(f"no data in {data}: run `python bench/generate.py --rows {rows}` first")
    job_output = os.path.join(data, "out", "featurebeam-profile")
    command = [
        spy,
        "record",
        "--format",
        "raw",
        "--rate",
        str(RATE),
        "--idle",
        "--threads",
        "-o",
        output,
        "--",
        sys.executable,
        "-m",
        "beam_jobs.cli",
        "run",
        os.path.join(BENCH_DIR, "job.yaml"),
        "--set",
        f"input.path={os.path.join(data, 'parquet')}",
        "--set",
        f"output.path={job_output}",
        "--quiet",
    ]
    env = dict(os.environ, PYTHONPATH=src, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    subprocess.run(command, check=True, cwd=src, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--raw", help="summarize this py-spy raw recording instead of recording one")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--featurebeam-commit", metavar="REV", help="profile this commit (as bench/run.py does)")
    args = parser.parse_args(argv)
    raw = args.raw
    if raw is None:
        raw = os.path.join(BENCH_DIR, "profile", f"fb-{args.rows}.txt")
        os.makedirs(os.path.dirname(raw), exist_ok=True)
        src = ROOT
        if args.featurebeam_commit:
            from run import _git_commit, snapshot

            src = snapshot(_git_commit(args.featurebeam_commit))
        record(args.rows, raw, src)
    print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
