"""Readers and writers: every input format (globs over several files), both output formats."""

from __future__ import annotations

import glob
import gzip
import json
import os
import shutil
import uuid

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml
from apache_beam.io.filesystem import CompressionTypes, FileMetadata, FileSystem
from apache_beam.io.localfilesystem import LocalFileSystem

import preprocessing as pp
from beam_jobs._inputs import list_input_files
from beam_jobs._job import ColumnSpec
from beam_jobs._read import ReadBatches, _ReadFile, rebatch
from beam_jobs._schema import resolve_schema
from beam_jobs._write import WriteBatches, arrow_schema, encode_examples
from featurebeam_base.columns import OutputColumn
from featurebeam_base.errors import ConfigError, InputError

ROWS = 300  # per file
FILES = 3


def raw_table(seed: int, rows: int = ROWS, with_nulls: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    fare = rng.normal(10, 3, rows).round(3)
    company = rng.choice(["a", "b", "c", "d"], rows).astype(object)
    hour = rng.integers(0, 24, rows)
    fare_mask = np.zeros(rows, bool)
    if with_nulls:
        company[::7] = None
        fare_mask[::11] = True
    return pa.table(
        {
            "fare": pa.array(fare, pa.float64(), mask=fare_mask),
            "hour": pa.array(hour, pa.int64()),
            "company": pa.array(company, pa.string()),
        }
    )


def _example(row: dict) -> bytes:
    features = {}
    for name, value in row.items():
        if value is None:
            continue
        if isinstance(value, float):
            features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        elif isinstance(value, int):
            features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            features[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_tfrecord(path: str, table: pa.Table, compress: bool) -> None:
    with tf.io.TFRecordWriter(path, options="GZIP" if compress else None) as writer:
        for row in table.to_pylist():
            writer.write(_example(row))


def write_format(directory, fmt: str, tables: list[pa.Table]) -> str:
    """Write one file per table; return a glob over them."""
    for index, table in enumerate(tables):
        path = os.path.join(directory, f"part{index}")
        if fmt == "parquet":
            pq.write_table(table, path + ".parquet")
        elif fmt == "csv":
            pcsv.write_csv(table, path + ".csv")
        elif fmt == "csv.gz":
            with gzip.open(path + ".csv.gz", "wb") as handle:
                pcsv.write_csv(table, handle)
        elif fmt == "jsonl":
            with open(path + ".jsonl", "w") as handle:
                for row in table.to_pylist():
                    handle.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
        elif fmt == "tfrecord":
            write_tfrecord(path + ".tfrecord", table, compress=index % 2 == 0)
    return os.path.join(directory, "part*")


def expected(tables: list[pa.Table], defaults: dict | None = None) -> dict[str, np.ndarray]:
    table = pa.concat_tables(tables)
    defaults = defaults or {}
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in defaults:
            column = column.fill_null(defaults[name])
        columns[name] = column.to_numpy(zero_copy_only=False)
    return columns


def read_all(pattern: str, fmt: str | None, declared=None, batch_size: int = 65536):
    files, input_format = list_input_files(pattern, fmt)
    resolved = resolve_schema(files, input_format, declared or {})
    schema = resolved.to_schema()
    features = [(f.name, f.type, f.default) for f in schema.features]
    reader = _ReadFile(input_format, features, batch_size)
    batches = [batch for f in files for batch in reader.process(f.path)]
    return batches, schema, input_format


def concat(batches) -> dict[str, np.ndarray]:
    table = pa.Table.from_batches(batches)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "csv.gz", "jsonl", "tfrecord"])
def test_every_format_reads_a_glob_of_files_with_types_cast(tmp_path, fmt):
    tables = [raw_table(seed) for seed in range(FILES)]
    pattern = write_format(str(tmp_path), fmt, tables)
    batches, schema, detected = read_all(pattern, None)
    assert detected == fmt.split(".")[0]
    assert {f.name: f.type for f in schema.features} == {"fare": "float", "hour": "int", "company": "string"}
    types = {"fare": pa.float32(), "hour": pa.int64(), "company": pa.binary()}
    assert batches[0].schema == pa.schema([(f.name, types[f.name]) for f in schema.features])
    got, want = concat(batches), expected(tables)
    np.testing.assert_allclose(got["fare"], want["fare"].astype(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(got["hour"], want["hour"])
    assert [c.decode() for c in got["company"]] == list(want["company"])


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "tfrecord"])
def test_nulls_are_filled_from_defaults(tmp_path, fmt):
    tables = [raw_table(seed, with_nulls=True) for seed in range(2)]
    pattern = write_format(str(tmp_path), fmt, tables)
    declared = {"fare": ColumnSpec("float", -1.0), "company": ColumnSpec("string", "unknown")}
    batches, _, _ = read_all(pattern, fmt, declared)
    got = concat(batches)
    want = expected(tables, {"fare": -1.0, "company": "unknown"})
    np.testing.assert_allclose(got["fare"], want["fare"].astype(np.float32), rtol=1e-6)
    assert (got["fare"] == -1.0).sum() == 2 * len(range(0, ROWS, 11))
    assert [c.decode() for c in got["company"]] == list(want["company"])


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "tfrecord"])
def test_null_without_default_names_column_file_and_count(tmp_path, fmt):
    pattern = write_format(str(tmp_path), fmt, [raw_table(0, with_nulls=True)])
    with pytest.raises(InputError) as caught:
        read_all(pattern, fmt, {"company": ColumnSpec("string", "")}, batch_size=100)
    nulls = len(range(0, ROWS, 11))
    message = str(caught.value)
    assert message.startswith(glob.glob(pattern)[0])
    assert f"column 'fare' has {nulls} " in message and "(first in row 1)" in message
    assert "set `input.schema.fare.default` to fill them" in message


def test_batches_have_the_requested_size(tmp_path):
    pattern = write_format(str(tmp_path), "parquet", [raw_table(0, rows=250), raw_table(1, rows=250)])
    batches, _, _ = read_all(pattern, "parquet", batch_size=100)
    assert [b.num_rows for b in batches] == [100, 100, 50, 100, 100, 50]
    pieces = [pa.record_batch({"x": pa.array(range(i * 7, i * 7 + 7))}) for i in range(5)]
    sizes = [b.num_rows for b in rebatch(pieces, 10)]
    assert sizes == [10, 10, 10, 5]
    assert np.concatenate([b.column(0).to_numpy() for b in rebatch(pieces, 10)]).tolist() == list(range(35))


def test_folder_input_and_hidden_files(tmp_path):
    write_format(str(tmp_path), "parquet", [raw_table(0), raw_table(1)])
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".part9.parquet.crc").write_text("")
    files, fmt = list_input_files(str(tmp_path), None)
    assert fmt == "parquet"
    assert [os.path.basename(f.path) for f in files] == ["part0.parquet", "part1.parquet"]
    assert all(f.size_bytes == os.path.getsize(f.path) for f in files)


def test_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        list_input_files(str(tmp_path / "nope.parquet"), None)
    with pytest.raises(InputError, match="matches no input files"):
        list_input_files(str(tmp_path / "*.csv"), None)
    (tmp_path / "data.bin").write_text("x")
    with pytest.raises(ConfigError, match="`input.format` must be set to one of 'parquet', 'csv', 'tfrecord', 'jsonl'"):
        list_input_files(str(tmp_path / "data.bin"), None)


def test_schema_overrides_and_unknown_columns(tmp_path):
    table = pa.table(
        {
            "zip": pa.array([60601, 60602]),
            "n": pa.array([1, 2], pa.int32()),
            "tag": pa.array(["x", "y"]).dictionary_encode(),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    files, fmt = list_input_files(str(tmp_path / "t.parquet"), None)
    resolved = resolve_schema(files, fmt, {"zip": ColumnSpec("string"), "extra": ColumnSpec("float", 0.5)})
    assert resolved.types == {"zip": "string", "n": "int", "tag": "string", "extra": "float"}
    batches, _, _ = read_all(
        str(tmp_path / "t.parquet"), None, {"zip": ColumnSpec("string"), "extra": ColumnSpec("float", 0.5)}
    )
    got = concat(batches)
    assert got["zip"].tolist() == [b"60601", b"60602"]
    assert got["extra"].tolist() == [0.5, 0.5] and got["tag"].tolist() == [b"x", b"y"]
    with pytest.raises(ConfigError) as caught:
        resolve_schema(files, fmt, {"zipp": ColumnSpec("string")})
    assert str(caught.value).startswith(
        "`input.schema.zipp` names a column the data does not have (did you mean 'zip'?)"
    )


def test_csv_value_of_the_wrong_type_names_line_column_and_value(tmp_path):
    (tmp_path / "bad.csv").write_text("fare,company\n1.5,a\n2.5,b\nabc,c\n")
    with pytest.raises(InputError) as caught:
        read_all(str(tmp_path / "bad.csv"), None, {"fare": ColumnSpec("float")})
    assert str(caught.value) == f"{tmp_path / 'bad.csv'}: line 4: column 'fare': value 'abc' is not a number"


def test_jsonl_value_of_the_wrong_type_names_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"fare": 1.5}\n{"fare": 2}\n{"fare": "oops"}\n')
    with pytest.raises(InputError) as caught:
        read_all(str(tmp_path / "bad.jsonl"), None, {"fare": ColumnSpec("float")})
    assert str(caught.value) == f"{tmp_path / 'bad.jsonl'}: line 3: column 'fare': value 'oops' is not a number"


def test_tfrecord_with_several_values_per_feature_is_rejected(tmp_path):
    example = tf.train.Example(
        features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0]))})
    )
    with tf.io.TFRecordWriter(str(tmp_path / "multi.tfrecord")) as writer:
        writer.write(_example({"x": 0.5}))
        writer.write(example.SerializeToString())
    with pytest.raises(InputError, match="record 2: feature 'x' has 2 values, but column 'x' holds one value per row"):
        read_all(str(tmp_path / "multi.tfrecord"), None)


def test_read_batches_in_a_pipeline_over_a_glob(tmp_path):
    tables = [raw_table(seed) for seed in range(FILES)]
    pattern = write_format(str(tmp_path), "csv", tables)
    files, fmt = list_input_files(pattern, None)
    schema = pp.Schema.of({"fare": "float", "company": "string"})
    out = tmp_path / "rows"
    out.mkdir()
    with beam.Pipeline() as pipeline:
        batches = pipeline | ReadBatches([f.path for f in files], fmt, schema, batch_size=128)
        _ = batches | beam.Map(
            lambda b: pq.write_table(pa.Table.from_batches([b]), out / f"{uuid.uuid4().hex}-{b.num_rows}.parquet")
        )
    table = pq.read_table(str(out))
    assert table.num_rows == FILES * ROWS and table.column_names == ["fare", "company"]
    assert max(int(p.split("-")[-1].split(".")[0]) for p in os.listdir(out)) == 128
    np.testing.assert_allclose(
        np.sort(table.column("fare").to_numpy()), np.sort(expected(tables)["fare"].astype(np.float32))
    )


# --- writers ---------------------------------------------------------------

OUTPUTS = [
    OutputColumn("z", "float32"),
    OutputColumn("ids", "int64"),
    OutputColumn("vec", "float32", (3,)),
    OutputColumn("name", "string"),
]


def transformed_batches(rows: int = 50, batches: int = 3) -> list[pa.RecordBatch]:
    from preprocessing.engine import to_arrow

    result = []
    for b in range(batches):
        base = np.arange(rows) + b * rows
        columns = {
            "ids": to_arrow(base.astype(np.int64)),
            "name": to_arrow(np.array([f"n{i}".encode() for i in base], dtype=object)),
            "vec": to_arrow(np.stack([base, base * 2, base * 3], axis=1).astype(np.float32)),
            "z": to_arrow((base / 10).astype(np.float32)),
        }
        result.append(pa.RecordBatch.from_arrays(list(columns.values()), list(columns)))
    return result


@pytest.mark.parametrize("fmt", ["parquet", "tfrecord"])
def test_writers_produce_named_shards_that_read_back(tmp_path, fmt):
    batches = transformed_batches()
    with beam.Pipeline() as pipeline:
        _ = (
            pipeline
            | beam.Create(batches)
            | WriteBatches(str(tmp_path / "transformed_data"), fmt, OUTPUTS, num_shards=2)
        )
    suffix = ".parquet" if fmt == "parquet" else ".tfrecord.gz"
    names = sorted(os.listdir(tmp_path / "transformed_data"))
    assert names == [f"part-00000-of-00002{suffix}", f"part-00001-of-00002{suffix}"]
    total = 150
    if fmt == "parquet":
        table = pq.read_table(str(tmp_path / "transformed_data")).sort_by("ids")
        assert table.schema == arrow_schema(OUTPUTS)
        assert table.column("ids").to_pylist() == list(range(total))
        assert table.column("vec").to_pylist()[7] == [7.0, 14.0, 21.0]
        return
    # tf.Example output parses back with the transformed schema.
    spec = {
        "z": tf.io.FixedLenFeature([], tf.float32),
        "ids": tf.io.FixedLenFeature([], tf.int64),
        "vec": tf.io.FixedLenFeature([3], tf.float32),
        "name": tf.io.FixedLenFeature([], tf.string),
    }
    files = sorted(glob.glob(str(tmp_path / "transformed_data" / "*")))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator())
    parsed = tf.io.parse_example(records, spec)
    order = np.argsort(parsed["ids"].numpy())
    np.testing.assert_array_equal(parsed["ids"].numpy()[order], np.arange(total))
    np.testing.assert_allclose(parsed["z"].numpy()[order], (np.arange(total) / 10).astype(np.float32))
    np.testing.assert_allclose(parsed["vec"].numpy()[order][7], [7, 14, 21])
    assert parsed["name"].numpy()[order][7] == b"n7"


def test_example_encoding_uses_the_right_lists():
    batch = transformed_batches(rows=2, batches=1)[0]
    example = tf.train.Example.FromString(
        encode_examples(batch, {c.name: c.feature_type.example_list for c in OUTPUTS})[1]
    )
    features = example.features.feature
    assert list(features["vec"].float_list.value) == [1.0, 2.0, 3.0]
    assert list(features["ids"].int64_list.value) == [1]
    assert list(features["name"].bytes_list.value) == [b"n1"]
    assert features["z"].float_list.value[0] == pytest.approx(0.1)


def test_empty_input_still_writes_a_readable_shard(tmp_path):
    with beam.Pipeline() as pipeline:
        _ = (
            pipeline
            | beam.Create([], reshuffle=False).with_output_types(pa.RecordBatch)
            | WriteBatches(str(tmp_path / "out"), "parquet", OUTPUTS)
        )
    table = pq.read_table(str(tmp_path / "out"))
    assert table.num_rows == 0 and table.schema == arrow_schema(OUTPUTS)


# --- remote filesystems -----------------------------------------------------


class FakeBucketFileSystem(FileSystem):
    """``fbtest://...``: an object store (no directories, like gs://) kept in a local folder."""

    ROOT = None

    @classmethod
    def scheme(cls):
        return "fbtest"

    def __init__(self, pipeline_options=None):
        super().__init__(pipeline_options)
        self._disk = LocalFileSystem(pipeline_options)

    def _local(self, path: str) -> str:
        return os.path.join(self.ROOT, path[len("fbtest://") :])

    def _remote(self, local: str) -> str:
        return "fbtest://" + os.path.relpath(local, self.ROOT).replace(os.sep, "/")

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def has_dirs(self):
        return False

    def mkdirs(self, path):
        pass

    def _list(self, prefix):
        for root, _, names in os.walk(self.ROOT):
            for name in names:
                remote = self._remote(os.path.join(root, name))
                if remote.startswith(prefix):
                    yield FileMetadata(remote, os.path.getsize(os.path.join(root, name)))

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        os.makedirs(os.path.dirname(self._local(path)), exist_ok=True)
        return self._disk.create(self._local(path), mime_type, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._disk.open(self._local(path), mime_type, compression_type)

    def copy(self, sources, destinations):
        for destination in destinations:
            os.makedirs(os.path.dirname(self._local(destination)), exist_ok=True)
        self._disk.copy([self._local(s) for s in sources], [self._local(d) for d in destinations])

    def rename(self, sources, destinations):
        for destination in destinations:
            os.makedirs(os.path.dirname(self._local(destination)), exist_ok=True)
        self._disk.rename([self._local(s) for s in sources], [self._local(d) for d in destinations])

    def exists(self, path):
        return os.path.isfile(self._local(path))

    def size(self, path):
        return os.path.getsize(self._local(path))

    def last_updated(self, path):
        return os.path.getmtime(self._local(path))

    def checksum(self, path):
        return str(self.size(path))

    def metadata(self, path):
        return FileMetadata(path, self.size(path), self.last_updated(path))

    def delete(self, paths):
        for path in paths:
            local = self._local(path)
            if os.path.isdir(local):
                shutil.rmtree(local)
            elif os.path.exists(local):
                os.remove(local)


def test_a_job_reads_and_writes_through_beam_filesystems(tmp_path, monkeypatch):
    from beam_jobs import _run
    from beam_jobs._job import load_job

    bucket = tmp_path / "bucket"
    monkeypatch.setattr(FakeBucketFileSystem, "ROOT", str(bucket))
    (bucket / "raw").mkdir(parents=True)
    tables = [raw_table(seed) for seed in range(2)]
    for index, table in enumerate(tables):
        pq.write_table(table, bucket / "raw" / f"rides-{index}.parquet")
    job = {
        "input": {"path": "fbtest://raw/*.parquet"},
        "features": [
            {"name": "fare", "transform": "scale_to_z_score", "output": "fare_z"},
            {"name": "company", "transform": "compute_and_apply_vocabulary"},
        ],
        "output": {"path": "fbtest://out/run"},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    for _ in range(2):  # the second run replaces the first output
        summary = _run.execute(load_job(str(tmp_path / "job.yaml")), "run")
        assert summary["rows"] == {"read": 2 * ROWS, "written": 2 * ROWS}
        objects = [os.path.relpath(os.path.join(root, n), bucket) for root, _, names in os.walk(bucket) for n in names]
        assert all(o.startswith(("raw/", "out/run/")) for o in objects), "no staging objects are left behind"
        out = bucket / "out" / "run"
        assert sorted(os.listdir(out)) == [
            "run.json",
            "transform_fn",
            "transformed_data",
            "transformed_metadata",
        ]
        assert os.path.isfile(out / "transform_fn" / "saved_model.pb")
        assert json.loads((out / "run.json").read_text())["output"] == "fbtest://out/run"
        fare_z = pq.read_table(str(out / "transformed_data")).column("fare_z").to_numpy()
        assert len(fare_z) == 2 * ROWS and abs(fare_z.mean()) < 1e-5 and abs(fare_z.std() - 1) < 1e-4
    # and apply that remote transform_fn to other data, writing another remote output
    job["output"]["path"] = "fbtest://out/eval"
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(job))
    summary = _run.execute(load_job(str(tmp_path / "eval.yaml")), "transform", transform_fn="fbtest://out/run")
    assert summary["transform_fn_from"] == "fbtest://out/run" and summary["rows"]["written"] == 2 * ROWS
    assert os.path.isfile(bucket / "out" / "eval" / "transform_fn" / "saved_model.pb")
    again = pq.read_table(str(bucket / "out" / "eval" / "transformed_data")).column("fare_z").to_numpy()
    np.testing.assert_allclose(np.sort(again), np.sort(fare_z), rtol=1e-6)
    # inspect reads a remote output, downloading only its transform_fn
    from beam_jobs._inspect import inspect_output

    info = inspect_output("fbtest://out/run")
    assert info["transformed_data"] == sorted(os.listdir(bucket / "out" / "run" / "transformed_data"))
    assert {r["key"] for r in info["analyzers"]} == {
        "xf/fare_z/scale_to_z_score/mean_and_var",
        "xf/company/compute_and_apply_vocabulary/vocabulary",
    }
    assert info["signatures"]["serving_default"]["inputs"]["fare"] == {"dtype": "float32", "shape": [None]}


def test_non_finite_values_are_counted_per_column(tmp_path):
    from beam_jobs import _run
    from beam_jobs._job import load_job

    fare = np.array([1.0, np.nan, 2.0, np.inf, -np.inf, 3.0])
    pq.write_table(pa.table({"fare": fare, "tips": np.arange(6.0)}), tmp_path / "rides.parquet")
    job = {
        "input": {"path": "rides.parquet"},
        "features": [{"name": "fare", "transform": "identity"}, {"name": "tips", "transform": "scale_to_0_1"}],
        "output": {"path": "out"},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    summary = _run.execute(load_job(str(tmp_path / "job.yaml")), "run")
    assert summary["non_finite_values"] == {"fare": 3}
    assert json.loads((tmp_path / "out" / "run.json").read_text())["non_finite_values"] == {"fare": 3}


def test_an_output_path_holding_other_files_is_not_replaced(tmp_path):
    from beam_jobs import _run
    from beam_jobs._job import load_job

    pq.write_table(raw_table(0), tmp_path / "rides.parquet")
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    job = {"input": {"path": "rides.parquet"}, "features": [{"name": "hour", "transform": "identity"}]}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump({**job, "output": {"path": "precious"}}))
    with pytest.raises(ConfigError, match="exists and is not a featurebeam output; refusing to replace it"):
        _run.execute(load_job(str(tmp_path / "job.yaml")), "run")
    assert os.listdir(tmp_path / "precious") == ["notes.txt"]
    assert sorted(os.listdir(tmp_path)) == ["job.yaml", "precious", "rides.parquet"]


def test_file_urls_are_local_paths(tmp_path):
    from beam_jobs import _run
    from beam_jobs._inspect import inspect_output
    from beam_jobs._job import load_job
    from featurebeam_base.paths import is_remote

    assert not is_remote("file:///tmp/x") and is_remote("gs://bucket/x") and not is_remote("/tmp/x")
    pq.write_table(raw_table(0), tmp_path / "rides.parquet")
    job = {
        "input": {"path": f"file://{tmp_path}/rides.parquet"},
        "features": [{"name": "fare", "transform": "scale_to_z_score"}],
        "output": {"path": f"file://{tmp_path}/out"},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    loaded = load_job(str(tmp_path / "job.yaml"))
    assert (loaded.input.path, loaded.output.path) == (str(tmp_path / "rides.parquet"), str(tmp_path / "out"))
    for _ in range(2):  # the second run replaces the first output by local renames
        summary = _run.execute(loaded, "run")
        assert summary["rows"] == {"read": ROWS, "written": ROWS}
        assert sorted(os.listdir(tmp_path)) == ["job.yaml", "out", "rides.parquet"]
    info = inspect_output(f"file://{tmp_path}/out")
    assert info["output"] == str(tmp_path / "out")
    assert [r["key"] for r in info["analyzers"]] == ["xf/fare/scale_to_z_score/mean_and_var"]
