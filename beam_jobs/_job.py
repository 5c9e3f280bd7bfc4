"""Job files: YAML loading, ``--set`` overrides, validation and path resolution.

A job file is validated against one table (``_JOB``, built from ``_fields``)
before any work starts. Relative paths in the file resolve against the file's
folder; relative paths given on the command line (``--set output.path=...``)
against the working directory; ``file://`` paths are local paths.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from beam_jobs import _fields as f
from featurebeam_base import paths, types
from featurebeam_base.errors import ConfigError
from featurebeam_base.naming import quote_all

INPUT_FORMATS = ("parquet", "csv", "tfrecord", "jsonl")
OUTPUT_FORMATS = ("parquet", "tfrecord")
ON_BAD_RECORD = ("fail", "skip")
DEFAULT_BATCH_SIZE = 65536
DEFAULT_RUNNER = "DirectRunner"


@dataclass(frozen=True)
class ColumnSpec:
    """A schema entry from the job file; ``None`` means "as inferred from the data"."""

    type: str | None = None
    default: Any = None
    shape: types.Shape | None = None  # (), (k,), "varlen" or "ragged"


class _Shape(f.Field):
    """``shape``: omitted (one value per row), ``[k]``, ``varlen`` or ``ragged``."""

    def check(self, value, path):
        try:
            return types.checked_shape(value)
        except ValueError as error:
            raise ConfigError(f"`{path}` {error}") from None


def check_default(feature_type: str, default: Any, path: str) -> None:
    """A default must have its column's type (ints are fine for floats)."""
    column_type = types.feature_type(feature_type)
    if not column_type.fits(default):
        raise f.fail(path, f"{column_type.noun} (the column is {feature_type})", default)


class _Column(f.Field):
    """``input.schema.NAME``: ``{type: float, default: 0}`` or just ``float``."""

    allowed = f"a mapping with `type` ({quote_all(types.TYPE_NAMES)}), `default` and/or `shape`"
    _fields = f.Keys({"type": f.Choice(types.TYPE_NAMES), "default": f.Scalar(), "shape": _Shape()})

    def check(self, value, path):
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, Mapping):
            raise f.fail(path, self.allowed, value)
        checked = self._fields.check(value, path)
        column = ColumnSpec(checked.get("type"), checked.get("default"), checked.get("shape"))
        if column.type is not None and column.default is not None:
            check_default(column.type, column.default, f"{path}.default")
        return column


class _Schema(f.Field):
    allowed = "a mapping of column name -> {type, default}"

    def check(self, value, path):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise f.fail(path, self.allowed, value)
        return {str(name): _Column().check(column, f.join(path, name)) for name, column in value.items()}


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of ``features:``: ``output = pp.<transform>(inputs[name], **params)``.

    The parameters are checked against the ``pp`` function's own signature
    and checks when the job's preprocessing_fn is built (``_declarative``).
    """

    name: str
    transform: str
    output: str
    params: tuple[tuple[str, Any], ...] = ()


class _Features(f.Field):
    allowed = "a non-empty list of mappings like {name: fare, transform: scale_to_z_score}"
    _common = {"name": f.String(), "transform": f.String(), "output": f.String()}

    def check(self, value, path):
        if not isinstance(value, list) or not value:
            raise f.fail(path, self.allowed, value)
        specs = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                raise f.fail(item_path, "a mapping like {name: fare, transform: scale_to_z_score}", item)
            common = f.Keys(self._common, ("name", "transform")).check(
                {k: v for k, v in item.items() if k in self._common}, item_path
            )
            params = tuple((str(k), v) for k, v in item.items() if k not in self._common)
            specs.append(FeatureSpec(common["name"], common["transform"], common.get("output", common["name"]), params))
        outputs = [s.output for s in specs]
        for index, spec in enumerate(specs):
            if outputs.index(spec.output) != index:
                raise ConfigError(
                    f"`{path}[{index}].output` must be unique; {spec.output!r} is already the output of "
                    f"`{path}[{outputs.index(spec.output)}]` (set `output:` to another name)"
                )
        return tuple(specs)


@dataclass(frozen=True)
class Thresholds:
    """When ``validate`` reports a feature: a measured value strictly above its threshold is an anomaly.

    Fractions from 0 to 1; 1 switches a check off.
    """

    linf: float = 0.1  # L-infinity distance of a string feature's value distributions
    jsd: float = 0.1  # Jensen-Shannon divergence of a numeric feature's histograms
    missing: float = 0.01  # rise of the fraction of rows missing the feature, over the baseline's
    unseen: float = 0.0  # fraction of a string feature's values outside the baseline's values
    nan: float = 0.0  # fraction of NaN values of a numeric feature that had none in the baseline

    def updated(self, changes: Mapping[str, float]) -> Thresholds:
        return dataclasses.replace(self, **changes)


THRESHOLD_KEYS = tuple(field.name for field in dataclasses.fields(Thresholds))


@dataclass(frozen=True)
class ValidationConfig:
    """``validation:``: thresholds for every feature, and per feature (``features: {name: {jsd: 0.05}}``)."""

    defaults: Thresholds = Thresholds()
    features: Mapping[str, Thresholds] = dataclasses.field(default_factory=dict)

    def thresholds(self, feature: str) -> Thresholds:
        return self.features.get(feature, self.defaults)

    def to_dict(self) -> dict:
        return {
            **dataclasses.asdict(self.defaults),
            "features": {name: dataclasses.asdict(t) for name, t in self.features.items()},
        }


class _Validation(f.Field):
    allowed = "a mapping of thresholds, e.g. {linf: 0.1, jsd: 0.1, features: {price: {jsd: 0.05}}}"
    _thresholds = {key: f.Fraction() for key in THRESHOLD_KEYS}
    _fields = f.Keys({**_thresholds, "features": f.MappingOf(f.Keys(_thresholds))})

    def check(self, value, path):
        if value is None:
            return ValidationConfig()
        checked = self._fields.check(value, path)
        features = checked.pop("features", {})
        defaults = Thresholds().updated(checked)
        return ValidationConfig(defaults, {name: defaults.updated(own) for name, own in features.items()})


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
    statistics: bool = True  # the first pass also writes OUTPUT/statistics/FeatureStats.pb and report.html
    validation: ValidationConfig = ValidationConfig()

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
                "schema": {n: _column_dict(c) for n, c in self.input.schema.items()},
                "batch_size": self.input.batch_size,
                "on_bad_record": self.input.on_bad_record,
            },
            "output": {"path": self.output.path, "format": self.output.format, "num_shards": self.output.num_shards},
            "runner": self.runner,
            "pipeline_options": dict(self.pipeline_options),
            "statistics": self.statistics,
            "validation": self.validation.to_dict(),
        }
        if self.features is not None:
            result["features"] = [
                {"name": s.name, "transform": s.transform, "output": s.output, **dict(s.params)} for s in self.features
            ]
        else:
            result["preprocessing_fn"] = self.preprocessing_fn
        return result


def _column_dict(column: ColumnSpec) -> dict:
    shape = column.shape if column.shape is None or isinstance(column.shape, str) else list(column.shape)
    return {"type": column.type, "default": column.default, "shape": shape}


_JOB = f.Keys(
    {
        "input": f.Keys(
            {
                "path": f.String(),
                "format": f.Choice(INPUT_FORMATS),
                "schema": _Schema(),
                "batch_size": f.Integer(minimum=1),
                "on_bad_record": f.Choice(ON_BAD_RECORD),
            },
            ("path",),
        ),
        "preprocessing_fn": f.String(),
        "features": _Features(),
        "output": f.Keys(
            {"path": f.String(), "format": f.Choice(OUTPUT_FORMATS), "num_shards": f.Integer(minimum=0)}, ("path",)
        ),
        "runner": f.String(),
        "pipeline_options": f.AnyMapping(),
        "statistics": f.Boolean(),
        "validation": _Validation(),
    },
    ("input", "output"),
)

_PATH_KEYS = ("input.path", "output.path")


def resolve_path(path: str, base: str) -> str:
    """An absolute local path (relative to ``base``), or a remote path as it is."""
    if paths.is_remote(path):
        return path
    return os.path.normpath(os.path.join(base, os.path.expanduser(paths.local_path(path))))


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as YAML (``2`` is an int, ``[a, b]`` a list, ``null`` removes KEY).

    A Beam option's VALUE (``pipeline_options.KEY``) stays text, to be read by
    the option's own type as Beam's command line reads ``--KEY=VALUE``.

    >>> parse_override("output.num_shards=2")
    ('output.num_shards', 2)
    >>> parse_override("input.schema.tags.shape=varlen")
    ('input.schema.tags.shape', 'varlen')
    >>> parse_override("pipeline_options.flink_master=[local]")
    ('pipeline_options.flink_master', '[local]')
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"`--set` takes KEY=VALUE, e.g. --set output.format=tfrecord; got {text!r}")
    if key.strip().startswith("pipeline_options.") and raw.strip() != "null":
        return key.strip(), raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _child(node, part: str, key: str, where: str):
    if isinstance(node, list):
        if not part.isdigit() or int(part) >= len(node):
            raise ConfigError(f"`--set {key}`: `{where}` is not an index of the list (0..{len(node) - 1})")
        return node[int(part)]
    child = node.get(part)
    if child is None:
        child = node[part] = {}
    if not isinstance(child, (dict, list)):
        raise ConfigError(f"`--set {key}`: `{where}` is {child!r}, not a mapping")
    return child


def apply_override(raw: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, key, ".".join(parts[: depth + 1]))
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"`--set {key}`: {last!r} is not an index of the list (0..{len(node) - 1})")
        node[int(last)] = value
    elif value is None:  # --set KEY=null removes KEY
        node.pop(last, None)
    else:
        node[last] = value


def _read_yaml(path: str, source: str) -> dict:
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
    return raw


def load_job(path: str, overrides: list[str] = (), *, runner: str | None = None) -> JobConfig:
    """Read, override, validate and resolve a job file. Raises ConfigError."""
    source = os.path.abspath(path)
    raw = _read_yaml(path, source)
    from_command_line = set()
    for text in overrides:
        key, value = parse_override(text)
        apply_override(raw, key, value)
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

    def base_of(key: str) -> str:
        return os.getcwd() if key in from_command_line else base

    resolved = {key: resolve_path(_get(job, key), base_of(key)) for key in _PATH_KEYS}
    fn_ref = job.get("preprocessing_fn")
    if fn_ref is not None:
        fn_ref = _resolve_fn_ref(fn_ref, base_of("preprocessing_fn"))
    input_, output = job["input"], job["output"]
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
        statistics=job.get("statistics", True),
        validation=job.get("validation", ValidationConfig()),
    )


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


FN_REF = re.compile(r"^(?P<target>[^:]+):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


def _resolve_fn_ref(ref: str, base: str) -> str:
    match = FN_REF.match(ref.strip())
    if not match:
        raise f.fail("preprocessing_fn", "'file.py:name' or 'package.module:name'", ref)
    target = match["target"]
    if target.endswith(".py"):
        target = resolve_path(target, base)
    return f"{target}:{match['name']}"


def check_preprocessing_fn_file(job: JobConfig) -> None:
    """A ``file.py:name`` reference names a file that exists: checked before anything heavy is imported."""
    if job.preprocessing_fn is None:
        return
    target = FN_REF.match(job.preprocessing_fn)["target"]
    if target.endswith(".py") and not os.path.isfile(target):
        raise ConfigError(f"`preprocessing_fn`: file {target!r} not found")
