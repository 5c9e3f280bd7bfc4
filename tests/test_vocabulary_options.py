"""Vocabulary options: the math (split, merged, pickled, sharded) against one-pass references, and the API.

The supervised scores are checked against tf.Transform 1.21's own output on a
small data set (recorded from a live run, one batch); ``test_vocabulary_parity``
checks everything against tf.Transform on real data.
"""

from __future__ import annotations

import pickle

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf

import preprocessing as pp
from analyzers import VocabularySpec
from analyzers import _vocabulary as vocab
from beam_jobs._combiners import ShardedVocabularies
from featurebeam_base.errors import InputError
from preprocessing.engine import run_in_memory
from tests.harness import collect, collected

# tf.Transform 1.21, live, one batch: rows of (tokens, label) and its files for them.
ROWS = [
    (["a", "b"], 1), (["a"], 1), (["a", "c"], 0), (["b", "c"], 0), (["c"], 0),
    (["d"], 1), (["a", "d"], 1), (["e"], 0), (["f"], 1), (["a", "c"], 0),
]  # fmt: skip
TFT_FILES = {
    "mi_md0": "3.999914373202891 c\n1.9999571866014445 d\n0.9999785933007218 f\n0.9999785933007218 e\n"
    "0.14524726446691572 a\n0.0 b\n",
    "mi_md1": "3.999914373202891 c\n0 f\n0 e\n0 d\n0 b\n0 a\n",
    "mi_default": "0 f\n0 e\n0 d\n0 c\n0 b\n0 a\n",
    "ami_md0": "3.449967943601237 c\n1.111068297712556 d\n-2.1406699278192498e-05 f\n-2.1406699278192498e-05 e\n"
    "-0.2855756792770959 a\n-0.8888888888888884 b\n",
    "mi_3_classes": "2.9999091461943403 a\n2.9477877087928164 c\n1.7369255107127874 e\n1.3218888828498538 f\n"
    "1.0588572210222078 d\n1.0588572210222078 b\n",
}
THREE_CLASSES = [2, 2, 1, 0, 0, 2, 1, 0, 2, 1]


def labeled_inputs(labels=None):
    labels = [label for _, label in ROWS] if labels is None else labels
    tokens = np.array([t.encode() for row, _ in ROWS for t in row], object)
    token_labels = np.array([label for (row, _), label in zip(ROWS, labels) for _ in row], np.int64)
    return tokens, token_labels, np.array(labels, np.int64)


def text(entries) -> str:
    return "".join(e.decode() + "\n" for e in entries)


def extract(spec, batches):
    accumulator = spec.create()
    for batch in batches:
        accumulator = spec.add(accumulator, batch)
    return spec.extract(accumulator)


def split(inputs: tuple, parts: int, rng) -> list[tuple]:
    """``(tokens, token labels, row labels)`` cut into ``parts`` batches of whole rows, shuffled."""
    rows = np.arange(len(ROWS))
    rng.shuffle(rows)
    sizes = [len(row) for row, _ in ROWS]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    batches = []
    for chunk in np.array_split(rows, parts):
        index = np.concatenate([np.arange(starts[r], starts[r + 1]) for r in chunk]).astype(int)
        batches.append((inputs[0][index], inputs[1][index], inputs[2][chunk]))
    return batches


SUPERVISED = {
    "mi_md0": dict(min_diff_from_avg=0),
    "mi_md1": dict(min_diff_from_avg=1),
    "mi_default": dict(),
    "ami_md0": dict(min_diff_from_avg=0, use_adjusted_mutual_info=True),
}


@pytest.mark.parametrize("name", sorted(SUPERVISED))
@pytest.mark.parametrize("parts", [1, 2, 7])
def test_mutual_information_equals_tf_transforms_however_split(name, parts):
    spec = VocabularySpec(None, None, "v", labeled=True, store_frequency=True, key="k", **SUPERVISED[name])
    batches = split(labeled_inputs(), parts, np.random.default_rng(parts))
    accumulators = [spec.add(spec.create(), batch) for batch in batches]
    merged = pickle.loads(pickle.dumps(accumulators[-1]))
    for other in reversed(accumulators[:-1]):
        merged = spec.merge(merged, pickle.loads(pickle.dumps(other)))
    entries, size = spec.extract(spec.compact(merged))
    assert text(entries) == TFT_FILES[name]
    assert int(size) == 6


def test_mutual_information_with_three_classes():
    spec = VocabularySpec(None, None, "v", labeled=True, store_frequency=True, min_diff_from_avg=0, key="k")
    assert text(extract(spec, [labeled_inputs(THREE_CLASSES)])[0]) == TFT_FILES["mi_3_classes"]


def test_weighted_mutual_information_matches_the_reference():
    # tf.Transform's weighted score for one batch (its float32 sums are exact for these weights)
    rows = [("a", 1, 1.0), ("a", 1, 2.0), ("a", 0, 0.5), ("b", 0, 1.0), ("b", 0, 3.0), ("c", 1, 1.5), ("d", 0, 1.0)]
    tokens = np.array([r[0].encode() for r in rows], object)
    labels = np.array([r[1] for r in rows])
    weights = np.array([r[2] for r in rows], np.float32)
    spec = VocabularySpec(
        None, None, "v", labeled=True, weighted=True, store_frequency=True, min_diff_from_avg=0, key="k"
    )
    entries, _ = extract(spec, [(tokens, labels, labels, weights, weights)])
    n, y1 = 10.0, 4.5  # total weight, weight of label 1
    expected = {}
    for token in "abcd":
        mine = [r for r in rows if r[0] == token]
        x = sum(w for *_, w in mine)
        score = 0.0
        for label, y in ((0, n - y1), (1, y1)):
            share = np.float32(sum(w for _, lab, w in mine if lab == label) / x)
            nij = float(np.clip(share, np.float32(1e-6), np.float32(1 - 1e-6))) * x
            score += nij * (np.log2(nij) + np.log2(n) - np.log2(x) - np.log2(y))
        expected[token] = score
    got = {e.split(b" ")[1].decode(): float(e.split(b" ")[0]) for e in entries}
    # tf.Transform (and featurebeam with it) rounds the mean weight to float32: n is 10 to 1e-7
    assert got == pytest.approx(expected, rel=1e-6)
    assert [e.split(b" ")[1].decode() for e in entries] == sorted(got, key=lambda t: -got[t]) and len(got) == 4


def test_weighted_counts_are_exact_sums_of_float32_weights():
    tokens = np.array([b"x", b"y", b"x", b"x", b"y", b"z"], object)
    weights = np.array([0.1, 0.7, 0.2, 3.9, 0.3, 0.0], np.float32)
    spec = VocabularySpec(None, 0.5, "v", weighted=True, store_frequency=True, key="k")
    one = extract(spec, [(tokens, weights)])[0]
    several = extract(spec, [(tokens[i : i + 1], weights[i : i + 1]) for i in (5, 3, 0, 4, 1, 2)])[0]
    x = float(np.float64(np.float32(0.1)) + np.float64(np.float32(0.2)) + np.float64(np.float32(3.9)))
    y = float(np.float64(np.float32(0.7)) + np.float64(np.float32(0.3)))
    assert list(one) == list(several) == [f"{x!r} x".encode(), f"{y!r} y".encode()]  # z: 0.0 < 0.5


def frequency_spec(**options):
    return VocabularySpec(options.pop("top_k", None), options.pop("frequency_threshold", None), "v", key="k", **options)


COUNTS = {b"a_1": 5, b"a_2": 4, b"b_1": 3, b"b_2": 3, b"c_1": 1, b"d": 2}
TOKENS = np.array([t for t, k in COUNTS.items() for _ in range(k)], object)


@pytest.mark.parametrize(
    "options, expected",
    [
        (dict(top_k=1, key_fn=lambda t: t[:1], coverage_top_k=1), [b"a_1", b"b_2", b"d", b"c_1"]),
        (
            dict(frequency_threshold=4, key_fn=lambda t: t[:1], coverage_frequency_threshold=3),
            [b"a_1", b"a_2", b"b_2", b"b_1"],
        ),
        (dict(reserved_tokens=(b"<pad>", b"b_1")), [b"<pad>", b"b_1", b"a_1", b"a_2", b"b_2", b"d", b"c_1"]),
    ],
)  # fmt: skip
def test_coverage_fingerprint_and_reserved_tokens(options, expected):
    spec = frequency_spec(**options)
    rng = np.random.default_rng(0)
    tokens = TOKENS.copy()
    rng.shuffle(tokens)
    assert list(extract(spec, [(tokens[:7],), (tokens[7:],)])[0]) == expected


def test_fingerprint_order_is_sha1():
    import hashlib

    entries = extract(frequency_spec(fingerprint_shuffle=True), [(TOKENS,)])[0]
    assert list(entries) == sorted(COUNTS, key=lambda t: hashlib.sha1(t).digest())
    top = extract(frequency_spec(fingerprint_shuffle=True, top_k=3), [(TOKENS,)])[0]  # filters first, then shuffles
    assert list(top) == sorted([b"a_1", b"a_2", b"b_2"], key=lambda t: hashlib.sha1(t).digest())


def test_empty_vocabularies_and_the_dummy_entry():
    nothing = np.array([], object)
    assert list(extract(frequency_spec(), [(nothing,)])[0]) == [vocab.EMPTY_VOCABULARY_DUMMY["string"]]
    entries, size = extract(frequency_spec(reserved_tokens=(b"<r>",)), [(nothing,)])
    assert list(entries) == [b"<r>"] and int(size) == 2
    entries, size = extract(frequency_spec(top_k=2, store_frequency=True, dtype="int"), [(nothing,)])
    assert list(entries) == [b"1 -1"] and int(size) == 1


@pytest.mark.parametrize("num_shards", [1, 3])
def test_sharded_beam_combine_equals_one_pass(num_shards):
    specs = [
        VocabularySpec(2, None, "mi", labeled=True, min_diff_from_avg=0, store_frequency=True, key="mi"),
        VocabularySpec(1, None, "cov", key_fn=lambda t: t[:1], coverage_top_k=1, store_frequency=True, key="cov"),
    ]
    tokens, token_labels, row_labels = labeled_inputs()
    batches = [
        {"mi": b, "cov": (b[0],)} for b in split((tokens, token_labels, row_labels), 3, np.random.default_rng(1))
    ]
    with beam.Pipeline() as pipeline:
        result = pipeline | beam.Create(batches, reshuffle=False) | ShardedVocabularies(specs, num_shards)
        directory = collect(result)
    (found,) = collected(directory)
    for spec in specs:
        expected = extract(spec, [batch[spec.key] for batch in batches])
        assert list(found[spec.key][0]) == list(expected[0]) and int(found[spec.key][1]) == int(expected[1])


def test_score_formatting_is_pythons():
    assert vocab.format_score(3.0, True) == b"3"
    assert vocab.format_score(4.199999988079071, False) == b"4.199999988079071"
    assert vocab.format_score(3.0, False) == b"3.0"
    assert vocab.format_score(1e-05, False) == b"1e-05"
    assert vocab.format_score(float("nan"), True) == b"nan"


def test_bad_labels_are_input_errors():
    spec = VocabularySpec(None, None, "v", labeled=True, key="k")
    tokens, token_labels, rows = labeled_inputs()
    with pytest.raises(InputError, match="-1 for a missing label"):
        spec.add(spec.create(), (tokens, token_labels - 2, rows - 2))
    repeated = (np.array([b"a", b"a", b"b"], object), np.array([1, 1, 0]), np.array([1]))
    with pytest.raises(InputError, match="token 'a' occurs 2 times but there are only 1 rows"):
        spec.extract(spec.add(spec.create(), repeated))


# ---------------------------------------------------------------------------
# The API, traced and run in memory


COMPANIES = np.array([b"Flash", b"Blue", b"Flash", b"Sun", b"Blue", b"Flash"], object)


def _run(fn, **columns):
    return run_in_memory(fn, columns or {"c": COMPANIES})


def test_lookup_fn_gets_a_readable_path_and_sets_the_domain():
    def lookup_fn(x, path):
        table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER
            ),
            default_value=-5,
        )
        return table.lookup(x), table.size()

    def fn(inputs):
        ids = pp.apply_vocabulary(inputs["c"], pp.vocabulary(inputs["c"], top_k=2), lookup_fn=lookup_fn)
        return {"ids": ids, "buckets": tf.zeros_like(ids) + pp.get_num_buckets_for_transformed_feature(ids)}

    result = _run(fn)
    np.testing.assert_array_equal(result["ids"], [0, 1, 0, -5, 1, 0])
    np.testing.assert_array_equal(result["buckets"], [2] * 6)


def test_num_buckets_counts_a_default_value_beyond_the_vocabulary():
    def fn(inputs):
        ids = pp.compute_and_apply_vocabulary(inputs["c"], default_value=99)
        return {"buckets": tf.zeros_like(ids) + pp.get_num_buckets_for_transformed_feature(ids)}

    np.testing.assert_array_equal(_run(fn)["buckets"], [100] * 6)


def test_vocabularies_of_list_features_with_labels():
    def fn(inputs):
        ids = pp.compute_and_apply_vocabulary(inputs["words"], labels=inputs["label"], store_frequency=True)
        return {"ids": ids}

    words = [[b"buy", b"now"], [b"buy"], [], [b"now", b"the"], [b"the"]]
    result = run_in_memory(fn, {"words": words, "label": np.array([1, 1, 0, 0, 0])})
    assert [list(r) for r in result["ids"]] == [[0, 2], [0], [], [2, 1], [1]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c, i: pp.vocabulary(c, coverage_top_k=2), "`key_fn` is required with `coverage_top_k`"),
        (lambda c, i: pp.vocabulary(c, key_fn=len), "`key_fn` needs `coverage_top_k`"),
        (lambda c, i: pp.vocabulary(c, labels=tf.cast(i, tf.float32)), "`labels` must be an integer tensor"),
        (lambda c, i: pp.vocabulary(c, reserved_tokens="<pad>"), "`reserved_tokens` must be a list of strings"),
        (
            lambda c, i: pp.vocabulary(tf.stack([c, c], 1), labels=i, weights=tf.ones([tf.shape(c)[0], 2])),
            "`weights` with `labels` need one token per row",
        ),
        (lambda c, i: pp.experimental.approximate_vocabulary(c, 300000), "`top_k` must be at most 200,000"),
        (lambda c, i: pp.experimental.compute_and_apply_approximate_vocabulary(c), "`top_k` must be an integer >= 1"),
        (lambda c, i: pp.experimental.get_vocabulary_size_by_name("nope"), "must name a vocabulary computed earlier"),
        (lambda c, i: pp.get_num_buckets_for_transformed_feature(i), "must be the direct output of bucketize"),
    ],
)
def test_argument_errors(call, message):
    schema = pp.Schema.of({"c": "string", "i": "int"})
    with pytest.raises(pp.PreprocessingError, match=message.replace("(", r"\(").replace("[", r"\[")):
        from preprocessing import engine

        engine.trace(lambda inputs: {"out": call(inputs["c"], inputs["i"])}, schema)


def test_experimental_signatures_are_tf_transforms():
    import inspect

    import tensorflow_transform as tft

    assert set(pp.experimental.__all__) <= set(tft.experimental.__all__)
    for name in pp.experimental.__all__:
        ours = inspect.signature(getattr(pp.experimental, name)).parameters
        theirs = inspect.signature(getattr(tft.experimental, name)).parameters
        assert [(p.name, p.kind, p.default) for p in ours.values()] == [
            (p.name, p.kind, p.default) for p in theirs.values()
        ], name
