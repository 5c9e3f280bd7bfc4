"""FusedAnalyzersCombineFn and TokenCountsCombineFn: by hand and in a Beam pipeline.

By hand, the CombineFn is pickled (as Beam ships it), every accumulator is
pickled and unpickled, inputs and accumulators are passed as generators (the
contract must not rely on lists), and merges run in varied orders. In a real
DirectRunner pipeline the same combines must give numpy's answer.
"""

from __future__ import annotations

import collections
import pickle

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
from apache_beam.testing.util import BeamAssertException, assert_that

from analyzers import MeanAndVarSpec, MinMaxSpec, QuantilesSpec, SizeSpec, SumSpec
from analyzers import _vocabulary as vocab
from analyzers.combine_fns import FusedAnalyzersCombineFn, TokenCountsCombineFn

INT64_MAX = np.iinfo(np.int64).max
RTOL = 1e-6


# -- data and numpy references ---------------------------------------------------
def make_columns(rng, n: int) -> dict[str, np.ndarray]:
    dense = rng.normal([1.0, -2.0, 1e6], [1.0, 3.0, 1.0], size=(n, 3)).astype(np.float32)
    if n:
        dense[rng.integers(0, n), 0] = np.nan  # ignored by mean/var
    return {
        "dense": dense,
        "ints": rng.integers(-500, 500, size=n, dtype=np.int64),
        "scalar": rng.normal(3.0, 2.0, size=n).astype(np.float32),
    }


SPECS = [
    MeanAndVarSpec((3,), False, "float32", key="mean_var_dense"),
    MinMaxSpec((), True, "int64", key="min_max_ints"),
    MinMaxSpec((3,), False, "float32", key="min_max_dense"),
    SumSpec((), True, "float32", key="sum_scalar"),
    SumSpec((), False, "int64", key="sum_ints"),
    SizeSpec((3,), True, key="size_dense"),
    MeanAndVarSpec((), True, "float32", key="mean_var_ints"),
    QuantilesSpec(5, 0.01, (), True, key="quantiles_scalar"),
]
SOURCE = {
    "mean_var_dense": "dense",
    "min_max_ints": "ints",
    "min_max_dense": "dense",
    "sum_scalar": "scalar",
    "sum_ints": "ints",
    "size_dense": "dense",
    "mean_var_ints": "ints",
    "quantiles_scalar": "scalar",
}


def analyzer_inputs(columns: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, ...]]:
    """One batch as the pipeline feeds it: ``{key: tuple of arrays}``."""
    return {spec.key: (columns[SOURCE[spec.key]],) for spec in SPECS}


def batches_of(columns, cuts):
    pieces = {name: np.split(values, cuts) for name, values in columns.items()}
    return [analyzer_inputs({name: pieces[name][i] for name in columns}) for i in range(len(cuts) + 1)]


def _finite_mean_var(x, axis):
    x = x.astype(np.float64)
    if axis is None:
        x = x.ravel()[:, None]
    means, variances = [], []
    for column in x.T:
        finite = column[np.isfinite(column)]
        means.append(np.mean(finite) if finite.size else 0.0)
        variances.append(np.var(finite) if finite.size else 0.0)
    shape = () if axis is None else x.shape[1:]
    return (
        np.array(means).reshape(shape).astype(np.float32),
        np.array(variances).reshape(shape).astype(np.float32),
    )


def numpy_reference(columns) -> dict[str, tuple[np.ndarray, ...]]:
    dense, ints, scalar = columns["dense"], columns["ints"], columns["scalar"]
    n = len(ints)
    return {
        "mean_var_dense": _finite_mean_var(dense, 0),
        "min_max_ints": (np.min(ints), np.max(ints)) if n else (np.int64(INT64_MAX), np.int64(-INT64_MAX)),
        "min_max_dense": (
            (np.min(dense, axis=0), np.max(dense, axis=0))
            if n
            else (np.full(3, np.inf, np.float32), np.full(3, -np.inf, np.float32))
        ),
        "sum_scalar": (np.float32(np.sum(scalar.astype(np.float64))),),
        "sum_ints": (np.int64(np.sum(ints)),),
        "size_dense": (np.int64(dense.size),),
        "mean_var_ints": _finite_mean_var(ints, None),
    }


def one_pass_quantiles(columns):
    spec = SPECS[-1]
    return spec.extract(spec.add(spec.create(), (columns["scalar"],)))


def assert_fused_output(output, columns):
    assert set(output) == {spec.key for spec in SPECS}
    expected = numpy_reference(columns)
    for key, want in expected.items():
        got = output[key]
        assert isinstance(got, tuple) and len(got) == len(want), key
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert np.dtype(g.dtype) == np.dtype(w.dtype), f"{key}[{i}]: dtype {g.dtype}, expected {w.dtype}"
            assert np.shape(g) == np.shape(w), f"{key}[{i}]: shape {np.shape(g)}, expected {np.shape(w)}"
            if np.dtype(w.dtype).kind == "f" and not key.startswith("min_max"):
                np.testing.assert_allclose(g, w, rtol=RTOL, err_msg=f"{key}[{i}]")
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{key}[{i}]")
    (boundaries,) = output["quantiles_scalar"]
    assert boundaries.dtype == np.float32 and boundaries.shape == (1, 4)
    np.testing.assert_array_equal(boundaries, one_pass_quantiles(columns)[0])
    scalar = np.sort(columns["scalar"].astype(np.float64))
    if scalar.size:
        assert np.all(np.diff(boundaries[0]) >= 0)
        # Exact sketch on small data: boundary i sits at rank i * n / 5 (within one row).
        for i, b in enumerate(boundaries[0].astype(np.float64), start=1):
            lo, hi = np.searchsorted(scalar, b, "left"), np.searchsorted(scalar, b, "right")
            target = i * scalar.size / 5
            assert lo - 1 <= target <= hi + 1, (i, b, lo, hi, target)


# -- FusedAnalyzersCombineFn by hand ---------------------------------------------
def drive_fused(batches, num_shards, rng, order):
    combine_fn = pickle.loads(pickle.dumps(FusedAnalyzersCombineFn(SPECS)))
    shuffled = [batches[i] for i in rng.permutation(len(batches))]
    cuts = sorted(rng.integers(0, len(shuffled) + 1, size=num_shards - 1).tolist())
    accumulators = []
    for shard in np.split(np.arange(len(shuffled)), cuts):
        accumulator = combine_fn.create_accumulator()
        for batch in (shuffled[i] for i in shard):
            accumulator = combine_fn.add_input(accumulator, batch)
        accumulator = combine_fn.compact(accumulator)
        accumulators.append(pickle.loads(pickle.dumps(accumulator)))
    if order == "reversed":
        accumulators = accumulators[::-1]
    if order == "tree":
        while len(accumulators) > 1:
            pairs = [accumulators[i : i + 2] for i in range(0, len(accumulators), 2)]
            accumulators = [combine_fn.merge_accumulators(a for a in pair) for pair in pairs]
        merged = accumulators[0]
    else:
        merged = combine_fn.merge_accumulators(a for a in accumulators)
    return combine_fn.extract_output(pickle.loads(pickle.dumps(combine_fn.compact(merged))))


@pytest.mark.parametrize("order", ["forward", "reversed", "tree"])
@pytest.mark.parametrize("num_shards", [1, 2, 7])
def test_fused_combine_fn_by_hand_equals_numpy(num_shards, order):
    rng = np.random.default_rng(100 + num_shards)
    columns = make_columns(rng, 300)
    cuts = sorted(rng.integers(0, 301, size=11).tolist())  # 12 batches, some may be empty
    output = drive_fused(batches_of(columns, cuts), num_shards, rng, order)
    assert_fused_output(output, columns)


def test_fused_combine_fn_of_nothing():
    combine_fn = FusedAnalyzersCombineFn(SPECS)
    empty = make_columns(np.random.default_rng(0), 0)
    output = combine_fn.extract_output(combine_fn.merge_accumulators(iter([combine_fn.create_accumulator()])))
    expected = numpy_reference(empty)
    for key, want in expected.items():
        for g, w in zip(output[key], want, strict=True):
            assert np.dtype(g.dtype) == np.dtype(w.dtype)
            np.testing.assert_array_equal(g, w, err_msg=key)
    np.testing.assert_array_equal(output["mean_var_dense"][0], np.zeros(3, np.float32))
    np.testing.assert_array_equal(output["quantiles_scalar"][0], np.zeros((1, 4), np.float32))
    # Empty batches change nothing either.
    accumulator = combine_fn.add_input(combine_fn.create_accumulator(), analyzer_inputs(empty))
    again = combine_fn.extract_output(accumulator)
    for key in expected:
        for g, w in zip(again[key], output[key], strict=True):
            np.testing.assert_array_equal(g, w, err_msg=key)


def test_fused_merge_mutates_only_the_first_accumulator():
    rng = np.random.default_rng(4)
    combine_fn = FusedAnalyzersCombineFn(SPECS)
    first_cols, second_cols = make_columns(rng, 50), make_columns(rng, 40)
    first = combine_fn.add_input(combine_fn.create_accumulator(), analyzer_inputs(first_cols))
    second = combine_fn.add_input(combine_fn.create_accumulator(), analyzer_inputs(second_cols))
    second_before = combine_fn.extract_output(pickle.loads(pickle.dumps(second)))
    merged = combine_fn.merge_accumulators(iter([first, second]))
    assert merged is first
    combine_fn.add_input(merged, analyzer_inputs(make_columns(rng, 30)))
    second_after = combine_fn.extract_output(second)
    for key, values in second_before.items():
        for before, after in zip(values, second_after[key], strict=True):
            np.testing.assert_array_equal(before, after, err_msg=key)
    assert_fused_output(second_after, second_cols)


# -- TokenCountsCombineFn by hand ------------------------------------------------
WORDS = np.array(["a", "b", "c", "a b", "é", "B", "x\ny", "", "zz"], dtype=object)


def token_batches(rng, num_batches: int) -> list[np.ndarray]:
    return [WORDS[rng.integers(0, len(WORDS), size=int(rng.integers(0, 40)))] for _ in range(num_batches)]


def expected_counts(batches) -> dict[bytes, int]:
    counter = collections.Counter()
    for batch in batches:
        counter.update(t.encode() for t in batch if t and "\n" not in t and "\r" not in t)
    return dict(counter)


def table_dict(table: pa.Table) -> dict[bytes, int]:
    tokens, counts = table["token"].to_pylist(), table["count"].to_pylist()
    assert len(set(tokens)) == len(tokens)
    return dict(zip(tokens, counts, strict=True))


@pytest.mark.parametrize("num_shards", [1, 2, 7])
def test_token_counts_combine_fn_by_hand(num_shards):
    rng = np.random.default_rng(num_shards)
    batches = token_batches(rng, 60)  # > _FOLD_AT tables per accumulator: exercises folding
    combine_fn = pickle.loads(pickle.dumps(TokenCountsCombineFn()))
    cuts = sorted(rng.integers(0, len(batches) + 1, size=num_shards - 1).tolist())
    accumulators = []
    for shard in np.split(np.arange(len(batches)), cuts):
        accumulator = combine_fn.create_accumulator()
        for table in (vocab.count_tokens(batches[i]) for i in shard):
            accumulator = combine_fn.add_input(accumulator, table)
            assert len(accumulator) < TokenCountsCombineFn._FOLD_AT
        accumulators.append(pickle.loads(pickle.dumps(combine_fn.compact(accumulator))))
    for order in (accumulators, accumulators[::-1]):
        fresh = [pickle.loads(pickle.dumps(a)) for a in order]
        merged = combine_fn.merge_accumulators(a for a in fresh)
        result = combine_fn.extract_output(combine_fn.compact(merged))
        assert result.schema.field("token").type == pa.binary()
        assert result.schema.field("count").type == pa.int64()
        assert table_dict(result) == expected_counts(batches)


def test_token_counts_merge_folds_and_mutates_only_the_first():
    combine_fn = TokenCountsCombineFn()
    rng = np.random.default_rng(8)
    accumulators = []
    for _ in range(10):
        accumulator = combine_fn.create_accumulator()
        for batch in token_batches(rng, 3):
            accumulator = combine_fn.add_input(accumulator, vocab.count_tokens(batch))
        accumulators.append(accumulator)
    snapshots = [[table_dict(t) for t in a] for a in accumulators]
    merged = combine_fn.merge_accumulators(a for a in accumulators)
    assert merged is accumulators[0]
    assert len(merged) < TokenCountsCombineFn._FOLD_AT  # 30 tables were folded on the way
    for accumulator, snapshot in zip(accumulators[1:], snapshots[1:], strict=True):
        assert [table_dict(t) for t in accumulator] == snapshot
    total = collections.Counter()
    for snapshot in snapshots:
        for table in snapshot:
            total.update(table)
    assert table_dict(combine_fn.extract_output(merged)) == dict(total)


def test_token_counts_of_nothing():
    combine_fn = TokenCountsCombineFn()
    result = combine_fn.extract_output(combine_fn.create_accumulator())
    assert result.num_rows == 0
    assert list(vocab.tokens_of(vocab.select(result, None, None))) == [b"49d0cd50-04bb-48c0-bc6f-5b575dce351a"]


# -- in a real Beam pipeline -----------------------------------------------------
def _fail(message):
    raise BeamAssertException(message)


def fused_matcher(columns):
    def match(actual):
        if len(actual) != 1:
            _fail(f"expected one combined output, got {len(actual)}")
        try:
            assert_fused_output(actual[0], columns)
        except AssertionError as error:
            _fail(str(error))

    return match


def token_counts_matcher(batches, num_shards):
    expected = expected_counts(batches)

    def match(actual):
        seen = {}
        for shard, table in actual:
            counts = table_dict(table)
            if set(vocab.shard_ids(pa.array(list(counts), pa.binary()), num_shards).tolist()) - {shard}:
                _fail(f"shard {shard} holds tokens of another shard: {counts}")
            if set(seen) & set(counts):
                _fail(f"token in two shards: {set(seen) & set(counts)}")
            seen.update(counts)
        if seen != expected:
            _fail(f"counts {seen} != expected {expected}")

    return match


def vocabulary_matcher(expected_tokens):
    def match(actual):
        if len(actual) != 1 or list(actual[0]) != expected_tokens:
            _fail(f"vocabulary {actual} != {expected_tokens}")

    return match


def _count_and_shard(batch, num_shards):
    return vocab.split_by_shard(vocab.count_tokens(batch), num_shards)


@pytest.mark.slow
def test_combine_fns_in_a_direct_runner_pipeline():
    rng = np.random.default_rng(2024)
    columns = make_columns(rng, 500)
    numeric_batches = batches_of(columns, sorted(rng.integers(0, 501, size=19).tolist()))
    token_input = token_batches(rng, 50)
    num_shards = 4
    selected = vocab.select(vocab.merge_counts([vocab.count_tokens(b) for b in token_input]), 4, 2)
    expected_vocabulary = list(vocab.tokens_of(selected))
    assert len(expected_vocabulary) == 4

    with beam.Pipeline(runner="DirectRunner") as pipeline:
        fused = (
            pipeline
            | "CreateBatches" >> beam.Create(numeric_batches)
            | "Fused" >> beam.CombineGlobally(FusedAnalyzersCombineFn(SPECS))
        )
        assert_that(fused, fused_matcher(columns), label="CheckFused")

        empty = (
            pipeline
            | "CreateNothing" >> beam.Create([])
            | "FusedOfNothing" >> beam.CombineGlobally(FusedAnalyzersCombineFn(SPECS))
        )
        assert_that(empty, fused_matcher(make_columns(np.random.default_rng(0), 0)), label="CheckEmpty")

        shard_counts = (
            pipeline
            | "CreateTokens" >> beam.Create(token_input)
            | "CountAndShard" >> beam.FlatMap(_count_and_shard, num_shards)
            | "SumPerShard" >> beam.CombinePerKey(TokenCountsCombineFn())
        )
        assert_that(shard_counts, token_counts_matcher(token_input, num_shards), label="CheckShards")

        vocabulary = (
            shard_counts
            | "SelectInShard" >> beam.Map(lambda item: vocab.select(item[1], 4, 2))
            | "Union" >> beam.CombineGlobally(TokenCountsCombineFn())
            | "SelectGlobal" >> beam.Map(lambda counts: vocab.tokens_of(vocab.select(counts, 4, 2)))
        )
        assert_that(vocabulary, vocabulary_matcher(expected_vocabulary), label="CheckVocabulary")


@pytest.mark.slow
def test_pipeline_matcher_catches_a_wrong_answer():
    """The matchers above really run and really fail: a wrong expectation fails the pipeline."""
    rng = np.random.default_rng(1)
    columns = make_columns(rng, 50)
    wrong = {name: values.copy() for name, values in columns.items()}
    wrong["ints"][0] += 1
    with pytest.raises(Exception, match="sum_ints|min_max_ints|mean_var_ints"):
        with beam.Pipeline(runner="DirectRunner") as pipeline:
            fused = (
                pipeline
                | beam.Create(batches_of(columns, [10, 30]))
                | beam.CombineGlobally(FusedAnalyzersCombineFn(SPECS))
            )
            assert_that(fused, fused_matcher(wrong))
