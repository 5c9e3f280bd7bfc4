"""Check that featurebeam and tf.Transform did the same work: same rows, same outputs.

    python bench/check.py --featurebeam OUT_FB --tft OUT_TFT --rows N [--json result.json]

Rows come out of both pipelines in no particular order, so every output column
is compared as a sorted array (for integer columns that is comparing their
histograms): float columns must agree within rtol/atol 1e-4, vocabulary ids
and the label exactly, bucket ids up to ``BUCKET_TOLERANCE`` of the rows (the
quantile sketches are approximate). The vocabulary files themselves must be
identical. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

BUCKET_TOLERANCE = 0.02  # fraction of rows whose bucket may differ
FLOAT_TOLERANCE = 1e-4


def read_featurebeam(output: str) -> dict[str, np.ndarray]:
    table = pq.read_table(os.path.join(output, "transformed_data"))
    return {name: table.column(name).to_numpy() for name in table.column_names}


def read_tft(output: str) -> dict[str, np.ndarray]:
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    files = sorted(glob.glob(os.path.join(output, "transformed_data", "*.tfrecord.gz")))
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    batches = []
    for records in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(65536):
        batches.append(decoder.DecodeBatch(records.numpy().tolist()))
    table = pa.Table.from_batches(batches)
    columns = {}
    for name in table.column_names:
        lists = table.column(name).combine_chunks()
        if lists.null_count or len(lists.flatten()) != len(lists):
            raise AssertionError(f"tft output {name!r} is not exactly one value per row")
        columns[name] = lists.flatten().to_numpy(zero_copy_only=False)
    return columns


def read_vocabularies(output: str) -> dict[str, list[bytes]]:
    vocabularies = {}
    for path in sorted(glob.glob(os.path.join(output, "transform_fn", "assets", "*"))):
        with open(path, "rb") as handle:
            vocabularies[os.path.basename(path)] = handle.read().splitlines()
    return vocabularies


def compare(featurebeam: dict, tft: dict, rows: int) -> tuple[list[str], dict]:
    failures, columns = [], {}
    for tool, data in (("featurebeam", featurebeam), ("tft", tft)):
        counts = {len(v) for v in data.values()}
        if counts != {rows}:
            failures.append(f"{tool}: expected {rows} rows in every column; got {sorted(counts)}")
    if set(featurebeam) != set(tft):
        failures.append(
            f"output columns differ: featurebeam only {sorted(set(featurebeam) - set(tft))}, "
            f"tft only {sorted(set(tft) - set(featurebeam))}"
        )
    for name in sorted(set(featurebeam) & set(tft)):
        ours, theirs = np.sort(featurebeam[name]), np.sort(tft[name])
        info = {"dtype": {"featurebeam": str(ours.dtype), "tft": str(theirs.dtype)}}
        columns[name] = info
        if len(ours) != len(theirs):
            failures.append(f"{name}: {len(ours)} vs {len(theirs)} values")
            continue
        if np.issubdtype(ours.dtype, np.floating) or np.issubdtype(theirs.dtype, np.floating):
            ours, theirs = ours.astype(np.float64), theirs.astype(np.float64)
            info.update(
                mean={"featurebeam": float(ours.mean()), "tft": float(theirs.mean())},
                std={"featurebeam": float(ours.std()), "tft": float(theirs.std())},
                max_abs_diff_sorted=float(np.max(np.abs(ours - theirs))) if len(ours) else 0.0,
            )
            if not np.allclose(ours, theirs, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE):
                failures.append(f"{name}: sorted values differ by up to {info['max_abs_diff_sorted']:.3g}")
        else:
            differing = float(np.mean(ours != theirs)) if len(ours) else 0.0
            info.update(
                distinct={"featurebeam": int(len(np.unique(ours))), "tft": int(len(np.unique(theirs)))},
                fraction_of_rows_differing=differing,
            )
            tolerance = BUCKET_TOLERANCE if name.endswith("_bucket") else 0.0
            if differing > tolerance:
                failures.append(f"{name}: {differing:.2%} of rows differ (histograms; allowed {tolerance:.0%})")
    return failures, columns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--featurebeam", required=True)
    parser.add_argument("--tft", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    failures, columns = compare(read_featurebeam(args.featurebeam), read_tft(args.tft), args.rows)
    ours, theirs = read_vocabularies(args.featurebeam), read_vocabularies(args.tft)
    vocabularies = {}
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        same = a == b
        vocabularies[name] = {
            "featurebeam": None if a is None else len(a),
            "tft": None if b is None else len(b),
            "identical": same,
        }
        if not same:
            first = next((i for i, (x, y) in enumerate(zip(a or [], b or [])) if x != y), None)
            failures.append(
                f"vocabulary {name}: differs (sizes {vocabularies[name]['featurebeam']} vs "
                f"{vocabularies[name]['tft']}; first differing line {first})"
            )
    result = {"ok": not failures, "failures": failures, "columns": columns, "vocabularies": vocabularies}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    for name, info in columns.items():
        if "mean" in info:
            print(
                f"  {name:28s} mean {info['mean']['featurebeam']:+.4f} / {info['mean']['tft']:+.4f}   "
                f"std {info['std']['featurebeam']:.4f} / {info['std']['tft']:.4f}   "
                f"max |diff| {info['max_abs_diff_sorted']:.2g}"
            )
        else:
            print(
                f"  {name:28s} distinct {info['distinct']['featurebeam']} / {info['distinct']['tft']}   "
                f"rows differing {info['fraction_of_rows_differing']:.4%}"
            )
    print(f"  vocabularies identical: {sum(v['identical'] for v in vocabularies.values())}/{len(vocabularies)}")
    for failure in failures:
        print(f"  FAIL {failure}")
    print("check: " + ("same work (featurebeam / tft)" if not failures else f"{len(failures)} failure(s)"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
