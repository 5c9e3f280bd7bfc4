"""Vocabulary options and per-key functions against tensorflow-transform 1.21, on TFX's Chicago taxi sample.

The preprocessing_fns are written once against a module argument ``tx``.
tf.Transform's outputs are goldens (``python -m tests.goldens``), computed with
the data as one batch (``desired_batch_size=1000``): tf.Transform's weighted
sums and mutual information depend on its batches, and equal featurebeam's
(exact, batch-independent) sums when it sees one. Vocabulary files must equal
tf.Transform's byte for byte: the golden holds each file's content (read in the
graph by tf.Transform), featurebeam's are read from its transform_fn's assets.
``test_live_parity`` runs tf.Transform itself on a smaller fn.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import tensorflow as tf

import preprocessing as pp
from preprocessing import engine
from tests.goldens import golden_case, read_golden
from tests.harness import run_featurebeam, run_tft_with_spec

pytestmark = pytest.mark.slow

TAXI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "chicago_taxi.csv")
FEATURE_SPEC = {
    "company": tf.io.FixedLenFeature([], tf.string),
    "payment_type": tf.io.FixedLenFeature([], tf.string),
    "fare": tf.io.FixedLenFeature([], tf.float32),
    "trip_miles": tf.io.FixedLenFeature([], tf.float32),
    "weight": tf.io.FixedLenFeature([], tf.float32),
    "tips": tf.io.FixedLenFeature([], tf.float32),
    "hour": tf.io.FixedLenFeature([], tf.int64),
    "big_tipper": tf.io.FixedLenFeature([], tf.int64),
}
SCHEMA = pp.Schema.of(
    {
        "company": "string",
        "payment_type": "string",
        "fare": "float",
        "trip_miles": "float",
        "weight": "float",
        "tips": "float",
        "hour": "int",
        "big_tipper": "int",
    }
)
ONE_BATCH = {"desired_batch_size": 1000}


def taxi_columns() -> dict[str, np.ndarray]:
    table = pacsv.read_csv(TAXI, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    fare = table["fare"].to_numpy().astype(np.float32)
    tips = table["tips"].to_numpy().astype(np.float32)
    miles = table["trip_miles"].to_numpy().astype(np.float32)
    return {
        "company": np.array([c.encode() for c in table["company"].to_pylist()], dtype=object),
        "payment_type": np.array([c.encode() for c in table["payment_type"].to_pylist()], dtype=object),
        "fare": fare,
        "trip_miles": miles,
        # quarters: float32 sums of them are exact, so tf.Transform's float32 batch sums equal exact ones
        "weight": (np.round(miles * 4) / 4 + 0.25).astype(np.float32),
        "tips": tips,
        "hour": table["trip_start_hour"].to_numpy().astype(np.int64),
        "big_tipper": (tips > fare * np.float32(0.2)).astype(np.int64),
    }


def first_word(token: bytes) -> bytes:
    return token.split(b" ")[0]


def _lookup_by_file(x, path):
    initializer = tf.lookup.TextFileInitializer(
        path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER
    )
    table = tf.lookup.StaticHashTable(initializer, default_value=-7)
    return table.lookup(x), table.size()


def _file_name(path: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    return tf.fill(tf.shape(like), tf.strings.regex_replace(path, ".*/", ""))


def make_vocabulary_fn(tx):
    """Every vocabulary option; tf.Transform also returns each file's content (``file_<name>``)."""
    import tensorflow_transform as tft

    def preprocessing_fn(inputs):
        company, payment, weight, label = (inputs[k] for k in ("company", "payment_type", "weight", "big_tipper"))
        out = {}

        def keep(name, vocabulary):
            if tx is tft:
                out[f"file_{name}"] = tf.fill(tf.shape(company), tf.io.read_file(vocabulary))

        keep("plain", tx.vocabulary(company, vocab_filename="plain"))
        keep("freq", tx.vocabulary(company, store_frequency=True, vocab_filename="freq"))
        keep("top3", tx.vocabulary(company, top_k=3, store_frequency=True, vocab_filename="top3"))
        keep(
            "threshold",
            tx.vocabulary(company, frequency_threshold=10, store_frequency=True, vocab_filename="threshold"),
        )
        keep("weighted", tx.vocabulary(company, weights=weight, store_frequency=True, vocab_filename="weighted"))
        keep(
            "weighted_threshold",
            tx.vocabulary(
                company,
                weights=weight,
                frequency_threshold=20.5,
                store_frequency=True,
                vocab_filename="weighted_threshold",
            ),
        )
        keep("mi", tx.vocabulary(company, labels=label, min_diff_from_avg=0, store_frequency=True, vocab_filename="mi"))
        keep("mi_auto", tx.vocabulary(company, labels=label, store_frequency=True, vocab_filename="mi_auto"))
        keep(
            "ami",
            tx.vocabulary(
                company,
                labels=label,
                use_adjusted_mutual_info=True,
                min_diff_from_avg=0.5,
                store_frequency=True,
                vocab_filename="ami",
            ),
        )
        keep(
            "wmi",
            tx.vocabulary(
                company,
                labels=label,
                weights=weight,
                min_diff_from_avg=0,
                top_k=5,
                store_frequency=True,
                vocab_filename="wmi",
            ),
        )
        keep(
            "coverage",
            tx.vocabulary(
                company, top_k=2, key_fn=first_word, coverage_top_k=1, store_frequency=True, vocab_filename="coverage"
            ),
        )
        keep(
            "coverage_threshold",
            tx.vocabulary(
                company,
                frequency_threshold=20,
                key_fn=first_word,
                coverage_frequency_threshold=5,
                store_frequency=True,
                vocab_filename="coverage_threshold",
            ),
        )
        keep(
            "fingerprint",
            tx.vocabulary(company, fingerprint_shuffle=True, store_frequency=True, vocab_filename="fingerprint"),
        )
        keep(
            "reserved",
            tx.vocabulary(
                payment, reserved_tokens=["<pad>", "Cash", "<unk>"], store_frequency=True, vocab_filename="reserved"
            ),
        )
        keep(
            "reserved_top",
            tx.vocabulary(
                company,
                top_k=1,
                reserved_tokens=tf.constant(["Taxi Affiliation Services", "<unk>"]),
                vocab_filename="reserved_top",
            ),
        )
        keep("hours", tx.vocabulary(inputs["hour"], store_frequency=True, vocab_filename="hours"))
        keep(
            "records",
            tx.vocabulary(company, store_frequency=True, file_format="tfrecord_gzip", vocab_filename="records"),
        )
        keep(
            "approximate",
            tx.experimental.approximate_vocabulary(company, 20, store_frequency=True, vocab_filename="approximate"),
        )
        keep(
            "approximate_weighted",
            tx.experimental.approximate_vocabulary(
                company, 20, weights=weight, store_frequency=True, vocab_filename="approximate_weighted"
            ),
        )
        keep("empty", tx.vocabulary(company, frequency_threshold=1000, vocab_filename="empty"))
        keep(
            "empty_top",
            tx.vocabulary(company, frequency_threshold=1000, top_k=3, store_frequency=True, vocab_filename="empty_top"),
        )
        out["name_default"] = _file_name(tx.vocabulary(company), company)
        out["name_frequency"] = _file_name(tx.vocabulary(company, store_frequency=True), company)
        out["name_records"] = _file_name(tx.vocabulary(company, file_format="tfrecord_gzip"), company)
        out["name_approximate"] = _file_name(tx.experimental.approximate_vocabulary(company, 5), company)
        out["name_sanitized"] = _file_name(tx.vocabulary(company, vocab_filename="my vocab/..file  x.txt"), company)
        ids = tx.compute_and_apply_vocabulary(company, top_k=4, num_oov_buckets=2, store_frequency=True)
        out["ids"] = ids
        out["ids_buckets"] = tf.zeros_like(ids) + tx.get_num_buckets_for_transformed_feature(ids)
        records = tx.compute_and_apply_vocabulary(
            company, default_value=99, file_format="tfrecord_gzip", vocab_filename="r2"
        )
        out["ids_records"] = records
        out["ids_records_buckets"] = tf.zeros_like(records) + tx.get_num_buckets_for_transformed_feature(records)
        supervised = tx.compute_and_apply_vocabulary(company, labels=label, top_k=3, default_value=-1)
        out["ids_supervised"] = supervised
        looked_up = tx.apply_vocabulary(company, tx.vocabulary(company, top_k=5), lookup_fn=_lookup_by_file)
        out["ids_lookup_fn"] = looked_up
        out["ids_lookup_fn_buckets"] = tf.zeros_like(looked_up) + tx.get_num_buckets_for_transformed_feature(looked_up)
        approximate = tx.experimental.compute_and_apply_approximate_vocabulary(company, top_k=20, num_oov_buckets=1)
        out["ids_approximate"] = approximate
        for name in ("reserved", "reserved_top", "records", "my vocab/..file  x.txt"):
            key = name.split("/")[0].replace(" ", "_")
            out[f"size_{key}"] = tf.zeros_like(ids) + tx.experimental.get_vocabulary_size_by_name(name)
        return out

    return preprocessing_fn


@golden_case("taxi_vocabulary_options")
def vocabulary_case():
    return make_vocabulary_fn, FEATURE_SPEC, taxi_columns(), ONE_BATCH


def eval_columns() -> dict[str, np.ndarray]:
    """The taxi rows again, every fifth with a company and a payment type the analysis never saw."""
    columns = {k: v.copy() for k, v in taxi_columns().items()}
    unseen = np.arange(len(columns["fare"])) % 5 == 0
    columns["company"][unseen] = b"Unseen Cab Co"
    columns["payment_type"][unseen] = b"Dispute"
    columns["fare"][unseen] += np.float32(1.5)
    return columns


def _padded(values: tf.Tensor, size: int, like: tf.Tensor) -> tf.Tensor:
    pad = tf.constant("", tf.string) if values.dtype == tf.string else tf.zeros([], values.dtype)
    values = tf.reshape(tf.pad(values, [[0, size - tf.size(values)]], constant_values=pad), [size])
    return tf.tile(values[None, :], [tf.shape(like)[0], 1])


def make_per_key_fn(tx):
    import tensorflow_transform as tft

    def preprocessing_fn(inputs):
        company, payment, fare, miles, tips, hour, weight = (
            inputs[k] for k in ("company", "payment_type", "fare", "trip_miles", "tips", "hour", "weight")
        )
        # tf.Transform's key files cannot hold keys with spaces (their lookup splits on every space)
        company_key = tf.strings.regex_replace(company, " ", "_")
        out = {
            "z": tx.scale_to_z_score_per_key(fare, payment),
            "z_company": tx.scale_to_z_score_per_key(fare, company),
            "z_hour": tx.scale_to_z_score_per_key(hour, payment),
            "z_pair": tx.scale_to_z_score_per_key(tf.stack([fare, tips], axis=1), payment),
            "z_elementwise": tx.scale_to_z_score_per_key(tf.stack([fare, tips], axis=1), payment, elementwise=True),
            "z_file": tx.scale_to_z_score_per_key(fare, company_key, key_vocabulary_filename="fare_by_company"),
            "scaled": tx.scale_to_0_1_per_key(miles, company),
            "scaled_file": tx.scale_to_0_1_per_key(miles, company_key, key_vocabulary_filename=""),
            "min_max": tx.scale_by_min_max_per_key(fare, payment, output_min=-1.0, output_max=1.0),
            "bucket": tx.bucketize_per_key(fare, company, 3),
            "bucket_weighted": tx.bucketize_per_key(fare, payment, 4, weights=weight),
        }
        out["bucket_count"] = tf.zeros_like(out["bucket"]) + tx.get_num_buckets_for_transformed_feature(out["bucket"])
        keys, counts = tx.count_per_key(company)
        out["count_keys"], out["counts"] = _padded(keys, 12, fare), _padded(counts, 12, fare)
        hours, hour_counts = tx.count_per_key(hour)
        out["count_hours"], out["hour_counts"] = _padded(hours, 24, fare), _padded(hour_counts, 24, fare)
        counts_file = tx.count_per_key(company, key_vocabulary_filename="company_counts")
        if tx is tft:
            for name, path in [("company_counts", counts_file)]:
                out[f"file_{name}"] = tf.fill(tf.shape(fare), tf.io.read_file(path))
        return out

    return preprocessing_fn


@golden_case("taxi_per_key")
def per_key_case():
    return make_per_key_fn, FEATURE_SPEC, taxi_columns(), {**ONE_BATCH, "transform_columns": eval_columns()}


# ---------------------------------------------------------------------------
# featurebeam's side


def _assets(output_dir: str) -> dict[str, bytes]:
    directory = os.path.join(output_dir, "transform_fn", "assets")
    return {name: open(os.path.join(directory, name), "rb").read() for name in os.listdir(directory)}


def tfrecords(blob: bytes) -> list[bytes]:
    """The records of a GZIP TFRecord file (framing: length, its CRC, data, data CRC)."""
    data, records, position = gzip.decompress(blob), [], 0
    while position < len(data):
        (length,) = struct.unpack("<Q", data[position : position + 8])
        records.append(data[position + 12 : position + 12 + length])
        position += 16 + length
    return records


@pytest.fixture(scope="module")
def vocabulary_run():
    outputs, output_dir = run_featurebeam(make_vocabulary_fn(pp), SCHEMA, taxi_columns())
    return outputs, _assets(output_dir), read_golden("taxi_vocabulary_options")


def _transform(output_dir: str, columns: dict) -> dict[str, np.ndarray]:
    """Apply an exported transform_fn to other rows (with the row ids the test harness adds)."""
    n = len(columns["fare"])
    arrays = {name: pa.array(values) for name, values in columns.items()}
    arrays["row_id_"] = pa.array(np.arange(n, dtype=np.int64))
    batch = pa.record_batch(arrays)
    outputs = engine.TransformFn(os.path.join(output_dir, "transform_fn"))(batch)
    return {name: engine.from_arrow(column) for name, column in outputs.items()}


@pytest.fixture(scope="module")
def per_key_run():
    _, output_dir = run_featurebeam(make_per_key_fn(pp), SCHEMA, taxi_columns())
    return _transform(output_dir, eval_columns()), _assets(output_dir), read_golden("taxi_per_key")


VOCABULARY_FILES = [
    "plain", "freq", "top3", "threshold", "weighted", "weighted_threshold", "mi", "mi_auto", "ami", "wmi", "coverage",
    "coverage_threshold", "fingerprint", "reserved", "reserved_top", "hours", "approximate", "approximate_weighted",
    "empty", "empty_top",
]  # fmt: skip


@pytest.mark.parametrize("name", VOCABULARY_FILES)
def test_vocabulary_files_equal_tf_transforms_byte_for_byte(vocabulary_run, name):
    _, assets, golden = vocabulary_run
    assert assets[name] == golden[f"file_{name}"][0]


def test_tfrecord_vocabulary_holds_tf_transforms_records(vocabulary_run):
    _, assets, golden = vocabulary_run
    ours = tfrecords(assets["records.tfrecord.gz"])
    assert ours == tfrecords(golden["file_records"][0])
    # unlike a text file, a TFRecord file keeps the empty token (the 96 trips without a company)
    assert ours[:2] == [b"96 ", b"73 Taxi Affiliation Services"]


def test_default_vocabulary_file_names_are_tf_transforms(vocabulary_run):
    _, assets, golden = vocabulary_run
    for column in ("name_default", "name_frequency", "name_records", "name_approximate", "name_sanitized"):
        name = golden[column][0].decode()
        assert name in assets, (column, name, sorted(assets))
    assert golden["name_sanitized"][0] == b"my-vocab___file-x_txt"


@pytest.mark.parametrize(
    "column",
    [
        "ids", "ids_buckets", "ids_records", "ids_records_buckets", "ids_supervised", "ids_lookup_fn",
        "ids_lookup_fn_buckets", "ids_approximate", "size_reserved", "size_reserved_top",
        "size_records", "size_my_vocab",
    ],
)  # fmt: skip
def test_vocabulary_ids_and_sizes_equal_tf_transforms(vocabulary_run, column):
    outputs, _, golden = vocabulary_run
    np.testing.assert_array_equal(outputs[column], golden[column])


def test_sizes_are_tf_transforms_overcount(vocabulary_run):
    outputs, assets, _ = vocabulary_run
    # 'Cash' is reserved and in the data: tf.Transform counts it twice (2 tokens + 3 reserved)
    assert outputs["size_reserved"][0] == 5 and assets["reserved"].count(b"\n") == 4


EXACT_PER_KEY = [
    "scaled", "scaled_file", "min_max", "bucket", "bucket_weighted", "bucket_count", "count_keys", "counts",
    "count_hours", "hour_counts",
]  # fmt: skip


@pytest.mark.parametrize("column", EXACT_PER_KEY)
def test_per_key_outputs_equal_tf_transforms_with_unseen_keys(per_key_run, column):
    ours, _, golden = per_key_run
    expected = golden[column]
    if expected.dtype == object and isinstance(expected[0], np.ndarray):  # [k] string outputs come back as lists
        expected = np.stack(expected)
    np.testing.assert_array_equal(ours[column], expected)


@pytest.mark.parametrize("column", ["z", "z_company", "z_hour", "z_pair", "z_elementwise", "z_file"])
def test_per_key_z_scores_match_tf_transforms(per_key_run, column):
    # tf.Transform's per-key variance is E[x^2] - E[x]^2 in float32; featurebeam's is exact (then float32)
    ours, _, golden = per_key_run
    assert ours[column].dtype == golden[column].dtype == np.float32
    np.testing.assert_allclose(ours[column], golden[column], rtol=2e-5, atol=2e-5)


def test_unseen_keys_keep_tf_transforms_fallbacks(per_key_run):
    ours, _, _ = per_key_run
    columns = eval_columns()
    unseen = columns["company"] == b"Unseen Cab Co"
    np.testing.assert_array_equal(ours["z_company"][unseen], columns["fare"][unseen])  # mean 0, var 0: x as it is
    sigmoid = 1 / (1 + np.exp(-columns["trip_miles"][unseen].astype(np.float64)))
    np.testing.assert_allclose(ours["scaled"][unseen], sigmoid, rtol=1e-6)
    assert (ours["bucket"][unseen] == -1).all() and (ours["bucket"][~unseen] >= 0).all()


def test_key_count_file_equals_tf_transforms(per_key_run):
    _, assets, golden = per_key_run
    assert assets["company_counts"] == golden["file_company_counts"][0]


def test_key_vocabulary_files_are_named_and_ordered_as_tf_transforms(per_key_run):
    _, assets, _ = per_key_run
    # the second scale_to_0_1_per_key of the fn: tf.Transform's scope name, sanitized
    lines = assets["vocab_scale_to_0_1_per_key_1_min_and_max_per_key"].decode().splitlines()
    keys = [line.split(" ", 1)[1] for line in lines]
    assert keys == sorted(keys, key=lambda k: hashlib.sha1(k.encode()).digest())
    assert len(keys) == 11 and "" in keys
    assert "-6.6,6.6 Chicago_Medallion_Management" in lines  # "-min,max key"; its one trip was 6.6 miles
    assert "fare_by_company" in assets


# ---------------------------------------------------------------------------
# One live tf.Transform run, so the goldens cannot go stale unnoticed


def make_live_fn(tx):
    def preprocessing_fn(inputs):
        company, payment, weight, label = (inputs[k] for k in ("company", "payment_type", "weight", "big_tipper"))
        return {
            "mi_ids": tx.compute_and_apply_vocabulary(company, labels=label, weights=weight, top_k=4),
            "coverage_ids": tx.compute_and_apply_vocabulary(
                company, top_k=1, key_fn=first_word, coverage_top_k=1, num_oov_buckets=1
            ),
            "scaled": tx.scale_to_0_1_per_key(inputs["fare"], payment),
        }

    return preprocessing_fn


def test_live_parity():
    import tensorflow_transform as tft

    columns = taxi_columns()
    theirs = run_tft_with_spec(make_live_fn(tft), FEATURE_SPEC, columns, **ONE_BATCH)
    ours, _ = run_featurebeam(make_live_fn(pp), SCHEMA, columns)
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
