"""``featurebeam inspect OUTPUT``: what a job learned, and how to call the result.

Analyzer results come from the transform_fn's ``assets.extra/analyzers.json``:
one record per analyzer, written by the analyzer's own spec from the very
results frozen into the transform_fn (so nothing is reverse-engineered from
graph constants, and nothing here knows one analyzer from another). The same
file is written by the command and by the Python API. Vocabularies are read
from the transform_fn's asset files, signatures from its ``saved_model.pb``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from analyzers import RECORDS_FILE
from beam_jobs._layout import DATA_DIR, RUN_FILE, TRANSFORM_FN_DIR
from featurebeam_base.errors import InputError
from featurebeam_base.paths import is_remote, local_path

ANALYZERS_FILE = RECORDS_FILE  # inside transform_fn/
TOP_TOKENS = 10


def _token(token) -> str:
    return token.decode("utf-8", errors="backslashreplace") if isinstance(token, bytes) else str(token)


def analyzer_records(transform_fn_dir: str) -> list[dict] | None:
    """The records of a local transform_fn's ``assets.extra/analyzers.json``; None if absent."""
    path = os.path.join(transform_fn_dir, *ANALYZERS_FILE.split("/"))
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return json.load(handle)["analyzers"]


def recorded_analyzers(output_dir: str) -> list[dict] | None:
    """The analyzer records of an output on any Beam filesystem; None if absent."""
    from apache_beam.io.filesystems import FileSystems

    recorded = _load_json(FileSystems.join(output_dir, TRANSFORM_FN_DIR, ANALYZERS_FILE))
    return None if recorded is None else recorded["analyzers"]


def read_signatures(transform_fn_dir: str) -> dict[str, dict]:
    """``{signature: {"inputs"|"outputs": {name: {"dtype", "shape"}}}}`` from saved_model.pb."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(transform_fn_dir, "saved_model.pb")
    if not os.path.isfile(path):
        raise InputError(f"{transform_fn_dir} is not a transform_fn: it has no saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as handle:
        saved_model.ParseFromString(handle.read())

    def describe(infos):
        return {
            name: {
                "dtype": tf.as_dtype(info.dtype).name,
                "shape": None
                if info.tensor_shape.unknown_rank
                else [d.size if d.size >= 0 else None for d in info.tensor_shape.dim],
            }
            for name, info in sorted(infos.items())
        }

    signatures = {}
    for name, signature in sorted(saved_model.meta_graphs[0].signature_def.items()):
        if name.startswith("__"):  # TensorFlow's own, e.g. __saved_model_init_op
            continue
        signatures[name] = {"inputs": describe(signature.inputs), "outputs": describe(signature.outputs)}
    return signatures


def _read_vocabularies(assets_dir: str) -> dict[str, dict]:
    vocabularies = {}
    if not os.path.isdir(assets_dir):
        return vocabularies
    for name in sorted(os.listdir(assets_dir)):
        with open(os.path.join(assets_dir, name), "rb") as handle:
            lines = handle.read().splitlines()
        vocabularies[name] = {"size": len(lines), "top_tokens": [_token(t) for t in lines[:TOP_TOKENS]]}
    return vocabularies


def _load_json(path: str) -> dict | None:
    """A JSON file on any Beam filesystem; None if it does not exist."""
    from apache_beam.io.filesystems import FileSystems

    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def inspect_output(output_dir: str) -> dict:
    """Everything ``inspect`` shows, as a dict (``--json`` prints it as is).

    ``output_dir`` may be on any Beam filesystem; only its transform_fn is downloaded.
    """
    from apache_beam.io.filesystems import FileSystems

    from beam_jobs._filesystem import local_copy

    output_dir = output_dir.rstrip("/") if is_remote(output_dir) else os.path.abspath(local_path(output_dir))
    transform_fn = FileSystems.join(output_dir, TRANSFORM_FN_DIR)
    if not FileSystems.exists(FileSystems.join(transform_fn, "saved_model.pb")):
        if not FileSystems.exists(FileSystems.join(output_dir, "saved_model.pb")):
            raise InputError(f"{output_dir} is not a featurebeam output: it has no transform_fn/")
        output_dir, transform_fn = FileSystems.split(output_dir)[0], output_dir
    local_transform_fn = local_copy(transform_fn)
    run = _load_json(FileSystems.join(output_dir, RUN_FILE)) or {}
    analyzers = analyzer_records(local_transform_fn)
    parts = FileSystems.match([FileSystems.join(output_dir, DATA_DIR, "part-*")])[0].metadata_list
    return {
        "output": output_dir,
        "run": {
            k: run.get(k)
            for k in ("command", "finished_at", "runner", "rows", "timings_s", "analysis_phases", "rejected")
            if k in run
        },
        "analyzers": analyzers,
        "vocabularies": _read_vocabularies(os.path.join(local_transform_fn, "assets")),
        "signatures": read_signatures(local_transform_fn),
        "transformed_data": sorted(FileSystems.split(m.path)[1] for m in parts),
    }


def _short(values: Any, limit: int = 8) -> str:
    flat = np.asarray(values, dtype=object).reshape(-1).tolist()
    shown = ", ".join(_number(v) for v in flat[:limit])
    if np.ndim(values) == 0:
        return _number(values)
    more = f", ... ({len(flat)} values)" if len(flat) > limit else ""
    return f"[{shown}{more}]"


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def analyzer_line(record: dict) -> str:
    """One line per analyzer: the spec's own ``summary`` if it wrote one, else its values."""
    if "summary" in record:
        return f"{record['key']}: {record['summary']}"
    values = "  ".join(f"{name} = {_short(value)}" for name, value in record.get("values", {}).items())
    return f"{record['key']}: {values}"


def _tensor(name: str, info: dict) -> str:
    shape = (
        "?" if info["shape"] is None else "[" + ", ".join("None" if d is None else str(d) for d in info["shape"]) + "]"
    )
    return f"{name}: {info['dtype']} {shape}"


def format_inspection(info: dict) -> str:
    lines = [f"featurebeam output {info['output']}"]
    run = info["run"]
    if run:
        rows = run.get("rows", {})
        took = (run.get("timings_s") or {}).get("total")
        lines.append(
            f"  {run.get('command', 'run')} on {run.get('runner')}, finished {run.get('finished_at')}: "
            f"{rows.get('read', '?'):,} rows read, {rows.get('written', 0):,} written"
            + (f", {took:.1f} s" if took is not None else "")
        )
        rejected = run.get("rejected") or {}
        if rejected.get("records"):
            lines.append(f"  {rejected['records']:,} bad records skipped: see {rejected['path']}/")
    lines.append("")
    analyzers = info["analyzers"]
    if analyzers is None:
        lines.append("Analyzers: not recorded (no analyzers.json in this output)")
    else:
        if any(a["phase"] is None for a in analyzers):
            lines.append(f"Analyzers ({len(analyzers)}):")
        else:
            phases = 1 + max((a["phase"] for a in analyzers), default=-1)
            lines.append(f"Analyzers ({len(analyzers)}, in {phases} phase{'s' if phases != 1 else ''}):")
        lines.extend(f"  {analyzer_line(record)}" for record in analyzers)
    lines.append("")
    lines.append(f"Vocabularies (transform_fn/assets, {len(info['vocabularies'])}):")
    for name, vocabulary in info["vocabularies"].items():
        top = ", ".join(repr(t) for t in vocabulary["top_tokens"])
        lines.append(f"  {name}: {vocabulary['size']} entries; top: {top}")
    lines.append("")
    lines.append("Signatures (tf.saved_model.load(OUTPUT/transform_fn).signatures[NAME]):")
    for name, signature in info["signatures"].items():
        lines.append(f"  {name}")
        lines.append("    inputs:  " + ", ".join(_tensor(n, i) for n, i in signature["inputs"].items()))
        lines.append("    outputs: " + ", ".join(_tensor(n, i) for n, i in signature["outputs"].items()))
    lines.append("")
    count = len(info["transformed_data"])
    lines.append(f"Transformed data: {count} file{'s' if count != 1 else ''} in transformed_data/")
    return "\n".join(lines)
