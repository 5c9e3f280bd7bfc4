"""Job files: YAML loading, validation, and the preprocessing_fn a job runs.

A job file is validated against one table (``_JOB``) before any work starts;
every error names the key path, what is allowed and, for a typo, the nearest
valid key or value, in one shape::

    `output.format` must be one of 'parquet', 'tfrecord'; got 'csvv'

Relative paths in the file resolve against the file's folder; relative paths
given on the command line (``--set output.path=...``) against the working
directory. A declarative ``features:`` list compiles to a ``DeclarativeFn``, a
picklable preprocessing_fn built on ``import preprocessing as pp``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

INPUT_FORMATS = ("parquet", "csv", "tfrecord", "jsonl")
OUTPUT_FORMATS = ("parquet", "tfrecord")
ON_BAD_RECORD = ("fail", "skip")
FEATURE_TYPES = ("float", "int", "string")
DEFAULT_BATCH_SIZE = 65536
DEFAULT_RUNNER = "DirectRunner"


class JobError(Exception):
    """A problem with the job file or its input that the user can fix: exit status 2.

    ``details`` is extra text printed after the message (for example the user's
    own traceback when their preprocessing_fn raised).
    """

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class ConfigError(JobError):
    """The job file (or a ``--set``) is invalid."""


class InputError(JobError):
    """The input data does not match the job: missing files, nulls, bad values."""


# ---------------------------------------------------------------------------
# Validation table


def _quote_all(values) -> str:
    return ", ".join(repr(v) for v in values)


def _nearest(word: str, candidates) -> str | None:
    matches = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return matches[0] if matches else None


def _fail(path: str, allowed: str, value: Any, hint: str = "") -> ConfigError:
    return ConfigError(f"`{path}` must be {allowed}; got {value!r}{hint}")


class _Field:
    """One value in the job file: ``check`` returns it normalised or raises ConfigError."""

    allowed = "a value"

    def check(self, value: Any, path: str) -> Any:
        raise NotImplementedError


class _String(_Field):
    allowed = "a non-empty string"

    def check(self, value, path):
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, self.allowed, value)
        return value


class _Choice(_Field):
    def __init__(self, choices: tuple[str, ...]):
        self.choices = choices
        self.allowed = f"one of {_quote_all(choices)}"

    def check(self, value, path):
        if value not in self.choices:
            near = _nearest(value, self.choices) if isinstance(value, str) else None
            raise _fail(path, self.allowed, value, f" (did you mean {near!r}?)" if near else "")
        return value


class _Integer(_Field):
    def __init__(self, minimum: int | None = None):
        self.minimum = minimum
        self.allowed = "an integer" if minimum is None else f"an integer >= {minimum}"

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, self.allowed, value)
        if self.minimum is not None and value < self.minimum:
            raise _fail(path, self.allowed, value)
        return value


class _Number(_Field):
    def __init__(self, low: float | None = None, high: float | None = None):
        self.low, self.high = low, high
        self.allowed = "a number" if low is None else f"a number in ({low}, {high})"

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, self.allowed, value)
        if self.low is not None and not self.low < value < self.high:
            raise _fail(path, self.allowed, value)
        return float(value)


class _Scalar(_Field):
    allowed = "a number or a string"

    def check(self, value, path):
        if value is None:  # `default: null`, e.g. from --set, means no default
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _fail(path, self.allowed, value)
        return value


class _AnyMapping(_Field):
    """A mapping with free-form keys (checked elsewhere), e.g. ``pipeline_options``."""

    allowed = "a mapping"

    def check(self, value, path):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise _fail(path, self.allowed, value)
        return dict(value)


@dataclass
class _Mapping(_Field):
    fields: dict[str, _Field]
    required: tuple[str, ...] = ()
    allowed = "a mapping"

    def check(self, value, path):
        if not isinstance(value, Mapping):
            raise _fail(path, self.allowed, value)
        for key in value:
            if key not in self.fields:
                raise unknown_key(path, key, self.fields)
        for key in self.required:
            if value.get(key) is None:
                raise ConfigError(f"`{_join(path, key)}` is required")
        return {key: spec.check(value[key], _join(path, key)) for key, spec in self.fields.items() if key in value}


def unknown_key(path: str, key: Any, known) -> ConfigError:
    near = _nearest(key, known)
    hint = f"; did you mean `{_join(path, near)}`?" if near else ""
    where = f" under `{path}`" if path else ""
    return ConfigError(
        f"`{_join(path, key)}` is not a valid key{hint} (valid keys{where}: {_quote_all(sorted(known))})"
    )


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class _Column(_Field):
    """``input.schema.NAME``: ``{type: float, default: 0}`` or just ``float``."""

    allowed = f"a mapping with `type` ({_quote_all(FEATURE_TYPES)}) and/or `default`"
    _fields = _Mapping({"type": _Choice(FEATURE_TYPES), "default": _Scalar()})

    def check(self, value, path):
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, Mapping):
            raise _fail(path, self.allowed, value)
        checked = self._fields.check(value, path)
        column = ColumnSpec(checked.get("type"), checked.get("default"))
        if column.type is not None and column.default is not None:
            check_default(column.type, column.default, f"{path}.default")
        return column


def check_default(feature_type: str, default: Any, path: str) -> None:
    """A default must have its column's type (ints are fine for floats)."""
    ok = {
        "float": isinstance(default, (int, float)) and not isinstance(default, bool),
        "int": isinstance(default, int) and not isinstance(default, bool),
        "string": isinstance(default, str),
    }[feature_type]
    if not ok:
        kind = {"float": "a number", "int": "an integer", "string": "a string"}[feature_type]
        raise _fail(path, f"{kind} (the column is {feature_type})", default)


class _Schema(_Field):
    allowed = "a mapping of column name -> {type, default}"

    def check(self, value, path):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise _fail(path, self.allowed, value)
        return {str(name): _Column().check(column, _join(path, name)) for name, column in value.items()}


# ---------------------------------------------------------------------------
# Declarative features


@dataclass(frozen=True)
class _Transform:
    """One declarative transform: which raw types it takes and its parameters."""

    input_types: tuple[str, ...]
    params: dict[str, _Field] = field(default_factory=dict)
    required: tuple[str, ...] = ()


_NUMERIC = ("float", "int")
TRANSFORMS: dict[str, _Transform] = {
    "identity": _Transform(FEATURE_TYPES),
    "scale_to_z_score": _Transform(_NUMERIC),
    "scale_to_0_1": _Transform(_NUMERIC),
    "scale_by_min_max": _Transform(_NUMERIC, {"output_min": _Number(), "output_max": _Number()}),
    "compute_and_apply_vocabulary": _Transform(
        ("string", "int"),
        {
            "top_k": _Integer(minimum=1),
            "frequency_threshold": _Integer(minimum=0),
            "num_oov_buckets": _Integer(minimum=0),
            "default_value": _Integer(),
        },
    ),
    "bucketize": _Transform(
        _NUMERIC, {"num_buckets": _Integer(minimum=1), "epsilon": _Number(0.0, 1.0)}, ("num_buckets",)
    ),
    "hash_strings": _Transform(("string",), {"hash_buckets": _Integer(minimum=1)}, ("hash_buckets",)),
}


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of ``features:``: ``output = transform(inputs[name], **params)``."""

    name: str
    transform: str
    output: str
    params: tuple[tuple[str, Any], ...] = ()


class _Features(_Field):
    allowed = "a non-empty list of mappings like {name: fare, transform: scale_to_z_score}"
    _common = {"name": _String(), "transform": _Choice(tuple(TRANSFORMS)), "output": _String()}

    def check(self, value, path):
        if not isinstance(value, list) or not value:
            raise _fail(path, self.allowed, value)
        specs = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                raise _fail(item_path, "a mapping like {name: fare, transform: scale_to_z_score}", item)
            transform_name = _Mapping(self._common, ("name", "transform")).check(
                {k: v for k, v in item.items() if k in self._common}, item_path
            )["transform"]
            transform = TRANSFORMS[transform_name]
            checked = _Mapping({**self._common, **transform.params}, ("name", "transform", *transform.required)).check(
                item, item_path
            )
            params = {k: v for k, v in checked.items() if k in transform.params}
            if params.get("output_min", 0.0) >= params.get("output_max", 1.0):
                raise _fail(f"{item_path}.output_max", "greater than `output_min`", params.get("output_max", 1.0))
            specs.append(
                FeatureSpec(
                    checked["name"],
                    transform_name,
                    checked.get("output", checked["name"]),
                    tuple(sorted(params.items())),
                )
            )
        outputs = [s.output for s in specs]
        for index, spec in enumerate(specs):
            if outputs.index(spec.output) != index:
                raise ConfigError(
                    f"`{path}[{index}].output` must be unique; {spec.output!r} is already the output of "
                    f"`{path}[{outputs.index(spec.output)}]` (set `output:` to another name)"
                )
        return tuple(specs)


def _apply_transform(spec: FeatureSpec, tensor):
    import preprocessing as pp

    params = dict(spec.params)
    if spec.transform == "identity":
        return tensor
    return getattr(pp, spec.transform)(tensor, **params)


def _scope_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
    return cleaned if re.match(r"[A-Za-z0-9.]", cleaned) else f"f_{cleaned}"


_SCOPE = "xf"


@dataclass(frozen=True)
class DeclarativeFn:
    """A preprocessing_fn compiled from ``features:``; picklable by reference.

    Each output is computed in a name scope named after it, inside one ``xf``
    scope (so no scope shares a name with an input placeholder): analyzer keys
    read as ``xf/fare_z/scale_to_z_score/mean_and_var``.
    """

    features: tuple[FeatureSpec, ...]

    def __call__(self, inputs):
        import tensorflow as tf

        outputs = {}
        with tf.compat.v1.name_scope(_SCOPE):
            for spec in self.features:
                with tf.compat.v1.name_scope(_scope_name(spec.output)):
                    outputs[spec.output] = _apply_transform(spec, inputs[spec.name])
        return outputs

    def check_schema(self, types: Mapping[str, str]) -> None:
        """Every feature exists in the data and has a type its transform takes."""
        for index, spec in enumerate(self.features):
            path = f"features[{index}]"
            if spec.name not in types:
                near = _nearest(spec.name, types)
                hint = f" (did you mean {near!r}?)" if near else ""
                raise _fail(f"{path}.name", f"a column of the input ({_quote_all(types)})", spec.name, hint)
            allowed = TRANSFORMS[spec.transform].input_types
            if types[spec.name] not in allowed:
                raise ConfigError(
                    f"`{path}.transform` {spec.transform!r} takes {' or '.join(allowed)} columns; "
                    f"{spec.name!r} is {types[spec.name]}"
                )


# ---------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class ColumnSpec:
    """A schema entry from the job file; ``None`` means "as inferred from the data"."""

    type: str | None = None
    default: Any = None


@dataclass(frozen=True)
class InputConfig:
    path: str
    format: str | None
    schema: Mapping[str, ColumnSpec]
    batch_size: int = DEFAULT_BATCH_SIZE
    on_bad_record: str = "fail"  # or "skip": set bad records aside in OUTPUT/rejected/


@dataclass(frozen=True)
class OutputConfig:
    path: str
    format: str = "parquet"
    num_shards: int = 0


@dataclass(frozen=True)
class JobConfig:
    """A validated job file with every path resolved."""

    source: str
    input: InputConfig
    output: OutputConfig
    preprocessing_fn: str | None
    features: tuple[FeatureSpec, ...] | None
    runner: str
    pipeline_options: Mapping[str, Any]

    @property
    def base_dir(self) -> str:
        return os.path.dirname(self.source)

    def to_dict(self) -> dict:
        """The resolved job, as run.json records it."""
        result = {
            "source": self.source,
            "input": {
                "path": self.input.path,
                "format": self.input.format,
                "schema": {n: {"type": c.type, "default": c.default} for n, c in self.input.schema.items()},
                "batch_size": self.input.batch_size,
                "on_bad_record": self.input.on_bad_record,
            },
            "output": {"path": self.output.path, "format": self.output.format, "num_shards": self.output.num_shards},
            "runner": self.runner,
            "pipeline_options": dict(self.pipeline_options),
        }
        if self.features is not None:
            result["features"] = [
                {"name": f.name, "transform": f.transform, "output": f.output, **dict(f.params)} for f in self.features
            ]
        else:
            result["preprocessing_fn"] = self.preprocessing_fn
        return result


_JOB = _Mapping(
    {
        "input": _Mapping(
            {
                "path": _String(),
                "format": _Choice(INPUT_FORMATS),
                "schema": _Schema(),
                "batch_size": _Integer(minimum=1),
                "on_bad_record": _Choice(ON_BAD_RECORD),
            },
            ("path",),
        ),
        "preprocessing_fn": _String(),
        "features": _Features(),
        "output": _Mapping(
            {"path": _String(), "format": _Choice(OUTPUT_FORMATS), "num_shards": _Integer(minimum=0)}, ("path",)
        ),
        "runner": _String(),
        "pipeline_options": _AnyMapping(),
    },
    ("input", "output"),
)

_PATH_KEYS = ("input.path", "output.path")


def is_remote(path: str) -> bool:
    return "://" in path


def _resolve(path: str, base: str) -> str:
    if is_remote(path):
        return path
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as YAML (``2`` is an int, ``[a, b]`` a list, ``null`` removes KEY)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"`--set` takes KEY=VALUE, e.g. --set output.format=tfrecord; got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _apply_override(raw: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"`--set {key}`: `{where}` is not an index of the list (0..{len(node) - 1})")
            node = node[int(part)]
            continue
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, (dict, list)):
            raise ConfigError(f"`--set {key}`: `{where}` is {child!r}, not a mapping")
        node = child
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"`--set {key}`: {last!r} is not an index of the list (0..{len(node) - 1})")
        node[int(last)] = value
    elif value is None:  # --set KEY=null removes KEY
        node.pop(last, None)
    else:
        node[last] = value


def load_job(path: str, overrides: list[str] = (), *, runner: str | None = None) -> JobConfig:
    """Read, override, validate and resolve a job file. Raises ConfigError."""
    source = os.path.abspath(path)
    if not os.path.isfile(source):
        raise ConfigError(f"job file {path!r} not found")
    try:
        with open(source, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a job file is a mapping with `input`, `output` and `preprocessing_fn` or `features`"
        )
    from_command_line = set()
    for text in overrides:
        key, value = parse_override(text)
        _apply_override(raw, key, value)
        from_command_line.add(key)
    if runner:
        raw["runner"] = runner
    job = _JOB.check(raw, "")
    has_fn, has_features = "preprocessing_fn" in job, "features" in job
    if has_fn == has_features:
        raise ConfigError(
            "a job needs exactly one of `preprocessing_fn` (file.py:name or package.module:name) "
            "or `features` (a list of declarative transforms)" + ("; it has both" if has_fn else "")
        )
    base = os.path.dirname(source)
    resolved = {key: _resolve(_get(job, key), os.getcwd() if key in from_command_line else base) for key in _PATH_KEYS}
    fn_ref = job.get("preprocessing_fn")
    if fn_ref is not None:
        fn_ref = _resolve_fn_ref(fn_ref, os.getcwd() if "preprocessing_fn" in from_command_line else base)
    input_ = job["input"]
    output = job["output"]
    return JobConfig(
        source=source,
        input=InputConfig(
            resolved["input.path"],
            input_.get("format"),
            input_.get("schema", {}),
            input_.get("batch_size", DEFAULT_BATCH_SIZE),
            input_.get("on_bad_record", "fail"),
        ),
        output=OutputConfig(resolved["output.path"], output.get("format", "parquet"), output.get("num_shards", 0)),
        preprocessing_fn=fn_ref,
        features=job.get("features"),
        runner=job.get("runner", DEFAULT_RUNNER),
        pipeline_options=job.get("pipeline_options", {}),
    )


def check_preprocessing_fn_file(job: JobConfig) -> None:
    """A ``file.py:name`` reference names a file that exists: checked before anything heavy is imported."""
    if job.preprocessing_fn is None:
        return
    target = _FN_REF.match(job.preprocessing_fn)["target"]
    if target.endswith(".py") and not os.path.isfile(target):
        raise ConfigError(f"`preprocessing_fn`: file {target!r} not found")


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


# ---------------------------------------------------------------------------
# Loading a user's preprocessing_fn

_FN_REF = re.compile(r"^(?P<target>[^:]+):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


def _resolve_fn_ref(ref: str, base: str) -> str:
    match = _FN_REF.match(ref.strip())
    if not match:
        raise _fail("preprocessing_fn", "'file.py:name' or 'package.module:name'", ref)
    target = match["target"]
    if target.endswith(".py"):
        target = _resolve(target, base)
    return f"{target}:{match['name']}"


def load_preprocessing_fn(ref: str, search_dir: str) -> Callable:
    """Import ``file.py:name`` or ``package.module:name``; raises ConfigError.

    Modules loaded from the user's own folder (not installed packages) are
    registered with cloudpickle to be pickled by value, so worker processes
    (``multi_processing``, Dataflow) get the code without installing it.
    """
    match = _FN_REF.match(ref)
    target, name = match["target"], match["name"]
    before = set(sys.modules)
    if target.endswith(".py"):
        if not os.path.isfile(target):
            raise ConfigError(f"`preprocessing_fn`: file {target!r} not found")
        local_dir = os.path.dirname(target)
        module_name = "featurebeam_user_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(target))[0])
        spec = importlib.util.spec_from_file_location(module_name, target)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        with _on_path(local_dir):
            _run_user_code(lambda: spec.loader.exec_module(module), ref, target)
    else:
        local_dir = search_dir
        with _on_path(local_dir):
            try:
                module = _run_user_code(lambda: importlib.import_module(target), ref, None)
            except ConfigError as error:
                if isinstance(error.__cause__, ModuleNotFoundError) and target.startswith(error.__cause__.name or "\0"):
                    raise ConfigError(
                        f"`preprocessing_fn`: no module named {target!r} (looked in {local_dir} and sys.path)"
                    ) from None
                raise
    _pickle_local_modules_by_value(set(sys.modules) - before | {module.__name__}, local_dir)
    fn = getattr(module, name, None)
    if fn is None:
        defined = [
            n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", None) == module.__name__
        ]
        near = _nearest(name, defined)
        hint = f"; did you mean {near!r}?" if near else (f"; it defines {_quote_all(defined)}" if defined else "")
        raise ConfigError(f"`preprocessing_fn`: {target} has no {name!r}{hint}")
    if not callable(fn):
        raise ConfigError(f"`preprocessing_fn`: {target}:{name} is a {type(fn).__name__}, not a function")
    return fn


class _on_path:
    def __init__(self, directory: str):
        self.directory = directory

    def __enter__(self):
        sys.path.insert(0, self.directory)

    def __exit__(self, *exc):
        try:
            sys.path.remove(self.directory)
        except ValueError:
            pass


def _run_user_code(call, ref: str, filename: str | None):
    try:
        return call()
    except Exception as error:  # the user's module failed to import: show their traceback
        raise ConfigError(
            f"`preprocessing_fn`: importing {ref} failed: {type(error).__name__}: {error}",
            details=user_traceback(error),
        ) from error


PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OUR_CODE = tuple(
    os.path.join(PROJECT_ROOT, package) + os.sep for package in ("beam_jobs", "preprocessing", "analyzers")
)
_LIBRARIES = ("site-packages", "dist-packages", "<frozen ", os.sep + "importlib" + os.sep)


def _owner(filename: str) -> str:
    """Whose code a traceback frame is in: "featurebeam", "library" or "user"."""
    if filename.startswith(_OUR_CODE):
        return "featurebeam"
    if any(part in filename for part in _LIBRARIES):
        return "library"
    return "user"


def user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` through the user's own code only (no featurebeam, Beam or TF frames)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if _owner(frame.filename) == "user"]
    if not frames:
        return ""
    lines = ["Traceback (your code):\n", *traceback.format_list(frames), f"{type(error).__name__}: {error}\n"]
    return "".join(lines)


def is_users_error(error: BaseException) -> bool:
    """Whether the user's code raised ``error`` (directly, or through a library it called).

    The innermost frame that is not a library's decides: the user's code, or
    featurebeam's (a bug, reported as an internal error).
    """
    owners = [_owner(frame.filename) for frame in traceback.extract_tb(error.__traceback__)]
    own = [owner for owner in owners if owner != "library"]
    return bool(own) and own[-1] == "user"


def _pickle_local_modules_by_value(names, local_dir: str) -> None:
    from apache_beam.internal.cloudpickle import cloudpickle

    root = os.path.abspath(local_dir) + os.sep
    for name in sorted(names):
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if filename and os.path.abspath(filename).startswith(root) and "site-packages" not in filename:
            try:
                cloudpickle.register_pickle_by_value(module)
            except ValueError:  # already registered, or not importable by name
                pass


def preprocessing_fn_of(job: JobConfig) -> Callable:
    """The job's preprocessing_fn: loaded from its reference, or compiled from ``features``."""
    if job.features is not None:
        return DeclarativeFn(job.features)
    return load_preprocessing_fn(job.preprocessing_fn, job.base_dir)
