"""Bad input and failures, through the ``featurebeam`` command (issue 5).

Every case runs the command in a subprocess and checks its exit status, that
stderr is one clear message naming the file and the place (and no Python
traceback), and what is left in the output folder. The failing jobs are
independent, so they run a few at a time (``finished``); each test then
checks its own case.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS_PER_FILE = 300
COMPANIES = ["Flash Cab", "City Service", "Sun Taxi", "Globe", "Zip"]

pytestmark = pytest.mark.slow

FN = textwrap.dedent(
    """
    import preprocessing as pp


    def preprocessing_fn(inputs):
        return {
            "row_id": inputs["row_id"],
            "fare_z": pp.scale_to_z_score(inputs["fare"], name="fare_z"),
            "company_oov": pp.compute_and_apply_vocabulary(inputs["company"], num_oov_buckets=2, name="company_oov"),
            "company_top3": pp.compute_and_apply_vocabulary(
                inputs["company"], top_k=3, default_value=-7, name="company_top3"
            ),
            "miles_bucket": pp.bucketize(inputs["miles"], num_buckets=4, name="miles_bucket"),
        }
    """
)

# What TensorFlow's C++ runtime may print at import, before the CLI can hide it (see test_cli.py).
_IMPORT_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\).*|[IWE]\d{4} .*"
    r"|To enable the following instructions.*)\n",
    re.M,
)


def command(*args, python_code: str | None = None, prefix=()) -> list[str]:
    head = [sys.executable, "-c", python_code] if python_code else [sys.executable, "-m", "beam_jobs.cli"]
    return [*prefix, *head, *map(str, args)]


def featurebeam(*args, cwd=None, python_code=None, prefix=(), timeout=240) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command(*args, python_code=python_code, prefix=prefix),
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result.stderr = _IMPORT_NOISE.sub("", result.stderr)
    return result


def rides(seed: int, rows: int = ROWS_PER_FILE) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "row_id": pa.array(np.arange(seed * rows, (seed + 1) * rows), pa.int64()),
            "fare": pa.array(rng.gamma(2.0, 6.0, rows).round(2), pa.float64()),
            "miles": pa.array(rng.exponential(3.0, rows).round(3), pa.float32()),
            "company": pa.array(rng.choice(COMPANIES, rows, p=[0.4, 0.25, 0.2, 0.1, 0.05]), pa.string()),
        }
    )


def write_job(directory, input_: dict, *, fn: str = "fns/fn.py:preprocessing_fn", **extra) -> str:
    job = {"input": input_, "preprocessing_fn": fn, "output": {"path": "out"}, **extra}
    path = os.path.join(directory, "job.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(job, handle)
    return path


def example(**features) -> bytes:
    import tensorflow as tf

    feature = {}
    for name, value in features.items():
        if isinstance(value, float):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        elif isinstance(value, int):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def ride_examples(table: pa.Table) -> list[bytes]:
    return [example(**row) for row in table.to_pylist()]


def framed(records: list[bytes]) -> bytes:
    """TFRecord framing: length, masked crc of the length, data, masked crc of the data."""
    from apache_beam.io.tfrecordio import _TFRecordUtil

    crc = _TFRecordUtil._masked_crc32c
    parts = []
    for record in records:
        length = struct.pack("<Q", len(record))
        parts += [length, struct.pack("<I", crc(length)), record, struct.pack("<I", crc(record))]
    return b"".join(parts)


def output_siblings(directory) -> list[str]:
    """What a job left in its folder under the output's name: the output itself or staging folders."""
    return sorted(n for n in os.listdir(directory) if n == "out" or n.startswith(".out."))


def assert_user_error(result, message: str) -> None:
    """Exit 2, nothing on stdout, and stderr is exactly one line: ``featurebeam: error: MESSAGE``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr == f"featurebeam: error: {message}\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("featurebeam_errors")
    (root / "rides").mkdir()
    for seed in range(3):
        pq.write_table(rides(seed), root / "rides" / f"rides-{seed}.parquet")
    (root / "fns").mkdir()
    (root / "fns" / "fn.py").write_text(FN)
    write_job(root, {"path": "rides/*.parquet"})
    return root


@pytest.fixture(scope="module")
def trained(workspace):
    """An output of the good job: the earlier output of the interruption test, served by the serving tests."""
    result = featurebeam("run", workspace / "job.yaml", "--quiet")
    assert result.returncode == 0, result.stderr
    return workspace / "out"


# ---------------------------------------------------------------------------
# The failing and skipping jobs: each case makes its files in its own folder and
# returns its command line; `finished` runs them all, three at a time.

CASES = {}


def case(setup):
    CASES[setup.__name__] = setup
    return setup


def case_dir(workspace, name):
    directory = workspace / "cases" / name
    directory.mkdir(parents=True)
    (directory / "fns").mkdir()
    (directory / "fns" / "fn.py").write_text(FN)
    return directory


@pytest.fixture(scope="module")
def finished(workspace):
    runs = {}
    for name, setup in CASES.items():
        directory = case_dir(workspace, name)
        runs[name] = (directory, setup(directory))

    def run(item):
        name, (directory, spec) = item
        if spec is None:
            return name, None
        args, options = (spec, {}) if isinstance(spec, list) else spec
        return name, featurebeam(*args, cwd=directory, **options)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(pool.map(run, runs.items()))
    return {name: (runs[name][0], result) for name, result in results.items()}


def outcome(finished, name):
    directory, result = finished[name]
    if result is None:
        # Only the permission cases return None: as root they need util-linux's
        # setpriv to drop the capabilities that bypass file permissions; where
        # a file cannot be made unreadable, there is nothing to test. (Here,
        # and in CI on this machine, setpriv exists and they run.)
        pytest.skip(f"{name}: cannot be set up here")
    return directory, result


# --- values that do not fit the declared type ---------------------------------


@case
def parquet_value_of_another_type(d):
    (d / "data").mkdir()
    pq.write_table(rides(0), d / "data" / "a.parquet")
    fares = [str(v) for v in rides(1).column("fare").to_pylist()]
    fares[6] = "12,50"  # a decimal comma: not a number
    pq.write_table(rides(1).set_column(1, "fare", pa.array(fares)), d / "data" / "b.parquet")
    return ["run", write_job(d, {"path": "data/*.parquet"})]


def test_parquet_value_that_cannot_be_cast_names_file_row_column_and_value(finished):
    d, result = outcome(finished, "parquet_value_of_another_type")
    assert_user_error(result, f"{d / 'data' / 'b.parquet'}: row 7: column 'fare': value '12,50' is not a number")
    assert output_siblings(d) == []


@case
def tf_example_feature_of_the_wrong_kind(d):
    (d / "data").mkdir()
    records = ride_examples(rides(0, 5))
    records[2] = example(row_id=2, fare=7, miles=1.5, company="Zip")  # fare as an int64_list
    (d / "data" / "rides.tfrecord").write_bytes(framed(records))
    return ["run", write_job(d, {"path": "data/rides.tfrecord"})]


def test_tf_example_feature_of_the_wrong_kind_names_file_record_and_feature(finished):
    d, result = outcome(finished, "tf_example_feature_of_the_wrong_kind")
    assert_user_error(
        result,
        f"{d / 'data' / 'rides.tfrecord'}: record 3: feature 'fare' is an int64_list, "
        "but column 'fare' is float (a float_list)",
    )
    assert output_siblings(d) == []


# --- malformed records --------------------------------------------------------

CSV = "row_id,fare,miles,company\n1,10.5,1.5,Zip\n2,11.5,2.5,Globe\n"


@case
def broken_csv_line(d):
    (d / "a.csv").write_text(CSV + '3,12.5,"Sun Taxi\n4,13.5,4.5,Zip\n')  # an unterminated quote
    (d / "b.csv").write_text(CSV + "3,12.5,3.5\n4,13.5,4.5,Zip\n")  # a field short
    return ["run", write_job(d, {"path": "*.csv", "schema": {"fare": "float", "miles": "float"}})]


def test_broken_csv_line_names_file_and_line(finished):
    d, result = outcome(finished, "broken_csv_line")
    # a.csv sorts first; its last record runs to the end of the file, with 3 fields instead of 4
    assert_user_error(result, f"{d / 'a.csv'}: line 4: expected 4 fields; got 3")
    assert output_siblings(d) == []


@case
def bad_value_found_by_a_worker_process(d):
    (d / "a.csv").write_text(CSV)
    (d / "b.csv").write_text(CSV + "3,12.5,x3.5,Zip\n")  # only the worker reading b.csv sees it
    options = {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}
    job = write_job(d, {"path": "*.csv", "schema": {"fare": "float", "miles": "float"}}, pipeline_options=options)
    return ["run", job]


def test_a_user_error_in_a_worker_process_keeps_its_type(finished):
    # The worker's InputError reaches the launcher as a record in the staging folder, not as
    # traceback text: the same one message and exit 2 as in one process.
    d, result = outcome(finished, "bad_value_found_by_a_worker_process")
    assert_user_error(result, f"{d / 'b.csv'}: line 4: column 'miles': value 'x3.5' is not a number")
    assert output_siblings(d) == []


@case
def broken_jsonl_line(d):
    lines = [
        '{"row_id": 1, "fare": 10.5, "miles": 1.5, "company": "Zip"}',
        '{"row_id": 2, "fare": 11.5, "miles": 2.5, "company": "Globe"}',
        '{"row_id": 3, "fare": 12.5, "miles": 3.5, "company": "Sun Taxi"',
        '{"row_id": 4, "fare": 13.5, "miles": 4.5, "company": "Zip"}',
    ]
    (d / "rides.jsonl").write_text("\n".join(lines) + "\n")
    return ["run", write_job(d, {"path": "rides.jsonl", "schema": {"fare": "float", "miles": "float"}})]


def test_broken_jsonl_line_names_file_and_line(finished):
    d, result = outcome(finished, "broken_jsonl_line")
    assert_user_error(result, f"{d / 'rides.jsonl'}: line 3: not valid JSON (Expecting ',' delimiter)")
    assert output_siblings(d) == []


@case
def corrupt_tf_example(d):
    records = ride_examples(rides(0, 5))
    records[1] = b"\xff\xff\x00 not a protocol buffer"
    (d / "rides.tfrecord").write_bytes(framed(records))
    return ["run", write_job(d, {"path": "rides.tfrecord"})]


def test_corrupt_tf_example_names_file_and_record(finished):
    d, result = outcome(finished, "corrupt_tf_example")
    assert_user_error(result, f"{d / 'rides.tfrecord'}: record 2: not a tf.Example (the record cannot be parsed)")
    assert output_siblings(d) == []


@case
def corrupt_tfrecord_framing(d):
    records = ride_examples(rides(0, 5))
    data = bytearray(framed(records))
    data[sum(len(r) + 16 for r in records[:3])] ^= 0x40  # the length of record 4
    (d / "rides.tfrecord").write_bytes(bytes(data))
    return ["run", write_job(d, {"path": "rides.tfrecord"})]


def test_corrupt_tfrecord_framing_names_file_and_record(finished):
    d, result = outcome(finished, "corrupt_tfrecord_framing")
    assert_user_error(
        result,
        f"{d / 'rides.tfrecord'}: record 4: corrupt TFRecord framing: the record's length does not match its "
        "checksum; the rest of the file cannot be read",
    )
    assert output_siblings(d) == []


@case
def truncated_parquet(d):
    (d / "data").mkdir()
    pq.write_table(rides(0), d / "data" / "a.parquet")
    pq.write_table(rides(1), d / "data" / "b.parquet")
    whole = (d / "data" / "b.parquet").read_bytes()
    (d / "data" / "b.parquet").write_bytes(whole[: len(whole) // 2])
    return ["run", write_job(d, {"path": "data"})]


def test_truncated_parquet_file_is_named_as_truncated(finished):
    d, result = outcome(finished, "truncated_parquet")
    assert result.stderr.startswith(
        f"featurebeam: error: {d / 'data' / 'b.parquet'}: not a readable Parquet file: it is truncated or corrupt ("
    )
    assert_user_error(result, result.stderr[len("featurebeam: error: ") :].rstrip("\n"))
    assert output_siblings(d) == []


# --- a column missing from a file -----------------------------------------------


@case
def csv_column_missing(d):
    (d / "a.csv").write_text(CSV)
    (d / "b.csv").write_text("row_id,fare,miles\n3,12.5,3.5\n")
    return ["run", write_job(d, {"path": "*.csv", "schema": {"fare": "float", "miles": "float"}})]


def test_csv_column_missing_from_a_file_is_reported_as_missing(finished):
    d, result = outcome(finished, "csv_column_missing")
    assert_user_error(
        result,
        f"{d / 'b.csv'}: column 'company' is missing from this file (its columns: 'row_id', 'fare', 'miles'); "
        "set `input.schema.company.default` to fill it with a constant",
    )
    assert output_siblings(d) == []


@case
def jsonl_column_missing(d):
    (d / "a.jsonl").write_text('{"row_id": 1, "fare": 10.5, "miles": 1.5, "company": "Zip"}\n')
    (d / "b.jsonl").write_text('{"row_id": 2, "fare": 11.5, "miles": 2.5}\n{"row_id": 3, "fare": 1.5, "miles": 2}\n')
    return ["run", write_job(d, {"path": "*.jsonl", "schema": {"fare": "float", "miles": "float"}})]


def test_jsonl_column_missing_from_a_file_is_reported_as_missing(finished):
    d, result = outcome(finished, "jsonl_column_missing")
    assert_user_error(
        result,
        f"{d / 'b.jsonl'}: column 'company' is missing from this file (its columns: 'row_id', 'fare', 'miles'); "
        "set `input.schema.company.default` to fill it with a constant",
    )
    assert output_siblings(d) == []


# --- paths, the preprocessing_fn, the job file ------------------------------------


@case
def missing_input_file(d):
    return ["run", write_job(d, {"path": "data/rides.parquet"})]


def test_missing_input_file(finished):
    d, result = outcome(finished, "missing_input_file")
    assert_user_error(result, f"`input.path`: {d / 'data' / 'rides.parquet'} does not exist")
    assert output_siblings(d) == []


def _unable_to_read(path):
    """A command prefix under which ``path`` cannot be read; None if there is none here.

    As root, setpriv drops the capabilities that bypass file permissions.
    """
    prefix = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            return None
        drop = "-dac_override,-dac_read_search"
        prefix = ("setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}")
    probe = subprocess.run([*prefix, "test", "-r", str(path)], capture_output=True)
    return None if probe.returncode == 0 else prefix


@case
def unreadable_file(d):
    pq.write_table(rides(0), d / "rides.parquet")
    os.chmod(d / "rides.parquet", 0)
    prefix = _unable_to_read(d / "rides.parquet")
    if prefix is None:
        return None
    return ["run", write_job(d, {"path": "rides.parquet"})], {"prefix": prefix}


def test_unreadable_file_is_permission_denied(finished):
    d, result = outcome(finished, "unreadable_file")
    assert_user_error(result, f"`input.path`: {d / 'rides.parquet'}: permission denied (the file cannot be read)")
    assert output_siblings(d) == []


@case
def unreadable_folder(d):
    (d / "data").mkdir()
    pq.write_table(rides(0), d / "data" / "rides.parquet")
    os.chmod(d / "data", 0)
    prefix = _unable_to_read(d / "data")
    if prefix is None:
        os.chmod(d / "data", 0o755)
        return None
    return ["run", write_job(d, {"path": "data"})], {"prefix": prefix}


def test_unreadable_folder_is_permission_denied(finished):
    d, result = outcome(finished, "unreadable_folder")
    os.chmod(d / "data", 0o755)
    assert_user_error(result, f"`input.path`: {d / 'data'}: permission denied (the folder cannot be listed)")
    assert output_siblings(d) == []


@case
def fn_file_missing(d):
    pq.write_table(rides(0), d / "rides.parquet")
    return ["run", write_job(d, {"path": "rides.parquet"}, fn="fns/nope.py:preprocessing_fn")]


def test_preprocessing_fn_file_that_does_not_exist(finished):
    d, result = outcome(finished, "fn_file_missing")
    assert_user_error(result, f"`preprocessing_fn`: file {str(d / 'fns' / 'nope.py')!r} not found")


@case
def fn_name_missing(d):
    pq.write_table(rides(0), d / "rides.parquet")
    return ["run", write_job(d, {"path": "rides.parquet"}, fn="fns/fn.py:preprocesing_fn")]


def test_preprocessing_fn_name_that_does_not_exist(finished):
    d, result = outcome(finished, "fn_name_missing")
    assert_user_error(
        result, f"`preprocessing_fn`: {d / 'fns' / 'fn.py'} has no 'preprocesing_fn' (did you mean 'preprocessing_fn'?)"
    )
    assert output_siblings(d) == []


@case
def unsupported_format(d):
    pq.write_table(rides(0), d / "rides.parquet")
    return ["run", write_job(d, {"path": "rides.parquet", "format": "xml"})]


@case
def unknown_extension(d):
    (d / "rides.xml").write_text("<rides/>")
    return ["run", write_job(d, {"path": "rides.xml"})]


def test_unsupported_format_lists_the_supported_ones(finished):
    d, result = outcome(finished, "unsupported_format")
    assert_user_error(result, "`input.format` must be one of 'parquet', 'csv', 'tfrecord', 'jsonl'; got 'xml'")
    d, result = outcome(finished, "unknown_extension")
    assert_user_error(
        result,
        "`input.format` must be set to one of 'parquet', 'csv', 'tfrecord', 'jsonl': it cannot be told from the "
        "file names (found rides.xml)",
    )


@case
def config_value_of_the_wrong_type(d):
    return ["run", write_job(d, {"path": "rides.parquet", "batch_size": "lots"})]


@case
def on_bad_record_typo(d):
    return ["run", write_job(d, {"path": "rides.parquet", "on_bad_record": "skipp"})]


def test_config_values_of_the_wrong_type_name_the_key(finished):
    _, result = outcome(finished, "config_value_of_the_wrong_type")
    assert_user_error(result, "`input.batch_size` must be an integer >= 1; got 'lots'")
    _, result = outcome(finished, "on_bad_record_typo")
    assert_user_error(result, "`input.on_bad_record` must be one of 'fail', 'skip'; got 'skipp' (did you mean 'skip'?)")


# --- internal errors ------------------------------------------------------------

SIMULATED_BUG = textwrap.dedent(
    """
    import sys
    import beam_jobs._job

    def load_job(*args, **kwargs):
        raise RuntimeError("simulated bug in featurebeam")

    beam_jobs._job.load_job = load_job
    from beam_jobs.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@case
def internal_error(d):
    return ["run", write_job(d, {"path": "rides.parquet"})], {"python_code": SIMULATED_BUG}


@case
def internal_error_verbose(d):
    return ["run", write_job(d, {"path": "rides.parquet"}), "--verbose"], {"python_code": SIMULATED_BUG}


def test_internal_error_exits_1_with_a_short_message_and_the_traceback_in_the_log(finished):
    _, result = outcome(finished, "internal_error")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "featurebeam: internal error: RuntimeError: simulated bug in featurebeam"
    assert len(lines) == 2 and "Traceback" not in result.stderr
    log = re.search(r"is in (\S+\.log) \(or run again with --verbose to see it here\)$", lines[1])
    assert lines[1].startswith("featurebeam: this is a bug in featurebeam, not in your job.") and log
    with open(log[1]) as handle:
        logged = handle.read()
    os.unlink(log[1])
    assert "Traceback (most recent call last)" in logged and "RuntimeError: simulated bug in featurebeam" in logged
    _, verbose = outcome(finished, "internal_error_verbose")
    assert verbose.returncode == 1
    assert verbose.stderr.startswith("featurebeam: internal error: RuntimeError: simulated bug in featurebeam\n")
    assert "Traceback (most recent call last)" in verbose.stderr and "in load_job" in verbose.stderr


# --- on_bad_record: skip --------------------------------------------------------


def rejected_lines(output) -> list[dict]:
    """Every line of OUTPUT/rejected/*.jsonl, sorted by file and place."""
    entries = []
    for name in sorted(os.listdir(output / "rejected")):
        assert re.fullmatch(r"part-\d{5}-of-\d{5}\.jsonl", name)
        entries += [json.loads(line) for line in (output / "rejected" / name).read_text().splitlines()]
    return sorted(entries, key=lambda e: (e["file"], e.get("line") or e.get("row") or e.get("record") or 0))


def assert_skipped(result, output, *, records: int, rows: int | None, files: dict, rows_read: int) -> dict:
    """Exit 0, one warning line on stderr, the counts in run.json; returns run.json."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    run = json.loads((output / "run.json").read_text())
    assert run["rejected"] == {"records": records, "rows": rows, "files": files, "path": str(output / "rejected")}
    shown = "an unknown number of rows" if rows is None else f"{rows:,} rows"
    assert f"featurebeam: warning: skipped {records} bad records ({shown}) in {len(files)} file(s) " in result.stderr
    assert f"they are listed in {output / 'rejected'}/ and run.json" in result.stderr
    assert run["rows"] == {"read": rows_read, "written": rows_read}
    assert set(run["rows_per_pass"].values()) == {rows_read}, "every pass skips the same records"
    return run


@case
def csv_skip(d):
    (d / "a.csv").write_text(
        "row_id,fare,miles,company\n"
        "1,10.5,1.5,Zip\n"
        "2,11.5,2.5\n"  # a field short
        "3,abc,3.5,Globe\n"  # not a number
        "4,inf,4.5,Zip\n"  # a number: read, and warned about
        "5,14.5,5.5,Globe\n"
    )
    (d / "b.csv").write_text("row_id,fare,miles,company\n6,10.5,1.5,Zip\n7,11.5,2.5,Globe\n")
    job = write_job(d, {"path": "*.csv", "on_bad_record": "skip", "schema": {"fare": "float", "miles": "float"}})
    return ["run", job, "--quiet"]


def test_csv_bad_lines_are_skipped_into_rejected(finished):
    d, result = outcome(finished, "csv_skip")
    out = d / "out"
    assert_skipped(result, out, records=2, rows=2, files={str(d / "a.csv"): {"records": 2, "rows": 2}}, rows_read=5)
    assert result.stderr.startswith("featurebeam: warning: column 'fare' has 1 NaN or infinite values\n")
    assert len(result.stderr.splitlines()) == 2 and result.stdout == ""  # --quiet keeps the warnings
    assert rejected_lines(out) == [
        {"file": str(d / "a.csv"), "line": 3, "reason": "expected 4 fields; got 3", "rows": 1, "raw": "2,11.5,2.5"},
        {
            "file": str(d / "a.csv"),
            "line": 4,
            "reason": "column 'fare': value 'abc' is not a number",
            "rows": 1,
            "raw": "3,abc,3.5,Globe",
        },
    ]
    row_ids = pq.read_table(out / "transformed_data").column("row_id").to_pylist()
    assert sorted(row_ids) == [1, 4, 5, 6, 7]


@case
def jsonl_skip(d):
    lines = [
        '{"row_id": 1, "fare": 10.5, "miles": 1.5, "company": "Zip"}',
        '{"row_id": 2, "fare": "11.5", "miles": 2.5, "company": "Globe"}',
        '{"row_id": 3, "fare": 12.5, "miles": 3.5, "company": "Sun',
        "",
        '["row_id", 4]',
        '{"row_id": 5, "fare": 14.5, "miles": 5.5, "company": "Zip"}',
    ]
    (d / "rides.jsonl").write_text("\n".join(lines) + "\n")
    return ["run", write_job(d, {"path": "rides.jsonl", "on_bad_record": "skip", "schema": {"miles": "float"}})]


def test_jsonl_bad_lines_are_skipped_into_rejected(finished):
    d, result = outcome(finished, "jsonl_skip")
    out, path = d / "out", str(d / "rides.jsonl")
    assert_skipped(result, out, records=3, rows=3, files={path: {"records": 3, "rows": 3}}, rows_read=2)
    assert rejected_lines(out) == [
        {
            "file": path,
            "line": 2,
            "reason": "column 'fare': value '11.5' is not a number",
            "rows": 1,
            "raw": '{"row_id": 2, "fare": "11.5", "miles": 2.5, "company": "Globe"}',
        },
        {
            "file": path,
            "line": 3,
            "reason": "not valid JSON (Unterminated string starting at)",
            "rows": 1,
            "raw": '{"row_id": 3, "fare": 12.5, "miles": 3.5, "company": "Sun',
        },
        {"file": path, "line": 5, "reason": "expected a JSON object; got an array", "rows": 1, "raw": '["row_id", 4]'},
    ]
    assert sorted(pq.read_table(out / "transformed_data").column("row_id").to_pylist()) == [1, 5]


@case
def tfrecord_skip(d):
    records = ride_examples(rides(0, 8))
    records[1] = b"\xff\xff\x00 not a protocol buffer"
    records[2] = example(row_id=2, fare=7, miles=1.5, company="Zip")  # fare as an int64_list
    data = bytearray(framed(records))
    offsets = np.cumsum([0] + [len(r) + 16 for r in records])
    data[offsets[4] + 12] ^= 0x01  # the data of record 5: its checksum no longer matches
    data[offsets[6]] ^= 0x01  # the length of record 7: the framing is lost from there on
    (d / "a.tfrecord").write_bytes(gzip.compress(bytes(data)))
    (d / "b.tfrecord").write_bytes(framed(ride_examples(rides(1, 3))))
    return ["run", write_job(d, {"path": "*.tfrecord", "on_bad_record": "skip"})]


def test_tfrecord_bad_records_are_skipped_into_rejected(finished):
    d, result = outcome(finished, "tfrecord_skip")
    out, path = d / "out", str(d / "a.tfrecord")
    assert_skipped(result, out, records=4, rows=None, files={path: {"records": 4, "rows": None}}, rows_read=3 + 3)
    entries = rejected_lines(out)
    assert [e.pop("raw_base64", None) is not None for e in entries] == [True, True, False, False]
    assert entries == [
        {"file": path, "record": 2, "reason": "not a tf.Example (the record cannot be parsed)", "rows": 1},
        {
            "file": path,
            "record": 3,
            "reason": "feature 'fare' is an int64_list, but column 'fare' is float (a float_list)",
            "rows": 1,
        },
        {"file": path, "record": 5, "reason": "corrupt record: its data does not match its checksum", "rows": 1},
        {
            "file": path,
            "record": 7,
            "reason": "corrupt TFRecord framing: the record's length does not match its checksum; "
            "the rest of the file cannot be read",
            "rows": None,
        },
    ]
    row_ids = sorted(pq.read_table(out / "transformed_data").column("row_id").to_pylist())
    assert row_ids == sorted([0, 3, 5] + rides(1, 3).column("row_id").to_pylist())


@case
def parquet_skip(d):
    (d / "data").mkdir()
    pq.write_table(rides(0, 10), d / "data" / "a.parquet")
    miles = rides(1, 10).column("miles").to_pylist()
    miles[3] = "far"
    pq.write_table(rides(1, 10).set_column(2, "miles", pa.array([str(m) for m in miles])), d / "data" / "b.parquet")
    pq.write_table(rides(2, 10), d / "data" / "c.parquet")
    whole = (d / "data" / "c.parquet").read_bytes()
    (d / "data" / "c.parquet").write_bytes(whole[:-100])
    return ["run", write_job(d, {"path": "data", "on_bad_record": "skip"})]


def test_parquet_bad_rows_and_truncated_files_are_skipped_into_rejected(finished):
    d, result = outcome(finished, "parquet_skip")
    out = d / "out"
    b, c = str(d / "data" / "b.parquet"), str(d / "data" / "c.parquet")
    files = {b: {"records": 1, "rows": 1}, c: {"records": 1, "rows": None}}
    assert_skipped(result, out, records=2, rows=None, files=files, rows_read=19)
    first, second = rejected_lines(out)
    raw = json.loads(first.pop("raw"))
    assert first == {"file": b, "row": 4, "reason": "column 'miles': value 'far' is not a number", "rows": 1}
    assert raw["miles"] == "far" and raw["row_id"] == 13
    assert second.pop("reason").startswith("not a readable Parquet file: it is truncated or corrupt (")
    assert second == {"file": c, "rows": None}  # a whole file: no row to name, its size unknown


# --- interrupted runs ---------------------------------------------------------------


def snapshot(directory) -> dict[str, bytes]:
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, directory)] = handle.read()
    return files


def start_and_wait_for_staging(args, parent, exclude=()):
    """Start a run; return it and its staging folder once that appears (the pipeline is then starting)."""
    process = subprocess.Popen(
        command(*args),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        staging = [p for p in parent.glob(".out.featurebeam-tmp-*") if p not in exclude]
        if staging:
            return process, staging[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)
    process.kill()
    raise AssertionError("no staging folder appeared")


def test_killed_and_interrupted_runs_leave_the_earlier_output_and_the_next_run_succeeds(trained, workspace, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(trained, out)  # an earlier output at the job's output path
    before = snapshot(out)
    args = ("run", workspace / "job.yaml", "--set", f"output.path={out}")

    interrupted, staging = start_and_wait_for_staging(args, tmp_path)
    interrupted.send_signal(signal.SIGINT)
    _, stderr = interrupted.communicate()
    assert interrupted.returncode == 130
    assert _IMPORT_NOISE.sub("", stderr) == "featurebeam: interrupted; no output was published\n"
    assert not staging.exists() and snapshot(out) == before

    killed, killed_staging = start_and_wait_for_staging(args, tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    assert snapshot(out) == before
    assert killed_staging.exists()  # nothing can clean up after SIGKILL: the next run does

    result = featurebeam(*args, "--quiet")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["out"], "the killed run's staging folder was removed"
    run = json.loads((out / "run.json").read_text())
    assert run["notes"] == [f"cleaned up after an interrupted earlier run: {killed_staging}"]
    assert run["started_at"] >= json.loads(before["run.json"])["finished_at"]
    # Determinism: the same job on the same data learns the same values, byte for byte.
    after = snapshot(out)
    learned = [name for name in before if name.startswith("transform_fn/assets")]
    assert len(learned) == 4  # assets.extra/analyzers.json and interface.json, and the two vocabularies
    assert {name: after[name] for name in learned} == {name: before[name] for name in learned}


# --- serving the transform_fn -----------------------------------------------------------


@pytest.fixture(scope="module")
def served(trained):
    import tensorflow as tf

    analyzers = json.loads((trained / "transform_fn" / "assets.extra" / "analyzers.json").read_text())["analyzers"]
    return tf.saved_model.load(str(trained / "transform_fn")), {a["key"]: a for a in analyzers}


def serving_inputs(company, miles):
    import tensorflow as tf

    return {
        "row_id": tf.constant(np.arange(len(company)), tf.int64),
        "fare": tf.constant([10.0] * len(company), tf.float32),
        "miles": tf.constant(miles, tf.float32),
        "company": tf.constant(company),
    }


def test_serving_maps_unseen_categories_to_oov_buckets_or_the_default_value(served):
    transform, analyzers = served
    vocabulary = analyzers["company_oov/vocabulary"]["top_tokens"]
    assert sorted(vocabulary) == sorted(COMPANIES)
    top3 = analyzers["company_top3/vocabulary"]["top_tokens"]
    assert top3 == vocabulary[:3]
    unseen = ["Nowhere Cab", "", "flash cab"]
    company = [vocabulary[0], vocabulary[4], *unseen]
    out = transform.signatures["serving_default"](**serving_inputs(company, [1.0] * len(company)))
    oov = out["company_oov"].numpy()
    assert oov[:2].tolist() == [0, 4]
    assert all(len(vocabulary) <= i < len(vocabulary) + 2 for i in oov[2:])  # one of the 2 OOV buckets
    # top_k=3: a known token beyond the top 3 is out of vocabulary too, like an unseen one
    assert out["company_top3"].numpy().tolist() == [0, -7, -7, -7, -7]


def test_serving_puts_values_beyond_the_trained_range_in_the_edge_buckets(served):
    transform, analyzers = served
    boundaries = np.array(analyzers["miles_bucket/quantiles"]["values"]["bucket_boundaries"]).reshape(-1)
    assert len(boundaries) == 3
    miles = [-1e9, -1.0, 0.0, float(boundaries[1]), 1e6, float("inf")]
    out = transform.signatures["serving_default"](**serving_inputs(["Zip"] * len(miles), miles))
    assert out["miles_bucket"].numpy().tolist() == [0, 0, 0, 2, 3, 3]


def test_serving_with_the_wrong_dtype_fails_naming_the_input_and_dtypes(served):
    import tensorflow as tf

    transform, _ = served
    inputs = serving_inputs(["Zip"], [1.0])
    inputs["miles"] = tf.constant([1], tf.int64)
    # The function behind the Keras layer names the input and both dtypes.
    with pytest.raises(TypeError) as caught:
        transform.transform_fn(inputs)
    message = str(caught.value)
    assert "TensorSpec(shape=(1,), dtype=tf.int64, name='miles')" in message
    assert "TensorSpec(shape=(None,), dtype=tf.float32, name='miles')" in message
    # A signature (TensorFlow's own check) names the input by its position among the sorted input names.
    signature = transform.signatures["serving_default"]
    position = sorted(signature.structured_input_signature[1]).index("miles")
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        signature(**inputs)
    assert f"input #{position}(zero-based) was expected to be a float tensor but is a int64 tensor" in str(caught.value)


def test_rejected_records_decode_from_base64():
    # what a user does with a rejected tf.Example: decode it back
    from beam_jobs._bad_records import BadRecord

    entry = json.loads(BadRecord("f", "record", 2, "bad", raw=b"\x00\xff").to_json())
    assert base64.b64decode(entry["raw_base64"]) == b"\x00\xff"


def test_an_undecodable_parquet_row_group_is_one_bad_record_of_its_rows(tmp_path):
    # In process: the unit below the file for Parquet is the row group (its pages cannot be split into rows).
    import apache_beam as beam

    from beam_jobs._read import _ReadFile
    from featurebeam_base.errors import InputError

    pq.write_table(rides(0, 30), tmp_path / "rides.parquet", row_group_size=10, compression="snappy")
    column = pq.ParquetFile(tmp_path / "rides.parquet").metadata.row_group(1).column(1)
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray((tmp_path / "rides.parquet").read_bytes())
    data[start : start + 8] = b"\xff" * 8  # the page header of row group 2's first page
    (tmp_path / "rides.parquet").write_bytes(bytes(data))
    features = [("row_id", "int", None), ("fare", "float", None)]
    with pytest.raises(InputError) as caught:
        list(_ReadFile("parquet", features, 100).process(str(tmp_path / "rides.parquet")))
    assert str(caught.value).startswith(
        f"{tmp_path / 'rides.parquet'}: row 11: corrupt Parquet data: row group 2 cannot be decoded from this row on "
        "(10 rows): "
    )
    assert "\n" not in str(caught.value)
    out = list(
        _ReadFile("parquet", features, 100, "read", skip_bad_records=True).process(str(tmp_path / "rides.parquet"))
    )
    rows = [row for o in out if isinstance(o, pa.RecordBatch) for row in o.column(0).to_pylist()]
    assert rows == list(range(10)) + list(range(20, 30))
    (rejected,) = [json.loads(o.value) for o in out if isinstance(o, beam.pvalue.TaggedOutput)]
    assert rejected["row"] == 11 and rejected["rows"] == 10
