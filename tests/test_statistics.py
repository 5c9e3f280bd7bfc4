"""Data statistics (analyzers._statistics): against TFDV's own output, an independent numpy reference, and Beam.

- TFDV goldens (tests/goldens/tfdv/, made by TFDV 1.16.1, see tests/tfdv_goldens.py):
  the same examples as Arrow list columns give TFDV's FeatureStats.pb, field for
  field, histograms to the last bit; means and standard deviations to 1e-12
  (their last bits depend on the merge order). Beyond the sketch's exact range
  (data set D), the median and histograms are within the stated rank error.
- tests/tfdv_reference.py, a second implementation of TFDV's definitions:
  random data with NaN, infinities, missing rows and lists.
- Input split into 1, 2 and 7 shuffled shards, merged in varied orders and
  pickled, gives the same statistics; flat, list, large_list and
  fixed_size_list columns give the same statistics for the same values.
- ``ComputeStatistics`` on a Beam pipeline (string values counted in shards)
  gives what ``compute_statistics`` gives in one process.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from analyzers._statistics import StatisticsAccumulator, compute_statistics, values_per_row
from analyzers._top_values import count_values, top_values
from tests import tfdv_reference as ref
from tests.tfdv_goldens import GOLDEN_DIR

Histogram = statistics_pb2.Histogram


def golden(name: str):
    table = pq.read_table(os.path.join(GOLDEN_DIR, f"{name}.parquet"))
    with open(os.path.join(GOLDEN_DIR, f"{name}.FeatureStats.pb"), "rb") as handle:
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(handle.read())
    return table, stats


def kinds_of(table: pa.Table) -> list[tuple[str, str]]:
    def kind(t):
        t = t.value_type if hasattr(t, "value_type") else t
        return "float" if pa.types.is_floating(t) else "int" if pa.types.is_integer(t) else "string"

    return [(field.name, kind(field.type)) for field in table.schema]


def by_name(stats) -> dict:
    return {f.path.step[0]: f for f in stats.datasets[0].features}


def without_moments(stats):
    copy = statistics_pb2.DatasetFeatureStatisticsList()
    copy.CopyFrom(stats)
    for feature in copy.datasets[0].features:
        if feature.HasField("num_stats"):
            feature.num_stats.ClearField("mean")
            feature.num_stats.ClearField("std_dev")
    return copy


def assert_same_statistics(got, want, rel=1e-12):
    """Equal protos, but mean and std_dev (to ``rel``): their last bits depend on the merge order."""
    assert got.datasets[0].num_examples == want.datasets[0].num_examples
    got_features, want_features = by_name(got), by_name(want)
    assert list(got_features) == list(want_features)
    for name, feature in want_features.items():
        if feature.HasField("num_stats"):
            for field in ("mean", "std_dev"):
                a, b = getattr(got_features[name].num_stats, field), getattr(feature.num_stats, field)
                assert a == pytest.approx(b, rel=rel, abs=1e-300, nan_ok=True), (name, field)
    assert without_moments(got) == without_moments(want)


def shards(table: pa.Table, count: int, seed: int) -> list[list[pa.RecordBatch]]:
    """The table's rows shuffled into ``count`` shards of a few batches each."""
    order = np.random.default_rng(seed).permutation(table.num_rows)
    shuffled = table.take(pa.array(order))
    cuts = np.sort(np.random.default_rng(seed + 1).choice(np.arange(1, table.num_rows), count - 1, replace=False))
    pieces = np.split(np.arange(table.num_rows), cuts)
    return [shuffled.slice(p[0], len(p)).to_batches(max_chunksize=max(1, len(p) // 3)) for p in pieces if len(p)]


def sharded_statistics(table: pa.Table, features, count: int, seed: int):
    """Accumulated shard by shard, pickled, merged in a shuffled order; string counts merged likewise."""
    accumulators, counts = [], {name: [] for name, kind in features if kind == "string"}
    for shard in shards(table, count, seed):
        accumulator = StatisticsAccumulator(features)
        for batch in shard:
            accumulator.add(batch)
            for name in counts:
                counts[name].append(count_values(values_per_row(batch.column(name))[0]))
        accumulators.append(pickle.loads(pickle.dumps(accumulator.compact())))
    random.Random(seed).shuffle(accumulators)
    merged = accumulators[0]
    for other in accumulators[1:]:
        merged.merge(other)
    return merged.to_proto({name: top_values(tables) for name, tables in counts.items()})


# -- TFDV's own output -------------------------------------------------------------


@pytest.mark.parametrize("name", ["A", "B", "C"])
@pytest.mark.parametrize("count", [1, 2, 7])
def test_equals_tfdv_on_its_goldens(name, count):
    table, want = golden(name)
    got = sharded_statistics(table, kinds_of(table), count, seed=count)
    assert_same_statistics(got, want)


def test_tfdv_golden_fields_that_tell_tfdv_apart():
    """A few values from TFDV's file, spelled out: population std_dev, upper median, fractional buckets."""
    stats = by_name(golden("A")[1])
    numbers = stats["f_float"].num_stats
    assert (numbers.mean, numbers.std_dev, numbers.median) == (5.5, 2.8722813232690143, 6.0)
    standard, quantiles = numbers.histograms
    assert standard.type == Histogram.STANDARD and quantiles.type == Histogram.QUANTILES
    assert standard.buckets[0].sample_count == pytest.approx(1.009) and standard.buckets[-1].high_value == 10.0
    assert [(b.low_value, b.high_value, b.sample_count) for b in quantiles.buckets][-2:] == [
        (9, 10, 0.5),
        (10, 10, 0.5),
    ]
    special = stats["f_special"].num_stats
    assert math.isnan(special.mean) and special.std_dev == 0.0 and (special.min, special.max) == (-math.inf, math.inf)
    assert special.histograms[0].num_nan == 1 and len(special.histograms[0].buckets) == 12
    multi = stats["f_multi"].num_stats.common_stats
    assert (multi.min_num_values, multi.max_num_values, multi.tot_num_values) == (0, 3, 13)
    strings = stats["f_str"].string_stats
    assert strings.avg_length == 1.5 and strings.unique == 4  # UTF-8 bytes: 'héllo' is 6


def test_beyond_the_exact_range_within_the_stated_error():
    """D's f_wide has 12,000 distinct values: our sketch and TFDV's are both approximate there.

    Every boundary's rank (and so every bucket count) is within epsilon * N / 2 of
    the truth (proved for our sketch); the exact statistics are equal.
    """
    table, want = golden("D")
    got = by_name(compute_statistics(table.to_batches(max_chunksize=4096), kinds_of(table)))
    tfdv = by_name(want)
    for name in ("f_cat", "f_bytes"):
        assert got[name] == tfdv[name]
    assert (
        got["f_bytes"].string_stats.invalid_utf8_count == 124
        and got["f_bytes"].string_stats.rank_histogram.buckets[1].label == "__BYTES_VALUE__"
    )
    values = np.sort(np.array(table.column("f_wide").combine_chunks().flatten(), np.float64))
    n, slack = values.size, 0.01 * values.size / 2
    ours, theirs = got["f_wide"].num_stats, tfdv["f_wide"].num_stats
    for field in ("mean", "std_dev"):
        assert getattr(ours, field) == pytest.approx(getattr(theirs, field), rel=1e-12)
    assert (ours.min, ours.max, ours.num_zeros) == (theirs.min, theirs.max, theirs.num_zeros)

    def rank(value):  # the value's rank interval in the data
        return np.searchsorted(values, value, "left"), np.searchsorted(values, value, "right")

    low, high = rank(ours.median)
    assert low - slack <= n // 2 <= high + slack
    for got_hist in ours.histograms:
        for bucket in got_hist.buckets:
            true = np.count_nonzero((values >= bucket.low_value) & (values <= bucket.high_value))
            if got_hist.type == Histogram.STANDARD:
                assert abs(bucket.sample_count - true) <= 2 * slack + 1
    for got_b, want_b in zip(ours.histograms[0].buckets, theirs.histograms[0].buckets):
        assert (got_b.low_value, got_b.high_value) == (want_b.low_value, want_b.high_value)
        assert abs(got_b.sample_count - want_b.sample_count) <= 2 * slack


def test_reference_implementation_equals_tfdv_on_its_goldens():
    """The numpy reference the other tests use is itself checked against TFDV."""
    for name in ("A", "B", "C"):
        table, stats = golden(name)
        for feature_name, kind in kinds_of(table):
            rows = table.column(feature_name).to_pylist()
            want = by_name(stats)[feature_name]
            expected = reference_proto(feature_name, kind, rows, table.num_rows)
            assert_close_feature(expected, want)


# -- the numpy reference on random data ---------------------------------------------


def reference_proto(name, kind, rows, num_examples):
    """The reference's statistics as a FeatureNameStatistics, for comparison."""
    feature = statistics_pb2.FeatureNameStatistics()
    feature.path.step.append(name)
    if kind == "string":
        r = ref.string_stats(rows, num_examples)
        feature.type = statistics_pb2.FeatureNameStatistics.STRING
        strings = feature.string_stats
        common = strings.common_stats
        if r["tot_num_values"]:
            strings.avg_length = r["avg_length"]
            strings.unique = r["unique"]
            strings.invalid_utf8_count = r["invalid_utf8_count"]
            for value, frequency in r["top_values"]:
                strings.top_values.add(value=value, frequency=frequency)
            for low, high, label, count in r["rank_histogram"]:
                strings.rank_histogram.buckets.add(low_rank=low, high_rank=high, label=label, sample_count=count)
    else:
        r = ref.numeric_stats(rows, num_examples)
        feature.type = (
            statistics_pb2.FeatureNameStatistics.INT if kind == "int" else statistics_pb2.FeatureNameStatistics.FLOAT
        )
        numbers = feature.num_stats
        common = numbers.common_stats
        if "mean" in r:
            for field in ("mean", "std_dev", "num_zeros", "min", "max", "median"):
                setattr(numbers, field, r[field])
            for kind_, buckets in ((Histogram.STANDARD, r["standard"]), (Histogram.QUANTILES, r["quantiles"])):
                histogram = numbers.histograms.add(type=kind_, num_nan=r["num_nan"])
                for low, high, count in buckets:
                    histogram.buckets.add(low_value=low, high_value=high, sample_count=count)
        elif r["num_nan"]:
            for kind_ in (Histogram.STANDARD, Histogram.QUANTILES):
                numbers.histograms.add(type=kind_, num_nan=r["num_nan"])
    common.num_non_missing, common.num_missing, common.tot_num_values = (
        r["num_non_missing"],
        r["num_missing"],
        r["tot_num_values"],
    )
    if r["num_non_missing"]:
        common.min_num_values, common.max_num_values = r["min_num_values"], r["max_num_values"]
        common.avg_num_values = r["avg_num_values"]
        histogram = common.num_values_histogram
        histogram.type = Histogram.QUANTILES
        for low, high, count in r["num_values_histogram"]:
            histogram.buckets.add(low_value=low, high_value=high, sample_count=count)
    return feature


def assert_close_feature(got, want, rel=1e-12):
    """Every number within ``rel`` (the reference sums in another order), every count and label equal."""
    from google.protobuf.json_format import MessageToDict

    def flatten(message, prefix=""):
        if isinstance(message, dict):
            for key, value in message.items():
                yield from flatten(value, f"{prefix}.{key}")
        elif isinstance(message, list):
            for index, value in enumerate(message):
                yield from flatten(value, f"{prefix}[{index}]")
        else:
            yield prefix, message

    a = dict(flatten(MessageToDict(got, preserving_proto_field_name=True)))
    b = dict(flatten(MessageToDict(want, preserving_proto_field_name=True)))
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    for key, value in b.items():
        other = a[key]
        if isinstance(value, float) or isinstance(other, float):
            x, y = float(other), float(value)
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=rel, abs=1e-9), key
        else:
            assert other == value, key


def random_rows(rng, n: int, kind: str, sizes=(1, 1)):
    """Rows of ``sizes[0]`` to ``sizes[1]`` values with missing rows (None), duplicates, NaN and infinities.

    Floats are rounded to tenths, so that the data stays in the sketches' exact range.
    """
    rows = []
    for _ in range(n):
        if rng.random() < 0.1:
            rows.append(None)
            continue
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        if kind == "string":
            words = [b"a", b"bb", b"ccc", "\u00e9t\u00e9".encode(), b"\xff", b""]
            rows.append([words[int(rng.integers(0, len(words)))] for _ in range(size)])
        elif kind == "int":
            rows.append([int(v) for v in rng.integers(-3, 40, size)])
        else:
            values = rng.normal(2.0, 3.0, size).round(1).astype(np.float32).astype(np.float64).tolist()
            special = rng.random()
            if values and special < 0.05:
                values[0] = math.nan
            elif values and special < 0.08:
                values[0] = math.inf if special < 0.07 else -math.inf
            elif values and special < 0.2:
                values[0] = 0.0
            rows.append(values)
    return rows


def arrow_column(rows, kind: str, layout: str) -> pa.Array:
    value_type = {"float": pa.float32(), "int": pa.int64(), "string": pa.binary()}[kind]
    if layout == "flat":
        return pa.array([None if r is None else r[0] for r in rows], value_type)
    if layout == "large_list":
        return pa.array(rows, pa.large_list(value_type))
    if layout == "fixed":
        return pa.array(rows, pa.list_(value_type, len(next(r for r in rows if r is not None))))
    return pa.array(rows, pa.list_(value_type))


@pytest.mark.parametrize("kind", ["float", "int", "string"])
@pytest.mark.parametrize("layout", ["flat", "list", "large_list", "fixed"])
def test_equals_the_numpy_reference(kind, layout):
    rng = np.random.default_rng(zlib.crc32(f"{kind}/{layout}".encode()))
    sizes = {"flat": (1, 1), "fixed": (3, 3)}.get(layout, (0, 3))  # lists: empty ones too
    rows = random_rows(rng, 3000, kind, sizes)
    column = arrow_column(rows, kind, layout)
    table = pa.table({"x": column})
    got = by_name(sharded_statistics(table, [("x", kind)], 7, seed=3))["x"]
    assert_close_feature(got, reference_proto("x", kind, rows, len(rows)))


def test_the_layouts_of_a_column_give_the_same_statistics():
    rng = np.random.default_rng(5)
    rows = random_rows(rng, 500, "float")
    results = [
        compute_statistics([pa.record_batch({"x": arrow_column(rows, "float", layout)})], [("x", "float")])
        for layout in ("flat", "list", "large_list")
    ]
    assert results[0] == results[1] == results[2]
    sliced = pa.array(rows, pa.list_(pa.float32())).slice(100, 300)  # offsets into shared buffers
    assert compute_statistics([pa.record_batch({"x": sliced})], [("x", "float")]) == compute_statistics(
        [pa.record_batch({"x": pa.array(rows[100:400], pa.list_(pa.float32()))})], [("x", "float")]
    )


def test_edge_cases():
    batch = pa.record_batch(
        {
            "all_nan": pa.array([math.nan, math.nan, None], pa.float32()),
            "all_missing": pa.array([None, None, None], pa.float32()),
            "only_inf": pa.array([math.inf, math.inf, -math.inf], pa.float32()),
            "constant": pa.array([7, 7, 7], pa.int64()),
            "empty_strings": pa.array([b"", b"", None]),
        }
    )
    features = [
        ("all_nan", "float"),
        ("all_missing", "float"),
        ("only_inf", "float"),
        ("constant", "int"),
        ("empty_strings", "string"),
        ("absent", "string"),
    ]
    stats = by_name(compute_statistics([batch, batch.slice(0, 0)], features))
    all_nan = stats["all_nan"].num_stats
    assert [h.num_nan for h in all_nan.histograms] == [2, 2] and not all_nan.histograms[0].buckets and all_nan.mean == 0
    assert all_nan.common_stats.num_missing == 1 and all_nan.common_stats.tot_num_values == 2
    missing = stats["all_missing"].num_stats
    assert (
        missing.common_stats.num_missing == 3
        and not missing.histograms
        and not missing.common_stats.HasField("num_values_histogram")
    )
    only_inf = stats["only_inf"].num_stats
    assert math.isnan(only_inf.mean) and (only_inf.min, only_inf.max) == (-math.inf, math.inf)
    assert [(b.low_value, b.high_value, b.sample_count) for b in only_inf.histograms[0].buckets] == [
        (math.inf, -math.inf, 3.0)
    ]
    constant = stats["constant"].num_stats
    assert (constant.mean, constant.std_dev, constant.median) == (7, 0, 7)
    assert [(b.low_value, b.high_value) for b in constant.histograms[0].buckets] == [(7, 7)]
    assert constant.histograms[0].buckets[0].sample_count == pytest.approx(3)
    empty = stats["empty_strings"].string_stats
    assert (empty.unique, empty.avg_length, empty.top_values[0].value, empty.top_values[0].frequency) == (1, 0, "", 2)
    absent = stats["absent"].string_stats  # a column no batch has: missing everywhere
    assert absent.common_stats.num_missing == 3 and absent.unique == 0


# -- on Beam ---------------------------------------------------------------------------


@pytest.mark.slow
def test_compute_statistics_on_beam_counts_strings_in_shards():
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from beam_jobs._statistics import ComputeStatistics

    table, want = golden("C")
    more, _ = golden("D")
    features = kinds_of(table) + kinds_of(more)
    columns = {
        **{n: table.column(n) for n in table.column_names},
        **{n: more.column(n).slice(0, table.num_rows) for n in more.column_names},
    }
    batches = pa.table(columns).to_batches(max_chunksize=400)
    expected = compute_statistics(batches, features)
    assert by_name(expected)["f_mstr"] == by_name(want)["f_mstr"]
    with beam.Pipeline() as pipeline:
        got = (
            pipeline
            | beam.Create(batches, reshuffle=True)
            | ComputeStatistics(features, num_shards=3)
            | beam.Map(lambda data: without_moments(statistics_pb2.DatasetFeatureStatisticsList.FromString(data)))
        )
        assert_that(got, equal_to([without_moments(expected)]))


def test_statistics_combine_fn_by_hand():
    """The CombineFn pickled as Beam ships it, accumulators pickled mid-way (their background work done first)."""
    from analyzers.combine_fns import StatisticsCombineFn

    table, want = golden("C")
    features = kinds_of(table)
    combine = pickle.loads(pickle.dumps(StatisticsCombineFn(features)))
    accumulators = []
    for shard in shards(table, 3, seed=9):
        accumulator = combine.create_accumulator()
        for batch in shard:
            accumulator = combine.add_input(accumulator, batch)
        accumulators.append(pickle.loads(pickle.dumps(combine.compact(accumulator))))
    merged = combine.merge_accumulators(iter(accumulators[::-1]))
    counts = {name: [count_values(values_per_row(table.column(name).combine_chunks())[0])] for name in ("f_mstr",)}
    got = combine.extract_output(merged).to_proto({name: top_values(t) for name, t in counts.items()})
    assert_same_statistics(got, want)
