"""Peak memory of ``vocabulary(labels=...)``: 1M rows, 100,000 distinct tokens (issue 10, item 6).

    .venv/bin/python bench/vocab_labels.py --rows 1000000 --tokens 100000 --runs 3

Generates the data if ``bench/data/vocab_labels-<rows>-<tokens>/`` does not hold
it (seeded: every token occurs, the rest drawn Zipf-like; a binary label whose
rate depends on the token, so the ranking means something), then runs
``featurebeam run`` on ``bench/vocab_labels_fn.py`` as a whole process, measured
as ``bench/run.py`` measures (wall, CPU, peak RSS of the process tree), and
checks the target: peak RSS under 1.5 GiB. The vocabulary file is checked too:
``top_k`` lines of ``"<mutual information> <token>"``, scores non-increasing.
``--tokens 1000`` gives the baseline (the same job with few distinct tokens).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from run import ROOT, measure  # noqa: E402

PEAK_RSS_TARGET_MIB = 1536  # 1.5 GiB
TOP_K = 20000


def generate(directory: str, rows: int, tokens: int, seed: int = 10) -> None:
    rng = np.random.default_rng(seed)
    ranks = np.arange(tokens)
    weights = 1.0 / (ranks + 10.0) ** 0.9
    drawn = rng.choice(tokens, rows - tokens, p=weights / weights.sum())
    ids = rng.permutation(np.concatenate([ranks, drawn]))
    rate = 1 / (1 + np.exp(-rng.normal(0, 1.5, tokens)))  # each token's own label rate
    labels = (rng.random(rows) < rate[ids]).astype(np.int64)
    names = np.char.add("token-", np.char.zfill(ids.astype(str), 6)).astype(object)
    os.makedirs(os.path.join(directory, "parquet"), exist_ok=True)
    for part, chunk in enumerate(np.array_split(np.arange(rows), 4)):
        table = pa.table({"token": pa.array(names[chunk], pa.string()), "label": pa.array(labels[chunk])})
        pq.write_table(table, os.path.join(directory, "parquet", f"part-{part}.parquet"), row_group_size=131072)


def command(python: str, data: str, output: str) -> list[str]:
    job = os.path.join(data, "job.yaml")
    with open(job, "w") as handle:
        handle.write(
            f"input: {{path: {os.path.join(data, 'parquet')}, format: parquet}}\n"
            f"preprocessing_fn: {os.path.join(BENCH_DIR, 'vocab_labels_fn.py')}:preprocessing_fn\n"
            f"output: {{path: {output}, format: parquet}}\nrunner: DirectRunner\n"
        )
    return [python, "-m", "beam_jobs.cli", "run", job, "--quiet"]


def check_vocabulary(output: str, tokens: int) -> int:
    with open(os.path.join(output, "transform_fn", "assets", "token_mi"), "rb") as handle:
        lines = handle.read().splitlines()
    scores = [float(line.split(b" ", 1)[0]) for line in lines]
    if len(lines) != min(TOP_K, tokens) or any(a < b for a, b in zip(scores, scores[1:])):
        raise SystemExit(f"vocabulary check failed: {len(lines)} lines, ordered: {scores == sorted(scores)[::-1]}")
    return len(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    data = os.path.join(BENCH_DIR, "data", f"vocab_labels-{args.rows}-{args.tokens}")
    if not os.path.isdir(os.path.join(data, "parquet")):
        generate(data, args.rows, args.tokens)
    env = dict(os.environ, PYTHONPATH=ROOT)
    runs = []
    for run in range(args.runs):
        output = os.path.join(data, "out")
        result = measure(command(args.python, data, output), os.path.join(data, f"run-{run}.log"), env)
        if result["returncode"] != 0:
            raise SystemExit(f"featurebeam failed; see {os.path.join(data, f'run-{run}.log')}")
        result["vocabulary_lines"] = check_vocabulary(output, args.tokens)
        runs.append(result)
        print(json.dumps(result))
    peak = statistics.median(r["peak_rss_mib"] for r in runs)
    wall = statistics.median(r["wall_s"] for r in runs)
    verdict = "met" if peak < PEAK_RSS_TARGET_MIB else "NOT met"
    print(
        f"{args.rows:,} rows, {args.tokens:,} tokens: median wall {wall:.1f} s, median peak RSS {peak:.0f} MiB "
        f"(target < {PEAK_RSS_TARGET_MIB} MiB: {verdict})"
    )
    return 0 if peak < PEAK_RSS_TARGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
