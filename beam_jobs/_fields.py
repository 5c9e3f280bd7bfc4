"""The job file's validation table: one class per kind of value, one message shape.

``check(value, path)`` returns the value, normalised, or raises a
``ConfigError`` naming the key path, what is allowed and, for a typo, the
nearest valid key or value::

    `output.format` must be one of 'parquet', 'tfrecord'; got 'csvv'
    `output.fromat` is not a valid key (did you mean `output.format`?); valid keys under `output`: ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError, ConfigError
from featurebeam_base.naming import did_you_mean, quote_all


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def backticked(name: str) -> str:
    return f"`{name}`"


def fail(path: str, allowed: str, value: Any, hint: str = "") -> ConfigError:
    return ConfigError(f"`{path}` must be {allowed}; got {value!r}{hint}")


def unknown_key(path: str, key: Any, known) -> ConfigError:
    """The error for a key the job file does not have, with the nearest valid one.

    >>> print(unknown_key("output", "fromat", ["path", "format"]))
    `output.fromat` is not a valid key (did you mean `output.format`?); valid keys under `output`: 'format', 'path'
    """
    hint = did_you_mean(join(path, key), [join(path, k) for k in known], quote=backticked)
    where = f" under `{path}`" if path else ""
    return ConfigError(f"`{join(path, key)}` is not a valid key{hint}; valid keys{where}: {quote_all(sorted(known))}")


def from_argument_error(error: ArgumentError, path: str) -> ConfigError:
    """An argument check's problem, reported at the job file's ``path``."""
    return ConfigError(f"`{path}` {error.problem}")


class Field:
    """One value in the job file."""

    allowed = "a value"

    def check(self, value: Any, path: str) -> Any:
        raise NotImplementedError


class String(Field):
    allowed = "a non-empty string"

    def check(self, value, path):
        if not isinstance(value, str) or not value.strip():
            raise fail(path, self.allowed, value)
        return value


class Choice(Field):
    def __init__(self, choices: tuple[str, ...]):
        self.choices = choices

    def check(self, value, path):
        try:
            return checks.choice(value, path, self.choices)
        except ArgumentError as error:
            raise from_argument_error(error, path) from None


class Integer(Field):
    def __init__(self, minimum: int | None = None):
        self.minimum = minimum

    def check(self, value, path):
        try:
            return checks.integer(value, path, minimum=self.minimum)
        except ArgumentError as error:
            raise from_argument_error(error, path) from None


class Scalar(Field):
    allowed = "a number or a string"

    def check(self, value, path):
        if value is None:  # `default: null`, e.g. from --set, means no default
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise fail(path, self.allowed, value)
        return value


class AnyMapping(Field):
    """A mapping with free-form keys (checked elsewhere), e.g. ``pipeline_options``."""

    allowed = "a mapping"

    def check(self, value, path):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise fail(path, self.allowed, value)
        return dict(value)


@dataclass
class Keys(Field):
    """A mapping with known keys, each checked by its own field."""

    fields: dict[str, Field]
    required: tuple[str, ...] = ()
    allowed = "a mapping"

    def check(self, value, path):
        if not isinstance(value, Mapping):
            raise fail(path, self.allowed, value)
        for key in value:
            if key not in self.fields:
                raise unknown_key(path, key, self.fields)
        for key in self.required:
            if value.get(key) is None:
                raise ConfigError(f"`{join(path, key)}` is required")
        return {key: spec.check(value[key], join(path, key)) for key, spec in self.fields.items() if key in value}
