"""Seeded taxi-trip-like data for the benchmark, as Parquet and as TFRecord of tf.Example.

    python bench/generate.py --rows 1000000            # -> bench/data/1000000/{parquet,tfrecord}/

Columns (no nulls; one value per row):

- 7 floats (float32): fare, tips, tolls, extras, trip_miles, pickup_latitude, pickup_longitude
- 3 ints (int64): trip_seconds, trip_start_hour, pickup_community_area
- 4 strings: company (~60 values), payment_type (7), dropoff_census_tract (~800),
  taxi_id (8,000 32-hex-digit ids); all Zipf-distributed except payment_type.

Every file is generated from ``(seed, file index)`` alone, so the data does not
depend on how many processes generate it. Parquet files hold the same rows, in
the same order, as the TFRecord shard with the same index. A ``DONE`` marker
is written last: a folder without one is regenerated.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_ROOT = os.path.join(BENCH_DIR, "data")
FORMAT_VERSION = 1  # bump when the generated data changes, so cached data is regenerated
ROW_GROUP_SIZE = 131_072
MIN_ROWS_PER_FILE = 250_000
MAX_FILES = 16

FLOAT_COLUMNS = ("fare", "tips", "tolls", "extras", "trip_miles", "pickup_latitude", "pickup_longitude")
INT_COLUMNS = ("trip_seconds", "trip_start_hour", "pickup_community_area")
STRING_COLUMNS = ("company", "payment_type", "dropoff_census_tract", "taxi_id")
COLUMN_TYPES = {
    **{name: "float" for name in FLOAT_COLUMNS},
    **{name: "int" for name in INT_COLUMNS},
    **{name: "string" for name in STRING_COLUMNS},
}

NUM_COMPANIES = 60
NUM_TRACTS = 800
NUM_TAXIS = 8_000
NUM_AREAS = 77
PAYMENT_TYPES = ("Credit Card", "Cash", "Mobile", "Prcard", "Unknown", "No Charge", "Dispute")
PAYMENT_P = (0.46, 0.40, 0.08, 0.04, 0.012, 0.006, 0.002)


def _zipf_probabilities(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


def _dictionaries(seed: int) -> dict:
    """Token lists and per-area coordinates, shared by every file."""
    rng = np.random.default_rng([seed, 0xD1C7])
    companies = [f"{rng.integers(1000, 9999)} - {name} Cab Co" for name in _names(rng, NUM_COMPANIES)]
    tracts = [f"17031{code:06d}" for code in rng.choice(900_000, NUM_TRACTS, replace=False) + 10_000]
    taxis = [bytes(row).hex() for row in rng.integers(0, 256, size=(NUM_TAXIS, 16), dtype=np.uint8)]
    return {
        "company": pa.array(companies, pa.string()),
        "dropoff_census_tract": pa.array(tracts, pa.string()),
        "taxi_id": pa.array(taxis, pa.string()),
        "payment_type": pa.array(PAYMENT_TYPES, pa.string()),
        "area_lat": 41.65 + 0.4 * rng.random(NUM_AREAS),
        "area_lon": -87.85 + 0.3 * rng.random(NUM_AREAS),
        "area_p": rng.dirichlet(np.full(NUM_AREAS, 0.7)),
    }


def _names(rng, n: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ra", "su", "to", "vi", "ze", "qu", "an", "ex", "or", "ul"]
    names = set()
    while len(names) < n:
        names.add("".join(rng.choice(syllables, size=rng.integers(2, 4))).title())
    return sorted(names)


_HOUR_P = np.array([3, 2, 1.5, 1, 1, 1.5, 3, 5, 6, 5, 4.5, 5, 5.5, 5.5, 5.5, 6, 6.5, 7, 7, 6, 5, 4.5, 4, 3.5])
_HOUR_P = _HOUR_P / _HOUR_P.sum()


def make_table(rows: int, seed: int, file_index: int, dictionaries: dict) -> pa.Table:
    """One file's rows as an Arrow table: float32, int64 and string columns."""
    rng = np.random.default_rng([seed, file_index])
    trip_miles = np.clip(rng.lognormal(0.9, 0.95, rows), 0.0, 120.0)
    trip_miles[rng.random(rows) < 0.03] = 0.0
    minutes_per_mile = np.clip(rng.normal(3.2, 1.0, rows), 1.0, None)
    trip_seconds = np.round(60 + trip_miles * minutes_per_mile * 60 + rng.exponential(120, rows)).astype(np.int64)
    fare = np.round((3.25 + 2.25 * trip_miles + 0.25 * trip_seconds / 36 + rng.normal(0, 0.5, rows)) * 4) / 4
    fare = np.clip(fare, 3.25, None)
    payment_index = rng.choice(len(PAYMENT_TYPES), size=rows, p=PAYMENT_P)
    tip_rate = np.where(rng.random(rows) < 0.15, 0.0, rng.beta(2.0, 8.0, rows) * 1.3)
    tips = np.where(payment_index == 0, np.round(fare * tip_rate, 2), 0.0)
    tolls = np.where(rng.random(rows) < 0.02, np.round(rng.uniform(1, 12, rows), 2), 0.0)
    extras = np.where(rng.random(rows) < 0.55, 0.0, rng.choice([1.0, 1.5, 2.0, 3.0, 4.0, 5.0], size=rows))
    area = rng.choice(NUM_AREAS, size=rows, p=dictionaries["area_p"])
    latitude = dictionaries["area_lat"][area] + rng.normal(0, 0.01, rows)
    longitude = dictionaries["area_lon"][area] + rng.normal(0, 0.01, rows)
    hour = rng.choice(24, size=rows, p=_HOUR_P)

    def tokens(name: str, probabilities: np.ndarray | None, index: np.ndarray | None = None) -> pa.Array:
        dictionary = dictionaries[name]
        if index is None:
            # Zipf over a shuffled token order, so frequency is not alphabetical.
            order = np.random.default_rng([seed, len(dictionary)]).permutation(len(dictionary))
            index = order[rng.choice(len(dictionary), size=rows, p=probabilities)]
        return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), dictionary).dictionary_decode()

    columns = {
        "fare": fare,
        "tips": tips,
        "tolls": tolls,
        "extras": extras,
        "trip_miles": trip_miles,
        "pickup_latitude": latitude,
        "pickup_longitude": longitude,
    }
    arrays = {name: pa.array(values.astype(np.float32)) for name, values in columns.items()}
    arrays["trip_seconds"] = pa.array(trip_seconds)
    arrays["trip_start_hour"] = pa.array(hour.astype(np.int64))
    arrays["pickup_community_area"] = pa.array(area.astype(np.int64) + 1)
    arrays["company"] = tokens("company", _zipf_probabilities(NUM_COMPANIES, 1.2))
    arrays["payment_type"] = tokens("payment_type", None, payment_index)
    arrays["dropoff_census_tract"] = tokens("dropoff_census_tract", _zipf_probabilities(NUM_TRACTS, 1.0))
    arrays["taxi_id"] = tokens("taxi_id", _zipf_probabilities(NUM_TAXIS, 0.8))
    return pa.table(arrays)


def to_examples(table: pa.Table) -> list[bytes]:
    """Serialized tf.Examples of the table's rows (one-value lists), via tfx_bsl's C++ encoder."""
    from tfx_bsl.coders import example_coder

    offsets = pa.array(np.arange(table.num_rows + 1, dtype=np.int32))
    lists = []
    for column in table.columns:
        values = column.combine_chunks()
        if pa.types.is_string(values.type):
            values = values.cast(pa.binary())
        lists.append(pa.ListArray.from_arrays(offsets, values))
    return example_coder.RecordBatchToExamples(pa.RecordBatch.from_arrays(lists, table.column_names))


def _write_tfrecord(path: str, records: list[bytes]) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def layout(rows: int) -> list[int]:
    """Rows per file: at least MIN_ROWS_PER_FILE each, at most MAX_FILES files."""
    files = max(1, min(MAX_FILES, math.ceil(rows / MIN_ROWS_PER_FILE)))
    base, extra = divmod(rows, files)
    return [base + (1 if i < extra else 0) for i in range(files)]


def _generate_file(task) -> str:
    directory, rows, seed, index, count = task
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    table = make_table(rows, seed, index, _dictionaries(seed))
    name = f"part-{index:05d}-of-{count:05d}"
    pq.write_table(
        table,
        os.path.join(directory, "parquet", name + ".parquet"),
        row_group_size=ROW_GROUP_SIZE,
        compression="snappy",
    )
    _write_tfrecord(os.path.join(directory, "tfrecord", name + ".tfrecord"), to_examples(table))
    return name


def data_dir(rows: int) -> str:
    return os.path.join(DATA_ROOT, str(rows))


def is_complete(directory: str, rows: int, seed: int) -> bool:
    marker = os.path.join(directory, "DONE")
    if not os.path.isfile(marker):
        return False
    with open(marker) as handle:
        info = json.load(handle)
    return info.get("rows") == rows and info.get("seed") == seed and info.get("format_version") == FORMAT_VERSION


def ensure_data(rows: int, seed: int = 0, processes: int | None = None, log=print) -> str:
    """Generate ``bench/data/<rows>/`` unless a complete copy is already there; return the folder."""
    directory = data_dir(rows)
    if is_complete(directory, rows, seed):
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(os.path.join(directory, "parquet"))
    os.makedirs(os.path.join(directory, "tfrecord"))
    sizes = layout(rows)
    tasks = [(directory, size, seed, index, len(sizes)) for index, size in enumerate(sizes)]
    processes = processes or min(len(tasks), os.cpu_count() or 1)
    started = time.monotonic()
    log(f"generating {rows:,} rows into {directory} ({len(tasks)} files, {processes} processes)")
    if processes == 1:
        names = [_generate_file(task) for task in tasks]
    else:
        # spawn: the parent may have imported TensorFlow, which does not survive fork.
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            names = pool.map(_generate_file, tasks, chunksize=1)
    with open(os.path.join(directory, "DONE"), "w") as handle:
        json.dump(
            {
                "rows": rows,
                "seed": seed,
                "format_version": FORMAT_VERSION,
                "files": names,
                "rows_per_file": sizes,
                "columns": COLUMN_TYPES,
                "seconds": round(time.monotonic() - started, 1),
            },
            handle,
            indent=2,
        )
    log(f"generated in {time.monotonic() - started:.0f} s")
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=None)
    args = parser.parse_args(argv)
    print(ensure_data(args.rows, args.seed, args.processes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
