"""``featurebeam inspect OUTPUT``: what a job learned, and how to call the result.

Analyzer values come from ``OUTPUT/analyzers.json``, which the job writes from
the very ``{analyzer key: values}`` dict that is frozen into the transform_fn
(so nothing is reverse-engineered from graph constants). Vocabularies are
read from the transform_fn's asset files, signatures from its
``saved_model.pb``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from analyzers import MeanAndVarSpec, MinMaxSpec, QuantilesSpec, SizeSpec, SumSpec, VocabularySpec
from beam_jobs._config import InputError

ANALYZERS_FILE = "analyzers.json"
RUN_FILE = "run.json"
TOP_TOKENS = 10

# What each analyzer's result tuple holds, by spec type.
ANALYZER_OUTPUTS: dict[type, tuple[str, tuple[str, ...]]] = {
    MeanAndVarSpec: ("mean_and_var", ("mean", "var")),
    MinMaxSpec: ("min_and_max", ("min", "max")),
    SumSpec: ("sum", ("sum",)),
    SizeSpec: ("size", ("size",)),
    QuantilesSpec: ("quantiles", ("bucket_boundaries",)),
    VocabularySpec: ("vocabulary", ("tokens",)),
}


def _jsonable(value: np.ndarray) -> Any:
    value = np.asarray(value)
    if value.dtype == object:
        return [_token(v) for v in value.reshape(-1).tolist()]
    return value.tolist()


def _token(token) -> str:
    return token.decode("utf-8", errors="backslashreplace") if isinstance(token, bytes) else str(token)


def analyzer_records(phases, values: dict) -> list[dict]:
    """One JSON-able record per analyzer: key, kind, phase and values."""
    records = []
    for phase, specs in enumerate(phases):
        for spec in specs:
            kind, names = ANALYZER_OUTPUTS.get(type(spec), (type(spec).__name__, ()))
            result = values.get(spec.key, ())
            record: dict[str, Any] = {"key": spec.key, "analyzer": kind, "phase": phase}
            if isinstance(spec, VocabularySpec):
                tokens = np.asarray(result[0] if result else [], dtype=object).reshape(-1)
                record.update(
                    vocabulary_file=spec.vocab_filename,
                    vocabulary_size=int(tokens.size),
                    top_tokens=[_token(t) for t in tokens[:TOP_TOKENS]],
                    top_k=spec.top_k,
                    frequency_threshold=spec.frequency_threshold,
                )
            else:
                names = names or tuple(f"output_{i}" for i in range(len(result)))
                record["values"] = {name: _jsonable(v) for name, v in zip(names, result, strict=True)}
            records.append(record)
    return records


def write_analyzers_json(values: dict, phases, output_dir: str) -> str:
    """Beam step: record the analysis results beside the transform_fn."""
    from apache_beam.io.filesystems import FileSystems

    from beam_jobs._io import write_json

    path = FileSystems.join(output_dir, ANALYZERS_FILE)
    write_json(path, {"analyzers": analyzer_records(phases, values)})
    return path


def recorded_analyzers(output_dir: str) -> list[dict] | None:
    """The records of ``OUTPUT/analyzers.json`` on any Beam filesystem; None if absent."""
    from apache_beam.io.filesystems import FileSystems

    recorded = _load_json(FileSystems.join(output_dir, ANALYZERS_FILE))
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


_KIND_OUTPUTS = {kind: names for kind, names in ANALYZER_OUTPUTS.values()}


def _records_from_transform_fn(transform_fn: str) -> list[dict] | None:
    """Analyzer records from the transform_fn's own ``assets.extra/analyzers.json``.

    Outputs written by the Python API (``AnalyzeDataset``) have no
    ``OUTPUT/analyzers.json``; the engine records the same values there, keyed by
    analyzer, without phases.
    """
    recorded = _load_json(os.path.join(transform_fn, "assets.extra", ANALYZERS_FILE))
    if recorded is None:
        return None
    records = []
    for key, outputs in sorted(recorded.items()):
        kind = key.rsplit("/", 1)[-1]
        record: dict[str, Any] = {"key": key, "analyzer": kind, "phase": None}
        if outputs and "vocabulary_size" in outputs[0]:
            record.update(vocabulary_size=outputs[0]["vocabulary_size"], top_tokens=outputs[0]["top"])
            record["analyzer"] = "vocabulary"
        else:
            names = _KIND_OUTPUTS.get(kind, ())
            if len(names) != len(outputs):
                names = tuple(f"output_{i}" for i in range(len(outputs)))
            record["values"] = {name: output["value"] for name, output in zip(names, outputs, strict=True)}
        records.append(record)
    return records


def inspect_output(output_dir: str) -> dict:
    """Everything ``inspect`` shows, as a dict (``--json`` prints it as is).

    ``output_dir`` may be on any Beam filesystem; only its transform_fn is downloaded.
    """
    from apache_beam.io.filesystems import FileSystems

    from beam_jobs._filesystem import local_copy

    output_dir = output_dir.rstrip("/") if "://" in output_dir else os.path.abspath(output_dir)
    transform_fn = FileSystems.join(output_dir, "transform_fn")
    if not FileSystems.exists(FileSystems.join(transform_fn, "saved_model.pb")):
        if not FileSystems.exists(FileSystems.join(output_dir, "saved_model.pb")):
            raise InputError(f"{output_dir} is not a featurebeam output: it has no transform_fn/")
        output_dir, transform_fn = FileSystems.split(output_dir)[0], output_dir
    local_transform_fn = local_copy(transform_fn)
    run = _load_json(FileSystems.join(output_dir, RUN_FILE)) or {}
    analyzers = recorded_analyzers(output_dir)
    if analyzers is None:
        analyzers = _records_from_transform_fn(local_transform_fn)
    parts = FileSystems.match([FileSystems.join(output_dir, "transformed_data", "part-*")])[0].metadata_list
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
    if record["analyzer"] == "vocabulary":
        top = ", ".join(repr(t) for t in record["top_tokens"][:5])
        return f"{record['key']}: vocabulary of {record['vocabulary_size']} tokens (top: {top})"
    values = "  ".join(f"{name} = {_short(value)}" for name, value in record["values"].items())
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
