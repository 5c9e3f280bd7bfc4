"""Declarative ``features:``: a preprocessing_fn built from a list, derived from the ``pp`` signatures.

Every public ``pp`` function that turns a feature into a feature can be a
``transform:``, with its tf.Transform parameters and defaults, and its own
argument checks (reported at the entry's key path). ``identity`` passes a
column through. A parameter that takes a tensor (``weights``, a per-key
``key``) takes a column name; an analyzer's result (``mean``, ``quantiles``)
is repeated on every row.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from beam_jobs import _fields as f
from beam_jobs._job import FeatureSpec
from featurebeam_base.errors import ArgumentError, ConfigError, PreprocessingError
from featurebeam_base.naming import did_you_mean, quote_all

IDENTITY = "identity"
NOT_DECLARATIVE = {
    "vocabulary": "it returns a vocabulary file, not a feature; use compute_and_apply_vocabulary",
    "apply_vocabulary": "it needs a vocabulary from pp.vocabulary; use compute_and_apply_vocabulary",
    "histogram": "it returns counts and boundaries, not a feature",
    "tukey_h_params": "it returns two tensors (hl, hr), not a feature; use tukey_location or tukey_scale",
    "apply_pyfunc": "it is not supported: a Python function in the transform_fn cannot be served",
}
_SCOPE = "xf"


def transforms() -> dict:
    """``{name: pp function}`` of every transform ``features:`` can use (``identity`` maps to None)."""
    import preprocessing as pp

    found = {IDENTITY: None}
    for name in sorted(pp.__all__):
        value = getattr(pp, name)
        if inspect.isfunction(value) and name not in NOT_DECLARATIVE:
            found[name] = value
    return found


def _takes_tensor(parameter: inspect.Parameter, function) -> bool:
    hints = typing.get_type_hints(function)
    return "Tensor" in str(hints.get(parameter.name, ""))


def _check_entry(index: int, spec: FeatureSpec, known: dict) -> None:
    path = f"features[{index}]"
    if spec.transform not in known:
        hint = did_you_mean(spec.transform, known)
        why = f" ({NOT_DECLARATIVE[spec.transform]})" if spec.transform in NOT_DECLARATIVE else ""
        raise ConfigError(f"`{path}.transform` must be one of {quote_all(known)}; got {spec.transform!r}{hint}{why}")
    function = known[spec.transform]
    if function is None:
        if spec.params:
            raise f.unknown_key(path, spec.params[0][0], ("name", "transform", "output"))
        return
    parameters = list(inspect.signature(function).parameters.values())[1:]  # the first is the feature itself
    settable = {p.name: p for p in parameters if p.name != "name"}
    for key, _ in spec.params:
        if key not in settable:
            raise f.unknown_key(path, key, ("name", "transform", "output", *settable))
    given = dict(spec.params)
    for parameter in settable.values():
        if parameter.default is inspect.Parameter.empty and parameter.name not in given:
            raise ConfigError(f"`{path}.{parameter.name}` is required")


def _scope_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
    return cleaned if re.match(r"[A-Za-z0-9.]", cleaned) else f"f_{cleaned}"


def _per_row(result, like):
    """An analyzer's result (no batch dimension) repeated on every row of ``like``."""
    import tensorflow as tf

    if result.shape.rank and result.shape[0] is None:
        return result
    rows = tf.shape(like)[:1]
    return tf.tile(tf.expand_dims(result, 0), tf.concat([rows, tf.ones([result.shape.rank], tf.int32)], 0))


@dataclass(frozen=True)
class DeclarativeFn:
    """A preprocessing_fn compiled from ``features:``; picklable by reference.

    Each output is computed in a name scope named after it, inside one ``xf``
    scope (so no scope shares a name with an input placeholder): analyzer keys
    read as ``xf/fare_z/scale_to_z_score/mean_and_var``.
    """

    features: tuple[FeatureSpec, ...]

    def __post_init__(self):
        known = transforms()
        for index, spec in enumerate(self.features):
            _check_entry(index, spec, known)

    def __call__(self, inputs):
        import tensorflow as tf

        outputs = {}
        with tf.compat.v1.name_scope(_SCOPE):
            for index, spec in enumerate(self.features):
                with tf.compat.v1.name_scope(_scope_name(spec.output)):
                    outputs[spec.output] = self._apply(index, spec, inputs)
        return outputs

    def _apply(self, index: int, spec: FeatureSpec, inputs):
        column = inputs[spec.name]
        function = transforms()[spec.transform]
        if function is None:
            return column
        kwargs = self._arguments(spec, function, inputs)
        try:
            return _per_row(function(column, **kwargs), column)
        except ArgumentError as error:
            raise self._config_error(index, spec, function, error) from None
        except PreprocessingError as error:
            raise ConfigError(f"`features[{index}]`: {error}") from None

    @staticmethod
    def _arguments(spec: FeatureSpec, function, inputs) -> dict:
        parameters = inspect.signature(function).parameters
        kwargs = {}
        for key, value in spec.params:
            if isinstance(value, str) and _takes_tensor(parameters[key], function):
                value = inputs[value]  # a column name
            kwargs[key] = value
        return kwargs

    @staticmethod
    def _config_error(index: int, spec: FeatureSpec, function, error: ArgumentError) -> ConfigError:
        first = next(iter(inspect.signature(function).parameters))
        if error.argument == first:
            return ConfigError(
                f"`features[{index}].transform` {spec.transform!r} cannot take column {spec.name!r}: "
                f"`{first}` {error.problem}"
            )
        return f.from_argument_error(error, f"features[{index}].{error.argument}")

    def check_schema(self, columns: Mapping[str, str]) -> None:
        """Every feature (and every column a parameter names) exists in the data."""
        for index, spec in enumerate(self.features):
            if spec.name not in columns:
                hint = did_you_mean(spec.name, columns)
                raise f.fail(
                    f"features[{index}].name", f"a column of the input ({quote_all(columns)})", spec.name, hint
                )
