"""Token counting, sharding and selection for vocabularies (analyzers._vocabulary).

References are plain Python: ``collections.Counter`` over the writable tokens,
sorted by ``(count, token bytes)`` descending as tf.Transform orders them.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers import _vocabulary as vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRING_DUMMY = b"49d0cd50-04bb-48c0-bc6f-5b575dce351a"


# -- helpers ---------------------------------------------------------------------
def as_bytes(token) -> bytes:
    return token if isinstance(token, bytes) else token.encode("utf-8")


def writable(token: bytes) -> bool:
    return token != b"" and b"\n" not in token and b"\r" not in token


def reference_counts(tokens) -> collections.Counter:
    return collections.Counter(t for t in map(as_bytes, tokens) if writable(t))


def reference_select(counter, top_k=None, frequency_threshold=None) -> list[tuple[bytes, int]]:
    rows = sorted(counter.items(), key=lambda item: (item[1], item[0]), reverse=True)
    if frequency_threshold is not None and frequency_threshold > 0:
        rows = [row for row in rows if row[1] >= frequency_threshold]
    return rows if top_k is None else rows[:top_k]


def table_dict(table: pa.Table) -> dict[bytes, int]:
    tokens, counts = table["token"].to_pylist(), table["count"].to_pylist()
    assert len(set(tokens)) == len(tokens), f"duplicate tokens in {tokens}"
    return dict(zip(tokens, counts, strict=True))


def table_rows(table: pa.Table) -> list[tuple[bytes, int]]:
    return list(zip(table["token"].to_pylist(), table["count"].to_pylist(), strict=True))


def assert_count_schema(table: pa.Table):
    assert table.schema.field("token").type == pa.binary()
    assert table.schema.field("count").type == pa.int64()


def random_tokens(rng, n: int, *, alphabet="abcdefghijklmnopqrstuvwxyzé0123456789 _-", max_len=12) -> list[str]:
    letters = np.array(list(alphabet))
    lengths = rng.integers(1, max_len + 1, size=n)
    return ["".join(rng.choice(letters, size=k)) for k in lengths]


# -- count_tokens ----------------------------------------------------------------
SAMPLE = ["a", "b", "a", "é", "a b", "b", "a"]
SAMPLE_COUNTS = {b"a": 3, b"b": 2, "é".encode(): 1, b"a b": 1}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda t: pa.array(t, pa.string()), id="arrow_string"),
        pytest.param(lambda t: pa.array(t, pa.large_string()), id="arrow_large_string"),
        pytest.param(lambda t: pa.array([s.encode() for s in t], pa.binary()), id="arrow_binary"),
        pytest.param(lambda t: pa.array([s.encode() for s in t], pa.large_binary()), id="arrow_large_binary"),
        pytest.param(lambda t: pa.chunked_array([pa.array(t[:3]), pa.array(t[3:])]), id="arrow_chunked"),
        pytest.param(lambda t: pa.array(["zz", "zz"] + t + ["yy"]).slice(2, len(t)), id="arrow_sliced"),
        pytest.param(lambda t: np.array([s.encode() for s in t], dtype=object), id="numpy_object_bytes"),
        pytest.param(lambda t: np.array(t, dtype=object), id="numpy_object_str"),
        pytest.param(lambda t: np.array(t), id="numpy_unicode"),
        pytest.param(lambda t: np.array([s.encode() for s in t]), id="numpy_fixed_bytes"),
        pytest.param(lambda t: [s.encode() for s in t], id="list_of_bytes"),
    ],
)
def test_count_tokens_input_kinds(make):
    table = vocab.count_tokens(make(SAMPLE))
    assert_count_schema(table)
    assert table_dict(table) == SAMPLE_COUNTS


def test_count_tokens_flattens_rank_2_arrays():
    tokens = np.array([[b"x", b"y", b"x"], [b"y", b"y", b"z"], [b"", b"x", b"q\n"]], dtype=object)
    assert table_dict(vocab.count_tokens(tokens)) == {b"x": 3, b"y": 3, b"z": 1}
    assert table_dict(vocab.count_tokens(tokens.astype(str))) == {b"x": 3, b"y": 3, b"z": 1}


def test_count_tokens_drops_empty_and_line_break_tokens():
    tokens = ["", "a\nb", "\n", "c\r", "\r\n", "x", " ", "x", "\t", "é\r", "ok"]
    table = vocab.count_tokens(np.array(tokens, dtype=object))
    # Only the empty token and tokens with \n or \r are dropped (tf.Transform's
    # r"^$|\C*[\n\r]\C*"); whitespace-only tokens are ordinary tokens.
    assert table_dict(table) == {b"x": 2, b" ": 1, b"\t": 1, b"ok": 1}
    assert table_dict(table) == dict(reference_counts(tokens))


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param(pa.array([], pa.string()), id="arrow_empty"),
        pytest.param(np.array([], dtype=object), id="numpy_empty"),
        pytest.param(np.zeros((0, 3), dtype=object), id="numpy_empty_2d"),
        pytest.param(np.array(["", "\n", "a\r"], dtype=object), id="nothing_writable"),
    ],
)
def test_count_tokens_with_nothing_to_count(tokens):
    table = vocab.count_tokens(tokens)
    assert table.num_rows == 0
    assert_count_schema(table)
    selected = vocab.select(table, None, None)
    np.testing.assert_array_equal(vocab.tokens_of(selected, "string"), np.array([STRING_DUMMY], dtype=object))


def test_count_tokens_ignores_nulls():
    assert table_dict(vocab.count_tokens(pa.array(["a", None, "a", None]))) == {b"a": 2}


def test_merge_counts_sums_equal_tokens():
    first = vocab.count_tokens(np.array(["a", "b", "a"], dtype=object))
    second = vocab.count_tokens(np.array(["b", "c"], dtype=object))
    merged = vocab.merge_counts([first, vocab.EMPTY_COUNTS, second, first])
    assert_count_schema(merged)
    assert table_dict(merged) == {b"a": 4, b"b": 3, b"c": 1}
    assert vocab.merge_counts([]).num_rows == 0
    assert vocab.merge_counts([vocab.EMPTY_COUNTS, vocab.EMPTY_COUNTS]).num_rows == 0
    assert table_dict(vocab.merge_counts([first])) == {b"a": 2, b"b": 1}


# -- select: order, frequency_threshold, top_k ------------------------------------
TIES = ["a"] * 3 + ["c"] * 2 + ["b"] * 2 + ["a b"] * 2 + ["é", "d", "B"]
TIES_ORDER = [b"a", b"c", b"b", b"a b", "é".encode(), b"d", b"B"]


def test_select_orders_by_count_then_token_bytes_descending():
    rng = np.random.default_rng(0)
    tokens = np.array(TIES, dtype=object)[rng.permutation(len(TIES))]
    selected = vocab.select(vocab.count_tokens(tokens), None, None)
    assert table_rows(selected) == [
        (b"a", 3),
        (b"c", 2),
        (b"b", 2),
        (b"a b", 2),
        ("é".encode(), 1),
        (b"d", 1),
        (b"B", 1),
    ]
    tokens_out = vocab.tokens_of(selected, "string")
    assert tokens_out.dtype == object
    assert list(tokens_out) == TIES_ORDER
    assert all(isinstance(t, bytes) for t in tokens_out)


def test_select_order_does_not_depend_on_batching():
    rng = np.random.default_rng(1)
    tokens = np.array(TIES * 3, dtype=object)[rng.permutation(3 * len(TIES))]
    tables = [vocab.count_tokens(part) for part in np.array_split(tokens, 5)]
    assert list(vocab.tokens_of(vocab.select(vocab.merge_counts(tables), None, None))) == TIES_ORDER


def test_int_tokens_are_ordered_as_decimal_strings():
    rng = np.random.default_rng(2)
    values = np.array([40, 4, 20, 2, 10, 1])[rng.permutation(6)]
    tokens = np.array([str(v).encode() for v in values], dtype=object)
    selected = vocab.select(vocab.count_tokens(tokens), None, None)
    assert list(vocab.tokens_of(selected, "int")) == [b"40", b"4", b"20", b"2", b"10", b"1"]
    # A count still beats the byte order.
    more = np.concatenate([tokens, np.array([b"1", b"1"], dtype=object)])
    assert list(vocab.tokens_of(vocab.select(vocab.count_tokens(more), None, None), "int"))[:2] == [
        b"1",
        b"40",
    ]


COUNTED = {b"a": 5, b"b": 4, b"c": 3, b"d": 3, b"e": 2, b"f": 1, b"g": 1}


def counted_table():
    tokens = [t for t, c in COUNTED.items() for _ in range(c)]
    return vocab.count_tokens(np.array(tokens[::-1], dtype=object))


@pytest.mark.parametrize("threshold", [None, 0, -1, 1, 2, 3, 4, 5, 6])
def test_frequency_threshold_keeps_counts_at_or_above(threshold):
    selected = vocab.select(counted_table(), None, threshold)
    assert table_rows(selected) == reference_select(COUNTED, None, threshold)
    if threshold is not None and threshold > 0:
        assert all(count >= threshold for _, count in table_rows(selected))
    if threshold == 3:
        assert [t for t, _ in table_rows(selected)] == [b"a", b"b", b"d", b"c"]


@pytest.mark.parametrize("top_k", [1, 2, 3, 4, 7, 100])
def test_top_k_keeps_the_first_k(top_k):
    selected = vocab.select(counted_table(), top_k, None)
    assert table_rows(selected) == reference_select(COUNTED, top_k, None)
    assert selected.num_rows == min(top_k, len(COUNTED))


def test_top_k_cuts_inside_a_tie_by_token_bytes():
    assert [t for t, _ in table_rows(vocab.select(counted_table(), 3, None))] == [b"a", b"b", b"d"]


@pytest.mark.parametrize(
    ("top_k", "threshold", "expected"),
    [
        (4, 2, [b"a", b"b", b"d", b"c"]),
        (6, 2, [b"a", b"b", b"d", b"c", b"e"]),  # threshold binds
        (2, 2, [b"a", b"b"]),  # top_k binds
        (3, 3, [b"a", b"b", b"d"]),
        (10, 6, []),
    ],
)
def test_top_k_and_frequency_threshold_together(top_k, threshold, expected):
    selected = vocab.select(counted_table(), top_k, threshold)
    assert [t for t, _ in table_rows(selected)] == expected
    assert table_rows(selected) == reference_select(COUNTED, top_k, threshold)


def test_empty_selection_becomes_the_dummy_token():
    nothing = vocab.select(counted_table(), None, 100)
    assert nothing.num_rows == 0
    string_tokens = vocab.tokens_of(nothing, "string")
    int_tokens = vocab.tokens_of(nothing, "int")
    assert string_tokens.dtype == object and list(string_tokens) == [STRING_DUMMY]
    assert int_tokens.dtype == object and list(int_tokens) == [b"-1"]
    assert list(vocab.tokens_of(vocab.EMPTY_COUNTS)) == [STRING_DUMMY]


# -- sharding --------------------------------------------------------------------
def shard_map(tokens: list[bytes], num_shards: int) -> dict[bytes, int]:
    ids = vocab.shard_ids(pa.array(tokens, pa.binary()), num_shards)
    return dict(zip(tokens, ids.tolist(), strict=True))


def test_shard_ids_are_stable_across_calls_and_batch_compositions():
    rng = np.random.default_rng(5)
    universe = sorted({t.encode() for t in random_tokens(rng, 600)})
    expected = shard_map(universe, 16)
    np.testing.assert_array_equal(
        vocab.shard_ids(pa.array(universe, pa.binary()), 16),
        vocab.shard_ids(pa.array(universe, pa.binary()), 16),
    )
    big = pa.array(universe, pa.binary())
    for trial in range(40):
        size = int(rng.integers(1, 60))
        picked = [universe[i] for i in rng.choice(len(universe), size=size)]  # with repeats
        as_strings = [t.decode() for t in picked]
        offset = int(rng.integers(0, len(universe) - 1))
        length = int(rng.integers(1, len(universe) - offset + 1))
        batches = {
            "binary": pa.array(picked, pa.binary()),
            "string": pa.array(as_strings, pa.string()),
            "large_string": pa.array(as_strings, pa.large_string()),
            "numpy_bytes": np.array(picked, dtype=object),
            "numpy_str": np.array(as_strings, dtype=object),
            "sliced": pa.array([b"junk" * 7] * 3 + picked + [b"tail"], pa.binary()).slice(3, size),
            "sliced_string": pa.array(["pad", "ding"] + as_strings).slice(2, size),
            "chunked": pa.chunked_array([pa.array(as_strings[: size // 2]), pa.array(as_strings[size // 2 :])]),
        }
        for kind, batch in batches.items():
            ids = vocab.shard_ids(batch, 16)
            assert ids.shape == (size,)
            assert ids.tolist() == [expected[t] for t in picked], f"trial {trial}, {kind}"
        window = big.slice(offset, length)
        assert window.offset == offset
        assert vocab.shard_ids(window, 16).tolist() == [expected[t] for t in universe[offset : offset + length]]


@pytest.mark.slow
def test_shard_ids_are_stable_across_processes():
    """Shards must not depend on Python's per-process string hash seed."""
    rng = np.random.default_rng(6)
    tokens = [t.encode() for t in random_tokens(rng, 200)]
    here = vocab.shard_ids(pa.array(tokens, pa.binary()), 16).tolist()
    script = (
        "import json, sys, pyarrow as pa\n"
        "from analyzers import _vocabulary as vocab\n"
        "tokens = [t.encode('latin-1') for t in json.load(sys.stdin)]\n"
        "print(json.dumps(vocab.shard_ids(pa.array(tokens, pa.binary()), 16).tolist()))\n"
    )
    for seed in ("0", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps([t.decode("latin-1") for t in tokens]),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == here


@pytest.mark.parametrize("num_shards", [1, 2, 3, 7, 16, 1000])
def test_shard_ids_are_in_range(num_shards):
    rng = np.random.default_rng(num_shards)
    tokens = pa.array(random_tokens(rng, 2000, max_len=40) + ["é" * 300, "x"])
    ids = vocab.shard_ids(tokens, num_shards)
    assert ids.shape == (len(tokens),)
    assert np.issubdtype(ids.dtype, np.integer)
    assert ids.min() >= 0 and ids.max() < num_shards
    if num_shards == 1:
        assert not ids.any()


def test_shard_ids_of_empty_array():
    assert vocab.shard_ids(pa.array([], pa.binary()), 16).shape == (0,)


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param(lambda rng: random_tokens(rng, 10_000), id="random"),
        pytest.param(lambda rng: [f"user_{i}" for i in range(10_000)], id="sequential_ids"),
        pytest.param(lambda rng: [str(i) for i in rng.permutation(10_000)], id="decimal_ints"),
    ],
)
def test_shard_ids_are_reasonably_balanced(tokens):
    rng = np.random.default_rng(9)
    distinct = sorted(set(tokens(rng)))
    ids = vocab.shard_ids(pa.array(distinct), 16)
    shares = np.bincount(ids, minlength=16) / len(distinct)
    assert len(shares) == 16
    assert shares.min() >= 0.03 and shares.max() <= 0.10, shares


def test_split_by_shard_partitions_a_count_table():
    rng = np.random.default_rng(10)
    counts = vocab.count_tokens(np.array(random_tokens(rng, 3000, max_len=3), dtype=object))
    pieces = vocab.split_by_shard(counts, 16)
    shards = [shard for shard, _ in pieces]
    assert len(shards) == len(set(shards)) and all(0 <= s < 16 for s in shards)
    union = {}
    for shard, piece in pieces:
        assert piece.num_rows > 0
        assert set(vocab.shard_ids(piece["token"].combine_chunks(), 16).tolist()) == {shard}
        union.update(table_dict(piece))
    assert union == table_dict(counts)
    assert sum(p.num_rows for _, p in pieces) == counts.num_rows
    assert vocab.split_by_shard(vocab.EMPTY_COUNTS, 16) == []
    ((only_shard, only_table),) = vocab.split_by_shard(counts, 1)
    assert only_shard == 0 and table_dict(only_table) == table_dict(counts)


# -- sharded selection == global selection --------------------------------------
def sharded_vocabulary(batches, num_shards, top_k, frequency_threshold) -> pa.Table:
    """What the pipeline does: count per batch, split by shard, sum per shard,
    select per shard, union the shard results, select again."""
    per_shard = collections.defaultdict(list)
    for batch in batches:
        for shard, table in vocab.split_by_shard(vocab.count_tokens(batch), num_shards):
            per_shard[shard].append(table)
    selected = [vocab.select(vocab.merge_counts(tables), top_k, frequency_threshold) for tables in per_shard.values()]
    return vocab.select(vocab.merge_counts(selected), top_k, frequency_threshold)


# str and raw bytes (invalid UTF-8 included), few distinct values so that counts tie.
_TOKENS = st.lists(
    st.one_of(st.text(alphabet="abAé \n\r\x00", max_size=3), st.binary(max_size=2)),
    max_size=80,
)


@settings(max_examples=50, deadline=None)
@given(
    tokens=_TOKENS,
    cuts=st.lists(st.integers(0, 80), max_size=5),
    num_shards=st.sampled_from([1, 2, 3, 16]),
    top_k=st.one_of(st.none(), st.integers(1, 12)),
    frequency_threshold=st.one_of(st.none(), st.integers(0, 5)),
)
def test_property_sharded_select_equals_global_select(tokens, cuts, num_shards, top_k, frequency_threshold):
    array = np.array(tokens, dtype=object)
    batches = np.split(array, sorted(min(c, len(array)) for c in cuts))
    expected = reference_select(reference_counts(tokens), top_k, frequency_threshold)

    one_pass = vocab.select(vocab.count_tokens(array), top_k, frequency_threshold)
    sharded = sharded_vocabulary(batches, num_shards, top_k, frequency_threshold)
    assert table_rows(one_pass) == expected
    assert table_rows(sharded) == expected
    tokens_out = list(vocab.tokens_of(sharded, "string"))
    assert tokens_out == ([t for t, _ in expected] or [STRING_DUMMY])
